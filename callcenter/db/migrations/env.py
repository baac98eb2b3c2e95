"""Alembic environment: runs against the URL given in the programmatic config."""

from __future__ import annotations

from alembic import context

from callcenter.db.asterisk_cdr import not_asterisk_cdr
from callcenter.db.engine import make_engine
from callcenter.db.models import Base

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
            include_object=not_asterisk_cdr,
        )
        with context.begin_transaction():
            context.run_migrations()
finally:
    engine.dispose()
