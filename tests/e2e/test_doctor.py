"""``callcenter doctor`` against the simulated Asterisk 22: every check passing, then failing.

The healthy set-up is what a deploy leaves behind: the example config's extensions.conf loaded
into the simulated AMI, its prompts installed as sounds, every agent's phone registered, a
real worker connected to the app (its /healthz served), a migrated SQLite database.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from callcenter.cli import main
from callcenter.config import CallCenterConfig, parse_config
from callcenter.db.engine import upgrade
from callcenter.dialplan.render import render_files
from callcenter.doctor.model import Check, Report
from callcenter.doctor.run import DoctorOptions, run_doctor
from callcenter.sim.ami_server import AmiServer, start_ami_server
from callcenter.sim.ari_server import AriServer, start_ari_server
from callcenter.sim.extensions_conf import parse_extensions_conf
from callcenter.sim.pbx import EndpointBehaviour, SimulatedAsterisk
from callcenter.sim.sounds import install_prompts
from callcenter.worker.app import Worker, WorkerSettings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
ARI_PASSWORD = "doctor-ari"
AMI_SECRET = "doctor-ami"


@dataclass
class Sim:
    pbx: SimulatedAsterisk
    ari: AriServer
    ami: AmiServer
    tmp: Path

    def config(self, **changes: Any) -> CallCenterConfig:
        """The example wired to this simulated Asterisk, with ``changes`` (dotted keys)."""
        raw = yaml.safe_load(EXAMPLE.read_text())
        raw["asterisk"]["ari"].update(url=self.ari.url, password=ARI_PASSWORD)
        raw["asterisk"]["ami"].update(port=self.ami.port, secret=AMI_SECRET)
        raw["asterisk"]["request_timeout"] = 3.0
        raw["database"]["url"] = f"sqlite:///{self.tmp / 'doctor.db'}"
        for dotted, value in changes.items():
            *parents, last = dotted.split(".")
            node = raw
            for part in parents:
                node = node[part]
            node[last] = value
        return parse_config(raw, "callcenter.yaml", env={})


def deployed(sim: Sim, config: CallCenterConfig) -> None:
    """What `dialplan deploy` and registered phones leave on the Asterisk."""
    files = render_files(config, allow_insecure_defaults=True)
    sim.ami.extensions = parse_extensions_conf(files["extensions.conf"])
    install_prompts(sim.pbx, config)
    for agent in config.agents:
        sim.pbx.register_endpoint(
            "PJSIP", agent.endpoint.removeprefix("PJSIP/"), EndpointBehaviour.answer_after(1.0)
        )


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Sim]:
    pbx = SimulatedAsterisk(speed=20.0, recordings_dir=tmp_path / "recordings")
    ari = await start_ari_server(pbx, "127.0.0.1", 0, "callcenter", ARI_PASSWORD)
    ami = await start_ami_server(pbx, "127.0.0.1", 0, "callcenter", AMI_SECRET)
    yield Sim(pbx, ari, ami, tmp_path)
    await ami.close()
    await ari.close()
    await pbx.close()


@pytest.fixture
async def healthy(sim: Sim) -> AsyncIterator[tuple[Sim, CallCenterConfig, str]]:
    """Everything in place; yields the sim, the config and the worker's /healthz URL."""
    config = sim.config()
    deployed(sim, config)
    upgrade(config.database.url)
    worker = Worker(WorkerSettings.from_config(config, http_port=0))
    await worker.start()
    await worker.ari.wait_connected(within=10)
    yield sim, config, f"http://127.0.0.1:{worker.http_port}/healthz"
    await worker.stop(grace=0.5)


async def doctor(config: CallCenterConfig, worker_url: str | None = None) -> Report:
    return await run_doctor(config, DoctorOptions(worker_url=worker_url))


def check(report: Report, area: str, name: str) -> Check:
    found = [c for c in report.checks if c.area == area and c.name == name]
    assert found, f"no check {area}: {name} in {[c.line() for c in report.checks]}"
    return found[0]


def failing(report: Report) -> list[str]:
    return [f"{c.area}: {c.name}" for c in report.failures]


# --- all good ---------------------------------------------------------------------------------


async def test_every_check_passes_on_a_deployed_asterisk(
    healthy: tuple[Sim, CallCenterConfig, str],
) -> None:
    _, config, worker_url = healthy
    report = await doctor(config, worker_url)
    assert report.ok, [c.line() for c in report.failures]
    assert [c.status for c in report.checks] == ["ok"] * len(report.checks)
    assert check(report, "ARI", "version").detail == "Asterisk 22.10.1"
    assert "'callcenter' registered" in check(report, "ARI", "app").detail
    assert check(report, "AMI", "permissions").status == "ok"
    for number in config.ivr.numbers:
        assert (
            "Stasis(callcenter), fallback queue"
            in check(report, "dialplan", f"number {number}").detail
        )
    assert check(report, "agents", "phones").detail == "all 8 registered and reachable"
    sounds = check(report, "sounds", "on Asterisk")
    assert sounds.detail.startswith("all ") and "sounds and prompts we play exist" in sounds.detail
    assert check(report, "database", "migrations").detail.startswith("at head")
    assert "answers 200 (ok)" in check(report, "worker", "healthz").detail
    assert check(report, "recordings", "spool").status == "ok"


async def test_the_cli_prints_one_line_per_check_and_json(
    healthy: tuple[Sim, CallCenterConfig, str], tmp_path: Path
) -> None:
    sim, config, worker_url = healthy
    path = tmp_path / "callcenter.yaml"
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["asterisk"] = json.loads(config.asterisk.model_dump_json())
    raw["database"]["url"] = config.database.url
    path.write_text(yaml.safe_dump(raw))
    runner = CliRunner()
    # doctor runs its own event loop: run the CLI in a thread while the sim serves this one.
    import asyncio

    result = await asyncio.to_thread(
        runner.invoke, main, ["doctor", "-c", str(path), "--worker-url", worker_url]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"✓ ARI: reachable: {config.asterisk.ari.url}"
    assert lines[-1] == "all good"
    assert all(line.startswith("✓ ") for line in lines[:-1])
    result = await asyncio.to_thread(
        runner.invoke, main, ["doctor", "-c", str(path), "--worker-url", worker_url, "--json"]
    )
    data = json.loads(result.output)
    assert data["ok"] is True and {c["status"] for c in data["checks"]} == {"ok"}
    sim.pbx.sounds.pop("callcenter/welcome")
    result = await asyncio.to_thread(
        runner.invoke, main, ["doctor", "-c", str(path), "--worker-url", worker_url]
    )
    assert result.exit_code == 1
    assert "✗ sounds: on Asterisk: 1 of " in result.output
    assert "    fix: install our prompts: callcenter dialplan deploy" in result.output
    assert result.output.splitlines()[-1].endswith("checks, 1 failed")


# --- ARI --------------------------------------------------------------------------------------


async def test_ari_unreachable(sim: Sim) -> None:
    config = sim.config(**{"asterisk.ari.url": "http://127.0.0.1:9/"})
    deployed(sim, config)
    report = await doctor(config)
    reachable = check(report, "ARI", "reachable")
    assert reachable.status == "fail"
    assert reachable.detail.startswith("ARI at http://127.0.0.1:9/ unreachable")
    assert "http.conf" in (reachable.fix or "")


async def test_ari_user_refused(sim: Sim) -> None:
    config = sim.config(**{"asterisk.ari.password": "wrong"})
    report = await doctor(config)
    user = check(report, "ARI", "user")
    assert user.status == "fail"
    assert user.detail == "user 'callcenter' refused: Authentication required"
    assert "ari.conf" in (user.fix or "")


async def test_ari_version_other_than_22(sim: Sim) -> None:
    sim.pbx.version = "20.11.0"  # type: ignore[misc]
    report = await doctor(sim.config())
    version = check(report, "ARI", "version")
    assert (version.status, version.detail) == ("fail", "Asterisk 20.11.0")


async def test_ari_app_without_a_worker(sim: Sim) -> None:
    config = sim.config()
    deployed(sim, config)
    report = await doctor(config, "http://127.0.0.1:9/healthz")
    app = check(report, "ARI", "app")
    assert app.status == "fail"
    assert app.detail.startswith("no worker is connected to app 'callcenter'")
    assert app.fix is not None and "callcenter run" in app.fix
    worker = check(report, "worker", "healthz")
    assert worker.status == "skip" and "not running here" in worker.detail


# --- AMI --------------------------------------------------------------------------------------


async def test_ami_login_refused(sim: Sim) -> None:
    report = await doctor(sim.config(**{"asterisk.ami.secret": "wrong"}))
    login = check(report, "AMI", "login")
    assert login.status == "fail"
    assert login.detail.startswith("user 'callcenter' refused")
    assert "manager.conf" in (login.fix or "")


async def test_ami_unreachable(sim: Sim) -> None:
    report = await doctor(sim.config(**{"asterisk.ami.port": 9}))
    login = check(report, "AMI", "login")
    assert login.status == "fail" and "127.0.0.1:9" in login.detail


async def test_ami_read_and_write_classes(sim: Sim) -> None:
    sim.ami.read_perm = sim.ami.read_perm - {"dtmf"}
    sim.ami.write_perm = sim.ami.write_perm - {"originate"}
    report = await doctor(sim.config())
    permissions = check(report, "AMI", "permissions")
    assert permissions.status == "fail"
    assert permissions.detail == "read lacks dtmf; write lacks originate"
    assert "read = agent,call,cdr,dialplan,dtmf,reporting,system,user" in (permissions.fix or "")


async def test_ami_user_who_may_not_run_commands(sim: Sim) -> None:
    sim.ami.write_perm = sim.ami.write_perm - {"command"}
    report = await doctor(sim.config())
    permissions = check(report, "AMI", "permissions")
    assert permissions.status == "fail"
    assert permissions.detail == "'callcenter' may not run CLI commands"


# --- dialplan ---------------------------------------------------------------------------------


async def test_a_number_missing_from_the_trunk_context(sim: Sim) -> None:
    config = sim.config()
    deployed(sim, config)
    files = render_files(config, allow_insecure_defaults=True)
    text = files["extensions.conf"].replace("exten => +441632960000,", "exten => +441632960001,")
    sim.ami.extensions = parse_extensions_conf(text)
    report = await doctor(config)
    assert check(report, "dialplan", "number 100").status == "ok"
    missing = check(report, "dialplan", "number +441632960000")
    assert missing.status == "fail"
    assert missing.detail == ("There is no existence of +441632960000@callcenter-inbound extension")
    assert "context = callcenter-inbound" in (missing.fix or "")


async def test_a_number_without_stasis_or_fallback(sim: Sim) -> None:
    config = sim.config()
    deployed(sim, config)
    text = render_files(config, allow_insecure_defaults=True)["extensions.conf"]
    text = text.replace(" same => n,Stasis(callcenter,inbound,100)", " same => n,Answer()")
    text = text.replace(
        ' same => n,GotoIf($["${STASISSTATUS}" = "FAILED"]?callcenter-fallback,s,1)\n'
        " same => n,Hangup()\nexten => +441632960000,",
        " same => n,Hangup()\nexten => +441632960000,",
    )
    text = text.replace(
        ' same => n,GotoIf($["${STASISSTATUS}" = "FAILED"]?callcenter-fallback,s,1)', ""
    )
    sim.ami.extensions = parse_extensions_conf(text)
    report = await doctor(config)
    no_stasis = check(report, "dialplan", "number 100")
    assert no_stasis.status == "fail"
    assert no_stasis.detail.startswith("does not enter Stasis(callcenter): NoOp(")
    no_fallback = check(report, "dialplan", "number +441632960000")
    assert no_fallback.status == "fail"
    assert "has no fallback to callcenter-fallback" in no_fallback.detail


# --- agents' phones ---------------------------------------------------------------------------


async def test_phones_not_registered(sim: Sim) -> None:
    config = sim.config()
    deployed(sim, config)
    sim.pbx.endpoints.pop("PJSIP/1002")
    sim.pbx.register_endpoint("PJSIP", "1003", EndpointBehaviour.answer_after(1.0), online=False)
    report = await doctor(config)
    phones = check(report, "agents", "phones")
    assert phones.status == "fail"
    assert phones.detail == (
        "bob (PJSIP/1002): no such endpoint; "
        "carla (PJSIP/1003): offline (not registered, or not answering qualify)"
    )


async def test_a_phone_that_stopped_answering_qualify(sim: Sim) -> None:
    # A registered phone that stops answering OPTIONS goes offline (README: its agent becomes
    # Unavailable); the check reads ARI's endpoint state, as AMI's PJSIPShowEndpoints needs the
    # `system` write class that our manager.conf does not grant.
    config = sim.config()
    deployed(sim, config)
    report = await doctor(config)
    assert check(report, "agents", "phones").status == "ok"
    erin = sim.pbx.endpoints["PJSIP/1005"]
    sim.pbx.set_endpoint_online(erin, False)
    report = await doctor(config)
    phones = check(report, "agents", "phones")
    assert phones.status == "fail"
    assert phones.detail == (
        "erin (PJSIP/1005): offline (not registered, or not answering qualify)"
    )
    assert "sip_secret" in (phones.fix or "")


# --- recordings ------------------------------------------------------------------------------


async def test_an_asterisk_without_its_recording_spool(sim: Sim) -> None:
    # Seen on a real Asterisk 22.10.1 whose astspooldir/recording was missing: GET
    # /recordings/stored answered 500 "Allocation failed" and every bridge record 500.
    config = sim.config()
    deployed(sim, config)
    shutil.rmtree(sim.pbx.recordings_dir)
    report = await doctor(config)
    spool = check(report, "recordings", "spool")
    assert spool.status == "fail"
    assert spool.detail == "GET /recordings/stored answered 500 Allocation failed"
    assert "/var/spool/asterisk/recording" in (spool.fix or "")


# --- sounds -----------------------------------------------------------------------------------


async def test_missing_prompt_and_core_sound(sim: Sim) -> None:
    config = sim.config()
    deployed(sim, config)
    sim.pbx.sounds.pop("callcenter/welcome")
    sim.pbx.sounds.pop("queue-thankyou")
    report = await doctor(config)
    sounds = check(report, "sounds", "on Asterisk")
    assert sounds.status == "fail"
    assert "callcenter/welcome at ivr.menus.main.prompts[0]" in sounds.detail
    assert "queue-thankyou at queues.sales.entry_prompt" in sounds.detail
    assert sounds.detail.startswith("2 of ")
    assert "asterisk-core-sounds-en" in (sounds.fix or "")
    assert "callcenter dialplan deploy" in (sounds.fix or "")


async def test_a_prompt_installed_in_another_language(sim: Sim) -> None:
    config = sim.config(**{"prompts.welcome": {"text": "Bienvenue.", "language": "fr"}})
    deployed(sim, config)
    sim.pbx.add_sound("callcenter/welcome", 1.0)  # an old English one still there
    report = await doctor(config)
    assert check(report, "sounds", "on Asterisk").status == "ok"
    sim.pbx.sound_languages.pop("callcenter/welcome")
    report = await doctor(config)
    sounds = check(report, "sounds", "on Asterisk")
    assert sounds.status == "fail" and "callcenter/welcome (fr) at" in sounds.detail


# --- database and worker ----------------------------------------------------------------------


async def test_database_not_migrated_and_unreachable(sim: Sim, tmp_path: Path) -> None:
    config = sim.config()
    report = await doctor(config)
    assert check(report, "database", "reachable").status == "ok"
    migrations = check(report, "database", "migrations")
    assert migrations.status == "fail"
    assert migrations.detail.startswith("at base, head is ")
    assert migrations.fix == "callcenter db upgrade"
    config = sim.config(**{"database.url": f"sqlite:///{tmp_path / 'no' / 'such' / 'x.db'}"})
    reachable = check(await doctor(config), "database", "reachable")
    assert reachable.status == "fail" and reachable.detail.startswith("cannot connect: ")


async def test_worker_that_is_not_connected_to_ari(sim: Sim) -> None:
    config = sim.config()
    wrong = sim.config(**{"asterisk.ari.password": "wrong"})
    worker = Worker(WorkerSettings.from_config(wrong, http_port=0))
    await worker.start()
    try:
        report = await doctor(config, f"http://127.0.0.1:{worker.http_port}/healthz")
    finally:
        await worker.stop(grace=0.5)
    healthz = check(report, "worker", "healthz")
    assert healthz.status == "fail"
    assert "answers 503 (unavailable)" in healthz.detail


# --- before a deploy --------------------------------------------------------------------------


async def test_before_a_deploy_only_what_the_deploy_cannot_fix_is_checked(sim: Sim) -> None:
    config = sim.config()  # nothing deployed: no dialplan, no prompts, no phones, no worker
    upgrade(config.database.url)
    report = await run_doctor(config, DoctorOptions(before_deploy=True, worker_url=None))
    assert report.ok, [c.line() for c in report.failures]
    assert check(report, "dialplan", "numbers").status == "skip"
    assert check(report, "agents", "phones").status == "skip"
    assert "core sounds" in check(report, "sounds", "on Asterisk").detail
    assert not [c for c in report.checks if c.area == "worker" or c.name == "app"]
    sim.pbx.sounds.pop("queue-thankyou")
    report = await run_doctor(config, DoctorOptions(before_deploy=True, worker_url=None))
    assert failing(report) == ["sounds: on Asterisk"]
