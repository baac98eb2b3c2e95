"""Wiring between the simulated PBX core (callcenter/sim/pbx.py) and the AMI server.

Turns the core's internal events into AMI events and runs channel actions on the core.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from callcenter.sim.ami_frames import ChannelSnapshot
from callcenter.sim.ami_tables import EndpointRow, QueueRow

if TYPE_CHECKING:
    from callcenter.sim.ami_server import ActionHandler, AmiServer


class PbxBridge:
    """Listens to the PBX core and answers channel actions from it."""

    def __init__(self, server: AmiServer, pbx: Any) -> None:
        self.server = server
        self.pbx = pbx

    def attach(self) -> None:
        """Start listening to the core."""

    def detach(self) -> None:
        """Stop listening to the core."""

    def action_handlers(self) -> dict[str, ActionHandler]:
        """AMI actions that need the core (lower-case name -> handler)."""
        return {}

    def queue_rows(self) -> Iterable[QueueRow] | None:
        """Queues of the core, None when it has none."""
        return None

    def endpoint_rows(self) -> Iterable[EndpointRow] | None:
        """Endpoints of the core, None when it has none."""
        return None

    def channel_snapshots(self) -> Iterable[ChannelSnapshot]:
        """Live channels of the core."""
        return []
