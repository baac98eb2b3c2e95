"""The worker process: ARI events routed to one task per call (``callcenter.call``).

- ``app.Worker``: owns the ARI client, the router and the calls; /healthz, /metrics, SIGTERM drain.
"""

from callcenter.call.router import EventRouter
from callcenter.call.session import CallEnded, CallerContext, CallFlow, CallSession
from callcenter.worker.app import HelloWorldFlow, Worker, WorkerSettings

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
