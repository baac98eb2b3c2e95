"""`make browser` and `make espeak` (steps of `make test`) never stop or prompt on a machine
they cannot install on: no apt-get, sudo that wants a password, or a failed install."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")

pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def stub(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(0o755)


def make_browser(
    tmp_path: Path, *, uid: int, apt_get: str | None, sudo: str | None, target: str = "browser"
) -> str:
    """Run the target with only the given stubs on PATH (no chromium, no espeak-ng); returns
    its output (it must exit 0)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.log"
    stub(bin_dir, "id", f"echo {uid}")
    if apt_get is not None:
        stub(bin_dir, "apt-get", f'echo "apt-get $*" >> {calls}; {apt_get}')
    if sudo is not None:
        stub(bin_dir, "sudo", f'echo "sudo $*" >> {calls}; {sudo}')
    result = subprocess.run(
        [str(MAKE), "-s", "-C", str(ROOT), target, f"CHROMIUM={tmp_path / 'no-chromium'}"],
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    log = calls.read_text() if calls.exists() else ""
    return result.stdout + result.stderr + log


SKIPPED = "the browser tests will be skipped (or pass CHROMIUM=/path/to/chromium)"


def test_no_apt_get_one_line_and_on(tmp_path: Path) -> None:
    out = make_browser(tmp_path, uid=1000, apt_get=None, sudo="exit 0")
    assert out.splitlines() == [f"note: no apt-get to install chromium: {SKIPPED}"]


def test_sudo_wanting_a_password_is_never_asked_to_install(tmp_path: Path) -> None:
    out = make_browser(tmp_path, uid=1000, apt_get="exit 0", sudo="exit 1")
    lines = out.splitlines()
    assert lines[0] == f"note: chromium is missing (sudo apt-get install chromium): {SKIPPED}"
    # Only `sudo -n true` (never prompts) was tried; apt-get was not run.
    assert lines[1:] == ["sudo -n true"]


def test_a_failed_install_as_root_does_not_stop_the_run(tmp_path: Path) -> None:
    out = make_browser(tmp_path, uid=0, apt_get="exit 100", sudo=None)
    assert f"note: apt-get install chromium failed: {SKIPPED}" in out
    assert "apt-get update -qq" in out


def test_espeak_follows_the_same_rules(tmp_path: Path) -> None:
    out = make_browser(tmp_path, uid=1000, apt_get="exit 0", sudo="exit 1", target="espeak")
    assert out.splitlines() == [
        "note: espeak-ng is missing (sudo apt-get install espeak-ng): "
        "the text-prompt tests will be skipped",
        "sudo -n true",
    ]
