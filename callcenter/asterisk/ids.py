"""Typed identifiers for the things Asterisk names (channels, bridges, playbacks, recordings).

They are plain ``str`` at run time; the types keep a bridge id from being passed where a
channel id is expected. ``CallId`` is ours: one per inbound call, a uuid4 hex.
"""

from __future__ import annotations

import uuid
from typing import NewType

ChannelId = NewType("ChannelId", str)
BridgeId = NewType("BridgeId", str)
PlaybackId = NewType("PlaybackId", str)
RecordingName = NewType("RecordingName", str)
CallId = NewType("CallId", str)


def new_call_id() -> CallId:
    """A fresh call id (uuid4 hex, 32 characters)."""
    return CallId(uuid.uuid4().hex)


def new_channel_id(prefix: str = "cc") -> ChannelId:
    """A channel id for ``channels/create``, so the channel can be claimed before it exists."""
    return ChannelId(f"{prefix}-{uuid.uuid4().hex}")


def new_bridge_id(prefix: str = "cc") -> BridgeId:
    """A bridge id chosen by us, so a bridge can be found again after a reconnect."""
    return BridgeId(f"{prefix}-{uuid.uuid4().hex}")


def new_playback_id() -> PlaybackId:
    """A playback id chosen by us, so its events can be matched before the POST returns."""
    return PlaybackId(uuid.uuid4().hex)
