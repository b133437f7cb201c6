"""Moving the cache between the local disk and an S3 bucket (issue 13, section 1): one
command, resumable, checked blob by blob, on a real S3 server (SeaweedFS).

``snap-proxy cache move-to s3`` on a proxy that caches on its disk copies every blob into the
bucket and switches ``proxy.storage.backend``; restarted, the proxy serves the same snaps from
the bucket with no upstream fetch. Run again, it copies nothing; with an object gone, only
that one. ``move-to local`` brings the blobs back to the disk.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.assertions import sha3_384_file
from tests.support.cache import MIB, Blob, blob_fetches, fetch, publish, running_fast_embedded
from tests.support.infra import proxy_env
from tests.support.proxies import ADMIN_TOKEN, SNAP_PROXY, ProxyUnderTest
from tests.support.s3 import ObjectStore, running_object_store
from tests.support.sim import SimHandle

PREFIX = "move/"


@pytest.fixture(scope="module")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    with running_object_store(tmp_path_factory.mktemp("s3")) as store:
        yield store


def bucket_env(store: ObjectStore) -> dict[str, str]:
    """The S3 keys, without choosing the backend."""
    env = store.proxy_env() | {"SNAPPROXY_STORAGE_S3_PREFIX": PREFIX}
    del env["SNAPPROXY_STORAGE_BACKEND"]
    return env


def snap_proxy(
    proxy: ProxyUnderTest, store: ObjectStore, *args: str
) -> subprocess.CompletedProcess[str]:
    """``snap-proxy ARGS`` as the admin runs it on the proxy's node."""
    assert proxy.embedded is not None
    env = proxy_env(
        SNAPPROXY_DATA_DIR=str(proxy.data_dir),
        SNAPPROXY_PORT=str(proxy.embedded.port),
        SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN,
        **bucket_env(store),
    )
    return subprocess.run(
        [*SNAP_PROXY, *args], env=env, capture_output=True, text=True, timeout=300
    )


def in_bucket(store: ObjectStore) -> dict[str, int]:
    return {
        key.removeprefix(f"{PREFIX}blobs/").removesuffix(".snap"): size
        for key, size in store.objects().items()
        if key.startswith(PREFIX)
    }


def assert_served(proxy: ProxyUnderTest, blobs: list[Blob]) -> None:
    with proxy.client() as client:
        for blob in blobs:
            got = fetch(client, blob.url_path)
            assert got.status == 200 and got.body == blob.content(), blob.name


def test_move_to_s3_and_back(
    tmp_path: Path, cache_upstream: SimHandle, sim: SimHandle, object_store: ObjectStore
) -> None:
    data_dir = tmp_path / "node"
    blobs = [publish(sim, size) for size in (3 * MIB, 9 * MIB + 17)]
    with running_fast_embedded(data_dir, cache_upstream, **bucket_env(object_store)) as local:
        assert_served(local, blobs)
        refused = snap_proxy(local, object_store, "cache", "move-to", "local")
        assert refused.returncode == 1
        assert "already in the local store" in refused.stderr

        moved = snap_proxy(local, object_store, "cache", "move-to", "s3")
        assert moved.returncode == 0, moved.stderr
        assert "2 blobs copied" in moved.stdout and "0 were there already" in moved.stdout
        assert in_bucket(object_store) == {b.sha3_384: b.size for b in blobs}

        again = snap_proxy(local, object_store, "cache", "move-to", "s3", "--no-switch")
        assert "0 blobs copied" in again.stdout and "2 were there already" in again.stdout
        object_store.client().delete_object(
            Bucket=object_store.bucket, Key=f"{PREFIX}blobs/{blobs[1].sha3_384}.snap"
        )
        resumed = snap_proxy(local, object_store, "cache", "move-to", "s3", "--no-switch")
        assert "1 blobs copied" in resumed.stdout, resumed.stdout
        assert in_bucket(object_store) == {b.sha3_384: b.size for b in blobs}
        shown = snap_proxy(local, object_store, "config", "proxy.storage.backend")
        assert "config" in shown.stdout and "s3" in shown.stdout

    for blob_file in (data_dir / "cache" / "blobs").rglob("*.snap"):
        blob_file.unlink()  # the bucket is the only copy now
    sim.reset()
    with running_fast_embedded(data_dir, cache_upstream, **bucket_env(object_store)) as on_s3:
        assert_served(on_s3, blobs)
        assert all(blob_fetches(sim, blob) == 0 for blob in blobs)
        back = snap_proxy(on_s3, object_store, "cache", "move-to", "local", "--no-switch")
        assert back.returncode == 0, back.stderr
        assert "2 blobs copied" in back.stdout
    files = {p.stem: p for p in (data_dir / "cache" / "blobs").rglob("*.snap")}
    assert set(files) == {b.sha3_384 for b in blobs}
    assert all(sha3_384_file(path)[0] == digest for digest, path in files.items())


def test_move_to_s3_without_a_bucket_is_refused(
    tmp_path: Path, cache_upstream: SimHandle, sim: SimHandle, object_store: ObjectStore
) -> None:
    with running_fast_embedded(tmp_path / "node", cache_upstream) as local:
        refused = snap_proxy(local, object_store, "cache", "move-to", "s3")
        # The CLI's environment names the bucket; the proxy's has none: the proxy decides.
        assert refused.returncode == 1
        assert "configure the bucket first" in refused.stderr
        with local.admin() as admin:
            answer = admin.post("/v1/cache/move", json={"to": "nfs"})
        assert answer.status_code == 400
        assert answer.json()["error-list"][0]["code"] == "invalid-request"
