"""JSON shapes of ARI objects exactly as Asterisk 22 sends them (key order included).

Every function takes a live sim object and returns a fresh dict; ``tests/e2e/test_ari_conformance``
checks each shape against Asterisk 22's own models (required fields, types, no extra keys).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from callcenter.sim.pbx import (
        Bridge,
        Channel,
        EndpointRecord,
        LiveRecording,
        Playback,
        SimulatedAsterisk,
        StasisApp,
    )

Json = dict[str, Any]


def format_timestamp(moment: datetime) -> str:
    """Asterisk's ARI time format: ``2026-11-24T15:19:15.889+0000`` (milliseconds, UTC)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def channel_json(channel: Channel) -> Json:
    """A Channel snapshot as in StasisStart, GET /channels/{id} ..."""
    dialplan = channel.dialplan
    return {
        "id": channel.id,
        "name": channel.name,
        "state": channel.state,
        "protocol_id": channel.protocol_id,
        "caller": {"name": channel.caller.name, "number": channel.caller.number},
        "connected": {"name": channel.connected.name, "number": channel.connected.number},
        "accountcode": channel.accountcode,
        "dialplan": {
            "context": dialplan.context,
            "exten": dialplan.exten,
            "priority": dialplan.priority,
            "app_name": dialplan.app_name,
            "app_data": dialplan.app_data,
        },
        "creationtime": format_timestamp(channel.creationtime),
        "language": channel.language,
    }


def bridge_json(bridge: Bridge) -> Json:
    """A Bridge snapshot (``channels`` lists channel ids in join order)."""
    return {
        "id": bridge.id,
        "technology": bridge.technology,
        "bridge_type": bridge.bridge_type,
        "bridge_class": "stasis",
        "creator": "Stasis",
        "name": bridge.name,
        "channels": list(bridge.channel_ids),
        "creationtime": format_timestamp(bridge.creationtime),
        "video_mode": "talker",
    }


def playback_json(playback: Playback) -> Json:
    """A Playback; ``next_media_uri`` only while more media is queued in the same playback."""
    body: Json = {
        "id": playback.id,
        "media_uri": playback.media_uri,
    }
    if playback.next_media_uri is not None:
        body["next_media_uri"] = playback.next_media_uri
    body.update(
        {
            "target_uri": playback.target_uri,
            "language": playback.language,
            "state": playback.state,
        }
    )
    return body


def live_recording_json(recording: LiveRecording, *, with_duration: bool = False) -> Json:
    """A LiveRecording; RecordingFinished adds the whole seconds recorded (``duration``) and,
    for a recording started with ``maxSilenceSeconds``, ``talking_duration`` and
    ``silence_duration``."""
    body: Json = {
        "name": recording.name,
        "format": recording.format,
        "state": recording.state,
        "target_uri": recording.target_uri,
    }
    if with_duration:
        body["duration"] = int(recording.duration_seconds())
        if recording.max_silence > 0 and recording.talking_seconds is not None:
            # Only with a non-zero maxSilenceSeconds (recordings.json, LiveRecording).
            talking = int(round(recording.talking_seconds, 3))  # whole seconds, as Asterisk
            body["talking_duration"] = talking
            body["silence_duration"] = max(0, body["duration"] - talking)
    if recording.cause:
        body["cause"] = recording.cause
    return body


def stored_recording_json(name: str, audio_format: str) -> Json:
    """A StoredRecording: just its name and format."""
    return {"name": name, "format": audio_format}


def endpoint_json(endpoint: EndpointRecord) -> Json:
    """An Endpoint with the ids of its live channels."""
    return {
        "technology": endpoint.technology,
        "resource": endpoint.resource,
        "state": "online" if endpoint.online else "offline",
        "channel_ids": list(endpoint.channel_ids),
    }


def contact_info_json(endpoint: EndpointRecord, status: str) -> Json:
    """A ContactInfo as chan_pjsip reports a qualify result (``Reachable``/``Unreachable``)."""
    return {
        "uri": f"sip:{endpoint.resource}@127.0.0.1:5060",
        "contact_status": status,
        "aor": endpoint.resource,
        "roundtrip_usec": "0" if status != "Reachable" else "800",
    }


def device_state_json(name: str, state: str) -> Json:
    """A DeviceState."""
    return {"name": name, "state": state}


def application_json(app: StasisApp) -> Json:
    """An Application: what it is subscribed to and its event filter."""
    return {
        "name": app.name,
        "channel_ids": sorted(app.channel_ids),
        "bridge_ids": sorted(app.bridge_ids),
        "endpoint_ids": sorted(app.endpoint_ids),
        "device_names": sorted(app.device_names),
        "events_allowed": [dict(item) for item in app.events_allowed],
        "events_disallowed": [dict(item) for item in app.events_disallowed],
    }


def asterisk_info_json(pbx: SimulatedAsterisk, only: list[str] | None = None) -> Json:
    """GET /asterisk/info, optionally limited to some sections (``only``)."""
    sections: Json = {
        "build": {
            "os": "Linux",
            "kernel": "6.1.0-sim",
            "machine": "x86_64",
            "options": "OPTIONAL_API",
            "date": format_timestamp(pbx.startup_time)[:19].replace("T", " ") + " UTC",
            "user": "callcenter",
        },
        "system": {"version": pbx.version, "entity_id": pbx.asterisk_id},
        "config": {
            "name": "",
            "default_language": "en",
            "setid": {"user": "asterisk", "group": "asterisk"},
        },
        "status": {
            "startup_time": format_timestamp(pbx.startup_time),
            "last_reload_time": format_timestamp(pbx.last_reload_time),
        },
    }
    if only:
        return {key: value for key, value in sections.items() if key in only}
    return sections
