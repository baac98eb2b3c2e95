"""Run every benchmark module in this folder (each has ``main() -> None`` and prints figures).

``python -m benchmarks`` runs them all; ``python -m benchmarks NAME ...`` runs the named ones.
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


def run(names: list[str]) -> int:
    failed = 0
    for name in names:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            module.main()
        except Exception:  # a broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed += 1
        print(f"--- {name}: {time.perf_counter() - started:.1f} s", flush=True)
    return failed


if __name__ == "__main__":
    chosen = sys.argv[1:] or discover()
    sys.exit(1 if run(chosen) else 0)
