"""AMI checks: login, the read/write classes we need, the dialplan.

Each reads what Asterisk itself prints: ``manager show user NAME`` (main/manager.c
handle_showmanager: ``read perm: system,call,...``) and ``dialplan show EXTEN@CONTEXT``
(pbx_config: one ``N. App(data)`` line per priority, or "There is no existence of ..." with
``Response: Error``). The agents' phones are checked over ARI (``ari_checks``): AMI's
PJSIPShowEndpoints needs the ``system`` write class, which our manager.conf does not grant.
"""

from __future__ import annotations

import contextlib
import re

from callcenter.asterisk.ami import AmiClient, AmiLoginRefused
from callcenter.config import CallCenterConfig
from callcenter.dialplan.render import FALLBACK_CONTEXT, INBOUND_CONTEXT
from callcenter.doctor.model import Check, failed, passed
from callcenter.errors import AsteriskError, AsteriskUnavailable

AREA = "AMI"
# What the rendered manager.conf grants our user (dialplan/manager.conf.j2): the worker reads
# these event classes and sends these actions.
REQUIRED_READ = frozenset(
    {"system", "call", "agent", "user", "dtmf", "reporting", "cdr", "dialplan"}
)
REQUIRED_WRITE = frozenset({"call", "agent", "user", "command", "reporting", "originate"})
_PRIORITY = re.compile(r"^\s*(?:'[^']*'\s*=>)?\s*(?:\[[^\]]*\])?\s*(\d+)\.\s+(\w+)\((.*)\)\s+\[")


async def connect(config: CallCenterConfig) -> tuple[AmiClient | None, Check]:
    """Log in once (no retries, no events); the check says how it went."""
    ami = config.asterisk.ami
    timeout = config.asterisk.request_timeout
    client = AmiClient(
        ami.host,
        ami.port,
        ami.username,
        ami.secret,
        connect_timeout=timeout,
        login_timeout=timeout,
        action_timeout=timeout,
        connect_attempts=1,
        keepalive_interval=None,
        events=False,
    )
    try:
        await client.connect()
    except AmiLoginRefused as exc:
        await client.close()
        return None, failed(
            AREA,
            "login",
            f"user {ami.username!r} refused: {exc.message}",
            f"asterisk.ami.secret must be the secret of [{ami.username}] in manager.conf "
            "(deploy the rendered manager.conf), and permit must allow this host",
        )
    except AsteriskError as exc:
        await client.close()
        return None, failed(
            AREA,
            "login",
            exc.message,
            "start Asterisk; check asterisk.ami.host/port and manager.conf (enabled, bindaddr)",
        )
    return client, passed(AREA, "login", f"{ami.username!r} logged in at {ami.host}:{ami.port}")


def _perm_classes(lines: list[str], label: str) -> set[str]:
    for line in lines:
        name, _, value = line.partition(":")
        if name.strip() == label:
            return {c.strip() for c in value.split(",") if c.strip()}
    return set()


async def check_permissions(client: AmiClient, config: CallCenterConfig) -> Check:
    """The user's read and write classes cover what the worker and deploy use."""
    user = config.asterisk.ami.username
    fix = (
        f"manager.conf [{user}]: read = {','.join(sorted(REQUIRED_READ))} and write = "
        f"{','.join(sorted(REQUIRED_WRITE))} (deploy the rendered manager.conf)"
    )
    try:
        lines = await client.command(f"manager show user {user}")
    except AsteriskError as exc:
        if "Permission denied" in exc.message:
            return failed(AREA, "permissions", f"{user!r} may not run CLI commands", fix)
        return failed(AREA, "permissions", exc.message, fix)
    if any(line.startswith("There is no manager called") for line in lines):
        return failed(AREA, "permissions", f"no manager user {user!r}", fix)
    read, write = _perm_classes(lines, "read perm"), _perm_classes(lines, "write perm")
    missing_read, missing_write = REQUIRED_READ - read, REQUIRED_WRITE - write
    if missing_read or missing_write:
        parts = []
        if missing_read:
            parts.append(f"read lacks {','.join(sorted(missing_read))}")
        if missing_write:
            parts.append(f"write lacks {','.join(sorted(missing_write))}")
        return failed(AREA, "permissions", "; ".join(parts), fix)
    return passed(AREA, "permissions", "read and write cover what we use")


async def _dialplan(client: AmiClient, place: str) -> tuple[list[tuple[int, str, str]], str]:
    """The priorities of ``dialplan show place`` as (priority, app, data), or the error line."""
    try:
        lines = await client.command(f"dialplan show {place}")
    except AsteriskError as exc:  # "There is no existence of ..." answers Response: Error
        output = exc.details.get("output") or [exc.message]
        return [], str(output[0]).strip()
    priorities = []
    for line in lines:
        match = _PRIORITY.match(line)
        if match:
            priorities.append((int(match.group(1)), match.group(2), match.group(3)))
    return priorities, ""


async def check_dialplan(client: AmiClient, config: CallCenterConfig) -> list[Check]:
    """Each IVR number in the trunk's context enters Stasis(app), with the fallback after it."""
    app = config.asterisk.ari.app
    fix = (
        "deploy the rendered extensions.conf (callcenter dialplan deploy), and make sure the "
        f"trunk's endpoint uses context = {INBOUND_CONTEXT}"
    )
    checks = []
    fallback, problem = await _dialplan(client, f"s@{FALLBACK_CONTEXT}")
    has_fallback = any(a == "Queue" for _, a, _ in fallback)
    for number in sorted(config.ivr.numbers):
        name = f"number {number}"
        priorities, problem = await _dialplan(client, f"{number}@{INBOUND_CONTEXT}")
        if not priorities:
            detail = problem or f"no extension {number} in {INBOUND_CONTEXT}"
            checks.append(failed("dialplan", name, detail, fix))
            continue
        stasis = [p for p, a, d in priorities if a == "Stasis" and d.split(",")[0] == app]
        goto = [p for p, a, d in priorities if a == "GotoIf" and f"{FALLBACK_CONTEXT}," in d]
        if not stasis:
            found = ", ".join(f"{a}({d})" for _, a, d in priorities[:3])
            checks.append(failed("dialplan", name, f"does not enter Stasis({app}): {found}", fix))
        elif not goto or goto[0] < stasis[0] or not has_fallback:
            checks.append(
                failed(
                    "dialplan",
                    name,
                    f"enters Stasis({app}) but has no fallback to {FALLBACK_CONTEXT} "
                    "(callers are dropped while no worker is connected)",
                    fix,
                )
            )
        else:
            checks.append(
                passed("dialplan", name, f"{INBOUND_CONTEXT}: Stasis({app}), fallback queue")
            )
    return checks


async def close(client: AmiClient | None) -> None:
    if client is not None:
        with contextlib.suppress(AsteriskUnavailable):  # closing a dead connection
            await client.close()
