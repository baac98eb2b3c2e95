"""CLI tables fit the terminal: whole columns in order of use, a note naming those left out."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import yaml
from click.testing import CliRunner
from rich.console import Console

from callcenter.cdr.record import CallRecordBuilder
from callcenter.cdr.store import CdrStore
from callcenter.cli import main
from callcenter.cli_tables import fit_columns, print_table
from callcenter.db.engine import upgrade

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "callcenter.yaml"


def test_columns_that_do_not_fit_are_left_out_whole_and_named() -> None:
    rows = [{"a": "x" * 30, "b": "y" * 30, "c": "z" * 30}]
    shown, left_out, folds = fit_columns(rows, ["a", "b", "c"], {}, 80)
    assert (shown, left_out, folds) == (["a", "b"], ["c"], False)
    out = io.StringIO()
    print_table(rows, ["a", "b", "c"], console=Console(file=out, width=80), more="--csv")
    lines = out.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "x" * 30 in out.getvalue() and "y" * 30 in out.getvalue()
    assert lines[-1] == "(1 more column at a wider terminal or with --csv: c)"


def test_a_long_last_column_folds_instead() -> None:
    rows = [{"seq": 1, "detail": "d" * 200}]
    shown, left_out, folds = fit_columns(rows, ["seq", "detail"], {}, 80)
    assert (shown, left_out, folds) == (["seq", "detail"], [], True)
    out = io.StringIO()
    print_table(rows, ["seq", "detail"], console=Console(file=out, width=80))
    assert all(len(line) <= 80 for line in out.getvalue().splitlines())
    assert out.getvalue().count("d") == 200 + 1  # folded, not cut (and the header's "d")


def test_report_at_80_columns_shows_whole_headers_and_numbers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cc.db'}"
    upgrade(url)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    record = CallRecordBuilder("c1", t0, caller_number="+15550001", dialled_number="100")
    record.queue_entered("sales", t0)
    leg = record.leg_ringing("alice", "PJSIP/1001", at=t0 + dt.timedelta(seconds=10))
    record.leg_answered(leg, t0 + dt.timedelta(seconds=12))
    record.ended(t0 + dt.timedelta(seconds=72), side="caller", cause=16)
    store = CdrStore(url)
    store.write(
        [{"table": "calls", "row": record.call_row()}]
        + [{"table": "call_legs", "row": row} for row in record.leg_rows()]
    )
    store.dispose()
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw["database"] = {"url": url, "spool_dir": str(tmp_path / "spool")}
    config = tmp_path / "cc.yaml"
    config.write_text(yaml.safe_dump(raw))
    for width in (80, 200):
        result = CliRunner().invoke(
            main, ["report", "-c", str(config)], env={"COLUMNS": str(width)}, terminal_width=width
        )
        assert result.exit_code == 0, result.output
        lines = result.output.splitlines()
        assert all(len(line) <= width for line in lines), result.output
        header = next(line for line in lines if "offered" in line)
        for label in ("group", "offered", "answered", "abandoned", "SL %", "ASA s", "AHT s"):
            assert label in header, result.output
        assert "sales" in result.output and "100.0" in result.output
        if width == 80:
            assert "more columns at a wider terminal or with --csv or --json" in result.output
        else:
            assert "more column" not in result.output
