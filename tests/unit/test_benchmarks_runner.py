"""`make bench` without PostgreSQL: the benchmarks that need it say so in one line, exit 0."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import sqlalchemy.exc

ROOT = Path(__file__).resolve().parents[2]
# benchmarks/ is not a package of the install: load its runner from the file.
_spec = importlib.util.spec_from_file_location("bench_runner", ROOT / "benchmarks" / "__main__.py")
assert _spec is not None and _spec.loader is not None
runner = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(runner)
database_unreachable = runner.database_unreachable


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once it is closed


def test_the_cdr_benchmark_without_postgresql_is_one_line_not_a_traceback() -> None:
    env = {**os.environ, "CALLCENTER_TEST_PG": f"postgresql://postgres@127.0.0.1:{closed_port()}/x"}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "cdr"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "=== benchmarks.cdr ==="
    assert lines[1].startswith("skipped: PostgreSQL is not reachable (connection failed:")
    assert lines[2].startswith("--- cdr: ")


def test_only_an_unreachable_database_is_a_skip() -> None:
    refused = psycopg.OperationalError("connection failed: refused")
    assert database_unreachable(refused) == "connection failed: refused"
    wrapped = sqlalchemy.exc.OperationalError("SELECT 1", {}, refused)
    assert database_unreachable(wrapped) is not None
    try:
        try:
            raise refused
        except psycopg.OperationalError as exc:
            raise RuntimeError("setting up failed") from exc
    except RuntimeError as outer:
        assert database_unreachable(outer) == "connection failed: refused"
    assert database_unreachable(ValueError("a bug")) is None
