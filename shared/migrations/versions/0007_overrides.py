"""overrides and their audit log

Revision ID: 0007
Revises: 0006

``overrides``: the admin's pins of a snap's channel (per architecture) to one revision, with
the upstream's answer for that revision; ``override_log``: every change to them (who, when,
from what to what). Both belong to the revisions service (``snaprevs`` on PostgreSQL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snap_id", sa.String(length=64), nullable=False),
        sa.Column("snap_name", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("architecture", sa.String(length=32), nullable=False),
        sa.Column("series", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("snap_json", sa.Text(), nullable=False),
        sa.Column("frozen", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overrides")),
        sa.UniqueConstraint(
            "snap_id", "channel", "architecture", "series", name=op.f("uq_overrides_snap_id")
        ),
        schema="snaprevs",
    )
    op.create_index(op.f("ix_overrides_snap_name"), "overrides", ["snap_name"], schema="snaprevs")
    op.create_table(
        "override_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("snap_id", sa.String(length=64), nullable=False),
        sa.Column("snap_name", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("architecture", sa.String(length=32), nullable=False),
        sa.Column("old_revision", sa.Integer(), nullable=True),
        sa.Column("new_revision", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_override_log")),
        schema="snaprevs",
    )
    op.create_index(
        op.f("ix_override_log_changed_at"), "override_log", ["changed_at"], schema="snaprevs"
    )
    op.create_index(
        op.f("ix_override_log_snap_name"), "override_log", ["snap_name"], schema="snaprevs"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_override_log_snap_name"), "override_log", schema="snaprevs")
    op.drop_index(op.f("ix_override_log_changed_at"), "override_log", schema="snaprevs")
    op.drop_table("override_log", schema="snaprevs")
    op.drop_index(op.f("ix_overrides_snap_name"), "overrides", schema="snaprevs")
    op.drop_table("overrides", schema="snaprevs")
