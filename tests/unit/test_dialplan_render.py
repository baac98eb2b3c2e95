"""The rendered files: every number routes into the app with a fallback, secrets are hashed,
hostile values never reach a file."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.config import CallCenterConfig, ConfigError, parse_config
from callcenter.dialplan import render, secrets
from callcenter.dialplan.check import parse_extensions, parse_sections
from callcenter.dialplan.render import RenderError, render_files

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"


@pytest.fixture
def raw() -> dict[str, Any]:
    """The example config as plain data, with real secrets (no placeholders)."""
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    data["asterisk"]["ari"]["password"] = "ari-Secret-42"
    data["asterisk"]["ami"]["secret"] = "ami-Secret-42"
    for agent in data["agents"]:
        agent["sip_secret"] = f"sip-{agent['id']}-Secret"
    return data


def build(data: dict[str, Any]) -> CallCenterConfig:
    return parse_config(copy.deepcopy(data), "test.yaml", env={})


def test_every_number_enters_the_app_with_its_arguments_then_falls_back(
    raw: dict[str, Any],
) -> None:
    cfg = build(raw)
    plan = parse_extensions(render_files(cfg)["extensions.conf"])
    assert not plan.issues
    inbound = plan.contexts[render.INBOUND_CONTEXT]
    assert set(inbound.extensions) == set(cfg.ivr.numbers) == {"100", "+441632960000"}
    for number in cfg.ivr.numbers:
        steps = plan.steps(render.INBOUND_CONTEXT, number)
        assert [s.priority for s in steps] == list(range(1, len(steps) + 1))
        stasis = [s for s in steps if s.app == "Stasis"]
        assert len(stasis) == 1
        assert stasis[0].arguments() == ["callcenter", "inbound", number]
        after = steps[steps.index(stasis[0]) + 1]
        assert after.app == "GotoIf"
        condition, _, target = after.args.partition("?")
        assert condition == '$["${STASISSTATUS}" = "FAILED"]'
        assert target == f"{render.FALLBACK_CONTEXT},s,1"
    fallback = plan.steps(render.FALLBACK_CONTEXT, "s")
    queue = next(s for s in fallback if s.app == "Queue")
    assert queue.arguments()[0] == "callcenter-support"  # ivr.operator_queue
    assert queue.arguments()[4] == "600"  # its max_wait_seconds
    assert fallback[-1].app == "Hangup"
    # The fallback queue exists in queues.conf with the agents qualified for support.
    sections, issues = parse_sections(render_files(cfg)["queues.conf"], "queues.conf")
    assert not issues
    support = dict(sections)["callcenter-support"]
    assert [m.split(",")[0] for m in support["member"]] == [
        "PJSIP/1003",
        "PJSIP/1004",
        "PJSIP/1006",
        "PJSIP/1001",
        "PJSIP/1008",
    ]


def test_the_app_name_comes_from_the_config(raw: dict[str, Any]) -> None:
    raw["asterisk"]["ari"]["app"] = "cc-east"
    plan = parse_extensions(render_files(build(raw))["extensions.conf"])
    step = plan.steps(render.INBOUND_CONTEXT, "100")[1]
    assert step.app == "Stasis"
    assert step.arguments() == ["cc-east", "inbound", "100"]


def test_agents_reach_the_ivr_and_each_other(raw: dict[str, Any]) -> None:
    plan = parse_extensions(render_files(build(raw))["extensions.conf"])
    agents = plan.contexts[render.AGENTS_CONTEXT]
    assert [name for name, _ in agents.includes] == [render.INBOUND_CONTEXT]
    dial = next(s for s in plan.steps(render.AGENTS_CONTEXT, "1003") if s.app == "Dial")
    assert dial.arguments() == ["PJSIP/1003", "30"]


def test_rendering_is_deterministic(raw: dict[str, Any]) -> None:
    assert render_files(build(raw)) == render_files(build(raw))


def test_pjsip_stores_md5_digests_never_the_password(raw: dict[str, Any]) -> None:
    text = render_files(build(raw))["pjsip.conf"]
    assert "sip-alice-Secret" not in text
    sections, issues = parse_sections(text, "pjsip.conf")
    assert not issues
    auth = next(opts for name, opts in sections if name == "1001" and opts["type"] == ["auth"])
    assert auth["auth_type"] == ["md5"]
    assert auth["md5_cred"] == [secrets.md5_cred("1001", "callcenter", "sip-alice-Secret")]
    endpoint = next(o for n, o in sections if n == "1001" and o["type"] == ["endpoint"])
    assert endpoint["dtmf_mode"] == ["rfc4733"]
    assert endpoint["context"] == [render.AGENTS_CONTEXT]
    assert endpoint["auth"] == ["1001"] and endpoint["aors"] == ["1001"]
    aor = next(o for n, o in sections if n == "1001" and o["type"] == ["aor"])
    assert aor["max_contacts"] == ["1"]


def test_ari_password_is_a_sha512_crypt_hash_of_the_password(raw: dict[str, Any]) -> None:
    text = render_files(build(raw))["ari.conf"]
    assert "ari-Secret-42" not in text
    user = dict(parse_sections(text, "ari.conf")[0])["callcenter"]
    assert user["type"] == ["user"] and user["password_format"] == ["crypt"]
    stored = user["password"][0]
    salt = stored.split("$")[2]
    assert stored == secrets.sha512_crypt("ari-Secret-42", salt)


def test_http_and_manager_follow_the_connection_settings(raw: dict[str, Any]) -> None:
    raw["asterisk"]["ari"]["url"] = "http://asterisk:8089/"
    files = render_files(build(raw))
    http = dict(parse_sections(files["http.conf"], "http.conf")[0])["general"]
    assert http["bindaddr"] == ["0.0.0.0"] and http["bindport"] == ["8089"]
    manager = dict(parse_sections(files["manager.conf"], "manager.conf")[0])
    assert manager["general"]["bindaddr"] == ["127.0.0.1"]
    assert manager["callcenter"]["permit"] == ["127.0.0.1/32"]
    assert "command" in manager["callcenter"]["write"][0]


def test_the_ami_user_cannot_run_system_commands(raw: dict[str, Any]) -> None:
    """``system`` with ``originate`` lets whoever reads the secret originate to System()."""
    manager = dict(parse_sections(render_files(build(raw))["manager.conf"], "manager.conf")[0])
    write = manager["callcenter"]["write"][0].replace(" ", "").split(",")
    assert "system" not in write
    assert {"call", "agent", "command", "originate"} <= set(write)


def test_a_trunk_with_a_realm_gets_an_md5_digest_and_registration(raw: dict[str, Any]) -> None:
    raw["sip"] = {
        "trunk": {
            "host": "sip.provider.example",
            "username": "acme",
            "secret": "trunk-Secret-1",
            "realm": "provider.example",
            "registration": True,
        },
        "external_address": "203.0.113.10",
        "local_nets": ["172.16.0.0/12"],
    }
    text = render_files(build(raw))["pjsip.conf"]
    assert "trunk-Secret-1" not in text
    sections, _ = parse_sections(text, "pjsip.conf")
    types = {o["type"][0] for n, o in sections if n == "trunk"}
    assert types == {"endpoint", "aor", "identify", "auth", "registration"}
    transport = dict(sections)["transport-udp"]
    assert transport["external_media_address"] == ["203.0.113.10"]
    assert transport["local_net"] == ["172.16.0.0/12"]


def test_cdr_pgsql_is_rendered_for_postgresql_only(raw: dict[str, Any]) -> None:
    assert "cdr_pgsql.conf" not in render_files(build(raw))
    raw["database"]["url"] = "postgresql+psycopg://cc:db-Secret-9@db.internal:5433/calls"
    cdr = dict(parse_sections(render_files(build(raw))["cdr_pgsql.conf"], "cdr")[0])["global"]
    assert cdr["hostname"] == ["db.internal"] and cdr["port"] == ["5433"]
    assert cdr["dbname"] == ["calls"] and cdr["user"] == ["cc"]


# --- refusing to render ------------------------------------------------------------------------


def test_placeholder_secrets_are_refused_unless_allowed(raw: dict[str, Any]) -> None:
    raw["asterisk"]["ami"]["secret"] = "change-me-ami"
    with pytest.raises(ConfigError, match=r"asterisk.ami.secret"):
        render_files(build(raw))
    assert (
        "secret = change-me-ami"
        in render_files(build(raw), allow_insecure_defaults=True)["manager.conf"]
    )


def test_an_agent_without_sip_secret_is_refused_unless_demo(raw: dict[str, Any]) -> None:
    del raw["agents"][1]["sip_secret"]
    with pytest.raises(RenderError, match=r"agents\[1\]\.sip_secret.*bob"):
        render_files(build(raw))
    text = render_files(build(raw), allow_insecure_defaults=True)["pjsip.conf"]
    assert secrets.md5_cred("1002", "callcenter", "change-me-1002") in text


def test_every_missing_secret_is_reported_at_once_with_its_variable(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["dialplan", "render", "-c", str(EXAMPLE), "--out", str(tmp_path / "out")],
        env={"ARI_PASSWORD": None, "AMI_SECRET": None},
    )
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert lines[0].startswith("error: 10 secrets are missing or placeholders")
    assert "--allow-insecure-defaults" in lines[0]
    # One `error:` line per secret, each naming its key first.
    keys = [line.removeprefix("error: ").split(":", 1)[0] for line in lines[1:]]
    assert keys == [f"agents[{i}].sip_secret" for i in range(8)] + [
        "asterisk.ari.password",
        "asterisk.ami.secret",
    ]
    text = result.output
    assert 'set SIP_SECRET_ALICE, read by sip_secret: "${SIP_SECRET_ALICE}"' in text
    assert "'change-me-ari' is a placeholder; set ARI_PASSWORD" in text
    assert "'change-me-ami' is a placeholder; set AMI_SECRET" in text
    assert not (tmp_path / "out").exists()

    # The suggestion, pasted as shown into the example's one-line agent, is valid YAML and
    # takes the variable.
    line = next(line for line in EXAMPLE.read_text().splitlines() if "{id: alice" in line)
    suggestion = text.split("read by ", 1)[1].splitlines()[0]
    pasted = line.replace("{id: alice,", "{id: alice, " + suggestion + ",")
    agent = yaml.safe_load(pasted.strip().removeprefix("- "))
    assert agent["sip_secret"] == "${SIP_SECRET_ALICE}"
    data = yaml.safe_load(EXAMPLE.read_text())
    data["agents"][0] = agent
    secrets_env = {
        "SIP_SECRET_ALICE": "alice-Secret-9",
        "ARI_PASSWORD": "a-B-3",
        "AMI_SECRET": "c-D-4",
    }
    assert parse_config(data, "x.yaml", env=secrets_env).agents[0].sip_secret == "alice-Secret-9"


def test_secret_problems_name_the_trunk_and_database_variables(raw: dict[str, Any]) -> None:
    raw["sip"] = {"trunk": {"host": "sip.example.net", "username": "acme", "secret": "changeme"}}
    raw["database"]["url"] = "postgresql+psycopg://cc:change-me-db@db:5432/calls"
    problems = render.secret_problems(build(raw))
    assert [p.split(":", 1)[0].strip() for p in problems] == [
        "sip.trunk.secret",
        "database.url (password)",
    ]
    assert "SIP_TRUNK_SECRET" in problems[0] and "CALLCENTER_DB_URL" in problems[1]
    with pytest.raises(render.SecretsMissing, match="2 secrets are missing"):
        render_files(build(raw))
    assert render_files(build(raw), allow_insecure_defaults=True)["pjsip.conf"]


def test_an_ami_secret_with_a_semicolon_is_refused(raw: dict[str, Any]) -> None:
    raw["asterisk"]["ami"]["secret"] = "good;permit=0.0.0.0/0"
    with pytest.raises(ConfigError, match=r"asterisk.ami.secret.*';'"):
        render_files(build(raw))


def test_a_hostile_ami_host_is_refused(raw: dict[str, Any]) -> None:
    raw["asterisk"]["ami"]["host"] = "127.0.0.1\n[evil]"
    with pytest.raises(ConfigError, match=r"asterisk.ami.host"):  # at load, before render
        render_files(build(raw))


HOSTILE = ["a\nb", "a;b", "a,b", "a)b", "a}b"]


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize(
    "where",
    ["agent name", "agent id", "endpoint", "number", "queue name", "app", "ari user", "realm"],
)
def test_hostile_values_are_rejected_with_the_key(
    raw: dict[str, Any], where: str, bad: str, tmp_path: Path
) -> None:
    if where == "agent name":
        raw["agents"][0]["name"] = f"Alice {bad}"
        key = "agents[0].name"
    elif where == "agent id":
        raw["agents"][0]["id"] = f"alice{bad}"
        key = "agents[0].id"
    elif where == "endpoint":
        raw["agents"][0]["endpoint"] = f"PJSIP/10{bad}"
        key = "agents[0].endpoint"
    elif where == "number":
        raw["ivr"]["numbers"][f"100{bad}"] = "main"
        key = "ivr.numbers"
    elif where == "queue name":
        raw["queues"]["sales"]["name"] = f"Sales {bad}"
        key = "queues.sales.name"
    elif where == "app":
        raw["asterisk"]["ari"]["app"] = f"cc{bad}"
        key = "asterisk.ari.app"
    elif where == "ari user":
        raw["asterisk"]["ari"]["username"] = f"cc{bad}"
        key = "asterisk.ari.username"
    else:
        raw["sip"] = {"realm": f"cc{bad}"}
        key = "sip.realm"
    # Through the model that render takes...
    with pytest.raises(ConfigError) as caught:
        build(raw)
    assert key in caught.value.message
    # ...and through `callcenter config check` and `callcenter dialplan render`.
    path = tmp_path / "callcenter.yaml"
    path.write_text(yaml.safe_dump(raw))
    runner = CliRunner()
    checked = runner.invoke(main, ["config", "check", str(path)])
    assert checked.exit_code == 2
    assert key in checked.output
    rendered = runner.invoke(
        main, ["dialplan", "render", "-c", str(path), "--out", str(tmp_path / "out")]
    )
    assert rendered.exit_code == 2
    assert key in rendered.output
    assert not (tmp_path / "out").exists()


def test_render_cli_writes_every_file(raw: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "callcenter.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(
        main, ["dialplan", "render", "-c", str(path), "--out", str(tmp_path / "etc")]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "etc").iterdir()) == sorted(render.CORE_FILES)


def test_render_cli_writes_files_nobody_else_can_read(raw: dict[str, Any], tmp_path: Path) -> None:
    """manager.conf holds the plain AMI secret, cdr_pgsql.conf the database password."""
    raw["database"] = {"url": "postgresql://cc:db-Secret-42@db/cc"}
    path = tmp_path / "callcenter.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "etc"
    out.mkdir()
    (out / "manager.conf").write_text("old\n")
    os.chmod(out / "manager.conf", 0o644)  # written by an older version, or a sample file
    result = CliRunner().invoke(main, ["dialplan", "render", "-c", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    modes = {p.name: p.stat().st_mode & 0o777 for p in out.iterdir()}
    assert "cdr_pgsql.conf" in modes and "db-Secret-42" in (out / "cdr_pgsql.conf").read_text()
    assert modes == {name: 0o640 for name in modes}


def test_templates_are_found_through_the_package(raw: dict[str, Any]) -> None:
    assert (render.TEMPLATES_DIR / "extensions.conf.j2").is_file()
    for name in (*render.CORE_FILES, *render.OPTIONAL_FILES):
        assert (render.TEMPLATES_DIR / f"{name}.j2").is_file()


def test_a_missing_template_dir_is_a_clear_error(raw: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(RenderError, match=r"template extensions.conf.j2 not found"):
        render_files(build(raw), templates_dir=tmp_path)


def test_an_agent_extension_may_not_shadow_an_ivr_number(raw: dict[str, Any]) -> None:
    raw["agents"][2]["endpoint"] = "PJSIP/100"
    with pytest.raises(RenderError, match=r"agents\[2\]\.endpoint: PJSIP/100 would shadow"):
        render_files(build(raw))


def test_render_cli_uses_another_template_directory(raw: dict[str, Any], tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    for source in render.TEMPLATES_DIR.glob("*.j2"):
        (templates / source.name).write_text(source.read_text())
    (templates / "http.conf.j2").write_text("[general]\nenabled = no ; {{ bindport }}\n")
    path = tmp_path / "callcenter.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "etc"
    args = ["dialplan", "render", "-c", str(path), "--templates", str(templates), "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert (out / "http.conf").read_text() == "[general]\nenabled = no ; 8088\n"


def test_an_undefined_template_variable_fails_loudly(raw: dict[str, Any], tmp_path: Path) -> None:
    for source in render.TEMPLATES_DIR.glob("*.j2"):
        (tmp_path / source.name).write_text(source.read_text())
    (tmp_path / "http.conf.j2").write_text("bindport = {{ no_such_value }}\n")
    with pytest.raises(RenderError, match=r"template http\.conf\.j2: 'no_such_value' is undefined"):
        render_files(build(raw), templates_dir=tmp_path)
