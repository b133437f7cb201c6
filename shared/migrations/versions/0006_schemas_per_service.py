"""one schema per service

Revision ID: 0006
Revises: 0005

On PostgreSQL every table moves into the schema of the service that owns it, and what every
service reads (the internal secret, the configuration) into ``snapproxy``: so that each
service's own role (``shared.dbsetup``) can be given its schema and nothing else. The schemas
belong to the role that migrates (the database's owner); the roles and their privileges are
made by ``snap-proxy config proxy.db.connection=...`` and ``snap-proxy db migrate-to``,
not here (roles belong to the whole PostgreSQL server, not to one database).
SQLite has no schemas: nothing moves there.

``service_roles``: each service's role and its password, readable by the owner only (a second
node configured with the same database takes them from there).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

SCHEMAS = ("snapauth", "snapdevicegw", "snaprevs", "snapassert", "snapdownloads", "snapproxy")
TABLES = {
    "devices": "snapauth",
    "snap_revisions": "snaprevs",
    "snap_channels": "snaprevs",
    "assertions": "snapassert",
    "cache_entries": "snapdownloads",
    "cache_fills": "snapdownloads",
    "cache_counters": "snapdownloads",
    "suite_secrets": "snapproxy",
    "config": "snapproxy",
}


def _home_schema() -> str:
    """Where the tables were made: the first schema of the search path that is not ours
    (``$user`` would be ``snapproxy`` for a role of that name once that schema exists)."""
    found = op.get_bind().scalar(
        sa.text("SELECT s FROM unnest(current_schemas(false)) AS s WHERE s <> ALL(:ours) LIMIT 1"),
        {"ours": list(SCHEMAS)},
    )
    if found is None:
        raise RuntimeError("the search path names no schema to move the tables from or to")
    return str(found)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        home = _home_schema()
        for schema in SCHEMAS:
            op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for table, schema in TABLES.items():
            op.execute(f'ALTER TABLE "{home}".{table} SET SCHEMA {schema}')
    op.create_table(
        "service_roles",
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=63), nullable=False),
        sa.Column("password", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("service", name=op.f("pk_service_roles")),
        schema="snapproxy",
    )


def downgrade() -> None:
    op.drop_table("service_roles", schema="snapproxy")
    if op.get_bind().dialect.name == "postgresql":
        home = _home_schema()
        for table, schema in TABLES.items():
            op.execute(f'ALTER TABLE {schema}.{table} SET SCHEMA "{home}"')
        for schema in SCHEMAS:
            op.execute(f"DROP SCHEMA {schema}")
