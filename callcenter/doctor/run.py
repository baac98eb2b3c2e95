"""Run every doctor check in order; each is bounded by the config's request time-out."""

from __future__ import annotations

from dataclasses import dataclass

from callcenter.asterisk.ari_probe import AriProbe
from callcenter.config import CallCenterConfig
from callcenter.doctor import ami_checks
from callcenter.doctor.ari_checks import (
    check_ari,
    check_endpoints,
    check_recording_spool,
    check_sounds,
    skipped_before_deploy,
)
from callcenter.doctor.local_checks import DEFAULT_WORKER_URL, check_database, check_worker
from callcenter.doctor.model import Report


@dataclass(frozen=True)
class DoctorOptions:
    worker_url: str | None = DEFAULT_WORKER_URL
    """Where the worker's /healthz is (None: do not ask)."""
    before_deploy: bool = False
    """Only what a deploy relies on and cannot fix: the dialplan, phones, our prompts, the
    app and the worker are checked after it, by ``callcenter doctor``."""


async def run_doctor(config: CallCenterConfig, options: DoctorOptions | None = None) -> Report:
    """Every check, one :class:`~callcenter.doctor.model.Check` each, in a fixed order."""
    options = options or DoctorOptions()
    full = not options.before_deploy
    timeout = config.asterisk.request_timeout
    report = Report()
    ari = config.asterisk.ari
    probe = AriProbe(ari.url, ari.username, ari.password, timeout=timeout)
    try:
        ari_checks = await check_ari(probe, config, app=full)
        report.checks.extend(ari_checks)
        # Sounds need ARI to answer us; a missing app or another version does not stop that.
        ari_ok = all(c.ok for c in ari_checks if c.name in ("reachable", "user"))
        client, login = await ami_checks.connect(config)
        report.checks.append(login)
        try:
            if client is not None:
                report.checks.append(await ami_checks.check_permissions(client, config))
                if full:
                    report.checks.extend(await ami_checks.check_dialplan(client, config))
            if not full:
                report.checks.append(skipped_before_deploy("dialplan", "numbers"))
        finally:
            await ami_checks.close(client)
        if not full:
            report.checks.append(skipped_before_deploy("agents", "phones"))
        elif ari_ok:
            report.checks.append(await check_endpoints(probe, config))
        if ari_ok:
            report.checks.append(await check_sounds(probe, config, prompts=full))
            report.checks.append(await check_recording_spool(probe, config))
    finally:
        await probe.close()
    report.checks.extend(await check_database(config))
    if full:
        report.checks.append(await check_worker(options.worker_url, timeout))
    return report
