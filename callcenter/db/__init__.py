"""Persistence: SQLAlchemy 2 models, engines and Alembic migrations.

The only package (with the lookup adapters) that imports SQLAlchemy. Times are stored as
timezone-aware UTC.
"""
