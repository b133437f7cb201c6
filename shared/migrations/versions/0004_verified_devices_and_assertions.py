"""verified devices; only verified assertions stored

Revision ID: 0004
Revises: 0003

``devices.verified``: true for a device whose serial the upstream accepted (it granted a
session). Rows from before are marked so when they are keyed by serial and had a session.

``assertions``: from now on only assertions that verify up to a trusted root key are
stored. Rows stored before were never checked that way, so they are dropped: they are a
cache of the upstream store, fetched (and checked) again on the next request.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("verified", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    devices = sa.table(
        "devices",
        sa.column("device_key", sa.String()),
        sa.column("sessions", sa.Integer()),
        sa.column("verified", sa.Boolean()),
    )
    op.execute(
        devices.update()
        .where(devices.c.device_key.startswith("serial:"), devices.c.sessions > 0)
        .values(verified=True)
    )
    op.execute(sa.table("assertions").delete())


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("verified")
