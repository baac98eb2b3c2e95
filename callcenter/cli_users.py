"""``callcenter users``: people who sign in to the web pages and API.

``add``, ``passwd``, ``list``, ``totp``; ``token`` / ``revoke-token`` (API bearer tokens);
``disable`` / ``enable``; ``signout`` (end every web session of a user). A running worker
sees a change at its next request (tokens: within 2 s, its cache's time-to-live).
"""

from __future__ import annotations

from collections.abc import Callable

import click

from callcenter.auth.model import Role
from callcenter.cli import config_option, echo_json, json_option, load, maps_errors
from callcenter.db.users import UserStore, user_store


def _store(config_path: str | None) -> UserStore:
    from callcenter.db.engine import make_engine, upgrade

    config = load(config_path)
    upgrade(config.database.url)
    store = user_store(make_engine(config.database.url), config)
    store.seal_totp_secrets()  # any left in plain text by an older version
    return store


# An explicit Group (not a decorated function) so its type is known where cli.py imports it.
users: click.Group = click.Group(
    "users", help="Manage the people who sign in (roles: agent, qa, supervisor, admin)."
)


def _user_command(name: str) -> Callable[[Callable[..., None]], click.Command]:
    """``callcenter users NAME USERNAME [--config FILE]``, errors mapped to one line."""

    def wrap(func: Callable[..., None]) -> click.Command:
        return users.command(name)(click.argument("username")(config_option(maps_errors(func))))

    return wrap


@users.command("add")
@click.argument("username")
@click.option(
    "--role", type=click.Choice([r.value for r in Role]), required=True, help="What they may do."
)
@click.option("--agent", "agent_id", help="For role agent: the agent id from the config.")
@click.password_option(help="Asked for when not given (at least 10 characters).")
@config_option
@maps_errors
def users_add(
    username: str, role: str, agent_id: str | None, password: str, config_path: str | None
) -> None:
    """Create a user."""
    if agent_id is not None:
        config = load(config_path)
        if agent_id not in {a.id for a in config.agents}:
            raise click.BadParameter(f"no agent {agent_id!r} in the config", param_hint="--agent")
    info = _store(config_path).add(username, password, Role(role), agent_id)
    click.echo(f"user {info.username} added ({info.role.value})")


@users.command("passwd")
@click.argument("username")
@click.password_option(help="The new password (at least 10 characters).")
@config_option
@maps_errors
def users_passwd(username: str, password: str, config_path: str | None) -> None:
    """Change a user's password (and unlock them)."""
    _store(config_path).set_password(username, password)
    click.echo(f"password of {username} changed")


@_user_command("token")
def users_token(username: str, config_path: str | None) -> None:
    """Issue a new API bearer token for USERNAME (printed once; the old one stops working)."""
    click.echo(_store(config_path).issue_token(username))


@_user_command("revoke-token")
def users_revoke_token(username: str, config_path: str | None) -> None:
    """Revoke USERNAME's API token (no new one is made)."""
    _store(config_path).revoke_token(username)
    click.echo(f"API token of {username} revoked")


@_user_command("disable")
def users_disable(username: str, config_path: str | None) -> None:
    """Disable USERNAME: no sign-in, no API token, every browser of theirs signed out."""
    _store(config_path).set_disabled(username, True)
    click.echo(f"user {username} disabled")


@_user_command("enable")
def users_enable(username: str, config_path: str | None) -> None:
    """Enable USERNAME again (their password and API token work again)."""
    _store(config_path).set_disabled(username, False)
    click.echo(f"user {username} enabled")


@_user_command("signout")
def users_signout(username: str, config_path: str | None) -> None:
    """Sign USERNAME out everywhere: every web session of theirs ends at its next request."""
    ended = _store(config_path).sign_out_everywhere(username)
    click.echo(f"{username} signed out of {ended} session(s)")


@users.command("totp")
@click.argument("username")
@click.option("--disable", is_flag=True, help="Turn two-factor sign-in off.")
@config_option
@maps_errors
def users_totp(username: str, disable: bool, config_path: str | None) -> None:
    """Turn on two-factor sign-in: prints the otpauth:// URI to add to an authenticator app
    (the secret is stored encrypted with a key derived from web.session_secret)."""
    from callcenter.auth.secrets import new_totp_secret, totp_uri

    store = _store(config_path)
    if disable:
        store.set_totp(username, None)
        click.echo(f"two-factor sign-in off for {username}")
        return
    secret = new_totp_secret()
    store.set_totp(username, secret)
    click.echo(totp_uri(secret, username))


@users.command("list")
@json_option
@config_option
@maps_errors
def users_list(as_json: bool, config_path: str | None) -> None:
    """List users with their role and whether two-factor sign-in is on."""
    rows = _store(config_path).list()
    if as_json:
        echo_json(
            [
                {
                    "username": u.username,
                    "role": u.role.value,
                    "agent": u.agent_id,
                    "totp": u.totp_enabled,
                    "locked": u.locked,
                    "disabled": u.disabled,
                }
                for u in rows
            ]
        )
        return
    for u in rows:
        flags = ", ".join(
            f
            for f, on in (("totp", u.totp_enabled), ("locked", u.locked), ("disabled", u.disabled))
            if on
        )
        agent = f" agent={u.agent_id}" if u.agent_id else ""
        click.echo(f"{u.username:20} {u.role.value:10}{agent} {flags}".rstrip())
