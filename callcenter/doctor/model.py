"""What a doctor check says: one line, passed or not, and what to do about it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Status = Literal["ok", "fail", "skip"]
MARKS: dict[Status, str] = {"ok": "✓", "fail": "✗", "skip": "-"}


@dataclass(frozen=True)
class Check:
    """One check's outcome. ``fix`` says what to change when it failed."""

    area: str
    name: str
    status: Status
    detail: str
    fix: str | None = None

    @property
    def ok(self) -> bool:
        return self.status != "fail"

    def line(self) -> str:
        text = f"{MARKS[self.status]} {self.area}: {self.name}: {self.detail}"
        if self.status == "fail" and self.fix:
            text += f"\n    fix: {self.fix}"
        return text


def passed(area: str, name: str, detail: str) -> Check:
    return Check(area, name, "ok", detail)


def failed(area: str, name: str, detail: str, fix: str) -> Check:
    return Check(area, name, "fail", detail, fix)


def skipped(area: str, name: str, detail: str) -> Check:
    return Check(area, name, "skip", detail)


@dataclass
class Report:
    """Every check of one doctor run, in the order they ran."""

    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(check) for check in self.checks]}
