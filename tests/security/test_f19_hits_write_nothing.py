"""Finding 19: hits queued on row locks under load.

35 of 45 active downloads connections waited on ``UPDATE cache_entries SET last_access``, and
hit p50 was 550 to 650 ms against 26 ms for info. A hit now writes nothing: its counters and LRU
touch are batched in memory and written every few seconds. Proven under load, by the rows
themselves (no timing): 50 clients' hits leave ``cache_entries`` and ``cache_counters``
untouched until the batch is written, and hits keep being served with the database gone.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.cache import MIB, Fetched, fetch, publish, running_fast_split
from tests.support.infra import allow_connections, query
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle

pytestmark = pytest.mark.split
CLIENTS, HITS_EACH = 50, 4


@pytest.fixture(scope="module")
def split_proxy(
    tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> Iterator[ProxyUnderTest]:
    # No timed write of the batched counters during the test: only the stats call writes.
    env = {"SNAPPROXY_COUNTER_FLUSH_INTERVAL": "3600"}
    with running_fast_split(tmp_path_factory.mktemp("f19"), upstream, 1, **env) as proxy:
        yield proxy


def rows(proxy: ProxyUnderTest, sha3: str, name: str) -> tuple[object, object]:
    assert proxy.topology is not None
    url = proxy.topology.env["SNAPPROXY_DATABASE_URL"]
    (entry,) = query(
        url, "SELECT last_access FROM snapdownloads.cache_entries WHERE sha3_384 = $1", sha3
    )
    counters = query(
        url, "SELECT hits, bytes_from_cache FROM snapdownloads.cache_counters WHERE name = $1", name
    )
    return entry["last_access"], [tuple(row) for row in counters]


def hit_wave(proxy: ProxyUnderTest, path: str) -> list[Fetched]:
    def client_hits(_: int) -> list[Fetched]:
        with proxy.client() as client:
            return [fetch(client, path) for _ in range(HITS_EACH)]

    with ThreadPoolExecutor(CLIENTS) as pool:
        return [got for batch in pool.map(client_hits, range(CLIENTS)) for got in batch]


def test_hits_under_load_write_nothing(split_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    blob = publish(sim, 1 * MIB, "f19")
    with split_proxy.client() as client:
        assert fetch(client, blob.url_path).complete  # the miss that fills it
    before = rows(split_proxy, blob.sha3_384, blob.name)

    got = hit_wave(split_proxy, blob.url_path)
    assert all(g.complete and g.body == blob.content() for g in got)
    assert rows(split_proxy, blob.sha3_384, blob.name) == before

    stats = split_proxy.stats()["snaps"][blob.name]  # writes the batch
    assert stats["hits"] == CLIENTS * HITS_EACH
    assert stats["bytes-from-cache"] == CLIENTS * HITS_EACH * blob.size
    assert rows(split_proxy, blob.sha3_384, blob.name)[0] != before[0]  # the LRU touch


def test_hits_are_served_with_the_database_gone(
    split_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    blob = publish(sim, 1 * MIB, "f19-nodb")
    with split_proxy.client() as client:
        assert fetch(client, blob.url_path).complete
        assert split_proxy.topology is not None
        url = split_proxy.topology.env["SNAPPROXY_DATABASE_URL"]
        allow_connections(url, False)
        try:
            for _ in range(20):
                got = fetch(client, blob.url_path)
                assert got.complete and got.status == 200 and got.body == blob.content(), got
        finally:
            allow_connections(url, True)
