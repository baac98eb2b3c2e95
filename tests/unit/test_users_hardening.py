"""Sign-in hardening: no user enumeration, one-time TOTP codes, TOTP secrets encrypted at rest,
and the commands that end a user's access."""

from __future__ import annotations

import datetime as dt
import logging
import statistics
import time
from pathlib import Path

import pyotp
import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from callcenter.auth import secrets as auth_secrets
from callcenter.auth.model import LockoutPolicy, Role
from callcenter.auth.sealing import SealedSecretError, SecretBox, hkdf_sha256, is_sealed
from callcenter.cli import main
from callcenter.db.engine import make_engine, upgrade
from callcenter.db.models import User
from callcenter.db.sessions import SessionStore
from callcenter.db.users import SignInRefused, UserStore
from callcenter.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
PASSWORD = "correct horse battery"
KEY = "hardening-test-session-secret-0123456789abcdefghij"
T0 = dt.datetime(2026, 11, 25, 10, 0, 5, tzinfo=dt.UTC)


@pytest.fixture
def store(tmp_path: Path) -> UserStore:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    upgrade(url)
    return UserStore(make_engine(url), LockoutPolicy(max_failures=3), totp_key=KEY)


def code_at(secret: str, when: dt.datetime) -> str:
    return pyotp.TOTP(secret).at(when)


# --- enumeration -----------------------------------------------------------------------------


def test_an_unknown_user_costs_a_password_check_like_a_real_one(store: UserStore) -> None:
    """Timing: at production argon2 cost, an unknown user name costs as much as a real one
    (before, 3 ms against 269 ms). CPU time of this process, not wall time, so a busy machine
    does not skew it; medians of interleaved tries."""
    auth_secrets.set_hashing_cost(time_cost=3, memory_cost_kib=65536, parallelism=4)
    try:
        store.add("erin", PASSWORD, Role.QA)
        times: dict[str, list[float]] = {"erin": [], "nobody-here": []}
        for _ in range(5):
            for username, spent in times.items():
                started = time.process_time()
                with pytest.raises(SignInRefused):
                    store.sign_in(username, "not the password")
                spent.append(time.process_time() - started)
        real, unknown = statistics.median(times["erin"]), statistics.median(times["nobody-here"])
    finally:
        auth_secrets.set_hashing_cost(time_cost=1, memory_cost_kib=1024, parallelism=1)
    assert unknown > 0.5 * real, (unknown, real)


def test_every_refusal_before_the_password_is_right_reads_the_same(store: UserStore) -> None:
    store.add("erin", PASSWORD, Role.QA)
    store.add("dana", PASSWORD, Role.QA)
    store.set_disabled("dana", True)
    messages = set()
    for username, password in (("nobody", PASSWORD), ("erin", "wrong one"), ("dana", PASSWORD)):
        with pytest.raises(SignInRefused) as refused:
            store.sign_in(username, password, now=T0)
        messages.add(refused.value.message)
    for _ in range(3):
        with pytest.raises(SignInRefused):
            store.sign_in("erin", "wrong one", now=T0)
    with pytest.raises(SignInRefused) as locked:
        store.sign_in("erin", PASSWORD, now=T0)  # locked now, even with the right password
    messages.add(locked.value.message)
    assert len(messages) == 1


# --- TOTP --------------------------------------------------------------------------------------


def test_a_totp_code_works_once_and_older_ones_never(store: UserStore) -> None:
    store.add("quinn", PASSWORD, Role.QA)
    secret = pyotp.random_base32()
    store.set_totp("quinn", secret)
    now_code = code_at(secret, T0)
    assert store.sign_in("quinn", PASSWORD, now_code, now=T0).username == "quinn"
    with pytest.raises(SignInRefused, match="already used"):
        store.sign_in("quinn", PASSWORD, now_code, now=T0 + dt.timedelta(seconds=5))
    previous = code_at(secret, T0 - dt.timedelta(seconds=30))
    with pytest.raises(SignInRefused, match="already used"):
        store.sign_in("quinn", PASSWORD, previous, now=T0 + dt.timedelta(seconds=5))
    later = T0 + dt.timedelta(seconds=30)
    assert store.sign_in("quinn", PASSWORD, code_at(secret, later), now=later)


def test_the_previous_windows_code_works_when_nothing_newer_was_used(store: UserStore) -> None:
    store.add("quinn", PASSWORD, Role.QA)
    secret = pyotp.random_base32()
    store.set_totp("quinn", secret)
    previous = code_at(secret, T0 - dt.timedelta(seconds=30))
    assert store.sign_in("quinn", PASSWORD, previous, now=T0)  # clock drift is tolerated


def test_totp_secrets_are_encrypted_at_rest(store: UserStore) -> None:
    store.add("quinn", PASSWORD, Role.QA)
    secret = pyotp.random_base32()
    store.set_totp("quinn", secret)
    with store.engine.connect() as conn:
        stored = conn.execute(text("select totp_secret from users")).scalar_one()
    assert is_sealed(stored) and secret not in stored
    assert SecretBox(KEY).open(stored) == secret
    assert store.sign_in("quinn", PASSWORD, code_at(secret, T0), now=T0)


def test_a_store_without_the_key_cannot_turn_totp_on(store: UserStore) -> None:
    store.add("quinn", PASSWORD, Role.QA)
    with pytest.raises(ConfigError, match=r"web\.session_secret"):
        UserStore(store.engine).set_totp("quinn", pyotp.random_base32())


def test_another_key_cannot_use_the_secret(
    store: UserStore, caplog: pytest.LogCaptureFixture
) -> None:
    store.add("quinn", PASSWORD, Role.QA)
    secret = pyotp.random_base32()
    store.set_totp("quinn", secret)
    other = UserStore(store.engine, totp_key="another-session-secret-0123456789abcdefghijk")
    with caplog.at_level(logging.ERROR), pytest.raises(SignInRefused):
        other.sign_in("quinn", PASSWORD, code_at(secret, T0), now=T0)
    assert "cannot be decrypted" in caplog.text


def test_plain_totp_secrets_of_an_older_version_are_encrypted(store: UserStore) -> None:
    store.add("quinn", PASSWORD, Role.QA)
    store.add("sara", PASSWORD, Role.SUPERVISOR)
    secrets = {"quinn": pyotp.random_base32(), "sara": pyotp.random_base32()}
    with store.engine.begin() as conn:
        for name, secret in secrets.items():
            conn.execute(
                text("update users set totp_secret = :s where username = :u"),
                {"s": secret, "u": name},
            )
    # A sign-in with a plain secret works and encrypts it on the way.
    assert store.sign_in("sara", PASSWORD, code_at(secrets["sara"], T0), now=T0)
    assert store.seal_totp_secrets() == 1  # quinn's; sara's already
    with Session(store.engine) as session:
        stored = {u.username: u.totp_secret for u in session.scalars(select(User))}
    for name, secret in secrets.items():
        assert is_sealed(str(stored[name])) and SecretBox(KEY).open(str(stored[name])) == secret


def test_sealing_construction() -> None:
    # RFC 5869, test case 1.
    okm = hkdf_sha256(
        bytes([0x0B] * 22),
        salt=bytes(range(13)),
        info=bytes(range(0xF0, 0xFA)),
        length=42,
    )
    assert okm.hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )
    box = SecretBox(KEY)
    sealed = box.seal("JBSWY3DPEHPK3PXP")
    assert box.open(sealed) == "JBSWY3DPEHPK3PXP"
    assert box.seal("JBSWY3DPEHPK3PXP") != sealed  # a fresh nonce every time
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    with pytest.raises(SealedSecretError):
        box.open(tampered)
    with pytest.raises(SealedSecretError):
        SecretBox(KEY + "x").open(sealed)


# --- ending access ----------------------------------------------------------------------------


def test_password_change_disabling_and_signout_end_web_sessions(store: UserStore) -> None:
    sessions = SessionStore(store.engine)
    store.add("ann", PASSWORD, Role.AGENT, agent_id="alice")
    later = T0 + dt.timedelta(hours=8)

    def open_one(session_id: str) -> None:
        sessions.open(session_id, "ann", T0, later)

    open_one("s1")
    assert sessions.check("s1", "ann", T0) is not None
    assert sessions.check("s1", "bob", T0) is None  # the id is ann's, not bob's
    assert sessions.check("s1", "ann", later) is None  # expired
    store.set_password("ann", "a brand new secret")
    assert sessions.check("s1", "ann", T0) is None
    open_one("s2")
    store.set_disabled("ann", True)
    assert sessions.check("s2", "ann", T0) is None
    store.set_disabled("ann", False)
    open_one("s3")
    open_one("s4")
    assert store.sign_out_everywhere("ann") == 2
    assert sessions.check("s3", "ann", T0) is None and sessions.check("s4", "ann", T0) is None


def test_cli_revoke_token_disable_enable_signout(tmp_path: Path) -> None:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["database"]["url"] = f"sqlite:///{tmp_path / 'cli.db'}"
    raw["web"] = {"session_secret": KEY}
    config = tmp_path / "cc.yaml"
    config.write_text(yaml.safe_dump(raw))
    args = ["--config", str(config)]
    runner = CliRunner()

    def run(*words: str) -> str:
        result = runner.invoke(main, ["users", *words, *args])
        assert result.exit_code == 0, result.output
        return result.output

    run("add", "erin", "--role", "agent", "--agent", "erin", "--password", PASSWORD)
    token = run("token", "erin").strip()
    url = raw["database"]["url"]
    store = UserStore(make_engine(url))
    assert store.by_token(token) is not None
    assert run("revoke-token", "erin") == "API token of erin revoked\n"
    assert store.by_token(token) is None
    token = run("token", "erin").strip()
    assert run("disable", "erin") == "user erin disabled\n"
    assert store.by_token(token) is None
    with pytest.raises(SignInRefused):
        store.sign_in("erin", PASSWORD)
    assert '"disabled": true' in run("list", "--json")
    assert run("enable", "erin") == "user erin enabled\n"
    assert store.by_token(token) is not None and store.sign_in("erin", PASSWORD)
    SessionStore(store.engine).open("s1", "erin", T0, T0 + dt.timedelta(days=3650))
    assert run("signout", "erin") == "erin signed out of 1 session(s)\n"
    missing = runner.invoke(main, ["users", "disable", "nobody", *args])
    assert missing.exit_code == 1 and "no user 'nobody'" in missing.output
    uri = run("totp", "erin").strip()
    assert uri.startswith("otpauth://")
    with store.engine.connect() as conn:
        stored = conn.execute(text("select totp_secret from users")).scalar_one()
    assert is_sealed(stored)
