"""the cache dashboard's figures

Revision ID: 0014
Revises: 0013

- ``cache_days``: the cache's traffic per UTC day (hits, misses, bytes from cache, bytes
  relayed, bytes fetched upstream), written by the batched counter flush and the fill's
  commit, for the dashboard's 30-day chart (``GET /v1/cache/daily``);
- ``cache_counters.bytes_relayed``: bytes sent to clients that were not hits (streamed from
  a fill, or relayed uncached), so that bytes saved can be told (sent minus fetched);
- ``cache_fills.name``, ``cache_fills.revision``: what a lease fills, for the list of fills
  in progress (``GET /v1/cache/fills``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _schema() -> str | None:
    """The downloads service's schema (Alembic's ALTER TABLE does not translate names)."""
    return "snapdownloads" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    schema = _schema()
    op.create_table(
        "cache_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("misses", sa.BigInteger(), nullable=False),
        sa.Column("bytes_from_cache", sa.BigInteger(), nullable=False),
        sa.Column("bytes_relayed", sa.BigInteger(), nullable=False),
        sa.Column("bytes_from_upstream", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_cache_days")),
        schema=schema,
    )
    op.add_column(
        "cache_counters",
        sa.Column("bytes_relayed", sa.BigInteger(), nullable=False, server_default="0"),
        schema=schema,
    )
    op.add_column("cache_fills", sa.Column("name", sa.String(length=64)), schema=schema)
    op.add_column("cache_fills", sa.Column("revision", sa.Integer()), schema=schema)


def downgrade() -> None:
    schema = _schema()
    with op.batch_alter_table("cache_fills", schema=schema) as batch:
        batch.drop_column("revision")
        batch.drop_column("name")
    with op.batch_alter_table("cache_counters", schema=schema) as batch:
        batch.drop_column("bytes_relayed")
    op.drop_table("cache_days", schema=schema)
