"""Nothing on the download path blocks the event loop (issue 8, item 2).

The whole embedded suite runs under uvicorn in this test's own event loop, in asyncio debug
mode, with the simulator as a real upstream; clients in processes of their own download over
real sockets: a cold fill of a snap with followers, then hits. Two things would show a
blocked loop, and the test fails on either:

* a callback that spends more than 50 ms of the loop thread's CPU time (CPU time, not wall
  time: on a shared two-core machine a callback is often preempted, which is not blocking);
* a blocking file-system call (``fsync``, ``pread``, ``stat``, ``open``, ``statvfs``...) made
  on the loop thread: a disk that stalls would stall every service embedded with it.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from shared import migrate
from shared.embedded import EmbeddedGateway
from shared.settings import Settings
from shared.split import free_port
from tests.support.cache import MIB, publish
from tests.support.sim import SimHandle

SLOW = 0.05  # seconds: a callback slower than this would stall every service embedded


@pytest.fixture
async def server_url(tmp_path: Path, sim: SimHandle) -> AsyncIterator[str]:
    env = sim.proxy_env()
    settings = Settings(
        data_dir=tmp_path,
        upstream_url=env["SNAPPROXY_UPSTREAM_URL"],
        cdn_hosts=env.get("SNAPPROXY_CDN_HOSTS", ""),
        trusted_root_keys=env.get("SNAPPROXY_TRUSTED_ROOT_KEYS", "canonical"),
        cache_min_free="0",
    )
    await asyncio.to_thread(migrate.upgrade, settings)
    port = free_port()
    config = uvicorn.Config(
        EmbeddedGateway(settings), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving


# Clients run in processes of their own: a thread of this process hashing would compete
# with the event loop for the GIL and make the loop look slow.
DOWNLOAD = """
import hashlib, sys, urllib.request
digest = hashlib.sha3_384()
with urllib.request.urlopen(sys.argv[1], timeout=60) as response:
    while chunk := response.read(1 << 20):
        digest.update(chunk)
print(digest.hexdigest())
"""


async def sha3_of_download(url: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DOWNLOAD, url, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0
    return out.decode().strip()


BLOCKING = ("fsync", "fdatasync", "pread", "pwrite", "fstat", "stat", "open", "statvfs",
            "replace", "unlink", "read", "write")  # fmt: skip


class LoopWatch:
    """Records slow callbacks (by CPU time) and blocking calls made on the loop thread."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.thread = threading.get_ident()
        self.slow: list[str] = []
        self.blocking: list[str] = []
        self.active = False
        run = asyncio.events.Handle._run

        def timed(handle: asyncio.events.Handle) -> None:
            if not self.active:
                run(handle)
                return
            started = time.thread_time()
            run(handle)
            spent = time.thread_time() - started
            if spent > SLOW:
                self.slow.append(f"{spent * 1000:.0f} ms CPU: {handle!r}"[:400])

        monkeypatch.setattr(asyncio.events.Handle, "_run", timed)
        for name in BLOCKING:
            monkeypatch.setattr(os, name, self._guard(name, getattr(os, name)))

    def _guard(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if self.active and threading.get_ident() == self.thread:
                where = _snapproxy_caller(sys._getframe(1))
                if where is not None:
                    self.blocking.append(f"os.{name} at {where}")
            return function(*args, **kwargs)

        return guarded


# Standard-library wrappers of the os calls (Path.stat, shutil.disk_usage, open...): the
# caller that matters is the one that called them.
WRAPPERS = ("pathlib.py", "shutil.py", "genericpath.py", "posixpath.py", "os.py", "_pyio.py")


def _snapproxy_caller(frame: Any) -> str | None:
    """Where snapproxy's code made the call, when it did (directly or through a wrapper)."""
    while frame is not None and frame.f_code.co_filename.endswith(WRAPPERS):
        frame = frame.f_back
    if frame is None:
        return None
    filename: str = frame.f_code.co_filename
    if "/services/" in filename or "/shared/" in filename:
        return f"{filename}:{frame.f_lineno}"
    return None


async def test_a_fill_with_followers_never_blocks_the_loop(
    server_url: str, sim: SimHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    blob = publish(sim, 24 * MIB)
    url = server_url + blob.url_path
    watch = LoopWatch(monkeypatch)
    loop = asyncio.get_running_loop()
    debug = loop.get_debug()
    loop.set_debug(True)
    # A test worker that has run a thousand tests holds a large heap: a full collection of
    # it inside some callback cost 311 ms of CPU in CI. That is the worker's garbage, not
    # the download path's work, so the objects alive now are moved out of the collector's
    # reach for the measurement (collections of what the downloads allocate still run).
    gc.collect()
    gc.freeze()
    watch.active = True
    try:
        misses = await asyncio.gather(*(sha3_of_download(url) for _ in range(4)))
        hits = await asyncio.gather(*(sha3_of_download(url) for _ in range(4)))
    finally:
        watch.active = False
        gc.unfreeze()
        loop.set_debug(debug)
    assert set(misses) == set(hits) == {blob.sha3_384}
    assert watch.blocking == []
    assert watch.slow == []
