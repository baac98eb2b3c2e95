"""The dialplan contexts our rendered extensions.conf defines (templates in ``dialplan/``).

Kept apart from the renderer so the worker can name them without loading Jinja: a draining
worker sends new callers to ``FALLBACK_CONTEXT``/``FALLBACK_EXTENSION``, the plain app_queue
queue that also takes callers when no worker is connected.
"""

INBOUND_CONTEXT = "callcenter-inbound"
"""Callers from the trunk (each IVR number enters ``Stasis(<app>,inbound,<number>)``)."""
AGENTS_CONTEXT = "callcenter-agents"
"""Agents' phones."""
FALLBACK_CONTEXT = "callcenter-fallback"
"""No worker takes the call (none connected, or the worker is draining): app_queue."""
FALLBACK_EXTENSION = "s"
