"""The worker process: ARI events routed to one task per call.

- ``router.EventRouter``: channel/bridge id -> the inbox of the call that claimed it.
- ``session.CallSession``: one call's inbox, owned tasks and ``CallerContext``;
  ``session.CallFlow``: the protocol a call flow (IVR, queue) implements.
- ``app.Worker``: owns the ARI client, the router and the calls; /healthz, /metrics, SIGTERM drain.
"""

from callcenter.worker.app import HelloWorldFlow, Worker, WorkerSettings
from callcenter.worker.router import EventRouter
from callcenter.worker.session import CallEnded, CallerContext, CallFlow, CallSession

__all__ = [
    "CallEnded",
    "CallFlow",
    "CallSession",
    "CallerContext",
    "EventRouter",
    "HelloWorldFlow",
    "Worker",
    "WorkerSettings",
]
