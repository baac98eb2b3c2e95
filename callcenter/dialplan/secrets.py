"""Secrets for Asterisk's config files: hash where Asterisk accepts a hash, refuse placeholders.

- ari.conf ``password_format = crypt`` takes a crypt(3) string; we write SHA-512 crypt (``$6$``),
  implemented here on hashlib because the ``crypt`` module is deprecated (gone in Python 3.13).
- pjsip.conf ``auth_type = md5`` takes ``md5_cred = md5(username:realm:password)``.
- manager.conf and cdr_pgsql.conf have no hashed form: :func:`config_safe` makes sure the clear
  value cannot break the file (Asterisk's config parser starts a comment at ``;``).
"""

from __future__ import annotations

import base64
import hashlib
import re

from callcenter.errors import ConfigError

_CRYPT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SALT_PATTERN = re.compile(r"[./0-9A-Za-z]{1,16}")

PLACEHOLDER_SECRETS = frozenset(
    {"", "password", "secret", "changeme", "change-me", "admin", "asterisk", "1234", "0000"}
)


class SecretError(ConfigError):
    """A secret cannot be written safely (placeholder, or characters the file cannot hold)."""

    code = "secret-invalid"


def _sha512_order() -> list[tuple[int, ...]]:
    # Byte order of the final encoding (Drepper, "Unix crypt using SHA-256 and SHA-512"):
    # (0,21,42), (22,43,1), (44,2,23), (3,24,45), ...
    order = []
    for i in range(21):
        triple = (i, i + 21, i + 42)
        shift = i % 3
        order.append(triple[shift:] + triple[:shift])
    return order


def _encode(digest: bytes) -> str:
    out = []
    for a, b, c in _sha512_order():
        word = (digest[a] << 16) | (digest[b] << 8) | digest[c]
        for _ in range(4):
            out.append(_CRYPT_ALPHABET[word & 0x3F])
            word >>= 6
    word = digest[63]
    for _ in range(2):
        out.append(_CRYPT_ALPHABET[word & 0x3F])
        word >>= 6
    return "".join(out)


def _repeat(block: bytes, length: int) -> bytes:
    return (block * (length // len(block) + 1))[:length]


def sha512_crypt(password: str, salt: str, rounds: int | None = None) -> str:
    """SHA-512 crypt (``$6$salt$hash``), as glibc's crypt(3) and Asterisk's ast_crypt_validate."""
    if not _SALT_PATTERN.fullmatch(salt[:16]):
        raise ValueError("salt must be 1-16 characters of [./0-9A-Za-z]")
    salt_bytes = salt[:16].encode()
    key = password.encode()
    count = 5000 if rounds is None else max(1000, min(rounds, 999_999_999))

    alternate = hashlib.sha512(key + salt_bytes + key).digest()
    context = hashlib.sha512(key + salt_bytes)
    context.update(_repeat(alternate, len(key)))
    length = len(key)
    while length:
        context.update(alternate if length & 1 else key)
        length >>= 1
    current = context.digest()

    p_bytes = _repeat(hashlib.sha512(key * len(key)).digest(), len(key))
    s_bytes = _repeat(hashlib.sha512(salt_bytes * (16 + current[0])).digest(), len(salt_bytes))
    for i in range(count):
        step = hashlib.sha512(p_bytes if i & 1 else current)
        if i % 3:
            step.update(s_bytes)
        if i % 7:
            step.update(p_bytes)
        step.update(current if i & 1 else p_bytes)
        current = step.digest()

    prefix = "$6$" if rounds is None else f"$6$rounds={count}$"
    return f"{prefix}{salt_bytes.decode()}${_encode(current)}"


def stable_salt(*parts: str) -> str:
    """A 16-character crypt salt derived from non-secret names, so renders are reproducible.

    The salt only has to differ between installations and users (against precomputed tables);
    it must not depend on the password, or it would leak a cheap check of it.
    """
    digest = hashlib.sha256("\x00".join(("callcenter-crypt-salt", *parts)).encode()).digest()
    text = base64.b64encode(digest, altchars=b"./").decode()
    return text[:16]


def md5_cred(username: str, realm: str, password: str) -> str:
    """pjsip.conf ``md5_cred``: the hex MD5 of ``username:realm:password`` (RFC 2617 HA1)."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def is_placeholder(secret: str) -> bool:
    """True for the example values (``change-me-ari``) and well-known defaults."""
    lowered = secret.strip().lower()
    return lowered in PLACEHOLDER_SECRETS or lowered.startswith(("change-me", "changeme"))


def check_secret(secret: str, where: str, *, allow_insecure_defaults: bool) -> str:
    """Refuse a placeholder secret (unless allowed for a demo); returns the secret."""
    if is_placeholder(secret) and not allow_insecure_defaults:
        raise SecretError(
            f"{where}: refusing to render a placeholder secret (a well-known default or "
            "change-me-...); set a real one (e.g. from an environment variable) or pass "
            "--allow-insecure-defaults for a demo",
            key=where,
        )
    return secret


_CLEAR_VALUE = re.compile(r"[!-~](?:[ -~]*[!-~])?")


def config_safe(value: str, where: str) -> str:
    """A value written in clear into an Asterisk .conf file: printable ASCII, no ';' or '\\'.

    Asterisk's config parser (main/config.c, ``config_text_file_load``) reads a line up to the
    newline, starts a comment at ';' (``\\;`` is a literal ';', ``;--`` ... ``--;`` a block
    comment), strips bytes below 33 from both ends, and in ``key = value`` takes everything
    after the first '='. So a line break, ';', '\\' or a surrounding blank would cut, change
    or inject configuration. '[', ']', '=' and '#' mean something only at the start of a line
    (a section, a directive): after ``key = `` they are plain characters, as in
    ``secret = X[section]``.
    """
    if not _CLEAR_VALUE.fullmatch(value) or ";" in value or "\\" in value:
        raise SecretError(
            f"{where}: this value is written in clear into an Asterisk config file and must be "
            "printable ASCII without ';', '\\', line breaks or surrounding spaces",
            key=where,
        )
    return value
