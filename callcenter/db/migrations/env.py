"""Alembic environment: runs against the URL given in the programmatic config."""

from __future__ import annotations

from alembic import context

from callcenter.db.asterisk_cdr import ASTERISK_CDR_TABLE
from callcenter.db.engine import make_engine
from callcenter.db.models import Base


def include_object(
    obj: object, name: str | None, kind: str, reflected: bool, compare_to: object
) -> bool:
    """Autogenerate leaves Asterisk's own cdr_pgsql table alone (migration 0004 makes it)."""
    table = getattr(obj, "table", None)
    table_name = name if kind == "table" else getattr(table, "name", None)
    return table_name != ASTERISK_CDR_TABLE


config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "callcenter.db.engine.alembic_config sets sqlalchemy.url"

engine = make_engine(url)
try:
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
finally:
    engine.dispose()
