"""Webhooks over real loopback HTTP: signed, retried with backoff, durable across restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from callcenter.config import WebhookSettings
from callcenter.hooks import Hooks
from callcenter.hooks.webhooks import WebhookSender, sign, verify_signature

SECRET = "s3cret"


class Receiver:
    """A webhook receiver that answers the statuses it is told to, then 200."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.bad_signatures = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        ok = verify_signature(
            SECRET,
            request.headers["X-Callcenter-Timestamp"],
            body,
            request.headers["X-Callcenter-Signature"],
        )
        if not ok:
            self.bad_signatures += 1
        self.headers.append(dict(request.headers))
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            self.received.append(json.loads(body))
        return web.Response(status=status)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/hook", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield rec, f"http://127.0.0.1:{port}/hook"
    await runner.cleanup()


def sender(url: str, spool: Path, **kw: Any) -> WebhookSender:
    target = WebhookSettings(
        url=url,
        secret=SECRET,
        events=["call_end", "recording_finished"],
        allow_private_network=True,  # the receiver is on loopback
    )
    options: dict[str, Any] = {"backoff_initial": 0.01, "backoff_max": 0.05, **kw}
    return WebhookSender([target], spool, **options)


async def test_signed_delivery_retried_after_server_errors(
    receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    rec, url = receiver
    rec.statuses = [500, 503]
    hooks = Hooks(sender(url, tmp_path / "wh"))
    await hooks.start()
    hooks.emit("call_end", {"call_id": "c1", "disposition": "answered"})
    hooks.emit("call_start", {"call_id": "c1"})  # not subscribed
    assert hooks.webhooks is not None
    await hooks.webhooks.wait_delivered()
    await hooks.close()
    assert [r["data"] for r in rec.received] == [{"call_id": "c1", "disposition": "answered"}]
    assert rec.received[0]["event"] == "call_end"
    assert rec.bad_signatures == 0
    deliveries = {h["X-Callcenter-Delivery"] for h in rec.headers}
    assert len(rec.headers) == 3 and len(deliveries) == 1  # same id on every retry


async def test_client_error_is_given_up_at_once(
    receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    rec, url = receiver
    rec.statuses = [400]
    webhooks = sender(url, tmp_path / "wh")
    await webhooks.start()
    webhooks.emit("call_end", {"call_id": "c2"})
    await webhooks.wait_delivered()
    await webhooks.close()
    assert webhooks.given_up == 1 and rec.received == [] and len(rec.headers) == 1
    [kept] = (tmp_path / "wh" / "given-up.jsonl").read_bytes().splitlines()
    assert b'"call_id":"c2"' in kept


async def test_undelivered_events_survive_a_restart(
    receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    rec, url = receiver
    rec.statuses = [503] * 1000  # the receiver is down for the whole first run
    first = sender(url, tmp_path / "wh", max_attempts=1000)
    await first.start()
    first.emit("recording_finished", {"call_id": "c3", "name": "c3"})
    await first.flush()  # fsync'd: durable from here on
    # Let the first run try (and be refused) at least once; on a busy machine close() could
    # otherwise come before the first attempt.
    for _ in range(500):
        if rec.headers:
            break
        await asyncio.sleep(0.01)
    await first.close()
    assert rec.received == [] and rec.headers

    rec.statuses = []  # back up; the next run replays the spool
    second = sender(url, tmp_path / "wh")
    await second.start()
    await second.wait_delivered()
    await second.close()
    assert [r["data"]["call_id"] for r in rec.received] == ["c3"]


def test_signature_checks() -> None:
    body = b'{"a":1}'
    signature = sign(SECRET, "1000", body)
    assert verify_signature(SECRET, "1000", body, signature, max_age=None)
    assert not verify_signature("other", "1000", body, signature, max_age=None)
    assert not verify_signature(SECRET, "1000", body + b" ", signature, max_age=None)
    assert not verify_signature(SECRET, "1000", body, signature)  # too old


class Collector:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []

    async def on_hook(self, event: str, payload: Any) -> None:
        self.seen.append((event, dict(payload)))


class Broken:
    async def on_hook(self, event: str, payload: Any) -> None:
        raise RuntimeError("plug-in bug")


async def test_plugins_get_events_and_a_broken_one_harms_nobody(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks = Hooks()
    collector = Collector()
    hooks.add(Broken())
    hooks.add(collector)
    await hooks.start()
    hooks.emit("agent_connect", {"call_id": "c9", "agent": "a1"})
    await hooks.drain()
    await hooks.close()
    assert collector.seen == [("agent_connect", {"call_id": "c9", "agent": "a1"})]
    assert any("c9" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)
    with pytest.raises(ValueError, match="unknown hook event"):
        hooks.emit("call_exploded", {"call_id": "c9"})


async def test_redirects_are_not_followed(tmp_path: Path) -> None:
    """A receiver answering 307 must not make us re-POST the signed body to where it points
    (here an "admin" URL on loopback)."""
    admin_hits: list[bytes] = []

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect("/admin/run")

    async def admin(request: web.Request) -> web.Response:
        admin_hits.append(await request.read())
        return web.Response(text="done")

    app = web.Application()
    app.router.add_post("/hook", redirect)
    app.router.add_post("/admin/run", admin)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        webhooks = sender(f"http://127.0.0.1:{port}/hook", tmp_path / "wh")
        await webhooks.start()
        webhooks.emit("call_end", {"call_id": "c5"})
        await webhooks.wait_delivered()
        await webhooks.close()
    finally:
        await runner.cleanup()
    assert admin_hits == []
    assert webhooks.given_up == 1 and webhooks.delivered == 0


def test_private_destinations_in_the_config_are_refused_unless_allowed() -> None:
    for url in (
        "http://127.0.0.1:9000/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/",
        "http://[::ffff:192.168.0.1]/",
        "http://0.0.0.0/",
    ):
        with pytest.raises(ValueError, match="allow_private_network"):
            WebhookSettings(url=url, secret=SECRET)
        assert WebhookSettings(url=url, secret=SECRET, allow_private_network=True).url == url
    assert WebhookSettings(url="https://hooks.example.com/x", secret=SECRET)
    assert WebhookSettings(url="https://93.184.216.34/x", secret=SECRET)
    with pytest.raises(ValueError, match="http"):
        WebhookSettings(url="file:///etc/passwd", secret=SECRET)


async def test_a_name_resolving_to_loopback_is_refused_at_delivery(
    receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    rec, url = receiver
    target = WebhookSettings(url=url.replace("127.0.0.1", "localhost"), secret=SECRET)
    webhooks = WebhookSender([target], tmp_path / "wh", backoff_initial=0.01)
    await webhooks.start()
    webhooks.emit("call_end", {"call_id": "c6"})
    await webhooks.wait_delivered()
    await webhooks.close()
    assert rec.headers == []  # never connected
    assert webhooks.given_up == 1  # at once: no retries against a private address
