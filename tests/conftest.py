"""Fixtures shared by every test set.

- ``pg_url``: a fresh PostgreSQL database of its own for this test run (127.0.0.1:5432, trust
  auth). Outside CI a missing server skips the test; under ``CI=true`` it fails.
- ``shared_asterisk``: the Asterisk 22 reference material in ``../shared/asterisk``. Outside CI
  its absence skips; under ``CI=true`` it fails.
- ``espeak_ng``: Debian's espeak-ng (text prompts; `make test` installs it). Outside CI its
  absence skips; under ``CI=true`` it fails.
- the ``callcenter`` Hypothesis profile: fuzz tests are reproducible.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings

# Fuzz tests (Hypothesis) run in every `make test`: the same examples on every run and every
# machine (derandomize; no example database), no per-example deadline on a busy CI machine.
# Each test sets its own small max_examples.
settings.register_profile("callcenter", derandomize=True, database=None, deadline=None)
settings.load_profile("callcenter")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN_URL = os.environ.get("CALLCENTER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SHARED_ASTERISK = Path(__file__).resolve().parents[2] / "shared" / "asterisk"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this must not skip)")
    pytest.skip(reason)


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing() -> None:
    """argon2 at production cost takes about a second on a busy 2-core machine: tests use a
    cheap setting (the algorithm and code paths are the same)."""
    from callcenter.auth.secrets import set_hashing_cost

    set_hashing_cost(time_cost=1, memory_cost_kib=1024, parallelism=1)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The admin URL of the test PostgreSQL server, checked once per session."""
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        _unavailable(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    yield PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """SQLAlchemy URL of a brand-new database, dropped after the test."""
    name = f"cc_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = pg_server.rsplit("/", 1)[0]
    yield f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def shared_asterisk() -> Path:
    """Path of ../shared/asterisk (api-docs and captures of a real Asterisk 22)."""
    if not (SHARED_ASTERISK / "ari-api-docs-22").is_dir():
        _unavailable(f"Asterisk reference material not found at {SHARED_ASTERISK}")
    return SHARED_ASTERISK


@pytest.fixture(scope="session")
def espeak_ng() -> str:
    """Path of espeak-ng, which speaks our text prompts."""
    path = shutil.which("espeak-ng")
    if path is None:
        _unavailable("espeak-ng is not installed (Debian package espeak-ng; `make espeak`)")
    assert path is not None
    return path


@pytest.fixture(autouse=True)
def no_call_left_in_the_simulated_asterisk(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test (every fixture torn down, the worker stopped), no simulated Asterisk
    of the test may still hold a channel or a bridge: a leak there is a leak on a real one
    (Asterisk keeps bridges until the app deletes them). Tests of the simulator itself that
    leave calls up on purpose carry ``@pytest.mark.leaves_calls``."""
    from callcenter.sim.pbx import SimulatedAsterisk

    before = set(SimulatedAsterisk.instances)
    yield
    if request.node.get_closest_marker("leaves_calls") is not None:
        return
    left = [
        item for pbx in SimulatedAsterisk.instances if pbx not in before for item in pbx.leftovers()
    ]
    assert left == [], f"the simulated Asterisk still holds {left}"
