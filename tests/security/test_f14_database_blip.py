"""Finding 14: a database blip failed cache hits with 500.

``pg_terminate_backend`` on the proxy's connections mid-load gave 14 to 23 downloads a 500
(``ConnectionDoesNotExistError``, then asyncpg's "another operation is in progress"), although
the blob was on disk: the bookkeeping write failed. A hit no longer touches the database; a
miss whose bookkeeping loses its connection is retried once and otherwise answered 503 with
Retry-After, never 500.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests.support.cache import MIB, Fetched, fetch, publish, running_fast_split
from tests.support.infra import terminate_connections
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle

pytestmark = pytest.mark.split
CLIENTS = 16


@pytest.fixture(scope="module")
def split_proxy(
    tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> Iterator[ProxyUnderTest]:
    with running_fast_split(tmp_path_factory.mktemp("f14"), upstream, 1) as proxy:
        yield proxy


def database_url(proxy: ProxyUnderTest) -> str:
    assert proxy.topology is not None
    return proxy.topology.env["SNAPPROXY_DATABASE_URL"]


def test_hits_and_misses_survive_terminated_connections(
    split_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    cached = publish(sim, 2 * MIB, "f14-hit")
    with split_proxy.client() as client:
        assert fetch(client, cached.url_path).complete
    fresh = [publish(sim, 256 * 1024, "f14-miss") for _ in range(6)]
    reference = cached.content()
    hits: list[Fetched] = []
    misses: list[Fetched] = []
    stop = threading.Event()

    def hammer() -> None:
        with split_proxy.client() as client:
            while not stop.is_set():
                hits.append(fetch(client, cached.url_path))

    threads = [threading.Thread(target=hammer) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        for blob in fresh:
            time.sleep(0.5)
            terminate_connections(database_url(split_proxy))
            with split_proxy.client() as client:
                misses.append(fetch(client, blob.url_path))
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)

    assert len(hits) > CLIENTS
    bad_hits = [h for h in hits if not (h.complete and h.status == 200 and h.body == reference)]
    assert bad_hits == [], bad_hits[:3]
    for got, blob in zip(misses, fresh, strict=True):
        if got.status == 503:
            assert got.headers.get("retry-after"), got
        else:
            assert got.complete and got.body == blob.content(), got
    assert all(m.status != 500 for m in misses)
