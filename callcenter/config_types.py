"""The validated scalar types of ``callcenter.yaml``: ids, names, hosts, secrets, URLs.

Every value that can reach an Asterisk config file, the dialplan, a URL or a database passes
through one of these (``callcenter.config`` builds its sections from them). A pattern must match
the whole value; a length is its own constraint, so a value that is too long is told so; each
pattern has a hint in :data:`PATTERN_HINTS` that error messages show. What is accepted is
listed in ``docs/input-limits.md``.
"""

from __future__ import annotations

import ipaddress
import re
import typing
import zoneinfo
from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, StringConstraints

from callcenter.sounds import MediaUri
from callcenter.text import text_problem

# --- validated scalar types -------------------------------------------------------------------
# Every value that can reach an Asterisk config file or the dialplan passes through one of these,
# so a name with a newline, ';', ',' or ')' can never inject dialplan or config. Patterns are
# matched by pydantic's Rust regex engine, where '$' is the very end of the text (Python's 're'
# would also accept a trailing newline there): code that matches by hand uses ``fullmatch``.
# Lengths are separate constraints, so a value that is too long is told so.

PATTERN_HINTS: dict[str, str] = {}
"""Pattern -> what a person should write instead (error messages)."""


def _matching(pattern: str, hint: str, **constraints: Any) -> StringConstraints:
    """A string constraint whose pattern mismatch is explained with ``hint``."""
    PATTERN_HINTS[pattern] = hint
    return StringConstraints(pattern=pattern, **constraints)


PATTERN_HINTS[typing.get_args(MediaUri)[1].pattern] = (
    "a media URI like sound:hello-world or prompt:welcome (sound:, prompt:, recording:, "
    "digits:, number:, characters:, tone:)"
)


class SecretValueError(ValueError):
    """A secret is wrong: the message never contains the value."""


def one_line_text(value: str, max_length: int) -> str:
    """``value`` when it is one line of text of at most ``max_length`` characters."""
    problem = text_problem(value, max_length)
    if problem is not None:
        raise ValueError(problem)
    return value


def _one_line_secret(value: str) -> str:
    problem = text_problem(value, MAX_SECRET_LENGTH)
    if problem is not None:
        raise SecretValueError(f"the secret {problem}")
    return value


Identifier = Annotated[
    str,
    _matching(
        r"^[a-z][a-z0-9_-]*$",
        "lower-case letters, digits, '_' and '-', starting with a letter",
        max_length=40,
    ),
]
"""Ids of queues, agents, menus, skills: lower-case letters, digits, '_' and '-'."""

Extension = Annotated[
    str,
    _matching(r"^\+?[0-9*#]+$", "digits, '*' and '#', with an optional leading '+'", max_length=21),
]
"""A dialled number or extension: digits, '*', '#', an optional leading '+'."""

DisplayName = Annotated[
    str,
    _matching(
        r'^[^;,()\[\]{}"\\|=]*$',
        'no ; , ( ) [ ] { } " \\ | = (they mean something in Asterisk files)',
        strip_whitespace=True,
        min_length=1,
        max_length=60,
    ),
    AfterValidator(lambda value: one_line_text(value, 60)),
]
"""A human name: one line of text, no characters that mean something in Asterisk config
syntax."""

Endpoint = Annotated[
    str,
    _matching(r"^PJSIP/[A-Za-z0-9_.-]+$", "a PJSIP endpoint like PJSIP/1001", max_length=46),
]
"""An agent's SIP endpoint as Asterisk names it, e.g. ``PJSIP/1001``."""

Digit = Annotated[str, _matching(r"^[0-9*#]$", "one of 0-9, * and #")]
MAX_SECRET_LENGTH = 200
Secret = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_SECRET_LENGTH),
    AfterValidator(_one_line_secret),
]
"""A password or token: one line of text. Error messages never show it."""

MIN_SECRET_LENGTH = 32
MIN_SECRET_DISTINCT = 12
MAKE_SECRET_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(32))"'


def weak_secret_problem(value: str) -> str | None:
    """Why ``value`` is too weak to sign sessions or open the API, or None.

    Strong means: at least 32 characters, at least 12 different ones, not a ``change-me``
    placeholder and not one shorter piece repeated. ``secrets.token_urlsafe(32)`` (43
    characters, 256 random bits) and ``secrets.token_hex(32)`` always pass.
    """
    if len(value) < MIN_SECRET_LENGTH:
        problem = f"has {len(value)} characters, needs at least {MIN_SECRET_LENGTH}"
    elif len(set(value)) < MIN_SECRET_DISTINCT:
        problem = f"has only {len(set(value))} different characters, needs {MIN_SECRET_DISTINCT}"
    elif "change-me" in value.lower():
        problem = "is a placeholder"
    elif any(
        len(value) % n == 0 and value == value[:n] * (len(value) // n)
        for n in range(1, len(value) // 2 + 1)
    ):
        problem = "is one short piece repeated"
    else:
        return None
    return f"too weak: {problem}; make a random one with {MAKE_SECRET_COMMAND}"


def _strong_secret(value: str) -> str:
    problem = weak_secret_problem(value)
    if problem is not None:
        raise SecretValueError(problem)
    return value


StrongSecret = Annotated[Secret, AfterValidator(_strong_secret)]
"""A secret that signs or opens something by itself (``web.session_secret``, ``api.token``):
it must be random, see ``weak_secret_problem``."""
AsteriskUser = Annotated[
    str,
    _matching(
        r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        "letters, digits, '_', '.' and '-' (starting with a letter or digit)",
        max_length=40,
    ),
]
"""A user name Asterisk reads from its config (ari.conf, manager.conf, pjsip.conf sections)."""
_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*")


def _host(value: str, *, ipv6: bool) -> str:
    """A DNS name or an IP address, normalised. A name that looks like an IPv4 address but is
    none (``010.0.0.1``, ``1.2.3``) is refused: it would be rendered as a name, and a name
    makes Asterisk listen on every address."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    if address is not None and (address.version == 4 or ipv6):
        return str(address)
    if address is None and _HOST_NAME.fullmatch(value) and not value.rsplit(".", 1)[-1].isdigit():
        return value
    raise ValueError(
        "expected a host name or an IP address"
        if ipv6
        else "expected a host name or an IPv4 address"
    )


Hostname = Annotated[
    str, StringConstraints(max_length=253), AfterValidator(lambda v: _host(v, ipv6=False))
]
"""A DNS name or an IPv4 address (what the rendered Asterisk files take)."""

HostAddress = Annotated[
    str, StringConstraints(max_length=253), AfterValidator(lambda v: _host(v, ipv6=True))
]
"""Where to connect or listen: a DNS name, an IPv4 or an IPv6 address."""

Directory = Annotated[
    str,
    StringConstraints(min_length=1, max_length=1024),
    AfterValidator(lambda v: one_line_text(v, 1024)),
]
"""A directory path: one line of text."""


def _check_network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError as exc:
        raise ValueError("expected an IP network like 192.168.0.0/16") from exc


Network = Annotated[str, StringConstraints(max_length=64), AfterValidator(_check_network)]


def _check_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("unknown time zone (expected a name like Europe/London)") from exc
    return value


TimeZoneName = Annotated[str, StringConstraints(max_length=64), AfterValidator(_check_timezone)]


MAX_URL_LENGTH = 2000
CRM_PLACEHOLDERS = ("caller", "call_id", "queue")
"""What ``queues.*.crm_link`` may contain (``callcenter.web.links`` fills them in)."""
LOOKUP_PLACEHOLDERS = ("value",)
"""What an http lookup's URL may contain: ``{value}``, what the caller entered."""
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_HTTP_URL = re.compile(r"https?://[^\s/?#]+(?:[/?#]\S*)?")


def check_http_url(value: str, placeholders: Iterable[str] = ()) -> str:
    """An ``http://`` or ``https://`` URL on one line, without spaces, with a host; ``{name}``
    placeholders only among ``placeholders`` (a URL template)."""
    known = set(placeholders)
    problem = text_problem(value, MAX_URL_LENGTH)
    if problem is not None:
        raise ValueError(problem)
    if not _HTTP_URL.fullmatch(value):
        raise ValueError("expected an http:// or https:// URL without spaces")
    for name in _PLACEHOLDER.findall(value):
        if name not in known:
            allowed = ", ".join(f"{{{n}}}" for n in sorted(known)) or "none"
            raise ValueError(f"unknown placeholder {{{name[:40]}}} (allowed: {allowed})")
    filled = _PLACEHOLDER.sub("x", value)
    if "{" in filled or "}" in filled:
        raise ValueError("a '{' or '}' that is not part of a placeholder")
    try:
        parts = urlsplit(filled)
        parts.port  # noqa: B018 (raises on a port that is not a number in range)
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from exc
    if not parts.hostname:
        raise ValueError("the URL has no host")
    return value


HttpUrl = Annotated[str, AfterValidator(check_http_url)]
"""An ``http://`` or ``https://`` URL (no placeholders)."""
