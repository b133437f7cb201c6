"""Start-up failures are one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess

import pytest

from tests.conftest import SNAP_PROXY, proxy_env


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
    for command in ("serve", "serve-service", "run-split", "db", "status", "check-connections"):
        assert command in result.stdout


def test_check_connections(tmp_path, pg_url, memcached_server):
    result = run_cli(
        "check-connections",
        SNAPPROXY_DATABASE_URL=pg_url,
        SNAPPROXY_MEMCACHED=memcached_server.address,
        SNAPPROXY_UPSTREAM_URL="http://127.0.0.1:1",
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "postgres: 127.0.0.1: OK"
    assert lines[1] == f"memcached: {memcached_server.address}: OK"
    assert lines[2].startswith("upstream: http://127.0.0.1:1: FAILED")
    assert lines[-1].startswith("Cannot reach: upstream")
    assert result.returncode == 1


def test_check_connections_all_ok(tmp_path, pg_url, memcached_server, embedded_proxy):
    result = run_cli(
        "check-connections",
        SNAPPROXY_DATABASE_URL=pg_url,
        SNAPPROXY_MEMCACHED=memcached_server.address,
        SNAPPROXY_UPSTREAM_URL=embedded_proxy.url,
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[-1] == "All connections appear to be accessible"
