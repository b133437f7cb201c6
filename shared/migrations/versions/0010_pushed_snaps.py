"""imported snaps (offline mode)

Revision ID: 0010
Revises: 0008

The snaps ``snap-proxy push-snap`` imported from bundles (docs/offline.md), in the revisions
service's schema: ``pushed_snaps`` (what info and find answer), ``pushed_revisions`` (each
revision's blob facts and refresh answer) and ``pushed_channels`` (the imported channel map).
Their blobs are pinned entries of the downloads cache; their assertions are stored
assertions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None

SCHEMA = "revisions"


def upgrade() -> None:
    op.create_table(
        "pushed_snaps",
        sa.Column("snap_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("info_json", sa.Text(), nullable=False),
        sa.Column("find_json", sa.Text(), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("snap_id", name=op.f("pk_pushed_snaps")),
        sa.UniqueConstraint("name", name=op.f("uq_pushed_snaps_name")),
        schema=SCHEMA,
    )
    op.create_table(
        "pushed_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snap_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("architectures", sa.String(length=256), nullable=False),
        sa.Column("sha3_384", sa.String(length=96), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("snap_json", sa.Text(), nullable=False),
        sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pushed_revisions")),
        sa.UniqueConstraint("snap_id", "revision", name=op.f("uq_pushed_revisions_snap_id")),
        schema=SCHEMA,
    )
    for column in ("name", "sha3_384", "snap_id"):
        op.create_index(
            op.f(f"ix_pushed_revisions_{column}"), "pushed_revisions", [column], schema=SCHEMA
        )
    op.create_table(
        "pushed_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("snap_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("architecture", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=128), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pushed_channels")),
        sa.UniqueConstraint(
            "snap_id", "architecture", "channel", name=op.f("uq_pushed_channels_snap_id")
        ),
        schema=SCHEMA,
    )
    for column in ("name", "snap_id"):
        op.create_index(
            op.f(f"ix_pushed_channels_{column}"), "pushed_channels", [column], schema=SCHEMA
        )


def downgrade() -> None:
    op.drop_table("pushed_channels", schema=SCHEMA)
    op.drop_table("pushed_revisions", schema=SCHEMA)
    op.drop_table("pushed_snaps", schema=SCHEMA)
