"""internal secret; private revisions

Revision ID: 0003
Revises: 0002

``suite_secrets``: secrets every process of the suite shares, by name. The internal secret
(``Snapproxy-Internal-Secret``, the credential of every service-to-service call) lives here
when ``SNAPPROXY_INTERNAL_SECRET`` is not set: the first process to start generates it.

``snap_revisions.private``: true for a revision seen only in answers to requests that
carried store credentials; revisions recorded before were all public.
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
        "suite_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_suite_secrets")),
    )
    with op.batch_alter_table("snap_revisions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("private", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("snap_revisions", schema=None) as batch_op:
        batch_op.drop_column("private")
    op.drop_table("suite_secrets")
