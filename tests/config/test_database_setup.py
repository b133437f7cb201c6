"""``snap-proxy config proxy.db.connection=URL`` the way the Snap Store Proxy's guide sets a
database up: the password prompt, one role per service, each role on its own schema only.

A PostgreSQL server of the module's own, where every user but postgres logs in with a
password (roles are server-wide: the shared test server is left alone).
"""

from __future__ import annotations

import stat
import subprocess
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import asyncpg
import httpx
import pytest
import yaml

from shared.dbroles import ROLES_ENTRY, SERVICE_ROLES
from shared.pgconnect import AUTH_ERROR
from shared.split import free_port
from tests.support.admin_cli import Node, Ran
from tests.support.infra import PrivatePostgres, private_password_postgres, proxy_env, query
from tests.support.proxies import SNAP_PROXY

OWNER = "snapproxy-user"
PASSWORD = "owner-secret-17"
# A row of each service's table: what a role may write in its own schema.
TABLES = {
    "auth": (
        "snapauth.devices",
        "INSERT INTO {t} (device_key, first_seen, last_seen, sessions)"
        " VALUES ('serial:x', now(), now(), 1)",
    ),
    "revisions": ("snaprevs.snap_channels", "DELETE FROM {t}"),
    "assertions": ("snapassert.assertions", "DELETE FROM {t}"),
    "downloads": (
        "snapdownloads.cache_counters",
        "INSERT INTO {t} VALUES ('hello', 1, 2, 3, 4, 5, 6)",
    ),
}
_databases = count()


@pytest.fixture(scope="module")
def server() -> Iterator[PrivatePostgres]:
    with private_password_postgres() as postgres:
        query(postgres.admin_dsn, f"CREATE ROLE \"{OWNER}\" LOGIN CREATEROLE PASSWORD '{PASSWORD}'")
        yield postgres


def new_database(server: PrivatePostgres) -> str:
    """A database the owner owns, as the guide's SQL makes it; its URL without password."""
    name = f"snapproxy-db-{next(_databases)}"
    query(server.admin_dsn, f'CREATE DATABASE "{name}" OWNER "{OWNER}"')
    return f"postgresql://{OWNER}@127.0.0.1:{server.port}/{name}"


def with_password(url: str, user: str, password: str) -> str:
    return url.replace(f"//{OWNER}@", f"//{user}:{password}@")


def configure(node: Node, url: str, answers: str) -> Ran:
    return node.run("config", f"proxy.db.connection={url}", stdin=answers, spawn=True)


def bootstrap(node: Node) -> dict[str, object]:
    loaded = yaml.safe_load((node.data_dir / "bootstrap.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def roles_of(node: Node) -> dict[str, dict[str, str]]:
    roles = bootstrap(node)[ROLES_ENTRY]
    assert isinstance(roles, dict)
    return roles


def test_the_password_is_asked_and_each_service_gets_a_role(
    server: PrivatePostgres, tmp_path: Path
) -> None:
    url = new_database(server)
    node = Node(tmp_path / "node")
    result = configure(node, url, answers=f"wrong\n{PASSWORD}\n")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        AUTH_ERROR.format(user=OWNER),
        *(f"Configured database for {role} role." for role in SERVICE_ROLES.values()),
    ]
    assert "attempt 1 of 3" in result.stderr and "attempt 2 of 3" in result.stderr
    assert "attempt 3 of 3" not in result.stderr
    assert PASSWORD not in result.stdout + result.stderr and "wrong" not in result.stderr
    path = node.data_dir / "bootstrap.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert bootstrap(node)["proxy.db.connection"] == with_password(url, OWNER, PASSWORD)
    roles = roles_of(node)
    assert {service: entry["role"] for service, entry in roles.items()} == SERVICE_ROLES
    # The listing hides the password; the roles' passwords are the database's too, which
    # only the owner reads.
    listing = node.run("config", "proxy.db.connection").stdout
    assert PASSWORD not in listing and "***" in listing
    owner_url = with_password(url, OWNER, PASSWORD)
    stored = dict(query(owner_url, "SELECT role, password FROM snapproxy.service_roles"))
    assert stored == {entry["role"]: entry["password"] for entry in roles.values()}
    assert query(owner_url, "SELECT version_num FROM alembic_version")[0][0]


def test_back_to_sqlite_forgets_the_roles(server: PrivatePostgres, tmp_path: Path) -> None:
    node = Node(tmp_path / "node")
    assert configure(node, new_database(server), answers=f"{PASSWORD}\n").returncode == 0
    assert ROLES_ENTRY in bootstrap(node)
    result = node.run("config", "proxy.db.connection=", spawn=True)
    assert result.returncode == 0, result.stderr
    assert bootstrap(node) == {}  # neither the owner's URL nor the roles' passwords
    assert node.listing("proxy.db.connection")["proxy.db.connection"][0] == "default"


def test_three_wrong_passwords_change_nothing(server: PrivatePostgres, tmp_path: Path) -> None:
    url = new_database(server)
    node = Node(tmp_path / "node")
    result = configure(node, url, answers="a\nb\nc\nd\n")
    assert result.returncode == 1
    assert result.stdout.strip() == AUTH_ERROR.format(user=OWNER)
    assert "attempt 3 of 3" in result.stderr
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("snap-proxy: error: proxy.db.connection: cannot log in to ")
    )
    assert not (node.data_dir / "bootstrap.yaml").exists()
    tables = query(
        with_password(url, OWNER, PASSWORD),
        "SELECT count(*) FROM information_schema.tables WHERE table_schema LIKE 'snap%'",
    )
    assert tables[0][0] == 0


def test_no_answer_on_stdin_is_one_line(server: PrivatePostgres, tmp_path: Path) -> None:
    node = Node(tmp_path / "node")
    result = configure(node, new_database(server), answers="")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"snap-proxy: error: proxy.db.connection: no password given for database user {OWNER}"
    )
    assert not (node.data_dir / "bootstrap.yaml").exists()


def test_a_user_without_createrole_is_told_what_it_needs(
    server: PrivatePostgres, tmp_path: Path
) -> None:
    query(server.admin_dsn, "CREATE ROLE plain LOGIN PASSWORD 'plain'")
    query(server.admin_dsn, 'CREATE DATABASE "plain-db" OWNER plain')
    node = Node(tmp_path / "node")
    url = f"postgresql://plain:plain@127.0.0.1:{server.port}/plain-db"
    result = configure(node, url, answers="")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert "database user plain cannot create the services' roles: it needs CREATEROLE" in line
    assert not (node.data_dir / "bootstrap.yaml").exists()


def _denied(url: str, sql: str) -> bool:
    try:
        query(url, sql)
    except asyncpg.InsufficientPrivilegeError:
        return True
    return False


def test_a_role_cannot_touch_another_services_tables(
    server: PrivatePostgres, tmp_path: Path
) -> None:
    url = new_database(server)
    node = Node(tmp_path / "node")
    assert configure(node, url, answers=f"{PASSWORD}\n").returncode == 0
    roles = roles_of(node)
    for service, entry in roles.items():
        as_role = with_password(url, entry["role"], entry["password"])
        for other, (table, write) in TABLES.items():
            if other == service:  # its own: read and write
                query(as_role, write.format(t=table))
                query(as_role, f"SELECT * FROM {table}")
                continue
            assert _denied(as_role, f"SELECT * FROM {table}"), (service, table)
            assert _denied(as_role, write.format(t=table)), (service, table)
        # Nobody but the owner reads the roles' passwords, writes the configuration or
        # makes tables, even in its own schema.
        assert _denied(as_role, "SELECT * FROM snapproxy.service_roles")
        assert _denied(as_role, "DELETE FROM snapproxy.config")
        assert _denied(as_role, "DELETE FROM snapproxy.suite_secrets")
        assert _denied(as_role, f"CREATE TABLE {SERVICE_ROLES[service]}.mine (a int)")
        assert _denied(as_role, "CREATE TABLE public.mine (a int)")
        # What every service reads.
        assert query(as_role, "SELECT count(*) FROM snapproxy.config")[0][0] == 0
        assert len(query(as_role, "SELECT value FROM snapproxy.suite_secrets")) == 1


def test_a_second_node_reuses_the_roles(server: PrivatePostgres, tmp_path: Path) -> None:
    url = new_database(server)
    first, second = Node(tmp_path / "first"), Node(tmp_path / "second")
    assert configure(first, url, answers=f"{PASSWORD}\n").returncode == 0
    result = configure(second, with_password(url, OWNER, PASSWORD), answers="")
    assert result.returncode == 0, result.stderr
    assert AUTH_ERROR.format(user=OWNER) not in result.stdout
    assert roles_of(second) == roles_of(first)


def test_services_connect_as_their_own_roles(server: PrivatePostgres, tmp_path: Path) -> None:
    """Each service's settings carry its role's URL, not the owner's password."""
    from shared.config.load import configured_settings

    url = new_database(server)
    node = Node(tmp_path / "node")
    assert configure(node, url, answers=f"{PASSWORD}\n").returncode == 0
    roles = roles_of(node)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SNAPPROXY_DATA_DIR", str(node.data_dir))
        patch.delenv("SNAPPROXY_DATABASE_URL", raising=False)
        for service, role in SERVICE_ROLES.items():
            settings = configured_settings(service=service)
            assert settings.database_url == with_password(url, role, roles[service]["password"])
            assert PASSWORD not in str(settings.layers)
        # The environment still names a container's database.
        patch.setenv("SNAPPROXY_DATABASE_URL", with_password(url, OWNER, PASSWORD))
        from_environment = configured_settings(service="auth").database_url
        assert from_environment == with_password(url, OWNER, PASSWORD)


def test_create_database_makes_what_the_guides_sql_makes(
    server: PrivatePostgres, tmp_path: Path
) -> None:
    node = Node(tmp_path / "node")
    superuser = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
    result = node.run(
        "create-database",
        superuser,
        "--user",
        "store-owner",
        "--database",
        "store-db",
        stdin="chosen-secret\n",
        spawn=True,
    )
    assert result.returncode == 0, result.stderr
    url = f"postgresql://store-owner@127.0.0.1:{server.port}/store-db"
    assert result.stdout.splitlines() == [
        "Created database user store-owner (LOGIN, CREATEROLE); database store-db, owned by "
        "it, created.",
        f'Next: snap-proxy config proxy.db.connection="{url}"',
    ]
    assert "chosen-secret" not in result.stdout + result.stderr
    rows = query(
        server.admin_dsn,
        "SELECT rolcanlogin, rolcreaterole, rolsuper, pg_get_userbyid(datdba) AS owner "
        "FROM pg_roles, pg_database WHERE rolname = 'store-owner' AND datname = 'store-db'",
    )
    assert [tuple(row) for row in rows] == [(True, True, False, "store-owner")]
    # The line it prints is the next step: the guide's prompt, then the roles.
    configured = configure(node, url, answers="chosen-secret\n")
    assert configured.returncode == 0, configured.stderr
    assert configured.stdout.splitlines()[-1] == "Configured database for snapdownloads role."
    # Run again: the role gets the new password, the database is kept.
    again = node.run(
        "create-database",
        superuser,
        "--user",
        "store-owner",
        "--database",
        "store-db",
        stdin="another\n",
        spawn=True,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Set the password of database user store-owner")
    assert query(url.replace("owner@", "owner:another@"), "SELECT 1")[0][0] == 1


def test_create_database_needs_a_superuser(server: PrivatePostgres, tmp_path: Path) -> None:
    node = Node(tmp_path / "node")
    url = f"postgresql://{OWNER}:{PASSWORD}@127.0.0.1:{server.port}/postgres"
    result = node.run("create-database", url, stdin="x\n", spawn=True)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"snap-proxy: error: database user {OWNER} may not create roles and databases: give a "
        "superuser's URL (or run docs/database.md's SQL as one)"
    )


def _wait_healthy(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{what} exited with {process.returncode}"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/_status/check", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{what} did not become healthy on port {port}")


@pytest.mark.timeout(600)  # two servers start, on a loaded machine
def test_running_services_log_in_as_their_roles(server: PrivatePostgres, tmp_path: Path) -> None:
    """`serve` (one engine per service) and `serve-service` connect as the services' roles,
    never as the owner, with nothing but the bootstrap file to go by."""
    url = new_database(server)
    node = Node(tmp_path / "node")
    assert configure(node, url, answers=f"{PASSWORD}\n").returncode == 0
    embedded, alone = free_port(), free_port()
    env = proxy_env(SNAPPROXY_DATA_DIR=str(node.data_dir), SNAPPROXY_CHECK_TIMEOUT="10")
    commands = {
        "serve": [*SNAP_PROXY, "serve", "--port", str(embedded)],
        "serve-service auth": [*SNAP_PROXY, "serve-service", "auth", "--port", str(alone)],
    }
    processes = {
        name: subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for name, command in commands.items()
    }
    try:
        _wait_healthy(embedded, processes["serve"], "serve")
        _wait_healthy(alone, processes["serve-service auth"], "serve-service auth")
        database = url.rsplit("/", 1)[1]
        sessions = query(
            server.admin_dsn,
            "SELECT usename, application_name FROM pg_stat_activity WHERE datname = $1",
            database,
        )
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(30)
    users = {row["usename"] for row in sessions}
    assert users == set(SERVICE_ROLES.values()), sessions
    by_application = {(row["application_name"], row["usename"]) for row in sessions}
    assert ("auth", "snapauth") in by_application  # serve-service auth, and serve's engine
    assert ("downloads", "snapdownloads") in by_application
