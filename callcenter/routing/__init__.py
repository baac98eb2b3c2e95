"""Skill-based routing (ACD): the pure model and dispatcher; the ARI driver lives beside them."""

from callcenter.routing.dispatcher import AgentStateChanged, Dispatcher
from callcenter.routing.model import (
    AgentAutoPaused,
    AgentSpec,
    AgentState,
    Assignment,
    CallerRequeued,
    Decision,
    EscalationApplied,
    NoAnswerPauseEnded,
    Overflow,
    QueueSpec,
    RingTimedOut,
    WaitingCaller,
    WrapupEnded,
)

__all__ = [
    "AgentAutoPaused",
    "AgentSpec",
    "AgentState",
    "AgentStateChanged",
    "Assignment",
    "CallerRequeued",
    "Decision",
    "Dispatcher",
    "EscalationApplied",
    "NoAnswerPauseEnded",
    "Overflow",
    "QueueSpec",
    "RingTimedOut",
    "WaitingCaller",
    "WrapupEnded",
]
