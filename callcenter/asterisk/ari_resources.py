"""ARI requests about recordings, the application, endpoints and Asterisk itself.

A part of ``AriClient`` (``callcenter.asterisk.ari``), kept apart to keep each module small:
the client mixes it in and provides ``settings``, ``_request`` and ``_json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from callcenter.asterisk.ari_types import (
    ApplicationState,
    EndpointState,
    LiveRecording,
    StoredRecording,
)
from callcenter.asterisk.ids import BridgeId, ChannelId, RecordingName

if TYPE_CHECKING:
    from callcenter.asterisk.ari import AriSettings


class RecordingsAndApplication:
    """Recordings (live and stored), the app's subscriptions, endpoints, ``asterisk/info``."""

    if TYPE_CHECKING:
        settings: AriSettings

        async def _request(self, resource: str, operation: str, /, **params: Any) -> bytes: ...

        async def _json(self, resource: str, operation: str, /, **params: Any) -> Any: ...

    # --- recordings --------------------------------------------------------------------------

    async def record_channel(
        self,
        channel: ChannelId,
        name: RecordingName | str,
        format: str = "wav",
        *,
        if_exists: str = "fail",
        beep: bool = False,
        max_duration_seconds: int | None = None,
        max_silence_seconds: int | None = None,
        terminate_on: str | None = None,
    ) -> RecordingName:
        """Record one channel; ``if_exists``: fail (409 if taken), overwrite, append."""
        data = await self._json(
            "channels",
            "record",
            channelId=channel,
            name=name,
            format=format,
            ifExists=if_exists,
            beep=beep,
            maxDurationSeconds=max_duration_seconds,
            maxSilenceSeconds=max_silence_seconds,
            terminateOn=terminate_on,
        )
        return RecordingName(str(data.get("name", name)) if isinstance(data, dict) else name)

    async def record_bridge(
        self,
        bridge: BridgeId,
        name: RecordingName | str,
        format: str = "wav",
        *,
        if_exists: str = "fail",
        beep: bool = False,
        max_duration_seconds: int | None = None,
        terminate_on: str | None = None,
    ) -> RecordingName:
        """Record everything in a bridge (the caller-agent conversation)."""
        data = await self._json(
            "bridges",
            "record",
            bridgeId=bridge,
            name=name,
            format=format,
            ifExists=if_exists,
            beep=beep,
            maxDurationSeconds=max_duration_seconds,
            terminateOn=terminate_on,
        )
        return RecordingName(str(data.get("name", name)) if isinstance(data, dict) else name)

    async def stop_recording(self, name: RecordingName) -> None:
        """Stop a live recording and keep it (RecordingFinished follows)."""
        await self._request("recordings", "stop", recordingName=name)

    async def pause_recording(self, name: RecordingName) -> None:
        await self._request("recordings", "pause", recordingName=name)

    async def unpause_recording(self, name: RecordingName) -> None:
        await self._request("recordings", "unpause", recordingName=name)

    async def get_live_recording(self, name: RecordingName) -> LiveRecording:
        """A recording in progress (AriNotFound once it finished, or if there is none)."""
        return LiveRecording.from_json(
            await self._json("recordings", "getLive", recordingName=name)
        )

    async def list_stored_recordings(self) -> list[StoredRecording]:
        """Every recording file in Asterisk's spool (ours and anyone else's)."""
        data = await self._json("recordings", "listStored")
        return [
            StoredRecording(RecordingName(str(item["name"])), str(item.get("format", "")))
            for item in data or ()
        ]

    async def get_stored_recording(self, name: RecordingName) -> StoredRecording:
        data = await self._json("recordings", "getStored", recordingName=name)
        return StoredRecording(RecordingName(str(data["name"])), str(data.get("format", "")))

    async def download_recording(self, name: RecordingName) -> bytes:
        """The stored recording's file as bytes."""
        return await self._request("recordings", "getStoredFile", recordingName=name)

    async def delete_stored_recording(self, name: RecordingName) -> None:
        await self._request("recordings", "deleteStored", recordingName=name)

    # --- application and system --------------------------------------------------------------

    async def get_application(self) -> ApplicationState:
        """``GET /applications/{app}``: the channels and bridges our app holds."""
        data = await self._json("applications", "get", applicationName=self.settings.app)
        return ApplicationState(
            name=str(data.get("name", self.settings.app)),
            channel_ids=frozenset(ChannelId(str(c)) for c in data.get("channel_ids") or ()),
            bridge_ids=frozenset(BridgeId(str(b)) for b in data.get("bridge_ids") or ()),
        )

    async def subscribe(self, event_sources: Sequence[str] | str) -> None:
        """Also receive the events of these objects (``endpoint:PJSIP/1001``, ``bridge:ID``,
        ``deviceState:NAME``), e.g. an agent's EndpointStateChange."""
        await self._request(
            "applications",
            "subscribe",
            applicationName=self.settings.app,
            eventSource=comma_list(event_sources),
        )

    async def unsubscribe(self, event_sources: Sequence[str] | str) -> None:
        await self._request(
            "applications",
            "unsubscribe",
            applicationName=self.settings.app,
            eventSource=comma_list(event_sources),
        )

    async def get_endpoint(self, endpoint: str) -> EndpointState:
        """An endpoint's state, ``endpoint`` written ``PJSIP/1001`` (AriNotFound if unknown)."""
        technology, _, resource = endpoint.partition("/")
        data = await self._json("endpoints", "get", tech=technology, resource=resource)
        return EndpointState.from_json(data)

    async def list_endpoints(self) -> list[EndpointState]:
        data = await self._json("endpoints", "list")
        return [EndpointState.from_json(item) for item in data or ()]

    async def asterisk_info(self) -> dict[str, Any]:
        """``GET /asterisk/info``: version, build, status."""
        data = await self._json("asterisk", "getInfo")
        return dict(data or {})


def comma_list(args: Sequence[str] | str | None) -> str | None:
    """ARI's comma list of a multi-valued parameter (``eventSource``, ``channel``...)."""
    if args is None:
        return None
    return args if isinstance(args, str) else ",".join(args)
