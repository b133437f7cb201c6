"""What the two fuzzers of issue 15 share (``test_fuzz_schemathesis.py``, ``test_fuzz_raw.py``):
how many examples to run, a download the proxy has cached, and a well-behaved neighbour.

The neighbour is :class:`tests.support.load.DeviceLoad` with one client of each kind (info,
refresh, a cached download checked against its SHA3-384), each on its own keep-alive
connection through the same gateway, for as long as the fuzzer runs. It must see no 5xx (nor
any other error), no broken or reset connection and no wrong byte.
"""

from __future__ import annotations

import os
import random
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.support.device_api import REFRESH, install, refresh_body
from tests.support.load import KINDS, DeviceLoad, Download, fetch_checked
from tests.support.proxies import ProxyUnderTest

SNAP = "hello-sim"
# A deeper run sets one of these (and may give a seed; without one, a fresh seed is drawn and
# printed). Unset, both fuzzers run a fixed, bounded number of examples: CI stays the same.
EXAMPLES_VARIABLE = "SNAPPROXY_FUZZ_EXAMPLES"
CASES_VARIABLE = "SNAPPROXY_FUZZ_CASES"
SEED_VARIABLE = "SNAPPROXY_FUZZ_SEED"
DEFAULT_SEED = 15  # issue 15


def deeper_run() -> bool:
    return EXAMPLES_VARIABLE in os.environ or CASES_VARIABLE in os.environ


def fuzz_seed() -> int:
    """``SNAPPROXY_FUZZ_SEED``; else a fresh one for a deeper run, the fixed one for CI."""
    if given := os.environ.get(SEED_VARIABLE):
        return int(given)
    return random.SystemRandom().randrange(2**31) if deeper_run() else DEFAULT_SEED


def cached_download(proxy: ProxyUnderTest) -> Download:
    """Refresh ``SNAP`` through the proxy and download it once: its blob is then cached."""
    with proxy.client() as client:
        response = client.post(REFRESH, json=refresh_body([install(SNAP, "fuzz-1")]))
        assert response.status_code == 200, response.text
        download = response.json()["results"][0]["snap"]["download"]
        path, sha3_384 = httpx.URL(download["url"]).path, download["sha3-384"]
        warm = fetch_checked(client, path, sha3_384, "warm")
    assert warm.ok, warm
    return Download(path, sha3_384)


@contextmanager
def well_behaved_neighbour(proxy: ProxyUnderTest, download: Download) -> Iterator[DeviceLoad]:
    """A DeviceLoad through ``proxy`` while the block runs; then: every request it made
    was answered whole and right, and each kind of request was made a few times."""
    load = DeviceLoad(proxy.url, [SNAP], [download], clients=len(KINDS))
    load.start()
    try:
        yield load
    finally:
        outcomes = load.stop()
    made = Counter(outcome.kind for outcome in outcomes)
    assert all(made[kind] >= 3 for kind in KINDS), f"the neighbour hardly ran: {made}"
    failed = [outcome for outcome in outcomes if not outcome.ok]
    assert not failed, (
        f"the well-behaved neighbour saw {len(failed)} failures in {len(outcomes)} requests "
        f"through {proxy.name}: {failed[:10]}\n{proxy_said(proxy, download.path)}"
    )


_DURATION = re.compile(r"duration_ms=([0-9.]+)")
_STATUS = re.compile(r"status=([0-9]+)")


def proxy_said(
    proxy: ProxyUnderTest, path: str | None = None, slow_ms: float = 2000.0, most: int = 30
) -> str:
    """For a failure's message: what the proxy logged about its slow answers (over
    ``slow_ms``), its 5xx, its answers other than 2xx to ``path``, and its warnings: the last
    ``most`` such lines."""
    picked = []
    for line in proxy.log().splitlines():
        duration, status = _DURATION.search(line), _STATUS.search(line)
        slow = duration is not None and float(duration.group(1)) > slow_ms
        code = status.group(1) if status is not None else ""
        failed = code.startswith("5") or (
            path is not None and f"path={path} " in line and not code.startswith("2")
        )
        if slow or failed or "[warning" in line or "[error" in line:
            picked.append(line[:400])
    return f"the proxy logged ({len(picked)} lines picked):\n" + "\n".join(picked[-most:])


def neighbour_summary(load: DeviceLoad) -> str:
    made = Counter(outcome.kind for outcome in load.outcomes)
    return ", ".join(f"{made[kind]} {kind}" for kind in KINDS)
