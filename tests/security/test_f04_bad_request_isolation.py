"""Finding 4: one client's bad request must not break another client's.

A relayed header with a byte outside ASCII (``User-Agent: snapd \\xff``) used to raise, the
catch-all 500 handler re-raised, uvicorn closed the keep-alive connection, and nginx handed
that dead connection to the next client, whose POST got a 503. Now invalid relayed headers
get a 400 in the Store's shape, and an unexpected exception is a 500 in the Store's shape on
a connection that stays open, under uvicorn and granian alike.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from shared.app import create_service_app
from shared.settings import load_settings
from shared.split import free_port, wait_http_ok
from tests.security.rawhttp import Connection, request_bytes
from tests.support.device_api import REFRESH, assert_store_error, install, refresh_body
from tests.support.infra import proxy_env
from tests.support.proxies import (
    ADMIN_TOKEN,
    DEVICE_HEADERS,
    SNAP_PROXY,
    EmbeddedProxy,
    ProxyUnderTest,
)
from tests.support.sim import SimHandle

REFRESH_BODY = httpx.Request("POST", "/", json=refresh_body([install("hello-sim", "i-1")])).read()
PING = request_bytes("GET", "/_status/ping")
# Header values no snapd sends: bytes outside ASCII where the proxy relays them upstream.
BAD_HEADERS: list[dict[str, str | bytes]] = [
    {"User-Agent": b"snapd \xff"},
    {"Snap-Device-Series": b"1\x806"},
    {"Snap-Device-Architecture": b"amd\xe964"},
    {"Snap-Refresh-Reason": b"scheduled \xc3\xa9"},
]


def bad_refresh(bad: dict[str, str | bytes]) -> bytes:
    headers: dict[str, str | bytes] = {**DEVICE_HEADERS, "Content-Type": "application/json"}
    return request_bytes("POST", REFRESH, {**headers, **bad}, REFRESH_BODY)


@pytest.mark.split
def test_a_bad_client_never_breaks_a_neighbour(split: ProxyUnderTest, sim: SimHandle) -> None:
    """Through nginx: a bad client hammers while a well-behaved keep-alive client refreshes."""
    stop = threading.Event()
    bad_statuses: Counter[int] = Counter()

    def hammer() -> None:
        round_ = 0
        while not stop.is_set():
            round_ += 1
            with Connection(split.url) as connection:
                answer = connection.exchange(bad_refresh(BAD_HEADERS[round_ % len(BAD_HEADERS)]))
                bad_statuses[answer.status] += 1

    hammers = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in hammers:
        thread.start()
    victim_statuses: Counter[int] = Counter()
    try:
        with split.client() as victim:
            for _ in range(100):
                response = victim.post(REFRESH, content=REFRESH_BODY)
                victim_statuses[response.status_code] += 1
    finally:
        stop.set()
        for thread in hammers:
            thread.join(30)
    assert victim_statuses == {200: 100}
    assert sum(bad_statuses.values()) > 0
    assert set(bad_statuses) == {400}, bad_statuses


# (service, request with a bad header): the proxy relays each of these upstream.
BAD_REQUESTS = [
    ("devicegw", bad_refresh({"User-Agent": b"snapd \xff"})),
    (
        "devicegw",
        request_bytes("GET", "/v2/snaps/info/hello-sim", {"Snap-Device-Series": b"\xe9"}),
    ),
    (
        "assertions",
        request_bytes("GET", "/v2/assertions/account/canonical", {"User-Agent": b"\xff"}),
    ),
    ("auth", request_bytes("POST", "/api/v1/snaps/auth/nonces", {"User-Agent": b"snapd \xff"})),
]


@pytest.mark.parametrize(("service", "bad"), BAD_REQUESTS, ids=lambda v: str(v)[:20])
def test_bad_header_gets_400_and_the_connection_lives_on(
    any_proxy: ProxyUnderTest, sim: SimHandle, service: str, bad: bytes
) -> None:
    """On the service's own port (split) or the embedded default: 400, then the same
    connection answers the next request."""
    with Connection(any_proxy.services.get(service, any_proxy.url)) as connection:
        answer = connection.exchange(bad)
        assert_store_error(answer.as_httpx(), 400, "invalid-request")
        assert answer.headers.get("connection", "").lower() != "close"
        assert connection.exchange(PING).status == 200


@pytest.fixture
def embedded_uvicorn(tmp_path: Path, sim: SimHandle) -> Iterator[EmbeddedProxy]:
    proxy = EmbeddedProxy(
        tmp_path / "proxy",
        "--server",
        "uvicorn",
        SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN,
        **sim.proxy_env(),
    )
    proxy.start()
    yield proxy
    proxy.stop()


def test_embedded_default_under_uvicorn(embedded_uvicorn: EmbeddedProxy) -> None:
    with Connection(embedded_uvicorn.url) as connection:
        for bad in BAD_HEADERS:
            answer = connection.exchange(bad_refresh(bad))
            assert_store_error(answer.as_httpx(), 400, "invalid-request")
        assert connection.exchange(PING).status == 200


# -- an unexpected exception, under each ASGI server the proxy runs on -------------------------


def crashing_service() -> FastAPI:
    """A service built like the real ones, with one route that fails (server factory)."""
    router = APIRouter()

    @router.get("/crash")
    async def crash() -> None:
        raise RuntimeError("an unexpected failure")

    return create_service_app("crashing", load_settings(), [router])


SERVERS = {
    "uvicorn": ["uvicorn", "--factory", "--log-level", "warning", "--port"],
    "granian": ["granian", "--interface", "asgi", "--factory", "--log-level", "warning", "--port"],
}


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_unexpected_error_is_a_500_on_a_live_connection(tmp_path: Path, server: str) -> None:
    port = free_port()
    target = f"{__name__}:crashing_service"
    env = proxy_env(SNAPPROXY_DATA_DIR=str(tmp_path))
    subprocess.run([*SNAP_PROXY, "db", "upgrade"], env=env, check=True, capture_output=True)
    with (tmp_path / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", *SERVERS[server], str(port), target],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            assert wait_http_ok(f"{url}/_status/ping", 30, process), tmp_path / "server.log"
            with Connection(url) as connection:
                for _ in range(3):
                    answer = connection.exchange(request_bytes("GET", "/crash"))
                    assert_store_error(answer.as_httpx(), 500, "internal-error")
                    assert connection.exchange(PING).status == 200
        finally:
            process.terminate()
            process.wait(15)
    assert "an unexpected failure" in (tmp_path / "server.log").read_text()  # it was logged
