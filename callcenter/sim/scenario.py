"""A load scenario for the simulated PBX: who calls, what they press, how agents behave.

Pure data and a reproducible plan; ``synthetic.py`` plays it against the PBX core. Example
(``examples/scenario-demo.yaml``)::

    seed: 7
    callers:
      arrival: {rate_per_minute: 30, count: 20}     # Poisson arrivals (optional)
      profile:                                       # what generated callers do
        caller_id: "+1555{n:04d}"
        dialled: "100"
        digits: [{after: 2.0, press: "1"}]
        patience: {exponential: 60}
      fixed:                                         # callers at fixed times (optional)
        - {at: 0.5, caller_id: "+15550001", dialled: "100", patience: 30}
    agents:
      - endpoint: PJSIP/1001
        ring_delay: {uniform: [1, 3]}
        talk_time: {normal: {mean: 20, stddev: 5}}
        no_answer_probability: 0.1
        busy_probability: 0.05
        offline: [{at: 30, seconds: 20}]            # unreachable for a while (optional)

A duration is a number of seconds or one distribution: ``{uniform: [a, b]}``,
``{exponential: mean}``, ``{normal: {mean: m, stddev: s}}``. Sampled values are never negative.
The same seed gives the same callers, the same digits and the same agent decisions.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from callcenter.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Distribution(_Strict):
    """A duration in seconds: a constant or a random distribution."""

    kind: Literal["constant", "uniform", "exponential", "normal"] = "constant"
    value: float = 0.0
    low: float = 0.0
    high: float = 0.0
    mean: float = 0.0
    stddev: float = 0.0

    @model_validator(mode="before")
    @classmethod
    def _from_yaml(cls, raw: Any) -> Any:
        if isinstance(raw, int | float) and not isinstance(raw, bool):
            return {"kind": "constant", "value": float(raw)}
        if isinstance(raw, dict) and len(raw) == 1 and "kind" not in raw:
            ((kind, spec),) = raw.items()
            if kind == "constant":
                return {"kind": "constant", "value": spec}
            if kind == "uniform" and isinstance(spec, list | tuple) and len(spec) == 2:
                return {"kind": "uniform", "low": spec[0], "high": spec[1]}
            if kind == "exponential":
                return {"kind": "exponential", "mean": spec}
            if kind == "normal" and isinstance(spec, dict):
                return {"kind": "normal", **spec}
            raise ValueError(
                f"unknown distribution {raw!r}: use a number, {{uniform: [a, b]}}, "
                "{exponential: mean} or {normal: {mean: m, stddev: s}}"
            )
        return raw

    def sample(self, rng: random.Random) -> float:
        """One value (seconds, never negative)."""
        if self.kind == "constant":
            value = self.value
        elif self.kind == "uniform":
            value = rng.uniform(self.low, self.high)
        elif self.kind == "exponential":
            value = rng.expovariate(1.0 / self.mean) if self.mean > 0 else 0.0
        else:
            value = rng.gauss(self.mean, self.stddev)
        return max(0.0, value)


Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class DigitPress(_Strict):
    """Press ``press`` (one or more DTMF digits) ``after`` seconds (from the answer)."""

    after: float = Field(ge=0)
    press: Annotated[str, Field(pattern=r"^[0-9*#A-D]+$")]


class CallerProfile(_Strict):
    """What a generated caller does; ``caller_id`` may use ``{n}`` (the caller's number)."""

    caller_id: str = "+1555{n:07d}"
    dialled: str = "100"
    digits: tuple[DigitPress, ...] = ()
    patience: Distribution = Distribution(kind="constant", value=120.0)
    """How long the caller waits before hanging up (from the moment the call is placed)."""


class FixedCaller(_Strict):
    at: float = Field(ge=0)
    caller_id: str
    dialled: str = "100"
    digits: tuple[DigitPress, ...] = ()
    patience: Distribution = Distribution(kind="constant", value=120.0)


class Arrival(_Strict):
    """Poisson arrivals: ``rate_per_minute`` on average, ``count`` callers in all."""

    rate_per_minute: float = Field(gt=0)
    count: int = Field(ge=0, le=1_000_000)
    start: float = Field(default=0.0, ge=0)


class CallerSection(_Strict):
    arrival: Arrival | None = None
    profile: CallerProfile = CallerProfile()
    fixed: tuple[FixedCaller, ...] = ()


class OfflinePeriod(_Strict):
    """The phone stops answering qualify at ``at`` (scenario seconds) for ``seconds``: Asterisk
    marks its contact Unreachable, the endpoint offline, and ``channels/create`` to it fails."""

    at: float = Field(ge=0)
    seconds: float = Field(gt=0)


class AgentBehaviour(_Strict):
    """How one simulated agent phone behaves when rung."""

    endpoint: Annotated[str, Field(pattern=r"^PJSIP/[A-Za-z0-9_.-]{1,40}$")]
    ring_delay: Distribution = Distribution(kind="constant", value=1.0)
    talk_time: Distribution = Distribution(kind="constant", value=10.0)
    no_answer_probability: Probability = 0.0
    busy_probability: Probability = 0.0
    offline: tuple[OfflinePeriod, ...] = ()
    """When the phone is unreachable (e.g. ``[{at: 30, seconds: 20}]``)."""

    @property
    def technology(self) -> str:
        return self.endpoint.split("/", 1)[0]

    @property
    def resource(self) -> str:
        return self.endpoint.split("/", 1)[1]


class Scenario(_Strict):
    seed: int = 1
    callers: CallerSection = CallerSection()
    agents: tuple[AgentBehaviour, ...] = ()

    @model_validator(mode="after")
    def _distinct_agents(self) -> Scenario:
        endpoints = [a.endpoint for a in self.agents]
        duplicates = sorted({e for e in endpoints if endpoints.count(e) > 1})
        if duplicates:
            raise ValueError(f"agents listed twice: {', '.join(duplicates)}")
        return self


@dataclass(frozen=True, slots=True)
class PlannedCaller:
    """One caller of the plan: when they call (seconds from start) and what they do."""

    n: int
    at: float
    caller_id: str
    dialled: str
    digits: tuple[DigitPress, ...]
    patience: float


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario YAML; ``ConfigError`` names the file and the key."""
    file = Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}", file=str(file)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}", file=str(file)) from exc
    return parse_scenario(raw or {}, source=str(file))


def parse_scenario(raw: Any, source: str = "<scenario>") -> Scenario:
    """Validate a decoded scenario (a dict)."""
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"{source}: {problems}", file=source) from exc


def plan_callers(scenario: Scenario, rng: random.Random | None = None) -> list[PlannedCaller]:
    """Every caller of the scenario in time order; the same seed gives the same plan."""
    rng = rng or random.Random(scenario.seed)
    callers: list[PlannedCaller] = []
    n = 0
    for fixed in scenario.callers.fixed:
        n += 1
        callers.append(
            PlannedCaller(
                n=n,
                at=fixed.at,
                caller_id=fixed.caller_id,
                dialled=fixed.dialled,
                digits=fixed.digits,
                patience=fixed.patience.sample(rng),
            )
        )
    arrival = scenario.callers.arrival
    if arrival is not None:
        profile = scenario.callers.profile
        at = arrival.start
        rate_per_second = arrival.rate_per_minute / 60.0
        for _ in range(arrival.count):
            n += 1
            at += rng.expovariate(rate_per_second)
            callers.append(
                PlannedCaller(
                    n=n,
                    at=at,
                    caller_id=profile.caller_id.format(n=n),
                    dialled=profile.dialled,
                    digits=profile.digits,
                    patience=profile.patience.sample(rng),
                )
            )
    callers.sort(key=lambda c: (c.at, c.n))
    return callers
