"""Bad config input is refused with one clear line per problem (fuzzing findings, issue 19).

Loading, ``config check`` and the rendered Asterisk files: trailing newlines, duplicate YAML
keys, alias bombs, loops without caller input, unbounded values, and what error messages show.
"""

from __future__ import annotations

import tracemalloc
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from annotated_types import Le, Lt
from click.testing import CliRunner
from pydantic import BaseModel

from callcenter.cli import main
from callcenter.config import CallCenterConfig, load_config, parse_config
from callcenter.config_yaml import MAX_ALIAS_NODES, MAX_DEPTH
from callcenter.dialplan.render import render_files
from callcenter.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
ENV = {"ARI_PASSWORD": "ari-pass-1234", "AMI_SECRET": "ami-pass-5678"}


def example() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text())
    assert isinstance(data, dict)
    return data


def problems_of(raw: dict[str, Any], env: dict[str, str] | None = None) -> list[dict[str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_config(raw, "cc.yaml", ENV if env is None else env)
    return list(info.value.details["problems"])


def set_at(raw: dict[str, Any], where: tuple[Any, ...], value: Any) -> None:
    node: Any = raw
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value


def replaced(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced once (which must be there: the example may change)."""
    assert old in text, old
    return text.replace(old, new, 1)


def check(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """``callcenter config check`` on ``text``: exit status and stderr lines."""
    path = tmp_path / "cc.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["config", "check", str(path)], env=env or ENV)
    return result.exit_code, result.stderr.splitlines()


# --- anchored validation: a trailing newline is not a value ------------------------------------

TRAILING_NEWLINE = [
    ("asterisk", "ami", "host"),
    ("asterisk", "ari", "url"),
    ("asterisk", "ari", "username"),
    ("asterisk", "ari", "app"),
    ("asterisk", "ami", "username"),
    ("asterisk", "config_dir"),
    ("database", "url"),
    ("database", "spool_dir"),
    ("recordings", "directory"),
    ("agents", 0, "id"),
    ("agents", 0, "endpoint"),
    ("queues", "sales", "crm_link"),
    ("queues", "sales", "entry_prompt"),
    ("queues", "sales", "callback_digit"),
    ("ivr", "menus", "main", "timeout_prompt"),
    ("ivr", "lookups", "order_status", "url"),
    ("ivr", "lookups", "order_status", "result_field"),
    ("business_hours", "office", "weekly", "mon", 0),
    ("timezone",),
]


@pytest.mark.parametrize("where", TRAILING_NEWLINE, ids=lambda w: ".".join(map(str, w)))
def test_a_value_with_a_trailing_newline_is_refused(where: tuple[Any, ...]) -> None:
    raw = example()
    node: Any = raw
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = str(node[where[-1]]) + "\n"
    [problem] = problems_of(raw)
    assert problem["path"].replace("[", ".").replace("]", "") == ".".join(map(str, where))


def test_names_checked_by_hand_are_matched_whole(tmp_path: Path) -> None:
    from callcenter.recording.policy import recording_name

    with pytest.raises(ValueError, match="unusable recording name"):
        recording_name("c1\n")
    result = CliRunner().invoke(
        main, ["cdr", "reconcile", "--table", "asterisk_cdr\n", "-c", str(tmp_path / "x.yaml")]
    )
    assert result.exit_code == 2
    assert "is not a table name" in result.stderr


@pytest.mark.parametrize(
    ("where", "good"),
    [
        (("sip", "bind"), "0.0.0.0"),
        (("sip", "realm"), "callcenter"),
        (("sip", "external_address"), "203.0.113.7"),
        (("api", "host"), "127.0.0.1"),
        (("api", "url"), "http://127.0.0.1:8080/"),
        (("web", "session_secret"), "Zq3-vT9_mR2xLp7Kw4Nc8Hb1Jd6Fs5Ga0Ye"),
    ],
)
def test_optional_values_with_a_trailing_newline_are_refused(
    where: tuple[str, ...], good: str
) -> None:
    raw = example()
    raw.setdefault(where[0], {})[where[1]] = good
    parse_config(raw, "cc.yaml", ENV)
    raw[where[0]][where[1]] = good + "\n"
    assert [p["path"] for p in problems_of(raw)] == [".".join(where)]


def test_an_ami_host_with_a_newline_no_longer_opens_ami_to_the_network(tmp_path: Path) -> None:
    # It used to pass and render manager.conf with bindaddr = 0.0.0.0 and the private networks.
    text = replaced(EXAMPLE.read_text(), "host: 127.0.0.1\n", 'host: "127.0.0.1\\n"\n')
    status, lines = check(tmp_path, text)
    assert status == 2
    assert lines == [
        f"error: {tmp_path / 'cc.yaml'}: asterisk.ami.host: invalid value "
        "'127.0.0.1\\n': expected a host name or an IP address"
    ]


@pytest.mark.parametrize("host", ["010.0.0.1", "127.1", "1.2.3.4.5", "999.1.1.1"])
def test_a_host_that_looks_like_an_address_but_is_none_is_refused(host: str) -> None:
    # As a "name" it would render bindaddr = 0.0.0.0.
    raw = example()
    raw["asterisk"]["ami"]["host"] = host
    assert [p["path"] for p in problems_of(raw)] == ["asterisk.ami.host"]


def test_loopback_ami_renders_loopback_only() -> None:
    raw = example()
    raw["asterisk"]["ami"]["host"] = "127.0.0.1"
    manager = render_files(parse_config(raw, "cc.yaml", ENV), allow_insecure_defaults=True)[
        "manager.conf"
    ]
    assert "bindaddr = 127.0.0.1\n" in manager
    assert [line for line in manager.splitlines() if line.startswith("permit")] == [
        "permit = 127.0.0.1/32"
    ]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://callcenter%0A:pw@127.0.0.1/cc", "user"),
        ("postgresql://callcenter@127.0.0.1/cc%0A", "dbname"),
        ("postgresql://callcenter:pw%0A@127.0.0.1/cc", "password"),
        ("postgresql://callcenter:pw%3Bx@127.0.0.1/cc", "password"),
    ],
)
def test_database_names_and_passwords_that_would_break_cdr_pgsql_conf(url: str, says: str) -> None:
    raw = example()
    raw["database"]["url"] = url
    config = parse_config(raw, "cc.yaml", ENV)
    with pytest.raises(ConfigError, match=rf"database.url.*{says}"):
        render_files(config, allow_insecure_defaults=True)


def test_a_database_url_with_a_raw_newline_is_refused_at_load() -> None:
    raw = example()
    raw["database"]["url"] = "postgresql://callcenter\n:pw@127.0.0.1/cc"
    assert [p["path"] for p in problems_of(raw)] == ["database.url"]


# --- duplicate keys ----------------------------------------------------------------------------


def test_two_asterisk_blocks_are_refused_with_the_line_of_each(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    second = "asterisk:\n  ari: {password: x}\n  ami: {secret: y}\n"
    lines_before = text.count("\n")
    status, lines = check(tmp_path, text + second)
    first_line = text.splitlines().index("asterisk:") + 1
    assert status == 2
    assert lines == [
        f"error: {tmp_path / 'cc.yaml'}: asterisk: given twice, at line {first_line} and "
        f"line {lines_before + 1} (remove one)"
    ]


def test_a_second_queue_of_the_same_id_is_refused(tmp_path: Path) -> None:
    text = replaced(
        EXAMPLE.read_text(),
        "  support:\n    name: Support\n",
        "  sales:\n    name: Sales again\n",
    )
    status, lines = check(tmp_path, text)
    assert status == 2
    [line] = lines
    assert ": queues.sales: given twice, at line " in line


def test_a_duplicated_choice_digit_is_a_duplicate_not_unreachable_menus(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    second = next(
        line for line in text.splitlines() if line.startswith('        "2": {queue: sales')
    )
    text = replaced(text, second + "\n", second + '\n        "1": {queue: billing}\n')
    status, lines = check(tmp_path, text)
    assert status == 2
    [line] = lines
    assert ": ivr.menus.main.choices.1: given twice, at line " in line
    assert "unreachable" not in line


def test_keys_that_mean_the_same_value_are_duplicates(tmp_path: Path) -> None:
    status, lines = check(tmp_path, "a: 1\nb:\n  0x10: x\n  16: y\n")
    assert status == 2
    assert lines == [
        f"error: {tmp_path / 'cc.yaml'}: b.16: given twice, at line 3 and line 4 (remove one)"
    ]


def test_yaml_merge_keys_still_work(tmp_path: Path) -> None:
    text = replaced(
        EXAMPLE.read_text(),
        "queues:\n  sales:\n    name: Sales\n",
        "x-common: &common {ring_timeout: 15, wrapup_seconds: 10}\n"
        "queues:\n  sales:\n    <<: *common\n    name: Sales\n",
    )
    path = tmp_path / "cc.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path, env=ENV)
    # The merge itself loads; only the unknown top-level helper key is refused.
    assert info.value.details["problems"] == [{"path": "x-common", "message": "unknown key"}]


# --- the loader cannot be exhausted ------------------------------------------------------------


def alias_bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_fails_at_once_with_one_line(tmp_path: Path) -> None:
    bomb = alias_bomb(7)
    assert len(bomb) < 450
    tracemalloc.start()
    try:
        status, lines = check(tmp_path, bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 2
    assert lines == [
        f"error: {tmp_path / 'cc.yaml'}: line 4: aliases expand to more than "
        f"{MAX_ALIAS_NODES:,} values (nested aliases repeat what they refer to)"
    ]
    assert peak < 5 * 1024 * 1024  # it used to take 295 MB (and 7.9 s)


def test_a_few_aliases_are_fine(tmp_path: Path) -> None:
    text = replaced(
        EXAMPLE.read_text(),
        "  - {id: bob,   name: Bob Chen,      endpoint: PJSIP/1002, skills: {sales: 6}}",
        "  - {id: bob,   name: Bob Chen,      endpoint: PJSIP/1002, skills: &bob {sales: 6}}\n"
        "  - {id: bobby, name: Bobby Chen,    endpoint: PJSIP/1009, skills: *bob}",
    )
    path = tmp_path / "cc.yaml"
    path.write_text(text)
    config = load_config(path, env=ENV)
    assert config.agent("bobby").skills == {"sales": 6}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("a: &x [1, *x]\n", "alias *x refers to itself"),
        ("a: &x {b: *x}\n", "alias *x refers to itself"),
        ("a: " + "[" * 100_000 + "]" * 100_000 + "\n", f"nested deeper than {MAX_DEPTH} levels"),
    ],
    ids=["recursive-list", "recursive-mapping", "100000-deep"],
)
def test_cycles_and_deep_nesting_are_refused(tmp_path: Path, text: str, says: str) -> None:
    status, lines = check(tmp_path, text)
    assert status == 2
    [line] = lines
    assert line.endswith(says)


def test_a_control_character_in_the_file_is_one_line(tmp_path: Path) -> None:
    # Found by the fuzz test: PyYAML checks characters before parsing, outside the usual path.
    status, lines = check(tmp_path, "name: Acme\nx: a\x1fb\n")
    assert status == 2
    assert lines == [
        f"error: {tmp_path / 'cc.yaml'}: invalid YAML at line 2: character U+001F is not "
        "allowed (control characters must be written as escapes in double quotes)"
    ]


def test_a_huge_file_is_refused_unread(tmp_path: Path) -> None:
    status, lines = check(tmp_path, "# " + "x" * (6 * 1024 * 1024) + "\n")
    assert status == 2
    assert lines == [f"error: {tmp_path / 'cc.yaml'}: the file is larger than 5 MiB"]


# --- loops without caller input ----------------------------------------------------------------


def test_on_closed_back_to_itself_is_a_loop() -> None:
    raw = example()
    raw["ivr"]["menus"]["main"]["on_closed"] = {"menu": "main"}
    raw["ivr"]["menus"]["closed"]["next"] = {"hangup": True}
    raw["ivr"]["menus"]["keep"] = {"type": "play", "next": {"menu": "closed"}}
    raw["ivr"]["menus"]["existing"]["choices"]["8"] = {"menu": "keep"}
    assert problems_of(raw) == [
        {"path": "ivr.menus.main.on_closed", "message": "cycle without caller input: main -> main"}
    ]


def test_closed_menu_back_to_a_menu_with_hours_is_a_loop() -> None:
    raw = example()
    raw["ivr"]["menus"]["closed"]["next"] = {"menu": "main"}  # main has hours: office
    assert problems_of(raw) == [
        {
            "path": "ivr.menus.main.on_closed",
            "message": "cycle without caller input: main -> closed -> main",
        }
    ]


def test_a_menu_without_hours_waits_for_input_so_no_loop() -> None:
    raw = example()
    del raw["ivr"]["menus"]["main"]["hours"]
    del raw["ivr"]["menus"]["main"]["on_closed"]
    raw["ivr"]["menus"]["existing"]["choices"]["8"] = {"menu": "closed"}
    raw["ivr"]["menus"]["closed"]["next"] = {"menu": "main"}
    parse_config(raw, "cc.yaml", ENV)


def test_closed_queues_sending_callers_round_are_a_loop() -> None:
    raw = example()
    raw["queues"]["sales"]["closed"] = {"queue": "billing"}
    raw["queues"]["billing"]["closed"] = {"queue": "sales"}
    [problem] = problems_of(raw)
    assert problem["path"] == "queues.sales.closed.queue"
    assert problem["message"] == "closed queues send callers round: sales -> billing -> sales"


# --- values with limits ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "says"),
    [
        ("https://crm.example.com/search?phone={caller}\n", "control character"),
        ("https://crm.example.com/a b?phone={caller}", "without spaces"),
        ("javascript:alert(1)//{caller}", "http:// or https://"),
        ("ftp://crm.example.com/{caller}", "http:// or https://"),
        ("https://crm.example.com/?phone={phone}", "unknown placeholder {phone}"),
        ("https://crm.example.com/?phone={caller", "'{' or '}'"),
        ("https:///nohost?{caller}", "http:// or https://"),
        ("https://crm.example.com:99999/{caller}", "not a valid URL"),
        ("https://crm.example.com/" + "x" * 2000, "too long"),
    ],
)
def test_crm_link_is_an_http_url_template(link: str, says: str) -> None:
    raw = example()
    raw["queues"]["sales"]["crm_link"] = link
    [problem] = problems_of(raw)
    assert problem["path"] == "queues.sales.crm_link"
    assert says in problem["message"]


@pytest.mark.parametrize(
    ("lookup", "says"),
    [
        ({"kind": "http", "url": "http://127.0.0.1:8099/orders/{order}"}, "unknown placeholder"),
        ({"kind": "http", "url": "http://127.0.0.1:8099/o/{value}\nX: y"}, "control character"),
        ({"kind": "http", "url": "file:///etc/passwd"}, "http:// or https://"),
        ({"kind": "sql", "url": "sqlite:///x.db\n", "query": "select 1"}, "control character"),
        ({"kind": "sql", "url": "not a url", "query": "select 1"}, "SQLAlchemy URL"),
    ],
)
def test_lookup_urls_are_checked_by_kind(lookup: dict[str, str], says: str) -> None:
    raw = example()
    raw["ivr"]["lookups"]["order_status"] = lookup
    [problem] = problems_of(raw)
    assert problem["path"] == "ivr.lookups.order_status.url"
    assert says in problem["message"]


def test_duplicate_skills_are_refused() -> None:
    raw = example()
    raw["skills"].append("sales")
    raw["queues"]["sales"]["skills"].append({"skill": "sales", "min_level": 3})
    raw["queues"]["billing"]["escalation"][0]["add_skills"] = ["support", "support"]
    raw["ivr"]["menus"]["existing"]["choices"]["4"]["extra_skills"].append({"skill": "french"})
    assert sorted((p["path"], p["message"]) for p in problems_of(raw)) == [
        (
            "ivr.menus.existing.choices.4.extra_skills[1]",
            "skill 'french' is required twice (keep one requirement)",
        ),
        ("queues.billing.escalation[0].add_skills[1]", "skill 'support' is listed twice"),
        ("queues.sales.skills[1]", "skill 'sales' is required twice (keep one requirement)"),
        ("skills[4]", "skill 'sales' is listed twice"),
    ]


def test_escalation_after_seconds_has_a_maximum() -> None:
    raw = example()
    raw["queues"]["support"]["escalation"][0]["after_seconds"] = 10**18
    [problem] = problems_of(raw)
    assert problem["path"] == "queues.support.escalation[0].after_seconds"
    assert "less than or equal to 86400" in problem["message"]


def test_an_escalation_step_after_the_longest_wait_is_never_reached() -> None:
    raw = example()
    raw["queues"]["support"]["escalation"][0]["after_seconds"] = 600  # max_wait_seconds: 600
    [problem] = problems_of(raw)
    assert problem["path"] == "queues.support.escalation[0].after_seconds"
    assert "never reached" in problem["message"]


def _numeric_fields(model: type[BaseModel], seen: set[type[BaseModel]]) -> list[tuple[str, Any]]:
    fields = []
    if model in seen:
        return fields
    seen.add(model)
    for name, info in model.model_fields.items():
        annotation = info.annotation
        for part in (annotation, *typing.get_args(annotation)):
            for inner in (part, *typing.get_args(part)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    fields.extend(_numeric_fields(inner, seen))
        kinds = {a for a in (annotation, *typing.get_args(annotation)) if a is not type(None)}
        if kinds and kinds <= {int, float}:
            fields.append((f"{model.__name__}.{name}", info))
    return fields


def test_every_number_in_the_config_has_a_maximum() -> None:
    fields = _numeric_fields(CallCenterConfig, set())
    names = {name for name, _ in fields}
    # The walk reaches nested sections, lists and optional sections.
    assert {"EscalationStep.after_seconds", "MenuNode.retries", "SipTrunk.port"} <= names
    unbounded = [
        name for name, info in fields if not any(isinstance(m, Le | Lt) for m in info.metadata)
    ]
    assert unbounded == []


# --- what error messages show ------------------------------------------------------------------


def test_secrets_are_never_echoed(tmp_path: Path) -> None:
    secret = "hunter2-\x07-very-secret"
    raw = example()
    raw["asterisk"]["ami"]["secret"] = secret
    raw["asterisk"]["ari"]["password"] = "${ARI_PASSWORD}"
    raw["webhooks"] = [{"url": "https://hooks.example.com/", "secret": secret}]
    problems = problems_of(raw, env={**ENV, "ARI_PASSWORD": "from-env\nsecret"})
    assert sorted(p["path"] for p in problems) == [
        "asterisk.ami.secret",
        "asterisk.ari.password",
        "webhooks[0].secret",
    ]
    for problem in problems:
        assert "secret" not in problem["message"].replace("the secret", "")
        assert "hunter2" not in problem["message"] and "from-env" not in problem["message"]
        assert "lower-case" not in problem["message"]
        assert "control character" in problem["message"]


def test_values_from_the_environment_are_not_echoed() -> None:
    raw = example()
    raw["asterisk"]["ami"]["host"] = "${AMI_HOST}"
    [problem] = problems_of(raw, env={**ENV, "AMI_HOST": "db.internal.example:5432/private"})
    assert problem == {
        "path": "asterisk.ami.host",
        "message": "invalid value (from ${AMI_HOST}): expected a host name or an IP address",
    }


def test_a_long_value_is_cut_and_a_long_name_is_called_too_long() -> None:
    raw = example()
    raw["agents"][0]["name"] = "A" * 1_000_000
    raw["agents"][1]["id"] = "b;" * 500_000
    raw["queues"]["sales"]["crm_link"] = "ftp://" + "y" * 1_000_000
    problems = {p["path"]: p["message"] for p in problems_of(raw)}
    assert problems["agents[0].name"] == "String should have at most 60 characters"
    assert problems["agents[1].id"] == "String should have at most 40 characters"
    assert len(problems["queues.sales.crm_link"]) < 150
    assert "(1000006 characters)" in problems["queues.sales.crm_link"]


def test_an_unknown_huge_key_is_cut_in_the_path() -> None:
    raw = example()
    raw["queues"]["sales"]["k" * 100_000] = 1
    [problem] = problems_of(raw)
    assert len(problem["path"]) < 100


@pytest.mark.parametrize(
    ("where", "value", "hint"),
    [
        (("ivr", "menus", "main", "timeout_prompt"), "please choose", "a media URI like"),
        (("ivr", "menus", "main", "prompts", 0), "welcome", "a media URI like"),
        (("agents", 0, "name"), "Alice; Bob", 'no ; , ( ) [ ] { } "'),
        (("agents", 0, "id"), "Alice", "lower-case letters"),
        (("agents", 0, "endpoint"), "SIP/1001", "a PJSIP endpoint like PJSIP/1001"),
        (("queues", "sales", "callback_digit"), "11", "one of 0-9, * and #"),
        (("asterisk", "ami", "username"), "-cc", "letters, digits, '_', '.' and '-'"),
        (("asterisk", "ami", "host"), "a b", "a host name or an IP address"),
        (("sip", "bind"), "::1", "a host name or an IPv4 address"),
    ],
)
def test_hints_fit_the_field(where: tuple[Any, ...], value: str, hint: str) -> None:
    raw = example()
    raw.setdefault("sip", {})
    set_at(raw, where, value)
    [problem] = problems_of(raw)
    assert hint in problem["message"]
    assert problem["message"].startswith(f"invalid value {value!r}: expected ")


def test_a_number_key_gets_the_number_hint() -> None:
    raw = example()
    raw["ivr"]["numbers"]["1OO"] = "main"
    [problem] = problems_of(raw)
    assert (
        problem["message"]
        == "invalid value '1OO': expected digits, '*' and '#', with an optional leading '+'"
    )


def test_every_problem_line_starts_with_error(tmp_path: Path) -> None:
    raw = example()
    for agent in raw["agents"]:
        agent["endpoint"] = "SIP/" + agent["endpoint"]
        agent["name"] = agent["name"] + ";"
    raw["queues"]["sales"]["ring_timeout"] = 0
    raw["queues"]["support"]["wrapup_seconds"] = -1
    raw["asterisk"]["ami"]["port"] = 0
    raw["timezone"] = "Nowhere/Nothing"
    raw["ivr"]["menus"]["main"]["retries"] = 99
    raw["ivr"]["menus"]["main"]["timeout_prompt"] = "x"
    status, lines = check(tmp_path, yaml.safe_dump(raw))
    assert status == 2
    assert len(lines) == 22
    assert all(line.startswith(f"error: {tmp_path / 'cc.yaml'}: ") for line in lines), lines
