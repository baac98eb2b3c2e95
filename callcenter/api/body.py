"""Request bodies: JSON objects read strictly, and text fields checked at the edge.

A body is read once (aiohttp's ``client_max_size``, 1 MiB, caps it: larger ones get 413),
decoded as UTF-8 (the only encoding JSON has, RFC 8259 §8.1), its nesting bounded before it is
parsed, and must be a JSON object with known fields. Each text field is checked with
:func:`callcenter.text.text_problem`, so a value the database or a log cannot hold is refused
with 400 here and never reaches the ACD service.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from aiohttp import web

from callcenter.api.app import BadRequest
from callcenter.text import text_problem

MAX_NESTING = 16
"""Deepest ``[``/``{`` nesting read at all (our bodies are flat objects)."""

_UTF8_NAMES = frozenset({"utf-8", "utf8"})
# Strings are dropped before brackets are counted ("[" inside a string is text). The unrolled
# form keeps the regex linear on a 1 MiB body.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def nesting_exceeds(text: str, limit: int) -> bool:
    """True when ``[``/``{`` outside strings nest deeper than ``limit`` (checked before
    ``json.loads``, which recurses once per level)."""
    depth = 0
    for match in _BRACKET.finditer(_JSON_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def json_object(request: web.Request, fields: Collection[str]) -> dict[str, Any]:
    """The body as a JSON object whose keys are among ``fields``; ``{}`` when there is no body.
    Anything else (not UTF-8, not JSON, too deep, ``null``, an array, an unknown field) raises
    :class:`BadRequest`."""
    if not request.can_read_body:
        return {}
    charset = request.charset
    if charset is not None and charset.lower() not in _UTF8_NAMES:
        raise BadRequest(f"the body must be UTF-8 JSON (charset={charset[:20]!r} given)")
    raw = await request.read()
    if not raw:
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the body is not UTF-8") from exc
    if nesting_exceeds(text, MAX_NESTING):
        raise BadRequest(f"the body nests deeper than {MAX_NESTING} levels")
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise BadRequest("the body is not JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise BadRequest(
            f"unknown field {unknown[0][:40]!r} (known: {', '.join(sorted(fields))})",
            field=unknown[0][:40],
        )
    return body


def text_field(body: dict[str, Any], name: str, max_length: int) -> str | None:
    """An optional one-line text field: None when absent, null or empty; else a string of at
    most ``max_length`` characters without control characters or lone surrogates."""
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string of at most {max_length} characters", field=name)
    problem = text_problem(value, max_length)
    if problem is not None:
        raise BadRequest(f"{name} {problem}", field=name)
    return value
