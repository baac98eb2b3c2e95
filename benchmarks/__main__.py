"""Run every benchmark module in this folder (each has ``main() -> None`` and prints figures).

``python -m benchmarks`` runs them all; ``python -m benchmarks NAME ...`` runs the named ones.
A benchmark that needs PostgreSQL and cannot reach it prints one line and is skipped (the
others' figures still come); any other failure prints its traceback and the exit status is 1.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
import traceback
from pathlib import Path


def discover() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def database_unreachable(error: BaseException) -> str | None:
    """Why PostgreSQL could not be reached, if that is what ``error`` (or its cause) says."""
    import psycopg
    import sqlalchemy.exc

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, psycopg.OperationalError | sqlalchemy.exc.OperationalError):
            first_line = str(seen).strip().splitlines()[0] if str(seen).strip() else ""
            return first_line.removeprefix("(psycopg.OperationalError) ")
        seen = seen.__cause__ or seen.__context__
    return None


def run(names: list[str]) -> int:
    """Run the named benchmarks; returns how many failed (a skipped one is not a failure)."""
    failed = 0
    for name in names:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            module.main()
        except Exception as exc:  # a broken benchmark must not hide the others' figures
            reason = database_unreachable(exc)
            if reason is None:
                traceback.print_exc()
                failed += 1
            else:
                print(f"skipped: PostgreSQL is not reachable ({reason})", flush=True)
        print(f"--- {name}: {time.perf_counter() - started:.1f} s", flush=True)
    return failed


if __name__ == "__main__":
    chosen = sys.argv[1:] or discover()
    sys.exit(1 if run(chosen) else 0)
