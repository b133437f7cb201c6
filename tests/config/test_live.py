"""Live keys: a running proxy follows ``snap-proxy config`` within seconds, without a
restart (the embedded default in-process; the split topology with two downloads replicas on
PostgreSQL, set through the CLI on that database)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from services.auth.deps import get_device_limit
from shared import migrate
from shared.embedded import EmbeddedGateway
from shared.settings import Settings
from tests.support.admin_cli import Node
from tests.support.cache import MIB, fetch, publish, running_fast_split
from tests.support.device_api import REFRESH, install, refresh_body
from tests.support.proxies import ADMIN_TOKEN, DEVICE_HEADERS
from tests.support.sim import SimHandle

# The acceptance: a change shows in every replica within this many seconds of the command.
WITHIN = 5.0


async def eventually(check: Callable[[], Awaitable[None]], timeout: float = WITHIN) -> None:
    """Until ``check()`` (a coroutine function) returns without an AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            await check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.1)


@pytest.fixture
async def gateway(
    tmp_path: Path, sim: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[EmbeddedGateway, Node]]:
    """The embedded suite in this process on SQLite, with its admin's command line. The
    process's own SNAPPROXY_* variables are cleared: the environment wins over the config
    table, and what an earlier test of this worker left there must not."""
    for name in [name for name in os.environ if name.startswith("SNAPPROXY_")]:
        monkeypatch.delenv(name)
    env = sim.proxy_env()
    settings = Settings(
        data_dir=tmp_path,
        upstream_url=env["SNAPPROXY_UPSTREAM_URL"],
        cdn_hosts=env["SNAPPROXY_CDN_HOSTS"],
        trusted_root_keys=env["SNAPPROXY_TRUSTED_ROOT_KEYS"],
        cache_min_free="0",
    )
    await asyncio.to_thread(migrate.upgrade, settings)
    node = Node(tmp_path)
    await asyncio.to_thread(node.ok, "admin.token=first-token")
    app = EmbeddedGateway(settings)
    async with app.lifespan_context():
        yield app, node


async def test_live_keys_change_in_a_running_proxy(
    gateway: tuple[EmbeddedGateway, Node], sim: SimHandle
) -> None:
    app, node = gateway
    blob = await asyncio.to_thread(publish, sim, 1024, "live")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://proxy.test") as client:

        async def stats(token: str) -> httpx.Response:
            return await client.get("/v1/cache/stats", headers={"Authorization": f"Bearer {token}"})

        async def download_url() -> str:
            answer = await client.post(
                REFRESH, json=refresh_body([install(blob.name)]), headers=DEVICE_HEADERS
            )
            assert answer.status_code == 200, answer.text
            return str(answer.json()["results"][0]["snap"]["download"]["url"])

        first = await stats("first-token")
        assert first.status_code == 200 and first.json()["totals"]["max-size"] is None
        assert (await download_url()).startswith("http://proxy.test/")
        assert await get_device_limit(app.resources.settings) is None

        await asyncio.to_thread(
            node.ok,
            "proxy.cache.size=3",
            "admin.token=second-token",
            "proxy.device-limit=7",
            "proxy.domain=snaps.example.com",
            "proxy.port.http=80",
        )

        async def changed() -> None:
            second = await stats("second-token")
            assert second.status_code == 200
            assert second.json()["totals"]["max-size"] == 3 * MIB

        await eventually(changed)
        assert (await stats("first-token")).status_code == 401
        assert await get_device_limit(app.resources.settings) == 7
        # proxy.port.http needs a restart of what listens, but the URLs handed out follow it.
        assert (await download_url()).startswith("http://snaps.example.com/api/v1/snaps/download/")

        await asyncio.to_thread(node.ok, "proxy.cache.size=", "proxy.device-limit=0")

        async def back() -> None:
            assert (await stats("second-token")).json()["totals"]["max-size"] is None
            assert await get_device_limit(app.resources.settings) is None

        await eventually(back)


def test_a_key_set_once_changes_every_downloads_replica(tmp_path: Path, sim: SimHandle) -> None:
    """The acceptance test: ``snap-proxy config proxy.cache.size=...`` against the split
    topology's database; within 5 s each downloads replica caps the cache, and a fill on
    the second replica evicts to the new cap."""
    with running_fast_split(tmp_path, sim, 2, SNAPPROXY_CACHE_MIN_FREE="0") as proxy:
        assert proxy.topology is not None
        node = Node(
            tmp_path / "admin",
            env={"SNAPPROXY_DATABASE_URL": proxy.topology.env["SNAPPROXY_DATABASE_URL"]},
        )
        replicas = [
            httpx.Client(
                base_url=f"http://127.0.0.1:{port}",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=30,
            )
            for port in proxy.topology.ports["downloads"]
        ]

        def cap(replica: httpx.Client) -> int | None:
            response = replica.get("/v1/cache/stats")
            assert response.status_code == 200, response.text
            value: int | None = response.json()["totals"]["max-size"]
            return value

        assert [cap(replica) for replica in replicas] == [None, None]
        node.ok("proxy.cache.size=2")  # MB, as the Snap Store Proxy counts
        done = time.monotonic()
        while [cap(replica) for replica in replicas] != [2 * MIB, 2 * MIB]:
            assert time.monotonic() - done < WITHIN, "a replica kept the old cap"
            time.sleep(0.1)

        second = replicas[1]
        blobs = [publish(sim, MIB, "live-cap") for _ in range(3)]
        for blob in blobs:
            got = fetch(second, blob.url_path)
            assert got.complete and got.body == blob.content(), got.error
        cached = {entry["name"] for entry in proxy.entries()}
        assert cached == {blobs[1].name, blobs[2].name}  # the first was evicted for the third
        assert proxy.stats()["totals"]["size"] <= 2 * MIB
        for replica in replicas:
            replica.close()
