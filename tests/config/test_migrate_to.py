"""``snap-proxy db migrate-to URL``: a node on the embedded default's SQLite moves to
PostgreSQL in one command, rows, configuration and all (a PostgreSQL server of its own, with
password logins)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from shared.dbroles import ROLES_ENTRY
from tests.support.admin_cli import Node
from tests.support.infra import PrivatePostgres, private_password_postgres, query

OWNER, PASSWORD = "snapproxy-user", "migrate-secret"
DEVICES = [
    ("serial:canonical/pc/one", "one"),
    ("serial:canonical/pc/two", "two"),
]


@pytest.fixture(scope="module")
def server() -> Iterator[PrivatePostgres]:
    with private_password_postgres() as postgres:
        query(postgres.admin_dsn, f"CREATE ROLE \"{OWNER}\" LOGIN CREATEROLE PASSWORD '{PASSWORD}'")
        yield postgres


def database(server: PrivatePostgres, name: str) -> tuple[str, str]:
    """The URL the admin gives (no password) and the owner's, of a new database."""
    query(server.admin_dsn, f'CREATE DATABASE "{name}" OWNER "{OWNER}"')
    base = f"127.0.0.1:{server.port}/{name}"
    return f"postgresql://{OWNER}@{base}", f"postgresql://{OWNER}:{PASSWORD}@{base}"


def sqlite_node(path: Path) -> Node:
    """A node on SQLite with a configuration, devices and a secret of its own."""
    node = Node(path)
    node.upgrade()
    node.ok("proxy.domain=snaps.example.com", "proxy.cache.size=2048")
    with sqlite3.connect(path / "snapproxy.db") as connection:
        connection.executemany(
            "INSERT INTO devices (device_key, serial, first_seen, last_seen, sessions, verified)"
            " VALUES (?, ?, '2026-12-01 10:00:00', '2026-12-05 10:00:00', 3, 1)",
            DEVICES,
        )
        connection.execute("INSERT INTO suite_secrets (name, value) VALUES ('internal', 'old')")
    return node


def test_migrate_to_copies_every_row_then_switches(server: PrivatePostgres, tmp_path: Path) -> None:
    node = sqlite_node(tmp_path / "node")
    url, owner_url = database(server, "moved")
    result = node.run("db", "migrate-to", url, stdin=f"{PASSWORD}\n", spawn=True)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Configured database for snapauth role." in lines
    assert lines[-2].startswith("Copied ") and lines[-2].endswith(
        f"to postgresql://{OWNER}:***@127.0.0.1:{server.port}/moved."
    )
    assert PASSWORD not in result.stdout + result.stderr
    # The rows are in the services' schemas, the sequences continue after them.
    rows = query(owner_url, "SELECT device_key, serial, sessions FROM snapauth.devices ORDER BY id")
    assert [(r[0], r[1], r[2]) for r in rows] == [(k, s, 3) for k, s in DEVICES]
    assert query(owner_url, "SELECT value FROM snapproxy.suite_secrets")[0][0] == "old"
    roles = yaml.safe_load((node.data_dir / "bootstrap.yaml").read_text())[ROLES_ENTRY]
    auth_url = owner_url.replace(f"{OWNER}:{PASSWORD}", f"snapauth:{roles['auth']['password']}")
    query(
        auth_url,
        "INSERT INTO snapauth.devices (device_key, first_seen, last_seen, sessions) "
        "VALUES ('serial:canonical/pc/three', now(), now(), 1)",
    )
    assert query(auth_url, "SELECT max(id) FROM snapauth.devices")[0][0] == 3
    # The node now reads its configuration from PostgreSQL, and the SQLite file is kept.
    listing = node.listing("proxy.domain", "proxy.cache.size", "proxy.db.connection")
    assert listing["proxy.domain"] == ("config", "snaps.example.com")
    assert listing["proxy.cache.size"] == ("config", "2048")
    assert listing["proxy.db.connection"][1].endswith(f"@127.0.0.1:{server.port}/moved")
    with sqlite3.connect(node.data_dir / "snapproxy.db") as connection:
        assert connection.execute("SELECT count(*) FROM devices").fetchone() == (2,)


def test_a_database_with_rows_is_refused(server: PrivatePostgres, tmp_path: Path) -> None:
    first = sqlite_node(tmp_path / "first")
    url, _ = database(server, "taken")
    assert first.run("db", "migrate-to", url, stdin=f"{PASSWORD}\n", spawn=True).returncode == 0
    second = sqlite_node(tmp_path / "second")
    result = second.run("db", "migrate-to", url, stdin=f"{PASSWORD}\n", spawn=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "snap-proxy: error: the PostgreSQL database already holds rows (snapauth.devices: 2); "
        "migrate-to only fills an empty one; nothing was copied, this node stays on SQLite"
    )
    assert not (second.data_dir / "bootstrap.yaml").exists()
    assert second.listing("proxy.domain")["proxy.domain"] == ("config", "snaps.example.com")


def test_only_from_sqlite(server: PrivatePostgres, tmp_path: Path) -> None:
    node = sqlite_node(tmp_path / "node")
    url, _ = database(server, "once")
    assert node.run("db", "migrate-to", url, stdin=f"{PASSWORD}\n", spawn=True).returncode == 0
    again = node.run("db", "migrate-to", url, stdin=f"{PASSWORD}\n", spawn=True)
    assert again.returncode == 2
    assert "not on SQLite" in again.stderr
