"""``build_web`` wiring and today's KPIs, without Asterisk: a Worker that is never started, a
real ACD service and a SQLite database. (Supervision over the wire: tests/e2e/test_web_listen.)"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from callcenter.asterisk.ari import AriSettings
from callcenter.asterisk.events import ChannelSnapshot
from callcenter.asterisk.ids import ChannelId
from callcenter.auth.model import Role
from callcenter.call.session import CallSession
from callcenter.cdr.report import build_report
from callcenter.config import CallCenterConfig
from callcenter.db.engine import make_engine, upgrade
from callcenter.db.models import Call
from callcenter.db.users import UserStore
from callcenter.routing.service import AcdService
from callcenter.routing.testing import make_config
from callcenter.web.live import WorkerLiveView, duration_text
from callcenter.web.serve import LIVE_KEY, TodayKpis, build_web, kpis_by_queue, start_of_today
from callcenter.worker.app import Worker, WorkerSettings

PASSWORD = "long enough secret"


def config_for(tmp_path: Path, **overrides: Any) -> CallCenterConfig:
    raw = make_config(**overrides).model_dump(mode="json", exclude_none=True)
    raw["database"] = {"url": f"sqlite:///{tmp_path / 'cc.db'}"}
    raw["recordings"] = {"directory": str(tmp_path / "recordings")}
    raw["web"] = {
        "session_secret": "unit-secret-0123456789abcdefghijklmnopq",
        "supervisor_endpoint": "PJSIP/2001",
    }
    return CallCenterConfig.model_validate(raw)


def seed(engine: Engine, at: dt.datetime) -> None:
    rows = [
        ("billing", "answered", "bill1", 5.0),
        ("billing", "answered", "bill2", 40.0),
        ("billing", "abandoned_queue", None, 30.0),
        ("billing", "abandoned_queue", None, 1.0),  # a short abandon
        ("sales", "overflowed", None, 90.0),
    ]
    with Session(engine) as db:
        for n, (queue, disposition, agent, wait) in enumerate(rows):
            started = at + dt.timedelta(seconds=n)
            db.add(
                Call(
                    call_id=uuid.uuid4().hex,
                    started_at=started,
                    updated_at=started,
                    queue_id=queue,
                    agent_id=agent,
                    disposition=disposition,
                    wait_seconds=wait,
                    ivr_path=[],
                    digits=[],
                )
            )
        db.commit()


def test_duration_text() -> None:
    assert duration_text(None) == ""
    assert duration_text(-3) == "0 s"
    assert duration_text(42.7) == "42 s"
    assert duration_text(185) == "3 min"
    assert duration_text(3900) == "1 h 5 min"


def test_today_starts_at_local_midnight(tmp_path: Path) -> None:
    config = config_for(tmp_path, timezone="America/New_York")
    now = dt.datetime(2026, 11, 25, 3, 30, tzinfo=dt.UTC)  # 22:30 the day before in New York
    assert start_of_today(config, now) == dt.datetime(2026, 11, 24, 5, 0, tzinfo=dt.UTC)


def test_kpis_by_queue_are_the_reports_numbers(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    upgrade(config.database.url)
    engine = make_engine(config.database.url)
    since = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    until = since + dt.timedelta(days=1)
    seed(engine, since + dt.timedelta(hours=9))
    shown = kpis_by_queue(engine, config, since, until)
    report = build_report(config.database.url, config, "queue", since, until)
    engine.dispose()
    assert shown == {
        row.group: {
            "offered": row.offered,
            "answered": row.answered,
            "service_level": row.service_level,
            "asa": row.asa_seconds,
            "abandon_rate": row.abandon_rate,
        }
        for row in report
    }
    assert shown["billing"]["offered"] == 4 and shown["billing"]["answered"] == 2
    assert shown["sales"]["service_level"] == 0.0


async def test_a_failed_refresh_keeps_the_last_numbers(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    upgrade(config.database.url)
    engine = make_engine(config.database.url)
    now = dt.datetime.now(dt.UTC)
    seed(engine, start_of_today(config, now))
    kpis = TodayKpis(engine, config)
    await kpis.refresh()
    before = kpis()
    assert before["billing"]["offered"] == 4
    engine.dispose()
    kpis.engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'no.db'}")
    with pytest.raises(Exception):  # noqa: B017 (whatever the driver raises)
        await kpis.refresh()
    assert kpis() == before


@dataclass
class Pages:
    client: TestClient[Any, Any]
    service: AcdService
    live: WorkerLiveView
    worker: Worker


@pytest.fixture
async def pages(tmp_path: Path) -> AsyncIterator[Pages]:
    config = config_for(tmp_path)
    upgrade(config.database.url)
    engine = make_engine(config.database.url)
    UserStore(engine).add("sara", PASSWORD, Role.SUPERVISOR)
    seed(engine, start_of_today(config, dt.datetime.now(dt.UTC)))
    worker = Worker(
        WorkerSettings(ari=AriSettings("http://127.0.0.1:9", "u", "p", "app"), http_port=None)
    )
    service = AcdService(config)
    app = web.Application()
    build_web(app, config, service, worker, worker.ari, engine)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        yield Pages(client, service, app[LIVE_KEY], worker)
    finally:
        await client.close()
        engine.dispose()


async def sign_in(pages: Pages, username: str) -> str:
    """Sign in; returns the session's CSRF token."""
    login = await pages.client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', await login.text())
    assert token
    signed = await pages.client.post(
        "/login",
        data={"csrf_token": token.group(1), "username": username, "password": PASSWORD},
        allow_redirects=False,
    )
    assert signed.status == 302
    page = await (await pages.client.get(signed.headers["Location"])).text()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    return csrf.group(1)


async def test_build_web_serves_the_wallboard_from_the_service(pages: Pages) -> None:
    await pages.service.login("bill1")
    await sign_in(pages, "sara")
    page = await (await pages.client.get("/wallboard")).text()
    billing = re.search(r'<tr data-queue="billing">(.*?)</tr>', page, re.S)
    assert billing
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", billing.group(1))
    assert cells[3:] == ["4", "2", "33.3%", "22.5", "33.3%"]
    bill1 = re.search(r'<tr data-agent="bill1".*?</tr>', page, re.S)
    assert bill1 and "available" in bill1.group(0)
    assert re.search(r'class="since">\d+ s<', bill1.group(0))
    assert pages.live.agent_call("bill1") is None


async def test_listen_failures_are_pages_not_json(pages: Pages) -> None:
    csrf = await sign_in(pages, "sara")
    gone = await pages.client.post(
        f"/wallboard/calls/{'0' * 32}/listen", data={"csrf_token": csrf, "mode": "listen"}
    )
    assert gone.status == 404
    assert "Cannot listen" in await gone.text()

    # A call the worker holds while ARI is unreachable: the snoop fails, nothing stays claimed.
    session = CallSession(
        ChannelSnapshot(id=ChannelId("1700000000.1"), caller_number="+15550100"),
        pages.worker.ari,
        pages.worker.router,
    )
    pages.worker.sessions[session.call_id] = session
    failed = await pages.client.post(
        f"/wallboard/calls/{session.call_id}/listen", data={"csrf_token": csrf, "mode": "barge"}
    )
    assert failed.status == 502
    text = await failed.text()
    assert "Cannot barge" in text and "not connected to ARI" in text
    assert pages.worker.router.claimed_channels == {session.caller_channel_id}
    assert not pages.live.supervisions
    await session.close()
