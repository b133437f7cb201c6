"""config table

Revision ID: 0005
Revises: 0004

``config``: the keys set with ``snap-proxy config`` (``shared.config``), one row each, as the
admin wrote them; every service and replica reads them from here. The database connection
itself is not here: it is in the bootstrap file of each node.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "config",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_config")),
    )


def downgrade() -> None:
    op.drop_table("config")
