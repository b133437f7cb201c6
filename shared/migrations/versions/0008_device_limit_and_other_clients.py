"""device-limit refusals; other clients

Revision ID: 0008
Revises: 0007

``auth.device_refusals``: new devices the session endpoint refused because
``proxy.device-limit`` was reached, one row per device, with a count (``snap-proxy status``
and ``snap-proxy devices`` show them).

``devicegw.other_clients``: clients that used the device API without a device session
(``snap download``), by address; counted apart from the devices.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "device_refusals",
        sa.Column("device_key", sa.String(length=512), nullable=False),
        sa.Column("brand_id", sa.String(length=128), nullable=True),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("serial", sa.String(length=256), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=True),
        _when("first_refused"),
        _when("last_refused"),
        sa.Column("refusals", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("device_key", name=op.f("pk_device_refusals")),
        schema="auth",
    )
    op.create_index(
        op.f("ix_device_refusals_last_refused"),
        "device_refusals",
        ["last_refused"],
        schema="auth",
    )
    op.create_table(
        "other_clients",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        _when("first_seen"),
        _when("last_seen"),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_other_clients")),
        schema="devicegw",
    )
    op.create_index(
        op.f("ix_other_clients_last_seen"), "other_clients", ["last_seen"], schema="devicegw"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_other_clients_last_seen"), "other_clients", schema="devicegw")
    op.drop_table("other_clients", schema="devicegw")
    op.drop_index(op.f("ix_device_refusals_last_refused"), "device_refusals", schema="auth")
    op.drop_table("device_refusals", schema="auth")
