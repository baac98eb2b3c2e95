"""The simulated Asterisk's ARI: an aiohttp app serving REST, api-docs and the events WebSocket.

``await start_ari_server(pbx, "127.0.0.1", 0, "user", "pass")`` returns an ``AriServer`` whose
``.url`` (``http://127.0.0.1:PORT/``) is what ``aioari.connect`` takes. Routes, parameter names
and types come from ``ari_spec.OPERATIONS``; status codes and error bodies are Asterisk 22's.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from callcenter.sim import ari_docs, ari_models, sounds
from callcenter.sim.ari_spec import OPERATIONS, Operation, Param
from callcenter.sim.pbx import PbxError, SimulatedAsterisk

log = logging.getLogger(__name__)

Json = dict[str, Any]
Params = dict[str, Any]


@dataclass
class Reply:
    """What a handler answers: status plus JSON (or bytes for a recording file, None for 204)."""

    status: int
    body: Any = None
    content_type: str = "application/json"


Handler = Callable[[SimulatedAsterisk, Params], Reply]

AUTH_REQUIRED_BODY = '{"message":"Authentication required"}'  # Asterisk's compact form
WS_QUEUE_LIMIT = 100_000  # events waiting for a slow WebSocket before we drop the connection


def _no_content() -> Reply:
    return Reply(204)


def _ok(body: Any) -> Reply:
    return Reply(200, body)


# ---------------------------------------------------------------------------------------------
# Handlers, one per (resource, nickname).


def _asterisk_info(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _ok(ari_models.asterisk_info_json(pbx, p.get("only")))


def _asterisk_ping(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _ok(
        {
            "asterisk_id": pbx.asterisk_id,
            "ping": "pong",
            "timestamp": ari_models.format_timestamp(ari_now()),
        }
    )


def ari_now() -> datetime:
    return datetime.now(UTC)


def _endpoints_list(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _ok([ari_models.endpoint_json(record) for record in pbx.endpoints.values()])


def _endpoints_by_tech(pbx: SimulatedAsterisk, p: Params) -> Reply:
    found = [r for r in pbx.endpoints.values() if r.technology.lower() == p["tech"].lower()]
    if not found:
        raise PbxError(404, "No Endpoints found - invalid tech " + p["tech"])
    return _ok([ari_models.endpoint_json(record) for record in found])


def _endpoints_get(pbx: SimulatedAsterisk, p: Params) -> Reply:
    record = pbx.endpoints.get(f"{p['tech']}/{p['resource']}")
    if record is None:
        raise PbxError(404, "Endpoint not found")
    return _ok(ari_models.endpoint_json(record))


def _channels_list(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _ok([ari_models.channel_json(channel) for channel in pbx.channels.values()])


def _channels_get(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _ok(ari_models.channel_json(pbx.get_channel(p["channelId"])))


def _string_variables(p: Params) -> dict[str, str] | None:
    variables = p.get("variables")
    if variables is None:
        return None
    if isinstance(variables, dict) and isinstance(variables.get("variables"), dict):
        variables = variables["variables"]
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise PbxError(400, "Only string values in the 'variables' object allowed")
    return dict(variables)


def _channels_originate(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _ok(
        pbx.originate(
            p["endpoint"],
            app=p.get("app"),
            app_args=p.get("appArgs"),
            context=p.get("context"),
            extension=p.get("extension"),
            priority=p.get("priority"),
            caller_id=p.get("callerId"),
            timeout=p.get("timeout", 30),
            channel_id=p.get("channelId"),
            originator=p.get("originator"),
            variables=_string_variables(p),
        )
    )


def _channels_create(pbx: SimulatedAsterisk, p: Params) -> Reply:
    _, snapshot = pbx.create_channel(
        p["endpoint"],
        p["app"],
        app_args=p.get("appArgs"),
        channel_id=p.get("channelId"),
        originator=p.get("originator"),
        variables=_string_variables(p),
    )
    return _ok(snapshot)


def _channels_hangup(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.hangup(p["channelId"], reason=p.get("reason"), reason_code=p.get("reason_code"))
    return _no_content()


def _channels_continue(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.continue_in_dialplan(
        p["channelId"], p.get("context"), p.get("extension"), p.get("priority")
    )
    return _no_content()


def _channels_redirect(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.redirect(p["channelId"], p["endpoint"])
    return _no_content()


def _channels_answer(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.answer(p["channelId"])
    return _no_content()


def _channels_ring(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.ring(p["channelId"], True)
    return _no_content()


def _channels_ring_stop(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.ring(p["channelId"], False)
    return _no_content()


def _channels_dtmf(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.send_dtmf(p["channelId"], p.get("dtmf") or "")
    return _no_content()


def _channels_mute(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.set_mute(p["channelId"], True)
    return _no_content()


def _channels_unmute(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.set_mute(p["channelId"], False)
    return _no_content()


def _channels_hold(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.set_hold(p["channelId"], True)
    return _no_content()


def _channels_unhold(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.set_hold(p["channelId"], False)
    return _no_content()


def _channels_start_moh(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.start_channel_moh(p["channelId"], p.get("mohClass"))
    return _no_content()


def _channels_stop_moh(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.stop_channel_moh(p["channelId"])
    return _no_content()


def _play_on(pbx: SimulatedAsterisk, target_uri: str, p: Params) -> Reply:
    """channels/{id}/play and bridges/{id}/play take the same parameters."""
    body = pbx.play(target_uri, p["media"], language=p.get("lang"), playback_id=p.get("playbackId"))
    return Reply(201, body)


def _record_on(pbx: SimulatedAsterisk, target_uri: str, p: Params) -> Reply:
    """channels/{id}/record and bridges/{id}/record take the same parameters."""
    body = pbx.record(
        target_uri,
        name=p["name"],
        audio_format=p["format"],
        max_duration=p.get("maxDurationSeconds", 0),
        if_exists=p.get("ifExists", "fail"),
        terminate_on=p.get("terminateOn", "none"),
        max_silence=p.get("maxSilenceSeconds", 0),
    )
    return Reply(201, body)


def _channels_play(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _play_on(pbx, f"channel:{pbx.get_channel(p['channelId']).id}", p)


def _channels_record(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _record_on(pbx, f"channel:{pbx.get_channel(p['channelId']).id}", p)


def _any_channel(pbx: SimulatedAsterisk, channel_id: str) -> Any:
    # Operations that look the channel up by name (not via Stasis) word their 404 this way.
    channel = pbx.channels.get(channel_id)
    if channel is None:
        raise PbxError(404, "Provided channel was not found")
    return channel


def _channels_get_var(pbx: SimulatedAsterisk, p: Params) -> Reply:
    channel = _any_channel(pbx, p["channelId"])
    return _ok({"value": pbx.get_variable(channel, p["variable"])})


def _channels_set_var(pbx: SimulatedAsterisk, p: Params) -> Reply:
    channel = pbx.stasis_channel(p["channelId"])
    pbx.set_variable(channel, p["variable"], str(p.get("value") or ""))
    return _no_content()


def _channels_snoop(pbx: SimulatedAsterisk, p: Params) -> Reply:
    _any_channel(pbx, p["channelId"])
    return _ok(
        pbx.snoop(
            p["channelId"],
            app=p["app"],
            app_args=p.get("appArgs"),
            spy=p.get("spy", "none"),
            whisper=p.get("whisper", "none"),
            snoop_id=p.get("snoopId"),
        )
    )


def _channels_dial(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.dial(p["channelId"], caller=p.get("caller"), timeout=p.get("timeout", 0))
    return _no_content()


def _bridges_list(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _ok([ari_models.bridge_json(bridge) for bridge in pbx.bridges.values()])


def _bridges_create(pbx: SimulatedAsterisk, p: Params) -> Reply:
    bridge = pbx.create_bridge(p.get("type"), p.get("name"), p.get("bridgeId"))
    return _ok(ari_models.bridge_json(bridge))


def _bridges_get(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _ok(ari_models.bridge_json(pbx.get_bridge(p["bridgeId"])))


def _bridges_destroy(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.destroy_bridge(p["bridgeId"])
    return _no_content()


def _bridges_add(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.add_to_bridge(p["bridgeId"], p["channel"])
    return _no_content()


def _bridges_remove(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.remove_from_bridge(p["bridgeId"], p["channel"])
    return _no_content()


def _bridges_start_moh(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.start_bridge_moh(p["bridgeId"], p.get("mohClass"))
    return _no_content()


def _bridges_stop_moh(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.stop_bridge_moh(p["bridgeId"])
    return _no_content()


def _bridges_play(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _play_on(pbx, f"bridge:{pbx.get_bridge(p['bridgeId']).id}", p)


def _bridges_record(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _record_on(pbx, f"bridge:{pbx.get_bridge(p['bridgeId']).id}", p)


def _recordings_list_stored(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _ok([ari_models.stored_recording_json(n, f) for n, f in pbx.stored_recordings()])


def _recordings_get_stored(pbx: SimulatedAsterisk, p: Params) -> Reply:
    name, audio_format, _ = pbx.stored_recording(p["recordingName"])
    return _ok(ari_models.stored_recording_json(name, audio_format))


def _recordings_delete_stored(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.delete_stored_recording(p["recordingName"])
    return _no_content()


def _recordings_file(pbx: SimulatedAsterisk, p: Params) -> Reply:
    _, audio_format, path = pbx.stored_recording(p["recordingName"])
    content_type = "audio/wav" if audio_format == "wav" else "application/octet-stream"
    return Reply(200, path.read_bytes(), content_type)


def _recordings_copy(pbx: SimulatedAsterisk, p: Params) -> Reply:
    name, audio_format = pbx.copy_stored_recording(
        p["recordingName"], p["destinationRecordingName"]
    )
    return _ok(ari_models.stored_recording_json(name, audio_format))


def _recordings_get_live(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _ok(ari_models.live_recording_json(pbx.get_live_recording(p["recordingName"])))


def _recordings_cancel(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.stop_recording(p["recordingName"], cancel=True)
    return _no_content()


def _recordings_stop(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.stop_recording(p["recordingName"])
    return _no_content()


def _recordings_pause(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.pause_recording(p["recordingName"], True)
    return _no_content()


def _recordings_unpause(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.pause_recording(p["recordingName"], False)
    return _no_content()


def _recordings_mute(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.mute_recording(p["recordingName"], True)
    return _no_content()


def _recordings_unmute(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.mute_recording(p["recordingName"], False)
    return _no_content()


def _playbacks_get(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _ok(ari_models.playback_json(pbx.get_playback(p["playbackId"])))


def _playbacks_stop(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.stop_playback(p["playbackId"])
    return _no_content()


def _playbacks_control(pbx: SimulatedAsterisk, p: Params) -> Reply:
    pbx.control_playback(p["playbackId"], p["operation"])
    return _no_content()


DEVICE_STATES = (
    "UNKNOWN",
    "NOT_INUSE",
    "INUSE",
    "BUSY",
    "INVALID",
    "UNAVAILABLE",
    "RINGING",
    "RINGINUSE",
    "ONHOLD",
)


def _device_names(pbx: SimulatedAsterisk) -> list[str]:
    return [*pbx.endpoints.keys(), *pbx.custom_device_states.keys()]


def _device_states_list(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _ok(
        [ari_models.device_state_json(name, pbx.device_state(name)) for name in _device_names(pbx)]
    )


def _device_states_get(pbx: SimulatedAsterisk, p: Params) -> Reply:
    name = p["deviceName"]
    return _ok(ari_models.device_state_json(name, pbx.device_state(name)))


def _device_states_update(pbx: SimulatedAsterisk, p: Params) -> Reply:
    name = p["deviceName"]
    if not name.startswith("Stasis:"):
        # ARI controls only its own devices (res_stasis_device_state).
        raise PbxError(409, "Uncontrolled device specified")
    state = p["deviceState"]
    if state not in DEVICE_STATES:
        raise PbxError(400, "Invalid device state")
    pbx.set_custom_device_state(name, state)
    return _no_content()


def _device_states_delete(pbx: SimulatedAsterisk, p: Params) -> Reply:
    name = p["deviceName"]
    if not name.startswith("Stasis:"):
        raise PbxError(409, "Uncontrolled device specified")
    if name not in pbx.custom_device_states:
        raise PbxError(404, "Device not found")
    pbx.set_custom_device_state(name, None)
    return _no_content()


def _application(pbx: SimulatedAsterisk, name: str) -> Any:
    app = pbx.apps.get(name)
    if app is None:
        raise PbxError(404, "Application not found")
    return app


def _applications_list(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _ok([ari_models.application_json(app) for app in pbx.apps.values()])


def _applications_get(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _ok(ari_models.application_json(_application(pbx, p["applicationName"])))


def _event_source_target(pbx: SimulatedAsterisk, source: str) -> tuple[str, str]:
    kind, _, name = source.partition(":")
    if kind == "channel" and name in pbx.channels:
        return kind, name
    if kind == "bridge" and name in pbx.bridges:
        return kind, name
    if kind == "endpoint" and (
        name in pbx.endpoints or any(r.technology == name for r in pbx.endpoints.values())
    ):
        return kind, name
    if kind == "deviceState" and name:
        return kind, name
    if kind not in ("channel", "bridge", "endpoint", "deviceState"):
        raise PbxError(400, "Invalid event source URI scheme")
    raise PbxError(422, "Event source does not exist")


def _applications_subscribe(pbx: SimulatedAsterisk, p: Params, subscribe: bool = True) -> Reply:
    app = _application(pbx, p["applicationName"])
    for source in p["eventSource"]:
        kind, name = _event_source_target(pbx, source)
        target = {
            "channel": app.channel_ids,
            "bridge": app.bridge_ids,
            "endpoint": app.endpoint_ids,
            "deviceState": app.device_names,
        }[kind]
        if subscribe:
            target.add(name)
        else:
            target.discard(name)
    return _ok(ari_models.application_json(app))


def _applications_unsubscribe(pbx: SimulatedAsterisk, p: Params) -> Reply:
    return _applications_subscribe(pbx, p, subscribe=False)


def _applications_filter(pbx: SimulatedAsterisk, p: Params) -> Reply:
    app = _application(pbx, p["applicationName"])
    spec = p.get("filter") or {}
    if not isinstance(spec, dict):
        raise PbxError(400, "Invalid filter")
    allowed = spec.get("allowed", [])
    disallowed = spec.get("disallowed", [])
    for items in (allowed, disallowed):
        if not isinstance(items, list) or not all(
            isinstance(item, dict) and isinstance(item.get("type"), str) for item in items
        ):
            raise PbxError(400, "Invalid filter")
    app.events_allowed = [{"type": item["type"]} for item in allowed]
    app.events_disallowed = [{"type": item["type"]} for item in disallowed]
    return _ok(ari_models.application_json(app))


def _sounds_list(pbx: SimulatedAsterisk, p: Params) -> Reply:
    try:
        return _ok(sounds.list_sounds_json(pbx, p.get("lang"), p.get("format")))
    except sounds.SoundNotFound as exc:
        raise PbxError(404, exc.message) from exc


def _sounds_get(pbx: SimulatedAsterisk, p: Params) -> Reply:
    # Asterisk decodes each path segment after splitting (res_ari.c ast_ari_invoke), so
    # GET /sounds/callcenter%2Fwelcome asks for the sound "callcenter/welcome".
    try:
        return _ok(sounds.sound_json(pbx, p["soundId"]))
    except sounds.SoundNotFound as exc:
        raise PbxError(404, exc.message) from exc


HANDLERS: dict[tuple[str, str], Handler] = {
    ("sounds", "list"): _sounds_list,
    ("sounds", "get"): _sounds_get,
    ("asterisk", "getInfo"): _asterisk_info,
    ("asterisk", "ping"): _asterisk_ping,
    ("endpoints", "list"): _endpoints_list,
    ("endpoints", "listByTech"): _endpoints_by_tech,
    ("endpoints", "get"): _endpoints_get,
    ("channels", "list"): _channels_list,
    ("channels", "originate"): _channels_originate,
    ("channels", "originateWithId"): _channels_originate,
    ("channels", "create"): _channels_create,
    ("channels", "get"): _channels_get,
    ("channels", "hangup"): _channels_hangup,
    ("channels", "continueInDialplan"): _channels_continue,
    ("channels", "redirect"): _channels_redirect,
    ("channels", "answer"): _channels_answer,
    ("channels", "ring"): _channels_ring,
    ("channels", "ringStop"): _channels_ring_stop,
    ("channels", "sendDTMF"): _channels_dtmf,
    ("channels", "mute"): _channels_mute,
    ("channels", "unmute"): _channels_unmute,
    ("channels", "hold"): _channels_hold,
    ("channels", "unhold"): _channels_unhold,
    ("channels", "startMoh"): _channels_start_moh,
    ("channels", "stopMoh"): _channels_stop_moh,
    ("channels", "play"): _channels_play,
    ("channels", "playWithId"): _channels_play,
    ("channels", "record"): _channels_record,
    ("channels", "getChannelVar"): _channels_get_var,
    ("channels", "setChannelVar"): _channels_set_var,
    ("channels", "snoopChannel"): _channels_snoop,
    ("channels", "snoopChannelWithId"): _channels_snoop,
    ("channels", "dial"): _channels_dial,
    ("bridges", "list"): _bridges_list,
    ("bridges", "create"): _bridges_create,
    ("bridges", "createWithId"): _bridges_create,
    ("bridges", "get"): _bridges_get,
    ("bridges", "destroy"): _bridges_destroy,
    ("bridges", "addChannel"): _bridges_add,
    ("bridges", "removeChannel"): _bridges_remove,
    ("bridges", "startMoh"): _bridges_start_moh,
    ("bridges", "stopMoh"): _bridges_stop_moh,
    ("bridges", "play"): _bridges_play,
    ("bridges", "playWithId"): _bridges_play,
    ("bridges", "record"): _bridges_record,
    ("recordings", "listStored"): _recordings_list_stored,
    ("recordings", "getStored"): _recordings_get_stored,
    ("recordings", "deleteStored"): _recordings_delete_stored,
    ("recordings", "getStoredFile"): _recordings_file,
    ("recordings", "copyStored"): _recordings_copy,
    ("recordings", "getLive"): _recordings_get_live,
    ("recordings", "cancel"): _recordings_cancel,
    ("recordings", "stop"): _recordings_stop,
    ("recordings", "pause"): _recordings_pause,
    ("recordings", "unpause"): _recordings_unpause,
    ("recordings", "mute"): _recordings_mute,
    ("recordings", "unmute"): _recordings_unmute,
    ("playbacks", "get"): _playbacks_get,
    ("playbacks", "stop"): _playbacks_stop,
    ("playbacks", "control"): _playbacks_control,
    ("deviceStates", "list"): _device_states_list,
    ("deviceStates", "get"): _device_states_get,
    ("deviceStates", "update"): _device_states_update,
    ("deviceStates", "delete"): _device_states_delete,
    ("applications", "list"): _applications_list,
    ("applications", "get"): _applications_get,
    ("applications", "subscribe"): _applications_subscribe,
    ("applications", "unsubscribe"): _applications_unsubscribe,
    ("applications", "filter"): _applications_filter,
}


# ---------------------------------------------------------------------------------------------
# Parameters: query string, path, and JSON body, typed per the swagger dataType.


def _convert(param: Param, raw: Any) -> Any:
    if param.param_type == "body":
        return raw
    if param.multiple:
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return [str(item) for item in items if str(item) != ""]
    if param.data_type in ("int", "long"):
        # Asterisk parses numbers with atoi(): leading digits, else 0; never a 400.
        if isinstance(raw, int):
            return raw
        match = re.match(r"^\s*([+-]?\d+)", str(raw))
        return int(match.group(1)) if match else 0
    if param.data_type == "boolean":
        if isinstance(raw, bool):
            return raw
        text = str(raw).lower()
        if text in ("true", "yes", "1", "on"):
            return True
        if text in ("false", "no", "0", "off"):
            return False
        raise PbxError(400, f"{param.name} must be a boolean")
    return str(raw)


# How Asterisk's handlers word a missing required parameter (res/ari/resource_*.c).
MISSING_PARAMETER_MESSAGES = {
    "endpoint": "Endpoint must be specified",
    "variable": "Variable name is required",
    "app": "Application name is required",
    "dtmf": "DTMF is required",
}


def _missing_message(name: str) -> str:
    return MISSING_PARAMETER_MESSAGES.get(name, f"Missing parameter {name}")


def parse_params(operation: Operation, match_info: dict[str, str], query: Any, body: Any) -> Params:
    """Collect an operation's parameters; Asterisk also takes query parameters in a JSON body."""
    params: Params = {}
    body_fields = body if isinstance(body, dict) else {}
    for param in operation.params:
        raw: Any = None
        if param.param_type == "path":
            raw = match_info.get(param.name)
        elif param.param_type == "query":
            values = query.getall(param.name, [])
            if values:
                raw = ",".join(values) if param.multiple else values[-1]
            elif param.name in body_fields:
                raw = body_fields[param.name]
        elif param.param_type == "body":
            # The body parameter is the body itself (e.g. eventFilter) or one key of it
            # (e.g. {"variables": {...}} on originate).
            if param.name in body_fields:
                raw = body_fields[param.name]
            elif body_fields and param.data_type == "object":
                raw = body_fields
        if raw is None:
            if param.required:
                raise PbxError(400, _missing_message(param.name))
            if param.default is not None and param.param_type == "query":
                params[param.name] = _convert(param, param.default)
            continue
        value = _convert(param, raw)
        if param.required and param.multiple and not value:
            raise PbxError(400, _missing_message(param.name))
        # allowableValues are not enforced here: Asterisk's handlers look the object up first
        # (404) and only then reject a bad value (400), so the handlers check them.
        params[param.name] = value
    return params


# ---------------------------------------------------------------------------------------------
# The aiohttp application.


def _json_response(status: int, body: Any) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _credentials_ok(request: web.Request, username: str, password: str) -> bool:
    api_key = request.query.get("api_key")
    if api_key is not None:
        return bool(api_key == f"{username}:{password}")
    header = request.headers.get("Authorization", "")
    if header.startswith("Basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return bool(decoded == f"{username}:{password}")
    return False


def _unauthorized() -> web.Response:
    return web.Response(
        status=401,
        text=AUTH_REQUIRED_BODY,
        content_type="application/json",
        headers={"WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'},
    )


class EventStream:
    """One events WebSocket: the sink apps push to, and the task that writes to the socket."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.overflowed = False

    def push(self, event: Json) -> None:
        if self.overflowed:
            return
        if self.queue.qsize() >= WS_QUEUE_LIMIT:
            # A client that stopped reading: drop the connection rather than grow forever.
            log.warning("ARI events WebSocket too slow (%d queued); closing it", WS_QUEUE_LIMIT)
            self.overflowed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(json.dumps(event))

    async def write_forever(self) -> None:
        while True:
            text = await self.queue.get()
            if text is None or self.overflowed:
                if self.overflowed:
                    await self.ws.close(code=1011, message=b"events queue overflow")
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionResetError, RuntimeError):
                return


class AriServer:
    """A running simulated ARI: ``url`` for aioari.connect, ``close()`` when done."""

    def __init__(self, pbx: SimulatedAsterisk, username: str, password: str) -> None:
        self.pbx = pbx
        self.username = username
        self.password = password
        self.host = "127.0.0.1"
        self.port = 0
        self.app = web.Application(middlewares=[self._auth_middleware])
        self._runner: web.AppRunner | None = None
        self._streams: set[EventStream] = set()
        self._late_replies: dict[tuple[str, str], list[float]] = {}
        self.accepting_websockets = True
        """False: events WebSocket handshakes are refused (503), as while res_ari restarts."""
        self._register_routes()

    async def drop_websockets(self, *, refuse_new: bool = False) -> None:
        """Close every events WebSocket from the server side; ``refuse_new`` keeps clients out
        (``accepting_websockets``) until a test lets them back in. The apps keep their
        channels, bridges and subscriptions; events meanwhile are lost, as on Asterisk."""
        if refuse_new:
            self.accepting_websockets = False
        for stream in list(self._streams):
            with contextlib.suppress(Exception):
                await stream.ws.close()

    def answer_late(self, resource: str, nickname: str, seconds: float, times: int = 1) -> None:
        """The next ``times`` requests of this operation (``"channels", "play"``) are carried
        out at once but answered ``seconds`` (real) later: a client whose time-out is shorter
        sees a time-out for a request Asterisk did handle (a busy box's taskprocessor queue)."""
        self._late_replies.setdefault((resource, nickname), []).extend([seconds] * times)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ari/events"

    @web.middleware
    async def _auth_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not _credentials_ok(request, self.username, self.password):
            return _unauthorized()
        return await handler(request)

    def _register_routes(self) -> None:
        router = self.app.router
        router.add_get("/ari/api-docs/resources.json", self._resources_doc)
        router.add_get("/ari/api-docs/{resource}.json", self._resource_doc)
        # Static paths first, so /channels/create is not taken for /channels/{channelId}.
        ordered = sorted(OPERATIONS, key=lambda op: (op.path.count("{"), op.path))
        for operation in ordered:
            path = "/ari" + operation.path
            if operation.websocket:
                router.add_get(path, self._events_ws)
                continue
            handler = HANDLERS[(operation.resource, operation.nickname)]
            router.add_route(operation.method, path, self._rest_handler(operation, handler))
        router.add_route("*", "/ari/{tail:.*}", self._not_found)

    async def _not_found(self, request: web.Request) -> web.Response:
        return _json_response(404, {"message": "Resource not found"})

    async def _resources_doc(self, request: web.Request) -> web.Response:
        return _json_response(200, ari_docs.resources_listing(self._base_path(request)))

    async def _resource_doc(self, request: web.Request) -> web.Response:
        doc = ari_docs.api_declaration(request.match_info["resource"], self._base_path(request))
        if doc is None:
            return _json_response(404, {"message": "Resource not found"})
        return _json_response(200, doc)

    def _base_path(self, request: web.Request) -> str:
        return f"http://{request.host}/ari"

    def _rest_handler(
        self, operation: Operation, handler: Handler
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def serve(request: web.Request) -> web.Response:
            body: Any = None
            if request.can_read_body:
                text = await request.text()
                if text.strip():
                    try:
                        body = json.loads(text)
                    except json.JSONDecodeError:
                        return _json_response(400, {"message": "Failed to parse JSON body"})
            late = self._late_replies.get((operation.resource, operation.nickname))
            delay = late.pop(0) if late else 0.0
            try:
                params = parse_params(operation, dict(request.match_info), request.query, body)
                reply = handler(self.pbx, params)
            except PbxError as exc:
                await asyncio.sleep(delay)
                return _json_response(exc.status, exc.body())
            await asyncio.sleep(delay)
            if reply.status == 204 or reply.body is None:
                return web.Response(status=reply.status)
            if isinstance(reply.body, bytes):
                return web.Response(
                    status=reply.status, body=reply.body, content_type=reply.content_type
                )
            return _json_response(reply.status, reply.body)

        return serve

    async def _events_ws(self, request: web.Request) -> web.StreamResponse:
        apps = [name for name in request.query.get("app", "").split(",") if name]
        if not apps:
            return _json_response(400, {"message": "Missing param app"})
        if not self.accepting_websockets:
            return _json_response(503, {"message": "Service Unavailable"})
        subscribe_all = request.query.get("subscribeAll", "false").lower() in ("true", "1", "yes")
        ws = web.WebSocketResponse(protocols=("ari",), heartbeat=None)
        await ws.prepare(request)
        stream = EventStream(ws)
        self._streams.add(stream)
        for name in apps:
            replaced = self.pbx.connect_app(name, stream.push, subscribe_all=subscribe_all)
            if replaced is not None:
                # The old connection keeps its socket but hears only this, then nothing more.
                replaced(
                    {
                        "type": "ApplicationReplaced",
                        "timestamp": ari_models.format_timestamp(ari_now()),
                        "application": name,
                        "asterisk_id": self.pbx.asterisk_id,
                    }
                )
        writer = asyncio.create_task(stream.write_forever(), name=f"ari-ws-writer-{apps}")
        try:
            async for message in ws:
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            for name in apps:
                self.pbx.disconnect_app(name, stream.push)
            stream.queue.put_nowait(None)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            self._streams.discard(stream)
        return ws

    async def start(self, host: str, port: int) -> None:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.host = host
        self.port = sockets[0].getsockname()[1] if sockets else port

    async def close(self) -> None:
        """Close every WebSocket and stop listening."""
        for stream in list(self._streams):
            with contextlib.suppress(Exception):
                await stream.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def start_ari_server(
    pbx: SimulatedAsterisk,
    host: str = "127.0.0.1",
    port: int = 0,
    username: str = "callcenter",
    password: str = "callcenter",
) -> AriServer:
    """Serve ARI for ``pbx`` on host:port (0 = any free port)."""
    server = AriServer(pbx, username, password)
    await server.start(host, port)
    log.info("simulated ARI listening on %s", server.url)
    return server
