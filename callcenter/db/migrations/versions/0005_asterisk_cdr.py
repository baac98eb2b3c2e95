"""asterisk_cdr: the table Asterisk's cdr_pgsql writes into (PostgreSQL only)

Asterisk 22.10.1 aborts at start when cdr_pgsql.conf names a table that does not exist, so the
table must be there before Asterisk loads cdr_pgsql: ``callcenter db upgrade`` creates it.
cdr_pgsql.conf is rendered only for PostgreSQL, so on SQLite this migration does nothing.

The downgrade drops the table only while it is empty: its rows are Asterisk's own records
(written by Asterisk, not by us), and a running Asterisk would abort at its next start
without it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from callcenter.db.asterisk_cdr import ASTERISK_CDR_TABLE, create_on

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        create_on(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not sa.inspect(bind).has_table(ASTERISK_CDR_TABLE):
        return
    rows = bind.execute(sa.text(f"SELECT count(*) FROM {ASTERISK_CDR_TABLE}")).scalar_one()
    if rows:
        log.warning(
            "kept %s: it holds %d of Asterisk's CDR rows (drop it by hand if you mean to)",
            ASTERISK_CDR_TABLE,
            rows,
        )
        return
    op.drop_table(ASTERISK_CDR_TABLE)
