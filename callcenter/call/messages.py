"""What a call's inbox carries: ARI events from Asterisk, and our own messages.

Messages that do not come from Asterisk (a queue decision, a lookup's answer) are
``CallMessage`` subclasses, not ARI events: they name no channel and no bridge, and the
router never sees them. A call's task reads both kinds from one inbox, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from callcenter.asterisk.events import AriEvent


@dataclass(frozen=True, slots=True, kw_only=True)
class CallMessage:
    """Base of the messages our own parts post to a call's inbox (never from Asterisk)."""


InboxItem = AriEvent | CallMessage
"""One item of a call's inbox."""


class CallInbox(Protocol):
    """Where a call's events and messages go (the session's inbox fits)."""

    def put_nowait(self, item: InboxItem, /) -> None: ...
