"""Secrets that sign sessions or open the API must be random: weak values are refused at load."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

from callcenter.config import MAKE_SECRET_COMMAND, parse_config, weak_secret_problem
from callcenter.errors import ConfigError
from callcenter.runtime import CallCenterRuntime

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"

WEAK = [
    "x",
    "test-secret",
    "a" * 64,  # long, one character
    "0123456789" * 4,  # ten different characters
    "change-me-session-secret-please-0123456789abcdefghij",
    "abcdefghijklmnop" * 3,  # one piece repeated
]


def raw_with(section: str, key: str, value: str) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    raw[section] = {key: value}
    return raw


@pytest.mark.parametrize(("section", "key"), [("web", "session_secret"), ("api", "token")])
@pytest.mark.parametrize("value", WEAK)
def test_weak_values_are_refused_naming_the_key_and_the_fix(
    section: str, key: str, value: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(raw_with(section, key, value), "cc.yaml", env={})
    [problem] = info.value.details["problems"]
    assert problem["path"] == f"{section}.{key}"
    assert "too weak" in problem["message"]
    assert MAKE_SECRET_COMMAND in problem["message"]
    assert value not in str(info.value)  # a secret is never echoed back


@pytest.mark.parametrize(("section", "key"), [("web", "session_secret"), ("api", "token")])
def test_random_values_pass(section: str, key: str) -> None:
    for _ in range(200):
        for value in (secrets.token_urlsafe(32), secrets.token_hex(32)):
            assert weak_secret_problem(value) is None, value
    value = secrets.token_urlsafe(32)
    config = parse_config(raw_with(section, key, value), "cc.yaml", env={})
    assert getattr(getattr(config, section), key) == value


def test_a_weak_token_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    config = parse_config(yaml.safe_load(EXAMPLE.read_text()), "cc.yaml", env={})
    monkeypatch.setenv("CALLCENTER_API_TOKEN", "short")
    with pytest.raises(ConfigError, match=r"CALLCENTER_API_TOKEN is too weak"):
        CallCenterRuntime(config)
    monkeypatch.setenv("CALLCENTER_API_TOKEN", secrets.token_urlsafe(32))
    assert CallCenterRuntime(config).api_token
