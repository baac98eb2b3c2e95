"""The pure dispatcher: order of callers, strategies, offers, wrap-up, auto-pause, time."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from callcenter.config import OverflowTarget
from callcenter.routing.dispatcher import Dispatcher
from callcenter.routing.model import (
    AgentAutoPaused,
    AgentBusy,
    AgentNotFound,
    AgentNotLoggedIn,
    AgentSpec,
    AgentState,
    Assignment,
    CallerAlreadyQueued,
    CallerNotFound,
    CallerRequeued,
    EscalationApplied,
    EscalationStage,
    NoAnswerPauseEnded,
    Overflow,
    QueueNotFound,
    QueueSpec,
    RingTimedOut,
    SkillNeed,
    WrapupEnded,
)


def queue(queue_id: str = "sales", *skills: tuple[str, int], **options: object) -> QueueSpec:
    return QueueSpec(
        queue_id=queue_id, skills=tuple(SkillNeed(s, lv) for s, lv in skills), **options
    )  # type: ignore[arg-type]


def agent(agent_id: str, **skills: int) -> AgentSpec:
    return AgentSpec(agent_id=agent_id, skills=skills)


def dispatcher(
    queues: Iterable[QueueSpec],
    agents: Iterable[AgentSpec],
    *,
    log_in: bool = True,
    **options: float,
) -> Dispatcher:
    agents = list(agents)
    d = Dispatcher({q.queue_id: q for q in queues}, agents, **options)
    if log_in:
        for a in agents:
            d.log_in(a.agent_id, 0.0)
    return d


def connect(d: Dispatcher, assignment: Assignment, now: float) -> str:
    agent_id = assignment.agent_ids[0]
    d.agent_ringing(assignment.call_id, agent_id, now)
    assert d.agent_answered(assignment.call_id, agent_id, now)
    return agent_id


# --- order of callers -------------------------------------------------------------------------


def test_longest_waiting_caller_is_served_first() -> None:
    d = dispatcher([queue()], [agent("a1")], log_in=False)
    d.enqueue("late", "sales", 5.0)
    d.enqueue("early", "sales", 1.0, entered_at=1.0)
    d.log_in("a1", 6.0)
    assert d.next_assignments(6.0) == [Assignment("early", "sales", ("a1",))]


def test_higher_priority_goes_before_longer_wait() -> None:
    d = dispatcher([queue()], [agent("a1")], log_in=False)
    d.enqueue("patient", "sales", 0.0)
    d.enqueue("vip", "sales", 10.0, priority=5)
    assert d.position("vip") == 1
    assert d.position("patient") == 2
    d.log_in("a1", 11.0)
    assert [a.call_id for a in d.next_assignments(11.0)] == ["vip"]


def test_callers_lists_a_queue_in_serving_order_with_who_is_being_offered() -> None:
    d = dispatcher([queue(), queue("billing")], [agent("a1")], log_in=False)
    d.enqueue("patient", "sales", 0.0)
    d.enqueue("vip", "sales", 10.0, priority=5)
    d.enqueue("later", "sales", 12.0)
    d.enqueue("elsewhere", "billing", 1.0)
    assert [(c.call_id, c.priority, offered) for c, offered in d.callers("sales")] == [
        ("vip", 5, False),
        ("patient", 0, False),
        ("later", 0, False),
    ]
    d.log_in("a1", 13.0)
    [offer] = d.next_assignments(13.0)
    assert offer.call_id == "vip"
    assert next((c.call_id, offered) for c, offered in d.callers("sales")) == ("vip", True)
    assert [c.entered_at for c, _ in d.callers("sales")] == [10.0, 0.0, 12.0]
    assert [c.call_id for c, _ in d.callers("billing")] == ["elsewhere"]


def test_same_time_same_priority_is_served_in_arrival_order() -> None:
    d = dispatcher([queue()], [agent("a1"), agent("a2")], log_in=False)
    for call in ("c3", "c1", "c2"):
        d.enqueue(call, "sales", 1.0)
    d.log_in("a1", 2.0)
    assert [a.call_id for a in d.next_assignments(2.0)] == ["c3"]
    d.log_in("a2", 2.0)
    assert [a.call_id for a in d.next_assignments(2.0)] == ["c1"]


def test_priority_order_holds_across_queues_sharing_an_agent() -> None:
    d = dispatcher(
        [queue("sales", ("sales", 1)), queue("support", ("support", 1))],
        [agent("a1", sales=5, support=5)],
        log_in=False,
    )
    d.enqueue("s1", "sales", 0.0)
    d.enqueue("t1", "support", 1.0, priority=3)
    d.log_in("a1", 2.0)
    assert [a.call_id for a in d.next_assignments(2.0)] == ["t1"]


def test_caller_without_a_qualified_agent_does_not_block_the_next_one() -> None:
    d = dispatcher([queue("support", ("support", 1))], [agent("a1", support=5)], log_in=False)
    d.enqueue("french", "support", 0.0, extra_skills=[("french", 5)])
    d.enqueue("plain", "support", 1.0)
    d.log_in("a1", 2.0)
    assert [a.call_id for a in d.next_assignments(2.0)] == ["plain"]
    assert d.position("french") == 1


def test_caller_skills_add_to_the_queue_requirement() -> None:
    d = dispatcher(
        [queue("support", ("support", 3))],
        [agent("a1", support=9), agent("a2", support=4, french=6), agent("a3", french=9)],
    )
    d.enqueue("c1", "support", 1.0, extra_skills=[SkillNeed("french", 5)])
    assert d.next_assignments(1.0) == [Assignment("c1", "support", ("a2",))]


def test_position_counts_only_callers_of_the_same_queue() -> None:
    d = dispatcher([queue("sales"), queue("support")], [], log_in=False)
    assert d.enqueue("c1", "sales", 0.0) == 1
    assert d.enqueue("c2", "support", 1.0) == 1
    assert d.enqueue("c3", "sales", 2.0) == 2
    d.remove_caller("c1", 3.0)
    assert d.position("c3") == 1


# --- strategies and ties ----------------------------------------------------------------------


def test_longest_idle_picks_the_agent_who_finished_longest_ago() -> None:
    d = dispatcher([queue(wrapup_seconds=0)], [agent("a1"), agent("a2"), agent("a3")])
    d.enqueue("x", "sales", 1.0)
    d.enqueue("y", "sales", 1.0)
    x, y = d.next_assignments(1.0)
    assert (x.agent_ids, y.agent_ids) == (("a1",), ("a2",))  # tie at login time: by id
    connect(d, x, 1.0)
    connect(d, y, 1.0)
    d.call_finished("a2", 5.0)
    d.call_finished("a1", 8.0)
    d.enqueue("z", "sales", 9.0)
    assert d.next_assignments(9.0) == [Assignment("z", "sales", ("a3",))]
    d.enqueue("w", "sales", 9.0)
    assert d.next_assignments(9.0) == [Assignment("w", "sales", ("a2",))]


def test_least_calls_picks_the_agent_with_fewest_answered_calls_today() -> None:
    d = dispatcher([queue(strategy="least_calls", wrapup_seconds=0)], [agent("a1"), agent("a2")])
    d.enqueue("c1", "sales", 1.0)
    (first,) = d.next_assignments(1.0)
    assert first.agent_ids == ("a1",)  # tie at zero calls: by id
    connect(d, first, 1.0)
    d.call_finished("a1", 2.0)
    d.enqueue("c2", "sales", 3.0)
    assert d.next_assignments(3.0) == [Assignment("c2", "sales", ("a2",))]
    assert d.agent_status("a1").calls_today == 1
    d.reset_daily_counts()
    assert d.agent_status("a1").calls_today == 0


def test_a_missed_ring_is_not_an_answered_call_for_least_calls() -> None:
    d = dispatcher(
        [queue(strategy="least_calls", autopause_after_no_answers=0)],
        [agent("a1"), agent("a2")],
        no_answer_pause_seconds=0,
    )
    d.enqueue("c1", "sales", 1.0)
    d.next_assignments(1.0)
    d.agent_failed("c1", "a1", 2.0, "no_answer")
    assert d.agent_status("a1").calls_today == 0


def test_best_skill_picks_the_highest_level() -> None:
    d = dispatcher(
        [queue("support", ("support", 3), strategy="best_skill")],
        [agent("a1", support=4), agent("a2", support=8), agent("a3", support=8), agent("a4")],
    )
    d.enqueue("c1", "support", 1.0)
    d.enqueue("c2", "support", 1.0)
    d.enqueue("c3", "support", 1.0)
    assert [a.agent_ids for a in d.next_assignments(1.0)] == [("a2",), ("a3",), ("a1",)]


def test_best_skill_adds_up_the_caller_skills_too() -> None:
    d = dispatcher(
        [queue("support", ("support", 1), strategy="best_skill")],
        [agent("a1", support=9, french=2), agent("a2", support=5, french=8)],
    )
    d.enqueue("c1", "support", 1.0, extra_skills=["french"])
    assert d.next_assignments(1.0)[0].agent_ids == ("a2",)


def test_round_robin_remembers_where_it_stopped() -> None:
    d = dispatcher(
        [queue(strategy="round_robin", wrapup_seconds=0)], [agent("a1"), agent("a2"), agent("a3")]
    )
    rung = []
    for n in range(5):
        d.enqueue(f"c{n}", "sales", float(n))
        (assignment,) = d.next_assignments(float(n))
        rung.append(assignment.agent_ids[0])
        connect(d, assignment, float(n))
        d.call_finished(assignment.agent_ids[0], float(n))
    assert rung == ["a1", "a2", "a3", "a1", "a2"]


def test_round_robin_skips_busy_agents_and_wraps_around() -> None:
    d = dispatcher([queue(strategy="round_robin")], [agent("a1"), agent("a2"), agent("a3")])
    d.enqueue("c1", "sales", 0.0)
    d.enqueue("c2", "sales", 0.0)
    assert [a.agent_ids for a in d.next_assignments(0.0)] == [("a1",), ("a2",)]
    d.pause("a3", "lunch", 0.0)
    d.remove_caller("c1", 1.0)  # a1 free again
    d.enqueue("c3", "sales", 1.0)
    assert d.next_assignments(1.0) == [Assignment("c3", "sales", ("a1",))]


def test_ring_all_rings_every_qualified_agent_and_the_first_answer_wins() -> None:
    d = dispatcher(
        [queue("sales", ("sales", 5), strategy="ring_all")],
        [agent("a3", sales=9), agent("a1", sales=5), agent("a2", sales=2)],
    )
    d.enqueue("c1", "sales", 0.0)
    assert d.next_assignments(0.0) == [Assignment("c1", "sales", ("a1", "a3"))]
    assert d.agent_state("a1") is AgentState.RESERVED
    d.agent_ringing("c1", "a1", 0.5)
    d.agent_ringing("c1", "a3", 0.5)
    assert d.agent_answered("c1", "a3", 2.0)
    assert d.agent_state("a3") is AgentState.ON_CALL
    assert d.agent_state("a1") is AgentState.AVAILABLE
    assert not d.agent_answered("c1", "a1", 2.1)  # too late: the driver hangs that leg up


def test_ring_all_requeues_only_when_every_agent_failed() -> None:
    d = dispatcher(
        [queue(strategy="ring_all", autopause_after_no_answers=0)], [agent("a1"), agent("a2")]
    )
    d.enqueue("c1", "sales", 0.0)
    d.next_assignments(0.0)
    assert d.agent_failed("c1", "a1", 3.0, "rejected") == []
    assert d.agent_failed("c1", "a2", 4.0, "no_answer") == [CallerRequeued("c1", "sales", 1)]


def test_preference_order_lists_every_candidate_best_first() -> None:
    d = dispatcher(
        [queue("support", ("support", 1), strategy="best_skill")],
        [agent("a1", support=3), agent("a2", support=9), agent("a3", support=5)],
    )
    d.enqueue("c1", "support", 0.0)
    assert d.preference_order("c1") == ["a2", "a3", "a1"]


# --- no answer, busy, auto-pause ---------------------------------------------------------------


def test_no_answer_puts_caller_back_at_their_place_and_rests_the_agent() -> None:
    d = dispatcher([queue(autopause_after_no_answers=3)], [agent("a1"), agent("a2")], log_in=False)
    d.enqueue("c1", "sales", 0.0)
    d.enqueue("c2", "sales", 1.0)
    d.log_in("a1", 2.0)
    (offer,) = d.next_assignments(2.0)
    assert offer.call_id == "c1"
    d.agent_ringing("c1", "a1", 2.1)
    assert d.position("c2") == 1  # c1 is being offered
    assert d.agent_failed("c1", "a1", 10.0, "no_answer") == [CallerRequeued("c1", "sales", 1)]
    assert d.position("c2") == 2
    assert d.agent_state("a1") is AgentState.PAUSED
    assert d.agent_status("a1").reason == "no_answer"
    d.log_in("a2", 11.0)
    assert d.next_assignments(11.0) == [Assignment("c1", "sales", ("a2",))]
    assert d.tick(14.9) == []
    assert d.tick(15.0) == [NoAnswerPauseEnded("a1")]
    assert d.next_assignments(15.0) == [Assignment("c2", "sales", ("a1",))]


def test_auto_pause_after_consecutive_no_answers() -> None:
    d = dispatcher([queue(autopause_after_no_answers=2)], [agent("a1")], no_answer_pause_seconds=0)
    d.enqueue("c1", "sales", 0.0)
    d.next_assignments(0.0)
    assert d.agent_failed("c1", "a1", 1.0, "no_answer") == [CallerRequeued("c1", "sales", 1)]
    assert d.agent_state("a1") is AgentState.AVAILABLE
    d.next_assignments(1.0)
    decisions = d.agent_failed("c1", "a1", 2.0, "rejected")
    assert decisions == [AgentAutoPaused("a1", "autopause"), CallerRequeued("c1", "sales", 1)]
    assert d.agent_state("a1") is AgentState.PAUSED
    assert d.next_assignments(2.0) == []
    assert d.tick(1000.0) == [Overflow("c1", "sales", OverflowTarget(hangup=True))]
    d.unpause("a1", 1001.0)
    assert d.agent_status("a1").no_answer_count == 0


def test_an_answered_call_resets_the_no_answer_count() -> None:
    d = dispatcher([queue(autopause_after_no_answers=2)], [agent("a1")], no_answer_pause_seconds=0)
    d.enqueue("c1", "sales", 0.0)
    d.next_assignments(0.0)
    d.agent_failed("c1", "a1", 1.0, "no_answer")
    (offer,) = d.next_assignments(1.0)
    connect(d, offer, 2.0)
    assert d.agent_status("a1").no_answer_count == 0


def test_busy_rests_the_agent_but_does_not_count_towards_auto_pause() -> None:
    d = dispatcher([queue(autopause_after_no_answers=1)], [agent("a1")])
    d.enqueue("c1", "sales", 0.0)
    d.next_assignments(0.0)
    assert d.agent_failed("c1", "a1", 1.0, "busy") == [CallerRequeued("c1", "sales", 1)]
    assert d.agent_status("a1").reason == "no_answer"
    assert d.agent_status("a1").no_answer_count == 0


def test_autopause_zero_never_pauses() -> None:
    d = dispatcher([queue(autopause_after_no_answers=0)], [agent("a1")], no_answer_pause_seconds=0)
    d.enqueue("c1", "sales", 0.0)
    for n in range(5):
        d.next_assignments(float(n))
        assert d.agent_failed("c1", "a1", float(n), "no_answer") == [
            CallerRequeued("c1", "sales", 1)
        ]
    assert d.agent_state("a1") is AgentState.AVAILABLE


def test_ring_time_out_counts_as_no_answer() -> None:
    d = dispatcher([queue(ring_timeout=15, autopause_after_no_answers=1)], [agent("a1")])
    d.enqueue("c1", "sales", 0.0)
    d.next_assignments(0.0)
    d.agent_ringing("c1", "a1", 1.0)
    assert d.tick(17.9) == []
    assert d.tick(18.0) == [
        RingTimedOut("c1", "a1"),
        AgentAutoPaused("a1", "autopause"),
        CallerRequeued("c1", "sales", 1),
    ]
    assert d.agent_failed("c1", "a1", 18.1, "no_answer") == []  # the driver's late report


def test_late_failure_after_the_caller_left_is_ignored() -> None:
    d = dispatcher([queue()], [agent("a1")])
    d.enqueue("c1", "sales", 0.0)
    d.next_assignments(0.0)
    assert d.remove_caller("c1", 1.0) is not None
    assert d.agent_state("a1") is AgentState.AVAILABLE  # no penalty for an abandon
    assert d.agent_failed("c1", "a1", 1.1, "no_answer") == []
    assert d.agent_state("a1") is AgentState.AVAILABLE
    assert d.remove_caller("c1", 1.2) is None


# --- wrap-up and pauses ------------------------------------------------------------------------


def test_wrap_up_for_the_queue_time_then_available() -> None:
    d = dispatcher([queue(wrapup_seconds=10)], [agent("a1")])
    d.enqueue("c1", "sales", 0.0)
    connect(d, d.next_assignments(0.0)[0], 1.0)
    d.enqueue("c2", "sales", 2.0)
    assert d.next_assignments(2.0) == []
    assert d.call_finished("a1", 60.0) == []
    assert d.agent_state("a1") is AgentState.WRAPUP
    assert d.next_assignments(60.0) == []
    assert d.tick(69.9) == []
    assert d.tick(70.0) == [WrapupEnded("a1")]
    assert d.next_assignments(70.0) == [Assignment("c2", "sales", ("a1",))]


def test_zero_wrap_up_makes_the_agent_available_at_once() -> None:
    d = dispatcher([queue(wrapup_seconds=0)], [agent("a1")])
    d.enqueue("c1", "sales", 0.0)
    connect(d, d.next_assignments(0.0)[0], 1.0)
    assert d.call_finished("a1", 5.0) == [WrapupEnded("a1")]
    assert d.agent_state("a1") is AgentState.AVAILABLE


def test_pause_during_a_call_applies_after_wrap_up() -> None:
    d = dispatcher([queue(wrapup_seconds=5)], [agent("a1")])
    d.enqueue("c1", "sales", 0.0)
    connect(d, d.next_assignments(0.0)[0], 1.0)
    d.pause("a1", "lunch", 2.0)
    assert d.agent_state("a1") is AgentState.ON_CALL
    d.call_finished("a1", 3.0)
    assert d.tick(8.0) == [WrapupEnded("a1")]
    assert d.agent_state("a1") is AgentState.PAUSED
    assert d.agent_status("a1").reason == "lunch"
    d.unpause("a1", 9.0)
    assert d.agent_state("a1") is AgentState.AVAILABLE


def test_pause_during_wrap_up_ends_it_and_the_old_timer_does_nothing() -> None:
    d = dispatcher([queue(wrapup_seconds=5)], [agent("a1")])
    d.enqueue("c1", "sales", 0.0)
    connect(d, d.next_assignments(0.0)[0], 1.0)
    d.call_finished("a1", 3.0)
    d.pause("a1", "training", 4.0)
    assert d.tick(100.0) == []
    assert d.agent_state("a1") is AgentState.PAUSED


def test_paused_and_logged_out_agents_get_no_calls() -> None:
    d = dispatcher([queue()], [agent("a1"), agent("a2"), agent("a3")])
    d.pause("a1", "break", 0.0)
    d.log_out("a2", 0.0)
    d.enqueue("c1", "sales", 1.0)
    assert d.next_assignments(1.0) == [Assignment("c1", "sales", ("a3",))]


def test_log_out_refused_while_ringing_and_pause_refused_when_logged_out() -> None:
    d = dispatcher([queue()], [agent("a1"), agent("a2")])
    d.enqueue("c1", "sales", 0.0)
    d.next_assignments(0.0)
    with pytest.raises(AgentBusy) as busy:
        d.log_out("a1", 1.0)
    assert busy.value.code == "agent-busy"
    d.log_out("a2", 1.0)
    with pytest.raises(AgentNotLoggedIn):
        d.pause("a2", "x", 1.0)
    with pytest.raises(AgentNotLoggedIn):
        d.unpause("a2", 1.0)


def test_unknown_ids_raise_errors_with_a_stable_code() -> None:
    d = dispatcher([queue()], [agent("a1")])
    with pytest.raises(AgentNotFound) as missing_agent:
        d.log_in("nobody", 0.0)
    assert missing_agent.value.details == {"agent": "nobody"}
    with pytest.raises(QueueNotFound):
        d.enqueue("c1", "nowhere", 0.0)
    with pytest.raises(CallerNotFound):
        d.position("c9")
    d.enqueue("c1", "sales", 0.0)
    with pytest.raises(CallerAlreadyQueued):
        d.enqueue("c1", "sales", 0.0)


# --- escalation and overflow -------------------------------------------------------------------


def test_escalation_lowers_the_level_after_the_wait() -> None:
    d = dispatcher(
        [queue("sales", ("sales", 5), escalation=(EscalationStage(60, min_level=3),))],
        [agent("junior", sales=3), agent("novice", sales=1)],
    )
    d.enqueue("c1", "sales", 0.0)
    assert d.next_assignments(0.0) == []
    assert d.tick(59.0) == []
    assert d.tick(60.0) == [EscalationApplied("c1", "sales", 1)]
    assert d.next_assignments(60.0) == [Assignment("c1", "sales", ("junior",))]


def test_escalation_adds_another_skill_group_then_overflows() -> None:
    billing = queue(
        "billing",
        ("billing", 3),
        escalation=(EscalationStage(90, add_skills=("support",)), EscalationStage(120, 1)),
        max_wait_seconds=300,
        overflow=OverflowTarget(queue="support"),
    )
    d = dispatcher([billing], [agent("helper", support=2)], log_in=False)
    d.enqueue("c1", "billing", 0.0, priority=2)
    assert d.tick(90.0) == [EscalationApplied("c1", "billing", 1)]
    assert d.tick(120.0) == [EscalationApplied("c1", "billing", 2)]
    assert d.tick(300.0) == [Overflow("c1", "billing", OverflowTarget(queue="support"), 2)]
    with pytest.raises(CallerNotFound):
        d.position("c1")
    d.log_in("helper", 301.0)
    assert d.next_assignments(301.0) == []


def test_added_skill_group_still_requires_what_the_caller_asked_for() -> None:
    q = queue("billing", ("billing", 3), escalation=(EscalationStage(10, add_skills=("support",)),))
    d = dispatcher([q], [agent("s1", support=5), agent("s2", support=5, french=4)])
    d.enqueue("c1", "billing", 0.0, extra_skills=[("french", 3)])
    d.tick(10.0)
    assert d.next_assignments(10.0) == [Assignment("c1", "billing", ("s2",))]


def test_several_steps_due_at_once_apply_in_order() -> None:
    q = queue(
        "sales",
        ("sales", 9),
        escalation=(EscalationStage(10, min_level=5), EscalationStage(20, min_level=2)),
    )
    d = dispatcher([q], [agent("a1", sales=2)])
    d.enqueue("c1", "sales", 0.0)
    assert d.tick(25.0) == [
        EscalationApplied("c1", "sales", 1),
        EscalationApplied("c1", "sales", 2),
    ]
    assert d.next_assignments(25.0)[0].agent_ids == ("a1",)


def test_restored_caller_keeps_their_entry_time_and_escalation() -> None:
    q = queue("sales", ("sales", 9), escalation=(EscalationStage(60, min_level=1),))
    d = dispatcher([q], [agent("a1", sales=1)])
    assert d.enqueue("old", "sales", 100.0, entered_at=20.0) == 1
    assert d.next_assignments(100.0) == [Assignment("old", "sales", ("a1",))]


def test_max_wait_while_ringing_waits_for_the_outcome() -> None:
    d = dispatcher(
        [queue(max_wait_seconds=30, ring_timeout=60, autopause_after_no_answers=0)], [agent("a1")]
    )
    d.enqueue("c1", "sales", 0.0)
    d.next_assignments(25.0)
    assert d.tick(30.0) == []
    decisions = d.agent_failed("c1", "a1", 40.0, "no_answer")
    assert decisions == [CallerRequeued("c1", "sales", 1)]
    assert d.tick(40.0) == [Overflow("c1", "sales", OverflowTarget(hangup=True))]


def test_abandoned_caller_does_not_overflow() -> None:
    d = dispatcher([queue(max_wait_seconds=30)], [], log_in=False)
    d.enqueue("c1", "sales", 0.0)
    d.remove_caller("c1", 5.0)
    assert d.tick(100.0) == []


# --- estimated wait, snapshot, state log, multi-worker -----------------------------------------


def test_estimated_wait_uses_recent_handle_times_and_staffing() -> None:
    d = dispatcher(
        [queue(wrapup_seconds=10)], [agent("a1"), agent("a2")], default_handle_seconds=100
    )
    d.enqueue("c1", "sales", 0.0)
    d.pause("a1", "x", 0.0)
    d.pause("a2", "x", 0.0)
    assert d.estimated_wait("c1", 0.0) == 100.0  # no history, nobody staffed: counts one agent
    d.unpause("a1", 0.0)
    connect(d, d.next_assignments(0.0)[0], 0.0)
    d.call_finished("a1", 50.0)  # 50 s talk + 10 s wrap-up = 60 s
    d.unpause("a2", 50.0)
    d.enqueue("c2", "sales", 50.0)
    d.enqueue("c3", "sales", 51.0)
    assert d.estimated_wait("c3", 51.0) == 2 * 60.0 / 2


def test_snapshot_shows_queues_and_agents() -> None:
    d = dispatcher([queue("sales"), queue("support")], [agent("a1")])
    d.pause("a1", "lunch", 3.0)
    d.enqueue("c1", "sales", 1.0)
    d.enqueue("c2", "sales", 4.0)
    snap = d.snapshot(10.0)
    assert snap["queues"]["sales"] == {"waiting": 2, "offered": 0, "longest_wait": 9.0}
    assert snap["queues"]["support"]["waiting"] == 0
    assert snap["agents"]["a1"]["state"] == "paused"
    assert snap["agents"]["a1"]["since"] == 3.0
    assert snap["agents"]["a1"]["reason"] == "lunch"


def test_state_changes_are_logged_for_the_database() -> None:
    d = dispatcher([queue(wrapup_seconds=0)], [agent("a1")], log_in=False)
    d.log_in("a1", 1.0)
    d.enqueue("c1", "sales", 2.0)
    connect(d, d.next_assignments(2.0)[0], 3.0)
    d.call_finished("a1", 9.0)
    changes = d.drain_state_changes()
    assert [(c.state.value, c.at, c.call_id) for c in changes] == [
        ("available", 1.0, None),
        ("reserved", 2.0, "c1"),
        ("ringing", 3.0, "c1"),
        ("on_call", 3.0, "c1"),
        ("available", 9.0, None),
    ]
    assert d.drain_state_changes() == []


def test_agent_reserved_by_another_worker_is_skipped_without_penalty() -> None:
    d = dispatcher([queue()], [agent("a1"), agent("a2")])
    d.enqueue("c1", "sales", 0.0)
    (offer,) = d.next_assignments(0.0)
    assert offer.agent_ids == ("a1",)
    assert d.reservation_refused("c1", "a1", 0.1) == [CallerRequeued("c1", "sales", 1)]
    assert d.next_assignments(0.1) == [Assignment("c1", "sales", ("a2",))]
    assert d.agent_status("a1").no_answer_count == 0
    d.agent_free_elsewhere("a1", 5.0)
    assert d.agent_state("a1") is AgentState.AVAILABLE
    d.agent_busy_elsewhere("a1", 6.0)
    d.enqueue("c2", "sales", 6.0)
    assert d.next_assignments(6.0) == []


def test_pause_asked_while_held_elsewhere_applies_when_freed() -> None:
    d = dispatcher([queue()], [agent("a1")])
    d.agent_busy_elsewhere("a1", 1.0)
    assert d.agent_state("a1") is AgentState.RESERVED
    d.pause("a1", "meeting", 2.0)
    d.agent_free_elsewhere("a1", 3.0)
    assert d.agent_state("a1") is AgentState.PAUSED
    assert d.agent_status("a1").reason == "meeting"
    d.agent_busy_elsewhere("a1", 4.0)  # only an available agent can be taken elsewhere
    assert d.agent_state("a1") is AgentState.PAUSED


# --- a conversation adopted after a worker restart --------------------------------------------


def test_an_adopted_conversation_puts_a_logged_out_agent_on_call_then_into_wrap_up() -> None:
    d = dispatcher([queue(wrapup_seconds=30)], [agent("a1"), agent("a2")], log_in=False)
    d.agent_on_adopted_call("a1", "c1", "sales", answered_at=40.0, now=100.0)
    status = d.agent_status("a1")
    assert (status.state, status.call_id, status.queue_id) == (AgentState.ON_CALL, "c1", "sales")
    assert d.next_assignments(100.0) == []  # never offered while talking
    d.call_finished("a1", 130.0)
    assert d.agent_state("a1") is AgentState.WRAPUP
    d.tick(160.0)
    assert d.agent_state("a1") is AgentState.AVAILABLE
