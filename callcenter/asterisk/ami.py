"""Our AMI adapter on panoramisk 1.4: connect, reconnect, actions that raise, typed events.

What panoramisk 1.4 does by itself, and what this module changes (checked against our simulated
Asterisk 22 in callcenter/sim/ami_server.py, see tests/e2e/test_ami_adapter.py):

- A failed action comes back as a normal message with ``Response: Error``: ``send_action``
  raises :class:`AsteriskError` instead (which action, what Asterisk answered).
- ``Manager.connection_lost`` schedules ``connect()`` again after ``reconnect_timeout`` seconds,
  forever, with a fixed delay (``int()``-ed, so 0.5 becomes 0 and a dead server is hammered),
  and keeps doing so after a refused login. Its futures of actions in flight never resolve, and
  it re-sends them after the next login (FullyBooted), so a Hangup or Originate could run twice.
  Here: our own reconnect loop with exponential backoff and jitter, a time-out per attempt,
  pending actions fail at once with :class:`AsteriskUnavailable`, nothing is re-sent.
- ``Manager.dispatch`` calls event callbacks inside the protocol's ``data_received``; we hand
  each event to a queue per subscription and a task runs the callback, so a slow handler never
  holds up the reader or the other subscribers.
- Python 3.11: ``Manager.connect`` passes ``loop=`` to ``asyncio.Task`` and may call
  ``asyncio.get_event_loop()``; we never call it (we open the connection with
  ``loop.create_connection`` ourselves), so no deprecated loop handling runs under pytest's
  warnings-as-errors. ``Action()`` creates its future with ``asyncio.Future()``, which is fine
  because we only build actions inside a running loop.
- ``AMIProtocol.data_received`` strips each frame, dropping an empty last header
  (``Value: ``); ``_Protocol`` re-implements the framing without that.
- ``Originate`` without ``Async: true`` makes panoramisk wait for an OriginateResponse that a
  synchronous Originate never sends; ``originate()`` always sends ``Async: true``.

Only this package imports panoramisk.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import inspect
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from panoramisk import Manager
from panoramisk.actions import Action, Command
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message
from panoramisk.utils import EOL

from callcenter.asterisk.ami_messages import (
    AmiEvent,
    AmiResponse,
    Headers,
    OriginateResult,
    PjsipEndpoint,
    QueueStatus,
    QueueSummary,
    build_response,
    parse_originate,
    parse_pjsip_endpoints,
    parse_queue_status,
    parse_queue_summary,
)
from callcenter.errors import AsteriskError, AsteriskUnavailable

log = logging.getLogger(__name__)

EventCallback = Callable[[AmiEvent], Awaitable[None] | None]
ActionFields = Mapping[str, str | int | Sequence[str]]


class AmiTimeout(AsteriskUnavailable):
    """Asterisk did not answer an AMI action (or the connect/login) in time."""

    code = "asterisk-timeout"


class AmiLoginRefused(AsteriskError):
    """Asterisk refused the AMI username/secret (``Message: Authentication failed``)."""

    code = "asterisk-login-refused"


def _headers_of(message: Message) -> Headers:
    """A panoramisk Message (case-insensitive dict, repeated headers as lists) in wire order."""
    headers: list[tuple[str, str]] = []
    # CaseInsensitiveDict keeps (original key, value) pairs in _store; reading it directly is
    # several times faster than its Mapping interface (panoramisk is pinned to 1.4).
    for key, value in message._store.values():
        if key == "content":  # panoramisk stores a body (Response: Follows) under this key
            continue
        if isinstance(value, list):
            headers.extend((key, str(item)) for item in value)
        else:
            headers.append((key, str(value)))
    return tuple(headers)


def _to_event(message: Message) -> AmiEvent:
    headers = _headers_of(message)
    return AmiEvent(name=str(message.get("Event", "")), headers=headers)


def _log_task_failure(task: asyncio.Task[None]) -> None:
    """A supervisor that dies of a bug must say so, not vanish with the connection."""
    if not task.cancelled() and task.exception() is not None:
        log.error("AMI task %s died", task.get_name(), exc_info=task.exception())


class _Protocol(AMIProtocol):
    """panoramisk's AMI framing, wired to our manager as soon as the socket is up."""

    version: str | None = None  # the banner's protocol version ("11.0.0" on Asterisk 22)

    def __init__(self, manager: _Manager) -> None:
        super().__init__()
        self._manager = manager

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # What Manager.connection_made does, minus the login/pinger scheduling we do ourselves.
        self.queue: deque[str] = deque()
        self.factory = self._manager
        self.log = log
        self.config = self._manager.config
        self.encoding = "utf8"
        self.responses: dict[str, Action] = {}

    def data_received(self, data: bytes) -> None:
        # panoramisk 1.4 strip()s each frame before parsing it, so an empty last header
        # ("Value: " of a VarSet that clears a variable, "BridgeId: " of an unbridged channel)
        # loses its trailing space and is dropped. Same framing, stripping only CR/LF.
        text = data.decode(self.encoding, "ignore")
        if self.version is None and text.startswith("Asterisk Call Manager/"):
            self.version = text.partition(EOL)[0].partition("/")[2].strip()
        if self.queue:
            text = self.queue.popleft() + text
        frames = text.split(EOL + EOL)
        self.queue.append(frames.pop())
        for frame in frames:
            message = Message.from_line(frame.strip("\r\n"))
            if message is not None:
                self.handle_message(message)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._manager._client._protocol is not self:
            # An earlier connection (a refused login, an aborted keepalive) closing late must
            # not mark the current one as lost.
            self.closed = True
            return
        super().connection_lost(exc)


class _Manager(Manager):
    """panoramisk's Manager with reconnect and event dispatch handed to :class:`AmiClient`."""

    def __init__(self, client: AmiClient, **config: Any) -> None:
        super().__init__(**config)
        self._client = client

    def connection_lost(self, exc: Exception | None) -> None:
        # Replaces 1.4's fixed-delay call_later(reconnect_timeout, self.connect): AmiClient
        # reconnects with backoff. Forget the actions panoramisk queued for re-sending.
        self._connected = False
        self.authenticated = False
        self.awaiting_actions.clear()
        self._client._connection_lost(exc)

    def dispatch(self, event: Message) -> list[str]:
        self._client._deliver(event)
        return []


class EventSubscription:
    """One ``on_event`` registration: its own queue and task, so a slow callback delays only
    itself. ``cancel()`` stops it."""

    def __init__(self, pattern: str, callback: EventCallback) -> None:
        self.pattern = pattern
        self.callback = callback
        self._exact = pattern.lower() if not any(c in pattern for c in "*?[") else None
        self._queue: asyncio.Queue[AmiEvent] = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name=f"ami-events-{pattern}")

    def matches(self, event_name: str) -> bool:
        """Whether this subscription wants events called ``event_name``."""
        if self._exact is not None:
            return event_name.lower() == self._exact
        return fnmatch.fnmatchcase(event_name.lower(), self.pattern.lower())

    def put(self, event: AmiEvent) -> None:
        """Queue an event for the callback (never blocks)."""
        self._queue.put_nowait(event)

    @property
    def pending(self) -> int:
        """Events queued and not handed to the callback yet."""
        return self._queue.qsize()

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                result = self.callback(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception(
                    "AMI %s handler failed (channel %s, uniqueid %s, linkedid %s)",
                    event.name,
                    event.channel or "-",
                    event.uniqueid or "-",
                    event.linkedid or "-",
                )

    async def cancel(self) -> None:
        """Stop delivering; events still queued are dropped."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class AmiClient:
    """A connection to the Asterisk Manager Interface that survives restarts of Asterisk.

    ``await connect()`` logs in (retrying unreachable servers with backoff, never a refused
    login); after that a supervisor task reconnects whenever the TCP connection drops and pings
    every ``keepalive_interval`` seconds so a silent, half-dead connection is noticed too.
    Asterisk sends ``FullyBooted`` after every login: subscribe to it to re-sync after a
    reconnect (events sent while disconnected are lost).
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        connect_timeout: float = 5.0,
        login_timeout: float = 5.0,
        action_timeout: float = 10.0,
        connect_attempts: int = 5,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        keepalive_interval: float | None = 20.0,
        events: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self._secret = secret
        self.connect_timeout = connect_timeout
        self.login_timeout = login_timeout
        self.action_timeout = action_timeout
        self.connect_attempts = connect_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.keepalive_interval = keepalive_interval
        self.events = events
        self.reconnects = 0
        self._manager = _Manager(self, host=host, port=port, log=log)
        self._protocol: _Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._lost: asyncio.Future[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self._supervisor: asyncio.Task[None] | None = None
        self._subscriptions: list[EventSubscription] = []

    def __repr__(self) -> str:
        return f"<AmiClient {self.username}@{self.host}:{self.port} connected={self.connected}>"

    @property
    def connected(self) -> bool:
        """True while logged in on a live connection."""
        return self._connected.is_set()

    # --- connection --------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect and log in, retrying ``connect_attempts`` times with backoff.

        Raises AmiLoginRefused at once for a wrong secret, AsteriskUnavailable when every
        attempt failed. Then keeps the connection up until ``close()``.
        """
        if self._supervisor is not None:
            return
        attempt = 0
        while True:
            try:
                await self._connect_once()
                break
            except AmiLoginRefused:
                raise
            except AsteriskUnavailable as exc:
                attempt += 1
                if attempt >= self.connect_attempts:
                    raise AsteriskUnavailable(
                        f"AMI at {self.host}:{self.port} unreachable after {attempt} attempts: "
                        f"{exc.message}",
                        host=self.host,
                        port=self.port,
                        attempts=attempt,
                    ) from exc
                delay = self._backoff(attempt)
                log.warning("AMI connect failed (%s); retry %d in %.2fs", exc, attempt, delay)
                await asyncio.sleep(delay)
        self._supervisor = asyncio.create_task(self._supervise(), name="ami-supervisor")
        self._supervisor.add_done_callback(_log_task_failure)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half the step is fixed, half random."""
        step = min(self.backoff_max, self.backoff_initial * (2 ** (attempt - 1)))
        return step / 2 + random.uniform(0, step / 2)

    async def _connect_once(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await asyncio.wait_for(
                loop.create_connection(lambda: _Protocol(self._manager), self.host, self.port),
                self.connect_timeout,
            )
        except TimeoutError as exc:
            raise AmiTimeout(
                f"AMI connect to {self.host}:{self.port} timed out after {self.connect_timeout}s",
                host=self.host,
                port=self.port,
            ) from exc
        except OSError as exc:
            raise AsteriskUnavailable(
                f"cannot connect to AMI at {self.host}:{self.port}: {exc.strerror or exc}",
                host=self.host,
                port=self.port,
            ) from exc
        self._transport = transport
        self._protocol = protocol
        self._lost = loop.create_future()
        self._manager.protocol = protocol
        self._manager.responses = protocol.responses
        self._manager._connected = True
        login: dict[str, str | int | Sequence[str]] = {
            "Action": "Login",
            "Username": self.username,
            "Secret": self._secret,
            "Events": "on" if self.events else "off",
        }
        try:
            await self._request(login, self.login_timeout)
        except AmiTimeout:
            transport.abort()
            raise
        except AsteriskUnavailable:
            raise
        except AsteriskError as exc:
            # Asterisk answers "Authentication failed" ~1 s later and closes the connection.
            transport.abort()
            raise AmiLoginRefused(
                f"AMI login as {self.username!r} refused: {exc.details.get('answer', '')}",
                action="Login",
                username=self.username,
                answer=exc.details.get("answer", ""),
            ) from exc
        self._manager.authenticated = True
        self._connected.set()
        log.info("AMI logged in as %s at %s:%d", self.username, self.host, self.port)

    def _connection_lost(self, exc: Exception | None) -> None:
        """Called by panoramisk's protocol when the socket closes."""
        self._connected.clear()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        if not self._closing:
            log.warning("AMI connection to %s:%d lost (%s)", self.host, self.port, exc or "EOF")

    async def _supervise(self) -> None:
        """Reconnect after every drop; ping a quiet connection to detect a dead peer."""
        while not self._closing:
            lost = self._lost
            assert lost is not None
            if not lost.done():
                await asyncio.wait({lost}, timeout=self.keepalive_interval)
                if not lost.done():
                    await self._keepalive()
                    continue
            attempt = 0
            while not self._closing:
                attempt += 1
                await asyncio.sleep(self._backoff(attempt))
                try:
                    await self._connect_once()
                except AsteriskError as exc:
                    # A refused login after a restart (changed secret) is retried too: the
                    # operator may fix manager.conf; log it loudly meanwhile.
                    level = logging.ERROR if isinstance(exc, AmiLoginRefused) else logging.WARNING
                    log.log(level, "AMI reconnect attempt %d failed: %s", attempt, exc)
                    continue
                self.reconnects += 1
                log.info("AMI reconnected after %d attempt(s)", attempt)
                break

    async def _keepalive(self) -> None:
        try:
            await self.send_action({"Action": "Ping"}, timeout=self.action_timeout)
        except AmiTimeout:
            log.warning("AMI ping unanswered: dropping the connection to reconnect")
            if self._transport is not None:
                self._transport.abort()
        except AsteriskError as exc:
            log.warning("AMI ping failed: %s", exc)

    async def close(self) -> None:
        """Log off, close the connection and stop every task this client owns."""
        if self._closing:
            return
        self._closing = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        if self.connected:
            # Asterisk answers "Goodbye" and closes the socket itself.
            with contextlib.suppress(AsteriskError):
                await self._request({"Action": "Logoff"}, min(1.0, self.action_timeout))
        for subscription in self._subscriptions:
            await subscription.cancel()
        self._subscriptions.clear()
        if self._transport is not None:
            self._transport.close()
        self._connected.clear()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    # --- actions -----------------------------------------------------------------------------

    async def send_action(
        self,
        action: ActionFields,
        timeout: float | None = None,  # noqa: ASYNC109 (per-request time-out is the API)
        *,
        as_list: bool | None = None,
    ) -> AmiResponse:
        """Send one action and return Asterisk's typed answer (with EventList items).

        Raises AsteriskError when Asterisk answers Error, AmiTimeout when it does not answer
        within ``timeout`` (default ``action_timeout``), AsteriskUnavailable when not connected.
        """
        timeout = self.action_timeout if timeout is None else timeout
        name = str(action.get("Action", ""))
        if self._closing:
            raise AsteriskUnavailable(f"AMI client closed; cannot send {name}", action=name)
        if not self._connected.is_set():
            try:
                await asyncio.wait_for(self._connected.wait(), timeout)
            except TimeoutError as exc:
                raise AmiTimeout(
                    f"AMI {name}: not connected to {self.host}:{self.port} within {timeout}s",
                    action=name,
                ) from exc
        return await self._request(action, timeout, as_list=as_list)

    async def _request(
        self,
        action: ActionFields,
        timeout: float,  # noqa: ASYNC109 (each AMI request carries its own time-out)
        *,
        as_list: bool | None = None,
    ) -> AmiResponse:
        protocol, lost = self._protocol, self._lost
        name = str(action.get("Action", ""))
        if protocol is None or lost is None or lost.done():
            raise AsteriskUnavailable(f"AMI {name}: no connection", action=name)
        fields = {k: (v if isinstance(v, list | tuple) else str(v)) for k, v in action.items()}
        request: Action = Command(fields) if "Command" in fields else Action(fields)
        future = protocol.send(request, as_list=as_list)
        done, _ = await asyncio.wait(
            {future, lost}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if future not in done:
            protocol.responses.pop(request.id, None)
            protocol.responses.pop(request.action_id, None)
            future.cancel()
            if lost in done:
                raise AsteriskUnavailable(
                    f"AMI connection lost while waiting for the answer to {name}", action=name
                )
            raise AmiTimeout(
                f"AMI {name} got no answer within {timeout}s", action=name, timeout=timeout
            )
        result = future.result()
        messages = result if isinstance(result, list) else [result]
        response = build_response(name, (_headers_of(m) for m in messages))
        if not response.ok:
            output = response.get_all("Output")
            detail = f" ({'; '.join(output)})" if output else ""
            raise AsteriskError(
                f"AMI {name} failed: {response.status}: {response.message}{detail}",
                action=name,
                response=response.status,
                answer=response.message,
                output=output,
            )
        return response

    async def ping(self, timeout: float | None = None) -> AmiResponse:  # noqa: ASYNC109
        """``Action: Ping`` (answer: ``Ping: Pong`` and a Timestamp)."""
        return await self.send_action({"Action": "Ping"}, timeout)

    async def command(self, cli: str, timeout: float | None = None) -> list[str]:  # noqa: ASYNC109
        """Run a CLI command; returns its output lines.

        Asterisk 22 puts the output in ``Output`` headers. An unknown command raises
        AsteriskError; a module whose reload fails still "succeeds": check the lines.
        """
        response = await self.send_action({"Action": "Command", "Command": cli}, timeout)
        return response.get_all("Output")

    async def queue_status(
        self,
        queue: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> QueueStatus:
        """``QueueStatus`` collected from its EventList."""
        action: dict[str, str] = {"Action": "QueueStatus"}
        if queue:
            action["Queue"] = queue
        return parse_queue_status(await self.send_action(action, timeout))

    async def queue_summary(
        self,
        queue: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> list[QueueSummary]:
        """``QueueSummary`` collected from its EventList."""
        action: dict[str, str] = {"Action": "QueueSummary"}
        if queue:
            action["Queue"] = queue
        return parse_queue_summary(await self.send_action(action, timeout))

    async def queue_pause(
        self,
        interface: str,
        paused: bool,
        *,
        queue: str | None = None,
        reason: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> None:
        """``QueuePause`` a member (``PJSIP/agent1``) in one queue or, without ``queue``, all."""
        action: dict[str, str] = {
            "Action": "QueuePause",
            "Interface": interface,
            "Paused": "true" if paused else "false",
        }
        if queue:
            action["Queue"] = queue
        if reason:
            action["Reason"] = reason
        await self.send_action(action, timeout)

    async def pjsip_endpoints(self, timeout: float | None = None) -> list[PjsipEndpoint]:  # noqa: ASYNC109
        """``PJSIPShowEndpoints``; Asterisk answers an Error when none exist: that is []."""
        try:
            response = await self.send_action({"Action": "PJSIPShowEndpoints"}, timeout)
        except AsteriskError as exc:
            if str(exc.details.get("answer", "")).startswith("No endpoints found"):
                return []
            raise
        return parse_pjsip_endpoints(response)

    async def originate(
        self,
        channel: str,
        *,
        context: str | None = None,
        exten: str | None = None,
        priority: int = 1,
        application: str | None = None,
        data: str = "",
        caller_id: str | None = None,
        ring_timeout_ms: int = 30000,
        variables: Mapping[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> OriginateResult:
        """Originate a call (always ``Async: true``) and wait for its OriginateResponse."""
        action: dict[str, str | int | Sequence[str]] = {
            "Action": "Originate",
            "Channel": channel,
            "Timeout": ring_timeout_ms,
            "Async": "true",
        }
        if application:
            action.update(Application=application, Data=data)
        else:
            action.update(Context=context or "default", Exten=exten or "s", Priority=priority)
        if caller_id:
            action["CallerID"] = caller_id
        if variables:
            action["Variable"] = [f"{k}={v}" for k, v in variables.items()]
        wait = timeout if timeout is not None else self.action_timeout + ring_timeout_ms / 1000
        response = await self.send_action(action, wait, as_list=True)
        answers = response.items("OriginateResponse")
        if not answers:
            raise AsteriskError(
                f"AMI Originate {channel}: no OriginateResponse", action="Originate"
            )
        return parse_originate(answers[0])

    async def hangup(self, channel: str, cause: int = 16, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Hang a channel up by name (``PJSIP/agent1-0000000c``) with a Q.850 cause."""
        await self.send_action({"Action": "Hangup", "Channel": channel, "Cause": cause}, timeout)

    async def mix_monitor(
        self,
        channel: str,
        file: str,
        options: str = "",
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> None:
        """Start MixMonitor on a channel (``options`` "b": only while bridged)."""
        action: dict[str, str] = {"Action": "MixMonitor", "Channel": channel, "File": file}
        if options:
            action["Options"] = options
        await self.send_action(action, timeout)

    async def stop_mix_monitor(self, channel: str, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Stop MixMonitor on a channel."""
        await self.send_action({"Action": "StopMixMonitor", "Channel": channel}, timeout)

    async def mute_mix_monitor(
        self,
        channel: str,
        muted: bool,
        direction: str = "both",
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> None:
        """Pause/resume what MixMonitor records (Asterisk 21+ has no PauseMonitor)."""
        await self.send_action(
            {
                "Action": "MixMonitorMute",
                "Channel": channel,
                "Direction": direction,
                "State": "1" if muted else "0",
            },
            timeout,
        )

    # --- events ------------------------------------------------------------------------------

    def on_event(self, name: str, callback: EventCallback) -> EventSubscription:
        """Call ``callback(event)`` for each event called ``name`` (``*`` and globs allowed).

        The callback may be sync or async; it runs in the subscription's own task, in order.
        """
        subscription = EventSubscription(name, callback)
        self._subscriptions.append(subscription)
        return subscription

    def _deliver(self, message: Message) -> None:
        """Called by panoramisk inside data_received: only queue, never run handlers here."""
        name = str(message.get("Event", ""))
        event: AmiEvent | None = None
        for subscription in self._subscriptions:
            if subscription.matches(name):
                if event is None:
                    event = _to_event(message)
                subscription.put(event)
