"""A simulated Asterisk 22.10.1 Manager Interface (AMI) over TCP on loopback.

It speaks AMI the way the real server does in /work/shared/asterisk/captures/*.jsonl: the
banner, Login (a wrong secret is answered about one second later and the connection closed),
ActionID echo, Ping, CoreStatus, Command, list actions as EventLists, the RequestBadFormat
security event for unknown actions, Logoff. Channel events come from the PBX core when one is
given (see :mod:`callcenter.sim.ami_pbx`); without it the server still answers everything that
does not need a channel.

Test controls: ``command_results`` (what a CLI command prints, e.g. a failed reload),
``silent_actions`` (actions the server reads and never answers, to test time-outs),
``drop_connections()`` (the TCP connection drops, as when Asterisk restarts) and ``publish()``
(send any event frame to the logged-in sessions).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from callcenter.sim.ami_frames import (
    BANNER,
    ChannelSnapshot,
    Frame,
    channel_event,
    channel_headers,
    encode_frame,
    event,
    event_tv,
    privilege_class,
)
from callcenter.sim.ami_tables import (
    EndpointRow,
    QueueRow,
    endpoint_list_frame,
    list_complete_frame,
    queue_member_frame,
    queue_params_frame,
    queue_summary_frame,
)
from callcenter.sim.extensions_conf import ExtensionsConf

log = logging.getLogger(__name__)

ASTERISK_VERSION_LINE = (
    "Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on 2026-11-24 15:06:41 UTC"
)
# Login's failure answer comes this long after the request (manager.c sleeps 1 s, capture: 1.0 s).
FAILED_LOGIN_DELAY = 1.0
# Every event class a session can subscribe to with ``Events:`` at Login.
EVENT_CLASSES = frozenset(
    {
        "system",
        "call",
        "log",
        "verbose",
        "command",
        "agent",
        "user",
        "config",
        "dtmf",
        "reporting",
        "cdr",
        "dialplan",
        "originate",
        "agi",
        "cc",
        "aoc",
        "test",
        "security",
        "message",
    }
)
# Modules `module reload NAME` knows about; any other name gets "No such module".
KNOWN_MODULES = frozenset(
    {
        "res_pjsip.so",
        "pbx_config.so",
        "app_queue.so",
        "res_ari.so",
        "res_stasis.so",
        "chan_pjsip.so",
        "app_mixmonitor.so",
        "res_musiconhold.so",
        "manager",
        "http",
        "cdr_pgsql.so",
        "res_http_websocket.so",
        # main/loader.c reload_classes: built-in parts reloadable by name.
        "acl",
        "cdr",
        "cel",
        "dnsmgr",
        "dsp",
        "enum",
        "extconfig",
        "features",
        "indications",
        "logger",
        "plc",
        "sounds",
        "udptl",
    }
)


@dataclass
class CommandResult:
    """What a CLI command run through ``Action: Command`` prints, and whether the CLI succeeded.

    ``success=False`` makes Asterisk answer ``Response: Error`` (with the output still attached):
    that is what an unknown command does. Note that a module whose reload fails still answers
    ``Response: Success`` with "The module '...' reported a reload failure" (main/cli.c
    handle_reload returns CLI_SUCCESS), and ``dialplan reload`` prints "Dialplan reloaded." even
    when extensions.conf had errors (they only go to the log): read the output, not the status.
    """

    output: list[str]
    success: bool = True

    @classmethod
    def module_reload_failed(cls, module: str) -> CommandResult:
        """The answer of ``module reload MODULE`` when the module rejects its new config."""
        return cls([f"The module '{module}' reported a reload failure"])

    @classmethod
    def no_such_command(cls, command: str) -> CommandResult:
        """The answer to a CLI command Asterisk does not know (Response: Error)."""
        return cls(
            [
                f"No such command '{command}' (type 'core show help {command}' for other possible "
                "commands)"
            ],
            success=False,
        )


def default_command_results() -> dict[str, CommandResult]:
    """CLI answers of an Asterisk 22.10.1 whose config is fine (capture, main/cli.c)."""
    return {
        "core show version": CommandResult([ASTERISK_VERSION_LINE]),
        "dialplan reload": CommandResult(["Dialplan reloaded."]),
        # `pjsip reload` is not in the capture; res_pjsip answers like a module reload.
        "pjsip reload": CommandResult(["Module 'res_pjsip.so' reloaded successfully."]),
        "core reload": CommandResult([]),
        "module reload": CommandResult([]),
    }


@dataclass(eq=False)
class AmiSession:
    """One TCP connection to the manager."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    session_id: str
    started: dt.datetime
    authenticated: bool = False
    username: str = ""
    event_classes: frozenset[str] = frozenset()

    @property
    def local_address(self) -> str:
        host, port = self.writer.get_extra_info("sockname")[:2]
        return f"IPV4/TCP/{host}/{port}"

    @property
    def remote_address(self) -> str:
        host, port = self.writer.get_extra_info("peername")[:2]
        return f"IPV4/TCP/{host}/{port}"

    _pending: list[bytes] = field(default_factory=list)
    _flush_scheduled: bool = False

    def send(self, frame: Frame) -> None:
        """Queue one frame for the socket; a closing connection silently drops it (like Asterisk).

        Frames queued in the same loop turn (an EventList, a burst of events) go out in one
        write instead of one syscall each.
        """
        if self.writer.is_closing():
            return
        self._pending.append(encode_frame(frame))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Write every queued frame now."""
        self._flush_scheduled = False
        if self._pending and not self.writer.is_closing():
            self.writer.write(b"".join(self._pending))
        self._pending.clear()

    def wants(self, frame: Frame) -> bool:
        """Whether this session subscribed to the frame's event class."""
        if not self.authenticated:
            return False
        event_class = privilege_class(frame)
        return event_class is not None and event_class in self.event_classes


Headers = list[tuple[str, str]]
ActionHandler = Callable[[AmiSession, Headers], Awaitable[bool]]


def header(headers: Headers, name: str, default: str = "") -> str:
    """First value of a header, matched case-insensitively like astman_get_header."""
    lowered = name.lower()
    for key, value in headers:
        if key.lower() == lowered:
            return value
    return default


def list_start(headers: Headers, message: str) -> Frame:
    """The Success answer that opens an EventList: ``EventList: start`` comes before Message."""
    return [*response("Success", headers), ("EventList", "start"), ("Message", message)]


def response(
    status: str, headers: Headers, *rest: tuple[str, str], message: str | None = None
) -> Frame:
    """``Response``, ``ActionID`` (only when the request had one), ``Message``, then ``rest``."""
    frame: Frame = [("Response", status)]
    action_id = header(headers, "ActionID")
    if action_id:
        frame.append(("ActionID", action_id))
    if message is not None:
        frame.append(("Message", message))
    frame.extend(rest)
    return frame


ACTION_AUTHORITY: dict[str, frozenset[str]] = {
    "command": frozenset({"command"}),
    "corestatus": frozenset({"system", "reporting"}),
    "coreshowchannels": frozenset({"system", "reporting"}),
    "status": frozenset({"system", "call", "reporting"}),
    "hangup": frozenset({"system", "call"}),
    "originate": frozenset({"originate"}),
    "pjsipshowendpoints": frozenset({"system"}),
    "mixmonitor": frozenset({"system"}),
    "stopmixmonitor": frozenset({"system", "call"}),
    "mixmonitormute": frozenset({"system", "call"}),
    "queuepause": frozenset({"agent"}),
}
"""The write classes each action needs (any one of them), as Asterisk 22's modules register
them (``ast_manager_register_xml(name, EVENT_FLAG_..., ...)`` in main/manager.c, res_pjsip,
app_mixmonitor, app_queue). Login, Logoff, Challenge, Ping, Events, QueueStatus and QueueSummary
need none. With the rendered manager.conf (no ``system`` in write) PJSIPShowEndpoints and
MixMonitor are refused, as on a real Asterisk."""


class AmiServer:
    """The simulated manager: owns the listening socket, the sessions and background tasks."""

    def __init__(
        self,
        pbx: Any | None = None,
        *,
        username: str = "callcenter",
        secret: str = "callcenter",
        speed: float | None = None,
    ) -> None:
        # Default: the PBX core's speed factor, so AMI delays scale like the calls do.
        if speed is None:
            speed = float(getattr(pbx, "speed", 1.0)) if pbx is not None else 1.0
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.pbx = pbx
        self.username = username
        self.secret = secret
        self.speed = speed
        self.command_results: dict[str, CommandResult] = default_command_results()
        # What manager.conf grants our user (the rendered one: dialplan/manager.conf.j2).
        self.read_perm = frozenset(
            {"system", "call", "agent", "user", "dtmf", "reporting", "cdr", "dialplan"}
        )
        self.write_perm = frozenset({"call", "agent", "user", "command", "reporting", "originate"})
        self.extensions: ExtensionsConf | None = None
        """The dialplan ``dialplan show`` prints (else the PBX core's routes)."""
        self.queues: list[QueueRow] = []
        self.endpoints: list[EndpointRow] = []
        self.silent_actions: set[str] = set()
        self.host = "127.0.0.1"
        self.port = 0
        self.actions_handled = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[AmiSession] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session_tasks: set[asyncio.Task[Any]] = set()
        self._session_numbers = itertools.count(0x7F2BD40042B0, 0x10)
        self._started_at = time.time()
        self._reloaded_at = self._started_at
        self._processed_calls = 0
        self._handlers: dict[str, ActionHandler] = {
            "login": self._login,
            "logoff": self._logoff,
            "ping": self._ping,
            "corestatus": self._core_status,
            "command": self._command,
            "queuestatus": self._queue_status,
            "queuesummary": self._queue_summary,
            "pjsipshowendpoints": self._pjsip_show_endpoints,
            # Without a PBX core there are no channels: answer like an idle Asterisk.
            "hangup": self._no_such_channel,
            "mixmonitor": self._no_such_channel,
            "stopmixmonitor": self._no_such_channel,
            "mixmonitormute": self._no_such_channel,
            "status": self._empty_status,
            "coreshowchannels": self._empty_core_show_channels,
            "queuepause": self._queue_pause_table,
        }
        self._pbx_bridge: Any = None
        if pbx is not None:
            from callcenter.sim.ami_pbx import PbxBridge

            self._pbx_bridge = PbxBridge(self, pbx)
            self._handlers.update(self._pbx_bridge.action_handlers())

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0 picks a free port, read it from ``.port``)."""
        self._server = await asyncio.start_server(self._serve, host, port)
        self.host, self.port = self._server.sockets[0].getsockname()[:2]
        if self._pbx_bridge is not None:
            self._pbx_bridge.attach()

    async def close(self) -> None:
        """Stop listening, drop every session and cancel background work."""
        if self._pbx_bridge is not None:
            self._pbx_bridge.detach()
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        for task in list(self._session_tasks):
            task.cancel()
        if self._session_tasks:
            await asyncio.wait(list(self._session_tasks), timeout=1.0)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def drop_connections(self) -> None:
        """Close every client connection, as a restarting Asterisk or a broken network does."""
        for session in list(self._sessions):
            session.writer.close()

    @property
    def session_count(self) -> int:
        """Open connections (logged in or not)."""
        return len(self._sessions)

    def spawn(self, coro: Awaitable[None], name: str) -> None:
        """Run background work owned (and cancelled at close) by the server."""
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def delay(self, seconds: float) -> None:
        """Sleep a real-Asterisk duration scaled by the speed factor."""
        await asyncio.sleep(seconds / self.speed)

    # --- events ------------------------------------------------------------------------------

    def publish(self, frame: Frame) -> None:
        """Send an unsolicited event to every logged-in session subscribed to its class."""
        for session in self._sessions:
            if session.wants(frame):
                session.send(frame)

    def call_finished(self) -> None:
        """Count a finished call for CoreStatus' CoreProcessedCalls."""
        self._processed_calls += 1

    # --- connection handling -----------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = AmiSession(
            reader=reader,
            writer=writer,
            session_id=hex(next(self._session_numbers)),
            started=dt.datetime.now(dt.UTC),
        )
        self._sessions.add(session)
        current = asyncio.current_task()
        if current is not None:
            self._session_tasks.add(current)
        writer.write(BANNER)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                if not await self._dispatch(session, request):
                    break
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # close() cancels sessions still reading. This task is the top of the connection
            # (asyncio's client_connected_cb): on 3.11 StreamReaderProtocol calls
            # task.exception() on it, which raises if we let the cancellation out.
            pass
        finally:
            session.flush()  # Goodbye / Authentication failed go out before the close
            self._sessions.discard(session)
            if current is not None:
                self._session_tasks.discard(current)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _dispatch(self, session: AmiSession, request: Headers) -> bool:
        """Run one action; False ends the session (Logoff, failed Login)."""
        action = header(request, "Action")
        name = action.lower()
        self.actions_handled += 1
        if name in self.silent_actions or "*" in self.silent_actions:
            return True  # test control: read it, never answer (a hung Asterisk)
        if not action:
            session.send(response("Error", request, message="Missing action in request"))
            return True
        if not session.authenticated and name not in ("login", "logoff", "challenge"):
            session.send(response("Error", request, message="Permission denied"))
            return True
        handler = self._handlers.get(name)
        if handler is None:
            self._unknown_action(session, request, action)
            return True
        authority = ACTION_AUTHORITY.get(name, frozenset())
        if authority and not authority & self.write_perm:
            # manager.c process_message: an action runs only when the user's write perm shares
            # a class with the action's authority; else "Permission denied".
            session.send(response("Error", request, message="Permission denied"))
            return True
        return await handler(session, request)

    def _unknown_action(self, session: AmiSession, request: Headers, action: str) -> None:
        session.send(
            response(
                "Error",
                request,
                message=f"Invalid/unknown command: {action}. "
                "Use Action: ListCommands to show available commands.",
            )
        )
        # Capture: the security event follows the answer and names the action as sent.
        self.publish(
            event(
                "RequestBadFormat",
                "security,all",
                [
                    ("EventTV", event_tv()),
                    ("Severity", "Error"),
                    ("Service", "AMI"),
                    ("EventVersion", "1"),
                    ("SessionID", session.session_id),
                    ("LocalAddress", session.local_address),
                    ("RemoteAddress", session.remote_address),
                    ("RequestType", f"Action: {action}"),
                    ("SessionTV", event_tv(session.started)),
                    ("AccountID", session.username),
                ],
            )
        )

    # --- actions -----------------------------------------------------------------------------

    async def _login(self, session: AmiSession, request: Headers) -> bool:
        username = header(request, "Username")
        if username != self.username or header(request, "Secret") != self.secret:
            # manager.c action_login: sleep(1) before "Authentication failed", then it
            # returns -1 and the session is closed.
            await self.delay(FAILED_LOGIN_DELAY)
            session.send(response("Error", request, message="Authentication failed"))
            return False
        session.authenticated = True
        session.username = username
        session.event_classes = _event_classes(header(request, "Events", "on"))
        session.send(response("Success", request, message="Authentication accepted"))
        if "system" in session.event_classes:
            session.send(
                event(
                    "FullyBooted",
                    "system,all",
                    [
                        ("Uptime", str(int(time.time() - self._started_at))),
                        ("LastReload", str(int(time.time() - self._reloaded_at))),
                        ("Status", "Fully Booted"),
                    ],
                )
            )
        now = event_tv()
        self.publish(
            event(
                "SuccessfulAuth",
                "security,all",
                [
                    ("EventTV", now),
                    ("Severity", "Informational"),
                    ("Service", "AMI"),
                    ("EventVersion", "1"),
                    ("AccountID", username),
                    ("SessionID", session.session_id),
                    ("LocalAddress", session.local_address),
                    ("RemoteAddress", session.remote_address),
                    ("UsingPassword", "0"),
                    ("SessionTV", event_tv(session.started)),
                ],
            )
        )
        return True

    async def _logoff(self, session: AmiSession, request: Headers) -> bool:
        session.send(response("Goodbye", request, message="Thanks for all the fish."))
        return False

    async def _ping(self, session: AmiSession, request: Headers) -> bool:
        now = time.time()
        session.send(response("Success", request, ("Ping", "Pong"), ("Timestamp", f"{now:.6f}")))
        return True

    async def _core_status(self, session: AmiSession, request: Headers) -> bool:
        started = time.localtime(self._started_at)
        reloaded = time.localtime(self._reloaded_at)
        current_calls = len(self.channels()) if self._pbx_bridge is not None else 0
        session.send(
            response(
                "Success",
                request,
                ("CoreStartupDate", time.strftime("%Y-%m-%d", started)),
                ("CoreStartupTime", time.strftime("%H:%M:%S", started)),
                ("CoreReloadDate", time.strftime("%Y-%m-%d", reloaded)),
                ("CoreReloadTime", time.strftime("%H:%M:%S", reloaded)),
                ("CoreCurrentCalls", str(current_calls)),
                ("CoreProcessedCalls", str(self._processed_calls)),
            )
        )
        return True

    async def _command(self, session: AmiSession, request: Headers) -> bool:
        command = " ".join(header(request, "Command").split())
        if not command:
            session.send(response("Error", request, message="No command provided"))
            return True
        result = self.cli_result(command)
        if result.success and command.lower().split()[-1:] == ["reload"]:
            self._reloaded_at = time.time()
        # Asterisk 13+: the output rides in Output headers of the response itself, one per line;
        # a failing CLI command answers "Error" with the same Message.
        session.send(
            response(
                "Success" if result.success else "Error",
                request,
                *[("Output", line) for line in result.output],
                message="Command output follows",
            )
        )
        return True

    def cli_result(self, command: str) -> CommandResult:
        """What Asterisk's CLI prints for ``command`` (test overrides in command_results first)."""
        key = command.lower()
        if key in self.command_results:
            return self.command_results[key]
        words = command.split()
        if len(words) > 2 and [w.lower() for w in words[:2]] == ["module", "reload"]:
            # main/cli.c handle_reload: one line per module, always CLI_SUCCESS.
            lines = []
            for module in words[2:]:
                override = self.command_results.get(f"module reload {module.lower()}")
                if override is not None:
                    lines.extend(override.output)
                elif module in KNOWN_MODULES:
                    lines.append(f"Module '{module}' reloaded successfully.")
                else:
                    lines.append(f"No such module '{module}'")
            return CommandResult(lines)
        from callcenter.sim.ami_cli import run_cli

        return run_cli(self, command) or CommandResult.no_such_command(command)

    async def _queue_status(self, session: AmiSession, request: Headers) -> bool:
        action_id = header(request, "ActionID") or None
        wanted = header(request, "Queue")
        member_filter = header(request, "Member")
        session.send(list_start(request, "Queue status will follow"))
        items = 0
        for queue in self.queue_rows():
            if wanted and queue.name != wanted:
                continue
            session.send(queue_params_frame(queue, action_id))
            items += 1
            for member in queue.members:
                if member_filter and member.interface != member_filter:
                    continue
                session.send(queue_member_frame(queue, member, action_id))
                items += 1
        session.send(list_complete_frame("QueueStatusComplete", action_id, items))
        return True

    async def _queue_summary(self, session: AmiSession, request: Headers) -> bool:
        action_id = header(request, "ActionID") or None
        wanted = header(request, "Queue")
        session.send(list_start(request, "Queue summary will follow"))
        items = 0
        for queue in self.queue_rows():
            if wanted and queue.name != wanted:
                continue
            session.send(queue_summary_frame(queue, action_id))
            items += 1
        session.send(list_complete_frame("QueueSummaryComplete", action_id, items))
        return True

    async def _pjsip_show_endpoints(self, session: AmiSession, request: Headers) -> bool:
        action_id = header(request, "ActionID") or None
        endpoints = self.endpoint_rows()
        if not endpoints:
            # res_pjsip_pubsub/manager: an empty list is an error, not an empty EventList.
            session.send(response("Error", request, message="No endpoints found"))
            return True
        session.send(
            list_start(request, "A listing of Endpoints follows, presented as EndpointList events")
        )
        for endpoint in endpoints:
            session.send(endpoint_list_frame(endpoint, action_id))
        session.send(list_complete_frame("EndpointListComplete", action_id, len(endpoints)))
        return True

    async def _no_such_channel(self, session: AmiSession, request: Headers) -> bool:
        if not header(request, "Channel"):
            session.send(response("Error", request, message="No channel specified"))
        else:
            session.send(response("Error", request, message="No such channel"))
        return True

    async def _empty_status(self, session: AmiSession, request: Headers) -> bool:
        action_id = header(request, "ActionID") or None
        session.send(list_start(request, "Channel status will follow"))
        session.send(list_complete_frame("StatusComplete", action_id, 0, ("Items", "0")))
        return True

    async def _empty_core_show_channels(self, session: AmiSession, request: Headers) -> bool:
        action_id = header(request, "ActionID") or None
        session.send(list_start(request, "Channels will follow"))
        session.send(list_complete_frame("CoreShowChannelsComplete", action_id, 0))
        return True

    async def _queue_pause_table(self, session: AmiSession, request: Headers) -> bool:
        """QueuePause on the server's own queue table (no PBX core)."""
        interface = header(request, "Interface")
        if not interface:
            session.send(response("Error", request, message="Need 'Interface' parameter."))
            return True
        paused = header(request, "Paused").lower() in ("1", "yes", "true", "on")
        wanted = header(request, "Queue")
        members = [
            member
            for queue in self.queues
            if not wanted or queue.name == wanted
            for member in queue.members
            if member.interface == interface
        ]
        if not members:
            session.send(response("Error", request, message="Interface not found"))
            return True
        for member in members:
            member.paused = paused
            member.paused_reason = header(request, "Reason") if paused else ""
        word = "paused" if paused else "unpaused"
        session.send(response("Success", request, message=f"Interface {word} successfully"))
        return True

    # --- data sources (PBX core when present, else the server's own tables) -----------------

    def queue_rows(self) -> list[QueueRow]:
        """Queues for QueueStatus/QueueSummary."""
        if self._pbx_bridge is not None:
            rows = self._pbx_bridge.queue_rows()
            if rows is not None:
                return list(rows)
        return self.queues

    def endpoint_rows(self) -> list[EndpointRow]:
        """Endpoints for PJSIPShowEndpoints."""
        if self._pbx_bridge is not None:
            rows = self._pbx_bridge.endpoint_rows()
            if rows is not None:
                return list(rows)
        return self.endpoints

    def channels(self) -> list[ChannelSnapshot]:
        """Live channels as AMI sees them (empty without a PBX core)."""
        if self._pbx_bridge is None:
            return []
        return list(self._pbx_bridge.channel_snapshots())


def _event_classes(events_header: str) -> frozenset[str]:
    """Login's ``Events:``: on/yes = everything, off/no = nothing, else a class list."""
    value = events_header.strip().lower()
    if value in ("", "on", "yes", "all", "true"):
        return EVENT_CLASSES
    if value in ("off", "no", "false"):
        return frozenset()
    classes = {part.strip() for part in value.split(",")}
    if "all" in classes:
        return EVENT_CLASSES
    return frozenset(classes & EVENT_CLASSES)


async def _read_request(reader: asyncio.StreamReader) -> Headers | None:
    """Read one action (header lines up to an empty line); None at EOF."""
    headers: Headers = []
    while True:
        raw = await reader.readline()
        if not raw:
            return None
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if headers:
                return headers
            continue
        key, _, value = line.partition(":")
        headers.append((key.strip(), value.strip()))


async def start_ami_server(
    pbx: Any | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    username: str = "callcenter",
    secret: str = "callcenter",
    speed: float | None = None,
) -> AmiServer:
    """Start a simulated AMI server; the handle has ``.port`` and ``await .close()``.

    ``speed`` scales Asterisk's own delays (the 1 s before a failed login's answer); it
    defaults to the PBX core's speed, or 1.0 without one.
    """
    server = AmiServer(pbx, username=username, secret=secret, speed=speed)
    await server.start(host, port)
    log.info("simulated AMI listening on %s:%d (speed x%g)", server.host, server.port, server.speed)
    return server


__all__ = [
    "AmiServer",
    "AmiSession",
    "ChannelSnapshot",
    "CommandResult",
    "EndpointRow",
    "QueueRow",
    "channel_event",
    "channel_headers",
    "start_ami_server",
]
