"""A linter for Asterisk config files, strict about what ``pbx_config`` would reject or misread.

extensions.conf: ``[context]`` headers, ``exten => name,priority,App(args)``, ``same =>``,
priorities (1, n, labels), extensions without priority 1, duplicate priorities and labels,
unbalanced ``()``/``{}``/``[]`` in arguments, includes and literal Goto targets that do not
resolve. Other .conf files: section headers, ``key = value`` lines, and for pjsip.conf a
``type`` in every section and endpoint ``auth``/``aors`` that exist.

:func:`parse_extensions` is also how tests read the rendered dialplan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

_SECTION = re.compile(r"^\[([^\]\s]+)\](\([^)]*\))?$")
_DIRECTIVE = re.compile(r"^(exten|same|include|switch|ignorepat)\s*=>?\s*(.*)$")
_PRIORITY = re.compile(r"^(?P<base>\d+|n|s|hint)(?:\((?P<label>[A-Za-z0-9_-]+)\))?$")
_APPLICATION = re.compile(r"^(?P<app>[A-Za-z][A-Za-z0-9_]*)(?:\((?P<args>.*)\))?$", re.DOTALL)
_KEY_VALUE = re.compile(r"^(?P<key>[A-Za-z0-9_.+-]+)\s*=>?\s*(?P<value>.*)$")
_PLAIN_SECTIONS = frozenset({"general", "globals"})
_PAIRS = {")": "(", "}": "{", "]": "["}


@dataclass(frozen=True)
class Issue:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Step:
    """One priority of an extension: ``exten => 100,2(label),Stasis(app,inbound,100)``."""

    priority: int
    label: str | None
    app: str
    args: str
    line: int

    def arguments(self) -> list[str]:
        """The comma-separated arguments (not split inside ``(...)``, ``${...}``, ``$[...]``)."""
        return split_arguments(self.args)


@dataclass
class Context:
    name: str
    line: int
    extensions: dict[str, list[Step]] = field(default_factory=dict)
    includes: list[tuple[str, int]] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)


@dataclass
class Dialplan:
    contexts: dict[str, Context] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    def steps(self, context: str, extension: str) -> list[Step]:
        """The priorities of ``extension`` in ``context``, in priority order."""
        return sorted(self.contexts[context].extensions[extension], key=lambda s: s.priority)


def strip_comment(line: str) -> str:
    """Drop a ``;`` comment (``\\;`` is an escaped semicolon, as in main/config.c)."""
    index = 0
    while True:
        index = line.find(";", index)
        if index < 0:
            return line.strip()
        if index > 0 and line[index - 1] == "\\":
            index += 1
            continue
        return line[:index].strip()


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        line = strip_comment(raw)
        if line:
            yield number, line


def balance_problem(text: str) -> str | None:
    """Why the brackets of ``text`` do not balance, or None when they do."""
    stack: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "({[":
            stack.append(char)
        elif char in _PAIRS:
            if not stack or stack[-1] != _PAIRS[char]:
                return f"unbalanced {char!r}"
            stack.pop()
    return f"unbalanced: unclosed {stack[-1]!r}" if stack else None


def split_arguments(args: str) -> list[str]:
    """Split application arguments on top-level commas, as Asterisk's app arg parser does."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in args:
        if char in "({[":
            depth += 1
        elif char in ")}]":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


class _ExtensionsParser:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.plan = Dialplan()
        self.context: Context | None = None
        self.last_exten: str | None = None
        self.last_priority: dict[tuple[str, str], int] = {}
        self.labels: dict[tuple[str, str], set[str]] = {}

    def issue(self, line: int, message: str) -> None:
        self.plan.issues.append(Issue(self.filename, line, message))

    def feed(self, number: int, line: str) -> None:
        if line.startswith("#"):
            return  # #include / #exec: resolved by Asterisk, not by us
        if line.startswith("["):
            self.section(number, line)
            return
        if self.context is None:
            self.issue(number, f"line outside any [context]: {line!r}")
            return
        if self.context.name in _PLAIN_SECTIONS:
            match = _KEY_VALUE.match(line)
            if match is None:
                self.issue(number, f"expected 'name = value' in [{self.context.name}]: {line!r}")
            else:
                self.context.settings[match["key"]] = match["value"].strip()
            return
        directive = _DIRECTIVE.match(line)
        if directive is None:
            self.issue(number, f"expected exten =>, same => or include =>: {line!r}")
            return
        kind, rest = directive.group(1), directive.group(2).strip()
        if kind == "exten":
            name, _, rest = rest.partition(",")
            self.step(number, name.strip(), rest)
        elif kind == "same":
            if self.last_exten is None:
                self.issue(number, "same => without an exten => before it in this context")
            else:
                self.step(number, self.last_exten, rest)
        elif kind == "include":
            self.context.includes.append((rest, number))

    def section(self, number: int, line: str) -> None:
        match = _SECTION.match(line)
        if match is None:
            self.issue(number, f"malformed context header {line!r}")
            self.context = None
            return
        name = match.group(1)
        if name in self.plan.contexts:
            first = self.plan.contexts[name].line
            self.issue(number, f"context [{name}] is defined twice (first on line {first})")
            self.context = self.plan.contexts[name]
        else:
            self.context = self.plan.contexts[name] = Context(name, number)
        self.last_exten = None

    def step(self, number: int, exten: str, rest: str) -> None:
        assert self.context is not None
        ctx = self.context.name
        if not exten or any(c.isspace() for c in exten) or balance_problem(exten):
            self.issue(number, f"invalid extension name {exten!r} in [{ctx}]")
            return
        self.last_exten = exten
        priority_text, comma, app_text = rest.partition(",")
        priority_match = _PRIORITY.match(priority_text.strip())
        if priority_match is None or not comma:
            self.issue(number, f"invalid priority {priority_text.strip()!r} of {exten} in [{ctx}]")
            return
        base, label = priority_match["base"], priority_match["label"]
        if base == "hint":
            return
        key = (ctx, exten)
        previous = self.last_priority.get(key)
        if base in ("n", "s"):
            if previous is None:
                self.issue(number, f"priority {base} of {exten} in [{ctx}] has no priority before")
                return
            priority = previous + 1 if base == "n" else previous
        else:
            priority = int(base)
        steps = self.context.extensions.setdefault(exten, [])
        if any(s.priority == priority for s in steps):
            self.issue(number, f"duplicate priority {priority} of extension {exten} in [{ctx}]")
        if label:
            seen = self.labels.setdefault(key, set())
            if label in seen:
                self.issue(number, f"duplicate label {label!r} in extension {exten} of [{ctx}]")
            seen.add(label)
        self.last_priority[key] = priority
        app_match = _APPLICATION.match(app_text.strip())
        if app_match is None:
            self.issue(number, f"expected App(args) in {exten} of [{ctx}]: {app_text.strip()!r}")
            return
        args = app_match["args"] or ""
        problem = balance_problem(args)
        if problem:
            self.issue(number, f"{problem} in {app_match['app']}({args}) ({exten} of [{ctx}])")
        steps.append(Step(priority, label, app_match["app"], args, number))

    def finish(self, known_contexts: Iterable[str]) -> Dialplan:
        plan = self.plan
        known = set(known_contexts) | set(plan.contexts)
        for context in plan.contexts.values():
            for exten, steps in context.extensions.items():
                if steps and not any(s.priority == 1 for s in steps):
                    line = min(s.line for s in steps)
                    self.issue(line, f"extension {exten} in [{context.name}] has no priority 1")
            for target, line in context.includes:
                if target not in known:
                    self.issue(line, f"[{context.name}] includes unknown context {target!r}")
            for steps in context.extensions.values():
                for step in steps:
                    self.check_goto(context.name, step, plan)
        return plan

    def check_goto(self, ctx: str, step: Step, plan: Dialplan) -> None:
        if step.app == "Goto":
            targets = [step.args]
        elif step.app == "GotoIf":
            _, _, branches = step.args.partition("?")
            targets = branches.split(":")
        else:
            return
        for target in targets:
            parts = [p.strip() for p in split_arguments(target)]
            if len(parts) != 3 or any("$" in p for p in parts):
                continue  # a label, a relative goto or a computed target
            context, exten, _priority = parts
            if context not in plan.contexts:
                self.issue(step.line, f"{step.app} in [{ctx}] jumps to unknown context {context!r}")
            elif not exten.startswith("_") and exten not in plan.contexts[context].extensions:
                self.issue(
                    step.line, f"{step.app} in [{ctx}] jumps to unknown {exten!r} in [{context}]"
                )


def parse_extensions(
    text: str, filename: str = "extensions.conf", known_contexts: Iterable[str] = ()
) -> Dialplan:
    """Parse extensions.conf into contexts and steps, collecting every problem as an Issue."""
    parser = _ExtensionsParser(filename)
    for number, line in _logical_lines(text):
        parser.feed(number, line)
    return parser.finish(known_contexts)


def check_extensions(
    text: str, filename: str = "extensions.conf", known_contexts: Iterable[str] = ()
) -> list[Issue]:
    """Lint an extensions.conf; ``known_contexts`` may be included though defined elsewhere."""
    return parse_extensions(text, filename, known_contexts).issues


def parse_sections(
    text: str, filename: str
) -> tuple[list[tuple[str, dict[str, list[str]]]], list[Issue]]:
    """A generic .conf file as ``[(section, {key: [values]})]`` plus its syntax problems."""
    sections: list[tuple[str, dict[str, list[str]]]] = []
    issues: list[Issue] = []
    for number, line in _logical_lines(text):
        if line.startswith("#"):
            continue
        if line.startswith("["):
            match = _SECTION.match(line)
            if match is None:
                issues.append(Issue(filename, number, f"malformed section header {line!r}"))
                continue
            sections.append((match.group(1), {"__line__": [str(number)]}))
            continue
        match = _KEY_VALUE.match(line)
        if match is None:
            issues.append(Issue(filename, number, f"expected 'name = value': {line!r}"))
        elif not sections:
            issues.append(Issue(filename, number, f"setting outside any [section]: {line!r}"))
        else:
            sections[-1][1].setdefault(match["key"], []).append(match["value"].strip())
    return sections, issues


def _check_pjsip(filename: str, sections: list[tuple[str, dict[str, list[str]]]]) -> list[Issue]:
    issues = []
    by_type: dict[str, set[str]] = {}
    for name, options in sections:
        line = int(options["__line__"][0])
        types = options.get("type", [])
        if len(types) != 1:
            issues.append(Issue(filename, line, f"[{name}] needs exactly one type ="))
            continue
        names = by_type.setdefault(types[0], set())
        if name in names:
            issues.append(Issue(filename, line, f"[{name}] type={types[0]} is defined twice"))
        names.add(name)
    for name, options in sections:
        if options.get("type") != ["endpoint"]:
            continue
        line = int(options["__line__"][0])
        for key, kind in (("auth", "auth"), ("outbound_auth", "auth"), ("aors", "aor")):
            for value in options.get(key, []):
                for ref in value.split(","):
                    if ref.strip() not in by_type.get(kind, set()):
                        issues.append(
                            Issue(filename, line, f"endpoint [{name}] {key} {ref!r} is not defined")
                        )
    return issues


def check_files(files: dict[str, str]) -> list[Issue]:
    """Lint every rendered file (extensions.conf with the dialplan rules, others as .conf)."""
    issues: list[Issue] = []
    for name in sorted(files):
        if name == "extensions.conf":
            issues.extend(check_extensions(files[name], name))
            continue
        sections, problems = parse_sections(files[name], name)
        issues.extend(problems)
        if name == "pjsip.conf":
            issues.extend(_check_pjsip(name, sections))
    return issues
