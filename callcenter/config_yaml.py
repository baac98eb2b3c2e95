"""Reading ``callcenter.yaml`` safely: YAML with limits, duplicate keys refused.

PyYAML's ``SafeLoader`` builds only plain data, but it still lets a file

- repeat a key (``asterisk:`` twice, a second ``queues.sales``): the last one silently wins;
- expand a few hundred bytes of nested aliases (``&a [*b, *b, ...]``) into millions of values
  that every later step walks again (seven levels took 7.9 s and 295 MB to check);
- refer to an anchor from inside itself (``&a [*a]``), a cycle nothing downstream can walk;
- nest deep enough to exhaust Python's recursion (its composer recurses once per level).

:func:`load_yaml` composes the document with a loader that counts, while composing, the nodes
each alias stands for, and stops at :data:`MAX_ALIAS_NODES`; bounds nesting and file size; and
reports every duplicated key with the line of each occurrence. Problems are
:class:`~callcenter.errors.ConfigError` with one line each.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from callcenter.errors import ConfigError

MAX_FILE_BYTES = 5 * 1024 * 1024
"""A call center of 5,000 agents is well under 1 MB of YAML."""
MAX_ALIAS_NODES = 10_000
"""Values that aliases may add to the document (each alias counts every node it repeats)."""
MAX_DEPTH = 50
"""Deepest nesting of mappings and lists (the config's own structure is under 10 levels)."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _LimitExceeded(Exception):
    def __init__(self, message: str, node_or_event: Any) -> None:
        super().__init__(message)
        self.line = node_or_event.start_mark.line + 1


def format_path(loc: Iterable[str | int]) -> str:
    """``("queues", "sales", "skills", 1)`` -> ``queues.sales.skills[1]``. Each key is cut to
    about 60 characters: a path is echoed in error messages."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            key = str(part)
            key = key if len(key) <= 60 else key[:60] + "..."
            text += ("." if text else "") + key
    return text or "(top level)"


class _CountingLoader(yaml.SafeLoader):
    """A SafeLoader whose composer counts alias expansions, bounds depth, finds duplicates."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_nodes = 0
        self.duplicates: list[tuple[int, str, str]] = []
        self._sizes: dict[int, int] = {}
        self._path: list[str | int] = []
        self._complete: set[int] = set()
        """Nodes fully composed: an alias to any other anchored node would be a cycle."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            anchored = self.anchors.get(event.anchor)
            if anchored is not None and id(anchored) not in self._complete:
                raise _LimitExceeded(f"alias *{event.anchor} refers to itself", event)
            node = super().compose_node(parent, index)
            assert node is not None  # an alias always stands for a node
            self.alias_nodes += self._size(node)
            if self.alias_nodes > MAX_ALIAS_NODES:
                raise _LimitExceeded(
                    f"aliases expand to more than {MAX_ALIAS_NODES:,} values "
                    "(nested aliases repeat what they refer to)",
                    event,
                )
            return node
        if len(self._path) >= MAX_DEPTH:
            raise _LimitExceeded(f"nested deeper than {MAX_DEPTH} levels", event)
        self._path.append(self._step(index))
        try:
            node = super().compose_node(parent, index)
            if isinstance(node, MappingNode):
                self._find_duplicates(node)
        finally:
            self._path.pop()
        self._complete.add(id(node))
        return node

    @staticmethod
    def _step(index: Any) -> str | int:
        if isinstance(index, ScalarNode):
            return str(index.value)
        if isinstance(index, int):
            return index
        return "?"  # a mapping key itself, or the document root

    def _size(self, node: Node) -> int:
        """How many nodes ``node`` stands for, aliases expanded (memoised: linear time)."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(self._size(child) for child in node.value)
        elif isinstance(node, MappingNode):
            size += sum(self._size(k) + self._size(v) for k, v in node.value)
        self._sizes[id(node)] = size
        return size

    def _find_duplicates(self, node: MappingNode) -> None:
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            try:
                key: Any = (key_node.tag, self.construct_object(key_node))
                hash(key)
            except (yaml.YAMLError, TypeError):
                key = (key_node.tag, key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                path = format_path([*(p for p in self._path if p != "?"), str(key_node.value)])
                self.duplicates.append(
                    (line, path, f"given twice, at line {seen[key]} and line {line} (remove one)")
                )
            else:
                seen[key] = line


def load_yaml(text: str, source: str) -> Any:
    """Parse one YAML document within the limits above; ConfigError (naming ``source``,
    line and key) when it is not valid YAML, exceeds a limit or repeats a key."""
    if len(text) > MAX_FILE_BYTES:
        raise ConfigError(
            f"{source}: the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB", file=source
        )
    try:
        loader = _CountingLoader(text)
    except yaml.reader.ReaderError as exc:  # checked up front: a character YAML forbids
        line = text.count("\n", 0, exc.position) + 1
        raise ConfigError(
            f"{source}: invalid YAML at line {line}: character U+{exc.character:04X} is not "
            "allowed (control characters must be written as escapes in double quotes)",
            file=source,
        ) from None
    try:
        data = loader.get_single_data()
    except _LimitExceeded as exc:
        raise ConfigError(f"{source}: line {exc.line}: {exc}", file=source) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}", file=source) from exc
    finally:
        loader.dispose()
    if loader.duplicates:
        duplicates = sorted(loader.duplicates)
        raise ConfigError(
            "\n".join(f"{source}: {path}: {message}" for _, path, message in duplicates),
            file=source,
            problems=[{"path": path, "message": message} for _, path, message in duplicates],
        )
    return data
