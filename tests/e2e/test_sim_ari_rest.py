"""The simulated ARI's HTTP surface: auth, api-docs, errors, endpoints, device states, aioari."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import aioari
import aiohttp
import pytest

from callcenter.sim.ari_testing import running_sim
from callcenter.sim.pbx import EndpointBehaviour, Stasis

# Tests of the simulator itself: calls are left up when the test is about something else.
pytestmark = pytest.mark.leaves_calls

APP = "callcenter-test"


async def test_bad_credentials_get_asterisks_401_body() -> None:
    async with running_sim() as sim:
        url = f"{sim.base}/asterisk/info"
        for params, headers in (
            ({}, {}),
            ({"api_key": "callcenter:wrong"}, {}),
            ({}, {"Authorization": "Basic " + base64.b64encode(b"callcenter:nope").decode()}),
        ):
            async with sim.session.get(url, params=params, headers=headers) as response:
                assert response.status == 401
                assert await response.text() == '{"message":"Authentication required"}'
        good = {"Authorization": "Basic " + base64.b64encode(b"callcenter:secret").decode()}
        async with sim.session.get(url, headers=good) as response:
            assert response.status == 200


async def test_asterisk_info_and_ping() -> None:
    async with running_sim() as sim:
        status, info = await sim.rest("GET", "/asterisk/info")
        assert status == 200
        assert info["system"] == {"version": "22.10.1", "entity_id": "02:fc:00:00:00:01"}
        assert set(info) == {"build", "system", "config", "status"}
        status, only = await sim.rest("GET", "/asterisk/info", {"only": "system,status"})
        assert set(only) == {"system", "status"}
        status, ping = await sim.rest("GET", "/asterisk/ping")
        assert ping["ping"] == "pong"


async def test_api_docs_point_at_the_url_the_client_used() -> None:
    async with running_sim() as sim:
        status, listing = await sim.rest("GET", "/api-docs/resources.json")
        assert status == 200
        assert listing["basePath"] == f"{sim.base}"
        names = [api["path"] for api in listing["apis"]]
        assert "/api-docs/channels.{format}" in names and "/api-docs/events.{format}" in names
        status, channels = await sim.rest("GET", "/api-docs/channels.json")
        assert channels["basePath"] == sim.base
        assert "Channel" in channels["models"]
        status, events = await sim.rest("GET", "/api-docs/events.json")
        websocket = events["apis"][0]["operations"][0]
        assert websocket["upgrade"] == "websocket" and websocket["nickname"] == "eventWebsocket"
        assert events["models"]["StasisStart"]["properties"]["channel"]["type"] == "Channel"
        assert await sim.rest("GET", "/api-docs/nothing.json") == (
            404,
            {"message": "Resource not found"},
        )


async def test_unknown_ids_give_asterisks_404_bodies() -> None:
    async with running_sim() as sim:
        assert await sim.rest("GET", "/channels/does-not-exist") == (
            404,
            {"message": "Channel not found"},
        )
        assert await sim.rest("POST", "/channels/does-not-exist/answer") == (
            404,
            {"message": "Channel not found"},
        )
        assert await sim.rest("GET", "/bridges/nope") == (404, {"message": "Bridge not found"})
        assert await sim.rest("GET", "/playbacks/nope") == (404, {"message": "Playback not found"})
        assert await sim.rest("GET", "/recordings/live/nope") == (
            404,
            {"message": "Recording not found"},
        )
        assert await sim.rest("GET", "/endpoints/PJSIP/nope") == (
            404,
            {"message": "Endpoint not found"},
        )
        assert await sim.rest(
            "POST", "/channels/create", {"endpoint": "PJSIP/no-such-agent", "app": APP}
        ) == (
            500,
            {"error": "Allocation failed"},
        )
        assert await sim.rest("POST", "/channels/create", {"app": APP}) == (
            400,
            {"message": "Endpoint must be specified"},
        )
        status, _body = await sim.rest("DELETE", "/channels/x", {"reason": "bogus"})
        assert status == 404  # the channel is looked up first
        assert (await sim.rest("GET", "/applications/nobody"))[0] == 404


async def test_endpoints_list_and_get_like_the_capture() -> None:
    async with running_sim() as sim:
        sim.pbx.register_endpoint("PJSIP", "callers", online=False)
        sim.pbx.register_endpoint("PJSIP", "agent1")
        _status, endpoints = await sim.rest("GET", "/endpoints")
        assert endpoints == [
            {"technology": "PJSIP", "resource": "callers", "state": "offline", "channel_ids": []},
            {"technology": "PJSIP", "resource": "agent1", "state": "online", "channel_ids": []},
        ]
        assert await sim.rest("GET", "/endpoints/PJSIP/agent1") == (200, endpoints[1])
        assert (await sim.rest("GET", "/endpoints/PJSIP"))[0] == 200
        assert (await sim.rest("GET", "/endpoints/IAX2"))[0] == 404


async def test_device_states_follow_the_agent_phone_and_stasis_devices_are_settable() -> None:
    async with running_sim() as sim:
        sim.pbx.register_endpoint("PJSIP", "agent1", EndpointBehaviour.manual())
        seen: list[tuple[str, str]] = []
        sim.pbx.add_listener(
            lambda e: seen.append((e.device, e.state)) if hasattr(e, "device") else None
        )
        events = await sim.events(APP)
        assert await sim.rest("GET", "/deviceStates/PJSIP%2Fagent1") == (
            200,
            {"name": "PJSIP/agent1", "state": "NOT_INUSE"},
        )
        _, agent = await sim.rest(
            "POST", "/channels/create", {"endpoint": "PJSIP/agent1", "app": APP}
        )
        await sim.rest("POST", f"/channels/{agent['id']}/dial")
        await events.expect("ChannelStateChange", lambda e: e["channel"]["state"] == "Ringing")
        assert (await sim.rest("GET", "/deviceStates/PJSIP%2Fagent1"))[1]["state"] == "RINGING"
        phone = sim.pbx.endpoints["PJSIP/agent1"].handle
        assert phone is not None
        (await phone.next_call()).answer()
        await events.expect("ChannelStateChange", lambda e: e["channel"]["state"] == "Up")
        assert (await sim.rest("GET", "/deviceStates/PJSIP%2Fagent1"))[1]["state"] == "INUSE"
        assert ("PJSIP/agent1", "RINGING") in seen and ("PJSIP/agent1", "INUSE") in seen

        assert await sim.rest("PUT", "/deviceStates/PJSIP%2Fagent1", {"deviceState": "BUSY"}) == (
            409,
            {"message": "Uncontrolled device specified"},
        )
        assert (await sim.rest("PUT", "/deviceStates/Stasis:queue1", {"deviceState": "BUSY"}))[
            0
        ] == 204
        assert await sim.rest("GET", "/deviceStates/Stasis:queue1") == (
            200,
            {"name": "Stasis:queue1", "state": "BUSY"},
        )
        assert (await sim.rest("DELETE", "/deviceStates/Stasis:queue1"))[0] == 204


async def test_applications_subscribe_and_list() -> None:
    async with running_sim() as sim:
        events = await sim.events(APP)
        status, app = await sim.rest(
            "POST", f"/applications/{APP}/subscription", {"eventSource": "deviceState:Stasis:x"}
        )
        assert status == 200 and app["device_names"] == ["Stasis:x"]
        await sim.rest("PUT", "/deviceStates/Stasis:x", {"deviceState": "INUSE"})
        changed = await events.expect("DeviceStateChanged")
        assert changed["device_state"] == {"name": "Stasis:x", "state": "INUSE"}
        status, apps = await sim.rest("GET", "/applications")
        assert [a["name"] for a in apps] == [APP]
        status, _body = await sim.rest(
            "POST", f"/applications/{APP}/subscription", {"eventSource": "bogus:1"}
        )
        assert status == 400


async def test_websocket_needs_an_app_and_credentials() -> None:
    async with running_sim() as sim:
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await sim.session.ws_connect(sim.server.ws_url, params={"app": APP, "api_key": "x:y"})
        assert info.value.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await sim.session.ws_connect(sim.server.ws_url, params={"api_key": "callcenter:secret"})
        assert info.value.status == 400


async def test_aioari_connects_receives_stasis_start_and_answers_and_plays() -> None:
    """aioari 0.10.2 against our server: the adapter helper relies on exactly this."""
    async with running_sim(speed=20.0) as sim:
        sim.pbx.dialplan.route("100", Stasis(APP, "hello"))
        client = await aioari.connect(sim.server.url, sim.username, sim.password)
        started: asyncio.Queue[Any] = asyncio.Queue()

        async def on_start(objects: Any, event: dict[str, Any]) -> None:
            # StasisStart has two Channel fields (channel, replace_channel) in Asterisk 22's
            # events model, so aioari hands over a dict of them, as with a real Asterisk.
            channel = objects["channel"] if isinstance(objects, dict) else objects
            await channel.answer()
            playback = await channel.play(media="sound:hello-world")
            await started.put((channel.id, event["args"], playback.json))

        client.on_channel_event("StasisStart", on_start)
        runner = asyncio.create_task(client.run(apps=APP))
        try:
            for _ in range(100):
                if sim.pbx.apps.get(APP) and sim.pbx.apps[APP].sink:
                    break
                await asyncio.sleep(0.01)
            call = sim.pbx.place_inbound_call("100", "+15550001")
            channel_id, args, playback = await asyncio.wait_for(started.get(), 3)
            assert channel_id == call.channel_id and args == ["hello"]
            assert playback["media_uri"] == "sound:hello-world"
            await call.wait_for("playback_finished")
            assert call.answered and call.heard == ["sound:hello-world"]
            with pytest.raises(aiohttp.web.HTTPNotFound):
                await client.channels.get(channelId="does-not-exist")
        finally:
            await client.close()
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)


async def test_channel_variables_travel_in_the_json_body_and_query_params_too() -> None:
    async with running_sim() as sim:
        sim.pbx.register_endpoint("PJSIP", "agent1", EndpointBehaviour.manual())
        await sim.events(APP)
        status, agent = await sim.rest(
            "POST",
            "/channels/create",
            json_body={"endpoint": "PJSIP/agent1", "app": APP, "variables": {"CC_CALL": "c-1"}},
        )
        assert status == 200
        assert await sim.rest(
            "GET", f"/channels/{agent['id']}/variable", {"variable": "CC_CALL"}
        ) == (
            200,
            {"value": "c-1"},
        )
        # Numbers are read like C's atoi(): "soon" is 0 (no time-out), not an error.
        assert (await sim.rest("POST", f"/channels/{agent['id']}/dial", {"timeout": "soon"}))[
            0
        ] == 204
        status, body = await sim.rest(
            "POST",
            "/channels/create",
            json_body={"endpoint": "PJSIP/agent1", "app": APP, "variables": {"N": 1}},
        )
        assert (status, body) == (
            400,
            {"message": "Only string values in the 'variables' object allowed"},
        )


async def test_media_operations_on_an_unanswered_outbound_channel_are_412() -> None:
    async with running_sim() as sim:
        sim.pbx.register_endpoint("PJSIP", "agent1", EndpointBehaviour.manual())
        events = await sim.events(APP)
        _, agent = await sim.rest(
            "POST", "/channels/create", {"endpoint": "PJSIP/agent1", "app": APP}
        )
        await events.expect("StasisStart")
        invalid = (412, {"message": "Channel in invalid state"})
        assert (
            await sim.rest("POST", f"/channels/{agent['id']}/play", {"media": "sound:beep"})
            == invalid
        )
        assert await sim.rest("POST", f"/channels/{agent['id']}/answer") == invalid
        assert await sim.rest("POST", f"/channels/{agent['id']}/moh") == invalid
        assert await sim.rest("GET", "/channels/nope/variable", {"variable": "X"}) == (
            404,
            {"message": "Provided channel was not found"},
        )
        assert (
            await sim.rest(
                "POST", f"/channels/{agent['id']}/variable", {"variable": "X", "value": "1"}
            )
        )[0] == 204
        assert await sim.rest(
            "DELETE", f"/channels/{agent['id']}", {"reason": "busy", "reason_code": "17"}
        ) == (
            400,
            {"message": "The reason and reason_code can't both be specified"},
        )
        assert await sim.rest("POST", "/channels", {"endpoint": "agent1", "app": APP}) == (
            400,
            {"message": "Invalid endpoint specified"},
        )
        _, bridge = await sim.rest("POST", "/bridges")
        assert await sim.rest("POST", f"/bridges/{bridge['id']}/addChannel") == (
            400,
            {"message": "Missing parameter channel"},
        )


async def test_one_websocket_can_carry_several_apps() -> None:
    async with running_sim() as sim:
        sim.pbx.dialplan.route("100", Stasis("ivr"))
        sim.pbx.dialplan.route("200", Stasis("acd"))
        events = await sim.events("ivr,acd")
        sim.pbx.place_inbound_call("100", "1")
        sim.pbx.place_inbound_call("200", "2")
        first = await events.expect("StasisStart")
        second = await events.expect("StasisStart")
        assert [first["application"], second["application"]] == ["ivr", "acd"]
        _status, apps = await sim.rest("GET", "/applications")
        assert sorted(app["name"] for app in apps) == ["acd", "ivr"]
