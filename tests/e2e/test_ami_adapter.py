"""Our panoramisk-based AmiClient over the wire against the simulated Asterisk 22 AMI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from callcenter.asterisk.ami import AmiClient, AmiLoginRefused, AmiTimeout
from callcenter.asterisk.ami_messages import AmiEvent
from callcenter.errors import AsteriskError, AsteriskUnavailable
from callcenter.sim.ami_server import AmiServer, CommandResult, start_ami_server
from callcenter.sim.ami_tables import EndpointRow, QueueMemberRow, QueueRow

SPEED = 50.0


@pytest.fixture
async def ami() -> AsyncIterator[AmiServer]:
    server = await start_ami_server(speed=SPEED)
    server.queues = [
        QueueRow(
            "baseline",
            members=[
                QueueMemberRow("PJSIP/agent1"),
                QueueMemberRow("PJSIP/agent2", paused=True, paused_reason="lunch"),
            ],
        )
    ]
    server.endpoints = [EndpointRow("agent1", aor="agent1", contacts=["agent1/sip:a@h:5081"])]
    yield server
    await server.close()


def client_for(server: AmiServer, **options: object) -> AmiClient:
    settings: dict[str, object] = {
        "connect_timeout": 1.0,
        "login_timeout": 1.0,
        "action_timeout": 1.0,
        "connect_attempts": 3,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "keepalive_interval": None,
    }
    settings.update(options)
    return AmiClient("127.0.0.1", server.port, "callcenter", "callcenter", **settings)  # type: ignore[arg-type]


@pytest.fixture
async def client(ami: AmiServer) -> AsyncIterator[AmiClient]:
    ami_client = client_for(ami)
    await ami_client.connect()
    yield ami_client
    await ami_client.close()


async def test_ping_and_command(client: AmiClient) -> None:
    pong = await client.ping()
    assert pong.get("Ping") == "Pong"
    assert await client.command("core show version") == [
        "Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on 2026-11-24 15:06:41 UTC"
    ]
    assert await client.command("dialplan reload") == ["Dialplan reloaded."]


async def test_multi_line_command_output(ami: AmiServer, client: AmiClient) -> None:
    ami.command_results["core show uptime"] = CommandResult(["System uptime: 1 hour", "x: 2"])
    assert await client.command("core show uptime") == ["System uptime: 1 hour", "x: 2"]


async def test_error_response_raises_asterisk_error(client: AmiClient) -> None:
    with pytest.raises(AsteriskError) as caught:
        await client.send_action({"Action": "NoSuchAction"})
    error = caught.value
    assert error.details["action"] == "NoSuchAction"
    assert error.details["response"] == "Error"
    assert error.details["answer"].startswith("Invalid/unknown command: NoSuchAction")
    assert "NoSuchAction" in str(error)


async def test_failed_cli_command_raises_with_output(ami: AmiServer, client: AmiClient) -> None:
    ami.command_results["dialplan reload"] = CommandResult(["config broken"], success=False)
    with pytest.raises(AsteriskError) as caught:
        await client.command("dialplan reload")
    assert caught.value.details["output"] == ["config broken"]
    assert "config broken" in str(caught.value)


async def test_queue_status_collects_the_event_list(client: AmiClient) -> None:
    status = await client.queue_status()
    assert [q.queue for q in status.queues] == ["baseline"]
    assert [(m.interface, m.paused, m.paused_reason) for m in status.members_of("baseline")] == [
        ("PJSIP/agent1", False, ""),
        ("PJSIP/agent2", True, "lunch"),
    ]
    [summary] = await client.queue_summary()
    assert (summary.queue, summary.logged_in, summary.available) == ("baseline", 2, 1)


async def test_pjsip_endpoints(ami: AmiServer, client: AmiClient) -> None:
    ami.write_perm = ami.write_perm | {"system"}  # PJSIPShowEndpoints needs `system` in write
    [endpoint] = await client.pjsip_endpoints()
    assert endpoint.name == "agent1"
    assert endpoint.contacts == ("agent1/sip:a@h:5081",)
    ami.endpoints = []
    assert await client.pjsip_endpoints() == []


async def test_wrong_secret_is_refused_without_retrying(ami: AmiServer) -> None:
    bad = AmiClient("127.0.0.1", ami.port, "callcenter", "wrong", login_timeout=2.0)
    with pytest.raises(AmiLoginRefused) as caught:
        await bad.connect()
    assert caught.value.details["answer"] == "Authentication failed"
    assert ami.actions_handled == 1  # one Login, no retry loop like panoramisk's own
    await bad.close()


async def test_unreachable_server_gives_up_after_attempts(ami: AmiServer) -> None:
    port = ami.port
    await ami.close()
    lonely = AmiClient(
        "127.0.0.1",
        port,
        "callcenter",
        "callcenter",
        connect_attempts=2,
        backoff_initial=0.01,
        connect_timeout=0.5,
    )
    with pytest.raises(AsteriskUnavailable) as caught:
        await lonely.connect()
    assert caught.value.details["attempts"] == 2
    await lonely.close()


async def test_unanswered_action_times_out(ami: AmiServer, client: AmiClient) -> None:
    ami.silent_actions.add("corestatus")
    with pytest.raises(AmiTimeout) as caught:
        await client.send_action({"Action": "CoreStatus"}, timeout=0.1)
    assert caught.value.details == {"action": "CoreStatus", "timeout": 0.1}
    assert (await client.ping()).ok  # the connection is still usable


async def test_reconnects_after_the_server_drops_the_connection(
    ami: AmiServer, client: AmiClient
) -> None:
    booted = asyncio.Event()
    client.on_event("FullyBooted", lambda event: booted.set())
    ami.drop_connections()
    await asyncio.wait_for(booted.wait(), 5)  # FullyBooted comes after every (re)login
    assert (await client.ping(timeout=2)).ok
    assert client.reconnects == 1


async def test_asterisk_restart_actions_wait_for_the_reconnect(ami: AmiServer) -> None:
    watchful = client_for(ami, backoff_initial=0.05, backoff_max=0.1)
    await watchful.connect()
    port = ami.port
    await ami.close()  # Asterisk stops: connection refused until it is back
    for _ in range(200):  # the client notices the EOF on one of its next loop turns
        if not watchful.connected:
            break
        await asyncio.sleep(0.01)
    assert not watchful.connected

    async def restart() -> AmiServer:
        await asyncio.sleep(0.3)
        return await start_ami_server(port=port, speed=SPEED)

    restarted = asyncio.create_task(restart())
    # Sent while Asterisk is down: waits for the new connection and login, then runs.
    assert (await watchful.ping(timeout=5)).ok
    assert watchful.reconnects == 1
    await watchful.close()
    await (await restarted).close()


async def test_action_in_flight_fails_when_connection_drops(
    ami: AmiServer, client: AmiClient
) -> None:
    ami.silent_actions.add("corestatus")
    pending = asyncio.create_task(client.send_action({"Action": "CoreStatus"}, timeout=5))
    await asyncio.sleep(0.05)
    ami.drop_connections()
    with pytest.raises(AsteriskUnavailable, match="connection lost"):
        await pending
    ami.silent_actions.clear()
    assert (await client.ping(timeout=2)).ok


async def test_keepalive_drops_a_silent_connection_and_reconnects(ami: AmiServer) -> None:
    watchful = client_for(ami, keepalive_interval=0.05, action_timeout=0.1)
    logins: asyncio.Queue[AmiEvent] = asyncio.Queue()
    watchful.on_event("FullyBooted", logins.put_nowait)
    await watchful.connect()
    await asyncio.wait_for(logins.get(), 2)
    ami.silent_actions.add("ping")
    # The unanswered keepalive ping aborts the socket; the supervisor logs in again.
    await asyncio.wait_for(logins.get(), 5)
    ami.silent_actions.clear()
    assert (await watchful.send_action({"Action": "CoreStatus"}, timeout=2)).ok
    assert watchful.reconnects >= 1
    await watchful.close()


async def test_events_reach_callbacks_without_blocking_each_other(
    ami: AmiServer, client: AmiClient
) -> None:
    slow_started = asyncio.Event()
    release = asyncio.Event()
    fast: asyncio.Queue[AmiEvent] = asyncio.Queue()

    async def slow(event: AmiEvent) -> None:
        slow_started.set()
        await release.wait()

    client.on_event("DeviceStateChange", slow)
    client.on_event("Device*", fast.put_nowait)
    for state in ("INUSE", "NOT_INUSE", "RINGING"):
        ami.publish(device_state_event(state))
    await asyncio.wait_for(slow_started.wait(), 2)
    states = [(await asyncio.wait_for(fast.get(), 2)).get("State") for _ in range(3)]
    assert states == ["INUSE", "NOT_INUSE", "RINGING"]
    assert (await client.ping()).ok  # the reader is not held up by the slow handler
    release.set()


async def test_failing_callback_does_not_stop_delivery(ami: AmiServer, client: AmiClient) -> None:
    seen: asyncio.Queue[str] = asyncio.Queue()

    def flaky(event: AmiEvent) -> None:
        seen.put_nowait(event.get("State"))
        if event.get("State") == "INUSE":
            raise RuntimeError("handler bug")

    client.on_event("DeviceStateChange", flaky)
    for state in ("INUSE", "NOT_INUSE"):
        ami.publish(device_state_event(state))
    assert [await asyncio.wait_for(seen.get(), 2) for _ in range(2)] == ["INUSE", "NOT_INUSE"]


def device_state_event(state: str) -> list[tuple[str, str]]:
    return [
        ("Event", "DeviceStateChange"),
        ("Privilege", "call,all"),
        ("Device", "PJSIP/agent1"),
        ("State", state),
    ]


async def test_close_logs_off(ami: AmiServer) -> None:
    ami_client = client_for(ami)
    await ami_client.connect()
    await ami_client.close()
    assert not ami_client.connected
    with pytest.raises(AsteriskUnavailable):
        await ami_client.ping()
