"""Start-up failures are one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess

import pytest

from shared.split import free_port
from tests.support.infra import Memcached, fresh_database, proxy_env
from tests.support.proxies import SNAP_PROXY


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SNAP_PROXY, *args], env=proxy_env(**env), capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("command", [("serve",), ("serve-service", "auth"), ("db", "upgrade")])
@pytest.mark.parametrize("url", ["not-a-url", "mysql://root@localhost/x"])
def test_malformed_database_url(tmp_path, command, url):
    result = run_cli(*command, SNAPPROXY_DATABASE_URL=url, SNAPPROXY_DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SNAPPROXY_DATABASE_URL" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize("command", [("serve",), ("serve-service", "devicegw"), ("db", "upgrade")])
def test_unreachable_database(tmp_path, command):
    extra = ("--wait", "1") if command[0] == "db" else ()
    result = run_cli(
        *command,
        *extra,
        SNAPPROXY_DATABASE_URL="postgresql://snapproxy@127.0.0.1:1/snapproxy",
        SNAPPROXY_DATA_DIR=str(tmp_path),
        SNAPPROXY_STARTUP_DB_WAIT="1",
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "cannot reach the database of SNAPPROXY_DATABASE_URL" in lines[0]
    assert "127.0.0.1:1" in lines[0]


def test_unmigrated_database_says_what_to_run(tmp_path):
    result = run_cli("serve", SNAPPROXY_DATA_DIR=str(tmp_path), SNAPPROXY_PORT="1")
    assert result.returncode == 1
    assert "run `snap-proxy db upgrade` first" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_memcached_setting(tmp_path):
    result = run_cli("serve", SNAPPROXY_MEMCACHED="nohost", SNAPPROXY_DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SNAPPROXY_MEMCACHED" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_service(tmp_path):
    result = run_cli("serve-service", "nope", SNAPPROXY_DATA_DIR=str(tmp_path))
    assert result.returncode == 2
    assert "unknown service 'nope'" in result.stderr


def test_help_lists_the_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    commands = ("serve", "serve-service", "run-split", "db", "status", "check-connections")
    for command in (*commands, "devices", "config"):
        assert command in result.stdout


def test_check_connections_all_ok(tmp_path, pg_url, memcached_server, embedded_proxy):
    """One line per upstream URL, database and memcached server, in the guide's words."""
    second = Memcached(port=free_port())
    second.start()
    try:
        result = run_cli(
            "check-connections",
            SNAPPROXY_DATA_DIR=str(tmp_path),
            SNAPPROXY_DATABASE_URL=pg_url,
            SNAPPROXY_MEMCACHED=f"{memcached_server.address},{second.address}",
            SNAPPROXY_UPSTREAM_URL=embedded_proxy.url,
        )
    finally:
        second.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"http: {embedded_proxy.url}: OK",
        "postgres: 127.0.0.1: OK",
        f"memcached: {memcached_server.address}: OK",
        f"memcached: {second.address}: OK",
        "All connections appear to be accessible",
    ]


def test_check_connections_names_each_failure(tmp_path, pg_url, memcached_private):
    """A stopped memcached, a database that does not exist and an upstream that refuses:
    each its own line, and a non-zero exit."""
    memcached_private.stop()
    wrong_database = pg_url.rsplit("/", 1)[0] + "/snapproxy_no_such_database"
    result = run_cli(
        "check-connections",
        SNAPPROXY_DATA_DIR=str(tmp_path),
        SNAPPROXY_DATABASE_URL=wrong_database,
        SNAPPROXY_MEMCACHED=memcached_private.address,
        SNAPPROXY_UPSTREAM_URL="http://127.0.0.1:1",
        SNAPPROXY_DB_CONNECT_TIMEOUT="2",
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "http: http://127.0.0.1:1: FAILED: cannot reach the upstream store: "
        "[Errno 111] Connection refused"
    )
    assert lines[1].startswith("postgres: 127.0.0.1: FAILED: ")
    assert "snapproxy_no_such_database" in lines[1] and "does not exist" in lines[1]
    assert lines[2] == (
        f"memcached: {memcached_private.address}: FAILED: [Errno 111] Connection refused"
    )
    assert lines[3].startswith("Cannot reach: http http://127.0.0.1:1, postgres 127.0.0.1")
    assert "All connections appear to be accessible" not in result.stdout


def test_check_connections_fails_on_the_database_alone(tmp_path, embedded_proxy):
    result = run_cli(
        "check-connections",
        SNAPPROXY_DATA_DIR=str(tmp_path),
        SNAPPROXY_DATABASE_URL="postgresql://postgres@127.0.0.1:1/snapproxy",
        SNAPPROXY_UPSTREAM_URL=embedded_proxy.url,
        SNAPPROXY_DB_CONNECT_TIMEOUT="2",
    )
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"http: {embedded_proxy.url}: OK"
    assert lines[1] == "postgres: 127.0.0.1: FAILED: [Errno 111] Connection refused"
    assert lines[2] == "memcached: not configured (in-process cache)"


def test_check_connections_on_a_database_not_migrated_yet(tmp_path, embedded_proxy):
    """The database answers, so the connection is fine; that its configuration cannot be
    read yet is a note, not a failure."""
    with fresh_database(prefix="snapproxy_unmigrated") as url:
        result = run_cli(
            "check-connections",
            SNAPPROXY_DATA_DIR=str(tmp_path),
            SNAPPROXY_DATABASE_URL=url,
            SNAPPROXY_UPSTREAM_URL=embedded_proxy.url,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[1] == "postgres: 127.0.0.1: OK"
    assert result.stdout.splitlines()[-1] == "All connections appear to be accessible"
    assert "run `snap-proxy db upgrade` first" in result.stderr
