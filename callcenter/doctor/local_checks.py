"""Checks on our side: the database (reachable, migrated, cdr_pgsql's table) and the worker."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from callcenter.config import CallCenterConfig
from callcenter.db.asterisk_cdr import ASTERISK_CDR_TABLE
from callcenter.db.status import database_status
from callcenter.doctor.model import Check, failed, passed, skipped

DEFAULT_WORKER_URL = "http://127.0.0.1:8081/healthz"
AREA = "database"


def _unreachable(error: str) -> Check:
    return failed(
        AREA,
        "reachable",
        f"cannot connect: {error}",
        "start the database and check database.url (host, user, password, name)",
    )


def _asterisk_cdr(present: bool) -> Check:
    if present:
        return passed(AREA, ASTERISK_CDR_TABLE, "present for cdr_pgsql")
    return failed(
        AREA,
        ASTERISK_CDR_TABLE,
        f"missing: cdr_pgsql.conf is rendered for this database and Asterisk 22 aborts at "
        f"start (SIGABRT) while its table {ASTERISK_CDR_TABLE} does not exist",
        "callcenter db upgrade (creates it)",
    )


def _database_checks(config: CallCenterConfig) -> list[Check]:
    url = config.database.url
    status = database_status(url, timeout=config.asterisk.request_timeout)
    if status.error is not None:
        return [_unreachable(status.error)]
    checks = [passed(AREA, "reachable", url.split("@")[-1])]
    if status.current == status.head:
        checks.append(passed(AREA, "migrations", f"at head ({status.head})"))
    else:
        checks.append(
            failed(
                AREA,
                "migrations",
                f"at {status.current or 'base'}, head is {status.head}",
                "callcenter db upgrade",
            )
        )
    if status.asterisk_cdr is not None:  # cdr_pgsql.conf is rendered for PostgreSQL only
        checks.append(_asterisk_cdr(status.asterisk_cdr))
    return checks


async def check_database(config: CallCenterConfig) -> list[Check]:
    """Reachable, migrations at head, and asterisk_cdr present when cdr_pgsql.conf is rendered."""
    return await asyncio.to_thread(_database_checks, config)


def asterisk_cdr_check(config: CallCenterConfig) -> Check | None:
    """Whether cdr_pgsql's table is there (None on SQLite: no cdr_pgsql.conf is rendered)."""
    if not config.database.url.startswith("postgresql"):
        return None
    status = database_status(
        config.database.url, timeout=config.asterisk.request_timeout, revisions=False
    )
    if status.error is not None:
        return _unreachable(status.error)
    return _asterisk_cdr(bool(status.asterisk_cdr))


async def check_worker(url: str | None, timeout: float) -> Check:  # noqa: ASYNC109
    """The worker's /healthz answers 200, if a worker runs there."""
    if not url:
        return skipped("worker", "healthz", "not asked (--worker-url '')")
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url) as response,
        ):
            text = await response.text()
            status = response.status
    except (aiohttp.ClientConnectorError, ConnectionRefusedError):
        return skipped("worker", "healthz", f"no worker answers at {url} (not running here)")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return failed(
            "worker", "healthz", f"{url}: {exc or type(exc).__name__}", "see the worker's log"
        )
    try:
        body = json.loads(text)
    except ValueError:
        body = {}
    state = body.get("status") if isinstance(body, dict) else None
    if status == 200:
        return passed("worker", "healthz", f"{url} answers 200 ({state or 'ok'})")
    return failed(
        "worker",
        "healthz",
        f"{url} answers {status} ({state or text[:80]})",
        "see the worker's log: it is not connected to ARI, or it is draining",
    )
