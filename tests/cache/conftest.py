"""Fixtures for the download cache: a simulator of our own, and proxies tuned for fast faults.

* ``sim``: the simulator (no demo catalogue: tests publish their own snaps with
  :func:`tests.cache.support.publish`, so no test sees another's cache state), running,
  faults cleared, stats zeroed.
* ``embedded_cache``: ``snap-proxy serve`` (SQLite, in-process cache).
* ``split_cache``: the split topology with **two** downloads replicas behind nginx
  (PostgreSQL, memcached), so fills are shared across processes.
* ``proxy``: each test that takes it runs on both.
* ``split_single``: the split topology with one downloads process.
* ``dedicated_embedded``: a factory for an embedded proxy with settings of the test's own.

Both shared proxies use short fill lease and upstream read timeouts so that stalls and dead
fill owners are noticed in seconds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cache.support import Blob, CacheProxy, publish, running_embedded, running_split
from tests.support.sim import SimHandle, start_simulator


@pytest.fixture(scope="session")
def cache_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimHandle]:
    handle = start_simulator(tmp_path_factory.mktemp("cache-upstream") / "data", demo=False)
    yield handle
    handle.stop()


@pytest.fixture
def sim(cache_upstream: SimHandle) -> Iterator[SimHandle]:
    """The session's simulator, running, with faults cleared and stats zeroed."""
    if not cache_upstream.running:
        cache_upstream.start()
    cache_upstream.clear_faults()
    cache_upstream.reset()
    yield cache_upstream
    if not cache_upstream.running:
        cache_upstream.start()
    cache_upstream.clear_faults()


@pytest.fixture
def new_snap(sim: SimHandle) -> Callable[[int], Blob]:
    """``new_snap(size)``: publish a snap nobody has asked the proxy for yet."""
    return lambda size: publish(sim, size)


@pytest.fixture(scope="session")
def embedded_cache(
    tmp_path_factory: pytest.TempPathFactory, cache_upstream: SimHandle
) -> Iterator[CacheProxy]:
    with running_embedded(tmp_path_factory.mktemp("cache-embedded"), cache_upstream) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def split_cache(
    tmp_path_factory: pytest.TempPathFactory, cache_upstream: SimHandle
) -> Iterator[CacheProxy]:
    """Two downloads replicas behind nginx."""
    with running_split(tmp_path_factory.mktemp("cache-split"), cache_upstream, 2) as proxy:
        yield proxy


@pytest.fixture(scope="session")
def split_single(
    tmp_path_factory: pytest.TempPathFactory, cache_upstream: SimHandle
) -> Iterator[CacheProxy]:
    """One downloads process behind nginx, as ``make run-split`` starts it."""
    with running_split(tmp_path_factory.mktemp("cache-split1"), cache_upstream, 1) as proxy:
        yield proxy


@pytest.fixture(params=["embedded", pytest.param("split", marks=pytest.mark.split)])
def proxy(request: pytest.FixtureRequest) -> CacheProxy:
    """The embedded default and the split topology (two downloads replicas)."""
    fixture = {"embedded": "embedded_cache", "split": "split_cache"}[request.param]
    found: CacheProxy = request.getfixturevalue(fixture)
    return found


@pytest.fixture
def dedicated_embedded(
    tmp_path: Path, cache_upstream: SimHandle
) -> Iterator[Callable[..., CacheProxy]]:
    """``dedicated_embedded(data_dir=None, **SNAPPROXY_env)``: an embedded proxy of the
    test's own, stopped at the end of the test."""
    with contextlib.ExitStack() as stack:

        def start(data_dir: Path | None = None, **env: str) -> CacheProxy:
            data_dir = data_dir or tmp_path / "proxy"
            return stack.enter_context(running_embedded(data_dir, cache_upstream, **env))

        yield start
