"""What ARI requests answer with when they fail, and the small results they return.

Private to ``callcenter.asterisk``'s adapter; import them from ``callcenter.asterisk.ari``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from callcenter.asterisk.ids import BridgeId, ChannelId, RecordingName
from callcenter.errors import AsteriskError

# --- errors ----------------------------------------------------------------------------------


class AriRequestError(AsteriskError):
    """An ARI request failed: which request, the HTTP status and what Asterisk answered."""

    code = "ari-request-failed"

    def __init__(self, operation: str, status: int | None, asterisk_message: str) -> None:
        status_text = f"HTTP {status}" if status is not None else "no HTTP status"
        super().__init__(
            f"ARI {operation} failed: {status_text}: {asterisk_message}",
            operation=operation,
            status=status,
            asterisk_message=asterisk_message,
        )
        self.operation = operation
        self.status = status
        self.asterisk_message = asterisk_message


class AriNotFound(AriRequestError):
    """404: the channel, bridge, playback or recording does not exist (any more)."""

    code = "ari-not-found"


class AriConflict(AriRequestError):
    """409: the object is in the wrong state (e.g. "Channel not in Stasis application")."""

    code = "ari-conflict"


class AriTimeout(AriRequestError):
    """Asterisk did not answer within the request time-out."""

    code = "ari-timeout"


class AriConnectionFailed(AriRequestError):
    """The request could not reach Asterisk (refused, reset, not connected yet)."""

    code = "ari-connection-failed"


def status_error(operation: str, status: int, message: str) -> AriRequestError:
    if status == 404:
        return AriNotFound(operation, status, message)
    if status == 409:
        return AriConflict(operation, status, message)
    return AriRequestError(operation, status, message)


# --- small results ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApplicationState:
    """What ``GET /applications/{app}`` says the app holds."""

    name: str
    channel_ids: frozenset[ChannelId]
    bridge_ids: frozenset[BridgeId]


@dataclass(frozen=True, slots=True)
class EndpointState:
    """What ``GET /endpoints/{tech}/{resource}`` says: ``online``/``offline``/``unknown``."""

    technology: str
    resource: str
    state: str
    channel_ids: tuple[ChannelId, ...]

    @property
    def name(self) -> str:
        """``PJSIP/1001``."""
        return f"{self.technology}/{self.resource}"

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> EndpointState:
        return cls(
            technology=str(raw.get("technology", "")),
            resource=str(raw.get("resource", "")),
            state=str(raw.get("state", "")),
            channel_ids=tuple(ChannelId(str(c)) for c in raw.get("channel_ids") or ()),
        )


@dataclass(frozen=True, slots=True)
class StoredRecording:
    name: RecordingName
    format: str


@dataclass(frozen=True, slots=True)
class LiveRecording:
    """What ``GET /recordings/live/{name}`` says of a recording in progress."""

    name: RecordingName
    state: str
    """``queued``, ``recording``, ``paused``, ``done``..."""
    target_uri: str
    format: str

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> LiveRecording:
        return cls(
            name=RecordingName(str(raw.get("name", ""))),
            state=str(raw.get("state", "")),
            target_uri=str(raw.get("target_uri", "")),
            format=str(raw.get("format", "")),
        )
