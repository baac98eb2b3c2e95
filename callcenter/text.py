"""Free text that crosses an edge (an API body, a web form, the config file).

Every text field is checked where it enters, before anything acts on it: a value a database,
a log line or an Asterisk config file cannot hold must be refused with a clear message, never
accepted and lost later. :func:`text_problem` says what is wrong with one value;
:func:`shown` is how an error message echoes a value back (quoted, escaped and cut short).
"""

from __future__ import annotations

import unicodedata

REASON_MAX_LENGTH = 64
"""An agent's pause or logout reason (``agents.pause_reason`` and ``agent_state_changes.reason``
hold 64 characters)."""

SHOWN_CHARACTERS = 60
"""Echoed values are cut to about this many characters."""

_FORBIDDEN_CATEGORIES = {
    "Cc": "a control character",  # NUL, tab, line breaks, DEL, C1 controls
    "Cs": "a lone surrogate (not valid Unicode text)",  # UTF-8 and PostgreSQL refuse these
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}


def text_problem(value: str, max_length: int) -> str | None:
    """Why ``value`` cannot be kept as one line of text of at most ``max_length`` characters,
    or None when it can."""
    if len(value) > max_length:
        return f"is too long ({len(value)} characters, at most {max_length})"
    for char in value:
        what = _FORBIDDEN_CATEGORIES.get(unicodedata.category(char))
        if what is not None:
            return f"contains {what} (U+{ord(char):04X})"
    return None


def shown(value: object, limit: int = SHOWN_CHARACTERS) -> str:
    """``value`` as an error message quotes it: ``repr`` (control characters escaped), cut to
    about ``limit`` characters with the full length said."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value)} characters)"
    text = repr(value)
    if len(text) > limit + 2:
        return text[:limit] + "..."
    return text
