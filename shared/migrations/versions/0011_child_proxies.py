"""child proxies

Revision ID: 0011
Revises: 0010

``child_proxies`` (the auth service's schema): the snapproxies registered with this one as
their upstream (``POST /v2/auth/proxy/register``), the parent's inventory of its children.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _schema() -> str | None:
    return "snapauth" if op.get_bind().dialect.name == "postgresql" else None


def upgrade() -> None:
    op.create_table(
        "child_proxies",
        sa.Column("store_id", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("account", sa.String(length=320), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("use_case", sa.Text(), nullable=False),
        sa.Column("assertions", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_contact", sa.DateTime(timezone=True), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_child_proxies")),
        schema=_schema(),
    )


def downgrade() -> None:
    op.drop_table("child_proxies", schema=_schema())
