"""Findings 4 and 13 on the download path: odd input is a clear 4xx, never a 500.

* a ``Range`` with thousands of digits raised (Python will not make an int of it): 400;
* download names matched with ``$`` accepted a trailing newline: now ``fullmatch``, 404;
* cache admin names with a NUL gave 500 on PostgreSQL: snap names only, 400.
"""

from __future__ import annotations

from tests.support.cache import KIB, fetch, publish
from tests.support.device_api import assert_store_error
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle


def test_a_range_with_thousands_of_digits_is_a_400(
    any_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    blob = publish(sim, 64 * KIB, "f13-range")
    with any_proxy.client() as client:
        assert fetch(client, blob.url_path).complete  # cached: the hit path parses it too
        for header in ("bytes=" + "9" * 5000 + "-", "bytes=0-" + "1" * 5000):
            response = client.get(blob.url_path, headers={"Range": header})
            assert_store_error(response, 400, "invalid-request")
        assert fetch(client, blob.url_path).complete  # and the next request is served


def test_a_download_name_with_a_trailing_newline_is_not_found(
    any_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    blob = publish(sim, 64 * KIB, "f13-name")
    with any_proxy.client() as client:
        response = client.get(blob.url_path + "%0A")
    assert_store_error(response, 404, "not-found")


def test_cache_admin_names_with_a_nul_are_a_400(any_proxy: ProxyUnderTest) -> None:
    with any_proxy.admin() as admin:
        for response in (
            admin.post("/v1/cache/evict", json={"name": "a\u0000b"}),
            admin.post("/v1/cache/pin", json={"name": "a\u0000b"}),
            admin.get("/v1/cache/entries", params={"name": "a\u0000b"}),
        ):
            assert_store_error(response, 400, "invalid-request")


def test_a_download_with_a_non_ascii_header_is_a_400(
    any_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    """Finding 4 on the download path: the headers a download passes to an upstream lookup
    (for a revision nobody recorded yet) must be visible ASCII, like every relayed header."""
    blob = publish(sim, 16 * KIB, "f04-header")
    with any_proxy.client() as client:
        response = client.get(blob.url_path, headers={b"User-Agent": b"snapd \xff"})
        assert_store_error(response, 400, "invalid-request")
        assert fetch(client, blob.url_path).complete


def test_ranges_the_proxy_ignores_get_the_whole_file_on_a_hit_too(
    any_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    """A hit is sent by nginx (split) or the server (embedded); either way the proxy's own
    reading of Range decides: several ranges, or one that ends before it starts, mean the
    whole file, as on a miss (the fuzz pass found 416 pages and multipart answers there)."""
    blob = publish(sim, 64 * KIB, "range-ignored")
    with any_proxy.client() as client:
        for attempt in ("miss", "hit"):
            for header in ("bytes=0-0,2-3", "bytes=5-2", "bytes=,"):
                got = fetch(client, blob.url_path, headers={"Range": header})
                assert got.status == 200, (attempt, header, got.status)
                assert got.body == blob.content(), (attempt, header)
