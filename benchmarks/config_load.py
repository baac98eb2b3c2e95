"""Loading callcenter.yaml: the guarded loader beside plain PyYAML, and an alias bomb.

- A large, legitimate file (5,000 agents, 500 queues): ``callcenter.config_yaml.load_yaml``
  (counts alias expansions, finds duplicate keys, bounds nesting) against its floor, PyYAML's
  ``safe_load`` of the same text. Target: the guards cost under 50 % on top of the floor.
- ``callcenter config check`` on a 7-level alias bomb (about 420 bytes that expand to 10^8
  values; before the budget it took 7.9 s and 295 MB): target under 1 s and 100 MB, one line.
Run: ``python -m benchmarks.config_load``.
"""

from __future__ import annotations

import contextlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import yaml

from benchmarks.dialplan_render import large_config
from callcenter.config import load_config
from callcenter.config_yaml import load_yaml
from callcenter.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "callcenter.yaml"
OVERHEAD_TARGET = 0.5
BOMB_SECONDS = 1.0
BOMB_MEGABYTES = 100


def alias_bomb(levels: int = 7) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def _interleaved(runs: int, floor: object, ours: object) -> tuple[list[float], list[float]]:
    """Run both jobs in turn (so a busy machine slows both alike); their timings."""
    timings: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for job, into in ((floor, timings[0]), (ours, timings[1])):
            started = time.perf_counter()
            job()  # type: ignore[operator]
            into.append(time.perf_counter() - started)
    return timings


def _seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, capture_output=True, check=False)
    return time.perf_counter() - started


def main() -> None:
    text = yaml.safe_dump(large_config(), sort_keys=False)
    floor, ours = _interleaved(3, lambda: yaml.safe_load(text), lambda: load_yaml(text, "x"))
    overhead = statistics.median(ours) / statistics.median(floor) - 1
    verdict = "OK" if overhead < OVERHEAD_TARGET else "TOO SLOW"
    print(
        f"large file ({len(text) / 1e6:.1f} MB): yaml.safe_load {statistics.median(floor):.2f} s "
        f"(best {min(floor):.2f}), load_yaml {statistics.median(ours):.2f} s "
        f"(best {min(ours):.2f}): {overhead:+.0%} [{verdict}, target < +{OVERHEAD_TARGET:.0%}]"
    )

    with tempfile.TemporaryDirectory() as folder:
        bomb = Path(folder) / "bomb.yaml"
        bomb.write_text(alias_bomb())
        # The whole `callcenter config check` process, start-up included.
        cli = str(Path(sys.executable).parent / "callcenter")
        floor_seconds = _seconds([cli, "config", "check", str(EXAMPLE)])
        started = time.perf_counter()
        result = subprocess.run(
            [cli, "config", "check", str(bomb)], capture_output=True, text=True, check=False
        )
        seconds = time.perf_counter() - started
        # Memory in this process (a child's peak RSS would count this big parent's pages).
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        with contextlib.suppress(ConfigError):
            load_config(bomb)
        traced_kb = tracemalloc.get_traced_memory()[1] / 1024
        tracemalloc.stop()
        rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    lines = result.stderr.strip().splitlines()
    ok = (
        result.returncode == 2
        and len(lines) == 1
        and seconds < BOMB_SECONDS
        and traced_kb < BOMB_MEGABYTES * 1024
    )
    print(
        f"alias bomb ({len(alias_bomb())} bytes, 7 levels): `config check` exit "
        f"{result.returncode} in {seconds:.2f} s (the whole process; the example file: "
        f"{floor_seconds:.2f} s), {len(lines)} line; loading it allocates at most "
        f"{traced_kb:.0f} KB (peak RSS +{rss_growth_mb:.0f} MB) "
        f"[{'OK' if ok else 'FAIL'}, target < {BOMB_SECONDS:.0f} s and {BOMB_MEGABYTES} MB]"
    )
    print(f"  {lines[0] if lines else '(no output)'}")


if __name__ == "__main__":
    main()
