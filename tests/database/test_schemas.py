"""Migration 0006: every table moves into its service's schema on PostgreSQL, with its rows,
and back on the way down; SQLite keeps one schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command

from shared import migrate
from shared.settings import Settings
from tests.support.infra import PrivatePostgres, fresh_database, query

ROWS = {
    "devices": "INSERT INTO devices (device_key, first_seen, last_seen, sessions) "
    "VALUES ('serial:one', now(), now(), 1)",
    "suite_secrets": "INSERT INTO suite_secrets (name, value) VALUES ('internal', 'kept')",
    "cache_counters": "INSERT INTO cache_counters VALUES ('hello', 1, 2, 3, 4, 5, 6)",
    "config": "INSERT INTO config (key, value, updated_at) VALUES ('proxy.domain', 'x', now())",
}
MOVED = {
    "snapauth.devices",
    "snaprevs.snap_revisions",
    "snaprevs.snap_channels",
    "snapassert.assertions",
    "snapdownloads.cache_entries",
    "snapdownloads.cache_fills",
    "snapdownloads.cache_counters",
    "snapproxy.suite_secrets",
    "snapproxy.config",
    "snapproxy.service_roles",
}
# Made by later migrations, in their service's schema (0007: the overrides; 0008: device
# refusals and other clients; 0010: imported snaps; 0011: child proxies).
LATER = {
    "snaprevs.overrides",
    "snaprevs.override_log",
    "snapauth.device_refusals",
    "snapdevicegw.other_clients",
    "snapauth.child_proxies",
    "snaprevs.pushed_snaps",  # 0010: imported snaps (offline mode)
    "snaprevs.pushed_revisions",
    "snaprevs.pushed_channels",
    "snapdownloads.cache_days",  # 0014_cache_dashboard: the cache's traffic per day
}


def tables(url: str) -> set[str]:
    rows = query(
        url,
        "SELECT table_schema || '.' || table_name AS name FROM information_schema.tables"
        " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
    )
    return {row["name"] for row in rows}


def test_tables_move_with_their_rows_and_back() -> None:
    with fresh_database() as url:
        settings = Settings(database_url=url)
        migrate.upgrade(settings, "0005")
        for sql in ROWS.values():
            query(url, sql)

        migrate.upgrade(settings, "0006")
        assert tables(url) == MOVED | {"public.alembic_version"}
        assert query(url, "SELECT device_key FROM snapauth.devices")[0][0] == "serial:one"
        assert query(url, "SELECT value FROM snapproxy.suite_secrets")[0][0] == "kept"
        assert query(url, "SELECT evictions FROM snapdownloads.cache_counters")[0][0] == 6
        assert query(url, "SELECT value FROM snapproxy.config")[0][0] == "x"

        migrate.downgrade(settings, "0005")
        assert {name.split(".")[0] for name in tables(url)} == {"public"}
        assert query(url, "SELECT value FROM public.suite_secrets")[0][0] == "kept"
        schemas = query(url, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'snap%'")
        assert schemas == []
        migrate.upgrade(settings)
        assert query(url, "SELECT sessions FROM snapauth.devices")[0][0] == 1


def test_an_owner_named_like_the_shared_schema(private_postgres: PrivatePostgres) -> None:
    """compose's owner is ``snapproxy``: once that schema exists it is the owner's default
    schema (``$user``), and the version table must still be found where it is."""
    query(private_postgres.admin_dsn, "CREATE ROLE snapproxy LOGIN SUPERUSER")
    query(private_postgres.admin_dsn, "CREATE DATABASE snapproxy OWNER snapproxy")
    url = f"postgresql://snapproxy@127.0.0.1:{private_postgres.port}/snapproxy"
    settings = Settings(database_url=url)
    migrate.upgrade(settings)
    assert query(url, "SELECT current_schema()")[0][0] == "snapproxy"
    command.check(migrate.alembic_config(settings))  # models == migrations
    migrate.upgrade(settings)  # at head already: nothing to do, nothing fails
    assert query(url, "SELECT count(*) FROM public.alembic_version")[0][0] == 1
    migrate.downgrade(settings, "base")
    migrate.upgrade(settings)
    assert tables(url) == MOVED | LATER | {"public.alembic_version"}


def test_sqlite_keeps_one_schema(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    migrate.upgrade(settings, "0005")
    database = tmp_path / "snapproxy.db"
    with sqlite3.connect(database) as connection:
        connection.execute(ROWS["suite_secrets"])
    migrate.upgrade(settings)
    with sqlite3.connect(database) as connection:
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        secret = connection.execute("SELECT value FROM suite_secrets").fetchall()
        attached = connection.execute("PRAGMA database_list").fetchall()
    assert {name.split(".")[1] for name in MOVED | LATER} <= names
    assert secret == [("kept",)]
    assert [row[1] for row in attached] == ["main"]
