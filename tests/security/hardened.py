"""A split topology of the security tests' own, with settings a test needs to know.

Its internal secret is set (``SECRET``), so a test can call the services' internal API as
another service would; only ``127.0.0.1`` (its nginx) is a trusted proxy, so a test that
connects from ``127.0.0.2`` (also loopback) is an untrusted peer.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from shared.split import SplitTopology
from tests.support.infra import running_split
from tests.support.proxies import ADMIN_TOKEN
from tests.support.sim import SimHandle

SECRET = "security-tests-internal-secret"
SECRET_HEADER = "Snapproxy-Internal-Secret"
WITH_SECRET = {SECRET_HEADER: SECRET}
TRUSTED = "127.0.0.1/32"
UNTRUSTED_SOURCE = "127.0.0.2"


@contextmanager
def hardened_split(base: Path, sim: SimHandle) -> Iterator[SplitTopology]:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    with running_split(
        base / "run",
        base / "data",
        sim.proxy_env(),
        SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN,
        SNAPPROXY_INTERNAL_SECRET=SECRET,
        SNAPPROXY_TRUSTED_PROXIES=TRUSTED,
    ) as topology:
        yield topology


def untrusted_client(base_url: str, **headers: str) -> httpx.Client:
    """A client whose connections come from 127.0.0.2: loopback, but not a trusted proxy."""
    transport = httpx.HTTPTransport(local_address=UNTRUSTED_SOURCE)
    return httpx.Client(base_url=base_url, transport=transport, timeout=30, headers=headers)
