"""Who gets which credentials when a blob is fetched (services/downloads/fetch.py): a private
blob's requester's go to the upstream's own origin only, never to the CDN it redirects to;
an upstream URL's user and password go there too, as Basic auth; an origin off the
allow-list is refused without saying where it was (the client sees the message)."""

from __future__ import annotations

import httpx
import pytest

from services.downloads.errors import FillError
from services.downloads.fetch import open_upstream_blob

UPSTREAM = "https://store.test"
BLOB = "https://store.test/api/v1/snaps/download/x_1.snap"
CDN = "https://cdn.test/x_1.snap?grant=abc"


def scripted(seen: list[httpx.Request]) -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "store.test":
            return httpx.Response(302, headers={"Location": CDN})
        return httpx.Response(200, content=b"blob")

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


async def test_credentials_go_to_the_upstream_only() -> None:
    seen: list[httpx.Request] = []
    credentials = {"Authorization": 'Macaroon root="r"', "Snap-Device-Authorization": "d"}
    async with scripted(seen) as client:
        response = await open_upstream_blob(
            client, BLOB, allows=lambda url: True, credentials=credentials, upstream_url=UPSTREAM
        )
        await response.aclose()
    store, cdn = seen
    assert store.headers["authorization"] == 'Macaroon root="r"'
    assert store.headers["x-device-authorization"] == "d"
    assert "authorization" not in cdn.headers and "x-device-authorization" not in cdn.headers


async def test_an_upstream_with_a_user_gets_basic_auth_on_its_own_origin() -> None:
    seen: list[httpx.Request] = []
    async with scripted(seen) as client:
        response = await open_upstream_blob(
            client, BLOB, allows=lambda url: True, upstream_url="https://u%40x:p%3Aw@store.test"
        )
        await response.aclose()
    store, cdn = seen
    assert store.headers["authorization"] == httpx.BasicAuth("u@x", "p:w")._auth_header
    assert "authorization" not in cdn.headers


async def test_an_origin_off_the_allow_list_is_not_named_to_the_client() -> None:
    seen: list[httpx.Request] = []
    async with scripted(seen) as client:
        with pytest.raises(FillError) as refused:
            await open_upstream_blob(
                client, BLOB, allows=lambda url: "cdn.test" not in url, upstream_url=UPSTREAM
            )
    assert "cdn.test" not in refused.value.message
