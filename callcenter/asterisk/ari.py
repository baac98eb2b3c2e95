"""Our ARI adapter over aioari: connection, events WebSocket, REST requests.

Usage::

    ari = AriClient(AriSettings(url=..., username=..., password=..., app="callcenter"),
                    on_event=router.dispatch, on_reconnected=worker.relearn)
    await ari.start()                    # connects (retrying), then keeps the WebSocket up
    await ari.wait_connected(timeout=5)
    await ari.answer(channel_id)
    playback = await ari.play(channel_id, "sound:hello-world")
    await ari.close()

Events: every WebSocket message is parsed into a typed ``AriEvent`` (``events.py``) and handed
to ``on_event`` *synchronously*. aioari awaits its handler inside the WebSocket read loop, so
``on_event`` must only route/enqueue and never await a REST call (that would hold up the
events of every other call).

Reconnects: aioari's ``Client.run`` returns when the WebSocket closes; ``AriClient`` reconnects
with exponential backoff and jitter. Real Asterisk keeps the app's channels while the
WebSocket is down and sends no new StasisStart for them, so after each *re*connect the adapter
reads ``GET /channels``, ``GET /bridges`` and ``GET /applications/{app}`` and calls
``on_reconnected(Reconnected(...))``; the owner matches that with its calls in progress. The
first connection reports what the app already holds too (``initial=True``): channels left by a
worker that died, for the owner to clean up or take over.

Errors: every request has a time-out. Failures raise ``AriRequestError`` (operation, HTTP
status, Asterisk's message) or a subclass: ``AriNotFound`` (404), ``AriConflict`` (409),
``AriTimeout`` (no answer in time), ``AriConnectionFailed`` (could not reach Asterisk).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aioari
import aiohttp
from aioswagger11.processors import SwaggerError

from callcenter.asterisk.ari_http import AriHttpClient, HttpStatusError, asterisk_message
from callcenter.asterisk.ari_ops import AriOperation, operations_from
from callcenter.asterisk.ari_resources import RecordingsAndApplication, comma_list
from callcenter.asterisk.ari_types import (
    ApplicationState,
    AriConflict,
    AriConnectionFailed,
    AriNotFound,
    AriRequestError,
    AriTimeout,
    EndpointState,
    LiveRecording,
    StoredRecording,
    status_error,
)
from callcenter.asterisk.events import (
    ApplicationReplaced,
    AriEvent,
    BridgeSnapshot,
    ChannelSnapshot,
    Reconnected,
    parse_event,
)
from callcenter.asterisk.ids import BridgeId, ChannelId, PlaybackId
from callcenter.errors import AsteriskError, AsteriskUnavailable
from callcenter.sounds import asterisk_media

__all__ = [
    "DEFAULT_DISALLOWED_EVENTS",
    "ApplicationState",
    "AriClient",
    "AriConflict",
    "AriConnectionFailed",
    "AriNotFound",
    "AriRequestError",
    "AriSettings",
    "AriTimeout",
    "EndpointState",
    "LiveRecording",
    "StoredRecording",
    "backoff_delay",
]

log = logging.getLogger(__name__)

EventSink = Callable[[AriEvent], None]
ReconnectSink = Callable[[Reconnected], None]

# Events we never use: each bridged call brings dozens of ChannelVarset alone. Asterisk 22
# honours PUT /applications/{app}/eventFilter; on a real box it cut the app's CPU per call
# from 7.4 to 5.6 ms (see /work/shared/asterisk/README.md, "Load behaviour").
DEFAULT_DISALLOWED_EVENTS: tuple[str, ...] = (
    "ChannelVarset",
    "ChannelDialplan",
    "ChannelConnectedLine",
    "ChannelCallerId",
    "ChannelTalkingStarted",
    "ChannelTalkingFinished",
    "ChannelHold",
    "ChannelUnhold",
    "ChannelToneDetected",
    "BridgeVideoSourceChanged",
    "PeerStatusChange",
    "DeviceStateChanged",
    "TextMessageReceived",
)


# --- settings ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AriSettings:
    """Where and how to reach ARI. ``url`` is Asterisk's HTTP root (``http://host:8088/``)."""

    url: str
    username: str
    password: str
    app: str
    request_timeout: float = 5.0
    connect_timeout: float = 5.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    heartbeat: float = 10.0
    disallowed_events: tuple[str, ...] = DEFAULT_DISALLOWED_EVENTS
    retry_attempts: int = 3
    """How often a request that is safe to repeat (answer, play with our id, music on hold,
    hang-up, create with our id) is sent when Asterisk does not answer in time."""

    @property
    def base_url(self) -> str:
        """The HTTP root with a trailing slash and without ``ari/`` (aioari adds it)."""
        url = self.url.rstrip("/")
        url = url.removesuffix("/ari")
        return url + "/"


def backoff_delay(attempt: int, initial: float, maximum: float, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform in [d/2, d], d = initial * 2**attempt."""
    delay = min(maximum, initial * (2 ** min(attempt, 30)))
    return rng.uniform(delay / 2, delay)


# --- aioari glue -----------------------------------------------------------------------------


class _CloseFrameNotice(logging.Filter):
    """aioari logs a WARNING "Unknown JSON message type" for the WebSocket CLOSE frame that
    precedes every disconnect; we log the disconnect ourselves, so drop that one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.msg == "Unknown JSON message type: %s" and "WSMsgType.CLOSE" in str(record.args)
        )


logging.getLogger("aioari.client").addFilter(_CloseFrameNotice())


class _AioariClient(aioari.Client):
    """aioari's Client with one change: every message goes straight to our parser.

    aioari's ``process_ws`` builds the listener list, formats a debug string eagerly and
    awaits each listener per event; we have one listener that never awaits, so we skip it
    (benchmarks/worker_events.py measures the difference).
    """

    def __init__(
        self, base_url: str, http_client: AriHttpClient, sink: Callable[[Any], None]
    ) -> None:
        super().__init__(base_url, http_client)
        self._sink = sink

    async def process_ws(self, msg: Any) -> None:
        self._sink(msg)


# --- the client ------------------------------------------------------------------------------


class AriClient(RecordingsAndApplication):
    """One ARI application's connection: keeps the WebSocket up and runs REST requests."""

    def __init__(
        self,
        settings: AriSettings,
        on_event: EventSink,
        on_reconnected: ReconnectSink | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._on_event = on_event
        self._on_reconnected = on_reconnected
        self._rng = rng or random.Random()
        self._http = AriHttpClient(
            settings.base_url,
            settings.username,
            settings.password,
            request_timeout=settings.request_timeout,
            connect_timeout=settings.connect_timeout,
            heartbeat=settings.heartbeat,
        )
        self._http.on_ws_connected = self._ws_connected
        self._aioari: _AioariClient | None = None
        self._ops: dict[tuple[str, str], AriOperation] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._after_connect_task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._ready = asyncio.Event()
        self._closing = False
        self._replaced = False
        self.connections = 0
        """How many times the WebSocket has been opened (1 = first connect)."""
        self.on_connection_change: Callable[[bool], None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the events WebSocket is open."""
        return self._connected.is_set()

    async def connect(self, max_attempts: int | None = None) -> None:
        """Load Asterisk's api-docs, retrying with backoff; ``None`` attempts = forever.

        Raises ``AsteriskUnavailable`` when ``max_attempts`` ran out.
        """
        attempt = 0
        while True:
            try:
                await self._load_api_docs()
                return
            except (AriRequestError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                attempt += 1
                if max_attempts is not None and attempt >= max_attempts:
                    raise AsteriskUnavailable(
                        f"ARI at {self.settings.base_url} unreachable after {attempt} attempts:"
                        f" {exc}",
                        url=self.settings.base_url,
                        attempts=attempt,
                    ) from exc
                delay = backoff_delay(
                    attempt - 1, self.settings.backoff_initial, self.settings.backoff_max, self._rng
                )
                log.warning(
                    "ARI at %s unreachable (attempt %d): %s; retrying in %.1fs",
                    self.settings.base_url,
                    attempt,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)

    async def _load_api_docs(self) -> None:
        client = _AioariClient(self.settings.base_url, self._http, self._receive)
        try:
            async with asyncio.timeout(self.settings.connect_timeout):
                await client.init()
            operations = operations_from(client.swagger.resources)
        except HttpStatusError as exc:
            raise status_error("api-docs", exc.status, exc.message) from exc
        except (SwaggerError, KeyError, TypeError, ValueError) as exc:
            # Not Asterisk's ARI description (wrong URL, a proxy's page...).
            raise AriRequestError("api-docs", None, f"unusable api-docs: {exc!r}") from exc
        self._aioari = client
        self._ops = operations

    async def start(self) -> None:
        """Start the WebSocket loop (connecting first, retrying for ever, in the background)."""
        if self._loop_task is None:
            self._loop_task = asyncio.create_task(self._run_websocket(), name="ari-websocket")

    async def wait_connected(self, within: float | None = None) -> None:
        """Wait until the WebSocket is open and set up (event filter sent, live calls re-learnt).

        Raises TimeoutError after ``within`` seconds.
        """
        async with asyncio.timeout(within):
            await self._ready.wait()

    async def close(self) -> None:
        """Close the WebSocket and the HTTP sessions; stops reconnecting."""
        self._closing = True
        for task in (self._after_connect_task, self._loop_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._loop_task = None
        if self._aioari is not None:
            await self._aioari.close()
        else:
            await self._http.close()
        self._set_connected(False)

    async def _run_websocket(self) -> None:
        failures = 0
        while not self._closing:
            problem = "closed by Asterisk"
            try:
                if self._aioari is None:
                    await self.connect(max_attempts=1)
                assert self._aioari is not None
                # Returns when the WebSocket closes (aioari does not reconnect).
                await self._aioari.run(apps=self.settings.app)
            except (AsteriskError, aiohttp.ClientError, OSError) as exc:
                problem = str(exc) or type(exc).__name__
            except (TimeoutError, ValueError) as exc:
                # ValueError: aioari's json.loads on a message that is not JSON.
                problem = repr(exc)
            except Exception as exc:
                # Whatever aioari or aiohttp raise next, this loop must not die: it is the
                # only thing that brings the events back.
                log.exception("ARI events WebSocket failed unexpectedly")
                problem = repr(exc)
            was_connected = self.connected
            self._set_connected(False)
            if self._closing:
                return
            if self._replaced:
                log.error(
                    "ARI app %r was taken by another WebSocket (ApplicationReplaced):"
                    " not reconnecting, two workers must not share an app name",
                    self.settings.app,
                )
                return
            failures = 0 if was_connected else failures + 1
            delay = backoff_delay(
                failures, self.settings.backoff_initial, self.settings.backoff_max, self._rng
            )
            if was_connected:
                log.warning("ARI events WebSocket lost (%s); reconnecting in %.2fs", problem, delay)
            else:
                log.warning(
                    "ARI at %s unreachable (attempt %d): %s; retrying in %.2fs",
                    self.settings.base_url,
                    failures,
                    problem,
                    delay,
                )
            await asyncio.sleep(delay)

    def _ws_connected(self) -> None:
        """Called by the HTTP layer when the WebSocket handshake succeeded."""
        self.connections += 1
        self._set_connected(True)
        log.info(
            "ARI events WebSocket open (app %s, connection %d)", self.settings.app, self.connections
        )
        self._after_connect_task = asyncio.create_task(
            self._after_connect(initial=self.connections == 1), name="ari-after-connect"
        )

    async def _after_connect(self, initial: bool) -> None:
        try:
            await self._set_up_connection(initial)
        finally:
            if self.connected:
                self._ready.set()

    async def _set_up_connection(self, initial: bool) -> None:
        if self.settings.disallowed_events:
            try:
                await self.set_event_filter(disallowed=self.settings.disallowed_events)
            except AriRequestError as exc:
                log.warning("ARI event filter not set (all events will come): %s", exc)
        if self._on_reconnected is not None:
            try:
                snapshot = await self.relearn(initial=initial)
            except AriRequestError as exc:
                log.error("ARI reading the app's live channels failed: %s", exc)
                return
            log.info(
                "ARI %s: %d channels in app, %d bridges",
                "connected" if initial else "reconnected",
                len(snapshot.app_channel_ids),
                len(snapshot.app_bridge_ids),
            )
            try:
                self._on_reconnected(snapshot)
            except Exception:
                log.exception("ARI reconnect handler failed")

    def _set_connected(self, value: bool) -> None:
        if value == self._connected.is_set():
            return
        if value:
            self._connected.set()
        else:
            self._connected.clear()
            self._ready.clear()
        if self.on_connection_change is not None:
            self.on_connection_change(value)

    def _receive(self, message: Any) -> None:
        """aioari's per-message hook: parse and hand on, never await."""
        event = parse_event(message)
        if isinstance(event, ApplicationReplaced):
            self._replaced = True
        try:
            self._on_event(event)
        except Exception:
            # An exception here would end aioari's read loop and drop the WebSocket.
            log.exception("ARI event handler failed on %s", type(event).__name__)

    async def relearn(self, initial: bool = False) -> Reconnected:
        """What Asterisk holds now: live channels, bridges and the app's own ids."""
        channels = await self.list_channels()
        bridges = await self.list_bridges()
        app = await self.get_application()
        return Reconnected(
            initial=initial,
            channels=tuple(channels),
            bridges=tuple(bridges),
            app_channel_ids=app.channel_ids,
            app_bridge_ids=app.bridge_ids,
        )

    # --- request plumbing --------------------------------------------------------------------

    async def _request(self, resource: str, operation: str, /, **params: Any) -> bytes:
        """Run one operation of the api-docs; returns the raw body. Raises our errors.

        The lean path (``ari_ops``): the operation's parameters were read from the api-docs
        once, at connect; aioswagger11's per-request work (walking the swagger parameters,
        formatting a debug line) is skipped, its checks are kept. The body is read whole
        (recording downloads are binary) within ``request_timeout``."""
        op = self._ops.get((resource, operation))
        if op is None:
            name = f"{resource}.{operation}"
            if self._aioari is None:
                raise AriConnectionFailed(name, None, "not connected to ARI")
            raise AriRequestError(name, None, "operation not offered by this Asterisk")
        url, query, data = op.request(params)
        try:
            async with asyncio.timeout(self.settings.request_timeout):
                status, body = await self._http.fetch(op.method, url, query, data, op.host)
        except TimeoutError as exc:
            raise AriTimeout(
                op.name, None, f"no answer within {self.settings.request_timeout}s"
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise AriConnectionFailed(op.name, None, str(exc) or type(exc).__name__) from exc
        if status >= 400:
            raise status_error(op.name, status, asterisk_message(body))
        return body

    async def _repeatable(
        self,
        resource: str,
        operation: str,
        /,
        *,
        done_if: Callable[[AriRequestError], bool] | None = None,
        done_already: Callable[[], Awaitable[bool]] | None = None,
        **params: Any,
    ) -> bytes | None:
        """A request that is safe to send again: after a time-out or a lost connection it is
        repeated (up to ``retry_attempts``). Asterisk may have carried out the first attempt
        and only its answer was late: ``done_already`` is asked before each repeat (e.g. does
        our playback id exist?) and ``done_if`` tells which error to a repeat means "already
        done" (409 "... already exists" for an id of ours); None is returned then."""
        attempts = max(1, self.settings.retry_attempts)
        repeated = False
        for attempt in range(1, attempts + 1):
            try:
                return await self._request(resource, operation, **params)
            except (AriTimeout, AriConnectionFailed) as exc:
                if attempt == attempts or self._closing:
                    raise
                with contextlib.suppress(AriRequestError):
                    if done_already is not None and await done_already():
                        return None
                log.warning(
                    "ARI %s.%s: %s; sending it again (%d of %d)",
                    resource,
                    operation,
                    exc.asterisk_message,
                    attempt + 1,
                    attempts,
                )
                await asyncio.sleep(
                    backoff_delay(attempt - 1, self.settings.backoff_initial / 5, 1.0, self._rng)
                )
                repeated = True
            except AriRequestError as exc:
                if repeated and done_if is not None and done_if(exc):
                    return None
                raise
        raise AssertionError("unreachable")

    async def _json(self, resource: str, operation: str, /, **params: Any) -> Any:
        body = await self._request(resource, operation, **params)
        return _decode(f"{resource}.{operation}", body)

    # --- channels ----------------------------------------------------------------------------

    async def answer(self, channel: ChannelId) -> None:
        """Answer a ringing channel (repeated after a time-out: answering twice is harmless)."""
        await self._repeatable("channels", "answer", channelId=channel)

    async def ring(self, channel: ChannelId) -> None:
        """Send ringing to the caller (before answering)."""
        await self._request("channels", "ring", channelId=channel)

    async def hangup(self, channel: ChannelId, reason: str = "normal") -> None:
        """Hang a channel up (``reason``: normal, busy, congestion, no_answer...); repeated
        after a time-out (a 404 to the repeat means the first one did it)."""
        await self._repeatable(
            "channels", "hangup", done_if=_gone, channelId=channel, reason=reason
        )

    async def play(
        self,
        channel: ChannelId,
        media: Sequence[str] | str,
        playback_id: PlaybackId | None = None,
        lang: str | None = None,
    ) -> PlaybackId:
        """Start playing media (``sound:x``, ``digits:12``...) on a channel; returns its id.

        ARI has no barge-in: to let a digit cut the prompt, call ``stop_playback``. With our
        own ``playback_id`` a time-out is retried, unless Asterisk knows the playback by then
        (the first attempt is playing; a repeat would play the prompt twice).
        """
        params: dict[str, Any] = {"channelId": channel, "media": _media(media), "lang": lang}
        if playback_id is None:
            data = await self._json("channels", "play", **params)
        else:

            async def playing() -> bool:
                return await self.playback_state(playback_id) is not None

            body = await self._repeatable(
                "channels",
                "play",
                done_if=_taken,
                done_already=playing,
                playbackId=playback_id,
                **params,
            )
            data = _decode("channels.play", body) if body else {"id": playback_id}
        return PlaybackId(str(data["id"])) if isinstance(data, dict) else PlaybackId("")

    async def play_on_bridge(
        self,
        bridge: BridgeId,
        media: Sequence[str] | str,
        playback_id: PlaybackId | None = None,
        lang: str | None = None,
    ) -> PlaybackId:
        """Start playing media to everyone in a bridge; returns the playback id."""
        data = await self._json(
            "bridges",
            "play",
            bridgeId=bridge,
            media=_media(media),
            playbackId=playback_id,
            lang=lang,
        )
        return PlaybackId(str(data["id"])) if isinstance(data, dict) else PlaybackId("")

    async def playback_state(self, playback: PlaybackId) -> str | None:
        """A playback's ``state`` (``queued``, ``playing``...), None once it is over (404):
        after a reconnect, what tells whether its PlaybackFinished was lost."""
        try:
            data = await self._json("playbacks", "get", playbackId=playback)
        except AriNotFound:
            return None
        return str(data.get("state", "")) if isinstance(data, dict) else ""

    async def stop_playback(self, playback: PlaybackId) -> bool:
        """Stop a playback; False if it had already finished (Asterisk answers 404)."""
        try:
            await self._request("playbacks", "stop", playbackId=playback)
        except AriNotFound:
            return False
        return True

    async def create_channel(
        self,
        endpoint: str,
        app: str | None = None,
        app_args: Sequence[str] | str | None = None,
        *,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        channel_id: ChannelId | None = None,
        originator: ChannelId | None = None,
    ) -> ChannelId:
        """``channels/create``: a channel that enters the app at once (state Down), not dialled.

        Claim ``channel_id`` before calling: its StasisStart can arrive before this returns.
        ``caller_id`` is set as the CALLERID(all) variable (create has no callerId parameter).
        With our own ``channel_id`` a time-out is retried (409 "... already exists" to the
        repeat: the first attempt made it).
        """
        all_variables = dict(variables or {})
        if caller_id:
            all_variables.setdefault("CALLERID(all)", caller_id)
        params: dict[str, Any] = {
            "endpoint": endpoint,
            "app": app or self.settings.app,
            "appArgs": comma_list(app_args),
            "originator": originator,
            "variables": all_variables or None,
        }
        if channel_id is None:
            data = await self._json("channels", "create", **params)
        else:
            body = await self._repeatable(
                "channels", "create", done_if=_taken, channelId=channel_id, **params
            )
            data = _decode("channels.create", body) if body else {"id": channel_id}
        return ChannelId(str(data["id"]))

    async def dial(
        self, channel: ChannelId, caller: ChannelId | None = None, ring_timeout: int = 30
    ) -> None:
        """Dial a channel made by ``create_channel``; the result comes as events.

        Asterisk 22 sends no Dial BUSY/NOANSWER: read ChannelHangupRequest's cause (17/19).
        """
        await self._request(
            "channels", "dial", channelId=channel, caller=caller, timeout=ring_timeout
        )

    async def originate(
        self,
        endpoint: str,
        *,
        app: str | None = None,
        app_args: Sequence[str] | str | None = None,
        extension: str | None = None,
        context: str | None = None,
        priority: int | None = None,
        caller_id: str | None = None,
        ring_timeout: int = 30,
        variables: Mapping[str, str] | None = None,
        channel_id: ChannelId | None = None,
    ) -> ChannelId:
        """``POST /channels``: call an endpoint; with ``app`` its StasisStart comes on answer."""
        if extension is None and app is None:
            app = self.settings.app
        data = await self._json(
            "channels",
            "originate",
            endpoint=endpoint,
            app=app,
            appArgs=comma_list(app_args) if app else None,
            extension=extension,
            context=context,
            priority=priority,
            callerId=caller_id,
            timeout=ring_timeout,
            variables=dict(variables) if variables else None,
            channelId=channel_id,
        )
        return ChannelId(str(data["id"]))

    async def continue_in_dialplan(
        self,
        channel: ChannelId,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
    ) -> None:
        """Let the channel leave the app and carry on in the dialplan (StasisEnd follows)."""
        await self._request(
            "channels",
            "continueInDialplan",
            channelId=channel,
            context=context,
            extension=extension,
            priority=priority,
            label=label,
        )

    async def redirect(self, channel: ChannelId, endpoint: str) -> None:
        """Redirect the channel to another endpoint (a SIP 302 where supported)."""
        await self._request("channels", "redirect", channelId=channel, endpoint=endpoint)

    async def start_moh(self, channel: ChannelId, moh_class: str | None = None) -> None:
        """Play music on hold to one channel (repeated after a time-out: idempotent)."""
        await self._repeatable("channels", "startMoh", channelId=channel, mohClass=moh_class)

    async def stop_moh(self, channel: ChannelId) -> None:
        await self._repeatable("channels", "stopMoh", channelId=channel)

    async def send_dtmf(
        self, channel: ChannelId, dtmf: str, *, between_ms: int | None = None
    ) -> None:
        """Send DTMF digits to a channel."""
        await self._request(
            "channels", "sendDTMF", channelId=channel, dtmf=dtmf, between=between_ms
        )

    async def get_variable(self, channel: ChannelId, name: str) -> str:
        """A channel variable's value (AriNotFound if channel or variable is unknown)."""
        data = await self._json("channels", "getChannelVar", channelId=channel, variable=name)
        return str(data.get("value", "")) if isinstance(data, dict) else ""

    async def set_variable(self, channel: ChannelId, name: str, value: str) -> None:
        await self._request(
            "channels", "setChannelVar", channelId=channel, variable=name, value=value
        )

    async def snoop(
        self,
        channel: ChannelId,
        *,
        spy: str = "none",
        whisper: str = "none",
        app: str | None = None,
        app_args: Sequence[str] | str | None = None,
        snoop_id: ChannelId | None = None,
    ) -> ChannelId:
        """A snoop channel on ``channel`` (spy/whisper: none, in, out, both) in the app."""
        data = await self._json(
            "channels",
            "snoopChannel",
            channelId=channel,
            spy=spy,
            whisper=whisper,
            app=app or self.settings.app,
            appArgs=comma_list(app_args),
            snoopId=snoop_id,
        )
        return ChannelId(str(data["id"]))

    async def get_channel(self, channel: ChannelId) -> ChannelSnapshot:
        return ChannelSnapshot.from_json(await self._json("channels", "get", channelId=channel))

    async def list_channels(self) -> list[ChannelSnapshot]:
        """Every channel Asterisk has (not only ours)."""
        data = await self._json("channels", "list")
        return [ChannelSnapshot.from_json(item) for item in data or ()]

    # --- bridges -----------------------------------------------------------------------------

    async def create_bridge(
        self, type: str = "mixing", bridge_id: BridgeId | None = None, name: str | None = None
    ) -> BridgeId:
        """Create a bridge (``mixing``, ``holding``...). Asterisk keeps it until destroyed.
        With our own ``bridge_id`` a time-out is retried."""
        if bridge_id is None:
            data = await self._json("bridges", "create", type=type, name=name)
        else:
            body = await self._repeatable(
                "bridges", "create", done_if=_taken, type=type, bridgeId=bridge_id, name=name
            )
            data = _decode("bridges.create", body) if body else {"id": bridge_id}
        return BridgeId(str(data["id"]))

    async def add_to_bridge(
        self, bridge: BridgeId, channels: Sequence[ChannelId] | ChannelId, role: str | None = None
    ) -> None:
        await self._request(
            "bridges", "addChannel", bridgeId=bridge, channel=comma_list(channels), role=role
        )

    async def remove_from_bridge(
        self, bridge: BridgeId, channels: Sequence[ChannelId] | ChannelId
    ) -> None:
        """Remove channels; a channel already gone gives HTTP 400 "Channel not found"."""
        await self._request(
            "bridges", "removeChannel", bridgeId=bridge, channel=comma_list(channels)
        )

    async def destroy_bridge(self, bridge: BridgeId) -> None:
        """Delete a bridge: bridges outlive their channels until the app deletes them (repeated
        after a time-out; a 404 to the repeat means the first one did it)."""
        await self._repeatable("bridges", "destroy", done_if=_gone, bridgeId=bridge)

    async def start_bridge_moh(self, bridge: BridgeId, moh_class: str | None = None) -> None:
        await self._request("bridges", "startMoh", bridgeId=bridge, mohClass=moh_class)

    async def stop_bridge_moh(self, bridge: BridgeId) -> None:
        """409 "Bridge isn't playing music" if none was playing."""
        await self._request("bridges", "stopMoh", bridgeId=bridge)

    async def get_bridge(self, bridge: BridgeId) -> BridgeSnapshot:
        return BridgeSnapshot.from_json(await self._json("bridges", "get", bridgeId=bridge))

    async def list_bridges(self) -> list[BridgeSnapshot]:
        data = await self._json("bridges", "list")
        return [BridgeSnapshot.from_json(item) for item in data or ()]

    # --- application (the rest of the requests: ari_resources.RecordingsAndApplication) -

    async def set_event_filter(
        self, disallowed: Sequence[str] = (), allowed: Sequence[str] = ()
    ) -> None:
        """``PUT /applications/{app}/eventFilter`` so Asterisk never sends us those events.

        Sent by hand rather than through the swagger operation: Asterisk reads the filter as
        the whole JSON body (``{"disallowed": [{"type": ...}]}``), while aioswagger11 would
        wrap a body parameter as ``{"filter": {...}}``.
        """
        body: dict[str, list[dict[str, str]]] = {}
        if allowed:
            body["allowed"] = [{"type": name} for name in allowed]
        if disallowed:
            body["disallowed"] = [{"type": name} for name in disallowed]
        operation = "applications.filter"
        if self._aioari is None:
            raise AriConnectionFailed(operation, None, "not connected to ARI")
        base = self._aioari.swagger.resources["applications"].json["api_declaration"]["basePath"]
        url = f"{base.rstrip('/')}/applications/{self.settings.app}/eventFilter"
        try:
            await self._http.request(
                "PUT",
                url,
                data=json.dumps(body),
                headers={"Content-Type": "application/json", "Accept": "application/json"},
            )
        except HttpStatusError as exc:
            raise status_error(operation, exc.status, exc.message) from exc
        except TimeoutError as exc:
            raise AriTimeout(operation, None, "no answer in time") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise AriConnectionFailed(operation, None, str(exc)) from exc


def _media(media: Sequence[str] | str) -> str:
    """ARI's ``media`` list (comma-separated, as Asterisk splits it), our ``prompt:<id>`` URIs
    turned into the ``sound:callcenter/<id>`` files that deploy installs."""
    items = media.split(",") if isinstance(media, str) else media
    return ",".join(asterisk_media(item) for item in items)


def _decode(operation: str, body: bytes | None) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise AriRequestError(operation, None, f"answer is not JSON: {body[:100]!r}") from exc


def _gone(error: AriRequestError) -> bool:
    """A repeated hang-up or delete found nothing: the first attempt did it."""
    return isinstance(error, AriNotFound)


def _taken(error: AriRequestError) -> bool:
    """A repeated create with our own id found it existing: the first attempt made it."""
    return isinstance(error, AriConflict) and "already exists" in error.asterisk_message
