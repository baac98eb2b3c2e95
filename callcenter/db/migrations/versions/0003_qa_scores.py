"""qa_scores: QA reviewers' scores of calls

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qa_scores",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("call_id", sa.String(length=32), nullable=False),
        sa.Column("reviewer", sa.String(length=64), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["calls.call_id"],
            name=op.f("fk_qa_scores_call_id_calls"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_scores")),
    )
    with op.batch_alter_table("qa_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qa_scores_call_id"), ["call_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("qa_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_scores_call_id"))
    op.drop_table("qa_scores")
