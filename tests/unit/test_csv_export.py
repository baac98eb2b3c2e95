"""CSV injection: no cell the project writes can start a spreadsheet formula."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.orm import Session

from callcenter.cli import main
from callcenter.csv_export import neutralise_formula, write_csv
from callcenter.db.engine import make_engine, upgrade
from callcenter.db.models import Call

DANGEROUS = ['=HYPERLINK("http://evil","x")', "+1+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_text_cells_that_start_a_formula_are_quoted() -> None:
    for value in DANGEROUS:
        assert neutralise_formula(value) == "'" + value
    assert neutralise_formula("alice") == "alice"
    assert neutralise_formula("") == ""
    assert neutralise_formula(None) == ""
    assert neutralise_formula(-1.5) == -1.5  # numbers we computed stay numbers
    text = write_csv([{"a": value, "b": 3} for value in DANGEROUS], ["a", "b"])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["a", "b"]
    assert [row[0] for row in rows[1:]] == ["'" + value for value in DANGEROUS]


def test_report_csv_quotes_formula_cells(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cc.db'}"
    upgrade(url)
    engine = make_engine(url)
    start = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
    with Session(engine) as session:
        session.add(
            Call(
                call_id="c1",
                caller_number="=1+1",
                started_at=start,
                updated_at=start,
                ended_at=start + dt.timedelta(seconds=60),
                queue_id="=cmd|' /C calc'!A0",
                disposition="answered",
                wait_seconds=5.0,
                talk_seconds=55.0,
            )
        )
        session.commit()
    engine.dispose()
    config = tmp_path / "callcenter.yaml"
    config.write_text(
        f"""
asterisk:
  ari: {{password: x}}
  ami: {{secret: y}}
database: {{url: "{url}", spool_dir: "{tmp_path / "spool"}"}}
queues:
  sales: {{name: Sales}}
ivr:
  numbers: {{"100": main}}
  menus:
    main: {{type: menu, choices: {{"1": {{queue: sales}}}}}}
  operator_queue: sales
"""
    )
    result = CliRunner().invoke(
        main,
        [
            "report", "-c", str(config), "--by", "queue", "--csv",
            "--since", "2026-11-25T00:00+00:00", "--until", "2026-11-26T00:00+00:00",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [row["group"] for row in rows] == ["'=cmd|' /C calc'!A0"]
