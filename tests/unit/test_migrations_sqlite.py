"""Migrations on the embedded SQLite default: upgrade, downgrade, upgrade again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from callcenter.cli import main
from callcenter.db.engine import current_revision, downgrade, head_revision, make_engine, upgrade
from callcenter.db.models import Base, Call

TABLES = {
    "agent_state_changes",
    "agents",
    "call_events",
    "call_legs",
    "calls",
    "queue_entries",
    "recordings",
}


def test_upgrade_creates_every_model_table_and_downgrade_removes_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cc.db'}"
    upgrade(url)
    assert current_revision(url) == head_revision()
    engine = make_engine(url)
    names = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= names
    assert names >= TABLES
    engine.dispose()

    downgrade(url, "base")
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    assert current_revision(url) is None

    upgrade(url)
    assert current_revision(url) == head_revision()


def test_times_come_back_timezone_aware_utc(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cc.db'}"
    upgrade(url)
    engine = make_engine(url)
    started = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with Session(engine) as session:
        session.add(Call(call_id="c1", started_at=started, updated_at=started))
        session.commit()
    with Session(engine) as session:
        row = session.get(Call, "c1")
        assert row is not None
        assert row.started_at == started
        assert row.started_at.tzinfo == dt.UTC
        assert row.started_at.hour == 10
    with Session(engine) as session:
        session.add(Call(call_id="c2", started_at=dt.datetime(2026, 1, 1), updated_at=started))
        with pytest.raises(Exception, match="naive datetime"):
            session.commit()
    engine.dispose()


def test_cli_db_upgrade_and_current(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    result = runner.invoke(main, ["db", "upgrade", "--url", url])
    assert result.exit_code == 0, result.output
    assert f"database at revision {head_revision()}" in result.output
    result = runner.invoke(main, ["db", "current", "--url", url, "--json"])
    assert result.exit_code == 0
    assert f'"current": "{head_revision()}"' in result.output
    result = runner.invoke(main, ["db", "downgrade", "--url", url, "base"])
    assert result.exit_code == 0
    assert "database at revision base" in result.output


def test_cli_db_upgrade_unreachable_database_is_one_line() -> None:
    result = CliRunner().invoke(
        main, ["db", "upgrade", "--url", "postgresql+psycopg://nobody@127.0.0.1:1/none"]
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot reach the database")


def test_cli_db_bad_url_is_bad_input() -> None:
    result = CliRunner().invoke(main, ["db", "upgrade", "--url", "mysql://x/y"])
    assert result.exit_code == 2
    assert "must start with sqlite://" in result.output


def test_migrations_match_the_models(tmp_path: Path) -> None:
    """A model change without its migration (or the reverse) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    url = f"sqlite:///{tmp_path / 'cc.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert differences == []
