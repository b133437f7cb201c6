"""Fixtures for the simulator's own tests (and for tests that use it as upstream)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.sim import SimHandle, start_simulator


@pytest.fixture(scope="session")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimHandle]:
    """One demo simulator for the session (real subprocess on 127.0.0.1)."""
    handle = start_simulator(tmp_path_factory.mktemp("snapsim") / "data", demo=True)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def sim(simulator: SimHandle) -> Iterator[SimHandle]:
    """The session simulator with faults cleared and stats zeroed around the test."""
    if not simulator.running:
        simulator.start()
    simulator.clear_faults()
    simulator.reset()
    yield simulator
    if simulator.running:
        simulator.clear_faults()


@pytest.fixture
def api(sim: SimHandle) -> Iterator[httpx.Client]:
    """A client on the API server; sends amd64 device headers by default."""
    headers = {"Snap-Device-Architecture": "amd64", "Snap-Device-Series": "16"}
    with httpx.Client(base_url=sim.api_url, headers=headers, timeout=60) as client:
        yield client


@pytest.fixture
def cdn(sim: SimHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.cdn_url, timeout=60) as client:
        yield client
