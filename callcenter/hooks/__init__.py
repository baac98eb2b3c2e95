"""Hooks: tell other systems what happens to calls.

Events: ``call_start``, ``queue_entry``, ``agent_connect``, ``recording_finished``,
``call_end``, ``voicemail`` (a message left in a box); each with a JSON-able payload that always
holds ``call_id``.

Two kinds of receivers:

- plug-ins: any object with ``async def on_hook(event: str, payload: Mapping) -> None``
  registered with ``hooks.add(plugin)``; called in a task owned by ``Hooks`` with a time-out,
  so a slow or failing plug-in never holds up a call;
- webhooks (``webhooks.py``): signed HTTP POSTs, durable and retried.

Usage::

    hooks = Hooks.from_config(config, spool_dir=...)
    await hooks.start()
    hooks.emit("call_end", {"call_id": call_id, "disposition": "answered"})   # never awaits
    await hooks.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from callcenter.hooks.webhooks import WebhookSender, sign, verify_signature

if TYPE_CHECKING:
    from callcenter.config import CallCenterConfig

log = logging.getLogger(__name__)

HOOK_EVENTS = (
    "call_start",
    "queue_entry",
    "agent_connect",
    "recording_finished",
    "call_end",
    "voicemail",
)


class HookPlugin(Protocol):
    async def on_hook(self, event: str, payload: Mapping[str, Any]) -> None: ...


class Hooks:
    """Fans hook events out to plug-ins and webhooks."""

    def __init__(self, webhooks: WebhookSender | None = None, plugin_timeout: float = 5.0) -> None:
        self.webhooks = webhooks
        self.plugin_timeout = plugin_timeout
        self._plugins: list[HookPlugin] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def from_config(cls, config: CallCenterConfig, worker_id: str = "worker") -> Hooks:
        """Webhooks from ``config.webhooks``, spooled in ``database.spool_dir/webhooks-<id>``."""
        if not config.webhooks:
            return cls()
        spool = Path(config.database.spool_dir) / f"webhooks-{worker_id}"
        return cls(WebhookSender(config.webhooks, spool))

    def add(self, plugin: HookPlugin) -> None:
        self._plugins.append(plugin)

    async def start(self) -> None:
        if self.webhooks is not None:
            await self.webhooks.start()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.webhooks is not None:
            await self.webhooks.close()

    def emit(self, event: str, payload: Mapping[str, Any]) -> None:
        """Hand ``event`` to every plug-in and webhook; returns at once."""
        if event not in HOOK_EVENTS:
            raise ValueError(f"unknown hook event {event!r}")
        if self.webhooks is not None:
            self.webhooks.emit(event, payload)
        for plugin in self._plugins:
            task = asyncio.create_task(self._call(plugin, event, dict(payload)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _call(self, plugin: HookPlugin, event: str, payload: dict[str, Any]) -> None:
        call_id = payload.get("call_id")
        try:
            await asyncio.wait_for(plugin.on_hook(event, payload), self.plugin_timeout)
        except TimeoutError:
            log.warning("call %s: hook plug-in %r timed out on %s", call_id, plugin, event)
        except Exception:  # a plug-in's bug must not break the call
            log.exception("call %s: hook plug-in %r failed on %s", call_id, plugin, event)

    async def drain(self) -> None:
        """Wait for the plug-in calls in flight (for tests and shutdown)."""
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks)


__all__ = ["HOOK_EVENTS", "HookPlugin", "Hooks", "WebhookSender", "sign", "verify_signature"]
