"""the fill owner's node address

Revision ID: 0012
Revises: 0011

``cache_fills.node_url``: where the process that fills a blob can be reached by the
downloads replicas of other nodes (``downloads.node-url``), so that they stream the growing
blob from it instead of fetching it upstream again (single flight across nodes, with the S3
backend). NULL: the owner shares this node's disk, or gave no address.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _schema() -> str | None:
    """The downloads service's schema (Alembic's ALTER TABLE does not translate names)."""
    return "snapdownloads" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    op.add_column(
        "cache_fills",
        sa.Column("node_url", sa.String(length=256), nullable=True),
        schema=_schema(),
    )


def downgrade() -> None:
    with op.batch_alter_table("cache_fills", schema=_schema()) as batch:
        batch.drop_column("node_url")
