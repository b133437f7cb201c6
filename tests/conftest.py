"""Fixtures with real parts: PostgreSQL databases, memcached, the suite's processes."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared import migrate
from shared.settings import Settings
from shared.split import free_port, wait_http_ok
from tests.support.infra import (
    Memcached,
    PrivatePostgres,
    fresh_database,
    new_private_postgres,
    proxy_env,
)

REPO = Path(__file__).resolve().parent.parent
SNAP_PROXY = [sys.executable, "-m", "shared.cli"]


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


class EmbeddedProxy:
    """``snap-proxy serve`` as a real process, like ``make run``."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.env = proxy_env(SNAPPROXY_DATA_DIR=str(data_dir), SNAPPROXY_PORT=str(self.port), **env)
        self.log_path = data_dir / "serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [*SNAP_PROXY, "db", "upgrade"], env=self.env, check=True, capture_output=True
        )
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*SNAP_PROXY, "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        if not wait_http_ok(f"{self.url}/_status/ping", 30, self.process):
            raise RuntimeError(f"snap-proxy serve did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


@pytest.fixture(scope="session")
def embedded_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedProxy]:
    proxy = EmbeddedProxy(tmp_path_factory.mktemp("embedded"))
    proxy.start()
    yield proxy
    proxy.stop()
