"""Sign-in, roles, CSRF and who may see which call: over HTTP on loopback."""

from __future__ import annotations

import re
from typing import Any

import pyotp
from aiohttp.test_utils import TestClient

from callcenter.web.security import SESSION_COOKIE, SessionCodec, SignInRateLimit

from .conftest import PASSWORD, Site


async def login_form_token(client: TestClient[Any, Any]) -> str:
    page = await client.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', await page.text())
    assert match
    return match.group(1)


async def sign_in(
    client: TestClient[Any, Any], user: str, password: str = PASSWORD, **extra: str
) -> Any:
    token = await login_form_token(client)
    return await client.post(
        "/login",
        data={"csrf_token": token, "username": user, "password": password, **extra},
        allow_redirects=False,
    )


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def test_wrong_password_is_refused(site: Site) -> None:
    response = await sign_in(site.client, "alice", "not the password")
    assert response.status == 401
    assert "wrong username or password" in await response.text()
    assert SESSION_COOKIE not in response.cookies


async def test_sign_in_sets_a_strict_httponly_cookie(site: Site) -> None:
    response = await sign_in(site.client, "alice")
    assert response.status == 302
    assert response.headers["Location"] == "/agent"
    cookie = response.cookies[SESSION_COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"


async def test_locked_out_after_repeated_failures(site: Site) -> None:
    for _ in range(3):
        assert (await sign_in(site.client, "bob", "wrong wrong wrong")).status == 401
    response = await sign_in(site.client, "bob")
    assert response.status == 401
    assert SESSION_COOKIE not in response.cookies
    assert "wrong username or password" in await response.text()


async def test_totp_is_required_when_enabled(site: Site) -> None:
    secret = pyotp.random_base32()
    site.users.set_totp("quinn", secret)
    response = await sign_in(site.client, "quinn")
    assert response.status == 401
    assert "authenticator" in (await response.text()).lower()
    response = await sign_in(site.client, "quinn", totp=pyotp.TOTP(secret).now())
    assert response.status == 302
    assert response.headers["Location"] == "/qa"


async def test_post_without_csrf_token_is_rejected(site: Site) -> None:
    await sign_in(site.client, "alice")
    response = await site.client.post(
        "/agent/state", data={"action": "available"}, allow_redirects=False
    )
    assert response.status == 403
    assert site.live.agents["alice"]["state"] == "logged_out"
    page = await site.client.get("/agent")
    response = await site.client.post(
        "/agent/state",
        data={"action": "available", "csrf_token": csrf_of(await page.text())},
        allow_redirects=False,
    )
    assert response.status == 302
    assert site.live.agents["alice"]["state"] == "available"


async def test_login_without_its_csrf_token_is_rejected(site: Site) -> None:
    response = await site.client.post(
        "/login", data={"username": "alice", "password": PASSWORD}, allow_redirects=False
    )
    assert response.status == 403


async def test_agent_cannot_read_another_agents_call_or_recording(site: Site) -> None:
    await sign_in(site.client, "alice")
    own = await site.client.get("/calls/" + "c" * 32)
    assert own.status == 200
    assert "main → existing" in await own.text()
    other = await site.client.get("/calls/" + "d" * 32)
    assert other.status == 404
    recording = await site.client.get("/calls/" + "d" * 32 + "/recording")
    assert recording.status == 404
    mine = await site.client.get("/my-calls")
    text = await mine.text()
    assert "c" * 32 in text and "d" * 32 not in text


async def test_roles_guard_pages(site: Site) -> None:
    await sign_in(site.client, "alice")
    assert (await site.client.get("/wallboard")).status == 403
    assert (await site.client.get("/qa")).status == 403
    site.client.session.cookie_jar.clear()
    await sign_in(site.client, "quinn")
    assert (await site.client.get("/wallboard")).status == 403
    assert (await site.client.get("/qa")).status == 200


async def test_signed_out_pages_redirect_to_sign_in(site: Site) -> None:
    response = await site.client.get("/wallboard", allow_redirects=False)
    assert response.status == 302
    assert response.headers["Location"].startswith("/login")
    recording = await site.client.get("/calls/" + "c" * 32 + "/recording", allow_redirects=False)
    assert recording.status == 302


async def test_qa_finds_the_call_and_streams_its_recording(site: Site) -> None:
    await sign_in(site.client, "quinn")
    listing = await site.client.get("/qa", params={"agent": "bob", "recorded": "1"})
    text = await listing.text()
    assert "d" * 32 in text and "c" * 32 not in text
    audio = await site.client.get("/calls/" + "d" * 32 + "/recording")
    assert audio.status == 200
    assert audio.headers["Content-Type"] == "audio/wav"
    body = await audio.read()
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE"
    export = await site.client.get("/qa/export.csv", params={"agent": "bob"})
    assert export.status == 200
    assert ("d" * 32) in await export.text()


async def test_qa_scores_a_call(site: Site) -> None:
    await sign_in(site.client, "quinn")
    page = await site.client.get("/calls/" + "c" * 32)
    data = {
        "csrf_token": csrf_of(await page.text()),
        "score_greeting": "5",
        "score_identification": "4",
        "score_resolution": "9",
        "score_courtesy": "5",
        "comment": "good call",
    }
    response = await site.client.post("/calls/" + "c" * 32 + "/score", data=data)
    assert response.status == 200
    assert "quinn: 23.0" in await response.text()
    data["score_resolution"] = "99"
    bad = await site.client.post("/calls/" + "c" * 32 + "/score", data=data)
    assert bad.status == 400


async def test_supervisor_listens_and_force_pauses(site: Site) -> None:
    await sign_in(site.client, "sara")
    page = await site.client.get("/wallboard")
    token = csrf_of(await page.text())
    response = await site.client.post(
        "/wallboard/calls/" + "c" * 32 + "/listen", data={"csrf_token": token, "mode": "listen"}
    )
    assert response.status == 200
    assert site.live.listened == [("c" * 32, "PJSIP/2001", "listen")]
    await site.client.post("/wallboard/agents/bob/pause", data={"csrf_token": token})
    assert site.live.agents["bob"]["state"] == "paused"
    assert site.live.agents["bob"]["reason"] == "by supervisor sara"


def test_tampered_or_expired_session_is_refused() -> None:
    codec = SessionCodec("k", lifetime_seconds=60)
    cookie = codec.encode(codec.new("alice", "admin", None, now=1000.0))
    assert codec.decode(cookie, now=1001.0) is not None
    body, signature = cookie.rsplit(".", 1)
    forged = SessionCodec("other", 60).encode(
        SessionCodec("other", 60).new("alice", "admin", None, 1000.0)
    )
    assert codec.decode(forged, now=1001.0) is None
    assert codec.decode(body + "x." + signature, now=1001.0) is None
    assert codec.decode(cookie, now=1061.0) is None


def test_sign_in_rate_limit_counts_failures_per_address_and_user_name() -> None:
    limit = SignInRateLimit(per_minute=3)
    alice = limit.key("10.0.0.1", "alice")
    for t in (0, 1, 2):
        assert limit.allow(alice, t)
        limit.failed(alice, t)
    assert not limit.allow(alice, 3)
    assert not limit.allow(limit.key("10.0.0.1", " ALICE "), 3)  # the same name
    assert limit.allow(limit.key("10.0.0.1", "bob"), 3)  # a colleague behind the same NAT
    assert limit.allow(limit.key("10.0.0.2", "alice"), 3)
    assert limit.allow(alice, 61)  # the window moved on
    limit.failed(alice, 61)
    limit.succeeded(alice)
    assert limit.allow(alice, 62)
