"""Sessions the server can end, live streams that end with them, sign-in that tells nobody
which users exist, one-time TOTP codes, and a sign-in limit that counts failures only.

Over HTTP on loopback with a real SQLite database (see conftest.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pyotp
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from callcenter.web.security import SESSION_COOKIE, EventStreams, SignInRateLimit, TrustedProxies

from .conftest import PASSWORD, Site
from .test_web_security import csrf_of, sign_in

STREAM_TIMEOUT = 15.0
"""Generous: the streams tick once a second; a busy machine is slow."""


def cookie_of(client: TestClient[Any, Any]) -> str:
    for cookie in client.session.cookie_jar:
        if cookie.key == SESSION_COOKIE:
            return cookie.value
    raise AssertionError("not signed in")


def use_cookie(client: TestClient[Any, Any], value: str) -> None:
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: value})


async def opens_everything(site: Site, csrf: str) -> bool:
    """Whether the current cookie still opens the desktop, posts a state and lists calls."""
    page = await site.client.get("/agent", allow_redirects=False)
    post = await site.client.post(
        "/agent/state", data={"action": "pause", "csrf_token": csrf}, allow_redirects=False
    )
    calls = await site.client.get("/my-calls", allow_redirects=False)
    statuses = (page.status, post.status, calls.status)
    if statuses == (200, 302, 200):
        return True
    assert statuses == (302, 401, 302), statuses  # back to the sign-in page
    assert page.headers["Location"].startswith("/login")
    return False


async def signed_in_copy(site: Site) -> tuple[str, str]:
    """Sign alice in; her cookie and CSRF token, as an attacker could have copied them."""
    await sign_in(site.client, "alice")
    page = await site.client.get("/agent")
    return cookie_of(site.client), csrf_of(await page.text())


async def test_a_copied_cookie_stops_working_after_sign_out(site: Site) -> None:
    cookie, csrf = await signed_in_copy(site)
    assert await opens_everything(site, csrf)
    response = await site.client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert response.status == 302
    use_cookie(site.client, cookie)
    assert not await opens_everything(site, csrf)


async def test_password_change_disabling_and_sign_out_everywhere_end_sessions(
    site: Site,
) -> None:
    for end in (
        lambda: site.users.set_password("alice", "another long password"),
        lambda: site.users.set_disabled("alice", True),
        lambda: site.users.sign_out_everywhere("alice"),
    ):
        site.users.set_disabled("alice", False)
        site.users.set_password("alice", PASSWORD)
        cookie, csrf = await signed_in_copy(site)
        assert await opens_everything(site, csrf)
        end()
        use_cookie(site.client, cookie)
        assert not await opens_everything(site, csrf)


async def test_a_session_in_another_browser_is_untouched_by_sign_out(site: Site) -> None:
    other = TestClient(TestServer(site.client.app))
    await other.start_server()
    try:
        await sign_in(other, "alice")
        _, csrf = await signed_in_copy(site)
        await site.client.post("/logout", data={"csrf_token": csrf})
        assert (await other.get("/agent", allow_redirects=False)).status == 200
    finally:
        await other.close()


# --- live streams --------------------------------------------------------------------------------


async def read_events(response: ClientResponse) -> list[str]:
    """Every event of a stream until the server ends it (fails after STREAM_TIMEOUT)."""
    events: list[str] = []
    async with asyncio.timeout(STREAM_TIMEOUT):
        async for raw in response.content:
            line = raw.decode().strip()
            if line.startswith(("data:", "event:")):
                events.append(line)
    return events


async def stream_ends_after(site: Site, action: Callable[[], object]) -> list[str]:
    await sign_in(site.client, "alice")
    async with site.client.get("/agent/events") as stream:
        assert stream.status == 200
        first = b""
        while not first.startswith(b"data:"):
            first = await stream.content.readline()
        action()
        return await read_events(stream)


async def test_a_stream_ends_when_the_session_is_ended(site: Site) -> None:
    events = await stream_ends_after(site, lambda: site.users.sign_out_everywhere("alice"))
    assert events[-2:] == ["event: signed-out", "data: {}"]


async def test_a_stream_ends_when_the_cookie_expires(site: Site) -> None:
    def two_hours_later() -> None:
        site.deps.clock = lambda: time.time() + 7200  # the session lives 3600 s

    events = await stream_ends_after(site, two_hours_later)
    assert events[-2:] == ["event: signed-out", "data: {}"]


async def test_a_stream_lives_a_bounded_time(site: Site) -> None:
    site.deps.streams = EventStreams(max_seconds=1.5)
    started = time.monotonic()
    events = await stream_ends_after(site, lambda: None)
    assert time.monotonic() - started < STREAM_TIMEOUT
    assert "event: signed-out" not in events  # it ended: the browser reconnects


async def test_streams_are_capped_per_session_and_in_total(site: Site) -> None:
    site.deps.streams = EventStreams(per_session=3, total=4)
    await sign_in(site.client, "alice")
    streams = [await site.client.get("/agent/events") for _ in range(3)]
    assert [s.status for s in streams] == [200, 200, 200]
    refused = await site.client.get("/agent/events")
    assert refused.status == 429
    assert "too many live streams" in await refused.text()
    other = TestClient(TestServer(site.client.app))
    await other.start_server()
    try:
        await sign_in(other, "sara")
        assert (await other.get("/wallboard/events")).status == 200  # the 4th in all
        over = await other.get("/wallboard/events")
        assert over.status == 429
        streams[0].close()
        for _ in range(int(STREAM_TIMEOUT * 10)):  # the server notices the closed stream
            again = await other.get("/wallboard/events")
            if again.status == 200:
                again.close()
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("a closed stream was never released")
    finally:
        for stream in streams:
            stream.close()
        await other.close()


# --- enumeration, TOTP, rate limit --------------------------------------------------------------


async def test_lockout_reads_the_same_for_real_and_unknown_users(site: Site) -> None:
    pages = {}
    for username in ("bob", "nobody-at-all"):
        for _ in range(4):
            response = await sign_in(site.client, username, "wrong wrong wrong")
            assert response.status == 401
        last = await sign_in(site.client, username, PASSWORD)
        assert last.status == 401
        text = await last.text()
        pages[username] = text.replace(username, "NAME")  # the form keeps the typed name
    assert pages["bob"] == pages["nobody-at-all"]


async def test_a_totp_code_signs_in_once(site: Site) -> None:
    secret = pyotp.random_base32()
    site.users.set_totp("quinn", secret)
    code = pyotp.TOTP(secret).now()
    assert (await sign_in(site.client, "quinn", totp=code)).status == 302
    site.client.session.cookie_jar.clear()
    replay = await sign_in(site.client, "quinn", totp=code)
    assert replay.status == 401
    assert SESSION_COOKIE not in replay.cookies
    assert "already used" in await replay.text()


async def test_successful_sign_ins_are_not_rate_limited(site: Site) -> None:
    """A whole office behind one address signs in at shift start."""
    site.deps.rate_limit = SignInRateLimit(per_minute=3)
    for _ in range(3):
        for user in ("alice", "bob", "quinn", "sara"):
            response = await sign_in(site.client, user)
            assert response.status == 302, user
            site.client.session.cookie_jar.clear()


async def test_failures_are_limited_per_address_and_user_name(site: Site) -> None:
    site.deps.rate_limit = SignInRateLimit(per_minute=2)
    for _ in range(2):
        assert (await sign_in(site.client, "alice", "wrong wrong wrong")).status == 401
    assert (await sign_in(site.client, "alice")).status == 429
    assert (await sign_in(site.client, "bob")).status == 302  # a colleague on the same NAT


async def test_forwarded_for_counts_only_from_trusted_proxies(site: Site) -> None:
    site.deps.rate_limit = SignInRateLimit(per_minute=2)

    async def attempt(
        client_ip: str, password: str = "wrong wrong wrong", user: str = "bob"
    ) -> int:
        site.client.session.cookie_jar.clear()
        token_page = await site.client.get("/login")
        response = await site.client.post(
            "/login",
            data={
                "csrf_token": csrf_of(await token_page.text()),
                "username": user,
                "password": password,
            },
            headers={"X-Forwarded-For": client_ip},
            allow_redirects=False,
        )
        return response.status

    # Not behind a trusted proxy: a client cannot escape the limit by writing the header.
    assert [await attempt(f"198.51.100.{n}") for n in range(3)] == [401, 401, 429]
    # Behind our proxy (the test client's 127.0.0.1): each office address has its own count.
    site.deps.rate_limit = SignInRateLimit(per_minute=2)
    site.deps.proxies = TrustedProxies(["127.0.0.1/32"])
    assert [await attempt("203.0.113.7", user="alice") for _ in range(2)] == [401, 401]
    assert await attempt("203.0.113.7", PASSWORD, "alice") == 429
    assert await attempt("203.0.113.8", PASSWORD, "alice") == 302


def test_the_client_address_behind_trusted_proxies() -> None:
    proxies = TrustedProxies(["10.0.0.0/24", "fd00::/8"])
    assert proxies.client_address("10.0.0.5", ["198.51.100.1"]) == "198.51.100.1"
    # Only the hops our proxies appended are believed: the client wrote the first one.
    assert proxies.client_address("10.0.0.5", ["1.2.3.4, 198.51.100.1, 10.0.0.9"]) == (
        "198.51.100.1"
    )
    assert proxies.client_address("10.0.0.5", ["1.2.3.4", "198.51.100.2"]) == "198.51.100.2"
    assert proxies.client_address("198.51.100.3", ["1.2.3.4"]) == "198.51.100.3"
    assert proxies.client_address("10.0.0.5", []) == "10.0.0.5"
    assert proxies.client_address("10.0.0.5", ["not-an-ip"]) == "10.0.0.5"
    assert proxies.client_address("fd00::1", ["2001:db8::7"]) == "2001:db8::7"
    assert TrustedProxies().client_address("10.0.0.5", ["1.2.3.4"]) == "10.0.0.5"


async def test_an_unreadable_session_table_ends_streams_and_answers_503(site: Site) -> None:
    def break_the_table() -> None:
        with site.users.engine.begin() as conn:
            conn.execute(text("ALTER TABLE web_sessions RENAME TO web_sessions_away"))

    events = await stream_ends_after(site, break_the_table)
    assert "event: signed-out" not in events  # not signed out: the database is away
    page = await site.client.get("/agent", allow_redirects=False)
    assert page.status == 503
