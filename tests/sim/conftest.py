"""Fixtures for the simulator's own tests (and for tests that use it as upstream)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.sim.helpers import PRIVATE_CATEGORY, PRIVATE_SNAP
from tests.support.fixtures import sim_fixture, simulator_fixture
from tests.support.sim import SimHandle
from tools.snap_store_sim.catalogue import Catalogue, CatalogueStore
from tools.snap_store_sim.layout import DataDir
from tools.snap_store_sim.publish import add_snap

# One demo simulator for the session (a real subprocess on 127.0.0.1), without the genuine
# assertions the proxy tests' ``upstream`` has: these tests see only what the simulator makes.
simulator = simulator_fixture("simulator", demo=True)
sim = sim_fixture("simulator")


@pytest.fixture(scope="session")
def private_snap(simulator: SimHandle) -> str:
    """A private snap on the session simulator: revision 1 in stable, 2 in edge (amd64),
    with a category no public snap has. Without credentials nobody sees it, so the tests that
    list the catalogue without credentials are unaffected. Returns its name."""
    data = DataDir(simulator.data_dir)
    add_snap(data, PRIVATE_SNAP, size=8 * 1024, channels=["latest/stable"], private=True)
    add_snap(data, PRIVATE_SNAP, size=12 * 1024, channels=["latest/edge"])  # stays private

    def categorise(catalogue: Catalogue) -> None:
        snap = catalogue.by_name(PRIVATE_SNAP)
        assert snap is not None and snap.private
        snap.categories = ["development", PRIVATE_CATEGORY]

    CatalogueStore(data).update(categorise)
    return PRIVATE_SNAP


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
