"""Engines and migrations: ``make_engine(url)`` and ``upgrade(url)`` / ``downgrade(url)``.

Alembic runs programmatically from the migrations shipped inside the package, so
``callcenter db upgrade`` works from any directory without an alembic.ini.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from callcenter.errors import CallCenterError

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseError(CallCenterError):
    code = "database-error"


def make_engine(url: str, *, connect_timeout: float = 5.0) -> Engine:
    """An engine with a connect time-out, and foreign keys enforced on SQLite."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": connect_timeout})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        return engine
    return create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": max(1, int(connect_timeout))},
    )


def bounded_engine(url: str, *, timeout: float = 5.0) -> Engine:
    """An engine whose connects and statements give up after ``timeout`` seconds (for the
    background writers: a cut network path never leaves them waiting for hours)."""
    if url.startswith("postgresql"):
        return create_engine(
            url,
            pool_pre_ping=True,
            pool_size=4,
            connect_args={
                "connect_timeout": max(1, int(timeout)),
                "options": f"-c statement_timeout={int(timeout * 1000)}",
                # A cut network path otherwise leaves a socket waiting for hours.
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 2,
            },
        )
    return make_engine(url, connect_timeout=timeout)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``."""
    try:
        command.upgrade(alembic_config(url), revision)
    except OperationalError as exc:
        reason = " ".join(str(exc.orig).split())
        raise DatabaseError(f"cannot reach the database: {reason}", url=_safe(url)) from exc
    except SQLAlchemyError as exc:
        raise DatabaseError(f"migration failed: {exc}", url=_safe(url)) from exc


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``base`` removes everything)."""
    try:
        command.downgrade(alembic_config(url), revision)
    except SQLAlchemyError as exc:
        raise DatabaseError(f"migration failed: {exc}", url=_safe(url)) from exc


def current_revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url
