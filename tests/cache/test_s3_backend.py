"""The S3 blob backend (issue 13, section 1), on a real S3 server: SeaweedFS.

Both topologies: the embedded default streams hits from the object store itself (or
redirects to a presigned URL, when told clients can reach the store); the split topology's
nginx fetches them with the presigned URL the downloads service answers (X-Accel-Redirect),
Range included. A blob becomes an object only once verified; a failed fill leaves neither an
object nor an unfinished multipart upload; eviction, verify and the cap work on objects.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cache import (
    MIB,
    Blob,
    Fetched,
    blob_fetches,
    fetch,
    publish,
    running_fast_embedded,
    running_fast_split,
    wait_for,
)
from tests.support.proxies import ProxyUnderTest
from tests.support.s3 import ObjectStore, running_object_store
from tests.support.sim import SimHandle

CAP = 5 * MIB


@pytest.fixture(scope="module")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    with running_object_store(tmp_path_factory.mktemp("s3")) as store:
        yield store


@pytest.fixture(scope="module", params=["embedded", pytest.param("split", marks=pytest.mark.split)])
def s3_proxy(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    cache_upstream: SimHandle,
    object_store: ObjectStore,
) -> Iterator[ProxyUnderTest]:
    """A proxy whose cache is the bucket, with a cap of five MiB."""
    env = {
        **object_store.proxy_env(),
        "SNAPPROXY_STORAGE_S3_PREFIX": f"{request.param}/",
        "SNAPPROXY_CACHE_MAX_SIZE": f"{CAP}B",
    }
    base = tmp_path_factory.mktemp(f"s3-{request.param}")
    if request.param == "embedded":
        with running_fast_embedded(base, cache_upstream, **env) as proxy:
            yield proxy
    else:
        with running_fast_split(base, cache_upstream, 2, **env) as proxy:
            yield proxy


def objects(store: ObjectStore, proxy: ProxyUnderTest) -> dict[str, int]:
    prefix = f"{proxy.name}/blobs/"
    return {
        key.removeprefix(prefix).removesuffix(".snap"): size
        for key, size in store.objects().items()
        if key.startswith(prefix)
    }


def get(proxy: ProxyUnderTest, blob: Blob, **headers: str) -> Fetched:
    with proxy.client() as client:
        return fetch(client, blob.url_path, headers=headers or None)


def test_a_fill_becomes_an_object_and_hits_are_served_from_it(
    s3_proxy: ProxyUnderTest, sim: SimHandle, object_store: ObjectStore
) -> None:
    s3_proxy.evict()
    big = publish(sim, 17 * MIB // 4, "s3-fill")  # 4.25 MiB: smaller than a part, one PUT
    miss = get(s3_proxy, big)
    assert miss.complete and miss.body == big.content(), miss.error
    assert objects(object_store, s3_proxy) == {big.sha3_384: big.size}
    hit = get(s3_proxy, big)
    assert hit.complete and hit.status == 200 and hit.body == big.content(), hit.error
    assert hit.headers["etag"] == f'"{big.sha3_384}"'
    part = get(s3_proxy, big, Range="bytes=100-199")
    assert part.status == 206 and part.body == big.content()[100:200]
    whole = get(s3_proxy, big, Range="bytes=0-0,5-6")  # ignored: the whole file, as a miss
    assert whole.status == 200 and whole.body == big.content()
    assert blob_fetches(sim, big) == 1
    assert object_store.multipart_uploads() == []


def test_followers_share_one_fill_into_the_bucket(
    s3_proxy: ProxyUnderTest, sim: SimHandle, object_store: ObjectStore
) -> None:
    s3_proxy.evict()
    blob = publish(sim, 3 * MIB, "s3-single-flight")
    sim.set_faults(bandwidth_bps=2 * MIB)
    results: list[Fetched] = []
    threads = [
        threading.Thread(target=lambda: results.append(get(s3_proxy, blob))) for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 6 and all(r.complete and r.body == blob.content() for r in results)
    assert blob_fetches(sim, blob) == 1
    assert objects(object_store, s3_proxy) == {blob.sha3_384: blob.size}


def test_a_failed_fill_leaves_no_object_and_no_upload(
    s3_proxy: ProxyUnderTest, sim: SimHandle, object_store: ObjectStore
) -> None:
    s3_proxy.evict()
    blob = publish(sim, 12 * MIB, "s3-corrupt")  # an upload in parts, then corrupt bytes
    sim.set_faults(corrupt=True)
    got = get(s3_proxy, blob)
    assert not got.complete or got.status == 503
    assert wait_for(lambda: not object_store.multipart_uploads(), 10)
    assert blob.sha3_384 not in objects(object_store, s3_proxy)
    assert s3_proxy.entries(blob.name) == []
    sim.clear_faults()


def test_the_cap_evicts_objects_and_verify_drops_a_corrupt_one(
    s3_proxy: ProxyUnderTest, sim: SimHandle, object_store: ObjectStore
) -> None:
    s3_proxy.evict()
    blobs = [publish(sim, 2 * MIB, "s3-cap") for _ in range(3)]  # 6 MiB over a 5 MiB cap
    for blob in blobs:
        assert get(s3_proxy, blob).complete
    kept = objects(object_store, s3_proxy)
    assert blobs[0].sha3_384 not in kept and set(kept) == {b.sha3_384 for b in blobs[1:]}
    assert sum(kept.values()) <= CAP

    key = f"{s3_proxy.name}/blobs/{blobs[1].sha3_384}.snap"
    object_store.client().put_object(Bucket=object_store.bucket, Key=key, Body=b"tampered")
    with s3_proxy.admin() as admin:
        verified = admin.post("/v1/cache/verify").json()
    assert [d["sha3-384"] for d in verified["dropped"]] == [blobs[1].sha3_384]
    assert blobs[1].sha3_384 not in objects(object_store, s3_proxy)


def test_a_presigned_redirect_when_clients_reach_the_store(
    tmp_path: Path, cache_upstream: SimHandle, sim: SimHandle, object_store: ObjectStore
) -> None:
    env = {
        **object_store.proxy_env(),
        "SNAPPROXY_STORAGE_S3_PREFIX": "redirect/",
        "SNAPPROXY_STORAGE_S3_REDIRECT": "true",
    }
    with running_fast_embedded(tmp_path, cache_upstream, **env) as proxy:
        blob = publish(sim, 1 * MIB, "s3-redirect")
        assert get(proxy, blob).complete
        with httpx.Client(base_url=proxy.url, timeout=30) as client:
            answer = client.get(blob.url_path, headers={"X-Ubuntu-Architecture": "amd64"})
            assert answer.status_code == 302
            assert answer.headers["location"].startswith(object_store.endpoint)
            followed = httpx.get(answer.headers["location"], headers={"Range": "bytes=10-19"})
        assert followed.status_code == 206 and followed.content == blob.content()[10:20]
