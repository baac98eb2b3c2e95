"""agent ownership: leases held by one worker each, hand-over requests, control requests;
idempotent agent history (event_id) for the write-behind journal

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("reserved_by")
        batch.drop_column("reserved_until")
        batch.drop_column("reserved_call_id")
        batch.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("owner_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("wanted_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("wanted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("control_state", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("control_reason", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("control_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("control_by", sa.String(length=64), nullable=True))
    with op.batch_alter_table("agent_state_changes") as batch:
        batch.add_column(sa.Column("event_id", sa.String(length=48), nullable=True))
        batch.create_unique_constraint("uq_agent_state_changes_event_id", ["event_id"])


def downgrade() -> None:
    with op.batch_alter_table("agent_state_changes") as batch:
        batch.drop_constraint("uq_agent_state_changes_event_id", type_="unique")
        batch.drop_column("event_id")
    with op.batch_alter_table("agents") as batch:
        for column in (
            "control_by",
            "control_at",
            "control_reason",
            "control_state",
            "wanted_at",
            "wanted_by",
            "owner_until",
            "owner",
        ):
            batch.drop_column(column)
        batch.add_column(sa.Column("reserved_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("reserved_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reserved_call_id", sa.String(length=32), nullable=True))
