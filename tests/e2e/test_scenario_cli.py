"""`callcenter sim` as a process: it prints where ARI and AMI listen, waits for a worker, plays
the scenario, reports, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from click.testing import CliRunner

from callcenter.asterisk.ari import AriSettings
from callcenter.cli import main
from callcenter.worker import Worker, WorkerSettings

SCENARIO = """\
seed: 5
callers:
  arrival: {rate_per_minute: 600, count: 5}
  profile: {dialled: "100", patience: 60}
"""


async def read_line_starting(stream: asyncio.StreamReader, prefix: str) -> str:
    async with asyncio.timeout(20):
        while True:
            line = (await stream.readline()).decode()
            assert line, f"the process ended before printing {prefix!r}"
            if line.startswith(prefix):
                return line.strip()


async def test_sim_plays_the_scenario_once_a_worker_connects(tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from callcenter.cli import main; main()",
        "sim",
        "--scenario",
        str(scenario),
        "--ari-port",
        "0",
        "--ami-port",
        "0",
        "--speed",
        "50",
        "--app",
        "cc-cli",
        "--password",
        "pw",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    worker = None
    try:
        ari_line = await read_line_starting(process.stdout, "ARI listening on ")
        ami_line = await read_line_starting(process.stdout, "AMI listening on ")
        assert ami_line.split()[-1].startswith("127.0.0.1:")
        url = ari_line.split()[3]
        await read_line_starting(process.stdout, "waiting for a worker")

        settings = WorkerSettings(
            ari=AriSettings(url=url, username="callcenter", password="pw", app="cc-cli"),
            http_port=None,
        )
        worker = Worker(settings)
        await worker.start()
        done = await read_line_starting(process.stdout, "scenario done: ")
        # Every caller heard hello-world and was hung up by the worker's built-in flow.
        assert done.startswith("scenario done: ended-by-system 5;")
        assert worker.metrics.calls_started._value.get() == 5
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 10)
        assert process.returncode == 0
    finally:
        if worker is not None:
            await worker.stop(grace=0.5)
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_sim_rejects_a_bad_scenario_with_the_key(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("agents: [{endpoint: PJSIP/1001, busy_probability: 3}]\n")
    result = CliRunner().invoke(main, ["sim", "--scenario", str(scenario)])
    assert result.exit_code == 2
    assert "agents.0.busy_probability" in result.output


def test_run_and_sim_have_help() -> None:
    for command in ("sim", "run"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0
        assert "Usage:" in result.output
