"""child proxies' reports

Revision ID: 0013
Revises: 0012

``child_proxies.reported_at`` and ``other_clients``: a registered child's last report to its
parent (``POST /v2/auth/proxy/report``): when it sent it and the clients without a device
session it counted (``devices`` holds its device count). NULL: never reported.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _schema() -> str | None:
    """The auth service's schema (Alembic's ALTER TABLE does not translate names)."""
    return "snapauth" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    op.add_column(
        "child_proxies",
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        schema=_schema(),
    )
    op.add_column(
        "child_proxies", sa.Column("other_clients", sa.Integer(), nullable=True), schema=_schema()
    )


def downgrade() -> None:
    with op.batch_alter_table("child_proxies", schema=_schema()) as batch:
        batch.drop_column("other_clients")
        batch.drop_column("reported_at")
