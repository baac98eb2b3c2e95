"""``build_web``: the web pages on the worker's API application, wired to the live worker.

Called once at start-up (the worker, the demo) after the API application is made::

    build_web(api_app, config, service, worker, worker.ari, engine)

Today's KPIs for the wallboard come from the same code as ``callcenter report``
(``callcenter.cdr.report``): a background task owned by the application recomputes them in a
thread every ``KPI_REFRESH_SECONDS``, so a page never waits on the database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
import zoneinfo
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from callcenter.cdr.kpis import compute_kpis
from callcenter.cdr.report import load_call_facts
from callcenter.config import CallCenterConfig
from callcenter.db.threads import DbThreads
from callcenter.db.users import UserStore, user_store
from callcenter.web.app import WebDeps, add_web_routes
from callcenter.web.live import WorkerLiveView
from callcenter.web.security import SessionCodec, SignInRateLimit
from callcenter.web.voicemail import add_voicemail_routes
from callcenter.web.wallboard import WallboardHistory, chart_samples

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from callcenter.asterisk.ari import AriClient
    from callcenter.routing.service import AcdService
    from callcenter.worker.app import Worker

log = logging.getLogger(__name__)

KPI_REFRESH_SECONDS = 5.0
KPI_QUERY_TIMEOUT = 10.0
LIVE_KEY = web.AppKey("web_live", WorkerLiveView)


def start_of_today(config: CallCenterConfig, now: dt.datetime) -> dt.datetime:
    """Midnight of ``now``'s day in the call center's time zone, as UTC."""
    local = now.astimezone(zoneinfo.ZoneInfo(config.timezone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(dt.UTC)


def kpis_by_queue(
    engine: Engine, config: CallCenterConfig, since: dt.datetime, until: dt.datetime
) -> dict[str, dict[str, Any]]:
    """Per queue: offered, answered, service level, ASA, abandon rate for [since, until), as
    ``callcenter report --by queue`` computes them."""
    calls = load_call_facts(engine, since, until)
    rows = compute_kpis(
        calls,
        "queue",
        service_level_seconds={
            q: queue.service_level_seconds for q, queue in config.queues.items()
        },
        timezone=config.timezone,
    )
    return {
        row.group: {
            "offered": row.offered,
            "answered": row.answered,
            "service_level": row.service_level,
            "asa": row.asa_seconds,
            "abandon_rate": row.abandon_rate,
        }
        for row in rows
    }


class TodayKpis:
    """``WebDeps.extra["kpis_today"]``: the last computed KPIs of today (never blocks)."""

    def __init__(
        self,
        engine: Engine,
        config: CallCenterConfig,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        refresh_seconds: float = KPI_REFRESH_SECONDS,
    ) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self.value: dict[str, dict[str, Any]] = {}
        self.computed_at: dt.datetime | None = None
        self._threads = DbThreads()

    def __call__(self) -> dict[str, dict[str, Any]]:
        return self.value

    def period(self) -> tuple[dt.datetime, dt.datetime]:
        now = self.clock()
        return start_of_today(self.config, now), now + dt.timedelta(seconds=1)

    async def refresh(self) -> None:
        """Recompute now (in a thread, with a time-out)."""
        since, until = self.period()
        self.value = await self._threads.run(
            KPI_QUERY_TIMEOUT, kpis_by_queue, self.engine, self.config, since, until
        )
        self.computed_at = until

    async def run(self) -> None:
        """Refresh every ``refresh_seconds`` until cancelled; a failed query keeps the last
        numbers on the wallboard."""
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("today's KPIs could not be computed")
            await asyncio.sleep(self.refresh_seconds)

    async def close(self) -> None:
        """After ``run`` was cancelled: wait (bounded) for a query it gave up on, which still
        holds a connection of ``engine`` (whose owner disposes of it next)."""
        await self._threads.wait(KPI_QUERY_TIMEOUT)


async def sample_history(
    history: WallboardHistory,
    live: WorkerLiveView,
    kpis: TodayKpis,
    pbx_now: Callable[[], float],
    check_every: float = 1.0,
) -> None:
    """Feed the wallboard's charts: a sample per queue each ``history.every`` PBX seconds
    (waiting callers from the live status, service level from today's KPIs)."""
    while True:
        now = pbx_now()
        if history.due(now):
            try:
                history.record(now, chart_samples(live.status(), kpis()))
            except Exception:  # a chart must never stop the pages
                log.exception("wallboard history sample failed")
        await asyncio.sleep(check_every)


def build_web(
    app: web.Application,
    config: CallCenterConfig,
    service: AcdService,
    worker: Worker,
    ari: AriClient,
    engine: Engine,
    users: UserStore | None = None,
) -> WebDeps:
    """Add the web pages to ``app`` (the API application), wired to the running worker;
    ``users`` is the store the API uses too (its changes reach the API's token cache)."""
    web_settings = config.web
    secret = web_settings.session_secret
    if secret is None:
        log.warning(
            "web.session_secret is not set: a random one is used (sign-ins end at restart, "
            "two-factor sign-in cannot be turned on)"
        )
        secret = secrets.token_urlsafe(32)
    users = users or user_store(engine, config)
    sealed = users.seal_totp_secrets()
    if sealed:
        log.info("encrypted %d TOTP secret(s) stored in plain text by an older version", sealed)
    live = WorkerLiveView(service, worker, ari)
    # "Today" and the wallboard's time are the PBX's (a simulated day in the demo).
    kpis = TodayKpis(engine, config, clock=service.clock.now)
    history = WallboardHistory()
    deps = WebDeps(
        config=config,
        users=users,
        live=live,
        recordings_dir=Path(config.recordings.directory),
        codec=SessionCodec(secret, web_settings.session_hours * 3600.0),
        rate_limit=SignInRateLimit(web_settings.sign_in_attempts_per_minute),
        extra={
            "kpis_today": kpis,
            "wallboard_history": history,
            "pbx_now": service.now,
            "wall_now": service.clock.now,
        },
    )
    add_web_routes(app, deps)
    add_voicemail_routes(app)
    app[LIVE_KEY] = live

    async def owned_tasks(_app: web.Application) -> AsyncIterator[None]:
        # The first numbers are there before the first page is served.
        try:
            await kpis.refresh()
        except Exception:
            log.exception("today's KPIs could not be computed")
        tasks = [
            asyncio.create_task(kpis.run(), name="web-kpis-today"),
            asyncio.create_task(
                sample_history(history, live, kpis, service.now), name="web-history"
            ),
        ]
        yield
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await kpis.close()
        await live.close()

    app.cleanup_ctx.append(owned_tasks)
    return deps
