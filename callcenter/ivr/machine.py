"""The IVR as a pure state machine: events in, decisions out, no I/O.

One ``IvrMachine`` per call. The driver feeds it events (``Started``, ``Digit``,
``PromptFinished``, ``TimerExpired``, ``LookupAnswered``/``LookupFailed``, ``RecordingEnded``,
``HungUp``) with the current time, and carries out the decisions it returns (``PlayPrompts``,
``StopPrompt``, ``StartTimer``/``CancelTimer``, ``RunLookup``/``CancelLookup``,
``StartRecording``/``StopRecording``, ``Finish``). Stale prompt ids, timer tokens and lookup
tokens are ignored, so the driver never has to guess what is still current.

How a caller moves through the menus:

- A ``menu`` or ``collect`` node plays its prompts *interruptibly*: a digit pressed while they
  play stops them (barge-in; ARI has no such option, the driver stops the playback) and counts
  as input. The first-digit time-out starts when the prompts have finished.
- Digits pressed while nothing listens (an information message, a "transferring you" prompt,
  a lookup in progress, before the call started) are kept in order and used by the next node
  that listens (type-ahead). After an invalid entry the rest of them is dropped.
- Invalid input and time-outs re-prompt (with ``invalid_prompt`` / ``timeout_prompt`` first)
  until ``retries`` re-tries are spent; then the caller goes to ``on_exhausted``, else the
  IVR's operator queue: never a dead end.
- A node with ``hours`` sends the caller to ``on_closed`` when entered outside those hours.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from callcenter.config import BusinessHours, Goto, IvrSettings, MenuNode, SkillRequirement
from callcenter.hours import is_open, next_opening

__all__ = [
    "DEFAULT_LOOKUP_FAILURE_PROMPT",
    "MAX_NODES_WITHOUT_INPUT",
    "CallerHungUp",
    "CancelLookup",
    "CancelTimer",
    "Decision",
    "Digit",
    "Finish",
    "Hangup",
    "HungUp",
    "IvrEvent",
    "IvrMachine",
    "IvrOutcome",
    "IvrRecord",
    "LookupAnswered",
    "LookupFailed",
    "PlayPrompts",
    "PromptFinished",
    "QueueRequest",
    "RecordingEnded",
    "RunLookup",
    "StartRecording",
    "StartTimer",
    "Started",
    "StopPrompt",
    "StopRecording",
    "TimerExpired",
    "Transfer",
    "Voicemail",
    "say_media",
]

DEFAULT_LOOKUP_FAILURE_PROMPT = "sound:im-sorry"  # a core sound: "I'm sorry."
"""Asterisk's core sound (its file name is spelt this way) when a lookup node names none."""

MAX_NODES_WITHOUT_INPUT = 20
"""Nodes entered in a row without the caller pressing a digit before we give up and send the
caller to the operator queue (e.g. two closed menus pointing at each other)."""

MAX_TYPEAHEAD_DIGITS = 64
"""Digits kept while nothing listens; more than that is a stuck key, not a caller."""

RECORD_MAX_SECONDS = 120
RECORD_MAX_SILENCE_SECONDS = 5
RECORD_GRACE_SECONDS = 5.0
"""How long after the recording's own limit we stop waiting for Asterisk's RecordingFinished."""

# --- outcomes: where the caller goes when the IVR is done ------------------------------------


@dataclass(frozen=True, slots=True)
class QueueRequest:
    """Put the caller in a queue (``extra_skills`` add to the queue's own requirements)."""

    queue_id: str
    priority: int = 0
    extra_skills: tuple[SkillRequirement, ...] = ()


@dataclass(frozen=True, slots=True)
class Transfer:
    """Send the caller to an extension or external number."""

    extension: str


@dataclass(frozen=True, slots=True)
class Voicemail:
    """Let the caller leave a message in this box."""

    box: str


@dataclass(frozen=True, slots=True)
class Hangup:
    """The IVR ends the call (after its goodbye prompt has played)."""


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    """The caller hung up in the IVR: at which node, doing what (``prompt``, ``waiting``...)."""

    at_node: str
    stage: str


IvrOutcome = QueueRequest | Transfer | Voicemail | Hangup | CallerHungUp

# --- events: what the driver tells the machine -----------------------------------------------


@dataclass(frozen=True, slots=True)
class Started:
    """The call is answered and the IVR begins at its entry menu."""


@dataclass(frozen=True, slots=True)
class Digit:
    """The caller pressed a key (``0-9``, ``*``, ``#``, ``A-D``)."""

    digit: str


@dataclass(frozen=True, slots=True)
class PromptFinished:
    """Every media of that prompt has played (or failed to: a missing file ends at once)."""

    prompt_id: int


@dataclass(frozen=True, slots=True)
class TimerExpired:
    token: int


@dataclass(frozen=True, slots=True)
class LookupAnswered:
    """The lookup answered; ``value`` None means "nothing found"."""

    token: int
    value: str | None


@dataclass(frozen=True, slots=True)
class LookupFailed:
    """The lookup raised or timed out; ``reason`` is a short code for the record."""

    token: int
    reason: str


@dataclass(frozen=True, slots=True)
class RecordingEnded:
    """Asterisk finished (``ok``) or failed the message recording ``name``."""

    name: str
    ok: bool


@dataclass(frozen=True, slots=True)
class HungUp:
    """The caller is gone (ChannelHangupRequest or StasisEnd)."""


IvrEvent = (
    Started
    | Digit
    | PromptFinished
    | TimerExpired
    | LookupAnswered
    | LookupFailed
    | RecordingEnded
    | HungUp
)

# --- decisions: what the machine asks the driver to do ---------------------------------------


@dataclass(frozen=True, slots=True)
class PlayPrompts:
    """Play these media in order as one prompt; ``interruptible``: a digit may stop it."""

    prompt_id: int
    media: tuple[str, ...]
    interruptible: bool


@dataclass(frozen=True, slots=True)
class StopPrompt:
    prompt_id: int


@dataclass(frozen=True, slots=True)
class StartTimer:
    """Send TimerExpired(token) after ``seconds``.

    ``caller_time``: the time-out measures the caller (or Asterisk) and may be sped up with a
    simulated PBX; False for outside systems (lookups), whose time is always real.
    """

    token: int
    seconds: float
    caller_time: bool = True


@dataclass(frozen=True, slots=True)
class CancelTimer:
    token: int


@dataclass(frozen=True, slots=True)
class RunLookup:
    """Ask the named lookup about ``value``; answer with LookupAnswered/LookupFailed(token)."""

    token: int
    lookup: str
    value: str


@dataclass(frozen=True, slots=True)
class CancelLookup:
    token: int


@dataclass(frozen=True, slots=True)
class StartRecording:
    """Record the caller's message under ``name``; answer with RecordingEnded(name)."""

    name: str
    max_seconds: int
    max_silence_seconds: int
    terminate_on: str


@dataclass(frozen=True, slots=True)
class StopRecording:
    name: str


@dataclass(frozen=True, slots=True)
class Finish:
    outcome: IvrOutcome


Decision = (
    PlayPrompts
    | StopPrompt
    | StartTimer
    | CancelTimer
    | RunLookup
    | CancelLookup
    | StartRecording
    | StopRecording
    | Finish
)

# --- what the machine writes down about the call ---------------------------------------------


class ContextSink(Protocol):
    """Where the IVR writes what the caller did (``worker.session.CallerContext`` fits)."""

    ivr_path: list[tuple[str, float]]
    digits: list[str]
    variables: dict[str, str]


@dataclass
class IvrRecord:
    """A stand-alone ContextSink, for tests and benchmarks."""

    ivr_path: list[tuple[str, float]] = field(default_factory=list)
    digits: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)


# --- saying a lookup's answer with Asterisk's own sound files --------------------------------

_SAYABLE: dict[str, re.Pattern[str]] = {
    "digits": re.compile(r"[0-9*#]{1,40}"),
    "number": re.compile(r"-?[0-9]{1,15}"),
    "characters": re.compile(r"[A-Za-z0-9]{1,40}"),
    "sound": re.compile(r"[a-z0-9_-]{1,60}(/[a-z0-9_-]{1,60}){0,3}"),
    "prompt": re.compile(r"[a-z][a-z0-9_-]{0,39}"),
}


def say_media(value: str, say_as: str) -> tuple[str, ...] | None:
    """Media that say ``value`` (``digits:``, ``number:``, ``characters:``, ``sound:``,
    ``prompt:``), or None.

    A ``sound`` answer names a sound file (``"In transit"`` -> ``sound:in-transit``), a
    ``prompt`` answer one of the config's prompts (``prompt:in-transit``); values that cannot be
    said safely that way give None and the node's failure prompt plays.
    """
    text = value.strip()
    if say_as in ("sound", "prompt"):
        text = re.sub(r"\s+", "-", text.lower())
    pattern = _SAYABLE.get(say_as)
    if pattern is None or not pattern.fullmatch(text):
        return None
    if say_as == "number":
        text = str(int(text))
    return (f"{say_as}:{text}",)


# --- the machine ---------------------------------------------------------------------------


class Phase(Enum):
    NOT_STARTED = "not-started"
    PROMPTING = "prompt"
    """A menu/collect prompt plays; a digit stops it and counts."""
    LISTENING = "waiting"
    """Waiting for a digit, a timer runs."""
    ANNOUNCING = "announcement"
    """A prompt plays that digits do not stop; digits are kept for later."""
    LOOKING_UP = "lookup"
    RECORDING = "recording"
    FINISHED = "finished"


_DATA_DIGITS = frozenset("0123456789")


class IvrMachine:
    """One call's walk through the IVR menus."""

    def __init__(
        self,
        ivr: IvrSettings,
        entry_menu: str,
        hours: Mapping[str, BusinessHours],
        default_timezone: str,
        *,
        call_id: str = "call",
        context: ContextSink | None = None,
    ) -> None:
        self.ivr = ivr
        self.entry_menu = entry_menu
        self.hours = hours
        self.default_timezone = default_timezone
        self.call_id = call_id
        self.context: ContextSink = context if context is not None else IvrRecord()
        self.outcome: IvrOutcome | None = None
        self.node_id: str = entry_menu
        self.phase = Phase.NOT_STARTED
        self._now = dt.datetime.fromtimestamp(0, dt.UTC)
        self._typeahead: deque[str] = deque()
        self._entry: list[str] = []
        self._failures = 0
        self._visit = 0
        self._nodes_without_input = 0
        self._next_id = 0
        self._prompt: int | None = None
        self._timer: int | None = None
        self._lookup: int | None = None
        self._recording: str | None = None
        self._after_announcement: Callable[[list[Decision]], None] | None = None

    @property
    def finished(self) -> bool:
        return self.phase is Phase.FINISHED

    @property
    def node(self) -> MenuNode:
        return self.ivr.menus[self.node_id]

    def handle(self, event: IvrEvent, now: dt.datetime) -> list[Decision]:
        """Feed one event (``now`` is aware); returns what the driver must do, in order."""
        out: list[Decision] = []
        if self.phase is Phase.FINISHED:
            return out
        self._now = now
        match event:
            case Started():
                if self.phase is Phase.NOT_STARTED:
                    self._enter(self.entry_menu, out)
            case Digit(digit=digit):
                self._on_digit(digit, out)
            case PromptFinished(prompt_id=prompt_id):
                if prompt_id == self._prompt:
                    self._prompt = None
                    self._on_prompt_finished(out)
            case TimerExpired(token=token):
                if token == self._timer:
                    self._timer = None
                    self._on_timer(out)
            case LookupAnswered(token=token, value=value):
                if token == self._lookup:
                    self._lookup = None
                    self._cancel_timer(out)
                    self._on_lookup_answer(value, out)
            case LookupFailed(token=token, reason=reason):
                if token == self._lookup:
                    self._lookup = None
                    self._cancel_timer(out)
                    self._on_lookup_failed(reason, out)
            case RecordingEnded(name=name, ok=ok):
                if name == self._recording:
                    self._recording = None
                    self._cancel_timer(out)
                    self._on_recording_ended(name, ok, out)
            case HungUp():
                stage = self.phase.value
                self._recording = None  # Asterisk ends a recording with its channel.
                self._prompt = None  # ... and its playbacks.
                self._finish(CallerHungUp(at_node=self.node_id, stage=stage), out)
        return out

    # --- moving between nodes ----------------------------------------------------------------

    def _enter(self, menu_id: str, out: list[Decision]) -> None:
        self._nodes_without_input += 1
        if self._nodes_without_input > MAX_NODES_WITHOUT_INPUT or menu_id not in self.ivr.menus:
            # Config check rules out play-only loops and unknown menus; this is the net under it.
            self.context.variables["ivr_error"] = (
                "loop-without-input" if menu_id in self.ivr.menus else f"unknown-menu:{menu_id}"
            )
            self._finish(QueueRequest(self.ivr.operator_queue), out)
            return
        self.node_id = menu_id
        self._visit += 1
        self._failures = 0
        self._entry = []
        self.context.ivr_path.append((menu_id, self._now.timestamp()))
        node = self.ivr.menus[menu_id]
        if node.hours and node.on_closed and not self._is_open(node.hours):
            self.context.variables[f"{menu_id}_closed"] = "yes"
            self._follow(node.on_closed, out)
            return
        match node.type:
            case "menu" | "collect":
                self._listen(out, lead_in=())
            case "play":
                self._announce(list(node.prompts), out, then=self._follow_next)
            case "lookup":
                self._start_lookup(node, out)
            case "record_message":
                self._announce(list(node.prompts), out, then=self._start_recording)

    def _is_open(self, hours_id: str) -> bool:
        hours = self.hours.get(hours_id)
        if hours is None or is_open(hours, self._now, self.default_timezone):
            return True
        opens = next_opening(hours, self._now, self.default_timezone)
        if opens is not None:
            # For the CDR and the agent who calls back: when this menu opens again.
            self.context.variables[f"{self.node_id}_opens_at"] = opens.isoformat()
        return False

    def _follow_next(self, out: list[Decision]) -> None:
        self._follow(self.node.next or self._operator(), out)

    def _operator(self) -> Goto:
        return Goto(queue=self.ivr.operator_queue)

    def _follow(self, goto: Goto, out: list[Decision], lead_in: tuple[str, ...] = ()) -> None:
        """Go where ``goto`` says, after its prompt (and ``lead_in``) have played."""
        media = [*lead_in, *([goto.prompt] if goto.prompt else [])]
        if media:
            self._announce(media, out, then=lambda out: self._go(goto, out))
        else:
            self._go(goto, out)

    def _go(self, goto: Goto, out: list[Decision]) -> None:
        if goto.menu:
            self._enter(goto.menu, out)
        elif goto.queue:
            self._finish(
                QueueRequest(goto.queue, goto.priority, tuple(goto.extra_skills)),
                out,
            )
        elif goto.transfer:
            self._finish(Transfer(goto.transfer), out)
        elif goto.voicemail:
            self._finish(Voicemail(goto.voicemail), out)
        else:
            self._finish(Hangup(), out)

    def _finish(self, outcome: IvrOutcome, out: list[Decision]) -> None:
        self._cancel_timer(out)
        if self._lookup is not None:
            out.append(CancelLookup(self._lookup))
            self._lookup = None
        if self._prompt is not None:
            out.append(StopPrompt(self._prompt))
            self._prompt = None
        if self._recording is not None:
            out.append(StopRecording(self._recording))
            self._recording = None
        self._after_announcement = None
        self.phase = Phase.FINISHED
        self.outcome = outcome
        out.append(Finish(outcome))

    # --- prompts -------------------------------------------------------------------------

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _play(self, media: list[str], interruptible: bool, out: list[Decision]) -> None:
        self._prompt = self._new_id()
        out.append(PlayPrompts(self._prompt, tuple(media), interruptible))

    def _announce(
        self,
        media: list[str],
        out: list[Decision],
        then: Callable[[list[Decision]], None],
    ) -> None:
        """Play media that digits do not cut short, then carry on with ``then``."""
        if not media:
            then(out)
            return
        self.phase = Phase.ANNOUNCING
        self._after_announcement = then
        self._play(media, interruptible=False, out=out)

    def _on_prompt_finished(self, out: list[Decision]) -> None:
        if self.phase is Phase.PROMPTING:
            self.phase = Phase.LISTENING
            self._start_timer(self.node.first_digit_timeout, out)
        elif self.phase is Phase.ANNOUNCING and self._after_announcement is not None:
            then, self._after_announcement = self._after_announcement, None
            then(out)

    # --- timers --------------------------------------------------------------------------

    def _start_timer(
        self, seconds: float, out: list[Decision], *, caller_time: bool = True
    ) -> None:
        self._cancel_timer(out)
        self._timer = self._new_id()
        out.append(StartTimer(self._timer, seconds, caller_time))

    def _cancel_timer(self, out: list[Decision]) -> None:
        if self._timer is not None:
            out.append(CancelTimer(self._timer))
            self._timer = None

    def _on_timer(self, out: list[Decision]) -> None:
        node = self.node
        if self.phase is Phase.LISTENING:
            if node.type == "collect" and self._entry:
                # Inter-digit time-out: enough digits is a complete entry, too few is not.
                if len(self._entry) >= node.min_digits:
                    self._complete_entry(out)
                else:
                    self._failed("invalid", out)
            else:
                self._failed("timeout", out)
        elif self.phase is Phase.LOOKING_UP and self._lookup is not None:
            out.append(CancelLookup(self._lookup))
            self._lookup = None
            self._on_lookup_failed("timeout", out)
        elif self.phase is Phase.RECORDING and self._recording is not None:
            name, self._recording = self._recording, None
            out.append(StopRecording(name))
            self._on_recording_ended(name, True, out)

    # --- listening for digits ------------------------------------------------------------

    def _listen(self, out: list[Decision], lead_in: tuple[str, ...]) -> None:
        """(Re)start a menu/collect node: use type-ahead digits, else prompt and wait."""
        node = self.node
        self._entry = []
        if self._typeahead:
            self.phase = Phase.LISTENING
            self._drain_typeahead(out)
            return
        media = [*lead_in, *node.prompts]
        if media:
            self.phase = Phase.PROMPTING
            self._play(media, interruptible=True, out=out)
        else:
            self.phase = Phase.LISTENING
            self._start_timer(node.first_digit_timeout, out)

    def _drain_typeahead(self, out: list[Decision]) -> None:
        visit = self._visit
        while self._typeahead and self.phase is Phase.LISTENING and self._visit == visit:
            self._take_digit(self._typeahead.popleft(), out)
        if self.phase is Phase.LISTENING and self._visit == visit and self._timer is None:
            # Type-ahead ran out part way through an entry: wait for the rest.
            self._start_timer(self._waiting_timeout(), out)

    def _waiting_timeout(self) -> float:
        node = self.node
        return node.inter_digit_timeout if self._entry else node.first_digit_timeout

    def _on_digit(self, digit: str, out: list[Decision]) -> None:
        self.context.digits.append(digit)
        match self.phase:
            case Phase.PROMPTING:
                # Barge-in: the digit stops the prompt and is the caller's answer.
                if self._prompt is not None:
                    out.append(StopPrompt(self._prompt))
                    self._prompt = None
                self.phase = Phase.LISTENING
                self._take_digit(digit, out)
            case Phase.LISTENING:
                self._take_digit(digit, out)
            case Phase.NOT_STARTED | Phase.ANNOUNCING | Phase.LOOKING_UP:
                if len(self._typeahead) < MAX_TYPEAHEAD_DIGITS:
                    self._typeahead.append(digit)
            case Phase.RECORDING | Phase.FINISHED:
                pass  # '#' ends a recording in Asterisk itself (terminateOn).

    def _take_digit(self, digit: str, out: list[Decision]) -> None:
        node = self.node
        self._nodes_without_input = 0
        self._cancel_timer(out)
        if node.type == "menu":
            choice = node.choices.get(digit)
            if choice is None:
                self._failed("invalid", out)
            else:
                self._follow(choice, out)
            return
        # collect
        if node.terminator is not None and digit == node.terminator:
            if len(self._entry) >= node.min_digits:
                self._complete_entry(out)
            else:
                self._failed("invalid", out)
        elif digit not in _DATA_DIGITS:
            self._failed("invalid", out)
        else:
            self._entry.append(digit)
            if len(self._entry) >= node.max_digits:
                self._complete_entry(out)
            else:
                self._start_timer(node.inter_digit_timeout, out)

    def _complete_entry(self, out: list[Decision]) -> None:
        node = self.node
        if node.variable:
            self.context.variables[node.variable] = "".join(self._entry)
        self._entry = []
        self._follow_next(out)

    def _failed(self, kind: str, out: list[Decision]) -> None:
        """Invalid entry or time-out: re-prompt, or leave once the re-tries are spent."""
        node = self.node
        self._failures += 1
        self._typeahead.clear()
        self._entry = []
        prompt = node.invalid_prompt if kind == "invalid" else node.timeout_prompt
        lead_in = (prompt,) if prompt else ()
        if self._failures > node.retries:
            self.context.variables[f"{self.node_id}_exhausted"] = kind
            self._follow(node.on_exhausted or self._operator(), out, lead_in=lead_in)
        else:
            self._listen(out, lead_in=lead_in)

    # --- self-service lookups ------------------------------------------------------------

    def _start_lookup(self, node: MenuNode, out: list[Decision]) -> None:
        value = self.context.variables.get(node.input_variable or "", "")
        spec = self.ivr.lookups.get(node.lookup or "")
        if not value or spec is None or not node.lookup:
            self._on_lookup_failed("no-input" if spec else "unknown-lookup", out)
            return
        self.phase = Phase.LOOKING_UP
        self._lookup = self._new_id()
        out.append(RunLookup(self._lookup, node.lookup, value))
        self._start_timer(spec.timeout_seconds, out, caller_time=False)

    def _on_lookup_answer(self, value: str | None, out: list[Decision]) -> None:
        node = self.node
        media = say_media(value, node.say_as) if value is not None else None
        if value is None or media is None:
            self._on_lookup_failed("not-found" if value is None else "unsayable", out)
            return
        self.context.variables[node.lookup or self.node_id] = value
        self._announce([*node.prompts, *media, *node.result_prompts], out, then=self._follow_next)

    def _on_lookup_failed(self, reason: str, out: list[Decision]) -> None:
        node = self.node
        self.context.variables[f"{node.lookup or self.node_id}_failed"] = reason
        prompt = node.failure_prompt or DEFAULT_LOOKUP_FAILURE_PROMPT
        self._announce([prompt], out, then=self._follow_next)

    # --- leaving a message ---------------------------------------------------------------

    def _start_recording(self, out: list[Decision]) -> None:
        self.phase = Phase.RECORDING
        self._typeahead.clear()
        self._recording = f"ivr-{self.call_id}-{self.node_id}-{self._visit}"
        out.append(
            StartRecording(
                self._recording,
                max_seconds=RECORD_MAX_SECONDS,
                max_silence_seconds=RECORD_MAX_SILENCE_SECONDS,
                terminate_on="#",
            )
        )
        self._start_timer(RECORD_MAX_SECONDS + RECORD_GRACE_SECONDS, out)

    def _on_recording_ended(self, name: str, ok: bool, out: list[Decision]) -> None:
        variable = self.node.variable or "message_recording"
        if ok:
            self.context.variables[variable] = name
        else:
            self.context.variables[f"{variable}_failed"] = "recording-failed"
        self._follow_next(out)
