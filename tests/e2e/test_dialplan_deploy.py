"""`callcenter dialplan deploy/diff/rollback` end to end against the simulated AMI server.

The server runs in a thread with its own event loop, so the CLI (which runs asyncio.run) is
invoked exactly as a person would, over a real TCP AMI connection with our AmiClient.
"""

from __future__ import annotations

import asyncio
import json
import math
import struct
import threading
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from callcenter.asterisk.ami import AmiClient
from callcenter.cli import main
from callcenter.config import parse_config
from callcenter.dialplan import deploy as deployment
from callcenter.dialplan.deploy import DeployError
from callcenter.dialplan.render import CORE_FILES, render_files
from callcenter.sim.ami_server import AmiServer, CommandResult, start_ami_server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"
SECRET = "ami-Secret-42"


class ThreadedAmi:
    """The simulated AMI on its own loop in a thread; records every CLI command it runs."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.commands: list[str] = []
        self.server: AmiServer = self.call(start_ami_server(secret=SECRET))
        # Built-in reloadable names of Asterisk's loader (main/loader.c reload_classes).
        self.server.command_results["module reload http"] = CommandResult(
            ["Module 'http' reloaded successfully."]
        )
        original = self.server.cli_result

        def recording(command: str) -> CommandResult:
            self.commands.append(command)
            return original(command)

        self.server.cli_result = recording  # type: ignore[method-assign]

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def close(self) -> None:
        self.call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def ami() -> Iterator[ThreadedAmi]:
    server = ThreadedAmi()
    yield server
    server.close()


def write_config(tmp_path: Path, port: int, **changes: Any) -> Path:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    data["asterisk"]["ari"]["password"] = "ari-Secret-42"
    data["asterisk"]["ami"].update(port=port, secret=SECRET)
    data["asterisk"]["config_dir"] = str(tmp_path / "etc")
    data["database"]["url"] = "sqlite:///callcenter.db"
    for agent in data["agents"]:
        agent["sip_secret"] = f"sip-{agent['id']}-Secret"
    # Recorded prompts (no text-to-speech needed here), installed into a sounds dir of ours.
    tone = tmp_path / "tone.wav"
    write_tone(tone)
    data["prompts"] = {prompt_id: {"file": str(tone)} for prompt_id in data["prompts"]}
    data["asterisk"]["sounds_dir"] = str(tmp_path / "sounds")
    (tmp_path / "sounds").mkdir(exist_ok=True)
    if "ring_timeout" in changes:
        data["queues"]["support"]["ring_timeout"] = changes["ring_timeout"]
    if "agent_name" in changes:
        data["agents"][0]["name"] = changes["agent_name"]
    path = tmp_path / "callcenter.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / "etc").mkdir(exist_ok=True)
    return path


def write_tone(path: Path, seconds: float = 0.2) -> None:
    """A 440 Hz tone as a 16 kHz 16-bit WAV (deploy converts it to 8 kHz)."""
    rate = 16000
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n / rate)))
        for n in range(int(rate * seconds))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


def run(*args: str) -> Result:
    """``callcenter dialplan ARGS``; a deploy skips the doctor (no ARI here) and builds its
    prompts beside the config file."""
    extra: list[str] = []
    if args and args[0] == "deploy" and "-c" in args:
        config = Path(args[args.index("-c") + 1])
        extra = ["--build-dir", str(config.parent / "prompts-build")]
        if "--with-doctor" not in args:
            extra.append("--no-doctor")
    return CliRunner().invoke(
        main, ["dialplan", *[a for a in args if a != "--with-doctor"], *extra]
    )


def deployed(tmp_path: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((tmp_path / "etc").glob("*.conf"))}


def test_first_deploy_writes_every_file_and_reloads_each_module(
    ami: ThreadedAmi, tmp_path: Path
) -> None:
    config = write_config(tmp_path, ami.server.port)
    assert run("diff", "-c", str(config)).exit_code == 1
    dry = run("deploy", "-c", str(config), "--dry-run")
    assert dry.exit_code == 0
    assert "would run: dialplan reload" in dry.output
    assert deployed(tmp_path) == {} and ami.commands == []

    result = run("deploy", "-c", str(config))

    assert result.exit_code == 0, result.output
    assert sorted(deployed(tmp_path)) == sorted(CORE_FILES)
    assert ami.commands == [
        "module reload sounds",  # our prompts went in first: ARI's /sounds re-reads them
        "module reload res_musiconhold.so",
        "module reload app_queue.so",
        "module reload res_pjsip.so",
        "module reload res_ari.so",
        "module reload http",
        "dialplan reload",
        "module reload manager",
    ]
    assert "Dialplan reloaded." in result.output
    # Nothing left to do: diff is clean (exit 0) and a second deploy reloads nothing.
    assert run("diff", "-c", str(config)).exit_code == 0
    ami.commands.clear()
    again = run("deploy", "-c", str(config))
    assert again.exit_code == 0 and "nothing to deploy" in again.output
    assert ami.commands == []
    # No temp files left behind; the backup says no file existed before.
    assert not list((tmp_path / "etc").glob(".*.tmp"))
    (backup,) = deployment.list_backups(tmp_path / "etc")
    assert set(deployment.read_manifest(backup)["files"].values()) == {False}


def test_only_changed_files_are_reloaded(ami: ThreadedAmi, tmp_path: Path) -> None:
    config = write_config(tmp_path, ami.server.port)
    assert run("deploy", "-c", str(config)).exit_code == 0
    ami.commands.clear()
    write_config(tmp_path, ami.server.port, ring_timeout=25)

    diff = run("diff", "-c", str(config))
    assert diff.exit_code == 1
    assert "-timeout = 20\n+timeout = 25" in diff.output
    result = run("deploy", "-c", str(config))

    assert result.exit_code == 0, result.output
    assert ami.commands == ["module reload app_queue.so"]
    assert "timeout = 25" in deployed(tmp_path)["queues.conf"]


def test_a_failed_reload_rolls_back_and_reloads_the_old_files(
    ami: ThreadedAmi, tmp_path: Path
) -> None:
    config = write_config(tmp_path, ami.server.port)
    assert run("deploy", "-c", str(config)).exit_code == 0
    before = deployed(tmp_path)
    ami.commands.clear()
    write_config(tmp_path, ami.server.port, ring_timeout=25, agent_name="Alice Smith")
    failed = CommandResult.module_reload_failed("app_queue.so")
    ami.server.command_results["module reload app_queue.so"] = failed

    result = run("deploy", "-c", str(config))

    assert result.exit_code == 1
    assert "reported a reload failure" in result.output
    assert "rolled back" in result.output
    assert deployed(tmp_path) == before
    changed = [
        "module reload app_queue.so",
        "module reload res_pjsip.so",
        "dialplan reload",
    ]
    assert ami.commands == changed + changed  # the new files, then the restored ones
    # Once Asterisk takes the config again, deploying works and `diff` is clean.
    del ami.server.command_results["module reload app_queue.so"]
    assert run("deploy", "-c", str(config)).exit_code == 0
    assert run("diff", "-c", str(config)).exit_code == 0


def test_rollback_restores_the_newest_backup_or_a_named_one(
    ami: ThreadedAmi, tmp_path: Path
) -> None:
    config = write_config(tmp_path, ami.server.port)
    assert run("deploy", "-c", str(config)).exit_code == 0
    first = deployed(tmp_path)
    write_config(tmp_path, ami.server.port, ring_timeout=25)
    assert run("deploy", "-c", str(config)).exit_code == 0
    ami.commands.clear()

    result = run("rollback", "-c", str(config))

    assert result.exit_code == 0, result.output
    assert deployed(tmp_path) == first
    assert ami.commands == ["module reload app_queue.so"]
    listing = run("rollback", "-c", str(config), "--list")
    assert listing.output.count("\n") == 3  # deploy, deploy, rollback safety copy
    # Roll back the rollback: the safety copy holds the timeout = 25 files.
    safety = deployment.list_backups(tmp_path / "etc")[-1]
    assert "rollback to" in json.dumps(deployment.read_manifest(safety))
    assert run("rollback", "-c", str(config), "--to", safety.name).exit_code == 0
    assert "timeout = 25" in deployed(tmp_path)["queues.conf"]
    unknown = run("rollback", "-c", str(config), "--to", "nope")
    assert unknown.exit_code == 1 and "no backup 'nope'" in unknown.output


def test_deploy_refuses_placeholders_and_unreachable_ami(tmp_path: Path) -> None:
    config = write_config(tmp_path, 1)
    data = yaml.safe_load(config.read_text())
    data["asterisk"]["ami"]["secret"] = "change-me-ami"
    config.write_text(yaml.safe_dump(data))
    refused = run("deploy", "-c", str(config))
    assert refused.exit_code == 2
    assert "asterisk.ami.secret" in refused.output
    assert deployed(tmp_path) == {}


async def test_an_error_response_to_a_reload_also_rolls_back(tmp_path: Path) -> None:
    server = await start_ami_server(secret=SECRET)
    server.command_results["module reload http"] = CommandResult(["Module 'http' reloaded."])
    server.command_results["dialplan reload"] = CommandResult(["Dialplan reload failed"], False)
    config_dir = tmp_path / "etc"
    config_dir.mkdir()
    (config_dir / "extensions.conf").write_text("; what ops had before\n[default]\n")
    cfg = parse_config(yaml.safe_load(write_config(tmp_path, server.port).read_text()), env={})
    client = AmiClient(
        "127.0.0.1", server.port, "callcenter", SECRET, keepalive_interval=None, events=False
    )
    await client.connect()
    try:
        with pytest.raises(DeployError, match="dialplan reload") as caught:
            await deployment.deploy(render_files(cfg), config_dir, client)
    finally:
        await client.close()
        await server.close()
    assert (config_dir / "extensions.conf").read_text() == "; what ops had before\n[default]\n"
    # Files that did not exist before the deploy are removed again.
    assert sorted(p.name for p in config_dir.glob("*.conf")) == ["extensions.conf"]
    assert "rolled back" in caught.value.message


# --- our prompts --------------------------------------------------------------------------------


def installed_prompts(tmp_path: Path) -> list[str]:
    folder = tmp_path / "sounds" / "en" / "callcenter"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_deploy_installs_prompts_and_removes_the_unused_ones(
    ami: ThreadedAmi, tmp_path: Path
) -> None:
    config = write_config(tmp_path, ami.server.port)
    result = run("deploy", "-c", str(config))
    assert result.exit_code == 0, result.output
    prompts = yaml.safe_load(config.read_text())["prompts"]
    assert installed_prompts(tmp_path) == sorted(
        f"{prompt_id}{suffix}" for prompt_id in prompts for suffix in (".sln", ".ulaw", ".wav")
    )
    welcome = tmp_path / "sounds" / "en" / "callcenter" / "welcome.wav"
    with wave.open(str(welcome)) as played:  # what Asterisk reads: 8 kHz mono 16-bit
        assert (played.getframerate(), played.getnchannels(), played.getsampwidth()) == (8000, 1, 2)
        assert played.getnframes() == 1600  # the 0.2 s tone
    assert f"prompts: wrote {3 * len(prompts)}, removed 0 files" in result.output
    assert "module reload sounds: Module 'sounds' reloaded successfully." in result.output

    # Nothing changed: nothing written, Asterisk's sound index is left alone.
    ami.commands.clear()
    again = run("deploy", "-c", str(config))
    assert again.exit_code == 0 and "prompts: " in again.output and "is up to date" in again.output
    assert ami.commands == []

    # A prompt the config no longer has (nor plays) is removed from Asterisk's sounds.
    data = yaml.safe_load(config.read_text())
    del data["prompts"]["shipped"]
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    third = run("deploy", "-c", str(config))
    assert third.exit_code == 0, third.output
    assert "prompts: wrote 0, removed 3 files" in third.output
    assert not [name for name in installed_prompts(tmp_path) if name.startswith("shipped.")]
    assert ami.commands == ["module reload sounds"]


def test_deploy_refuses_when_its_checks_fail_and_goes_ahead_when_they_pass(
    ami: ThreadedAmi, tmp_path: Path
) -> None:
    from callcenter.db.engine import upgrade
    from callcenter.sim.ari_server import start_ari_server
    from callcenter.sim.pbx import SimulatedAsterisk

    pbx = SimulatedAsterisk()
    ari = ami.call(start_ari_server(pbx, "127.0.0.1", 0, "callcenter", "ari-Secret-42"))
    try:
        config = write_config(tmp_path, ami.server.port)
        data = yaml.safe_load(config.read_text())
        data["asterisk"]["ari"]["url"] = ari.url
        data["database"]["url"] = f"sqlite:///{tmp_path / 'cc.db'}"
        config.write_text(yaml.safe_dump(data, sort_keys=False))

        refused = run("deploy", "-c", str(config), "--with-doctor")
        assert refused.exit_code == 1
        assert "✗ database: migrations: at base" in refused.output
        assert "refusing to deploy: 1 check(s) failed" in refused.output
        assert "--no-doctor" in refused.output
        assert deployed(tmp_path) == {} and installed_prompts(tmp_path) == []
        assert ami.commands == ["manager show user callcenter"]  # the check; no reload

        upgrade(data["database"]["url"])
        result = run("deploy", "-c", str(config), "--with-doctor")
        assert result.exit_code == 0, result.output
        assert sorted(deployed(tmp_path)) == sorted(CORE_FILES)
        assert installed_prompts(tmp_path)
    finally:
        ami.call(ari.close())
        ami.call(pbx.close())
