"""What a config may play: Asterisk 22's core sounds and its own prompts, nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.config import parse_config
from callcenter.errors import ConfigError
from callcenter.sounds import asterisk_media, core_sounds, used_sounds

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"


def example() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    return data


def problems(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, "cc.yaml", env={})
    return {p["path"]: p["message"] for p in info.value.details["problems"]}


def test_the_core_sound_list_is_asterisk_22s() -> None:
    sounds = core_sounds()
    assert len(sounds) == 568  # asterisk-core-sounds-en 1.6.1
    for name in ("hello-world", "vm-goodbye", "tt-allbusy", "queue-thankyou", "invalid"):
        assert name in sounds
    assert {"digits/1", "letters/a", "silence/1"} <= sounds
    # README (shared/asterisk): "it has no option-is-invalid (an extra-sounds file)".
    assert "option-is-invalid" not in sounds


def test_config_check_refuses_a_sound_no_asterisk_has_and_names_the_key(tmp_path: Path) -> None:
    raw = example()
    raw["ivr"]["menus"]["existing"]["prompts"] = ["prompt:existing-menu", "sound:welcom"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["config", "check", str(bad)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {bad}: ivr.menus.existing.prompts[1]: sound 'welcom' is not one of Asterisk's "
        "core sounds (it would play nothing): use a core sound or add it under prompts: and "
        "write prompt:welcom"
    )


def test_unknown_prompts_anywhere_are_refused() -> None:
    raw = example()
    raw["queues"]["support"]["entry_prompt"] = "prompt:hold-on"
    raw["recordings"]["default"]["consent_prompt"] = "sound:callcenter/not-ours"
    raw["ivr"]["menus"]["main"]["choices"]["0"]["prompt"] = "prompt:welcome"  # known: fine
    found = problems(raw)
    assert found.keys() == {"queues.support.entry_prompt", "recordings.default.consent_prompt"}
    assert found["queues.support.entry_prompt"].startswith("unknown prompt 'hold-on' (prompts: ")
    assert found["recordings.default.consent_prompt"].startswith("unknown prompt 'not-ours'")


def test_a_prompt_is_text_or_a_file() -> None:
    raw = example()
    raw["prompts"]["both"] = {"text": "Hi", "file": "hi.wav"}
    raw["prompts"]["neither"] = {"voice": "en-us"}
    raw["prompts"]["file-voice"] = {"file": "hi.wav", "voice": "en-us"}
    raw["prompts"]["Bad Id"] = {"text": "Hi"}
    found = problems(raw)
    assert found["prompts.both"] == "a prompt needs exactly one of text or file"
    assert found["prompts.neither"] == "a prompt needs exactly one of text or file"
    assert found["prompts.file-voice"] == "voice applies to text prompts only"
    assert found["prompts.Bad Id"].startswith("invalid value 'Bad Id': expected lower-case letters")


def test_the_defaults_are_core_sounds() -> None:
    raw = example()
    del raw["ivr"]["menus"]["main"]["invalid_prompt"]
    config = parse_config(raw, "cc.yaml", env={})
    assert config.ivr.menus["main"].invalid_prompt == "sound:invalid"
    assert all(
        sound in core_sounds() or sound.startswith("callcenter/")
        for _, sound in used_sounds(config)
    )


def test_asterisk_plays_our_prompts_from_our_folder() -> None:
    assert asterisk_media("prompt:welcome") == "sound:callcenter/welcome"
    assert asterisk_media("sound:hello-world") == "sound:hello-world"
    assert asterisk_media("digits:123") == "digits:123"
