"""What the download-cache tests share (tests/cache, tests/security, tests/reliability,
bench): proxies tuned for fast faults, test snaps published on the simulator, downloads as a
client sees them, and the cache's consistency."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.assertions import sha3_384_file
from tests.support import infra
from tests.support.proxies import ADMIN_TOKEN, EmbeddedProxy, ProxyUnderTest
from tests.support.sim import SimHandle
from tools.snap_store_sim.layout import DataDir
from tools.snap_store_sim.publish import add_snap

KIB = 1024
MIB = 1024 * KIB

# A stalled upstream read fails after 2 s; a fill owner that stops beating for 3 s is
# replaced. The read timeout is the shorter so a live owner never loses its lease.
LEASE_TIMEOUT, READ_TIMEOUT = 3, 2
# Hit and miss counters are batched in each downloads process and written this often; the
# stats read after two intervals, so every replica has written what it counted.
COUNTER_FLUSH = 0.2
FAST_FAULTS = {
    "SNAPPROXY_FILL_LEASE_TIMEOUT": str(LEASE_TIMEOUT),
    "SNAPPROXY_BLOB_READ_TIMEOUT": str(READ_TIMEOUT),
    "SNAPPROXY_COUNTER_FLUSH_INTERVAL": str(COUNTER_FLUSH),
    "SNAPPROXY_LOG_LEVEL": "info",
}


@dataclass(frozen=True)
class Blob:
    """One snap revision published on the simulator, as a test needs it."""

    name: str
    snap_id: str
    revision: int
    size: int
    sha3_384: str
    file: str  # the simulator's blob name, the key of /_sim/stats "blobs"
    path: Path  # the simulator's copy: the reference bytes

    @property
    def url_path(self) -> str:
        """The proxy download URL's path (what devicegw hands out)."""
        return f"/api/v1/snaps/download/{self.snap_id}_{self.revision}.snap"

    def content(self) -> bytes:
        return self.path.read_bytes()


def publish(sim: SimHandle, size: int, prefix: str = "cache", private: bool = False) -> Blob:
    """Add a fresh snap of ``size`` bytes to the (running) simulator's catalogue (private:
    visible only to requests with credentials the simulator accepts).

    ``snap-store-sim add-snap`` in-process: the same code as the CLI, without a second
    interpreter start per snap."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    snap, rev = add_snap(
        DataDir(sim.data_dir), name, size=size, channels=["latest/stable"], private=private
    )
    assert rev.size is not None and rev.sha3_384 is not None, "add_snap built the blob"
    return Blob(
        name=snap.name,
        snap_id=snap.snap_id,
        revision=rev.revision,
        size=rev.size,
        sha3_384=rev.sha3_384,
        file=rev.file,
        path=sim.data_dir / "snaps" / rev.file,
    )


def blob_fetches(sim: SimHandle, blob: Blob) -> int:
    """How many times the simulator's CDN was asked for the blob since the last reset."""
    return int(sim.stats()["blobs"].get(blob.file, {}).get("requests", 0))


def blob_bytes_sent(sim: SimHandle, blob: Blob) -> int:
    return int(sim.stats()["blobs"].get(blob.file, {}).get("bytes", 0))


@contextlib.contextmanager
def running_fast_embedded(
    data_dir: Path, upstream: SimHandle, **env: str
) -> Iterator[ProxyUnderTest]:
    """``snap-proxy serve`` (SQLite, in-process cache) on ``data_dir``, fast faults."""
    proxy = EmbeddedProxy(
        data_dir,
        SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN,
        **(upstream.proxy_env() | FAST_FAULTS | env),
    )
    proxy.start()
    try:
        yield ProxyUnderTest(
            "embedded", proxy.url, data_dir, embedded=proxy, counter_flush=COUNTER_FLUSH
        )
    finally:
        proxy.stop()


@contextlib.contextmanager
def running_fast_split(
    base: Path, upstream: SimHandle, replicas: int, **env: str
) -> Iterator[ProxyUnderTest]:
    """The split topology on a fresh PostgreSQL database and a memcached of its own, with
    ``replicas`` downloads processes, fast faults."""
    with _fast_split(base, upstream, replicas, False, env) as proxy:
        yield proxy


@contextlib.contextmanager
def running_fast_nodes(
    base: Path, upstream: SimHandle, nodes: int, **env: str
) -> Iterator[ProxyUnderTest]:
    """As :func:`running_fast_split`, each downloads process a node of its own: its own
    data directory and node URL, no disk shared (``env`` sets the S3 backend)."""
    with _fast_split(base, upstream, nodes, True, env) as proxy:
        yield proxy


@contextlib.contextmanager
def _fast_split(
    base: Path, upstream: SimHandle, replicas: int, nodes: bool, env: dict[str, str]
) -> Iterator[ProxyUnderTest]:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    settings = upstream.proxy_env() | {"SNAPPROXY_ADMIN_TOKEN": ADMIN_TOKEN} | FAST_FAULTS | env
    with infra.running_split(
        base / "run",
        base / "data",
        settings,
        replicas={"downloads": replicas},
        downloads_nodes=nodes,
    ) as topology:
        yield ProxyUnderTest(
            "split",
            topology.gateway_url,
            base / "data",
            services=topology.service_urls,
            topology=topology,
            counter_flush=COUNTER_FLUSH,
        )


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, every: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy; its last value (falsy on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def assert_cache_consistent(proxy: ProxyUnderTest, *, settle: float = 10.0) -> dict[str, Path]:
    """Every committed file is whole and verified, and the entries API says exactly that:

    * each file under ``blobs/`` hashes to the SHA3-384 it is named after;
    * each entry has its file, of the recorded size; no file lacks an entry;
    * no fill is left behind in ``partial/`` (waits up to ``settle`` seconds for fills
      that are still failing or finishing).
    """
    wait_for(lambda: not proxy.partial_files(), settle)
    assert proxy.partial_files() == [], "a fill left a partial file behind"
    files = proxy.blob_files()
    for digest, path in files.items():
        assert sha3_384_file(path)[0] == digest, f"stored blob {path} does not hash to its name"
    entries = {e["sha3-384"]: e for e in proxy.entries()}
    assert set(entries) == set(files), "the entries API and the files on disk disagree"
    for digest, entry in entries.items():
        assert files[digest].stat().st_size == entry["size"]
    return files


@dataclass
class Fetched:
    """One HTTP download as a client saw it: status, body, and how the body ended."""

    status: int | None
    headers: dict[str, str]
    body: bytes
    error: str | None  # a transport error (connection cut, short body), if any

    @property
    def complete(self) -> bool:
        return self.error is None and self.status in (200, 206)


def fetch(
    client: httpx.Client,
    path: str,
    headers: dict[str, str] | None = None,
    stop_after: int | None = None,
) -> Fetched:
    """GET ``path`` and read the body (at most ``stop_after`` bytes, then hang up)."""
    body = bytearray()
    status, got_headers = None, {}
    try:
        with client.stream("GET", path, headers=headers) as response:
            status, got_headers = response.status_code, dict(response.headers)
            for chunk in response.iter_raw():
                body += chunk
                if stop_after is not None and len(body) >= stop_after:
                    del body[stop_after:]
                    return Fetched(status, got_headers, bytes(body), "hung up")
    except httpx.HTTPError as exc:
        return Fetched(status, got_headers, bytes(body), f"{type(exc).__name__}: {exc}")
    return Fetched(status, got_headers, bytes(body), None)


def expected_range(size: int, header: str) -> tuple[int, int] | None:
    """What RFC 9110 says a single ``bytes=`` range selects: (first, last) inclusive, or
    None when it is unsatisfiable."""
    first_text, _, last_text = header.removeprefix("bytes=").partition("-")
    if not first_text:
        length = int(last_text)
        return (max(size - length, 0), size - 1) if length > 0 else None
    first = int(first_text)
    if first >= size:
        return None
    last = min(int(last_text), size - 1) if last_text else size - 1
    return first, last


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``path`` for the duration (skips where mounting fails)."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        for _ in range(50):
            if subprocess.run(["umount", str(path)], check=False).returncode == 0:
                break
            time.sleep(0.1)
