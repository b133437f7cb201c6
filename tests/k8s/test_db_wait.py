"""`snap-proxy db wait`: the init container of every service pod in deploy/k8s. It waits for
the migration Job (it migrates nothing), proceeds once the schema is at its head, gives up
after its timeout, and stops at once on a schema newer than it knows."""

from __future__ import annotations

import asyncio
import subprocess
import time

import asyncpg
import pytest

from tests.support.infra import fresh_database, proxy_env
from tests.support.proxies import SNAP_PROXY


@pytest.fixture
def database_url():
    with fresh_database(prefix="snapproxy_k8s") as url:
        yield url


def snap_proxy(*args: str, url: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SNAP_PROXY, *args],
        env=proxy_env(SNAPPROXY_DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_waits_for_the_migration_then_proceeds(database_url):
    waiter = subprocess.Popen(
        [*SNAP_PROXY, "db", "wait", "--timeout", "60", "--interval", "0.2"],
        env=proxy_env(SNAPPROXY_DATABASE_URL=database_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert waiter.stdout is not None
        first = waiter.stdout.readline()
        assert "is at schema revision None" in first, first
        assert "waiting for `snap-proxy db upgrade`" in first
        time.sleep(0.5)
        assert waiter.poll() is None, "it went on before the schema was there"
        upgraded = snap_proxy("db", "upgrade", url=database_url)
        assert upgraded.returncode == 0, upgraded.stderr
        out, err = waiter.communicate(timeout=30)
    finally:
        waiter.kill()
        waiter.wait()
    assert waiter.returncode == 0, err
    head = upgraded.stdout.strip().rsplit(" ", 1)[1]
    assert out.strip().endswith(f"is at schema revision {head}")
    assert out.count("waiting for") == 0, "the same state is said once"


def test_gives_up_after_its_timeout(database_url):
    result = snap_proxy("db", "wait", "--timeout", "1", "--interval", "0.2", url=database_url)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("snap-proxy: error: gave up after 1 s: the database (")
    assert "schema revision None" in lines[0]


def test_an_unreachable_database_is_waited_for_and_named():
    url = "postgresql://snapproxy:hunter2@127.0.0.1:1/snapproxy"
    result = snap_proxy("db", "wait", "--timeout", "1", "--interval", "0.2", url=url)
    assert result.returncode == 1
    assert "cannot reach the database of SNAPPROXY_DATABASE_URL" in result.stderr
    assert "127.0.0.1:1" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_a_schema_newer_than_this_version_stops_it_at_once(database_url):
    assert snap_proxy("db", "upgrade", url=database_url).returncode == 0

    async def pretend_newer() -> None:
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute("UPDATE alembic_version SET version_num = 'f00d'")
        finally:
            await connection.close()

    asyncio.run(pretend_newer())
    # Waiting out its own timeout (600 s) would end in subprocess.TimeoutExpired.
    result = snap_proxy("db", "wait", "--timeout", "600", url=database_url, timeout=60)
    assert result.returncode == 1
    assert "schema revision f00d, which this version does not know" in result.stderr
