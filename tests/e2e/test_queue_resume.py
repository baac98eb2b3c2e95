"""Calls survive a worker restart: a caller waiting in a queue when the worker dies (SIGKILL)
keeps their call id, their place and their CDR once the same worker comes back; a caller
talking to an agent keeps the conversation, which ends answered with its whole talk time and
its recording fetched; recordings nobody fetched are fetched at the next start.

The first worker is ``callcenter run`` in a process of its own, killed with SIGKILL while the
caller waits: Asterisk (simulated) keeps the caller in the app. The second is a
``CallCenterRuntime`` in the test, with the same worker id and the same SQLite database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from callcenter.config import CallCenterConfig, parse_config
from callcenter.recording.storage import path_of
from callcenter.routing.adoption import TalkFacts, parse_talk_bridge
from callcenter.runtime import CallCenterRuntime, RuntimeOptions
from callcenter.sim.ari_server import AriServer, start_ari_server
from callcenter.sim.pbx import EndpointBehaviour, SimCall, SimulatedAsterisk, Stasis

APP = "cc-resume"
PASSWORD = "sekrit-ari"
SPEED = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def raw_config(ari_url: str, tmp_path: Path) -> dict[str, Any]:
    """Two sales agents, one queue that never overflows during the test, SQLite."""
    return {
        "asterisk": {
            "ari": {"url": ari_url, "password": PASSWORD, "app": APP},
            "ami": {"port": 1, "secret": "x"},  # no AMI: the worker copes and retries
        },
        "database": {
            "url": f"sqlite:///{tmp_path / 'cc.db'}",
            "spool_dir": str(tmp_path / "spool"),
            "flush_interval_ms": 20,
        },
        "recordings": {"directory": str(tmp_path / "rec"), "default": {"record": "none"}},
        "api": {
            "host": "127.0.0.1",
            "port": free_port(),
            "token": "t0ken-for-test-0123456789abcdefghijklmnop",
        },
        "skills": ["sales"],
        "agents": [
            {"id": "sale1", "name": "Sale One", "endpoint": "PJSIP/1001", "skills": {"sales": 5}},
            {"id": "sale2", "name": "Sale Two", "endpoint": "PJSIP/1002", "skills": {"sales": 5}},
        ],
        "queues": {
            "sales": {
                "name": "Sales",
                "skills": [{"skill": "sales"}],
                "ring_timeout": 10,
                "wrapup_seconds": 0,
                "announce_position_every": 0,
                "max_wait_seconds": 3600,
            }
        },
        "ivr": {
            "numbers": {"100": "main"},
            "operator_queue": "sales",
            "menus": {
                "main": {
                    "prompts": ["sound:hello-world"],
                    "choices": {"2": {"queue": "sales"}, "3": {"menu": "more"}},
                },
                "more": {"prompts": ["sound:beep"], "choices": {"4": {"queue": "sales"}}},
            },
        },
    }


@dataclass
class Site:
    pbx: SimulatedAsterisk
    server: AriServer
    raw: dict[str, Any]
    config_file: Path
    db_file: Path

    def config(self) -> CallCenterConfig:
        return parse_config(self.raw, str(self.config_file), env={})


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    pbx = SimulatedAsterisk(speed=SPEED, recordings_dir=tmp_path / "ast")
    pbx.add_sound("hello-world", 1.0)
    pbx.add_sound("beep", 0.5)
    pbx.dialplan.route("100", Stasis(APP))
    for n in (1, 2):
        pbx.register_endpoint("PJSIP", f"100{n}", EndpointBehaviour.answer_after(0.5))
    server = await start_ari_server(pbx, "127.0.0.1", 0, "callcenter", PASSWORD)
    raw = raw_config(server.url, tmp_path)
    config_file = tmp_path / "cc.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    yield Site(pbx, server, raw, config_file, tmp_path / "cc.db")
    await server.close()
    await pbx.close()


async def until(condition: Callable[[], object], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


def query(db_file: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    if not db_file.exists():
        return []
    db = sqlite3.connect(db_file)
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        return []  # not migrated yet
    finally:
        db.close()


def waiting_entries(db_file: Path) -> list[tuple[Any, ...]]:
    """(call_id, queue_id, entered_at) of the open queue entries, first come first."""
    return query(
        db_file,
        "select call_id, queue_id, entered_at from queue_entries where left_at is null"
        " order by entered_at",
    )


async def start_first_worker(site: Site) -> asyncio.subprocess.Process:
    cli = str(Path(sys.executable).with_name("callcenter"))
    process = await asyncio.create_subprocess_exec(
        cli,
        "run",
        "--config",
        str(site.config_file),
        "--speed",
        str(SPEED),
        "--http-port",
        "0",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    app = APP
    await until(lambda: app in site.pbx.apps and site.pbx.apps[app].sink is not None, 30)
    return process


async def kill(process: asyncio.subprocess.Process) -> None:
    """The worker dies without a word: no drain, no hang-up, nothing more written."""
    process.send_signal(signal.SIGKILL)
    await process.wait()


async def into_queue(site: Site, number: str, *digits: str) -> SimCall:
    caller = site.pbx.place_inbound_call("100", number)
    for digit in digits:
        await caller.wait_for("playback_started", timeout=10)
        caller.send_dtmf(digit)
    return caller


async def second_runtime(site: Site) -> CallCenterRuntime:
    runtime = CallCenterRuntime(
        site.config(), RuntimeOptions(speed=SPEED, http_port=None, serve_api=False)
    )
    await runtime.start()
    return runtime


async def test_a_waiting_caller_keeps_call_place_and_record_across_a_restart(site: Site) -> None:
    first = await start_first_worker(site)
    try:
        caller = await into_queue(site, "+15550001", "3", "4")
        await until(lambda: waiting_entries(site.db_file))
        (call_id, _, _), *_ = waiting_entries(site.db_file)
        await until(lambda: query(site.db_file, "select queue_id from calls") == [("sales",)])
        await asyncio.sleep(0.3)  # some waiting before the crash
    finally:
        await kill(first)
    assert caller.channel_id in site.pbx.apps[APP].channel_ids  # Asterisk keeps the caller

    heard_before = len(caller.history)
    restarted_at = time.time()
    runtime = await second_runtime(site)
    try:
        assert runtime.worker is not None and runtime.service is not None
        await asyncio.wait_for(runtime.worker.takeover_done.wait(), 10)
        assert list(runtime.worker.sessions) == [call_id]  # the same call, not a new one
        assert runtime.service.in_queue(call_id)
        # Music again, from the resumed call.
        await until(lambda: any(e.kind == "moh_started" for e in caller.history[heard_before:]))
        await runtime.service.login("sale1")
        await caller.wait_for("bridged", timeout=10)
        caller.hangup()
        await until(lambda: not runtime.worker.sessions)  # type: ignore[union-attr]
    finally:
        await runtime.close()

    rows = query(
        site.db_file,
        "select call_id, disposition, agent_id, wait_seconds, ivr_path, digits, queue_id,"
        " answered_at from calls",
    )
    assert len(rows) == 1
    row_call, disposition, agent, wait_seconds, ivr_path, digits, queue, answered = rows[0]
    assert (row_call, disposition, agent, queue) == (call_id, "answered", "sale1", "sales")
    assert yaml.safe_load(ivr_path) == ["main", "more"]  # the IVR before the restart
    assert yaml.safe_load(digits) == ["3", "4"]
    # The wait counts from the first entry, before the restart: longer than from the restart to
    # the answer (the worker's own answer time, not when this test noticed the bridge).
    answered_at = dt.datetime.fromisoformat(str(answered)).replace(tzinfo=dt.UTC).timestamp()
    assert wait_seconds > answered_at - restarted_at
    entries = query(site.db_file, "select call_id, outcome, agent_id from queue_entries")
    assert entries == [(call_id, "answered", "sale1")]
    events = query(
        site.db_file, "select kind from call_events where call_id = ? order by seq", call_id
    )
    kinds = [kind for (kind,) in events]
    assert kinds.count("call_start") == 1 and "resumed" in kinds and kinds[-1] == "call_end"
    assert "failed" not in str(events)


async def test_two_waiting_callers_keep_their_order_across_a_restart(site: Site) -> None:
    first = await start_first_worker(site)
    try:
        # The first caller in dials first but chooses later: the second is first in the queue
        # (Asterisk lists the channels the other way round).
        later = site.pbx.place_inbound_call("100", "+15550001")
        await later.wait_for("playback_started", timeout=10)
        sooner = await into_queue(site, "+15550002", "2")
        await until(lambda: len(waiting_entries(site.db_file)) == 1)
        await asyncio.sleep(0.2)
        later.send_dtmf("2")
        await until(lambda: len(waiting_entries(site.db_file)) == 2)
        order = [call_id for call_id, _, _ in waiting_entries(site.db_file)]
    finally:
        await kill(first)

    runtime = await second_runtime(site)
    try:
        assert runtime.worker is not None and runtime.service is not None
        await asyncio.wait_for(runtime.worker.takeover_done.wait(), 10)
        assert set(runtime.worker.sessions) == set(order)
        await runtime.service.login("sale1")
        await sooner.wait_for("bridged", timeout=10)
        assert not later.bridged_with  # still waiting: one agent, and it took the first
        sooner.hangup()
        await later.wait_for("bridged", timeout=10)
        later.hangup()
        await until(lambda: not runtime.worker.sessions)  # type: ignore[union-attr]
    finally:
        await runtime.close()

    rows = query(site.db_file, "select call_id, disposition from calls order by answered_at")
    assert rows == [(order[0], "answered"), (order[1], "answered")]


# --- conversations --------------------------------------------------------------------------


def with_recording(site: Site, wrapup_seconds: float = 0) -> None:
    """The sales queue records its conversations; agents wrap up for ``wrapup_seconds``."""
    site.raw["queues"]["sales"].update(recording={"record": "agent"}, wrapup_seconds=wrapup_seconds)
    site.config_file.write_text(yaml.safe_dump(site.raw))


async def log_in_through_the_api(site: Site, agent_id: str) -> None:
    api = site.raw["api"]
    url = f"http://{api['host']}:{api['port']}/api/agents/{agent_id}/login"
    headers = {"Authorization": f"Bearer {api['token']}"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        async with asyncio.timeout(20):
            while True:
                try:
                    async with http.post(url, headers=headers) as reply:
                        if reply.status == 200:
                            return
                except aiohttp.ClientError:
                    pass  # the API is not up yet
                await asyncio.sleep(0.05)


def talk_bridge(site: Site) -> tuple[str, TalkFacts]:
    """The one conversation bridge in Asterisk and what its name says."""
    ((bridge_id, bridge),) = site.pbx.bridges.items()
    facts = parse_talk_bridge(bridge.name)
    assert facts is not None, bridge.name
    return bridge_id, facts


def spool(site: Site) -> list[str]:
    """Recordings left in Asterisk's spool."""
    return [name for name, _ in site.pbx.stored_recordings()]


async def test_a_conversation_goes_on_across_a_sigkill_and_ends_answered_with_its_talk_time(
    site: Site,
) -> None:
    with_recording(site, wrapup_seconds=40)  # 2 s at speed 20
    first = await start_first_worker(site)
    try:
        await log_in_through_the_api(site, "sale1")
        caller = await into_queue(site, "+15550001", "2")
        await caller.wait_for("bridged", timeout=10)
        connected_at = time.time()
        await until(lambda: site.pbx.live_recordings)
        recording_from = time.time()
        browsing = site.pbx.place_inbound_call("100", "+15550009")  # in the IVR at the crash
        await browsing.wait_for("playback_started", timeout=10)
        await asyncio.sleep(0.3)  # 6 PBX seconds of conversation
    finally:
        await kill(first)
    # Asterisk keeps both legs in the app, in their bridge, and the recording goes on.
    _, facts = talk_bridge(site)
    (agent_leg,) = caller.bridged_with
    assert {caller.channel_id, agent_leg} <= site.pbx.apps[APP].channel_ids
    assert (facts.agent_id, facts.queue_id) == ("sale1", "sales")
    assert facts.call_id in site.pbx.live_recordings
    heard_in_ivr = len(browsing.heard)

    runtime = await second_runtime(site)
    try:
        assert runtime.worker is not None and runtime.service is not None
        await asyncio.wait_for(runtime.worker.takeover_done.wait(), 10)
        assert facts.call_id in runtime.worker.sessions  # the same call, adopted
        await until(lambda: runtime.service.dispatcher.agent_state("sale1").value == "on_call")  # type: ignore[union-attr]
        # The caller in the IVR hears the menu again (a new call), not silence.
        await until(lambda: len(browsing.heard) > heard_in_ivr)
        browsing.hangup()  # (left alone, the menu would send them on to the operator queue)
        await asyncio.sleep(0.3)
        assert not caller.ended and caller.bridged_with == [agent_leg]  # nobody was cut
        caller.hangup()
        hung_up_at = time.time()
        await until(lambda: facts.call_id not in runtime.worker.sessions)  # type: ignore[union-attr]
        assert runtime.service.dispatcher.agent_state("sale1").value == "wrapup"
        assert site.pbx.bridges == {}  # the bridge is deleted
        assert agent_leg not in site.pbx.channels  # and the agent's leg hung up
        await until(lambda: facts.call_id not in spool(site))  # fetched, then deleted
        await until(lambda: runtime.service.dispatcher.agent_state("sale1").value == "available")
        await until(lambda: not runtime.worker.sessions)  # type: ignore[union-attr]
    finally:
        await runtime.close()

    rows = query(
        site.db_file,
        "select disposition, agent_id, queue_id, talk_seconds, recording_name, hangup_side"
        " from calls where call_id = ?",
        facts.call_id,
    )
    assert len(rows) == 1
    disposition, agent, queue, talk_seconds, recording_name, side = rows[0]
    assert (disposition, agent, queue, side) == ("answered", "sale1", "sales", "caller")
    # The whole conversation, across the restart (CDR times are wall-clock).
    assert talk_seconds >= hung_up_at - connected_at - 0.05
    assert recording_name == facts.call_id
    (recording,) = query(
        site.db_file,
        "select call_id, agent_id, storage_url, sha256, duration_seconds from recordings",
    )
    call_id, rec_agent, storage_url, sha256, duration = recording
    assert (call_id, rec_agent) == (facts.call_id, "sale1")
    assert hashlib.sha256(path_of(storage_url).read_bytes()).hexdigest() == sha256
    assert duration >= (hung_up_at - recording_from) * SPEED  # recorded throughout
    kinds = [
        kind
        for (kind,) in query(
            site.db_file,
            "select kind from call_events where call_id = ? order by seq",
            facts.call_id,
        )
    ]
    assert kinds.count("call_start") == 1 and "resumed" in kinds and kinds[-1] == "call_end"
    assert "failed" not in str(kinds)
    legs = query(
        site.db_file, "select agent_id, outcome from call_legs where call_id = ?", facts.call_id
    )
    assert legs == [("sale1", "answered")]


async def test_recordings_a_dead_worker_never_fetched_are_fetched_at_the_next_start(
    site: Site,
) -> None:
    with_recording(site)
    first = await start_first_worker(site)
    try:
        await log_in_through_the_api(site, "sale1")
        caller = await into_queue(site, "+15550001", "2")
        await caller.wait_for("bridged", timeout=10)
        await asyncio.sleep(0.2)
    finally:
        await kill(first)
    bridge_id, facts = talk_bridge(site)
    # With no worker, both hang up: the recording ends (its recorder is alone in the bridge)
    # and nobody hears its RecordingFinished; the bridge stays, empty.
    agent_phone = site.pbx.endpoints["PJSIP/1001"].handle
    assert agent_phone is not None
    caller.hangup()
    agent_phone.calls[-1].hangup()
    await until(lambda: facts.call_id in spool(site) and not site.pbx.live_recordings)
    assert site.pbx.bridges[bridge_id].channel_ids == []

    runtime = await second_runtime(site)
    try:
        await until(lambda: not spool(site))  # fetched, stored, deleted from Asterisk
        await until(lambda: not site.pbx.bridges)  # the deserted bridge is deleted
    finally:
        await runtime.close()
    (recording,) = query(
        site.db_file,
        "select name, call_id, agent_id, queue_id, storage_url, sha256 from recordings",
    )
    name, call_id, agent, queue, storage_url, sha256 = recording
    assert (name, call_id, agent, queue) == (facts.call_id, facts.call_id, "sale1", "sales")
    assert hashlib.sha256(path_of(storage_url).read_bytes()).hexdigest() == sha256
