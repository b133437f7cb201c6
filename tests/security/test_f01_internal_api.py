"""Finding 1: the revisions service's internal API took anything from anyone.

Anyone who reached a service port (a container on the compose network, a local user in the
split topology) could record a revision: its blob URL was then fetched off the allow-list
(SSRF), a forged SHA3-384 or size won over every later genuine answer (the first write
won), and a size of 2^62 made the downloads service evict the whole cache to make room.

Now every ``/_internal/*`` call needs the suite's internal secret, a blob URL is recorded
only when the allow-list allows its scheme, host and port, sizes are bounded, and a later
upstream answer that disagrees replaces what was recorded.
"""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from typing import Any

import httpx
import pytest

from shared.split import SplitTopology
from tests.security.hardened import SECRET_HEADER, WITH_SECRET
from tests.support.cache import Blob, publish
from tests.support.device_api import REFRESH, assert_store_error, install, refresh_body
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle

OBSERVATIONS = "/_internal/observations"
FORGED_SHA3 = "f" * 96
FORGED_SIZE = 4242


def revision_in(
    snap_id: str, revision: int, url: str, *, sha3: str = FORGED_SHA3, size: int = FORGED_SIZE
) -> dict[str, Any]:
    return {
        "snap_id": snap_id,
        "name": f"forged-{snap_id[:8]}",
        "revision": revision,
        "architectures": ["amd64"],
        "sha3_384": sha3,
        "size": size,
        "upstream_url": url,
    }


def unique_snap_id() -> str:
    return uuid.uuid4().hex


def revisions_service(topology: SplitTopology) -> httpx.Client:
    return httpx.Client(base_url=topology.service_urls["revisions"], timeout=10)


def recorded(topology: SplitTopology, snap_id: str, revision: int) -> httpx.Response:
    with revisions_service(topology) as service:
        return service.get(f"/_internal/revisions/{snap_id}/{revision}", headers=WITH_SECRET)


def blob_url(sim: SimHandle, snap_id: str, revision: int) -> str:
    return f"{sim.api_url}/api/v1/snaps/download/{snap_id}_{revision}.snap"


# -- the secret ---------------------------------------------------------------------------------


@pytest.mark.split
def test_internal_api_needs_the_secret(split_hardened: SplitTopology, sim: SimHandle) -> None:
    snap_id = unique_snap_id()
    forged = {"revisions": [revision_in(snap_id, 1, blob_url(sim, snap_id, 1))]}
    lookup = f"/_internal/revisions/{snap_id}/1"
    resolve = {"queries": [{"snap_id": snap_id, "architecture": "amd64", "revision": 1}]}
    with revisions_service(split_hardened) as service:
        for headers, status in (({}, 401), ({SECRET_HEADER: "not-the-secret"}, 403)):
            assert_store_error(service.post(OBSERVATIONS, json=forged, headers=headers), status)
            assert_store_error(service.get(lookup, headers=headers), status)
            assert_store_error(service.post("/_internal/resolve", json=resolve, headers=headers))
        # Nothing of the refused observation was kept.
        assert service.get(lookup, headers=WITH_SECRET).status_code == 404
        # Another service (it has the secret) is heard.
        assert service.post(OBSERVATIONS, json=forged, headers=WITH_SECRET).status_code == 204
        answer = service.get(lookup, headers=WITH_SECRET)
    assert answer.status_code == 200, answer.text
    assert answer.json()["sha3_384"] == FORGED_SHA3


@pytest.mark.split
def test_another_nodes_fill_stream_needs_the_secret(split_hardened: SplitTopology) -> None:
    """The downloads service's internal fill stream (caller: the downloads process of another
    node) gives nothing to a caller without the secret, even for a well-formed digest."""
    fill = f"/_internal/v1/fills/{'a' * 96}?start=0"
    with httpx.Client(base_url=split_hardened.service_urls["downloads"], timeout=10) as service:
        assert_store_error(service.get(fill), 401)
        assert_store_error(service.get(fill, headers={SECRET_HEADER: "not-the-secret"}), 403)
        # With the secret the same request reaches the handler: this process fills no such
        # blob.
        assert service.get(fill, headers=WITH_SECRET).status_code == 404


@pytest.mark.parametrize(
    "topology", ["embedded", pytest.param("split_hardened", marks=pytest.mark.split)]
)
def test_the_gateway_does_not_route_the_internal_api(
    topology: str, request: pytest.FixtureRequest
) -> None:
    fixture = request.getfixturevalue(topology)
    url = fixture.url if topology == "embedded" else fixture.gateway_url
    with httpx.Client(base_url=url, headers=WITH_SECRET, timeout=10) as client:
        for method, path in (("POST", OBSERVATIONS), ("GET", "/_internal/revisions/x/1")):
            assert_store_error(client.request(method, path, json={}), 404, "not-found")


# -- what is recorded ---------------------------------------------------------------------------


@pytest.mark.split
def test_blob_url_off_the_allow_list_is_not_recorded(
    split_hardened: SplitTopology, sim: SimHandle
) -> None:
    api = httpx.URL(sim.api_url)
    memcached_like = f"http://{api.host}:11211/"  # the upstream's host, another port
    service_port = split_hardened.service_urls["downloads"] + "/_status/check"
    bad = [
        memcached_like,
        service_port,
        sim.api_url.replace("http://", "https://") + "/api/v1/snaps/download/x_1.snap",
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
        "gopher://127.0.0.1:5432/",
    ]
    snap_id = unique_snap_id()
    good = revision_in(snap_id, 100, blob_url(sim, snap_id, 100))
    forged = [revision_in(snap_id, n, url) for n, url in enumerate(bad, start=1)]
    with revisions_service(split_hardened) as service:
        response = service.post(
            OBSERVATIONS, json={"revisions": [*forged, good]}, headers=WITH_SECRET
        )
    assert response.status_code == 204, response.text
    for number in range(1, len(bad) + 1):
        assert recorded(split_hardened, snap_id, number).status_code == 404, bad[number - 1]
    # The CDN (another port of the simulator) is allowed; so is the upstream's own origin.
    assert recorded(split_hardened, snap_id, 100).status_code == 200


@pytest.mark.split
def test_sizes_are_bounded(split_hardened: SplitTopology, sim: SimHandle) -> None:
    snap_id = unique_snap_id()
    url = blob_url(sim, snap_id, 1)
    sizes = {1: 2**62, 2: 16 * 2**30 + 1, 3: 16 * 2**30}
    observation = {
        "revisions": [revision_in(snap_id, n, url, size=size) for n, size in sizes.items()]
    }
    with revisions_service(split_hardened) as service:
        assert service.post(OBSERVATIONS, json=observation, headers=WITH_SECRET).status_code == 204
    assert recorded(split_hardened, snap_id, 1).status_code == 404
    assert recorded(split_hardened, snap_id, 2).status_code == 404
    assert recorded(split_hardened, snap_id, 3).json()["size"] == 16 * 2**30  # the default cap


# -- a genuine answer wins over a forged record ---------------------------------------------------


def forge_in_sqlite(proxy: ProxyUnderTest, blob: Blob, url: str) -> None:
    """What an open internal API let anyone record, written where the embedded proxy keeps
    it (its internal API is not reachable from outside that process)."""
    with sqlite3.connect(proxy.data_dir / "snapproxy.db", timeout=30) as database:
        database.execute(
            "INSERT INTO snap_revisions (snap_id, name, revision, architectures, sha3_384, size,"
            " upstream_url, snap_json, first_seen, last_seen)"
            " VALUES (?, ?, ?, 'amd64', ?, ?, ?, '{}', datetime('now'), datetime('now'))",
            (blob.snap_id, blob.name, blob.revision, FORGED_SHA3, FORGED_SIZE, url),
        )


@pytest.fixture(params=["embedded", pytest.param("split_hardened", marks=pytest.mark.split)])
def proxy_and_forger(request: pytest.FixtureRequest, sim: SimHandle) -> tuple[ProxyUnderTest, Any]:
    if request.param == "embedded":
        proxy: ProxyUnderTest = request.getfixturevalue("embedded")
        return proxy, lambda blob, url: forge_in_sqlite(proxy, blob, url)
    topology: SplitTopology = request.getfixturevalue("split_hardened")

    def forge(blob: Blob, url: str) -> None:
        observation = {"revisions": [revision_in(blob.snap_id, blob.revision, url)]}
        observation["revisions"][0]["name"] = blob.name
        with revisions_service(topology) as service:
            response = service.post(OBSERVATIONS, json=observation, headers=WITH_SECRET)
        assert response.status_code == 204, response.text

    data_dir = topology.workdir.parent / "data"
    return ProxyUnderTest("split", topology.gateway_url, data_dir), forge


def test_genuine_answer_replaces_a_forged_record(
    proxy_and_forger: tuple[ProxyUnderTest, Any], sim: SimHandle
) -> None:
    proxy, forge = proxy_and_forger
    blob = publish(sim, 64 * 1024, prefix="forged")
    forge(blob, blob_url(sim, blob.snap_id, blob.revision))

    with proxy.client() as client:
        answer = client.post(REFRESH, json=refresh_body([install(blob.name, "k")]))
        assert answer.status_code == 200, answer.text
        [result] = answer.json()["results"]
        assert result["snap"]["download"]["sha3-384"] == blob.sha3_384
        download = client.get(result["snap"]["download"]["url"])
    assert download.status_code == 200, download.text[:300]
    assert hashlib.sha3_384(download.content).hexdigest() == blob.sha3_384
