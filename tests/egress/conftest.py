"""Fixtures of the egress tests: the simulator in each mode, a forward proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.forwardproxy import ForwardProxy
from tests.support.sim import SimHandle, start_simulator


@pytest.fixture(scope="module")
def plain_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimHandle]:
    """The simulator over plain HTTP, with the demo catalogue."""
    handle = start_simulator(tmp_path_factory.mktemp("sim-plain") / "data")
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def tls_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimHandle]:
    """The simulator over HTTPS with a CA of its own (no default store trusts it), as an
    upstream looks from behind a TLS-inspecting proxy."""
    handle = start_simulator(tmp_path_factory.mktemp("sim-tls") / "data", https=True)
    yield handle
    handle.stop()


@pytest.fixture
def forward_proxy(tmp_path: Path) -> Iterator[ForwardProxy]:
    with ForwardProxy(tmp_path / "forward-proxy") as forward:
        yield forward
