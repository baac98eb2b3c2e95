"""``callcenter demo`` in a real 80x24 terminal (a pseudo-terminal): Ctrl-C while callers talk,
Enter once the pages stay up, and the output fits 80 columns.

The keys go through the terminal's line discipline as a person's would: Ctrl-C (``\\x03``)
becomes SIGINT for the foreground process group.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import sqlite3
import struct
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

CLI = str(Path(sys.executable).with_name("callcenter"))
COLOURS = re.compile(r"\x1b\[[0-9;]*m")
CURSOR = re.compile(r"\x1b\[[0-9;?]*[A-Za-ln-z]|\r")
"""Cursor moves and erases: the live view redraws itself in place; each starts a new line."""
COLUMNS, ROWS = 80, 24


class Terminal:
    """A command running in an 80x24 pseudo-terminal."""

    def __init__(self, *args: str, cwd: Path) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: the terminal is its controlling terminal
            try:
                os.chdir(cwd)
                os.environ.pop("COLUMNS", None)
                os.environ.pop("LINES", None)
                os.environ["TERM"] = "xterm"
                os.execv(args[0], list(args))
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.raw = b""
        self.status: int | None = None

    @property
    def text(self) -> str:
        # "^C" is the terminal's echo of the key, wherever the output was (even inside a
        # character's UTF-8 bytes): not our output.
        text = COLOURS.sub("", self.raw.replace(b"^C", b"").decode("utf-8", "replace"))
        return CURSOR.sub("\n", text)

    def read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if ready:
            try:
                self.raw += os.read(self.fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                time.sleep(timeout)

    def wait_for(self, ready: Callable[[], bool], within: float, what: str) -> None:
        deadline = time.monotonic() + within
        while not ready():
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not within {within} s:\n{self.text[-3000:]}")
            self.read(0.1)

    def press(self, key: bytes) -> None:
        os.write(self.fd, key)

    def exit_status(self, within: float) -> int:
        deadline = time.monotonic() + within
        while self.status is None:
            self.read(0.1)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
            elif time.monotonic() > deadline:
                raise AssertionError(f"still running after {within} s:\n{self.text[-3000:]}")
        self.read(0.1)
        return self.status

    def kill(self) -> None:
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.status = -9
        os.close(self.fd)


def scenario(tmp_path: Path, talk_time: float) -> Path:
    path = tmp_path / "scenario.yaml"
    press = {"after": 1.0, "press": "2"}
    callers = [
        {"at": 0.5 + n, "caller_id": f"+1555010{n}", "dialled": "100", "digits": [press]}
        for n in range(3)
    ]
    # Every agent of the example has a phone (Asterisk knows every endpoint of the config).
    agents = [
        {"endpoint": f"PJSIP/100{n}", "ring_delay": 1.0, "talk_time": talk_time}
        for n in range(1, 9)
    ]
    path.write_text(yaml.safe_dump({"seed": 1, "callers": {"fixed": callers}, "agents": agents}))
    return path


def lines_too_wide(text: str) -> list[str]:
    return [line for line in text.split("\n") if len(line) > COLUMNS]


def count(db: Path, sql: str) -> int:
    if not db.is_file():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute(sql).fetchone()[0])
        except sqlite3.OperationalError:  # the tables are not there yet
            return 0


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    return tmp_path / "demo"


def demo_in_terminal(tmp_path: Path, demo_dir: Path, talk_time: float) -> Terminal:
    """``callcenter demo`` at x20 in a terminal: three callers for sales, the example's agents
    who talk ``talk_time`` simulated seconds."""
    args = ["--scenario", str(scenario(tmp_path, talk_time)), "--speed", "20"]
    return Terminal(
        CLI, "demo", *args, "--state-dir", str(demo_dir), "--web-port", "0", cwd=tmp_path
    )


def test_ctrl_c_while_callers_talk_stops_cleanly_with_the_summary_so_far(
    tmp_path: Path, demo_dir: Path
) -> None:
    # Sales' three agents answer and talk for ten minutes (30 s real at x20).
    terminal = demo_in_terminal(tmp_path, demo_dir, talk_time=600.0)
    db = demo_dir / "callcenter.db"
    try:
        answered = "select count(*) from calls where answered_at is not null"
        terminal.wait_for(
            lambda: count(db, answered) == 3,
            within=60,
            what="three callers talking",
        )
        terminal.press(b"\x03")
        status = terminal.exit_status(within=60)
    finally:
        terminal.kill()
    text = terminal.text
    assert status == 0, text[-3000:]
    assert "Ctrl-C: stopping the demo" in text
    assert re.search(r"Callers so far \(interrupted\): 3 callers: 3 hung up by Ctrl-C", text), text
    assert "KPIs per queue" in text
    for noise in ("ERROR", "WARNING", "Traceback", "Aborted"):
        assert noise not in text, text[-3000:]
    assert lines_too_wide(text) == []
    assert not re.search(r"^\s*\.\.\.\s*$", text, re.M), text
    # Every call was finished properly, and both conversations' recordings were stored.
    assert count(db, "select count(*) from calls where disposition = 'in_progress'") == 0
    assert count(db, "select count(*) from calls where disposition = 'answered'") == 3
    # No recording was cut off by the shutdown: none left behind in Asterisk unfetched (the
    # demo waits for the fetches before it closes the worker), each stored one has its file.
    # (How many there are depends on when the key was pressed: a caller hung up during the
    # consent prompt has none.)
    assert count(db, "select count(*) from recordings where storage_url is null") == 0
    stored = count(db, "select count(*) from recordings where storage_url is not null")
    assert len(list((demo_dir / "recordings").rglob("*.wav"))) == stored


def test_the_pages_stay_up_until_enter_and_the_output_fits_80_columns(
    tmp_path: Path, demo_dir: Path
) -> None:
    terminal = demo_in_terminal(tmp_path, demo_dir, talk_time=5.0)
    try:
        terminal.wait_for(
            lambda: "Ctrl-C (or Enter) to stop" in terminal.text, 60, "the stay-up line"
        )
        time.sleep(0.5)
        terminal.read(0.1)
        assert terminal.status is None  # still serving the pages
        terminal.press(b"\r")
        status = terminal.exit_status(within=30)
    finally:
        terminal.kill()
    text = terminal.text
    assert status == 0, text[-3000:]
    assert "Pages stay up at http://127.0.0.1:" in text
    assert "3 callers: 3 talked to an agent" in text
    # The live view drew its tables (queues, agents, latest calls) within 80 columns.
    assert "Latest calls (CDR)" in text and "ringing now" in text
    assert "…" not in text
    assert lines_too_wide(text) == []
    # Nor more than 24 lines: rich would cut the view with a line of "...".
    assert not re.search(r"^\s*\.\.\.\s*$", text, re.M), text
    # What to type next names the demo's config, relative to where the demo ran.
    assert re.search(r"callcenter report -c demo/callcenter.yaml --since \d{4}-\d\d-\d\d", text)
