"""web_sessions (server-side sessions), users.totp_last_step, wider users.totp_secret

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04

Existing TOTP secrets are still plain text after this migration: ``callcenter db upgrade``,
every ``callcenter users`` command and the worker at start encrypt them with the key derived
from ``web.session_secret`` (``UserStore.seal_totp_secrets``); the migration cannot, it has no
config.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column(
            "totp_secret",
            existing_type=sa.String(length=64),
            type_=sa.String(length=255),
            existing_nullable=True,
        )
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "web_sessions",
        sa.Column("id_digest", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["username"],
            ["users.username"],
            name=op.f("fk_web_sessions_username_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_digest", name=op.f("pk_web_sessions")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_username"), ["username"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_web_sessions_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_expires_at"))
        batch_op.drop_index(batch_op.f("ix_web_sessions_username"))
    op.drop_table("web_sessions")
    # Encrypted TOTP secrets do not fit, and the older code cannot read them: those users
    # sign in with their password alone until `callcenter users totp NAME` again.
    op.execute("UPDATE users SET totp_secret = NULL WHERE length(totp_secret) > 64")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.alter_column(
            "totp_secret",
            existing_type=sa.String(length=255),
            type_=sa.String(length=64),
            existing_nullable=True,
        )
