"""Engines and migrations: ``make_engine(url)`` and ``upgrade(url)`` / ``downgrade(url)``.

Alembic runs programmatically from the migrations shipped inside the package, so
``callcenter db upgrade`` works from any directory without an alembic.ini.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from callcenter.errors import CallCenterError

MIGRATIONS = Path(__file__).with_name("migrations")


class DatabaseError(CallCenterError):
    code = "database-error"


def make_engine(url: str, *, connect_timeout: float = 5.0) -> Engine:
    """An engine with a connect time-out, and foreign keys enforced on SQLite (whose file is
    made readable by its owner only: it holds password hashes and TOTP secrets)."""
    if url.startswith("sqlite"):
        make_sqlite_file_private(url)
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


def make_sqlite_file_private(url: str) -> None:
    """Create the SQLite file of ``url`` with mode 0600, or take group and other permissions
    away from an existing one we own. SQLite gives its -wal and -shm files the database
    file's mode; those left by an earlier run are fixed here too."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.parent.is_dir():
        return  # SQLite itself reports the missing directory
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError:
        return  # read-only place or not ours: SQLite says what is wrong when it opens it
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            stat = file.stat()
            if stat.st_uid == os.geteuid() and stat.st_mode & 0o077:
                os.chmod(file, stat.st_mode & 0o700)
        except OSError:
            continue


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``.

    At head on PostgreSQL it also makes sure cdr_pgsql's ``asterisk_cdr`` table is there
    (migration 0005 creates it; this puts it back if someone dropped it since): Asterisk 22
    aborts at start without it.
    """
    try:
        command.upgrade(alembic_config(url), revision)
        if revision == "head" and url.startswith("postgresql"):
            from callcenter.db.asterisk_cdr import create_asterisk_cdr_table

            engine = make_engine(url)
            try:
                create_asterisk_cdr_table(engine)
            finally:
                engine.dispose()
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
