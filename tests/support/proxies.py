"""Proxies under test, whatever the topology: ``snap-proxy serve`` as a process, and the
view a test has of a running proxy (embedded or split). The proxies of the download-cache
tests (fast faults, two downloads replicas) are started by ``tests/support/cache.py``."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from services.downloads.storage import is_retired
from shared.settings import Settings
from shared.split import SplitTopology, free_port, wait_http_ok
from tests.support.infra import proxy_env

SNAP_PROXY = [sys.executable, "-m", "shared.cli"]
ADMIN_TOKEN = "test-admin-token"
COUNTER_FLUSH_DEFAULT: float = Settings.model_fields["counter_flush_interval"].default
DEVICE_HEADERS = {
    "Snap-Device-Architecture": "amd64",
    "Snap-Device-Series": "16",
    "Snap-Classic": "true",
    "User-Agent": "snapd/2.57.6 (series 16; classic) debian/12 (amd64) linux/6.1",
}


class EmbeddedProxy:
    """``snap-proxy serve`` as a real process, like ``make run``."""

    def __init__(self, data_dir: Path, *serve_args: str, **env: str) -> None:
        self.serve_args = serve_args  # e.g. "--server", "uvicorn"
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
            [*SNAP_PROXY, "serve", *self.serve_args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if not wait_http_ok(f"{self.url}/_status/ping", 60, self.process):
            raise RuntimeError(f"snap-proxy serve did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


@dataclass
class ProxyUnderTest:
    """A running proxy (embedded or split), whatever the topology: what a test asks of it,
    and what it looks at behind its back (its admin API, its cache folder, its log)."""

    name: str
    url: str
    data_dir: Path
    # Each service's own address (split topology; empty when one process serves them all).
    services: dict[str, str] = field(default_factory=dict)
    embedded: EmbeddedProxy | None = None
    topology: SplitTopology | None = None
    # SNAPPROXY_COUNTER_FLUSH_INTERVAL it runs with: how long hit counts may wait unwritten.
    counter_flush: float = COUNTER_FLUSH_DEFAULT

    def client(self, **headers: str) -> httpx.Client:
        """A device's client (``headers`` added to or replacing its usual ones)."""
        return httpx.Client(base_url=self.url, timeout=60, headers={**DEVICE_HEADERS, **headers})

    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )

    def log(self) -> str:
        """What the proxy's processes logged (the downloads service's, when split)."""
        if self.embedded is not None:
            return self.embedded.log()
        assert self.topology is not None, f"{self.name}: no process of the test's to read"
        logs = sorted(self.topology.workdir.glob("downloads-*.log"))
        return "".join(path.read_text(errors="replace") for path in logs)

    # -- the cache admin API -------------------------------------------------------------

    def entries(self, name: str | None = None) -> list[dict[str, Any]]:
        with self.admin() as admin:
            response = admin.get("/v1/cache/entries", params={"name": name} if name else None)
            response.raise_for_status()
            return list(response.json()["entries"])

    def stats(self) -> dict[str, Any]:
        """The cache stats once every process has written the counts it batched."""
        time.sleep(2 * self.counter_flush)
        with self.admin() as admin:
            response = admin.get("/v1/cache/stats")
            response.raise_for_status()
            return dict(response.json())

    def snap_stats(self, name: str) -> dict[str, int]:
        zero = dict.fromkeys(
            (
                "hits",
                "misses",
                "bytes-from-cache",
                "bytes-from-upstream",
                "failed-fills",
                "bytes-relayed",
                "bytes-saved",
            ),
            0,
        )
        counts: dict[str, int] = self.stats()["snaps"].get(name, {})
        return zero | counts

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

    # -- the cache folder ----------------------------------------------------------------

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def _files_under_blobs(self, retired: bool) -> dict[str, Path]:
        found = {}
        for path in (self.cache_dir / "blobs").rglob("*.snap"):
            with contextlib.suppress(FileNotFoundError):  # deleted as we look
                if is_retired(path.stat()) == retired:
                    found[path.name.removesuffix(".snap")] = path
        return found

    def blob_files(self) -> dict[str, Path]:
        """sha3-384 -> committed file, from what is on disk under ``cache/blobs`` (an evicted
        blob's file, marked retired until it is deleted, is not one)."""
        return self._files_under_blobs(retired=False)

    def retired_files(self) -> dict[str, Path]:
        """sha3-384 -> the file of an evicted blob, not deleted yet."""
        return self._files_under_blobs(retired=True)

    def partial_files(self) -> list[Path]:
        return sorted((self.cache_dir / "partial").glob("*"))

    def stored_path(self, sha3_384: str) -> Path:
        return self.cache_dir / "blobs" / sha3_384[:2] / sha3_384[2:4] / f"{sha3_384}.snap"
