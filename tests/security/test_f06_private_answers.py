"""Finding 6: private answers became public.

Answers to requests that carry ``Authorization`` or ``Snap-Device-Authorization`` (private
snaps, brand stores) were cached for everyone, and the revisions they showed were recorded as
downloadable by anyone. Now such an answer is cached for its requester only, its revisions
are recorded as private, and a private blob (cached once, content-addressed) is served only
to requests whose credentials the upstream accepts for it. The simulator's private snaps are
visible only with credentials it issued (``tools/snap_store_sim/access.py``).
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.cache import KIB, Blob, Fetched, blob_fetches, fetch, publish
from tests.support.device_api import REFRESH, install, refresh_body
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle
from tools.snap_store_sim.access import TEST_USER_AUTHORIZATION, device_authorization

FORGED = 'Macaroon root="snapsim-test-user-root", discharge="forged"'


def download_url(proxy: ProxyUnderTest, blob: Blob, **headers: str) -> str:
    with proxy.client(**headers) as client:
        response = client.post(REFRESH, json=refresh_body([install(blob.name, "install-1")]))
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["results"][0]
    assert result["result"] == "install", result
    url: str = result["snap"]["download"]["url"]
    assert url.startswith(proxy.url)
    return url


def get(url: str, **headers: str) -> Fetched:
    with httpx.Client(timeout=60, headers={"X-Ubuntu-Architecture": "amd64", **headers}) as c:
        return fetch(c, url)


def test_an_answer_for_a_device_session_is_not_served_to_others(
    any_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    blob = publish(sim, 64 * KIB, "f06-info", private=True)
    session = {"Snap-Device-Authorization": device_authorization(sim.data_dir)}
    with any_proxy.client(**session) as client:
        mine = client.get(f"/v2/snaps/info/{blob.name}")
    assert mine.status_code == 200, mine.text
    with any_proxy.client() as client:
        theirs = client.get(f"/v2/snaps/info/{blob.name}")
        found = client.get("/v2/snaps/find", params={"q": blob.name})
    assert theirs.status_code == 404, theirs.text
    assert blob.name not in found.text


def test_a_private_blob_is_served_only_to_requesters_the_upstream_accepts(
    any_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    blob = publish(sim, 256 * KIB, "f06-blob", private=True)
    url = download_url(any_proxy, blob, Authorization=TEST_USER_AUTHORIZATION)

    assert get(url).status == 404  # recorded from a credentialed answer: not for anyone
    assert get(url, Authorization=FORGED).status == 404
    mine = get(url, Authorization=TEST_USER_AUTHORIZATION)
    assert mine.complete and mine.body == blob.content(), mine
    assert blob_fetches(sim, blob) == 1

    assert get(url).status == 404  # cached now, and still not served to anyone
    assert get(url, Authorization=FORGED).status == 404
    other = get(url, **{"X-Device-Authorization": device_authorization(sim.data_dir)})
    assert other.complete and other.body == blob.content(), other
    assert blob_fetches(sim, blob) == 1  # the second requester got the cached blob
