"""voicemail: recordings.kind, voicemail_messages, callback_requests

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

Every recording already stored is a conversation: ``kind`` is ``call`` for them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="call", nullable=False)
        )
    op.create_table(
        "voicemail_messages",
        sa.Column("recording_name", sa.String(length=128), nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=False),
        sa.Column("mailbox", sa.String(length=40), nullable=False),
        sa.Column("queue_id", sa.String(length=40), nullable=True),
        sa.Column("caller_number", sa.String(length=64), nullable=True),
        sa.Column("caller_name", sa.String(length=128), nullable=True),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("sound_seconds", sa.Float(), nullable=True),
        sa.Column("empty", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.call_id"],
            name=op.f("fk_voicemail_messages_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recording_name"],
            ["recordings.name"],
            name=op.f("fk_voicemail_messages_recording_name_recordings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("recording_name", name=op.f("pk_voicemail_messages")),
    )
    with op.batch_alter_table("voicemail_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voicemail_messages_call_id"), ["call_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_voicemail_messages_mailbox"), ["mailbox"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_voicemail_messages_caller_number"), ["caller_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_voicemail_messages_status"), ["status"], unique=False)
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=True),
        sa.Column("queue_id", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("voicemail", sa.String(length=128), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.call_id"],
            name=op.f("fk_callback_requests_call_id_calls"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_requests")),
    )
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_callback_requests_call_id"), ["call_id"], unique=False)
        batch_op.create_index(
            "ix_callback_requests_status_requested", ["status", "requested_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("callback_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_requests_status_requested")
        batch_op.drop_index(batch_op.f("ix_callback_requests_call_id"))
    op.drop_table("callback_requests")
    with op.batch_alter_table("voicemail_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voicemail_messages_status"))
        batch_op.drop_index(batch_op.f("ix_voicemail_messages_caller_number"))
        batch_op.drop_index(batch_op.f("ix_voicemail_messages_mailbox"))
        batch_op.drop_index(batch_op.f("ix_voicemail_messages_call_id"))
    op.drop_table("voicemail_messages")
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_column("kind")
