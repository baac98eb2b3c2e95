"""Users: argon2 passwords, lock-out after repeated failures, TOTP, API tokens, and the CLI."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyotp
import pytest
import yaml
from click.testing import CliRunner

from callcenter.auth.model import LockoutPolicy, Permission, Role, allows
from callcenter.cli import main
from callcenter.db.engine import make_engine, upgrade
from callcenter.db.users import SignInRefused, TotpRequired, UserStore, WeakPassword
from callcenter.errors import ConflictError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
PASSWORD = "correct horse battery"
TOTP_KEY = "users-test-session-secret-0123456789abcdefghijklmn"


@pytest.fixture
def store(tmp_path: Path) -> UserStore:
    url = f"sqlite:///{tmp_path / 'users.db'}"
    upgrade(url)
    return UserStore(
        make_engine(url), LockoutPolicy(max_failures=3, lock_minutes=10), totp_key=TOTP_KEY
    )


def test_password_is_stored_as_argon2_and_checked(store: UserStore) -> None:
    store.add("sam", PASSWORD, Role.SUPERVISOR)
    from sqlalchemy import text

    with store.engine.connect() as conn:
        stored = conn.execute(text("select password_hash from users")).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert store.sign_in("sam", PASSWORD).role is Role.SUPERVISOR
    with pytest.raises(SignInRefused, match="wrong username or password"):
        store.sign_in("sam", "wrong password!")
    with pytest.raises(SignInRefused, match="wrong username or password"):
        store.sign_in("nobody", PASSWORD)


def test_weak_and_duplicate(store: UserStore) -> None:
    with pytest.raises(WeakPassword):
        store.add("sam", "short", Role.QA)
    store.add("sam", PASSWORD, Role.QA)
    with pytest.raises(ConflictError):
        store.add("sam", PASSWORD, Role.QA)


def test_locked_out_after_repeated_failures_then_unlocked_by_time(store: UserStore) -> None:
    store.add("ann", PASSWORD, Role.AGENT, agent_id="alice")
    now = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    for _ in range(3):
        with pytest.raises(SignInRefused, match="wrong"):
            store.sign_in("ann", "not the password", now=now)
    with pytest.raises(SignInRefused) as locked:
        store.sign_in("ann", PASSWORD, now=now + dt.timedelta(minutes=5))
    with pytest.raises(SignInRefused) as unknown:
        store.sign_in("nobody", PASSWORD, now=now + dt.timedelta(minutes=5))
    assert locked.value.message == unknown.value.message  # no hint of who exists
    assert store.sign_in("ann", PASSWORD, now=now + dt.timedelta(minutes=11)).agent_id == "alice"


def test_password_change_unlocks(store: UserStore) -> None:
    store.add("ann", PASSWORD, Role.AGENT, agent_id="alice")
    for _ in range(3):
        with pytest.raises(SignInRefused):
            store.sign_in("ann", "nope nope nope")
    store.set_password("ann", "a brand new secret")
    assert store.sign_in("ann", "a brand new secret").username == "ann"


def test_totp_required_when_enabled(store: UserStore) -> None:
    store.add("qa1", PASSWORD, Role.QA)
    secret = pyotp.random_base32()
    store.set_totp("qa1", secret)
    with pytest.raises(TotpRequired):
        store.sign_in("qa1", PASSWORD)
    with pytest.raises(SignInRefused, match="authenticator code"):
        store.sign_in(
            "qa1",
            PASSWORD,
            totp_code="000000" if pyotp.TOTP(secret).now() != "000000" else "111111",
        )
    assert store.sign_in("qa1", PASSWORD, totp_code=pyotp.TOTP(secret).now()).role is Role.QA


def test_api_tokens_are_stored_hashed(store: UserStore) -> None:
    store.add("sup", PASSWORD, Role.SUPERVISOR)
    token = store.issue_token("sup")
    user = store.by_token(token)
    assert user is not None and user.username == "sup"
    assert store.by_token(token + "x") is None
    newer = store.issue_token("sup")
    assert store.by_token(token) is None
    assert store.by_token(newer) is not None


def test_roles() -> None:
    assert allows(Role.SUPERVISOR, Permission.LIVE_CONTROL)
    assert not allows(Role.QA, Permission.LIVE_CONTROL)
    assert allows(Role.QA, Permission.RECORDINGS)
    assert not allows(Role.AGENT, Permission.ALL_CALLS)
    assert all(allows(Role.ADMIN, p) for p in Permission)


def test_cli_users_add_list_passwd(tmp_path: Path) -> None:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["database"]["url"] = f"sqlite:///{tmp_path / 'cli.db'}"
    config = tmp_path / "cc.yaml"
    config.write_text(yaml.safe_dump(raw))
    runner = CliRunner()
    args = ["--config", str(config)]
    result = runner.invoke(
        main,
        ["users", "add", "ann", "--role", "agent", "--agent", "alice", *args],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "user ann added (agent)" in result.output
    result = runner.invoke(
        main,
        ["users", "add", "ghost", "--role", "agent", "--agent", "zed", *args],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 2
    assert "no agent 'zed'" in result.output
    result = runner.invoke(
        main, ["users", "add", "ann", "--role", "qa", "--password", PASSWORD, *args]
    )
    assert result.exit_code == 1
    assert result.output.strip() == "error: user 'ann' already exists"
    result = runner.invoke(main, ["users", "list", "--json", *args])
    assert result.exit_code == 0
    assert '"agent": "alice"' in result.output
    result = runner.invoke(main, ["users", "passwd", "ann", "--password", "short", *args])
    assert result.exit_code == 1
    assert "at least 10 characters" in result.output
