"""Resuming and byte ranges: a cut download resumes with Range; hits answer any single range.

The embedded default answers hits with Starlette's FileResponse, the split topology with
nginx (X-Accel-Redirect to the internal ``/_cache/`` location); misses are streamed by the
downloads service from the growing fill in both.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.cache import (
    KIB,
    MIB,
    Blob,
    assert_cache_consistent,
    blob_fetches,
    expected_range,
    fetch,
)
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle
from tests.support.snapclient import snap_download


def test_download_cut_at_40_percent_resumes(
    proxy: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(4 * MIB)
    reference = blob.content()
    cut = blob.size * 40 // 100
    sim.set_faults(bandwidth_bps=2 * MIB)  # the fill takes about two seconds
    with proxy.client() as client:
        first = fetch(client, blob.url_path, stop_after=cut)
        assert first.status == 200 and first.body == reference[:cut]

        rest = fetch(client, blob.url_path, headers={"Range": f"bytes={cut}-"})
        assert rest.complete and rest.status == 206, rest.error
        assert rest.headers["content-range"] == f"bytes {cut}-{blob.size - 1}/{blob.size}"
        assert int(rest.headers["content-length"]) == blob.size - cut
        assert first.body + rest.body == reference

        # The fill went on when the first client hung up: one upstream fetch, then hits.
        again = fetch(client, blob.url_path, headers={"Range": f"bytes={cut}-"})
        assert again.status == 206 and again.body == reference[cut:]
    assert blob_fetches(sim, blob) == 1
    assert_cache_consistent(proxy)


@pytest.mark.parametrize("header", ["bytes=0-0", "bytes=1000-1999", "bytes=-1000", "bytes=70000-"])
def test_ranges_on_a_miss(
    proxy: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob], header: str
) -> None:
    """A range asked of a blob nobody has fetched yet is cut out of the fill."""
    blob = new_snap(96 * KIB)
    first, last = expected_range(blob.size, header) or (0, -1)
    with proxy.client() as client:
        got = fetch(client, blob.url_path, headers={"Range": header})
    assert got.complete and got.status == 206, got.error
    assert got.headers["content-range"] == f"bytes {first}-{last}/{blob.size}"
    assert got.body == blob.content()[first : last + 1]
    assert blob_fetches(sim, blob) == 1


@st.composite
def range_headers(draw: st.DrawFn, size: int) -> str:
    """Single byte ranges of every shape, inside and around a file of ``size`` bytes."""
    near = st.integers(0, size + 64)
    kind = draw(st.sampled_from(["closed", "open", "suffix", "edges"]))
    if kind == "closed":
        first = draw(near)
        return f"bytes={first}-{draw(st.integers(first, size + 4096))}"
    if kind == "open":
        return f"bytes={draw(near)}-"
    if kind == "suffix":
        return f"bytes=-{draw(st.integers(1, size + 4096))}"
    first = draw(st.sampled_from([0, 1, size - 2, size - 1, size, size + 1]))
    last = draw(st.sampled_from([first, first + 1, size - 1, size]))
    return f"bytes={first}-{max(first, last)}"


def test_hits_answer_any_single_range(
    proxy: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(300 * KIB)
    reference = blob.content()
    with proxy.client() as client:
        assert fetch(client, blob.url_path).body == reference  # the miss that fills

        @settings(
            max_examples=60,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture],
        )
        @given(header=range_headers(blob.size))
        def answers(header: str) -> None:
            response = client.get(blob.url_path, headers={"Range": header})
            wanted = expected_range(blob.size, header)
            if wanted is None:
                assert response.status_code == 416, header
                assert response.headers["content-range"] == f"bytes */{blob.size}"
                return
            first, last = wanted
            assert response.status_code == 206, header
            assert response.headers["content-range"] == f"bytes {first}-{last}/{blob.size}"
            assert int(response.headers["content-length"]) == last - first + 1
            assert response.content == reference[first : last + 1], header

        answers()
    assert blob_fetches(sim, blob) == 1
    assert proxy.snap_stats(blob.name)["misses"] == 1


@pytest.mark.realclient
def test_real_client_resumes_a_partial_download(
    proxy: ProxyUnderTest, sim: SimHandle, new_snap: Callable[[int], Blob], tmp_path: Path
) -> None:
    """snapd finds ``<name>_<rev>.snap.partial`` and asks for the rest with ``Range``."""
    blob = new_snap(2 * MIB)
    reference = blob.content()
    with proxy.client() as client:
        assert fetch(client, blob.url_path).body == reference  # cached: a hit next
    cut = blob.size * 40 // 100
    target = tmp_path / "client"
    target.mkdir()
    (target / f"{blob.name}_{blob.revision}.snap.partial").write_bytes(reference[:cut])
    before = proxy.snap_stats(blob.name)

    result = snap_download(proxy.url, blob.name, cwd=target)
    assert result.fetched_snap and result.sha3_384 == blob.sha3_384, result.describe()
    assert result.snap_path is not None and result.snap_path.read_bytes() == reference
    after = proxy.snap_stats(blob.name)
    assert after["hits"] == before["hits"] + 1
    assert after["bytes-from-cache"] - before["bytes-from-cache"] == blob.size - cut
    assert blob_fetches(sim, blob) == 1
