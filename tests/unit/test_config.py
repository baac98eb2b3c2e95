"""The config model: the shipped example passes; broken copies get precise messages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.config import load_config, parse_config
from callcenter.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"


def example() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text())
    assert isinstance(data, dict)
    return data


def problems_of(raw: dict[str, Any], env: dict[str, str] | None = None) -> list[dict[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, "cc.yaml", env or {})
    return list(info.value.details["problems"])


def paths(raw: dict[str, Any]) -> list[str]:
    return [p["path"] for p in problems_of(raw)]


def test_example_is_valid() -> None:
    config = load_config(EXAMPLE, env={})
    assert config.name == "Acme Shop"
    assert sorted(config.queues) == ["billing", "sales", "support"]
    assert len(config.agents) == 8
    assert config.ivr.numbers["100"] == "main"
    assert config.asterisk.ari.password == "change-me-ari"  # ${ARI_PASSWORD:-...} default


def test_secrets_come_from_the_environment() -> None:
    config = load_config(EXAMPLE, env={"ARI_PASSWORD": "s3cret", "AMI_SECRET": "x"})
    assert config.asterisk.ari.password == "s3cret"
    assert config.asterisk.ami.secret == "x"


def test_missing_environment_variable_names_the_key() -> None:
    raw = example()
    raw["asterisk"]["ari"]["password"] = "${NOT_SET_ANYWHERE}"
    [problem] = problems_of(raw)
    assert problem["path"] == "asterisk.ari.password"
    assert "NOT_SET_ANYWHERE" in problem["message"]


def test_wrong_type_names_the_key_path() -> None:
    raw = example()
    raw["queues"]["sales"]["ring_timeout"] = "fifteen"
    [problem] = problems_of(raw)
    assert problem["path"] == "queues.sales.ring_timeout"
    assert "integer" in problem["message"]


def test_unknown_key_is_rejected() -> None:
    raw = example()
    raw["queues"]["support"]["colour"] = "blue"
    assert problems_of(raw) == [{"path": "queues.support.colour", "message": "unknown key"}]


def test_missing_agent_endpoint() -> None:
    raw = example()
    del raw["agents"][3]["endpoint"]
    assert problems_of(raw) == [
        {"path": "agents[3].endpoint", "message": "required key is missing"}
    ]


def test_queue_needing_a_skill_no_agent_has() -> None:
    raw = example()
    raw["queues"]["billing"]["skills"].append({"skill": "french", "min_level": 10})
    [problem] = problems_of(raw)
    assert problem["path"] == "queues.billing.skills[1]"
    assert "no agent has skill 'french' at level 10" in problem["message"]


def test_unknown_skill_and_duplicate_endpoint() -> None:
    raw = example()
    raw["agents"][1]["skills"]["karate"] = 3
    raw["agents"][2]["endpoint"] = raw["agents"][0]["endpoint"]
    assert sorted(paths(raw)) == ["agents[1].skills.karate", "agents[2].endpoint"]


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("agents", 0, "name"), "Alice\nexten => _X.,1,Hangup()"),
        (("agents", 0, "name"), "Alice;evil"),
        (("agents", 0, "endpoint"), "PJSIP/1001,evil"),
        (("queues", "sales", "name"), "Sales)"),
        (("ivr", "menus", "main", "prompts", 0), "sound:welcome\nsame => n,Hangup"),
    ],
)
def test_hostile_values_are_rejected(where: tuple[Any, ...], value: str) -> None:
    raw = example()
    node: Any = raw
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    problems = problems_of(raw)
    expected = ".".join(str(k) for k in where)
    expected = re.sub(r"\.(\d+)(?=\.|$)", r"[\1]", expected)
    assert [p["path"] for p in problems] == [expected]
    assert "invalid value" in problems[0]["message"]


def test_hostile_number_key_is_rejected() -> None:
    raw = example()
    raw["ivr"]["numbers"]["100,1,Hangup"] = "main"
    assert paths(raw) == ["ivr.numbers.100,1,Hangup"]


def test_ivr_references_must_resolve() -> None:
    raw = example()
    raw["ivr"]["menus"]["existing"]["choices"]["2"] = {"queue": "refunds"}
    raw["ivr"]["menus"]["main"]["choices"]["1"] = {"menu": "nowhere"}
    # main -> existing was replaced, so existing and what hangs below it became unreachable.
    assert sorted(paths(raw)) == [
        "ivr.menus.after_status",
        "ivr.menus.existing",
        "ivr.menus.existing.choices.2.queue",
        "ivr.menus.main.choices.1.menu",
        "ivr.menus.order_number",
        "ivr.menus.order_status",
    ]


def test_unreachable_menu() -> None:
    raw = example()
    raw["ivr"]["menus"]["orphan"] = {"type": "play", "prompts": [], "next": {"hangup": True}}
    assert paths(raw) == ["ivr.menus.orphan"]


def test_cycle_without_input() -> None:
    raw = example()
    raw["ivr"]["menus"]["closed"]["next"] = {"menu": "loop"}
    raw["ivr"]["menus"]["loop"] = {"type": "play", "prompts": [], "next": {"menu": "closed"}}
    messages = [p["message"] for p in problems_of(raw)]
    assert any("cycle without caller input: closed -> loop -> closed" in m for m in messages)


def test_goto_needs_exactly_one_target() -> None:
    raw = example()
    raw["ivr"]["menus"]["main"]["choices"]["0"] = {"queue": "support", "hangup": True}
    [problem] = problems_of(raw)
    assert problem["path"] == "ivr.menus.main.choices.0"
    assert "exactly one" in problem["message"]


def test_bad_time_zone_and_hours() -> None:
    raw = example()
    raw["timezone"] = "Mars/Olympus"
    raw["business_hours"]["office"]["weekly"]["mon"] = ["17:00-09:00"]
    assert sorted(paths(raw)) == ["business_hours.office.weekly", "timezone"]


def test_postgresql_url_gets_the_psycopg_driver() -> None:
    raw = example()
    raw["database"]["url"] = "postgresql://u@h/db"
    assert parse_config(raw, env={}).database.url == "postgresql+psycopg://u@h/db"


def test_cli_check_ok_and_json(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["config", "check", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "OK (8 agents, 3 queues" in result.output
    result = runner.invoke(main, ["config", "check", str(EXAMPLE), "--json"])
    assert result.exit_code == 0
    assert '"ok": true' in result.output


def test_cli_check_broken_file_exits_2_with_one_line(tmp_path: Path) -> None:
    raw = example()
    raw["queues"]["sales"]["skills"].append({"skill": "billing", "min_level": 10})
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["config", "check", str(bad)])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {bad}: queues.sales.skills[1]: no agent has skill 'billing' at level 10 or above"
    )
    assert "Traceback" not in result.output


def test_cli_check_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["config", "check", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "cannot read" in result.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("queues: [unclosed\n")
    result = runner.invoke(main, ["config", "check", str(broken)])
    assert result.exit_code == 2
    assert "invalid YAML at line" in result.output


def test_config_path_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLCENTER_CONFIG", str(EXAMPLE))
    result = CliRunner().invoke(main, ["config", "check"])
    assert result.exit_code == 0, result.output


def test_unknown_ids_suggest_the_nearest_known_one(tmp_path: Path) -> None:
    raw = example()
    raw["ivr"]["menus"]["main"]["choices"]["2"]["queue"] = "sale"
    raw["agents"][0]["skills"]["suport"] = raw["agents"][0]["skills"].pop("support")
    raw["queues"]["sales"]["overflow"] = {"queue": "refunds"}  # nothing near: no guess
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(main, ["config", "check", str(bad)])
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert (
        f"error: {bad}: agents[0].skills.suport: unknown skill 'suport' (did you mean 'support'?)"
        in lines
    )
    assert f"error: {bad}: queues.sales.overflow.queue: unknown queue 'refunds'" in lines
    sale = "unknown queue 'sale' (did you mean 'sales'?)"
    assert f"error: {bad}: ivr.menus.main.choices.2.queue: {sale}" in lines


def test_commands_without_a_config_say_where_one_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CALLCENTER_CONFIG", raising=False)
    runner = CliRunner()
    result = runner.invoke(main, ["report"])
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "error: callcenter.yaml: cannot read: No such file or directory",
        "hint: name the call center's file with -c PATH or CALLCENTER_CONFIG "
        "(examples/callcenter.yaml is a commented example)",
    ]
    # After `make demo`, the demo's config is named.
    (tmp_path / "var" / "demo").mkdir(parents=True)
    (tmp_path / "var" / "demo" / "callcenter.yaml").write_text(EXAMPLE.read_text())
    for command in (["report"], ["recordings", "list"], ["config", "check"]):
        result = runner.invoke(main, command)
        assert result.exit_code == 2
        assert result.output.splitlines()[-1] == (
            "hint: the demo's records are read with -c var/demo/callcenter.yaml "
            "(or set CALLCENTER_CONFIG=var/demo/callcenter.yaml)"
        ), command
    # A file named on purpose gets no guess.
    result = runner.invoke(main, ["report", "-c", "nope.yaml"])
    assert "hint" not in result.output
