"""The ``asterisk_cdr`` table that Asterisk's cdr_pgsql writes into (PostgreSQL only).

It is Asterisk's, not ours: we never write into it, ``callcenter cdr reconcile`` reads it. But
it must exist before Asterisk loads cdr_pgsql: Asterisk 22.10.1 with a ``cdr_pgsql.conf`` naming
a missing table logs "Failed to query database columns. No columns found, does the table
exist?" and then aborts (SIGABRT, exit 134) at every start. So ``callcenter db upgrade``
creates it (migration 0005) and ``dialplan deploy`` refuses to reload while it is missing.

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
"""
_INDEXED = ("linkedid", "calldate")
"""Columns reconcile searches by; indexed when the table has them (one made by Asterisk's own
schema scripts may have ``start`` instead of ``calldate``)."""


def create_on(conn: Connection, table: str = ASTERISK_CDR_TABLE) -> None:
    """Create the table and its indexes if missing, on a PostgreSQL connection (inside the
    caller's transaction); a table that is already there is kept as it is."""
    conn.execute(text(_DDL.format(table=table)))
    columns = {column["name"] for column in inspect(conn).get_columns(table)}
    for column in _INDEXED:
        if column in columns:
            conn.execute(
                text(f"CREATE INDEX IF NOT EXISTS {table}_{column}_idx ON {table} ({column})")
            )


def not_asterisk_cdr(obj: object, name: str | None, kind: str, *_: object) -> bool:
    """Alembic ``include_object``: comparisons and autogenerate leave Asterisk's table alone
    (it is made by migration 0005 and this module, not by a model)."""
    table = getattr(obj, "table", None)
    table_name = name if kind == "table" else getattr(table, "name", None)
    return table_name != ASTERISK_CDR_TABLE


def create_asterisk_cdr_table(engine: Engine, table: str = ASTERISK_CDR_TABLE) -> None:
    """Create the table cdr_pgsql writes into (PostgreSQL), if it is missing."""
    with engine.begin() as conn:
        create_on(conn, table)


def has_asterisk_cdr_table(engine: Engine, table: str = ASTERISK_CDR_TABLE) -> bool:
    """Whether the table exists (raises SQLAlchemy's errors when the database is away)."""
    return inspect(engine).has_table(table)
