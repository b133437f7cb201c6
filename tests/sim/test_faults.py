"""Fault injection and shaping: at run time (/_sim/faults) and as start options."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sim.helpers import one
from tests.support.device_api import install
from tests.support.sim import SimHandle, start_simulator


def _blob(api: httpx.Client, name: str = "mid-app") -> dict[str, Any]:
    download: dict[str, Any] = one(api, install(name))["snap"]["download"]
    return download


def _cdn_url(sim: SimHandle, download: dict[str, Any]) -> str:
    return f"{sim.cdn_url}/download-origin/{download['url'].rsplit('/', 1)[1]}"


def test_fault_api_roundtrip(sim: SimHandle) -> None:
    defaults = sim.faults()
    assert defaults == {
        "latency_ms": 0, "bandwidth_bps": None, "error_status": None, "error_paths": None,
        "hang": False, "truncate_after": None, "corrupt": False, "stall_after": None,
        "requests": None,
    }  # fmt: skip
    assert sim.set_faults(latency_ms=5)["latency_ms"] == 5
    merged = sim.update_faults(corrupt=True)
    assert merged["latency_ms"] == 5 and merged["corrupt"] is True
    replaced = sim.set_faults(truncate_after=10)
    assert replaced["latency_ms"] == 0 and replaced["truncate_after"] == 10
    sim.clear_faults()
    assert sim.faults() == defaults


@pytest.mark.parametrize(
    "body", [b"{", b"[]", b'{"hang": "yes"}', b'{"bogus": 1}', b'{"requests": 0}']
)
def test_fault_api_rejects_bad_input(sim: SimHandle, body: bytes) -> None:
    response = sim.client.put("/_sim/faults", content=body)
    assert response.status_code == 400
    assert response.json()["error-list"][0]["code"] == "invalid-request"


def test_latency(sim: SimHandle, api: httpx.Client) -> None:
    sim.set_faults(latency_ms=300)
    started = time.monotonic()
    assert api.get("/v2/snaps/info/hello-sim").status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    sim.client.get("/_sim/stats")  # admin endpoints are never shaped
    assert time.monotonic() - started < 0.3


@pytest.mark.parametrize(("status", "code"), [(503, "service-unavailable"), (429, None)])
def test_error_status(sim: SimHandle, api: httpx.Client, status: int, code: str | None) -> None:
    sim.set_faults(error_status=status)
    response = api.post("/v2/snaps/refresh", json={"context": [], "actions": []})
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.headers["snap-store-version"] == "58"
    error = response.json()["error-list"][0]
    assert error["code"] == (code or "too-many-requests")
    assert api.get("/v2/assertions/account/snapsim").status_code == status
    assert sim.stats()["requests"]["POST /v2/snaps/refresh"] == 1  # still counted
    sim.clear_faults()
    assert api.get("/v2/snaps/info/hello-sim").status_code == 200


def test_error_paths_scope(sim: SimHandle, api: httpx.Client) -> None:
    download = _blob(api, "hello-sim")
    sim.set_faults(error_status=503, error_paths=["/v2/snaps/info"])
    assert api.get("/v2/snaps/info/hello-sim").status_code == 503
    assert api.get("/v2/snaps/find", params={"q": "hello"}).status_code == 200
    assert httpx.get(_cdn_url(sim, download)).status_code == 200  # CDN untouched
    sim.set_faults(error_status=502, error_paths=["/download-origin/"])
    assert httpx.get(_cdn_url(sim, download)).status_code == 502
    assert api.get("/v2/snaps/info/hello-sim").status_code == 200


def test_hang_until_cleared(sim: SimHandle, api: httpx.Client) -> None:
    sim.set_faults(hang=True)
    outcome: list[int] = []

    def call() -> None:
        outcome.append(api.get("/v2/snaps/info/hello-sim", timeout=20).status_code)

    worker = threading.Thread(target=call)
    worker.start()
    worker.join(0.6)
    assert worker.is_alive() and not outcome
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(sim.api_url + "/v2/snaps/find", timeout=0.3)
    sim.clear_faults()
    worker.join(10)
    assert outcome == [200]


def test_truncate(sim: SimHandle, api: httpx.Client) -> None:
    download = _blob(api)
    sim.set_faults(truncate_after=1000)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(download["url"], follow_redirects=True)
    assert sim.stats()["blobs"]["mid-app_1.snap"] == {"requests": 1, "bytes": 1000}


def test_corrupt(sim: SimHandle, api: httpx.Client) -> None:
    download = _blob(api)
    sim.set_faults(corrupt=True)
    body = httpx.get(download["url"], follow_redirects=True).content
    assert len(body) == download["size"]
    assert hashlib.sha3_384(body).hexdigest() != download["sha3-384"]


def test_faults_for_a_number_of_requests(sim: SimHandle, api: httpx.Client) -> None:
    """``requests=N``: the next N blob requests get the faults (each keeps them to its end),
    then they clear themselves."""
    download = _blob(api)
    sim.set_faults(corrupt=True, error_status=503, error_paths=["/nowhere/"], requests=2)
    bodies = [httpx.get(download["url"], follow_redirects=True).content for _ in range(3)]
    digests = [hashlib.sha3_384(body).hexdigest() for body in bodies]
    assert [digest == download["sha3-384"] for digest in digests] == [False, False, True]
    assert sim.faults()["corrupt"] is False and sim.faults()["requests"] is None


def test_stall_then_resume(sim: SimHandle, api: httpx.Client) -> None:
    download = _blob(api)
    sim.set_faults(stall_after=4096)
    got: list[bytes] = []
    timeout = httpx.Timeout(5, read=0.8)
    with (
        pytest.raises(httpx.ReadTimeout),
        httpx.stream("GET", _cdn_url(sim, download), timeout=timeout) as response,
    ):
        got.extend(response.iter_bytes())
    assert len(b"".join(got)) == 4096
    assert sim.stats()["blobs"]["mid-app_1.snap"]["bytes"] == 4096
    # A stalled transfer carries on once the fault is lifted.
    received: list[bytes] = []

    def fetch() -> None:
        received.append(httpx.get(_cdn_url(sim, download), timeout=20).content)

    worker = threading.Thread(target=fetch)
    worker.start()
    worker.join(0.5)
    assert worker.is_alive()
    sim.clear_faults()
    worker.join(10)
    assert hashlib.sha3_384(received[0]).hexdigest() == download["sha3-384"]


def test_bandwidth_cap(sim: SimHandle, api: httpx.Client) -> None:
    download = _blob(api)
    sim.set_faults(bandwidth_bps=1_000_000)
    started = time.monotonic()
    part = httpx.get(_cdn_url(sim, download), headers={"Range": "bytes=0-599999"}, timeout=30)
    elapsed = time.monotonic() - started
    assert part.status_code == 206 and len(part.content) == 600_000
    assert 0.5 <= elapsed < 5


def test_faults_as_start_options(simulator: SimHandle, tmp_path: Path) -> None:
    data = tmp_path / "opts"
    shutil.copytree(simulator.data_dir / "keys", data / "keys")  # skip key generation
    args = ["--latency-ms", "20", "--bandwidth", "500000", "--fault", "error_status=503",
            "--fault", 'error_paths=["/v2/snaps/find"]', "--fault", "corrupt"]  # fmt: skip
    handle = start_simulator(data, demo=False, extra_args=args)
    try:
        assert handle.faults() == {
            "latency_ms": 20, "bandwidth_bps": 500000, "error_status": 503,
            "error_paths": ["/v2/snaps/find"], "hang": False, "truncate_after": None,
            "corrupt": True, "stall_after": None, "requests": None,
        }  # fmt: skip
        assert httpx.get(handle.api_url + "/v2/snaps/find").status_code == 503
        missing = httpx.get(handle.api_url + "/v2/snaps/info/hello-sim")
        assert missing.status_code == 404  # no --demo: an empty catalogue
    finally:
        handle.stop()
