"""What ``callcenter doctor`` and ``dialplan deploy`` ask of a database, in one look."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from callcenter.db.asterisk_cdr import has_asterisk_cdr_table
from callcenter.db.engine import current_revision, head_revision, make_engine


@dataclass(frozen=True)
class DatabaseStatus:
    """``error`` when it cannot be reached; else its revision and whether asterisk_cdr exists
    (``None`` on SQLite, where cdr_pgsql has no table)."""

    error: str | None
    current: str | None = None
    head: str | None = None
    asterisk_cdr: bool | None = None


def database_status(url: str, *, timeout: float, revisions: bool = True) -> DatabaseStatus:
    """Connect once and read what the checks need (nothing is changed)."""
    engine = make_engine(url, connect_timeout=timeout)
    try:
        with engine.connect():
            pass
        cdr = has_asterisk_cdr_table(engine) if url.startswith("postgresql") else None
        current = current_revision(url) if revisions else None
        return DatabaseStatus(None, current, head_revision(), cdr)
    except SQLAlchemyError as exc:
        return DatabaseStatus(" ".join(str(getattr(exc, "orig", None) or exc).split())[:200])
    finally:
        engine.dispose()
