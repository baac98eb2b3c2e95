"""A whole call center in-process, with its web pages on loopback, and Debian's Chromium on top.

``stack``: the simulated Asterisk 22 (ARI over the wire), the Worker running the inbound flow
and its ACD service, the CDR writer on SQLite, the recorder, and the API application with the
web pages (``build_web``) on a free port. ``browser``: headless Chromium driven by Playwright
(never downloaded: /usr/bin/chromium or $CHROMIUM; missing -> skip, or fail under CI=true).

Both live for the whole module (one event loop), so Chromium starts once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from callcenter.api.app import make_api_app, serve_api
from callcenter.asterisk.events import AriEvent, ChannelEnteredBridge
from callcenter.auth.model import Role
from callcenter.cdr.writer import CdrWriter
from callcenter.config import CallCenterConfig, RecordingPolicy
from callcenter.db.engine import make_engine, upgrade
from callcenter.db.models import Call
from callcenter.db.users import UserStore
from callcenter.recording.recorder import Recorder
from callcenter.recording.storage import LocalStorage
from callcenter.routing.testing import CenterUnderTest, make_config, running_center
from callcenter.sim.pbx import EndpointBehaviour, EndpointHandle
from callcenter.web.app import WebDeps
from callcenter.web.serve import TodayKpis, build_web, start_of_today

CHROMIUM = Path(os.environ.get("CHROMIUM") or "/usr/bin/chromium")
"""Debian's chromium, or the one ``make test CHROMIUM=...`` names."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PASSWORD = "long enough secret"
SUPERVISOR_ENDPOINT = "PJSIP/2001"
USERS = {
    "bill": (Role.AGENT, "bill1"),
    "sara": (Role.SUPERVISOR, None),
    "quinn": (Role.QA, None),
}


def browser_config(tmp: Path) -> CallCenterConfig:
    """The routing tests' call center, with the web settings and a long billing wrap-up."""
    base = make_config().model_dump(mode="json", exclude_none=True)
    # PBX seconds (3 min real): the agent's wrap-up outlasts the tests.
    base["queues"]["billing"]["wrapup_seconds"] = 3600
    # Two menus deep, so the screen pop has a path to show: main -4-> invoices -2-> billing.
    base["ivr"]["menus"]["main"]["choices"]["4"] = {"menu": "invoices"}
    base["ivr"]["menus"]["invoices"] = {
        "prompts": ["sound:vm-goodbye"],
        "choices": {"2": {"queue": "billing"}},
    }
    base["web"] = {
        "session_secret": "browser-test-secret-0123456789abcdefghijk",
        "supervisor_endpoint": SUPERVISOR_ENDPOINT,
        "sign_in_attempts_per_minute": 100,
    }
    base["recordings"] = {"directory": str(tmp / "recordings")}
    base["database"] = {"url": f"sqlite:///{tmp / 'callcenter.db'}"}
    base["name"] = "Browser Test Center"
    return CallCenterConfig.model_validate(base)


@dataclass
class Stack:
    center: CenterUnderTest
    config: CallCenterConfig
    engine: Engine
    writer: CdrWriter
    recorder: Recorder
    deps: WebDeps
    base_url: str
    supervisor: EndpointHandle
    recordings: dict[str, str] = field(default_factory=dict)
    """call id -> recording name started by the test's recording glue."""

    @property
    def kpis(self) -> TodayKpis:
        kpis: TodayKpis = self.deps.extra["kpis_today"]
        return kpis


def record_talk_bridges(stack: Stack) -> None:
    """Record every caller-agent bridge (the inbound flow does not start recordings yet, see
    docs/notes/web-needs.md) and store them when Asterisk says they finished."""
    center = stack.center
    tasks: set[asyncio.Task[Any]] = set()

    async def start(call_id: str, bridge_id: str) -> None:
        agent = next((a for a in center.service.dispatcher.agents() if a.call_id == call_id), None)
        name = await stack.recorder.start_for_call(
            call_id,
            policy=RecordingPolicy(record="agent"),
            bridge_id=bridge_id,
            agent_id=agent.agent_id if agent else None,
            queue_id=agent.queue_id if agent else None,
        )
        if name:
            stack.recordings[call_id] = name

    def on_event(event: AriEvent) -> None:
        stack.recorder.on_event(event)
        if isinstance(event, ChannelEnteredBridge) and event.channel.id.startswith("agent-"):
            for session in center.worker.sessions.values():
                if event.bridge_id in session.bridges:
                    task = asyncio.create_task(start(session.call_id, event.bridge_id))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)

    center.worker.add_event_listener(on_event)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    tmp = tmp_path_factory.mktemp("browser")
    config = browser_config(tmp)
    url = config.database.url
    upgrade(url)
    engine = make_engine(url)
    users = UserStore(engine)
    for username, (role, agent_id) in USERS.items():
        users.add(username, PASSWORD, role, agent_id=agent_id)
    writer = CdrWriter(url, tmp / "spool", flush_interval_ms=10)
    await writer.start()
    runner: web.AppRunner | None = None
    try:
        async with running_center(config, tmp / "asterisk", login=[], cdr=writer) as center:
            supervisor = center.pbx.register_endpoint(
                "PJSIP", "2001", EndpointBehaviour.answer_after(0.5)
            )
            recorder = Recorder(
                center.worker.ari, LocalStorage(config.recordings.directory), writer
            )
            app = make_api_app(center.service, "browser-test-token")
            deps = build_web(app, config, center.service, center.worker, center.worker.ari, engine)
            runner, port = await serve_api(app, "127.0.0.1", 0)
            stack = Stack(
                center,
                config,
                engine,
                writer,
                recorder,
                deps,
                f"http://127.0.0.1:{port}",
                supervisor,
            )
            record_talk_bridges(stack)
            yield stack
            await runner.cleanup()
            runner = None
            await recorder.close()
    finally:
        if runner is not None:
            await runner.cleanup()
        await writer.close()
        engine.dispose()


SKIPPED_KEY = pytest.StashKey[int]()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without Chromium (outside CI), leave the browser tests out and say so once."""
    if CHROMIUM.exists() or IN_CI:
        return
    here = Path(__file__).parent
    browser = [item for item in items if here in item.path.parents]
    if browser:
        items[:] = [item for item in items if here not in item.path.parents]
        config.hook.pytest_deselected(items=browser)
        config.stash[SKIPPED_KEY] = len(browser)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    skipped = config.stash.get(SKIPPED_KEY, 0)
    if skipped:
        terminalreporter.write_line(
            f"browser tests skipped ({skipped}): {CHROMIUM} is missing "
            "(Debian: apt-get install chromium; elsewhere: make test CHROMIUM=/path/to/chromium)"
        )


CallRow = tuple[str | None, str, str | None, float | None]
"""(queue, disposition, agent, wait seconds) of a call seeded for today."""


def seed_today(stack: Stack, rows: list[CallRow], *, talk: float, numbers: str) -> None:
    """Calls spread over today so far (the call center's day): answered ones talked ``talk``
    seconds; callers are ``numbers`` followed by the row's index."""
    now = dt.datetime.now(dt.UTC)
    since = start_of_today(stack.config, now)
    with Session(stack.engine) as db:
        for n, (queue, disposition, agent, wait) in enumerate(rows):
            started = since + (now - since) * (n + 1) / (len(rows) + 2)
            db.add(
                Call(
                    call_id=uuid.uuid4().hex,
                    caller_number=f"{numbers}{n}",
                    started_at=started,
                    updated_at=started,
                    queue_id=queue,
                    agent_id=agent,
                    disposition=disposition,
                    wait_seconds=wait,
                    talk_seconds=talk if agent else None,
                    ivr_path=[],
                    digits=[],
                )
            )
        db.commit()


def chromium_or_skip() -> None:
    """Debian's Chromium must be there: skip without it, but fail under CI=true."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (Debian: apt-get install chromium; else CHROMIUM=path)"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: this must not skip)")
        pytest.skip(reason)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    chromium_or_skip()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@contextlib.asynccontextmanager
async def signed_in(
    browser: Browser, stack: Stack, username: str, size: tuple[int, int] = (1200, 800)
) -> AsyncIterator[Page]:
    """A fresh browser context (its own cookies) of ``size`` pixels, signed in as
    ``username``."""
    context: BrowserContext = await browser.new_context(
        base_url=stack.base_url, viewport={"width": size[0], "height": size[1]}
    )
    context.set_default_timeout(10_000)
    try:
        page = await context.new_page()
        await page.goto("/login")
        await page.fill("input[name=username]", username)
        await page.fill("input[name=password]", PASSWORD)
        async with page.expect_navigation():
            await page.click("button[type=submit]")
        yield page
    finally:
        await context.close()


async def play_audio(page: Page, element_id: str) -> dict[str, Any]:
    """Load and play the page's ``<audio id=element_id>`` until it has played a moment; its
    duration, error code (None) and how far it played."""
    result: dict[str, Any] = await page.evaluate(
        """async (id) => {
            const audio = document.getElementById(id);
            if (audio.readyState < 1) {
                await new Promise((ok, fail) => {
                    audio.addEventListener("loadedmetadata", ok, {once: true});
                    audio.addEventListener("error", fail, {once: true});
                    audio.load();
                });
            }
            audio.muted = true;  // autoplay without a user gesture is allowed when muted
            await audio.play();
            await new Promise((ok) => {
                const check = () => audio.currentTime > 0 ? ok() : setTimeout(check, 20);
                check();
            });
            audio.pause();
            return {duration: audio.duration, error: audio.error && audio.error.code,
                    played: audio.currentTime};
        }""",
        element_id,
    )
    return result
