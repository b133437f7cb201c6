"""What a downloads process loads: not ``cryptography`` (some 10 MiB of each process's
memory; issue 8's goal is a downloads service under 150 MiB at its peak, bench/downloads.py).

The services that sign or verify (auth, assertions) and the gateway's certificate pages
(devicegw) load it; downloads and revisions only relay, so nothing there may pull it in: not
the command line's other commands, not the settings' checks, not the assertion codec.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.cache import KIB, Blob, fetch
from tests.support.proxies import ProxyUnderTest

pytestmark = pytest.mark.split


def mapped_files(pid: int) -> set[str]:
    """The files a process has mapped (its interpreter, the extension modules it imported)."""
    lines = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {line.split(maxsplit=5)[5] for line in lines if len(line.split(maxsplit=5)) == 6}


def test_downloads_and_revisions_never_load_cryptography(
    split_cache: ProxyUnderTest, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(64 * KIB)
    with split_cache.client() as device:
        assert fetch(device, blob.url_path).complete  # a fill
        assert fetch(device, blob.url_path).complete  # a hit
    assert split_cache.snap_stats(blob.name)["hits"] == 1
    assert split_cache.evict(blob.name)  # the admin API's path too
    topology = split_cache.topology
    assert topology is not None
    processes = {
        f"{name}-{replica}": process.pid
        for name in ("downloads", "revisions")
        for replica, process in enumerate(topology.processes[name])
    }
    assert len(processes) == 3  # two downloads replicas and revisions
    for process, pid in processes.items():
        files = mapped_files(pid)
        assert any("python" in file for file in files), (process, sorted(files)[:5])
        loaded = sorted(file for file in files if "/cryptography/" in file)
        assert not loaded, f"{process} loaded {loaded}"
