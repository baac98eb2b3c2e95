"""Supervision through the simulated Asterisk over the wire: ``WorkerLiveView.listen`` snoops
the call, rings the supervisor, bridges them, and cleans up when either side ends; the agent's
screen pop comes from the worker's live call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from callcenter.config import CallCenterConfig
from callcenter.errors import ConflictError, NotFoundError
from callcenter.routing.testing import CenterUnderTest, make_config, running_center
from callcenter.sim.pbx import EndpointBehaviour, SimCall
from callcenter.web.live import WorkerLiveView

SUPERVISOR = "PJSIP/2001"


def record_snoops(center: CenterUnderTest) -> list[dict[str, Any]]:
    """What the PBX was asked for each snoop (the sim keeps no spy/whisper on the channel)."""
    asked: list[dict[str, Any]] = []
    original = center.pbx.snoop

    def snoop(channel_id: str, **kwargs: Any) -> Any:
        asked.append({"channel_id": channel_id, **kwargs})
        return original(channel_id, **kwargs)

    center.pbx.snoop = snoop  # type: ignore[method-assign]
    return asked


def waiting(center: CenterUnderTest, queue_id: str) -> int:
    return int(next(q for q in center.service.status()["queues"] if q["id"] == queue_id)["waiting"])


async def talking(center: CenterUnderTest, number: str = "+15550123") -> tuple[SimCall, str]:
    """A caller who chose billing (digit 1) and is bridged with an agent; returns the call id."""
    caller = center.pbx.place_inbound_call("100", number, caller_name="Carol")
    await caller.wait_for("playback_started", timeout=5)
    caller.send_dtmf("1")
    await caller.wait_for("bridged", timeout=5)
    session = next(iter(center.worker.sessions.values()))
    return caller, session.call_id


async def test_agent_call_carries_the_callers_ivr_path_and_wait(tmp_path: Path) -> None:
    async with running_center(make_config(), tmp_path, login=["bill1"]) as center:
        view = WorkerLiveView(center.service, center.worker)
        assert view.agent_call("bill1") is None
        caller, call_id = await talking(center)
        call = view.agent_call("bill1")
        assert call is not None
        assert call["call_id"] == call_id
        assert call["caller_number"] == "+15550123"
        assert call["queue_id"] == "billing"
        assert call["ivr_path"] == ["main"]
        assert call["digits"] == ["1"]
        assert call["wait_seconds"] is not None and call["wait_seconds"] >= 0
        status = view.status()
        agent = next(a for a in status["agents"] if a["agent_id"] == "bill1")
        assert agent["state"] == "on_call" and agent["call_id"] == call_id
        assert {q["queue_id"] for q in status["queues"]} == {"billing", "sales"}
        caller.hangup()
        await center.settle()
        assert view.agent_call("bill1") is None  # wrap-up 0: available again
        await view.close()


async def test_listen_bridges_the_supervisor_with_a_snoop_and_ends_with_the_call(
    tmp_path: Path,
) -> None:
    async with running_center(make_config(), tmp_path, login=["bill1"]) as center:
        supervisor = center.pbx.register_endpoint(
            "PJSIP", "2001", EndpointBehaviour.answer_after(0.5)
        )
        asked = record_snoops(center)
        view = WorkerLiveView(center.service, center.worker)
        caller, call_id = await talking(center)

        result = await view.listen(call_id, SUPERVISOR, "listen")
        phone = await supervisor.next_call()
        await phone.wait_for("bridged", timeout=5)
        assert phone.bridged_with == [result["snoop_channel"]]
        assert asked == [
            {
                "channel_id": caller.channel_id,
                "app": "cc-acd",
                "app_args": f"snoop,{call_id}",
                "spy": "both",
                "whisper": "none",
                "snoop_id": result["snoop_channel"],
            }
        ]
        # The call itself goes on: caller and agent still share their own bridge.
        assert len(caller.bridged_with) == 1

        caller.hangup()
        await phone.wait_for("hangup", timeout=5)
        await center.wait_until(lambda: not view.supervisions)
        await center.settle()
        await center.wait_until(lambda: not center.pbx.bridges)
        assert result["supervisor_channel"] not in center.pbx.channels
        assert result["snoop_channel"] not in center.pbx.channels
        await view.close()


async def test_whisper_snoops_the_agent_and_the_supervisor_hanging_up_ends_only_that(
    tmp_path: Path,
) -> None:
    async with running_center(make_config(), tmp_path, login=["bill1"]) as center:
        supervisor = center.pbx.register_endpoint(
            "PJSIP", "2001", EndpointBehaviour.answer_after(0.2)
        )
        asked = record_snoops(center)
        view = WorkerLiveView(center.service, center.worker)
        caller, call_id = await talking(center)
        agent_channel = caller.bridged_with[0]

        result = await view.listen(call_id, SUPERVISOR, "whisper")
        phone = await supervisor.next_call()
        await phone.wait_for("bridged", timeout=5)
        assert asked[0]["channel_id"] == agent_channel
        assert (asked[0]["spy"], asked[0]["whisper"]) == ("both", "out")

        phone.hangup()
        await center.wait_until(lambda: not view.supervisions)
        assert result["snoop_channel"] not in center.pbx.channels
        assert result["bridge"] not in center.pbx.bridges
        assert caller.bridged_with == [agent_channel]  # the call goes on
        assert not caller.ended

        again = await view.listen(call_id, SUPERVISOR, "barge")
        phone = await supervisor.next_call()
        await phone.wait_for("bridged", timeout=5)
        assert asked[1]["channel_id"] == caller.channel_id
        assert (asked[1]["spy"], asked[1]["whisper"]) == ("both", "both")
        center.phone("bill1").calls[-1].hangup()  # the agent ends the call
        await phone.wait_for("hangup", timeout=5)
        await center.wait_until(lambda: not view.supervisions)
        await center.settle()
        await center.wait_until(lambda: not center.pbx.bridges)
        assert again["supervisor_channel"] not in center.pbx.channels
        await view.close()


async def test_listen_to_a_call_that_is_not_there(tmp_path: Path) -> None:
    async with running_center(make_config(), tmp_path, login=["bill1"]) as center:
        view = WorkerLiveView(center.service, center.worker)
        with pytest.raises(NotFoundError):
            await view.listen("0" * 32, SUPERVISOR, "listen")
        await view.close()


async def test_a_supervisor_who_does_not_answer_leaves_nothing_behind(tmp_path: Path) -> None:
    async with running_center(make_config(), tmp_path, login=["bill1"]) as center:
        center.pbx.register_endpoint("PJSIP", "2001", EndpointBehaviour.busy())
        view = WorkerLiveView(center.service, center.worker)
        caller, call_id = await talking(center)
        result = await view.listen(call_id, SUPERVISOR, "listen")
        await center.wait_until(lambda: not view.supervisions)
        assert result["snoop_channel"] not in center.pbx.channels
        assert result["bridge"] not in center.pbx.bridges
        assert not caller.ended
        caller.hangup()
        await center.settle()
        await view.close()


async def test_whisper_needs_an_agent_on_the_call(tmp_path: Path) -> None:
    async with running_center(make_config(), tmp_path, login=[]) as center:
        view = WorkerLiveView(center.service, center.worker)
        caller = center.pbx.place_inbound_call("100", "+15550777")
        await caller.wait_for("playback_started", timeout=5)
        caller.send_dtmf("1")  # billing, where nobody is logged in: the caller waits
        await center.wait_until(lambda: waiting(center, "billing") == 1)
        (call_id,) = center.worker.sessions
        with pytest.raises(ConflictError):
            await view.listen(call_id, SUPERVISOR, "whisper")
        assert not view.supervisions
        assert [c for c in center.pbx.channels.values() if c.name.startswith("Snoop/")] == []
        caller.hangup()
        await center.settle()
        await view.close()


async def test_wrap_up_keeps_the_call_for_the_disposition(tmp_path: Path) -> None:
    raw = make_config().model_dump(mode="json", exclude_none=True)
    raw["queues"]["billing"]["wrapup_seconds"] = 600
    config = CallCenterConfig.model_validate(raw)
    async with running_center(config, tmp_path, login=["bill1"]) as center:
        view = WorkerLiveView(center.service, center.worker)
        caller, call_id = await talking(center)
        during = view.agent_call("bill1")
        caller.hangup()
        await center.settle()
        assert center.agent_state("bill1") == "wrapup"
        assert view.agent_call("bill1") == {**(during or {}), "state": "wrapup"}
        # A view that never saw the call (the page was closed) still names it.
        fresh = WorkerLiveView(center.service, center.worker)
        late = fresh.agent_call("bill1")
        assert late is not None
        assert (late["call_id"], late["queue_id"], late["state"]) == (call_id, "billing", "wrapup")
        await view.close()
        await fresh.close()
