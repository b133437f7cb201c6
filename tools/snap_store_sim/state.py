"""State shared by the API server, the CDN and the background builder."""

from __future__ import annotations

import asyncio
import copy
import logging
import secrets
import threading
from dataclasses import dataclass, field

from .access import load_secret
from .assertstore import AssertStore
from .builder import terminate_builds
from .catalogue import Catalogue, CatalogueStore
from .faults import FaultState
from .layout import DataDir
from .publish import build_revision, finish_build
from .registrar import DEFAULT_REGISTRAR, Registrar
from .signing import Authority
from .stats import Stats

log = logging.getLogger("snap_store_sim")
BUILD_WAIT_LIMIT = 600.0


class BuildQueue:
    """Builds pending (lazy) revisions in a background thread."""

    def __init__(self, data: DataDir, authority: Authority) -> None:
        self.data = data
        self.authority = authority
        self.store = CatalogueStore(data)
        self.errors: dict[str, str] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="snapsim-builder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        terminate_builds()

    def _run(self) -> None:
        while not self._stop.is_set():
            for snap, rev in self.store.get().pending():
                if self._stop.is_set() or rev.file in self.errors:
                    continue
                snap_copy, rev_copy = copy.deepcopy(snap), copy.deepcopy(rev)
                try:
                    build_revision(self.data, self.authority, snap_copy, rev_copy)
                    finish_build(self.store, snap.name, rev_copy)
                except Exception as exc:  # keep serving; waiters get the error
                    if self._stop.is_set():
                        return
                    log.exception("building %s failed", rev.file)
                    self.errors[rev.file] = str(exc)
            self._wake.wait(1.0)
            self._wake.clear()


@dataclass
class SimState:
    data: DataDir
    catalogue_store: CatalogueStore
    asserts: AssertStore
    faults: FaultState = field(default_factory=FaultState)
    stats: Stats = field(default_factory=Stats)
    cdn_port: int = 0
    cdn_url: str | None = None  # public CDN base URL; default: API host with cdn_port
    builds: BuildQueue | None = None
    authority: Authority | None = None  # signs store assertions (registration.py)
    registrar: Registrar = field(default_factory=lambda: Registrar.parse(DEFAULT_REGISTRAR))
    # Keys device sessions and private-blob grants (access.py): the data dir's, via open().
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    @classmethod
    def open(cls, data: DataDir) -> SimState:
        return cls(data, CatalogueStore(data), AssertStore(data.asserts), secret=load_secret(data))

    def catalogue(self) -> Catalogue:
        return self.catalogue_store.get()

    async def wait_built(self, files: set[str]) -> Catalogue:
        """Wait until none of ``files`` is pending; raise TimeoutError or RuntimeError."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BUILD_WAIT_LIMIT
        while True:
            catalogue = self.catalogue()
            waiting = {rev.file for _snap, rev in catalogue.pending()} & files
            if not waiting:
                return catalogue
            failed = [name for name in waiting if self.builds and name in self.builds.errors]
            if failed:
                raise RuntimeError(f"building {failed[0]} failed")
            if loop.time() > deadline:
                raise TimeoutError(f"{sorted(waiting)} still building")
            await asyncio.sleep(0.05)
