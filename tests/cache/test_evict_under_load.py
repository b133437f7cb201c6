"""An admin evicting a snap while devices download it (docs/reliability.md, "Evicting what
devices are downloading"): every download is answered whole and right.

A hit is answered before its file is opened (pathsend in the embedded default,
nginx's X-Accel-Redirect in the split topology); an eviction in between used to leave the
device a 404. An evicted blob is now a miss at once and its file is deleted after
``RETIRED_GRACE`` seconds. A process following another's fill that finds no lease and no
blob (the fill failed, or was committed and evicted at once) fills it again, where it used to
answer 503. Both topologies; the split one with two downloads processes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from services.downloads.storage import RETIRED_GRACE
from tests.support.cache import KIB, Blob, assert_cache_consistent, wait_for
from tests.support.load import Outcome, fetch_checked
from tests.support.proxies import ProxyUnderTest

DEVICES = 3
EVICTIONS = 60


def test_downloads_beside_an_eviction_loop_are_all_whole_and_right(
    proxy: ProxyUnderTest, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(64 * KIB)
    outcomes: list[Outcome] = []
    stop = threading.Event()

    def device() -> None:
        with proxy.client() as client:
            while not stop.is_set():
                outcomes.append(fetch_checked(client, blob.url_path, blob.sha3_384, "download"))

    devices = [threading.Thread(target=device) for _ in range(DEVICES)]
    for thread in devices:
        thread.start()
    evicted = 0
    try:
        assert wait_for(lambda: len(outcomes) >= DEVICES, 30), "the devices got no answer"
        for _ in range(EVICTIONS):
            evicted += len(proxy.evict(blob.name))
            time.sleep(0.02)
    finally:
        stop.set()
        for thread in devices:
            thread.join(60)

    failed = [outcome for outcome in outcomes if not (outcome.ok and outcome.status == 200)]
    assert failed == [], f"{len(failed)} of {len(outcomes)} downloads failed: {failed[:5]}"
    assert evicted >= 5, f"only {evicted} of {EVICTIONS} evictions found a cached blob"
    # Nothing is left behind: the evicted files go after their grace, the last fill stays.
    gone = wait_for(lambda: proxy.retired_files() == {}, RETIRED_GRACE + 15)
    assert gone, f"evicted blobs' files outlived their grace: {proxy.retired_files()}"
    assert_cache_consistent(proxy)
