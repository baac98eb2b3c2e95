"""A reader for the extensions.conf we render, so the simulated Asterisk can show its dialplan.

Understands what ``dialplan/extensions.conf.j2`` writes: ``[context]`` sections,
``exten => EXTEN,PRIORITY,App(data)``, ``same => n,App(data)``, ``include =>`` and ``;``
comments. Priorities ``n`` count up as pbx_config does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Priority:
    number: int
    app: str
    data: str
    line: int


@dataclass
class ExtensionsConf:
    """context -> extension -> priorities, in file order."""

    contexts: dict[str, dict[str, list[Priority]]] = field(default_factory=dict)
    includes: dict[str, list[str]] = field(default_factory=dict)


_SECTION = re.compile(r"^\[([^\]]+)\]")
_APP = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$")


def _strip_comment(line: str) -> str:
    out = []
    escaped = False
    for char in line:
        if char == ";" and not escaped:
            break
        escaped = char == "\\" and not escaped
        out.append(char)
    return "".join(out).strip()


def parse_extensions_conf(text: str) -> ExtensionsConf:
    """The contexts and priorities of an extensions.conf (``[general]``/``[globals]`` skipped)."""
    conf = ExtensionsConf()
    context: str | None = None
    last_exten: str | None = None
    last_priority = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw)
        if not line:
            continue
        section = _SECTION.match(line)
        if section:
            name = section.group(1)
            context = None if name in ("general", "globals") else name
            if context is not None:
                conf.contexts.setdefault(context, {})
            continue
        if context is None or "=>" not in line:
            continue
        key, _, value = (part.strip() for part in line.partition("=>"))
        if key == "include":
            conf.includes.setdefault(context, []).append(value)
            continue
        if key == "exten":
            exten, priority_text, command = (p.strip() for p in value.split(",", 2))
        elif key == "same" and last_exten is not None:
            exten = last_exten
            priority_text, command = (p.strip() for p in value.split(",", 1))
        else:
            continue
        priority = last_priority + 1 if priority_text == "n" else int(priority_text)
        match = _APP.match(command)
        app, data = (match.group(1), match.group(2)) if match else (command, "")
        conf.contexts[context].setdefault(exten, []).append(Priority(priority, app, data, number))
        last_exten, last_priority = exten, priority
    return conf


def from_routes(routes: Iterable[Any]) -> ExtensionsConf:
    """What the PBX core's own routes look like as a dialplan (one priority each)."""
    conf = ExtensionsConf()
    for route in routes:
        target = route.target
        app = type(target).__name__
        if app == "Stasis":
            data = target.app_data
        elif app == "Queue":
            data = target.name
        elif app == "Reject":
            app, data = "Hangup", str(target.cause)
        else:
            app, data = "Playback", getattr(target, "sound", "")
        context = conf.contexts.setdefault(route.context, {})
        context.setdefault(route.exten, []).append(Priority(route.priority, app, data, 0))
    return conf
