"""A busy wallboard in real Chromium, as a supervisor reads it on a 1920x1080 TV and on a
1280x800 laptop, and worked from the keyboard alone.

Sales has nine callers waiting past its 20 s target with both its agents talking; billing has
a priority caller, its agents in wrap-up and at lunch; today's KPIs and the last hour's samples
make the charts. Screenshots: test-output/screenshots/wallboard-busy-*.png.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page

from callcenter.sim.pbx import SimCall
from callcenter.web.wallboard import WallboardHistory

from .conftest import SCREENSHOTS, CallRow, Stack, seed_today, signed_in

pytestmark = pytest.mark.asyncio(loop_scope="module")

HEX_ID = r"/[0-9a-f]{32}/"


async def call_into(stack: Stack, number: str, digit: str) -> SimCall:
    caller = stack.center.pbx.place_inbound_call("100", number)
    await caller.wait_for("playback_started", timeout=10)
    caller.send_dtmf(digit)
    return caller


def seed_the_day(stack: Stack) -> None:
    """Today so far: sales answered slowly (service level well under 80%), billing fine."""
    rows: list[CallRow] = [("sales", "answered", "sale1", w) for w in (5.0, 35.0, 48.0, 12.0, 61.0)]
    rows += [("sales", "abandoned_queue", None, 90.0), ("billing", "answered", "bill1", 8.0)]
    seed_today(stack, rows, talk=120.0, numbers="+1555090")


def seed_last_hour(stack: Stack) -> None:
    """The hour before now: sales' queue builds up and its service level slides."""
    history: WallboardHistory = stack.deps.extra["wallboard_history"]
    now = stack.center.service.now()
    for n in range(119):
        at = now - 3570 + 30 * n
        history.record(
            at,
            {
                "sales": (min(9, n // 12), 95.0 - n * 0.3),
                "billing": (1 if n % 17 == 0 else 0, 100.0),
            },
        )


async def no_horizontal_scroll(page: Page) -> bool:
    return bool(await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


async def test_a_busy_wallboard_reads_at_a_glance(browser: Browser, stack: Stack) -> None:
    center, service = stack.center, stack.center.service
    for agent_id in ("sale1", "both1", "bill1", "bill2"):
        await service.login(agent_id)
    await service.pause("bill2", "lunch")
    callers: list[SimCall] = []
    try:
        for n in (1, 2):  # sales' two agents talking
            callers.append(await call_into(stack, f"+1555030{n}", "2"))
            await callers[-1].wait_for("bridged", timeout=10)
        done = await call_into(stack, "+15550303", "1")  # bill1 talks, then wraps up
        await done.wait_for("bridged", timeout=10)
        done.hangup()
        await center.wait_until(lambda: center.agent_state("bill1") == "wrapup", within=10)
        for n in range(9):  # nine callers wait in sales
            callers.append(await call_into(stack, f"+1555040{n}", "2"))
        callers.append(await call_into(stack, "+15550499", "9"))  # billing, priority 10
        seed_the_day(stack)
        seed_last_hour(stack)
        await stack.kpis.refresh()

        def sales() -> dict:  # type: ignore[type-arg]
            return next(q for q in service.status()["queues"] if q["id"] == "sales")

        await center.wait_until(
            lambda: sales()["waiting"] == 9 and sales()["longest_wait_seconds"] >= 76, within=30
        )

        async with signed_in(browser, stack, "sara", size=(1920, 1080)) as tv:
            await tv.wait_for_function(
                "document.querySelectorAll('[data-queue=sales] .callers li').length >= 8"
            )
            tile = tv.locator('[data-queue="sales"]')
            assert await tile.get_attribute("data-level") == "alert"
            assert await tile.locator(".level").text_content() == "Missing target"
            assert await tile.locator(".waiting").text_content() == "9"
            longest = await tile.locator(".longest").text_content() or ""
            assert longest.startswith(("1:", "2:")), longest  # past a minute, as m:ss
            first = tile.locator(".callers li").first
            assert "+15550400" in (await first.text_content() or "")
            assert "late" in (await first.get_attribute("class") or "")
            assert await tile.locator(".more").text_content() == "and 1 more waiting"
            assert await tile.locator("svg.chart rect").count() >= 50
            assert await tile.locator("svg.chart polyline").count() == 1
            billing = tv.locator('[data-queue="billing"]')
            assert "P10" in (await billing.locator(".callers").text_content() or "")

            for agent_id in ("sale1", "both1"):
                row = tv.locator(f'tr[data-agent="{agent_id}"]')
                assert await row.locator(".state").text_content() == "On call"
                call = await row.locator(".call").text_content() or ""
                assert "+1555030" in call and "Sales" in call, call
                assert await row.locator(".call .talk").text_content() != ""
            bill1 = tv.locator('tr[data-agent="bill1"]')
            assert await bill1.locator(".state").text_content() == "Wrap-up"
            # Their caller is gone, but the wrap-up still says who it was.
            assert await bill1.locator(".call .caller").text_content() == "+15550303"
            assert "left" in (await bill1.locator(".wrapup-left").text_content() or "")
            assert await tv.locator('tr[data-agent="bill2"] .state').text_content() == (
                "Paused (lunch)"
            )
            # Read across a room: no internal ids, big figures, all on one screen.
            assert not await tv.evaluate(f"{HEX_ID}.test(document.body.innerText)")
            big = await tv.evaluate(
                "parseFloat(getComputedStyle(document.querySelector('.figures .big')).fontSize)"
            )
            assert big >= 40, big
            assert await no_horizontal_scroll(tv)
            assert await tv.evaluate("document.documentElement.scrollHeight <= window.innerHeight")
            await tv.screenshot(path=str(SCREENSHOTS / "wallboard-busy-1920x1080.png"))

        async with signed_in(browser, stack, "sara", size=(1280, 800)) as laptop:
            await laptop.wait_for_function(
                "document.querySelectorAll('[data-queue=sales] .callers li').length >= 8"
            )
            assert await no_horizontal_scroll(laptop)
            await laptop.screenshot(
                path=str(SCREENSHOTS / "wallboard-busy-1280x800.png"), full_page=True
            )

            # The keyboard alone reaches Listen on a talking agent's row and starts it.
            talking = "Listen to Sale One's call"
            for _ in range(80):
                await laptop.keyboard.press("Tab")
                label = await laptop.evaluate("document.activeElement.getAttribute('aria-label')")
                if label == talking:
                    break
            else:
                raise AssertionError("Tab never reached the Listen button")
            # The focus is visible (an outline), and survives the live updates.
            outline = await laptop.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none"
            await laptop.wait_for_timeout(1500)  # a live update or two
            assert (
                await laptop.evaluate("document.activeElement.getAttribute('aria-label')")
                == talking
            )
            async with laptop.expect_navigation():
                await laptop.keyboard.press("Enter")
            assert await laptop.text_content("#listening") == "Listen started"
    finally:
        for caller in callers:
            if not caller.ended:
                caller.hangup()
        await center.settle()
