"""A load of well-behaved device clients, each checking what it gets.

:class:`DeviceLoad` runs N client threads against a proxy, each looping over its own kind of
request (info, refresh, or a cached download checked against its SHA3-384) on a keep-alive
connection, and records every outcome with its time, so a test can say what happened while a
fault was on and after it was lifted.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx

from tests.support.device_api import REFRESH, install, refresh_body
from tests.support.proxies import DEVICE_HEADERS

KINDS = ("info", "refresh", "download")


@dataclass(frozen=True)
class Outcome:
    kind: str
    started: float
    ended: float
    status: int | None
    complete: bool  # the whole body arrived (False: the connection broke or was cut)
    right: bool  # a download's bytes had the expected SHA3-384 (True for other kinds)
    retry_after: bool
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.complete and self.right and self.status is not None and self.status < 400


@dataclass(frozen=True)
class Download:
    path: str
    sha3_384: str


@dataclass
class DeviceLoad:
    url: str
    snaps: Sequence[str]  # names for info and refresh
    downloads: Sequence[Download]  # cached blobs, checked byte for byte
    clients: int = 50
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        for index in range(self.clients):
            kind = KINDS[index % len(KINDS)]
            thread = threading.Thread(target=self._run, args=(index, kind), daemon=True)
            self._threads.append(thread)
            thread.start()

    def stop(self) -> list[Outcome]:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        return self.outcomes

    def between(self, start: float, end: float) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if start <= o.started < end]

    def _record(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append(outcome)

    def _run(self, index: int, kind: str) -> None:
        requests: dict[str, Callable[[httpx.Client, int], Outcome]] = {
            "info": self._info,
            "refresh": self._refresh,
            "download": self._download,
        }
        with httpx.Client(base_url=self.url, timeout=30, headers=DEVICE_HEADERS) as client:
            turn = index
            while not self._stop.is_set():
                self._record(requests[kind](client, turn))
                turn += 1
                time.sleep(0.02)

    def _json(self, kind: str, send: Callable[[], httpx.Response]) -> Outcome:
        started = time.monotonic()
        try:
            response = send()
        except httpx.HTTPError as exc:
            return Outcome(kind, started, time.monotonic(), None, False, True, False, repr(exc))
        right = True
        if response.status_code == 200:
            try:
                response.json()
            except ValueError:
                right = False
        return Outcome(
            kind,
            started,
            time.monotonic(),
            response.status_code,
            True,
            right,
            "retry-after" in response.headers,
        )

    def _info(self, client: httpx.Client, turn: int) -> Outcome:
        name = self.snaps[turn % len(self.snaps)]
        return self._json("info", lambda: client.get(f"/v2/snaps/info/{name}"))

    def _refresh(self, client: httpx.Client, turn: int) -> Outcome:
        name = self.snaps[turn % len(self.snaps)]
        body = refresh_body([install(name, "install-1", channel="stable")])
        return self._json("refresh", lambda: client.post(REFRESH, json=body))

    def _download(self, client: httpx.Client, turn: int) -> Outcome:
        blob = self.downloads[turn % len(self.downloads)]
        return fetch_checked(client, blob.path, blob.sha3_384, "download")


def fetch_checked(client: httpx.Client, path: str, sha3_384: str, kind: str) -> Outcome:
    """GET a blob, hashing it as it comes: complete, and right or not."""
    started = time.monotonic()
    digest = hashlib.sha3_384()
    status: int | None = None
    retry_after = False
    try:
        with client.stream("GET", path) as response:
            status, retry_after = response.status_code, "retry-after" in response.headers
            for chunk in response.iter_raw():
                digest.update(chunk)
    except httpx.HTTPError as exc:
        return Outcome(kind, started, time.monotonic(), status, False, True, retry_after, repr(exc))
    right = status != 200 or digest.hexdigest() == sha3_384
    return Outcome(kind, started, time.monotonic(), status, True, right, retry_after)
