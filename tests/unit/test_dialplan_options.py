"""Every option the templates write is one Asterisk 22 documents for that file and section type.

The allowlists below are copied from Asterisk 22's documentation and sample configs
(configs/samples/*.conf.sample; `config show help res_pjsip <type>`): a typo in a template
(`dtmfmode`, `max_contact`) makes Asterisk ignore or reject the option, so it fails here first.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from callcenter.config import parse_config
from callcenter.dialplan.check import parse_sections
from callcenter.dialplan.render import render_files

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"

PJSIP = {
    "transport": {
        "type", "protocol", "bind", "external_media_address", "external_signaling_address",
        "local_net",
    },
    "endpoint": {
        "type", "transport", "context", "disallow", "allow", "auth", "aors", "outbound_auth",
        "callerid", "direct_media", "dtmf_mode", "rtp_symmetric", "force_rport",
        "rewrite_contact", "set_var", "from_user",
    },
    "auth": {"type", "auth_type", "username", "realm", "md5_cred", "password"},
    "aor": {"type", "max_contacts", "remove_existing", "qualify_frequency", "contact"},
    "identify": {"type", "endpoint", "match"},
    "registration": {
        "type", "transport", "outbound_auth", "server_uri", "client_uri", "retry_interval",
    },
}  # fmt: skip
FILES: dict[str, dict[str, set[str]]] = {
    "ari.conf": {
        "general": {"enabled", "pretty"},
        "*": {"type", "read_only", "password", "password_format"},
    },
    "http.conf": {"general": {"enabled", "bindaddr", "bindport"}},
    "manager.conf": {
        "general": {"enabled", "port", "bindaddr", "displayconnects"},
        "*": {"secret", "deny", "permit", "read", "write", "writetimeout"},
    },
    "queues.conf": {
        "general": {"persistentmembers", "autofill", "shared_lastcall"},
        "*": {
            "strategy", "timeout", "retry", "wrapuptime", "musicclass", "ringinuse", "joinempty",
            "leavewhenempty", "announce-frequency", "announce-position", "member",
        },
    },
    "musiconhold.conf": {"*": {"mode", "directory"}},
    "cdr_pgsql.conf": {
        "global": {
            "hostname", "port", "dbname", "user", "password", "appname", "table", "encoding",
            "timezone",
        },
    },
}  # fmt: skip
QUEUE_STRATEGIES = {"ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear"}
EMPTY_CONDITIONS = {"paused", "penalty", "inuse", "ringing", "unavailable", "invalid", "unknown"}


@pytest.fixture(scope="module")
def files() -> dict[str, str]:
    """The example with every optional part switched on: trunk, registration, PostgreSQL."""
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    data["database"]["url"] = "postgresql+psycopg://cc:db-Secret-1@127.0.0.1:5432/cc"
    data["sip"] = {
        "external_address": "203.0.113.7",
        "local_nets": ["10.0.0.0/8"],
        "trunk": {
            "host": "sip.example.net",
            "username": "acme",
            "secret": "trunk-Secret-1",
            "realm": "example.net",
            "registration": True,
        },
    }
    config = parse_config(copy.deepcopy(data), "test.yaml", env={})
    return render_files(config, allow_insecure_defaults=True)


def test_pjsip_options_are_documented_for_their_type(files: dict[str, str]) -> None:
    sections, issues = parse_sections(files["pjsip.conf"], "pjsip.conf")
    assert not issues
    seen_types = set()
    for name, options in sections:
        kind = options["type"][0]
        seen_types.add(kind)
        unknown = set(options) - {"__line__"} - PJSIP[kind]
        assert not unknown, f"[{name}] type={kind}: {sorted(unknown)}"
        if kind == "endpoint":
            assert options["dtmf_mode"] == ["rfc4733"]
            assert options["direct_media"] == ["no"]
            assert options["disallow"] == ["all"]
        if kind == "auth":
            assert options["auth_type"][0] in {"md5", "userpass"}
    assert seen_types == set(PJSIP)


@pytest.mark.parametrize("name", sorted(FILES))
def test_other_files_use_documented_options(files: dict[str, str], name: str) -> None:
    sections, issues = parse_sections(files[name], name)
    assert not issues
    for section, options in sections:
        allowed = FILES[name].get(section, FILES[name].get("*"))
        assert allowed is not None, f"{name}: unexpected section [{section}]"
        unknown = set(options) - {"__line__"} - allowed
        assert not unknown, f"{name} [{section}]: {sorted(unknown)}"


def test_option_values_are_ones_asterisk_accepts(files: dict[str, str]) -> None:
    queues = dict(parse_sections(files["queues.conf"], "queues.conf")[0])
    for name, options in queues.items():
        if name == "general":
            continue
        assert options["strategy"][0] in QUEUE_STRATEGIES
        for key in ("joinempty", "leavewhenempty"):
            assert set(options[key][0].split(",")) <= EMPTY_CONDITIONS
    ari = dict(parse_sections(files["ari.conf"], "ari.conf")[0])
    assert ari["callcenter"]["password_format"] == ["crypt"]
    assert ari["callcenter"]["password"][0].startswith("$6$")
    manager = dict(parse_sections(files["manager.conf"], "manager.conf")[0])
    classes = {"system", "call", "agent", "user", "dtmf", "reporting", "cdr", "dialplan"}
    classes |= {"command", "originate", "config", "log", "verbose", "security", "message"}
    for key in ("read", "write"):
        assert set(manager["callcenter"][key][0].split(",")) <= classes
