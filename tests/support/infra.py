"""Real infrastructure for tests: PostgreSQL databases, memcached and disposable servers."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from shared import migrate
from shared.settings import Settings
from shared.split import SplitTopology, free_port

PG_ADMIN_DSN = os.environ.get(
    "SNAPPROXY_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PG_BIN = (
    Path("/usr/lib/postgresql")
    / (
        sorted(os.listdir("/usr/lib/postgresql"))[-1]
        if Path("/usr/lib/postgresql").exists()
        else "15"
    )
    / "bin"
)


def wait_port(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


async def _admin(sql: str, dsn: str = PG_ADMIN_DSN) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def fresh_database(admin_dsn: str = PG_ADMIN_DSN, prefix: str = "snapproxy_test") -> Iterator[str]:
    """A new, empty PostgreSQL database for the duration; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"', admin_dsn))
    base = admin_dsn.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin_dsn))


def _database_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


def terminate_connections(url: str, admin_dsn: str = PG_ADMIN_DSN) -> None:
    """``pg_terminate_backend`` on every connection to the database of ``url`` (a blip)."""
    name = _database_name(url)
    asyncio.run(
        _admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()",
            admin_dsn,
        )
    )


def allow_connections(url: str, allowed: bool, admin_dsn: str = PG_ADMIN_DSN) -> None:
    """Let clients connect to the database of ``url``, or not (existing ones are cut off too),
    as if its server were down."""
    name = _database_name(url)
    asyncio.run(
        _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}', admin_dsn)
    )
    if not allowed:
        terminate_connections(url, admin_dsn)


def query(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    """Rows of one SQL query on the database of ``url`` (asyncpg's ``$1`` parameters)."""

    async def run() -> list[asyncpg.Record]:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            return list(await connection.fetch(sql, *args))
        finally:
            await connection.close()

    return asyncio.run(run())


@dataclass
class Memcached:
    """A memcached server of our own on a free loopback port."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("memcached") or "/usr/bin/memcached"
        self.process = subprocess.Popen(
            [
                binary,
                "-l",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "0",
                "-m",
                "64",
                "-u",
                "nobody",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@dataclass
class PrivatePostgres:
    """A disposable PostgreSQL server (its own data dir and port), to stop and start in tests."""

    data_dir: Path
    port: int

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self, password_auth: bool = False) -> None:
        """``password_auth``: every user but postgres logs in with a password (SCRAM), as on a
        server where an admin follows the Snap Store Proxy's guide."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, "postgres", "postgres")
            shutil.chown(self.data_dir.parent, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust", "-N")
        if password_auth:
            (self.data_dir / "pg_hba.conf").write_text(
                "local all postgres trust\n"
                "host all postgres 127.0.0.1/32 trust\n"
                "host all all 127.0.0.1/32 scram-sha-256\n"
            )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-w",
            "-l",
            str(self.data_dir / "server.log"),
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")


def new_private_postgres(base: Path, password_auth: bool = False) -> PrivatePostgres:
    server = PrivatePostgres(data_dir=base / "pgdata", port=free_port())
    server.init(password_auth)
    server.start()
    return server


@contextmanager
def private_password_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of the caller's own where every user but postgres logs in with a
    password (a directory the postgres user can reach, removed after)."""
    base = Path(tempfile.mkdtemp(prefix="snapproxy-pg-"))
    server = new_private_postgres(base, password_auth=True)
    try:
        yield server
    finally:
        with suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


def proxy_env(**values: str) -> dict[str, str]:
    """The process environment with SNAPPROXY_* replaced by ``values`` only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAPPROXY_")}
    env.update(values)
    return env


@contextmanager
def running_split(
    workdir: Path,
    data_dir: Path,
    settings: Mapping[str, str] | None = None,
    *,
    replicas: dict[str, int] | None = None,
    db_prefix: str = "snapproxy_test",
    downloads_nodes: bool = False,
    **env: str,
) -> Iterator[SplitTopology]:
    """The split topology on a fresh PostgreSQL database and a memcached of its own, with
    the ``SNAPPROXY_*`` ``settings`` (a mapping) and ``env`` (by name)."""
    memcached = Memcached(port=free_port())
    memcached.start()
    try:
        with fresh_database(prefix=db_prefix) as url:
            migrate.upgrade(Settings(database_url=url))
            topology = SplitTopology(
                workdir=workdir,
                extra_env=proxy_env(
                    **{
                        "SNAPPROXY_DATABASE_URL": url,
                        "SNAPPROXY_MEMCACHED": memcached.address,  # "" in settings: none
                        "SNAPPROXY_DATA_DIR": str(data_dir),
                        **(settings or {}),
                        **env,
                    }
                ),
                replicas=replicas,
                downloads_nodes=downloads_nodes,
            )
            try:
                topology.start()
                yield topology
            finally:
                topology.stop()
    finally:
        memcached.stop()
