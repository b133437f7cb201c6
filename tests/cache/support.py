"""What the download-cache tests share: proxies under test, test snaps, cache inspection."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.split import SplitTopology
from tests.conftest import EmbeddedProxy
from tests.support import infra
from tests.support.sim import SimHandle
from tools.snap_store_sim.layout import DataDir
from tools.snap_store_sim.publish import add_snap

ADMIN_TOKEN = "cache-admin-token"
DEVICE_HEADERS = {
    "Snap-Device-Architecture": "amd64",
    "Snap-Device-Series": "16",
    "User-Agent": "snapd/2.57.6 (series 16; classic) debian/12 (amd64) linux/6.1",
}
KIB = 1024
MIB = 1024 * KIB

# A stalled upstream read fails after 2 s; a fill owner that stops beating for 3 s is
# replaced. The read timeout is the shorter so a live owner never loses its lease.
LEASE_TIMEOUT, READ_TIMEOUT = 3, 2
FAST_FAULTS = {
    "SNAPPROXY_FILL_LEASE_TIMEOUT": str(LEASE_TIMEOUT),
    "SNAPPROXY_BLOB_READ_TIMEOUT": str(READ_TIMEOUT),
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


def publish(sim: SimHandle, size: int, prefix: str = "cache") -> Blob:
    """Add a fresh snap of ``size`` bytes to the (running) simulator's catalogue.

    ``snap-store-sim add-snap`` in-process: the same code as the CLI, without a second
    interpreter start per snap."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    snap, rev = add_snap(DataDir(sim.data_dir), name, size=size, channels=["latest/stable"])
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


@dataclass
class CacheProxy:
    """A running proxy (embedded or split) plus what tests poke at behind its back."""

    name: str
    url: str
    data_dir: Path
    embedded: EmbeddedProxy | None = None
    topology: SplitTopology | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def client(self, timeout: float = 60, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout, headers=DEVICE_HEADERS | headers)

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )

    # -- the admin API -------------------------------------------------------------------

    def entries(self, name: str | None = None) -> list[dict[str, Any]]:
        with self.admin() as admin:
            response = admin.get("/v1/cache/entries", params={"name": name} if name else None)
            response.raise_for_status()
            return list(response.json()["entries"])

    def stats(self) -> dict[str, Any]:
        with self.admin() as admin:
            response = admin.get("/v1/cache/stats")
            response.raise_for_status()
            return dict(response.json())

    def snap_stats(self, name: str) -> dict[str, int]:
        zero = dict.fromkeys(
            ("hits", "misses", "bytes-from-cache", "bytes-from-upstream", "failed-fills"), 0
        )
        return zero | self.stats()["snaps"].get(name, {})

    def evict(self, name: str | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"name": name} if name else {"all": True}
        with self.admin() as admin:
            response = admin.post("/v1/cache/evict", json=body)
            response.raise_for_status()
            return list(response.json()["evicted"])

    def pin(self, name: str, pinned: bool = True) -> int:
        with self.admin() as admin:
            response = admin.post("/v1/cache/pin", json={"name": name, "pinned": pinned})
            response.raise_for_status()
            return int(response.json()["entries"])

    def log(self) -> str:
        """What the proxy's processes logged (the downloads service's, when split)."""
        if self.embedded is not None:
            return self.embedded.log_path.read_text(errors="replace")
        assert self.topology is not None
        logs = sorted(self.topology.workdir.glob("downloads-*.log"))
        return "".join(path.read_text(errors="replace") for path in logs)

    # -- the cache directory -------------------------------------------------------------

    def blob_files(self) -> dict[str, Path]:
        """sha3-384 -> committed file, from what is on disk under ``cache/blobs``."""
        return {p.name.removesuffix(".snap"): p for p in (self.cache_dir / "blobs").rglob("*.snap")}

    def partial_files(self) -> list[Path]:
        return sorted((self.cache_dir / "partial").glob("*"))

    def stored_path(self, sha3_384: str) -> Path:
        return self.cache_dir / "blobs" / sha3_384[:2] / sha3_384[2:4] / f"{sha3_384}.snap"


@contextlib.contextmanager
def running_embedded(data_dir: Path, upstream: SimHandle, **env: str) -> Iterator[CacheProxy]:
    """``snap-proxy serve`` (SQLite, in-process cache) on ``data_dir``."""
    proxy = EmbeddedProxy(
        data_dir,
        SNAPPROXY_UPSTREAM_URL=upstream.api_url,
        SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN,
        **(FAST_FAULTS | env),
    )
    proxy.start()
    try:
        yield CacheProxy("embedded", proxy.url, data_dir, embedded=proxy)
    finally:
        proxy.stop()


@contextlib.contextmanager
def running_split(
    base: Path, upstream: SimHandle, replicas: int, **env: str
) -> Iterator[CacheProxy]:
    """The split topology on a fresh PostgreSQL database and a memcached of its own."""
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    settings = {"SNAPPROXY_UPSTREAM_URL": upstream.api_url, "SNAPPROXY_ADMIN_TOKEN": ADMIN_TOKEN}
    with infra.running_split(
        base / "run",
        base / "data",
        replicas={"downloads": replicas},
        **settings,
        **(FAST_FAULTS | env),
    ) as topology:
        yield CacheProxy("split", topology.gateway_url, base / "data", topology=topology)


def sha3(data: bytes) -> str:
    return hashlib.sha3_384(data).hexdigest()


def file_sha3(path: Path) -> str:
    digest = hashlib.sha3_384()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, every: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy; its last value (falsy on timeout)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


def assert_cache_consistent(proxy: CacheProxy, *, settle: float = 10.0) -> dict[str, Path]:
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
        assert file_sha3(path) == digest, f"stored blob {path} does not hash to its name"
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
