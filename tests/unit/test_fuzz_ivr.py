"""Fuzzing the IVR machine: whatever a caller presses, and whatever IVR passes the config
check, every call reaches an outcome (Hypothesis, a small fixed budget).

A small driver plays Asterisk's part: it finishes prompts, fires timers, answers or fails
lookups and ends recordings, in the order a real PBX would; the caller presses keys in between.
Once the caller stops pressing, the call must end within a bounded number of events.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from callcenter.config import CallCenterConfig, IvrSettings, load_config, reference_problems
from callcenter.ivr.machine import (
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
    TimerExpired,
    Transfer,
    Voicemail,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
CONFIG = load_config(EXAMPLE, env={})
KEYS = "0123456789*#ABCD"
MAX_EVENTS_WITHOUT_INPUT = 2_000
"""A call the caller no longer touches must end well before this."""

# Monday 10:00 and Sunday 03:00 in London: the example's office is open, then closed.
WHEN = st.sampled_from(
    [
        dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC),
    ]
)
LOOKUP_ANSWERS = st.one_of(
    st.none(), st.sampled_from(["In transit", "delivered", "42", "", "x" * 200, "a\nb"])
)


class Asterisk:
    """What the PBX has been asked to do and not yet answered."""

    def __init__(self, config: CallCenterConfig, entry: str, now: dt.datetime) -> None:
        self.config = config
        self.machine = IvrMachine(
            config.ivr, entry, config.business_hours, config.timezone, call_id="fuzz"
        )
        self.now = now
        self.prompt: int | None = None
        self.timer: int | None = None
        self.lookup: int | None = None
        self.recording: str | None = None

    def send(self, event: IvrEvent) -> None:
        for decision in self.machine.handle(event, self.now):
            self.apply(decision)

    def apply(self, decision: Decision) -> None:
        match decision:
            case PlayPrompts(prompt_id=prompt_id):
                self.prompt = prompt_id
            case StopPrompt(prompt_id=prompt_id) if prompt_id == self.prompt:
                self.prompt = None
            case StartTimer(token=token):
                self.timer = token
            case CancelTimer(token=token) if token == self.timer:
                self.timer = None
            case RunLookup(token=token):
                self.lookup = token
            case CancelLookup(token=token) if token == self.lookup:
                self.lookup = None
            case StartRecording(name=name):
                self.recording = name
            case Finish():
                pass

    def advance(self, draw: st.DrawFn) -> None:
        """Answer the oldest pending request, as Asterisk (or a lookup server) would."""
        if self.prompt is not None:
            prompt, self.prompt = self.prompt, None
            self.send(PromptFinished(prompt))
        elif self.lookup is not None:
            token, self.lookup = self.lookup, None
            if draw(st.booleans()):
                self.send(LookupAnswered(token, draw(LOOKUP_ANSWERS)))
            else:
                self.send(LookupFailed(token, "timeout"))
        elif self.recording is not None:
            name, self.recording = self.recording, None
            self.send(RecordingEnded(name, draw(st.booleans())))
        elif self.timer is not None:
            token, self.timer = self.timer, None
            self.send(TimerExpired(token))
        else:
            pytest.fail(
                f"the call waits for nothing at {self.machine.node_id} ({self.machine.phase})"
            )
        self.now += dt.timedelta(seconds=1)


def call_until_it_ends(config: CallCenterConfig, entry: str, draw: st.DrawFn) -> Asterisk:
    """A caller who presses what Hypothesis draws, then nothing; returns the finished call."""
    pbx = Asterisk(config, entry, draw(WHEN))
    pbx.send(Started())
    actions = draw(
        st.lists(st.one_of(st.sampled_from(KEYS), st.just("wait"), st.just("wait")), max_size=40)
    )
    for action in actions:
        if pbx.machine.finished:
            break
        if action == "wait":
            pbx.advance(draw)
        else:
            pbx.send(Digit(action))
    if draw(st.integers(0, 20)) == 0 and not pbx.machine.finished:
        pbx.send(HungUp())
    for _ in range(MAX_EVENTS_WITHOUT_INPUT):
        if pbx.machine.finished:
            break
        pbx.advance(draw)
    assert pbx.machine.finished, f"still at {pbx.machine.node_id} after the caller stopped"
    return pbx


def assert_outcome_is_real(pbx: Asterisk) -> None:
    outcome = pbx.machine.outcome
    match outcome:
        case QueueRequest(queue_id=queue_id):
            assert queue_id in pbx.config.queues
        case Transfer() | Voicemail() | Hangup():
            pass
        case CallerHungUp(at_node=node):
            assert node in pbx.config.ivr.menus
        case _:
            pytest.fail(f"no outcome: {outcome!r}")


@settings(max_examples=300)
@given(data=st.data())
def test_every_caller_of_the_example_reaches_an_outcome(data: st.DataObject) -> None:
    entry = data.draw(st.sampled_from(sorted(set(CONFIG.ivr.numbers.values()))))
    assert_outcome_is_real(call_until_it_ends(CONFIG, entry, data.draw))


# --- IVRs of any shape that pass the config check ---------------------------------------------

MENU_IDS = ["m0", "m1", "m2", "m3", "m4"]
IVR_BASE = yaml.safe_load(EXAMPLE.read_text())["ivr"]


@st.composite
def gotos(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["menu", "menu", "menu", "queue", "hangup", "transfer"]))
    if kind == "menu":
        return {"menu": draw(st.sampled_from(MENU_IDS))}
    if kind == "queue":
        return {"queue": draw(st.sampled_from(sorted(CONFIG.queues)))}
    if kind == "transfer":
        return {"transfer": "200"}
    return {"hangup": True}


@st.composite
def menus(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["menu", "collect", "play", "lookup", "record_message"]))
    node: dict[str, Any] = {"type": kind, "retries": draw(st.integers(0, 3))}
    if draw(st.booleans()):
        node["prompts"] = ["sound:hello"]
    if kind == "menu":
        digits = draw(
            st.lists(st.sampled_from("0123456789*#"), min_size=1, max_size=4, unique=True)
        )
        node["choices"] = {d: draw(gotos()) for d in digits}
    else:
        node["next"] = draw(gotos())
    if kind == "collect":
        node.update(variable="entered", min_digits=1, max_digits=draw(st.integers(1, 4)))
        if draw(st.booleans()):
            node["terminator"] = "#"
    if kind == "lookup":
        node.update(lookup="order_status", input_variable="entered")
    if draw(st.booleans()):
        node["on_exhausted"] = draw(gotos())
    if draw(st.integers(0, 3)) == 0:
        node.update(hours="office", on_closed=draw(gotos()))
    return node


@settings(max_examples=60)
@given(data=st.data())
def test_every_ivr_that_passes_the_check_lets_callers_out(data: st.DataObject) -> None:
    menus_raw = {menu_id: data.draw(menus()) for menu_id in MENU_IDS}
    # The entry is a menu that reaches every other node (unreachable ones fail the check).
    entry = menus_raw["m0"]
    entry.pop("next", None)
    entry["type"] = "menu"
    entry["choices"] = {str(n): {"menu": m} for n, m in enumerate(MENU_IDS[1:], start=1)}
    raw_ivr = {**IVR_BASE, "menus": menus_raw, "numbers": {"100": "m0"}}
    # What parse_config does, without validating the rest of the example again each time.
    try:
        ivr = IvrSettings.model_validate(raw_ivr)
    except ValidationError:
        assume(False)
        raise
    config = CONFIG.model_copy(update={"ivr": ivr})
    assume(not reference_problems(config))
    assert_outcome_is_real(call_until_it_ends(config, "m0", data.draw))
