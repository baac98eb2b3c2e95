"""SHA-512 crypt (ari.conf), md5_cred (pjsip.conf), placeholder and clear-value checks."""

from __future__ import annotations

import hashlib

import pytest

from callcenter.dialplan import secrets
from callcenter.dialplan.secrets import SecretError


@pytest.mark.parametrize(
    ("password", "salt", "rounds", "expected"),
    [
        # Test vectors of Drepper's "Unix crypt using SHA-256 and SHA-512" specification.
        (
            "Hello world!",
            "saltstring",
            None,
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiB"
            "FdcbYEdFCoEOfaS35inz1",
        ),
        (
            "Hello world!",
            "saltstringsaltstring",
            10000,
            "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/U"
            "rjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
        ),
        (
            "This is just a test",
            "toolongsaltstring",
            5000,
            "$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGD"
            "ZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0",
        ),
        (
            "a very much longer text to encrypt.  This one even stretches over morethan one line.",
            "anotherlongsaltstring",
            1400,
            "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3"
            "CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1",
        ),
    ],
)
def test_sha512_crypt_matches_the_reference_vectors(
    password: str, salt: str, rounds: int | None, expected: str
) -> None:
    assert secrets.sha512_crypt(password, salt, rounds) == expected


def test_sha512_crypt_rejects_a_salt_outside_the_crypt_alphabet() -> None:
    with pytest.raises(ValueError, match="salt"):
        secrets.sha512_crypt("pw", "bad salt")


def test_stable_salt_depends_on_names_only_and_fits_crypt() -> None:
    salt = secrets.stable_salt("callcenter", "ari")
    assert salt == secrets.stable_salt("callcenter", "ari")
    assert salt != secrets.stable_salt("callcenter", "other")
    assert len(salt) == 16
    assert secrets.sha512_crypt("x", salt).startswith(f"$6${salt}$")


def test_md5_cred_is_the_digest_of_user_realm_password() -> None:
    expected = hashlib.md5(b"1001:callcenter:s3cret", usedforsecurity=False).hexdigest()
    assert secrets.md5_cred("1001", "callcenter", "s3cret") == expected


@pytest.mark.parametrize("value", ["change-me-ari", "CHANGEME", "password", "secret", ""])
def test_placeholders_are_refused_unless_allowed(value: str) -> None:
    assert secrets.is_placeholder(value)
    with pytest.raises(SecretError, match=r"asterisk.ari.password.*--allow-insecure-defaults"):
        secrets.check_secret(value, "asterisk.ari.password", allow_insecure_defaults=False)
    assert secrets.check_secret(value, "x", allow_insecure_defaults=True) == value


def test_a_real_secret_passes() -> None:
    assert not secrets.is_placeholder("Tr0ub4dor&3-horse")
    assert secrets.check_secret("Tr0ub4dor&3", "k", allow_insecure_defaults=False) == "Tr0ub4dor&3"


@pytest.mark.parametrize("value", ["abc;def", "back\\slash", " lead", "trail ", "new\nline", "é"])
def test_clear_values_that_would_break_a_conf_file_are_refused(value: str) -> None:
    with pytest.raises(SecretError, match=r"asterisk.ami.secret"):
        secrets.config_safe(value, "asterisk.ami.secret")


def test_clear_value_with_ordinary_punctuation_is_kept() -> None:
    assert secrets.config_safe("a-B_c.d!e@f#g$h%^&*()=+", "k") == "a-B_c.d!e@f#g$h%^&*()=+"
