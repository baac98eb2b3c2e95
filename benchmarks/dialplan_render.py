"""Render Asterisk's config files for a large call center: 5,000 agents, 500 queues.

Target: rendering (context + templates, excluding building the config model) under 2 s.
Run: ``python -m benchmarks.dialplan_render``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from callcenter.config import parse_config
from callcenter.dialplan.check import check_files
from callcenter.dialplan.render import render_files

AGENTS = 5_000
QUEUES = 500
SKILLS = 100
NUMBERS = 200
TARGET_SECONDS = 2.0


def large_config() -> dict[str, Any]:
    """5,000 agents with 2 skills each out of 100; 500 queues each needing one skill."""
    skills = [f"skill{i:03d}" for i in range(SKILLS)]
    agents = [
        {
            "id": f"agent{i:05d}",
            "name": f"Agent {i:05d}",
            "endpoint": f"PJSIP/{10000 + i}",
            "skills": {skills[i % SKILLS]: 1 + i % 10, skills[(i * 7 + 3) % SKILLS]: 5},
            "sip_secret": f"sip-secret-{i:05d}-x",
        }
        for i in range(AGENTS)
    ]
    queues = {
        f"queue{q:03d}": {
            "name": f"Queue {q:03d}",
            "skills": [{"skill": skills[q % SKILLS], "min_level": 1}],
            "strategy": ["longest_idle", "least_calls", "ring_all", "round_robin"][q % 4],
        }
        for q in range(QUEUES)
    }
    return {
        "name": "Benchmark center",
        "asterisk": {
            "ari": {"password": "bench-ari-secret"},
            "ami": {"secret": "bench-ami-secret"},
        },
        "skills": skills,
        "agents": agents,
        "queues": queues,
        "ivr": {
            "numbers": {str(5_000_000 + n): "main" for n in range(NUMBERS)},
            "operator_queue": "queue000",
            "menus": {
                "main": {"type": "menu", "choices": {"1": {"queue": "queue000"}}},
            },
        },
    }


def main() -> None:
    started = time.perf_counter()
    config = parse_config(large_config(), "benchmark", env={})
    print(
        f"config model: {AGENTS} agents, {QUEUES} queues in {time.perf_counter() - started:.2f} s"
    )
    timings = []
    files: dict[str, str] = {}
    for _ in range(3):
        started = time.perf_counter()
        files = render_files(config)
        timings.append(time.perf_counter() - started)
    size = sum(len(text) for text in files.values())
    lines = sum(text.count("\n") for text in files.values())
    best, median = min(timings), statistics.median(timings)
    verdict = "OK" if median < TARGET_SECONDS else "TOO SLOW"
    print(
        f"render: median {median:.3f} s, best {best:.3f} s over {len(timings)} runs "
        f"({len(files)} files, {lines:,} lines, {size / 1e6:.1f} MB) "
        f"target < {TARGET_SECONDS:.0f} s: {verdict}"
    )
    started = time.perf_counter()
    issues = check_files(files)
    print(f"lint: {len(issues)} issues in {time.perf_counter() - started:.3f} s")
    for name in sorted(files):
        print(f"  {name}: {files[name].count(chr(10)):,} lines")


if __name__ == "__main__":
    main()
