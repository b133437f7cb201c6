"""Fixtures with real parts: PostgreSQL databases, memcached, the suite's processes."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared import migrate
from shared.settings import Settings
from shared.split import free_port, use_port_range
from tests.support.infra import (
    Memcached,
    PrivatePostgres,
    fresh_database,
    new_private_postgres,
)
from tests.support.proxies import EmbeddedProxy

pytest_plugins = ["tests.support.fixtures"]

REPO = Path(__file__).resolve().parent.parent

# Below the kernel's ephemeral range (32768 and up), so no kernel-picked port lands in them,
# and above the compose stack's fixed ports (tests/compose/docker-compose.ci.yml: 18001 to
# 18432). ``SNAPPROXY_TEST_PORTS=FIRST-LAST`` gives a run other ones (.ci/run runs the compose
# test beside the rest, each on ports of its own).
TEST_PORTS = (19000, 32000)
TEST_PORTS_VARIABLE = "SNAPPROXY_TEST_PORTS"


def ports_of_this_run() -> tuple[int, int]:
    given = os.environ.get(TEST_PORTS_VARIABLE)
    if not given:
        return TEST_PORTS
    first, _, last = given.partition("-")
    return int(first), int(last)


def pytest_configure(config: pytest.Config) -> None:
    """Each test worker takes its ports from a range of its own: two workers starting
    topologies at once never pick the same port (see ``shared.split.use_port_range``)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker.removeprefix("gw")) if worker.startswith("gw") else 0
    lowest, highest = ports_of_this_run()
    share = (highest - lowest) // max(workers, 1)
    first = lowest + index * share
    use_port_range(first, first + share - 1)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the run, migrated with Alembic."""
    with fresh_database() as url:
        migrate.upgrade(Settings(database_url=url))
        yield url


@pytest.fixture(scope="session")
def memcached_server() -> Iterator[Memcached]:
    server = Memcached(port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def memcached_private() -> Iterator[Memcached]:
    """A memcached of the test's own, which the test may stop and start."""
    server = Memcached(port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of the test's own, which the test may stop and start."""
    base = Path(tempfile.mkdtemp(prefix="snapproxy-pg-"))
    server = new_private_postgres(base)
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def embedded_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedProxy]:
    proxy = EmbeddedProxy(tmp_path_factory.mktemp("embedded"))
    proxy.start()
    yield proxy
    proxy.stop()
