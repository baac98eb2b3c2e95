"""The voicemail inbox in real headless Chromium, over a whole simulated call center.

A caller reaches the billing queue while it is closed, leaves a message and hangs up (its
RecordingFinished comes after the caller's StasisEnd); the recorder stores it, the signed
``voicemail`` webhook fires; an agent of billing finds it in the inbox, plays it in the
browser, asks for a call back and marks it handled with a note; an agent of sales gets 403.
Screenshots go to test-output/screenshots/.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from playwright.async_api import Browser
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from callcenter.api.app import make_api_app, serve_api
from callcenter.auth.model import Role
from callcenter.cdr.writer import CdrWriter
from callcenter.config import CallCenterConfig, WebhookSettings
from callcenter.db.engine import make_engine, upgrade
from callcenter.db.models import CallbackRequest, VoicemailMessage
from callcenter.db.users import UserStore
from callcenter.hooks import Hooks
from callcenter.hooks.testing import WebhookReceiver, webhook_receiver
from callcenter.hooks.webhooks import WebhookSender
from callcenter.routing.testing import CenterUnderTest, running_center
from callcenter.voicemail.service import VoicemailService
from callcenter.web.serve import build_web

from .conftest import PASSWORD, SCREENSHOTS, browser_config, play_audio, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="module")

CALLER = "+15550142"
SECRET = "browser-voicemail-hook-secret"
USERS = {
    "bill": (Role.AGENT, "bill1"),
    "sally": (Role.AGENT, "sale1"),
    "sara": (Role.SUPERVISOR, None),
}


@dataclass
class VoicemailStack:
    center: CenterUnderTest
    config: CallCenterConfig
    engine: Engine
    writer: CdrWriter
    base_url: str
    hooks_received: WebhookReceiver


def closed_billing_config(tmp: Path) -> CallCenterConfig:
    raw = browser_config(tmp).model_dump(mode="json", exclude_none=True)
    raw["business_hours"] = {"never": {"weekly": {}}}
    raw["queues"]["billing"].update(hours="never", closed={"voicemail": "billing"})
    raw["voicemail"] = {
        "billing": {"name": "Billing voicemail", "queue": "billing"},
        "sales": {"name": "Sales voicemail", "queue": "sales"},
    }
    return CallCenterConfig.model_validate(raw)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with webhook_receiver(SECRET) as found:
        yield found


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def vm_stack(
    tmp_path_factory: pytest.TempPathFactory, receiver: WebhookReceiver
) -> AsyncIterator[VoicemailStack]:
    tmp = tmp_path_factory.mktemp("voicemail-browser")
    config = closed_billing_config(tmp)
    upgrade(config.database.url)
    engine = make_engine(config.database.url)
    users = UserStore(engine)
    for username, (role, agent_id) in USERS.items():
        users.add(username, PASSWORD, role, agent_id=agent_id)
    webhook = WebhookSettings(
        url=receiver.url, secret=SECRET, events=["voicemail"], allow_private_network=True
    )
    hooks = Hooks(WebhookSender([webhook], tmp / "webhooks", backoff_initial=0.05))
    await hooks.start()
    writer = CdrWriter(config.database.url, tmp / "spool", flush_interval_ms=10)
    await writer.start()
    voicemail = VoicemailService(config, cdr=writer, hooks=hooks)
    runner: web.AppRunner | None = None
    try:
        async with running_center(
            config,
            tmp / "asterisk",
            login=[],
            cdr=writer,
            record_calls=True,
            voicemail=voicemail,
        ) as center:
            app = make_api_app(center.service, "browser-voicemail-token")
            build_web(app, config, center.service, center.worker, center.worker.ari, engine)
            runner, port = await serve_api(app, "127.0.0.1", 0)
            base_url = f"http://127.0.0.1:{port}"
            yield VoicemailStack(center, config, engine, writer, base_url, receiver)
            await center.settle()
    finally:
        if runner is not None:
            await runner.cleanup()
        await hooks.close()
        await writer.close()
        engine.dispose()


async def wait_for_message(stack: VoicemailStack) -> VoicemailMessage:
    async with asyncio.timeout(15):
        while True:
            await stack.writer.flush()
            with Session(stack.engine) as db:
                found = db.scalars(select(VoicemailMessage)).first()
                if found is not None:
                    return found
            await asyncio.sleep(0.05)


async def test_agent_of_the_queue_plays_and_handles_a_message(
    browser: Browser, vm_stack: VoicemailStack
) -> None:
    center = vm_stack.center
    caller = center.pbx.place_inbound_call("100", CALLER, caller_name="Dana")
    await caller.wait_for("playback_started", timeout=5)
    caller.send_dtmf("1")  # billing: closed
    await caller.wait_for(
        "playback_started", timeout=5, predicate=lambda e: e.detail == "sound:vm-intro"
    )
    caller.fall_silent()
    await center.wait_until(lambda: bool(center.pbx.live_recordings))
    caller.speak(5.0)
    await asyncio.sleep(5.0 / center.pbx.speed + 0.05)
    caller.hangup()
    stored = await wait_for_message(vm_stack)
    name = stored.recording_name
    assert (stored.mailbox, stored.caller_number, stored.empty) == ("billing", CALLER, False)
    [hook] = await vm_stack.hooks_received.wait_for(1)
    assert (hook["event"], hook["data"]["message"]) == ("voicemail", name)

    # An agent of billing: the inbox, the message, the player.
    async with signed_in(browser, vm_stack, "bill") as agent:  # type: ignore[arg-type]
        await agent.goto("/voicemail")
        row = agent.locator(f'#messages tr[data-message="{name}"]')
        assert CALLER in (await row.locator(".caller").text_content() or "")
        await agent.screenshot(path=str(SCREENSHOTS / "voicemail-inbox.png"), full_page=True)
        async with agent.expect_navigation():
            await row.locator("a").click()
        assert await agent.text_content("#vm-caller") == CALLER
        assert await agent.text_content("#vm-box") == "Billing voicemail"
        audio = await play_audio(agent, "vm-audio")
        assert audio["error"] is None and audio["played"] > 0
        assert audio["duration"] == pytest.approx(stored.duration_seconds, abs=0.1)
        await agent.screenshot(path=str(SCREENSHOTS / "voicemail-message.png"), full_page=True)

        # Call back, then mark handled with a note.
        await agent.fill("#vm-callback-form textarea[name=note]", "before 5pm please")
        async with agent.expect_navigation():
            await agent.click("#vm-callback")
        assert "Call back requested" in (await agent.text_content("#vm-done") or "")
        await agent.fill("#vm-note-input", "Called back: invoice re-sent")
        async with agent.expect_navigation():
            await agent.click("#vm-handle")
        assert (await agent.text_content("#vm-status") or "").startswith("handled")
        assert await agent.text_content("#vm-note") == "Called back: invoice re-sent"
        assert await agent.locator("#vm-handle").count() == 0
        await agent.screenshot(path=str(SCREENSHOTS / "voicemail-handled.png"), full_page=True)

    with Session(vm_stack.engine) as db:
        message = db.get(VoicemailMessage, name)
        assert message is not None
        assert (message.status, message.handled_by) == ("handled", "bill")
        [callback] = db.scalars(select(CallbackRequest)).all()
        assert (callback.number, callback.status, callback.voicemail) == (CALLER, "pending", name)

    # An agent of another queue (sales): 403 on the message and its audio.
    async with signed_in(browser, vm_stack, "sally") as other:  # type: ignore[arg-type]
        response = await other.goto(f"/voicemail/{name}")
        assert response is not None and response.status == 403
        assert "belongs to another queue" in (await other.text_content("main") or "")
        response = await other.goto(f"/voicemail/{name}/audio")
        assert response is not None and response.status == 403
        await other.goto("/voicemail")
        assert await other.locator(f'tr[data-message="{name}"]').count() == 0

    # The supervisor sees it among the handled ones.
    async with signed_in(browser, vm_stack, "sara") as supervisor:  # type: ignore[arg-type]
        await supervisor.goto("/voicemail?status=handled")
        assert await supervisor.locator(f'tr[data-message="{name}"]').count() == 1
