"""``callcenter doctor``: check a live Asterisk (and our database and worker) against the config.

Exit status: 0 every check passed (or was skipped), 1 at least one failed, 2 bad config.
"""

from __future__ import annotations

import asyncio
import sys

import click

from callcenter.cli import EXIT_FAILURE, config_option, echo_json, json_option, load, maps_errors
from callcenter.doctor.local_checks import DEFAULT_WORKER_URL
from callcenter.doctor.model import Report
from callcenter.doctor.run import DoctorOptions, run_doctor


def print_report(report: Report) -> None:
    for check in report.checks:
        click.echo(check.line())
    failures = len(report.failures)
    click.echo(f"{len(report.checks)} checks, {failures} failed" if failures else "all good")


@click.command("doctor")
@config_option
@click.option(
    "--worker-url",
    default=DEFAULT_WORKER_URL,
    show_default=True,
    help="The worker's /healthz ('' to skip).",
)
@json_option
@maps_errors
def doctor(config_path: str | None, worker_url: str, as_json: bool) -> None:
    """Check ARI, AMI, the dialplan, agents' phones, sounds, the database and the worker."""
    cfg = load(config_path)
    report = asyncio.run(run_doctor(cfg, DoctorOptions(worker_url=worker_url or None)))
    if as_json:
        echo_json(report.as_dict())
    else:
        print_report(report)
    if not report.ok:
        sys.exit(EXIT_FAILURE)
