"""Voicemail boxes and SMTP in the config: the example's boxes, and precise errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from callcenter.config import load_config, parse_config
from callcenter.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"


def example() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text())
    assert isinstance(data, dict)
    return data


def problems_of(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, "cc.yaml", {})
    return {p["path"]: p["message"] for p in info.value.details["problems"]}


SMTP = {"host": "smtp.example.com", "from_address": "voicemail@example.com"}


def test_example_boxes_are_the_ones_its_targets_name() -> None:
    config = load_config(EXAMPLE, env={})
    assert sorted(config.voicemail) == ["billing", "general", "sales"]
    assert config.queues["sales"].closed is not None
    assert config.queues["sales"].closed.voicemail == "sales"
    sales = config.mailbox("sales")
    assert sales.queue == "sales"
    assert sales.notify == ["webhook"]
    assert sales.min_sound_seconds == 2.0
    assert config.mailbox("general").queue == "support"
    # Retention follows the box's queue's recording policy (here the default one).
    assert config.mailbox_recording("sales").retention_days == 90


def test_a_target_naming_no_box_is_an_error_at_its_key() -> None:
    raw = example()
    del raw["voicemail"]["general"]
    raw["queues"]["support"]["overflow"] = {"voicemail": "nobody"}
    problems = problems_of(raw)
    assert problems == {
        "queues.support.overflow.voicemail": (
            "unknown voicemail box 'nobody' (add it under voicemail:)"
        ),
        "ivr.menus.closed.next.voicemail": (
            "unknown voicemail box 'general' (add it under voicemail:)"
        ),
    }


def test_box_queue_must_exist() -> None:
    raw = example()
    raw["voicemail"]["sales"]["queue"] = "salse"
    assert problems_of(raw) == {
        "voicemail.sales.queue": "unknown queue 'salse' (did you mean 'sales'?)"
    }


def test_email_needs_smtp_settings() -> None:
    raw = example()
    raw["voicemail"]["sales"]["notify"] = ["webhook", "sales@example.com"]
    assert problems_of(raw) == {"voicemail.sales.notify[1]": "e-mail needs the smtp: settings"}
    raw["smtp"] = SMTP
    config = parse_config(raw, "cc.yaml", {})
    assert config.mailbox("sales").notify == ["webhook", "sales@example.com"]
    assert config.smtp is not None and config.smtp.port == 587


@pytest.mark.parametrize(
    "target",
    ["sales@example.com\r\nBcc: x@evil.example", "Sales <sales@example.com>", "a,b@example.com"],
)
def test_notify_targets_that_could_break_a_mail_header_are_refused(target: str) -> None:
    raw = example()
    raw["smtp"] = SMTP
    raw["voicemail"]["sales"]["notify"] = [target]
    problems = problems_of(raw)
    assert list(problems) == ["voicemail.sales.notify[0]"]
    assert "neither 'webhook' nor an e-mail address" in problems["voicemail.sales.notify[0]"]


def test_duplicate_notify_target() -> None:
    raw = example()
    raw["voicemail"]["sales"]["notify"] = ["webhook", "webhook"]
    assert problems_of(raw) == {"voicemail.sales.notify[1]": "'webhook' is listed twice"}


def test_inbox_url_must_be_http() -> None:
    raw = example()
    raw["smtp"] = {**SMTP, "inbox_url": "javascript:alert(1)"}
    assert problems_of(raw) == {
        "smtp.inbox_url": "invalid value 'javascript:alert(1)': must be an http:// or https:// URL"
    }


def test_smtp_credentials_come_together() -> None:
    raw = example()
    raw["smtp"] = {**SMTP, "username": "cc"}
    assert problems_of(raw) == {"smtp": "give both username and password, or neither"}


def test_box_limits_are_checked() -> None:
    raw = example()
    raw["voicemail"]["sales"].update(max_seconds=2, min_sound_seconds=-1, colour="red")
    problems = problems_of(raw)
    assert set(problems) == {
        "voicemail.sales.max_seconds",
        "voicemail.sales.min_sound_seconds",
        "voicemail.sales.colour",
    }
    assert problems["voicemail.sales.colour"] == "unknown key"


def test_voicemail_is_a_webhook_event() -> None:
    raw = example()
    raw["webhooks"] = [
        {"url": "https://hooks.example.com/cc", "secret": "s", "events": ["voicemail"]}
    ]
    config = parse_config(raw, "cc.yaml", {})
    assert config.webhooks[0].events == ["voicemail"]
