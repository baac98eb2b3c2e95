"""Our prompts on the simulated Asterisk: installed ones play, a missing one fails the way
Asterisk 22.10.1 fails it in the capture (201, then PlaybackStarted and PlaybackFinished with
``state: failed`` at once)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callcenter.config import load_config
from callcenter.sim.ari_testing import running_sim
from callcenter.sim.pbx import Stasis
from callcenter.sim.sounds import install_prompts

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
APP = "callcenter-test"


def captured_missing_sound(shared: Path) -> list[dict[str, object]]:
    """The capture's PlaybackStarted + PlaybackFinished of sound:no-such-sound-file."""
    found = []
    for line in (shared / "captures" / "asterisk-22.10.1-call-flow.jsonl").read_text().splitlines():
        entry = json.loads(line)
        event = entry.get("event") or {}
        if entry["kind"] == "ari_event" and "no-such-sound" in json.dumps(event.get("playback")):
            found.append(event)
    return found


@pytest.mark.shared
async def test_installed_prompts_play_and_a_missing_one_fails_like_asterisk(
    shared_asterisk: Path, tmp_path: Path
) -> None:
    config = load_config(EXAMPLE, env={})
    async with running_sim(recordings_dir=tmp_path) as sim:
        installed = install_prompts(sim.pbx, config)
        assert "callcenter/welcome" in installed
        sim.pbx.dialplan.route("100", Stasis(APP))
        events = await sim.events(APP)
        call = sim.pbx.place_inbound_call("100", "+15550001")
        channel = (await events.expect("StasisStart"))["channel"]["id"]
        await sim.rest("POST", f"/channels/{channel}/answer")

        status, playback = await sim.rest(
            "POST", f"/channels/{channel}/play", {"media": "sound:callcenter/welcome"}
        )
        assert status == 201 and playback["state"] == "queued"
        finished = await events.expect(
            "PlaybackFinished", lambda e: e["playback"]["id"] == playback["id"]
        )
        assert finished["playback"]["state"] == "done"
        assert "sound:callcenter/welcome" in call.heard

        status, missing = await sim.rest(
            "POST", f"/channels/{channel}/play", {"media": "sound:callcenter/not-deployed"}
        )
        assert status == 201 and missing["state"] == "queued"
        started = await events.expect("PlaybackStarted")
        failed = await events.next()
        assert [started["type"], failed["type"]] == ["PlaybackStarted", "PlaybackFinished"]
        assert (started["playback"]["state"], failed["playback"]["state"]) == ("playing", "failed")
        real_started, real_finished = captured_missing_sound(shared_asterisk)
        for ours, theirs in ((started, real_started), (failed, real_finished)):
            assert ours.keys() == theirs.keys()
            assert ours["playback"].keys() == theirs["playback"].keys()  # type: ignore[union-attr]
        assert "sound:callcenter/not-deployed" not in call.heard
        call.hangup()
        await events.expect("StasisEnd")
        await events.close()
