"""Overrides and the processes that apply them (caller: devices, through each devicegw
replica): a pin survives a restart (PostgreSQL when split, SQLite embedded), and every
devicegw replica applies a change, on its next request when they share memcached, within
``metadata.overrides-max-age`` (at most 5 s) when they do not."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from services.devicegw.overrides import OverrideBook
from shared.cache import MemoryCache
from shared.overrides_api import GENERATION_KEY, OverridesClient, OverrideSnapshot, PinnedRevision
from tests.support.infra import running_split
from tests.support.overrides import PinnableSnap, device_refresh, pin, pinnable_snap
from tests.support.proxies import ADMIN_TOKEN, DEVICE_HEADERS, EmbeddedProxy, ProxyUnderTest
from tests.support.sim import SimHandle


@contextmanager
def two_devicegw(
    base: Path, sim: SimHandle, **settings: str
) -> Iterator[tuple[ProxyUnderTest, list[str]]]:
    """The split topology with two devicegw replicas: the proxy and each replica's URL."""
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    with running_split(
        base / "run",
        base / "data",
        sim.proxy_env() | settings,
        replicas={"devicegw": 2},
        SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN,
    ) as topology:
        proxy = ProxyUnderTest("split", topology.gateway_url, base / "data", topology=topology)
        yield proxy, [f"http://127.0.0.1:{port}" for port in topology.ports["devicegw"]]


def stable_revision(url: str, snap: PinnableSnap) -> int:
    """The revision ``/v2/snaps/info`` at ``url`` shows on latest/stable for amd64."""
    with httpx.Client(base_url=url, timeout=60, headers=DEVICE_HEADERS) as device:
        response = device.get(
            f"/v2/snaps/info/{snap.name}", params={"fields": "revision", "architecture": "amd64"}
        )
        response.raise_for_status()
    (entry,) = [
        e
        for e in response.json()["channel-map"]
        if e["channel"]["name"] == "stable" and e["channel"]["architecture"] == "amd64"
    ]
    return int(entry["revision"])


def installs(url: str, snap: PinnableSnap) -> int:
    action = {"action": "install", "instance-key": "k", "name": snap.name, "epoch": None}
    return int(device_refresh(url, action)["snap"]["revision"])


@pytest.mark.split
def test_replicas_apply_a_change_on_their_next_request_and_pins_survive_a_restart(
    sim: SimHandle, tmp_path: Path
) -> None:
    snap = pinnable_snap(sim)
    with two_devicegw(tmp_path, sim) as (proxy, replicas):
        assert [stable_revision(url, snap) for url in replicas] == [2, 2]  # each has read
        pin(proxy, snap.name, "stable", 1)
        assert [stable_revision(url, snap) for url in replicas] == [1, 1]
        assert [installs(url, snap) for url in replicas] == [1, 1]
        pin(proxy, snap.name, "stable", None)
        assert [installs(url, snap) for url in replicas] == [2, 2]

        pin(proxy, snap.name, "stable", 1)
        assert proxy.topology is not None
        proxy.topology.restart_services()
        assert [stable_revision(url, snap) for url in replicas] == [1, 1]
        assert installs(proxy.url, snap) == 1


@pytest.mark.split
def test_without_a_shared_cache_replicas_follow_within_the_max_age(
    sim: SimHandle, tmp_path: Path
) -> None:
    """Each process its own in-memory cache: no generation is shared, the max age bounds
    how long a replica answers from the pins it read last."""
    snap = pinnable_snap(sim)
    settings = {"SNAPPROXY_MEMCACHED": "", "SNAPPROXY_OVERRIDES_MAX_AGE": "2"}
    with two_devicegw(tmp_path, sim, **settings) as (proxy, replicas):
        assert [stable_revision(url, snap) for url in replicas] == [2, 2]
        pin(proxy, snap.name, "stable", 1)
        deadline = time.monotonic() + 60  # generous: the machine is shared
        while [stable_revision(url, snap) for url in replicas] != [1, 1]:
            assert time.monotonic() < deadline, "a replica never applied the pin"
            time.sleep(0.2)


def test_an_embedded_proxy_keeps_its_pins_across_a_restart(sim: SimHandle, tmp_path: Path) -> None:
    snap = pinnable_snap(sim)
    embedded = EmbeddedProxy(
        tmp_path / "data", SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN, **sim.proxy_env()
    )
    embedded.start()
    try:
        proxy = ProxyUnderTest("embedded", embedded.url, tmp_path / "data", embedded=embedded)
        pin(proxy, snap.name, "stable", 1)
        embedded.stop()
        embedded.start()
        assert installs(embedded.url, snap) == 1
        assert stable_revision(embedded.url, snap) == 1
    finally:
        embedded.stop()


class _Snapshots(OverridesClient):
    """The revisions service's answers, one after the other (None: it cannot be reached)."""

    def __init__(self, *answers: OverrideSnapshot | None) -> None:
        super().__init__({})
        self.answers = list(answers)
        self.reads = 0

    async def snapshot(self) -> OverrideSnapshot | None:
        self.reads += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def _snapshot(revision: int) -> OverrideSnapshot:
    pinned = PinnedRevision(
        snap_id="id1",
        snap_name="a",
        channel="latest/stable",
        architecture="amd64",
        revision=revision,
    )
    return OverrideSnapshot(overrides=[pinned])


async def pinned(book: OverrideBook, snap: str) -> int | None:
    found = (await book.current()).find(snap, "latest/stable", "amd64")
    return found.revision if found is not None else None


def test_the_book_rereads_on_a_new_generation_or_after_the_max_age() -> None:
    async def scenario() -> None:
        cache = MemoryCache()
        client = _Snapshots(_snapshot(1), _snapshot(2), None, _snapshot(3))
        book = OverrideBook(client, cache, max_age=0.3)
        assert await pinned(book, "a") == 1
        assert await pinned(book, "a") == 1
        assert client.reads == 1  # fresh: not read again
        await cache.set(GENERATION_KEY, b"changed", 60)
        assert await pinned(book, "id1") == 2
        await asyncio.sleep(0.4)  # past the max age; the revisions service is away
        assert await pinned(book, "a") == 2
        assert client.reads == 3  # it was asked, and the last pins kept
        await asyncio.sleep(0.4)
        assert await pinned(book, "a") == 3

    asyncio.run(scenario())
