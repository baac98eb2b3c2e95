"""Encryption of small secrets at rest (TOTP secrets) with the standard library only.

``SecretBox(passphrase).seal(text)`` gives ``v1.<base64url(nonce | ciphertext | tag)>``;
``open`` gives the text back or raises ``SealedSecretError`` (wrong key or altered value).

The construction, for a reviewer:

- keys: HKDF-SHA256 (RFC 5869) of the passphrase (``web.session_secret``, itself required to
  be random) with a fixed salt and a per-purpose ``info`` gives 64 bytes: an encryption key
  and an independent MAC key;
- encryption: HMAC-SHA256 as a pseudo-random function in counter mode, keyed with the
  encryption key over ``nonce | block number`` (a random 16-byte nonce per value), XORed with
  the text: a stream cipher whose security rests on HMAC-SHA256 being a PRF;
- integrity: encrypt-then-MAC, HMAC-SHA256 with the MAC key over ``version | nonce |
  ciphertext``, checked in constant time before anything is decrypted.

No third-party crypto package is needed for the few dozen bytes of a TOTP secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from callcenter.errors import CallCenterError

VERSION = "v1"
NONCE_BYTES = 16
TAG_BYTES = 32
_SALT = b"callcenter sealed secrets v1"


class SealedSecretError(CallCenterError):
    """A sealed value that this key cannot open (another key, or altered)."""

    code = "sealed-secret-unreadable"


def hkdf_sha256(key_material: bytes, *, salt: bytes, info: bytes, length: int) -> bytes:
    """RFC 5869 HKDF with SHA-256: extract, then expand to ``length`` bytes."""
    prk = hmac.new(salt, key_material, hashlib.sha256).digest()
    okm, block = b"", b""
    for counter in range(1, -(-length // 32) + 1):
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        okm += block
    return okm[:length]


def is_sealed(value: str) -> bool:
    return value.startswith(VERSION + ".")


class SecretBox:
    """Seals and opens short texts with keys derived from ``passphrase`` for ``purpose``."""

    def __init__(self, passphrase: str, purpose: str = "totp-secrets") -> None:
        keys = hkdf_sha256(passphrase.encode(), salt=_SALT, info=purpose.encode(), length=64)
        self._encryption_key, self._mac_key = keys[:32], keys[32:]

    def seal(self, text: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._xor_stream(nonce, text.encode())
        tag = self._tag(nonce, ciphertext)
        return f"{VERSION}." + base64.urlsafe_b64encode(nonce + ciphertext + tag).decode()

    def open(self, sealed: str) -> str:
        if not is_sealed(sealed):
            raise SealedSecretError("not a sealed value")
        try:
            raw = base64.urlsafe_b64decode(sealed[len(VERSION) + 1 :].encode())
        except ValueError as exc:
            raise SealedSecretError("a sealed value that is not base64") from exc
        if len(raw) < NONCE_BYTES + TAG_BYTES:
            raise SealedSecretError("a sealed value too short")
        nonce, ciphertext, tag = raw[:NONCE_BYTES], raw[NONCE_BYTES:-TAG_BYTES], raw[-TAG_BYTES:]
        if not hmac.compare_digest(tag, self._tag(nonce, ciphertext)):
            raise SealedSecretError("this key cannot open the value (another key, or altered)")
        return self._xor_stream(nonce, ciphertext).decode()

    def _tag(self, nonce: bytes, ciphertext: bytes) -> bytes:
        return hmac.new(
            self._mac_key, VERSION.encode() + nonce + ciphertext, hashlib.sha256
        ).digest()

    def _xor_stream(self, nonce: bytes, data: bytes) -> bytes:
        stream = b"".join(
            hmac.new(self._encryption_key, nonce + i.to_bytes(4, "big"), hashlib.sha256).digest()
            for i in range(-(-len(data) // 32))
        )
        return bytes(a ^ b for a, b in zip(data, stream, strict=False))
