"""The IVR state machine, event by event: every node type, barge-in, type-ahead, invalid input,
time-outs, retries, lookups, message recording, business hours and hang-ups."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from callcenter.config import (
    BusinessHours,
    IvrSettings,
    SkillRequirement,
    load_config,
    parse_config,
)
from callcenter.errors import ConfigError
from callcenter.ivr.machine import (
    DEFAULT_LOOKUP_FAILURE_PROMPT,
    CallerHungUp,
    CancelLookup,
    CancelTimer,
    Decision,
    Digit,
    Finish,
    Hangup,
    HungUp,
    IvrEvent,
    IvrMachine,
    IvrOutcome,
    LookupAnswered,
    LookupFailed,
    PlayPrompts,
    PromptFinished,
    QueueRequest,
    RecordingEnded,
    RunLookup,
    Started,
    StartRecording,
    StartTimer,
    StopPrompt,
    StopRecording,
    TimerExpired,
    Transfer,
    Voicemail,
    say_media,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"

OFFICE = BusinessHours.model_validate(
    {
        "weekly": {d: ["09:00-17:30"] for d in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": ["2026-12-25"],
    }
)
HOURS = {"office": OFFICE}
OPEN = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)  # a Monday, 10:00 in London
CLOSED = dt.datetime(2026, 11, 23, 20, 0, tzinfo=dt.UTC)

IVR = IvrSettings.model_validate(
    {
        "numbers": {"100": "main"},
        "operator_queue": "operator",
        "lookups": {
            "order_status": {
                "kind": "http",
                "url": "http://127.0.0.1:1/orders/{value}",
                "timeout_seconds": 2.0,
            },
            "balance": {"kind": "http", "url": "http://127.0.0.1:1/b/{value}"},
        },
        "menus": {
            "main": {
                "prompts": ["sound:welcome", "sound:press-1-existing-2-new"],
                "hours": "office",
                "on_closed": {"menu": "closed"},
                "choices": {
                    "1": {"menu": "existing"},
                    "2": {"queue": "sales", "prompt": "sound:transferring-to-sales"},
                    "4": {"queue": "support", "priority": 5, "extra_skills": [{"skill": "fr"}]},
                    "5": {"menu": "info"},
                    "6": {"menu": "leave_message"},
                    "7": {"transfer": "+441632960999"},
                    "8": {"voicemail": "sales"},
                    "#": {"hangup": True, "prompt": "sound:goodbye"},
                },
                "first_digit_timeout": 5,
                "retries": 2,
                "invalid_prompt": "sound:option-is-invalid",
                "timeout_prompt": "sound:please-choose",
                "on_exhausted": {"queue": "support"},
            },
            "existing": {
                "prompts": ["sound:press-1-order"],
                "choices": {"1": {"menu": "order_number"}, "9": {"menu": "main"}},
            },
            "order_number": {
                "type": "collect",
                "prompts": ["sound:enter-order-number-then-hash"],
                "variable": "order_number",
                "min_digits": 4,
                "max_digits": 10,
                "terminator": "#",
                "first_digit_timeout": 6,
                "inter_digit_timeout": 3,
                "retries": 1,
                "timeout_prompt": "sound:please-try-again",
                "next": {"menu": "order_status"},
            },
            "pin": {
                "type": "collect",
                "prompts": ["sound:enter-pin"],
                "variable": "pin",
                "min_digits": 4,
                "max_digits": 4,
                "next": {"queue": "billing"},
            },
            "order_status": {
                "type": "lookup",
                "lookup": "order_status",
                "input_variable": "order_number",
                "prompts": ["sound:your-order-status-is"],
                "say_as": "sound",
                "result_prompts": ["sound:thank-you"],
                "failure_prompt": "sound:sorry-cannot-find-order",
                "next": {"menu": "after_status"},
            },
            "balance": {
                "type": "lookup",
                "lookup": "balance",
                "input_variable": "pin",
                "say_as": "number",
                "next": {"queue": "billing"},
            },
            "after_status": {
                "prompts": ["sound:press-1-agent-9-main-menu"],
                "choices": {"1": {"queue": "sales", "priority": 2}, "9": {"menu": "main"}},
                "on_exhausted": {"hangup": True, "prompt": "sound:goodbye"},
            },
            "closed": {
                "type": "play",
                "prompts": ["sound:we-are-closed", "sound:opening-hours"],
                "next": {"voicemail": "general"},
            },
            "info": {
                "type": "play",
                "prompts": ["sound:our-address"],
                "next": {"menu": "existing"},
            },
            "leave_message": {
                "type": "record_message",
                "prompts": ["sound:leave-message-after-tone"],
                "variable": "message",
                "next": {"hangup": True, "prompt": "sound:goodbye"},
            },
            "silent": {
                "prompts": [],
                "choices": {"1": {"queue": "billing"}},
                "retries": 0,
                "timeout_prompt": None,
            },
            "loop_a": {
                "hours": "office",
                "on_closed": {"menu": "loop_b"},
                "choices": {"1": {"queue": "sales"}},
            },
            "loop_b": {
                "hours": "office",
                "on_closed": {"menu": "loop_a"},
                "choices": {"1": {"queue": "sales"}},
            },
        },
    }
)


class Call:
    """One call through the machine, with the clock in the test's hands."""

    def __init__(self, entry: str = "main", at: dt.datetime = OPEN, ivr: IvrSettings = IVR) -> None:
        self.machine = IvrMachine(ivr, entry, HOURS, "Europe/London", call_id="c1")
        self.now = at
        self.prompt_id: int | None = None
        self.timer: StartTimer | None = None
        self.lookup: RunLookup | None = None
        self.recording: StartRecording | None = None
        self.log: list[Decision] = []

    def send(self, event: IvrEvent) -> list[Decision]:
        out = self.machine.handle(event, self.now)
        self.log.extend(out)
        for decision in out:
            match decision:
                case PlayPrompts():
                    self.prompt_id = decision.prompt_id
                case StopPrompt():
                    self.prompt_id = None
                case StartTimer():
                    self.timer = decision
                case CancelTimer():
                    self.timer = None
                case RunLookup():
                    self.lookup = decision
                case StartRecording():
                    self.recording = decision
        return out

    def start(self) -> list[Decision]:
        return self.send(Started())

    def press(self, digits: str) -> list[Decision]:
        out: list[Decision] = []
        for digit in digits:
            out += self.send(Digit(digit))
        return out

    def prompt_ends(self) -> list[Decision]:
        assert self.prompt_id is not None, "no prompt is playing"
        prompt_id, self.prompt_id = self.prompt_id, None
        return self.send(PromptFinished(prompt_id))

    def timer_fires(self) -> list[Decision]:
        assert self.timer is not None, "no timer runs"
        timer, self.timer = self.timer, None
        return self.send(TimerExpired(timer.token))

    @property
    def outcome(self) -> IvrOutcome | None:
        return self.machine.outcome

    @property
    def path(self) -> list[str]:
        return [node for node, _ in self.machine.context.ivr_path]

    @property
    def variables(self) -> dict[str, str]:
        return self.machine.context.variables


def plays(out: list[Decision]) -> list[PlayPrompts]:
    return [d for d in out if isinstance(d, PlayPrompts)]


def only_play(out: list[Decision]) -> PlayPrompts:
    found = plays(out)
    assert len(found) == 1, out
    return found[0]


def kinds(out: list[Decision]) -> list[str]:
    return [type(d).__name__ for d in out]


def finish(out: list[Decision]) -> IvrOutcome:
    assert isinstance(out[-1], Finish), out
    return out[-1].outcome


# --- start and menus ---------------------------------------------------------------------------


def test_start_plays_the_entry_prompts_interruptibly_and_records_the_path() -> None:
    call = Call()
    out = call.start()
    assert out == [
        PlayPrompts(1, ("sound:welcome", "sound:press-1-existing-2-new"), interruptible=True)
    ]
    assert call.machine.context.ivr_path == [("main", OPEN.timestamp())]


def test_first_digit_timer_starts_when_the_prompt_has_played() -> None:
    call = Call()
    call.start()
    assert call.prompt_ends() == [StartTimer(2, 5.0)]


def test_valid_choice_after_the_prompt_goes_to_that_menu() -> None:
    call = Call()
    call.start()
    call.prompt_ends()
    out = call.press("1")
    assert kinds(out) == ["CancelTimer", "PlayPrompts"]
    assert only_play(out).media == ("sound:press-1-order",)
    assert call.path == ["main", "existing"]
    assert call.machine.context.digits == ["1"]


def test_barge_in_stops_the_prompt_and_counts_the_digit() -> None:
    call = Call()
    call.start()
    out = call.press("1")
    assert out[0] == StopPrompt(1)
    assert only_play(out).media == ("sound:press-1-order",)
    assert call.path == ["main", "existing"]


def test_late_prompt_finished_after_barge_in_is_ignored() -> None:
    call = Call()
    call.start()
    call.press("1")
    assert call.send(PromptFinished(1)) == []  # the stopped main prompt
    assert call.machine.phase.value == "prompt"  # still playing existing's prompt


def test_choice_with_prompt_plays_it_uninterruptibly_then_queues() -> None:
    call = Call()
    call.start()
    out = call.press("2")
    assert out[0] == StopPrompt(1)
    assert only_play(out) == PlayPrompts(2, ("sound:transferring-to-sales",), interruptible=False)
    assert call.outcome is None
    assert finish(call.prompt_ends()) == QueueRequest("sales")


def test_queue_choice_carries_priority_and_extra_skills() -> None:
    call = Call()
    call.start()
    outcome = finish(call.press("4"))
    assert outcome == QueueRequest("support", 5, (SkillRequirement(skill="fr"),))


@pytest.mark.parametrize(
    ("digit", "outcome"),
    [("7", Transfer("+441632960999")), ("8", Voicemail("sales"))],
)
def test_transfer_and_voicemail_choices(digit: str, outcome: IvrOutcome) -> None:
    call = Call()
    call.start()
    assert finish(call.press(digit)) == outcome


def test_hangup_choice_says_goodbye_first() -> None:
    call = Call()
    call.start()
    out = call.press("#")
    assert only_play(out).media == ("sound:goodbye",)
    assert finish(call.prompt_ends()) == Hangup()


def test_invalid_digit_plays_invalid_prompt_then_the_menu_again() -> None:
    call = Call()
    call.start()
    call.prompt_ends()
    out = call.press("3")
    assert only_play(out) == PlayPrompts(
        3,
        ("sound:option-is-invalid", "sound:welcome", "sound:press-1-existing-2-new"),
        interruptible=True,
    )
    assert call.path == ["main"]  # no re-entry: same visit
    call.prompt_ends()
    assert call.press("1")[-1] == PlayPrompts(5, ("sound:press-1-order",), True)


def test_timeout_plays_timeout_prompt_then_the_menu_again() -> None:
    call = Call()
    call.start()
    call.prompt_ends()
    out = call.timer_fires()
    assert only_play(out).media == (
        "sound:please-choose",
        "sound:welcome",
        "sound:press-1-existing-2-new",
    )


def test_retries_exhausted_by_invalid_input_go_to_on_exhausted() -> None:
    call = Call()
    call.start()
    for _ in range(2):  # retries: 2 -> two re-prompts
        call.prompt_ends()
        assert only_play(call.press("3")).interruptible
    call.prompt_ends()
    out = call.press("3")
    # The third failure: "invalid" once more, uninterruptible, then the exhausted target.
    assert only_play(out) == PlayPrompts(7, ("sound:option-is-invalid",), interruptible=False)
    assert finish(call.prompt_ends()) == QueueRequest("support")
    assert call.variables["main_exhausted"] == "invalid"


def test_retries_exhausted_by_time_outs() -> None:
    call = Call()
    call.start()
    for _ in range(2):
        call.prompt_ends()
        call.timer_fires()
    call.prompt_ends()
    out = call.timer_fires()
    assert only_play(out).media == ("sound:please-choose",)
    assert finish(call.prompt_ends()) == QueueRequest("support")
    assert call.variables["main_exhausted"] == "timeout"


def test_mixed_failures_count_together() -> None:
    call = Call()
    call.start()
    call.press("3")  # barge-in with an invalid digit: failure 1
    call.prompt_ends()
    call.timer_fires()  # failure 2
    call.press("0")  # failure 3 > retries
    assert finish(call.prompt_ends()) == QueueRequest("support")


def test_exhausted_without_on_exhausted_goes_to_the_operator_queue() -> None:
    call = Call("existing")
    call.start()
    for _ in range(3):  # default retries: 3
        call.prompt_ends()
        call.press("5")
    call.prompt_ends()
    assert only_play(call.press("5")).media == ("sound:invalid",)
    assert finish(call.prompt_ends()) == QueueRequest("operator")


def test_menu_without_prompts_listens_at_once_and_exhausts_to_operator() -> None:
    call = Call("silent")
    assert call.start() == [StartTimer(1, 5.0)]
    assert finish(call.timer_fires()) == QueueRequest("operator")


def test_coming_back_to_a_menu_resets_its_retries() -> None:
    call = Call()
    call.start()
    call.press("3")  # failure 1 in main
    call.press("3")  # failure 2 in main (barge-in on the re-prompt)
    call.press("1")  # existing
    call.press("9")  # back to main: a new visit
    assert call.path == ["main", "existing", "main"]
    call.press("3")
    call.press("3")
    assert call.outcome is None  # two failures again, still within retries
    call.press("3")
    assert call.outcome is None
    assert finish(call.prompt_ends()) == QueueRequest("support")


def test_stale_timer_is_ignored() -> None:
    call = Call()
    call.start()
    call.prompt_ends()
    old = call.timer
    assert old is not None
    call.press("1")
    assert call.send(TimerExpired(old.token)) == []


def test_events_after_finish_do_nothing() -> None:
    call = Call()
    call.start()
    call.press("7")
    assert call.machine.finished
    assert call.press("1") == []
    assert call.send(HungUp()) == []
    assert call.outcome == Transfer("+441632960999")


# --- type-ahead: digits pressed before a node listens -----------------------------------------


def test_digit_before_start_is_used_by_the_entry_menu() -> None:
    call = Call()
    assert call.press("1") == []
    out = call.start()
    # main never plays: the early "1" picks existing at once.
    assert plays(out) == [PlayPrompts(1, ("sound:press-1-order",), True)]
    assert call.path == ["main", "existing"]


def test_digits_typed_ahead_walk_several_menus() -> None:
    call = Call()
    call.press("11")  # before the call starts
    out = call.start()
    assert call.path == ["main", "existing", "order_number"]
    assert only_play(out).media == ("sound:enter-order-number-then-hash",)


def test_digits_during_an_announcement_are_kept_for_the_next_menu() -> None:
    call = Call()
    call.start()
    call.press("5")  # info: a play node, not interruptible
    assert call.machine.phase.value == "announcement"
    assert call.press("1") == []  # kept, the message goes on
    out = call.prompt_ends()
    assert call.path == ["main", "info", "existing", "order_number"]
    assert only_play(out).media == ("sound:enter-order-number-then-hash",)


def test_typed_ahead_partial_entry_waits_for_the_rest() -> None:
    call = Call()
    call.start()
    call.press("5")
    call.press("112")  # info -> existing -"1"-> order_number with "12" typed so far
    out = call.prompt_ends()
    assert plays(out) == []
    assert out[-1] == StartTimer(call.timer.token if call.timer else -1, 3.0)
    call.press("34#")
    assert call.variables["order_number"] == "1234"


def test_typeahead_is_dropped_after_an_invalid_digit() -> None:
    call = Call()
    call.start()
    call.press("5")
    call.press("31")  # "3" is invalid in existing; the "1" after it must not count
    out = call.prompt_ends()
    assert call.path == ["main", "info", "existing"]
    assert only_play(out).media == ("sound:invalid", "sound:press-1-order")


# --- collecting a digit string ---------------------------------------------------------------


def at_order_number() -> Call:
    call = Call("order_number")
    call.start()
    return call


def test_collect_with_terminator() -> None:
    call = at_order_number()
    out = call.press("1")
    assert out[0] == StopPrompt(1)
    assert out[-1] == StartTimer(2, 3.0)  # inter-digit time-out from now on
    call.press("2345#")
    assert call.variables["order_number"] == "12345"
    assert call.path == ["order_number", "order_status"]
    assert call.lookup == RunLookup(
        call.lookup.token if call.lookup else 0, "order_status", "12345"
    )


def test_collect_first_digit_timeout_retries_then_exhausts() -> None:
    call = at_order_number()
    call.prompt_ends()
    assert call.timer == StartTimer(2, 6.0)
    out = call.timer_fires()
    assert only_play(out).media == (
        "sound:please-try-again",
        "sound:enter-order-number-then-hash",
    )
    call.prompt_ends()
    out = call.timer_fires()  # retries: 1 -> exhausted
    assert only_play(out).media == ("sound:please-try-again",)
    assert finish(call.prompt_ends()) == QueueRequest("operator")


def test_collect_terminator_with_too_few_digits_is_invalid() -> None:
    call = at_order_number()
    out = call.press("12#")
    assert only_play(out).media == (
        "sound:invalid",
        "sound:enter-order-number-then-hash",
    )
    assert "order_number" not in call.variables
    call.press("9876#")  # a fresh entry, the "12" is gone
    assert call.variables["order_number"] == "9876"


def test_collect_inter_digit_timeout_accepts_enough_digits() -> None:
    call = at_order_number()
    call.press("12345")
    call.timer_fires()
    assert call.variables["order_number"] == "12345"


def test_collect_inter_digit_timeout_with_too_few_digits_is_invalid() -> None:
    call = at_order_number()
    call.press("12")
    out = call.timer_fires()
    assert only_play(out).media[0] == "sound:invalid"


def test_collect_star_is_invalid() -> None:
    call = at_order_number()
    out = call.press("12*")
    assert only_play(out).media[0] == "sound:invalid"


def test_collect_stops_at_max_digits_without_terminator() -> None:
    call = Call("pin")
    call.start()
    call.press("123")
    assert finish(call.press("4")) == QueueRequest("billing")
    assert call.variables["pin"] == "1234"


def test_collect_max_digits_leaves_later_digits_for_the_next_node() -> None:
    call = Call("order_number")
    call.press("12345678901")  # 11 digits typed ahead, max is 10
    call.start()
    assert call.variables["order_number"] == "1234567890"
    assert call.machine.phase.value == "lookup"
    call.send(LookupAnswered(call.lookup.token if call.lookup else 0, "shipped"))
    call.prompt_ends()
    # after_status takes the left-over "1": queue sales at priority 2.
    assert call.outcome == QueueRequest("sales", 2)


# --- self-service lookups ------------------------------------------------------------------


def at_lookup(number: str = "1234") -> Call:
    call = at_order_number()
    call.press(number + "#")
    assert call.lookup is not None
    return call


def test_lookup_runs_with_its_time_out() -> None:
    call = at_lookup()
    assert call.log[-2:] == [RunLookup(call.lookup.token, "order_status", "1234"), call.timer]  # type: ignore[union-attr]
    assert call.timer is not None and call.timer.seconds == 2.0
    assert not call.timer.caller_time  # an outside system: real seconds, never sped up


def test_lookup_answer_is_said_then_next() -> None:
    call = at_lookup()
    assert call.lookup is not None
    out = call.send(LookupAnswered(call.lookup.token, "In Transit"))
    assert kinds(out) == ["CancelTimer", "PlayPrompts"]
    assert only_play(out) == PlayPrompts(
        only_play(out).prompt_id,
        ("sound:your-order-status-is", "sound:in-transit", "sound:thank-you"),
        interruptible=False,
    )
    assert call.variables["order_status"] == "In Transit"
    out = call.prompt_ends()
    assert call.path[-1] == "after_status"


def test_lookup_failure_plays_the_fallback_and_the_call_continues() -> None:
    call = at_lookup()
    assert call.lookup is not None
    out = call.send(LookupFailed(call.lookup.token, "error"))
    assert only_play(out).media == ("sound:sorry-cannot-find-order",)
    assert call.variables["order_status_failed"] == "error"
    call.prompt_ends()
    assert call.path[-1] == "after_status"


def test_lookup_timeout_cancels_it_and_ignores_a_late_answer() -> None:
    call = at_lookup()
    lookup = call.lookup
    assert lookup is not None
    out = call.timer_fires()
    assert out[0] == CancelLookup(lookup.token)
    assert only_play(out).media == ("sound:sorry-cannot-find-order",)
    assert call.send(LookupAnswered(lookup.token, "shipped")) == []
    assert call.variables["order_status_failed"] == "timeout"


def test_lookup_nothing_found_is_a_failure() -> None:
    call = at_lookup()
    assert call.lookup is not None
    out = call.send(LookupAnswered(call.lookup.token, None))
    assert only_play(out).media == ("sound:sorry-cannot-find-order",)
    assert call.variables["order_status_failed"] == "not-found"


def test_lookup_answer_that_cannot_be_said_is_a_failure() -> None:
    call = at_lookup()
    assert call.lookup is not None
    out = call.send(LookupAnswered(call.lookup.token, "../../etc/passwd"))
    assert only_play(out).media == ("sound:sorry-cannot-find-order",)
    assert call.variables["order_status_failed"] == "unsayable"


def test_lookup_without_input_or_failure_prompt_uses_the_default_prompt() -> None:
    call = Call("balance")  # its input variable "pin" was never collected
    out = call.start()
    assert only_play(out).media == (DEFAULT_LOOKUP_FAILURE_PROMPT,)
    assert call.variables["balance_failed"] == "no-input"
    assert finish(call.prompt_ends()) == QueueRequest("billing")


def test_lookup_says_a_number() -> None:
    call = Call("pin")
    call.start()
    call.press("0042")
    assert call.outcome == QueueRequest("billing")  # pin's next; run balance on its own:
    call = Call("balance")
    call.machine.context.variables["pin"] = "0042"
    call.start()
    assert call.lookup is not None
    out = call.send(LookupAnswered(call.lookup.token, "0120"))
    assert only_play(out).media == ("number:120",)


def test_digits_during_a_lookup_are_kept() -> None:
    call = at_lookup()
    call.press("9")  # after_status's "9": back to main
    assert call.lookup is not None
    call.send(LookupFailed(call.lookup.token, "error"))
    call.prompt_ends()
    assert call.path[-2:] == ["after_status", "main"]


@pytest.mark.parametrize(
    ("value", "say_as", "media"),
    [
        ("1234", "digits", ("digits:1234",)),
        (" 12#", "digits", ("digits:12#",)),
        ("12a", "digits", None),
        ("007", "number", ("number:7",)),
        ("-3", "number", ("number:-3",)),
        ("1.5", "number", None),
        ("AB12", "characters", ("characters:AB12",)),
        ("A B", "characters", None),
        ("Shipped", "sound", ("sound:shipped",)),
        ("out for delivery", "sound", ("sound:out-for-delivery",)),
        ("digits/1", "sound", ("sound:digits/1",)),
        ("../x", "sound", None),
        ("a,b", "sound", None),
        ("", "sound", None),
        ("x", "tone", None),
    ],
)
def test_say_media(value: str, say_as: str, media: tuple[str, ...] | None) -> None:
    assert say_media(value, say_as) == media


# --- information messages and leaving a message ------------------------------------------------


def test_play_node_plays_and_moves_on() -> None:
    call = Call("info")
    out = call.start()
    assert only_play(out) == PlayPrompts(1, ("sound:our-address",), interruptible=False)
    out = call.prompt_ends()
    assert call.path == ["info", "existing"]


def test_record_message_records_then_goes_on() -> None:
    call = Call("leave_message")
    call.start()
    out = call.prompt_ends()
    assert out[0] == StartRecording(
        "ivr-c1-leave_message-1", max_seconds=120, max_silence_seconds=5, terminate_on="#"
    )
    assert isinstance(out[1], StartTimer)
    assert call.press("5#") == []  # Asterisk's terminateOn handles '#'
    out = call.send(RecordingEnded("ivr-c1-leave_message-1", ok=True))
    assert call.variables["message"] == "ivr-c1-leave_message-1"
    assert only_play(out).media == ("sound:goodbye",)
    assert finish(call.prompt_ends()) == Hangup()


def test_record_message_failure_still_goes_on() -> None:
    call = Call("leave_message")
    call.start()
    call.prompt_ends()
    call.send(RecordingEnded("someone-else", ok=True))  # not ours: ignored
    assert call.machine.phase.value == "recording"
    call.send(RecordingEnded("ivr-c1-leave_message-1", ok=False))
    assert call.variables["message_failed"] == "recording-failed"
    assert finish(call.prompt_ends()) == Hangup()


def test_record_message_that_never_ends_is_stopped() -> None:
    call = Call("leave_message")
    call.start()
    call.prompt_ends()
    out = call.timer_fires()
    assert out[0] == StopRecording("ivr-c1-leave_message-1")
    assert only_play(out).media == ("sound:goodbye",)


# --- business hours ----------------------------------------------------------------------------


def test_closed_menu_follows_on_closed() -> None:
    call = Call(at=CLOSED)
    out = call.start()
    assert call.path == ["main", "closed"]
    assert only_play(out).media == ("sound:we-are-closed", "sound:opening-hours")
    assert call.variables["main_closed"] == "yes"
    assert call.variables["main_opens_at"] == "2026-11-24T09:00:00+00:00"  # Tuesday 09:00
    assert finish(call.prompt_ends()) == Voicemail("general")


def test_holiday_is_closed() -> None:
    call = Call(at=dt.datetime(2026, 12, 25, 11, 0, tzinfo=dt.UTC))
    call.start()
    assert call.path == ["main", "closed"]


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (dt.datetime(2026, 7, 6, 8, 30, tzinfo=dt.UTC), True),  # 09:30 BST
        (dt.datetime(2026, 7, 6, 16, 45, tzinfo=dt.UTC), False),  # 17:45 BST
        (dt.datetime(2026, 3, 30, 8, 0, tzinfo=dt.UTC), True),  # first Monday of BST, 09:00
        (dt.datetime(2026, 3, 27, 8, 30, tzinfo=dt.UTC), False),  # last Friday of GMT, 08:30
    ],
)
def test_business_hours_follow_summer_time(at: dt.datetime, open_: bool) -> None:
    call = Call(at=at)
    call.start()
    assert (call.path == ["main"]) is open_


def test_hours_are_checked_when_the_menu_is_entered_again() -> None:
    call = Call()
    call.start()
    call.press("1")  # existing, open
    call.now = CLOSED
    call.press("9")  # back to main after closing time
    assert call.path == ["main", "existing", "main", "closed"]


def test_two_closed_menus_pointing_at_each_other_end_at_the_operator() -> None:
    call = Call("loop_a", at=CLOSED)
    assert finish(call.start()) == QueueRequest("operator")
    assert call.variables["ivr_error"] == "loop-without-input"


# --- hang-ups ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "node", "stage"),
    [
        ("", "main", "prompt"),
        ("P", "main", "waiting"),
        ("1", "existing", "prompt"),
        ("5", "info", "announcement"),
        ("11123", "order_number", "waiting"),
        ("111234#", "order_status", "lookup"),
    ],
)
def test_caller_hanging_up_mid_menu_says_where(steps: str, node: str, stage: str) -> None:
    call = Call()
    call.start()
    for step in steps:
        if step == "P":
            call.prompt_ends()
        else:
            call.press(step)
    lookup = call.lookup
    out = call.send(HungUp())
    assert finish(out) == CallerHungUp(at_node=node, stage=stage)
    # Everything still running is cancelled; nothing is played to a gone channel.
    assert not plays(out)
    assert not any(isinstance(d, StopPrompt) for d in out)
    if stage == "lookup":
        assert lookup is not None and CancelLookup(lookup.token) in out
    if call.log and any(isinstance(d, StartTimer) for d in call.log):
        started = {d.token for d in call.log if isinstance(d, StartTimer)}
        ended = {d.token for d in call.log if isinstance(d, CancelTimer | StartTimer)}
        assert started <= ended
    assert call.machine.finished


def test_hang_up_during_recording() -> None:
    call = Call("leave_message")
    call.start()
    call.prompt_ends()
    out = call.send(HungUp())
    assert finish(out) == CallerHungUp("leave_message", "recording")
    assert not any(isinstance(d, StopRecording) for d in out)


def test_timers_are_always_cancelled_or_expired() -> None:
    """Across a whole walk, every started timer ends (fires or is cancelled) by the finish."""
    call = Call()
    call.start()
    call.prompt_ends()
    call.timer_fires()
    call.press("1")
    call.press("1")
    call.press("12")
    call.press("34#")
    assert call.lookup is not None
    call.send(LookupAnswered(call.lookup.token, "shipped"))
    call.prompt_ends()
    call.prompt_ends()
    call.press("1")
    assert call.outcome == QueueRequest("sales", 2)
    started = [d.token for d in call.log if isinstance(d, StartTimer)]
    cancelled = {d.token for d in call.log if isinstance(d, CancelTimer)}
    fired = started[0]
    assert set(started) - cancelled == {fired}


# --- the example IVR ---------------------------------------------------------------------------


def example() -> tuple[IvrSettings, dict[str, BusinessHours], str]:
    config = load_config(EXAMPLE, env={})
    return config.ivr, dict(config.business_hours), config.timezone


def run_example(digits: str, at: dt.datetime = OPEN, answer: Any = "shipped") -> IvrMachine:
    """Play the example IVR to the end: every prompt finishes, lookups answer ``answer``."""
    ivr, hours, tz = example()
    machine = IvrMachine(ivr, ivr.numbers["100"], hours, tz)
    pending = list(digits)
    out = machine.handle(Started(), at)
    for _ in range(100):
        if machine.finished:
            break
        prompt = next((d for d in reversed(out) if isinstance(d, PlayPrompts)), None)
        lookup = next((d for d in out if isinstance(d, RunLookup)), None)
        timer = next((d for d in reversed(out) if isinstance(d, StartTimer)), None)
        if lookup is not None:
            out = machine.handle(LookupAnswered(lookup.token, answer), at)
        elif prompt is not None and prompt.interruptible and pending:
            out = machine.handle(Digit(pending.pop(0)), at)
        elif prompt is not None:
            out = machine.handle(PromptFinished(prompt.prompt_id), at)
        elif pending:
            out = machine.handle(Digit(pending.pop(0)), at)
        elif timer is not None:
            out = machine.handle(TimerExpired(timer.token), at)
        else:
            raise AssertionError(f"stuck: {out}")
    assert machine.finished
    return machine


@pytest.mark.parametrize(
    ("digits", "outcome", "path"),
    [
        ("2", QueueRequest("sales"), ["main"]),
        ("0", QueueRequest("support"), ["main"]),
        ("12", QueueRequest("billing"), ["main", "existing"]),
        (
            "14",
            QueueRequest("support", 5, (SkillRequirement(skill="french", min_level=5),)),
            ["main", "existing"],
        ),
        (
            "114321#1",
            QueueRequest("sales", 2),
            ["main", "existing", "order_number", "order_status", "after_status"],
        ),
        ("19" + "2", QueueRequest("sales"), ["main", "existing", "main"]),
        ("", QueueRequest("support"), ["main"]),  # time-outs until retries run out
        ("5555", QueueRequest("support"), ["main"]),  # invalid until retries run out
    ],
)
def test_example_ivr_walks(digits: str, outcome: IvrOutcome, path: list[str]) -> None:
    machine = run_example(digits)
    assert machine.outcome == outcome
    assert [node for node, _ in machine.context.ivr_path] == path


def test_example_ivr_order_status_and_goodbye() -> None:
    machine = run_example("114321#")  # after_status: nothing pressed -> goodbye
    assert machine.outcome == Hangup()
    assert machine.context.variables["order_number"] == "4321"
    assert machine.context.variables["order_status"] == "shipped"


def test_example_ivr_closed_goes_to_voicemail() -> None:
    machine = run_example("1", at=dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.UTC))  # Sunday
    assert machine.outcome == Voicemail("general")
    assert [n for n, _ in machine.context.ivr_path] == ["main", "closed"]


def test_config_check_refuses_a_lookup_loop_without_input() -> None:
    raw = yaml.safe_load(EXAMPLE.read_text())
    menus = raw["ivr"]["menus"]
    menus["order_status"]["next"] = {"menu": "status_again"}
    menus["status_again"] = {"type": "play", "prompts": ["sound:one-moment-please"]}
    menus["status_again"]["next"] = {"menu": "order_status"}
    with pytest.raises(ConfigError, match="cycle without caller input: order_status"):
        parse_config(raw, "callcenter.yaml", env={})
