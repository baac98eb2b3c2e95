"""The three pages in real headless Chromium over a whole simulated call center.

One call goes all the way: the agent signs in and goes available; a caller goes two menus
deep in the IVR; the agent's screen pops with the IVR path; the supervisor sees the call on
the wallboard and listens (a snoop on the caller, bridged with the supervisor's phone); the call
ends; the agent saves a disposition; QA finds the recording and plays it. Screenshots of the
pages go to test-output/screenshots/.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
import zoneinfo
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from playwright.async_api import Browser, Page
from sqlalchemy.orm import Session

from callcenter.cdr.report import build_report
from callcenter.cli import main
from callcenter.db.models import Call

from .conftest import SCREENSHOTS, CallRow, Stack, play_audio, seed_today, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="module")

CALLER = "+15550199"


async def wait_for_text(page: Page, selector: str, text: str) -> None:
    await page.wait_for_function(
        "([sel, text]) => (document.querySelector(sel)?.textContent || '').includes(text)",
        arg=[selector, text],
    )


async def test_a_call_from_screen_pop_to_recording(browser: Browser, stack: Stack) -> None:
    center = stack.center
    async with signed_in(browser, stack, "bill") as agent:
        assert agent.url.endswith("/agent")
        assert await agent.text_content("#agent-state") == "Logged out"
        async with agent.expect_navigation():
            await agent.click("#go-available")
        assert await agent.text_content("#agent-state") == "Available"
        assert center.agent_state("bill1") == "available"
        # Dana called before: the pop will show it, dated in the call center's time zone.
        earlier = seed_earlier_call(stack, CALLER)

        # A caller picks 4 (invoices) then 2 (billing) in the IVR; bill1's phone answers.
        caller = center.pbx.place_inbound_call("100", CALLER, caller_name="Dana")
        await caller.wait_for("playback_started", timeout=5)
        caller.send_dtmf("4")
        await caller.wait_for(
            "playback_started", timeout=5, predicate=lambda e: e.detail == "sound:vm-goodbye"
        )
        caller.send_dtmf("2")
        await caller.wait_for("bridged", timeout=5)
        call_id = next(iter(center.worker.sessions))

        # The screen pop arrives over Server-Sent Events, without a reload.
        await agent.wait_for_selector("#screen-pop", state="visible")
        await wait_for_text(agent, "#pop-caller", CALLER)
        assert await agent.text_content("#pop-queue") == "Billing"
        assert await agent.text_content("#pop-path") == "main → invoices"
        assert await agent.text_content("#pop-digits") == "4 2"
        await wait_for_text(agent, "#agent-state", "On call")
        # The caller's previous call, loaded when the call popped up (not at page load).
        await wait_for_text(agent, "#history", earlier)
        assert "talked 95 s" in (await agent.text_content("#history") or "")
        await wait_for_text(agent, "#pop-talk", "0:")
        await agent.screenshot(path=str(SCREENSHOTS / "agent-desktop.png"), full_page=True)

        async with signed_in(browser, stack, "sara") as supervisor:
            assert supervisor.url.endswith("/wallboard")
            row = supervisor.locator('tr[data-agent="bill1"]')
            call_cell = await row.locator(".call").text_content() or ""
            # Caller, queue and talk time; never the internal 32-hex call id.
            assert CALLER in call_cell and "Billing" in call_cell and call_id not in call_cell
            assert await row.locator(".state").text_content() == "On call"
            await supervisor.screenshot(path=str(SCREENSHOTS / "wallboard.png"), full_page=True)
            async with supervisor.expect_navigation():
                await row.locator("button.listen").click()
            assert await supervisor.text_content("#listening") == "Listen started"

            # The supervisor's phone rings, answers and hears a snoop on the caller.
            phone = await stack.supervisor.next_call()
            await phone.wait_for("bridged", timeout=5)
            assert phone.answered
            (snoop_id,) = phone.bridged_with
            assert center.pbx.channels[snoop_id].name.startswith(f"Snoop/{caller.channel_id}-")

            caller.hangup()
            await phone.wait_for("hangup", timeout=5)
            await center.settle()

        # Wrap-up: the pop stays; the disposition lands on the call record.
        name = stack.recordings[call_id]
        assert await stack.recorder.wait_stored(name, within=10) is not None
        await stack.writer.flush()
        await wait_for_text(agent, "#agent-state", "Wrap-up")
        # The wrap-up counts down (PBX seconds: 3600 s of billing's wrap-up at x20).
        await agent.wait_for_selector("#wrapup", state="visible")
        first = await countdown(agent)
        await agent.wait_for_function(
            "(first) => { const t = document.getElementById('wrapup-left').textContent;"
            " const [m, s] = t.split(':').map(Number); return m * 60 + s < first; }",
            arg=first,
        )
        assert 0 < first <= 3600
        await agent.screenshot(path=str(SCREENSHOTS / "agent-desktop-wrapup.png"), full_page=True)
        await agent.select_option("#disposition", "follow-up")
        await agent.fill("textarea[name=notes]", "wants a copy of the invoice")
        async with agent.expect_navigation():
            await agent.click("#save-disposition")
        assert "saved=1" in agent.url
    with Session(stack.engine) as db:
        call = db.get(Call, call_id)
        assert call is not None
        assert (call.agent_id, call.agent_disposition, call.notes) == (
            "bill1",
            "follow-up",
            "wants a copy of the invoice",
        )
        assert call.disposition == "answered"

    async with signed_in(browser, stack, "quinn") as qa:
        assert qa.url.endswith("/qa")
        await qa.fill("input[name=caller]", CALLER)
        async with qa.expect_navigation():
            await qa.click("#search")
        async with qa.expect_navigation():
            await qa.click(f'#calls a[href="/calls/{call_id}"]')
        assert await qa.text_content("#ivr-path") == "main → invoices"
        audio = await play_audio(qa, "recording")
        assert audio["error"] is None
        assert audio["duration"] > 0 and audio["played"] > 0
        await qa.screenshot(path=str(SCREENSHOTS / "qa-call.png"), full_page=True)


async def countdown(page: Page) -> int:
    """The wrap-up time left the desktop shows, in seconds."""
    text = (await page.text_content("#wrapup-left") or "").strip()
    parts = [int(p) for p in text.split(":")]
    return parts[-1] + 60 * parts[-2] + (3600 * parts[-3] if len(parts) == 3 else 0)


def seed_earlier_call(stack: Stack, caller: str) -> str:
    """A call from ``caller`` two days ago; returns its date as the desktop shows it (the
    call center's time zone)."""
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=2)
    with Session(stack.engine) as db:
        db.add(
            Call(
                call_id=uuid.uuid4().hex,
                caller_number=caller,
                started_at=started,
                updated_at=started,
                queue_id="billing",
                agent_id="bill2",
                disposition="answered",
                agent_disposition="follow-up",
                wait_seconds=12.0,
                talk_seconds=95.0,
                ivr_path=[],
                digits=[],
            )
        )
        db.commit()
    zone = zoneinfo.ZoneInfo(stack.config.timezone)
    return started.astimezone(zone).strftime("%a %d %b %H:%M %Z")


async def test_pages_refuse_users_without_the_role(browser: Browser, stack: Stack) -> None:
    async with signed_in(browser, stack, "bill") as agent:
        for path in ("/wallboard", "/qa"):
            response = await agent.goto(path)
            assert response is not None and response.status == 403
            assert await agent.text_content("h1") == "Not allowed"
    async with signed_in(browser, stack, "quinn") as qa:
        response = await qa.goto("/wallboard")
        assert response is not None and response.status == 403
        response = await qa.goto("/agent")
        assert response is not None and response.status == 403


def seed_calls(stack: Stack) -> None:
    """Today's calls in both queues: answered fast and slow, abandoned short and long, an
    overflow and an IVR-only call (not offered)."""
    rows: list[CallRow] = [
        ("billing", "answered", "bill1", 4.0),
        ("billing", "answered", "bill2", 35.0),
        ("billing", "answered", "bill1", 12.5),
        ("billing", "abandoned_queue", None, 2.0),
        ("billing", "abandoned_queue", None, 48.0),
        ("sales", "answered", "sale1", 9.0),
        ("sales", "overflowed", None, 120.0),
        ("sales", "abandoned_queue", None, 30.0),
        (None, "abandoned_ivr", None, None),
    ]
    seed_today(stack, rows, talk=60.0, numbers="+1555010")


def shown(value: float | int | None, unit: str = "") -> str:
    """How the wallboard (like `callcenter report`) prints a number."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}{unit}"
    return str(value)


def cli_report(stack: Stack, since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    """``callcenter report --by queue --json`` for [since, until), as a person would run it."""
    config_file = Path(stack.config.recordings.directory).parent / "callcenter.yaml"
    config_file.write_text(yaml.safe_dump(stack.config.model_dump(mode="json", exclude_none=True)))
    period = ["--since", since.isoformat(), "--until", until.isoformat()]
    result = CliRunner().invoke(
        main, ["report", "-c", str(config_file), *period, "--by", "queue", "--json"]
    )
    assert result.exit_code == 0, result.output
    return {row["group"]: row for row in json.loads(result.output)["rows"]}


KPI_CLASSES = ("offered", "answered", "service-level", "asa", "abandon-rate")


async def kpi_cells(page: Page, queue_id: str) -> list[str]:
    tile = page.locator(f'[data-queue="{queue_id}"]')
    return [(await tile.locator(f".{name}").text_content() or "").strip() for name in KPI_CLASSES]


async def test_wallboard_kpis_match_the_report(browser: Browser, stack: Stack) -> None:
    async with signed_in(browser, stack, "sara") as supervisor:
        # The page is open before the calls land: the numbers change over SSE (live.js)...
        seed_calls(stack)
        await stack.kpis.refresh()
        since, until = stack.kpis.period()
        report = {
            row.group: row.as_dict()
            for row in build_report(stack.config.database.url, stack.config, "queue", since, until)
        }
        assert set(report) == {"billing", "sales"}
        assert cli_report(stack, since, until) == report
        expected = {
            queue_id: [
                shown(row["offered"]),
                shown(row["answered"]),
                shown(row["service_level"], "%"),
                shown(row["asa_seconds"]),
                shown(row["abandon_rate"], "%"),
            ]
            for queue_id, row in report.items()
        }
        for queue_id, texts in expected.items():
            await supervisor.wait_for_function(
                "([sel, text]) => document.querySelector(sel)?.textContent.trim() === text",
                arg=[f'[data-queue="{queue_id}"] .offered', texts[0]],
            )
            assert await kpi_cells(supervisor, queue_id) == texts, queue_id
        # ... and the page rendered by the server shows the same.
        await supervisor.reload()
        for queue_id, texts in expected.items():
            assert await kpi_cells(supervisor, queue_id) == texts, queue_id
        await supervisor.screenshot(path=str(SCREENSHOTS / "wallboard-kpis.png"), full_page=True)
