"""The worker against Asterisk 22.10.1's real event order, through the simulated Asterisk.

Each case was seen on a real Asterisk with the project's rendered config
(``../shared/asterisk/README.md``, "Seen with the project's own rendered config"):

- RecordingFinished comes after both legs of a recorded conversation are destroyed, then
  BridgeDestroyed: the recording is still fetched, checksummed and linked to its CDR;
- a WebSocket drop in the middle of a prompt: the IVR carries on (its PlaybackFinished fell
  in the gap);
- a request time-out on play or answer: the call carries on, not "asterisk-error";
- an agent's phone going offline: not rung (no failed ``channels/create``), shown
  unreachable, back when online;
- a draining worker sends new callers to the dialplan's fallback.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from callcenter.cdr.writer import CdrWriter
from callcenter.db.engine import make_engine, upgrade
from callcenter.db.models import Call, Recording
from callcenter.recording.storage import path_of
from callcenter.routing.testing import (
    PASSWORD,
    USER,
    CenterUnderTest,
    make_config,
    running_center,
)
from callcenter.sim.pbx import Queue

SPY = "spy"


class Spy:
    """A second app with ``subscribeAll``, as the capture's own: every event, in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.seen.append(json.loads(message.data))

    def order(self, *types: str) -> list[tuple[str, str]]:
        """(type, channel id or bridge id or recording name) of the events of ``types``."""
        found = []
        for event in self.seen:
            if event["type"] not in types:
                continue
            what = (
                event.get("channel", {}).get("id")
                or event.get("recording", {}).get("name")
                or event.get("bridge", {}).get("id")
            )
            found.append((event["type"], what))
        return found

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)


@pytest.fixture
async def cdr(tmp_path: Path) -> AsyncIterator[tuple[CdrWriter, str]]:
    url = f"sqlite:///{tmp_path / 'cc.db'}"
    upgrade(url)
    writer = CdrWriter(url, tmp_path / "spool", flush_interval_ms=10)
    await writer.start()
    yield writer, url
    await writer.close()


async def spy_on(center: CenterUnderTest, session: aiohttp.ClientSession) -> Spy:
    ws = await session.ws_connect(
        center.server.ws_url,
        params={"app": SPY, "subscribeAll": "true", "api_key": f"{USER}:{PASSWORD}"},
    )
    return Spy(ws)


def in_spool(center: CenterUnderTest) -> list[str]:
    """Recordings left in the simulated Asterisk's spool (its folder also holds ``rec/``)."""
    return [name for name, _ in center.pbx.stored_recordings() if not name.startswith("rec/")]


def recorded_config(tmp_path: Path, **queue: Any) -> Any:
    config = make_config()
    queues = config.model_dump()["queues"]
    queues["billing"].update(recording={"record": "agent"}, **queue)
    return make_config(queues=queues, recordings={"directory": str(tmp_path / "rec")})


async def test_a_recording_is_fetched_when_recording_finished_comes_after_both_legs(
    tmp_path: Path, cdr: tuple[CdrWriter, str]
) -> None:
    writer, url = cdr
    config = recorded_config(tmp_path)
    async with (
        running_center(config, tmp_path, login=["bill1"], record_calls=True, cdr=writer) as center,
        aiohttp.ClientSession() as http,
    ):
        spy = await spy_on(center, http)
        caller = center.pbx.place_inbound_call("100", "+15550201")
        await caller.wait_for("playback_started", timeout=5)
        caller.send_dtmf("1")
        await caller.wait_for("bridged", timeout=5)
        (agent_leg,) = caller.bridged_with
        await asyncio.sleep(0.1)  # 2 PBX seconds of conversation
        caller.hangup()
        await center.settle()
        await center.wait_until(lambda: "BridgeDestroyed" in {e["type"] for e in spy.seen})
        await spy.close()
        order = spy.order("ChannelDestroyed", "RecordingFinished", "BridgeDestroyed")
        # As Asterisk 22.10.1: caller gone, agent leg hung up by us, only then the recording
        # ends (its recorder channel is alone), and our DELETE destroys the bridge.
        kinds = [kind for kind, _ in order]
        assert kinds == [
            "ChannelDestroyed",
            "ChannelDestroyed",
            "RecordingFinished",
            "BridgeDestroyed",
        ]
        assert [what for _, what in order][:2] == [caller.channel_id, agent_leg]
        # Fetched, then deleted from Asterisk's spool (our own files live under rec/ there).
        await center.wait_until(lambda: not in_spool(center), within=5)
    await writer.flush()

    engine = make_engine(url)
    with engine.connect() as conn:
        (call,) = conn.execute(sa.select(Call)).all()
        (recording,) = conn.execute(sa.select(Recording)).all()
    engine.dispose()
    assert call.disposition == "answered" and call.recording_name == recording.name
    assert recording.call_id == call.call_id and recording.agent_id == "bill1"
    stored = path_of(recording.storage_url)
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == recording.sha256
    assert recording.duration_seconds and recording.duration_seconds >= 1.0


async def test_the_ivr_carries_on_after_a_websocket_drop_in_the_middle_of_a_prompt(
    tmp_path: Path,
) -> None:
    config = make_config()
    async with running_center(config, tmp_path, login=["bill1"]) as center:
        center.pbx.add_sound("hello-world", 4.0)  # 0.2 s at speed 20
        caller = center.pbx.place_inbound_call("100", "+15550202")
        await caller.wait_for("playback_started", timeout=5)
        # Asterisk's res_ari goes away for a moment: the prompt ends meanwhile, and its
        # PlaybackFinished is lost with the WebSocket.
        await center.server.drop_websockets(refuse_new=True)
        await caller.wait_for("playback_finished", timeout=5)
        center.server.accepting_websockets = True
        await center.wait_until(lambda: center.worker.ari.connections == 2, within=5)
        # No digit: the menu's first-digit time-out runs (it starts at the prompt's end) and
        # the menu plays again rather than leaving the caller in silence.
        await caller.wait_for("playback_started", timeout=5)
        assert caller.heard[:2] == ["sound:hello-world", "sound:hello-world"]
        caller.send_dtmf("1")
        await caller.wait_for("bridged", timeout=5)
        caller.hangup()
        await center.settle()


async def test_a_waiting_caller_gets_music_back_after_a_websocket_drop_during_a_prompt(
    tmp_path: Path,
) -> None:
    config = make_config()
    queues = config.model_dump()["queues"]
    queues["billing"]["entry_prompt"] = "sound:queue-thankyou"
    config = make_config(queues=queues)
    async with running_center(config, tmp_path, login=[]) as center:
        center.pbx.add_sound("queue-thankyou", 4.0)
        caller = center.pbx.place_inbound_call("100", "+15550203")
        await caller.wait_for("playback_started", timeout=5)
        caller.send_dtmf("1")
        await caller.wait_for(
            "playback_started", timeout=5, predicate=lambda e: e.detail == "sound:queue-thankyou"
        )
        await center.server.drop_websockets(refuse_new=True)
        await caller.wait_for("playback_finished", timeout=5)
        center.server.accepting_websockets = True
        await caller.wait_for("moh_started", timeout=5)
        await center.service.login("bill1")
        await caller.wait_for("bridged", timeout=5)
        caller.hangup()
        await center.settle()


async def test_a_request_time_out_on_answer_or_play_does_not_end_the_call(
    tmp_path: Path,
) -> None:
    config = make_config()
    async with running_center(config, tmp_path, login=["bill1"], request_timeout=0.3) as center:
        center.pbx.add_sound("hello-world", 60.0)  # 3 s at speed 20: still playing at the repeat
        # Asterisk does both, but answers after our time-out (a busy box).
        center.server.answer_late("channels", "answer", 0.6)
        center.server.answer_late("channels", "play", 0.6)
        caller = center.pbx.place_inbound_call("100", "+15550204")
        await caller.wait_for("playback_started", timeout=5)
        caller.send_dtmf("1")
        await caller.wait_for("bridged", timeout=5)
        # Before repeating the play we asked for our playback id: it was playing, so the
        # prompt was not played twice.
        assert caller.heard == ["sound:hello-world"]
        caller.hangup()
        await center.settle()
        finished = center.worker.metrics.calls_finished
        assert finished.labels("completed")._value.get() == 1
        assert finished.labels("asterisk-error")._value.get() == 0


async def test_an_offline_phone_is_skipped_shown_unreachable_and_back_when_online(
    tmp_path: Path,
) -> None:
    config = make_config()
    async with running_center(config, tmp_path, login=["bill1"]) as center:
        phones = center.flow.phones
        assert phones is not None
        await center.wait_until(lambda: phones.subscribed == center.agent_phones)
        center.phone("bill1").set_online(False)  # its contact stops answering qualify
        await center.wait_until(lambda: center.agent_state("bill1") == "paused")
        view = next(a for a in center.service.status()["agents"] if a["id"] == "bill1")
        assert (view["state"], view["reason"], view["phone"]) == (
            "paused",
            "unreachable",
            "offline",
        )
        # An unpause while the phone is offline leaves the agent unreachable.
        await center.service.unpause("bill1")
        assert center.agent_state("bill1") == "paused"

        caller = center.pbx.place_inbound_call("100", "+15550205")
        await caller.wait_for("playback_started", timeout=5)
        caller.send_dtmf("1")
        await caller.wait_for("moh_started", timeout=5)
        await asyncio.sleep(0.2)  # 4 PBX seconds waiting: nobody is rung
        assert center.created == [] and center.dials == []

        center.phone("bill1").set_online(True)
        await caller.wait_for("bridged", timeout=5)
        assert center.created == ["PJSIP/1001"]
        view = next(a for a in center.service.status()["agents"] if a["id"] == "bill1")
        assert view["phone"] == "online"
        caller.hangup()
        await center.settle()


async def test_a_phone_asterisk_cannot_allocate_pauses_its_agent_and_the_caller_waits_on(
    tmp_path: Path,
) -> None:
    config = make_config()
    async with running_center(config, tmp_path, login=["bill1", "bill2"]) as center:
        # PJSIP/1001 is not known to Asterisk at all: no events, create answers 500.
        del center.pbx.endpoints["PJSIP/1001"]
        caller = center.pbx.place_inbound_call("100", "+15550206")
        await caller.wait_for("playback_started", timeout=5)
        caller.send_dtmf("9")  # billing, priority 10: bill1 (level 5) is tried first
        await caller.wait_for("bridged", timeout=5)
        assert center.agent_state("bill1") == "paused"
        assert center.service.dispatcher.agent_status("bill1").reason == "unreachable"
        assert [d.endpoint for d in center.dials] == ["PJSIP/1002"]
        caller.hangup()
        await center.settle()


async def test_a_draining_worker_sends_new_callers_to_the_dialplan_fallback(
    tmp_path: Path,
) -> None:
    config = make_config()
    async with running_center(config, tmp_path, login=["bill1"]) as center:
        # The rendered dialplan's fallback: app_queue with the operator queue's agents.
        center.pbx.add_queue("callcenter-billing", ["PJSIP/1002"])
        center.pbx.dialplan.route("s", Queue("callcenter-billing"), context="callcenter-fallback")
        talking = center.pbx.place_inbound_call("100", "+15550207")
        await talking.wait_for("playback_started", timeout=5)
        talking.send_dtmf("1")
        await talking.wait_for("bridged", timeout=5)

        center.worker.request_stop()  # SIGTERM
        newcomer = center.pbx.place_inbound_call("100", "+15550208")
        await newcomer.wait_for("bridged", timeout=5)  # app_queue rang PJSIP/1002
        assert "sound:tt-allbusy" not in newcomer.heard
        assert center.worker.metrics.calls_rejected._value.get() == 1
        assert not talking.ended  # the call in progress goes on
        talking.hangup()
        newcomer.hangup()
        await center.settle()
