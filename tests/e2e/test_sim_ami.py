"""The simulated AMI answers like Asterisk 22.10.1 in the capture (raw TCP, no client library)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from callcenter.sim.ami_server import AmiServer, CommandResult, start_ami_server
from callcenter.sim.ami_tables import EndpointRow, QueueMemberRow, QueueRow

Frame = list[tuple[str, str]]
SPEED = 20.0


class RawAmi:
    """A bare AMI connection: write header dicts, read frames exactly as sent."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> tuple[RawAmi, bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        banner = await asyncio.wait_for(reader.readline(), 2)
        return cls(reader, writer), banner

    def send(self, *headers: tuple[str, str]) -> None:
        self.writer.write("".join(f"{k}: {v}\r\n" for k, v in headers).encode() + b"\r\n")

    async def frame(self, timeout: float = 2.0) -> Frame:  # noqa: ASYNC109
        lines: Frame = []
        while True:
            raw = await asyncio.wait_for(self.reader.readline(), timeout)
            if not raw:
                raise EOFError("server closed the connection")
            assert raw.endswith(b"\r\n"), raw
            line = raw[:-2].decode()
            if not line:
                return lines
            key, _, value = line.partition(": ")
            lines.append((key, value))

    async def login(self, secret: str = "callcenter", action_id: str = "login") -> Frame:
        self.send(
            ("Action", "Login"),
            ("Username", "callcenter"),
            ("Secret", secret),
            ("ActionID", action_id),
        )
        return await self.frame()

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def keys(frame: Frame) -> list[str]:
    return [k for k, _ in frame]


@pytest.fixture
async def ami() -> AsyncIterator[AmiServer]:
    server = await start_ami_server(speed=SPEED)
    server.queues = [
        QueueRow(
            "baseline",
            abandoned=1,
            members=[QueueMemberRow(f"PJSIP/agent{i}", login_time=1795533552) for i in (1, 2)],
        )
    ]
    server.endpoints = [
        EndpointRow("agent1", aor="agent1", contacts=["agent1/sip:agent1@127.0.0.3:5081"]),
        EndpointRow("callers", device_state="Unavailable"),
    ]
    yield server
    await server.close()


async def logged_in(server: AmiServer) -> RawAmi:
    conn, _ = await RawAmi.open(server.port)
    assert await conn.login() == [
        ("Response", "Success"),
        ("ActionID", "login"),
        ("Message", "Authentication accepted"),
    ]
    await conn.frame()  # FullyBooted
    await conn.frame()  # SuccessfulAuth
    return conn


async def test_banner_and_good_login_events(ami: AmiServer) -> None:
    conn, banner = await RawAmi.open(ami.port)
    assert banner == b"Asterisk Call Manager/11.0.0\r\n"
    assert (await conn.login())[2] == ("Message", "Authentication accepted")
    booted = await conn.frame()
    assert keys(booted) == ["Event", "Privilege", "Uptime", "LastReload", "Status"]
    assert booted[0] == ("Event", "FullyBooted") and booted[-1] == ("Status", "Fully Booted")
    auth = await conn.frame()
    assert keys(auth) == [
        "Event",
        "Privilege",
        "EventTV",
        "Severity",
        "Service",
        "EventVersion",
        "AccountID",
        "SessionID",
        "LocalAddress",
        "RemoteAddress",
        "UsingPassword",
        "SessionTV",
    ]
    assert dict(auth)["LocalAddress"] == f"IPV4/TCP/127.0.0.1/{ami.port}"
    await conn.close()


async def test_bad_login_answers_after_a_delay_then_closes(ami: AmiServer) -> None:
    conn, _ = await RawAmi.open(ami.port)
    started = time.monotonic()
    answer = await conn.login(secret="wrong", action_id="bad-login")
    waited = time.monotonic() - started
    assert answer == [
        ("Response", "Error"),
        ("ActionID", "bad-login"),
        ("Message", "Authentication failed"),
    ]
    # About one (scaled) second, as manager.c sleeps before answering; not a speed assertion.
    assert waited >= 0.9 / SPEED
    assert await conn.reader.read() == b""  # then Asterisk closes the connection
    await conn.close()


async def test_actions_before_login_are_denied(ami: AmiServer) -> None:
    conn, _ = await RawAmi.open(ami.port)
    conn.send(("Action", "Ping"), ("ActionID", "early"))
    assert await conn.frame() == [
        ("Response", "Error"),
        ("ActionID", "early"),
        ("Message", "Permission denied"),
    ]
    await conn.close()


async def test_ping_echoes_action_id(ami: AmiServer) -> None:
    conn = await logged_in(ami)
    conn.send(("Action", "Ping"), ("ActionID", "a0"))
    pong = await conn.frame()
    assert keys(pong) == ["Response", "ActionID", "Ping", "Timestamp"]
    assert pong[:3] == [("Response", "Success"), ("ActionID", "a0"), ("Ping", "Pong")]
    seconds, _, micros = pong[3][1].partition(".")
    assert seconds.isdigit() and len(micros) == 6
    conn.send(("Action", "Ping"))
    assert keys(await conn.frame()) == ["Response", "Ping", "Timestamp"]  # no ActionID sent
    await conn.close()


async def test_core_status_headers(ami: AmiServer) -> None:
    conn = await logged_in(ami)
    conn.send(("Action", "CoreStatus"), ("ActionID", "a1"))
    assert keys(await conn.frame()) == [
        "Response",
        "ActionID",
        "CoreStartupDate",
        "CoreStartupTime",
        "CoreReloadDate",
        "CoreReloadTime",
        "CoreCurrentCalls",
        "CoreProcessedCalls",
    ]
    await conn.close()


async def test_command_output_as_captured(ami: AmiServer) -> None:
    conn = await logged_in(ami)
    conn.send(("Action", "Command"), ("ActionID", "a2"), ("Command", "core show version"))
    assert await conn.frame() == [
        ("Response", "Success"),
        ("ActionID", "a2"),
        ("Message", "Command output follows"),
        (
            "Output",
            "Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on "
            "2026-11-24 15:06:41 UTC",
        ),
    ]
    conn.send(("Action", "Command"), ("ActionID", "a3"), ("Command", "dialplan reload"))
    assert (await conn.frame())[-1] == ("Output", "Dialplan reloaded.")
    await conn.close()


async def test_command_failures_and_overrides(ami: AmiServer) -> None:
    conn = await logged_in(ami)
    conn.send(("Action", "Command"), ("ActionID", "x"), ("Command", "no such thing"))
    assert await conn.frame() == [
        ("Response", "Error"),
        ("ActionID", "x"),
        ("Message", "Command output follows"),
        (
            "Output",
            "No such command 'no such thing' (type 'core show help no such thing' for "
            "other possible commands)",
        ),
    ]
    ami.command_results["module reload res_pjsip.so"] = CommandResult.module_reload_failed(
        "res_pjsip.so"
    )
    conn.send(("Action", "Command"), ("Command", "module reload res_pjsip.so app_queue.so"))
    # main/cli.c: a failed module reload still answers Success; the output tells.
    assert await conn.frame() == [
        ("Response", "Success"),
        ("Message", "Command output follows"),
        ("Output", "The module 'res_pjsip.so' reported a reload failure"),
        ("Output", "Module 'app_queue.so' reloaded successfully."),
    ]
    ami.command_results["dialplan reload"] = CommandResult(["line one", "line two"], False)
    conn.send(("Action", "Command"), ("Command", "dialplan  reload"))
    assert await conn.frame() == [
        ("Response", "Error"),
        ("Message", "Command output follows"),
        ("Output", "line one"),
        ("Output", "line two"),
    ]
    await conn.close()


async def test_queue_status_event_list_shape(ami: AmiServer) -> None:
    conn = await logged_in(ami)
    conn.send(("Action", "QueueStatus"), ("ActionID", "a4"))
    assert await conn.frame() == [
        ("Response", "Success"),
        ("ActionID", "a4"),
        ("EventList", "start"),
        ("Message", "Queue status will follow"),
    ]
    params = await conn.frame()
    assert keys(params) == [
        "Event",
        "Queue",
        "Max",
        "Strategy",
        "Calls",
        "Holdtime",
        "TalkTime",
        "Completed",
        "Abandoned",
        "ServiceLevel",
        "ServicelevelPerf",
        "ServicelevelPerf2",
        "Weight",
        "ActionID",
    ]
    member = await conn.frame()
    assert keys(member) == [
        "Event",
        "Queue",
        "Name",
        "Location",
        "StateInterface",
        "Membership",
        "Penalty",
        "CallsTaken",
        "LastCall",
        "LastPause",
        "LoginTime",
        "InCall",
        "Status",
        "Paused",
        "PausedReason",
        "Wrapuptime",
        "ActionID",
    ]
    assert dict(member)["Location"] == "PJSIP/agent1"
    await conn.frame()
    assert await conn.frame() == [
        ("Event", "QueueStatusComplete"),
        ("ActionID", "a4"),
        ("EventList", "Complete"),
        ("ListItems", "3"),
    ]
    await conn.close()


async def test_queue_summary_event_list_shape(ami: AmiServer) -> None:
    conn = await logged_in(ami)
    conn.send(("Action", "QueueSummary"), ("ActionID", "a5"))
    assert (await conn.frame())[-1] == ("Message", "Queue summary will follow")
    assert await conn.frame() == [
        ("Event", "QueueSummary"),
        ("Queue", "baseline"),
        ("LoggedIn", "2"),
        ("Available", "2"),
        ("Callers", "0"),
        ("HoldTime", "0"),
        ("TalkTime", "0"),
        ("LongestHoldTime", "0"),
        ("ActionID", "a5"),
    ]
    assert await conn.frame() == [
        ("Event", "QueueSummaryComplete"),
        ("ActionID", "a5"),
        ("EventList", "Complete"),
        ("ListItems", "1"),
    ]
    await conn.close()


async def test_actions_outside_the_users_write_classes_are_refused(ami: AmiServer) -> None:
    """main/manager.c process_message: an action runs only when the user's write perm shares a
    class with the action's authority. The rendered manager.conf grants no `system`, so on a
    real Asterisk 22 PJSIPShowEndpoints (system) and MixMonitor (system) answer "Permission
    denied" while Command, QueueStatus and Ping work."""
    conn = await logged_in(ami)
    for n, action in enumerate(("PJSIPShowEndpoints", "MixMonitor")):
        conn.send(("Action", action), ("ActionID", f"d{n}"))
        assert await conn.frame() == [
            ("Response", "Error"),
            ("ActionID", f"d{n}"),
            ("Message", "Permission denied"),
        ]
    conn.send(("Action", "Ping"), ("ActionID", "p1"))
    assert ("Response", "Success") in await conn.frame()
    conn.send(("Action", "CoreStatus"), ("ActionID", "p2"))  # system or reporting: reporting
    assert ("Response", "Success") in await conn.frame()
    await conn.close()


async def test_pjsip_show_endpoints_shape(ami: AmiServer) -> None:
    ami.write_perm = ami.write_perm | {"system"}  # a user granted `system` (not ours)
    conn = await logged_in(ami)
    conn.send(("Action", "PJSIPShowEndpoints"), ("ActionID", "a6"))
    assert (await conn.frame())[-1] == (
        "Message",
        "A listing of Endpoints follows, presented as EndpointList events",
    )
    agent = await conn.frame()
    assert agent == [
        ("Event", "EndpointList"),
        ("ActionID", "a6"),
        ("ObjectType", "endpoint"),
        ("ObjectName", "agent1"),
        ("Transport", ""),
        ("Aor", "agent1"),
        ("Auths", ""),
        ("OutboundAuths", ""),
        ("Contacts", "agent1/sip:agent1@127.0.0.3:5081,"),
        ("DeviceState", "Not in use"),
        ("ActiveChannels", "0"),
    ]
    callers = await conn.frame()
    assert "Contacts" not in keys(callers)  # no contact: no Contacts header (capture)
    assert await conn.frame() == [
        ("Event", "EndpointListComplete"),
        ("ActionID", "a6"),
        ("EventList", "Complete"),
        ("ListItems", "2"),
    ]
    await conn.close()


async def test_unknown_action_error_then_security_event(ami: AmiServer) -> None:
    conn = await logged_in(ami)
    conn.send(("Action", "NoSuchAction"), ("ActionID", "a7"))
    assert await conn.frame() == [
        ("Response", "Error"),
        ("ActionID", "a7"),
        (
            "Message",
            "Invalid/unknown command: NoSuchAction. Use Action: ListCommands to show "
            "available commands.",
        ),
    ]
    security = await conn.frame()
    assert keys(security) == [
        "Event",
        "Privilege",
        "EventTV",
        "Severity",
        "Service",
        "EventVersion",
        "SessionID",
        "LocalAddress",
        "RemoteAddress",
        "RequestType",
        "SessionTV",
        "AccountID",
    ]
    fields = dict(security)
    assert fields["Event"] == "RequestBadFormat"
    assert fields["Privilege"] == "security,all"
    assert fields["RequestType"] == "Action: NoSuchAction"
    assert fields["AccountID"] == "callcenter"
    await conn.close()


async def test_pause_monitor_is_gone_in_asterisk_22(ami: AmiServer) -> None:
    # res_monitor (Monitor/PauseMonitor) was removed in Asterisk 21: unknown action in 22.
    conn = await logged_in(ami)
    conn.send(("Action", "PauseMonitor"), ("Channel", "PJSIP/x-1"))
    assert (await conn.frame())[0] == ("Response", "Error")
    await conn.close()


async def test_logoff_says_goodbye_and_closes(ami: AmiServer) -> None:
    conn = await logged_in(ami)
    conn.send(("Action", "Logoff"), ("ActionID", "bye"))
    assert await conn.frame() == [
        ("Response", "Goodbye"),
        ("ActionID", "bye"),
        ("Message", "Thanks for all the fish."),
    ]
    assert await conn.reader.read() == b""
    await conn.close()


async def test_events_off_and_publish_filtering(ami: AmiServer) -> None:
    quiet, _ = await RawAmi.open(ami.port)
    quiet.send(
        ("Action", "Login"), ("Username", "callcenter"), ("Secret", "callcenter"), ("Events", "off")
    )
    assert (await quiet.frame())[0] == ("Response", "Success")
    loud = await logged_in(ami)
    ami.publish(
        [
            ("Event", "DeviceStateChange"),
            ("Privilege", "call,all"),
            ("Device", "PJSIP/agent1"),
            ("State", "INUSE"),
        ]
    )
    assert (await loud.frame())[0] == ("Event", "DeviceStateChange")
    quiet.send(("Action", "Ping"), ("ActionID", "p"))
    assert (await quiet.frame())[0] == ("Response", "Success")  # no event came before it
    await quiet.close()
    await loud.close()


async def test_silent_actions_are_never_answered(ami: AmiServer) -> None:
    conn = await logged_in(ami)
    ami.silent_actions.add("ping")
    conn.send(("Action", "Ping"), ("ActionID", "lost"))
    conn.send(("Action", "CoreStatus"), ("ActionID", "next"))
    assert dict(await conn.frame())["ActionID"] == "next"
    await conn.close()


async def test_drop_connections_closes_sockets(ami: AmiServer) -> None:
    conn = await logged_in(ami)
    ami.drop_connections()
    assert await conn.reader.read() == b""
    await conn.close()


async def test_login_events_filter_by_class(ami: AmiServer) -> None:
    conn, _ = await RawAmi.open(ami.port)
    conn.send(
        ("Action", "Login"), ("Username", "callcenter"), ("Secret", "callcenter"),
        ("Events", "call,agent"),
    )  # fmt: skip
    assert (await conn.frame())[0] == ("Response", "Success")
    ami.publish([("Event", "Reload"), ("Privilege", "system,all"), ("Module", "x")])
    ami.publish([("Event", "DeviceStateChange"), ("Privilege", "call,all"),
                 ("Device", "PJSIP/agent1"), ("State", "INUSE")])  # fmt: skip
    # No FullyBooted (system) nor SuccessfulAuth (security) for this session.
    assert (await conn.frame())[0] == ("Event", "DeviceStateChange")
    await conn.close()


async def test_channel_actions_without_a_pbx_core(ami: AmiServer) -> None:
    conn = await logged_in(ami)
    conn.send(("Action", "Hangup"), ("Channel", "PJSIP/agent1-00000001"), ("ActionID", "h"))
    assert await conn.frame() == [
        ("Response", "Error"), ("ActionID", "h"), ("Message", "No such channel"),
    ]  # fmt: skip
    conn.send(("Action", "Status"), ("ActionID", "s"))
    assert (await conn.frame())[-2:] == [
        ("EventList", "start"), ("Message", "Channel status will follow"),
    ]  # fmt: skip
    assert await conn.frame() == [
        ("Event", "StatusComplete"), ("ActionID", "s"), ("EventList", "Complete"),
        ("ListItems", "0"), ("Items", "0"),
    ]  # fmt: skip
    conn.send(("Action", "QueuePause"), ("Interface", "PJSIP/agent2"), ("Paused", "true"),
              ("Reason", "lunch"))  # fmt: skip
    assert await conn.frame() == [
        ("Response", "Success"), ("Message", "Interface paused successfully"),
    ]  # fmt: skip
    assert ami.queues[0].members[1].paused_reason == "lunch"
    await conn.close()
