"""Migrations against the real PostgreSQL: up, down, up; times are timestamptz."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from callcenter.db.engine import current_revision, downgrade, head_revision, make_engine, upgrade
from callcenter.db.models import Base, Call

pytestmark = pytest.mark.pg


def test_upgrade_downgrade_upgrade(pg_url: str) -> None:
    upgrade(pg_url)
    assert current_revision(pg_url) == head_revision()
    engine = make_engine(pg_url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        kind = conn.execute(
            text(
                "select data_type from information_schema.columns "
                "where table_name='calls' and column_name='started_at'"
            )
        ).scalar_one()
    assert kind == "timestamp with time zone"
    engine.dispose()

    downgrade(pg_url, "base")
    engine = make_engine(pg_url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()

    upgrade(pg_url)
    assert current_revision(pg_url) == head_revision()


def test_call_row_round_trip_keeps_utc(pg_url: str) -> None:
    upgrade(pg_url)
    engine = make_engine(pg_url)
    at = dt.datetime(2026, 11, 25, 9, 30, tzinfo=dt.UTC)
    with Session(engine) as session:
        session.add(
            Call(
                call_id="a" * 32,
                started_at=at,
                updated_at=at,
                ivr_path=[["main", "2026-11-25T09:30:00+00:00"]],
                variables={"order_number": "1234"},
            )
        )
        session.commit()
    with Session(engine) as session:
        row = session.get(Call, "a" * 32)
        assert row is not None
        assert row.started_at == at
        assert row.variables == {"order_number": "1234"}
        assert row.disposition == "in_progress"
    engine.dispose()


def test_migrations_match_the_models_on_postgres(pg_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from callcenter.db.asterisk_cdr import not_asterisk_cdr

    upgrade(pg_url)
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        # asterisk_cdr is Asterisk's table (cdr_pgsql writes it), not one of our models: the
        # migration environment leaves it out of comparisons the same way.
        context = MigrationContext.configure(conn, opts={"include_object": not_asterisk_cdr})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []
