"""The ``asterisk_cdr`` table that Asterisk's cdr_pgsql writes into (PostgreSQL only).

It is Asterisk's, not ours: we never write into it, ``callcenter cdr reconcile`` reads it. But
it must exist before Asterisk loads cdr_pgsql: Asterisk 22.10.1 with a ``cdr_pgsql.conf`` naming
a missing table logs "Failed to query database columns. No columns found, does the table
exist?" and then aborts (SIGABRT, exit 134) at every start. So ``callcenter db upgrade``
creates it (migration 0004) and ``dialplan deploy`` refuses to reload while it is missing.

The columns are Asterisk's contrib/realtime/postgresql schema; cdr_pgsql reads the table's
columns at load and fills those it knows, so extra columns would be harmless.
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, inspect, text

ASTERISK_CDR_TABLE = "asterisk_cdr"
"""The table name dialplan/cdr_pgsql.conf.j2 renders."""

_DDL = """
CREATE TABLE IF NOT EXISTS {table} (
    calldate timestamptz NOT NULL DEFAULT now(),
    clid varchar(80) NOT NULL DEFAULT '',
    src varchar(80) NOT NULL DEFAULT '',
    dst varchar(80) NOT NULL DEFAULT '',
    dcontext varchar(80) NOT NULL DEFAULT '',
    channel varchar(80) NOT NULL DEFAULT '',
    dstchannel varchar(80) NOT NULL DEFAULT '',
    lastapp varchar(80) NOT NULL DEFAULT '',
    lastdata varchar(80) NOT NULL DEFAULT '',
    duration integer NOT NULL DEFAULT 0,
    billsec integer NOT NULL DEFAULT 0,
    disposition varchar(45) NOT NULL DEFAULT '',
    amaflags integer NOT NULL DEFAULT 0,
    accountcode varchar(20) NOT NULL DEFAULT '',
    uniqueid varchar(150) NOT NULL DEFAULT '',
    userfield varchar(255) NOT NULL DEFAULT '',
    peeraccount varchar(20) NOT NULL DEFAULT '',
    linkedid varchar(150) NOT NULL DEFAULT '',
    sequence integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS {table}_linkedid_idx ON {table} (linkedid);
CREATE INDEX IF NOT EXISTS {table}_calldate_idx ON {table} (calldate);
"""


def create_statements(table: str = ASTERISK_CDR_TABLE) -> list[str]:
    """The SQL that creates the table and its indexes if they are missing (idempotent)."""
    return [s.strip() for s in _DDL.format(table=table).split(";") if s.strip()]


def create_on(conn: Connection, table: str = ASTERISK_CDR_TABLE) -> None:
    """Create the table on a PostgreSQL connection (inside the caller's transaction)."""
    for statement in create_statements(table):
        conn.execute(text(statement))


def create_asterisk_cdr_table(engine: Engine, table: str = ASTERISK_CDR_TABLE) -> None:
    """Create the table cdr_pgsql writes into (PostgreSQL), if it is missing."""
    with engine.begin() as conn:
        create_on(conn, table)


def has_asterisk_cdr_table(engine: Engine, table: str = ASTERISK_CDR_TABLE) -> bool:
    """Whether the table exists (raises SQLAlchemy's errors when the database is away)."""
    return inspect(engine).has_table(table)
