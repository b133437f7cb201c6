"""Finding 8: the embedded server never closed idle or stalled connections.

An idle keep-alive connection and a request whose body stopped half-way were still open
after 100 s; a download the client stopped reading after 150 s. nginx (the split
topology's gateway) closes them: ``keepalive_timeout 65``, ``client_header_timeout``,
``client_body_timeout`` and ``send_timeout`` of 60 s. ``snap-proxy serve`` now does the same,
with the timeouts as settings; here they are 2 s, and each connection must be closed well
before the old behaviour could have closed it.
"""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.device_api import REFRESH, install, refresh_body
from tests.support.proxies import DEVICE_HEADERS, EmbeddedProxy
from tests.support.sim import SimHandle

TIMEOUT = 2  # seconds: keep-alive, client read and send timeouts of the proxy under test
DEADLINE = 10.0  # seconds within which the connection must have been closed
STALL = 8.0  # seconds a client reads nothing of a download


def serve(server: str, data_dir: Path, sim: SimHandle) -> Iterator[EmbeddedProxy]:
    served = EmbeddedProxy(
        data_dir,
        "--server",
        server,
        SNAPPROXY_KEEPALIVE_TIMEOUT=str(TIMEOUT),
        SNAPPROXY_CLIENT_TIMEOUT=str(TIMEOUT),
        SNAPPROXY_SEND_TIMEOUT=str(TIMEOUT),
        **sim.proxy_env(),
    )
    served.start()
    yield served
    try:
        served.stop()
    except subprocess.TimeoutExpired:  # still waiting on a connection: not this test's point
        assert served.process is not None
        served.process.kill()
        served.process.wait()


@pytest.fixture(scope="module")
def granian(
    tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> Iterator[EmbeddedProxy]:
    """``snap-proxy serve --server granian``."""
    yield from serve("granian", tmp_path_factory.mktemp("f08-granian"), upstream)


@pytest.fixture(scope="module")
def uvicorn(
    tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> Iterator[EmbeddedProxy]:
    """``snap-proxy serve`` (uvicorn, the default)."""
    yield from serve("uvicorn", tmp_path_factory.mktemp("f08-uvicorn"), upstream)


def servers(*names: str) -> pytest.MarkDecorator:
    """Parametrize over the servers ``snap-proxy serve`` can run."""
    return pytest.mark.parametrize("server", names)


@pytest.fixture
def proxy(server: str, request: pytest.FixtureRequest) -> EmbeddedProxy:
    served: EmbeddedProxy = request.getfixturevalue(server)
    return served


def connect(proxy: EmbeddedProxy, receive_buffer: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:  # before connect: the advertised window stays small
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(DEADLINE)
    sock.connect(("127.0.0.1", proxy.port))
    return sock


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True when the server closes (EOF or reset) within ``seconds``; what arrives before
    is read and dropped."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
    return False


def read_answer(sock: socket.socket) -> http.client.HTTPResponse:
    answer = http.client.HTTPResponse(sock)
    answer.begin()
    answer.read()
    return answer


# uvicorn closed idle connections after its own default (5 s); now after the setting.
@servers("granian", "uvicorn")
def test_idle_keep_alive_connection_is_closed(proxy: EmbeddedProxy) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"GET /_status/ping HTTP/1.1\r\nHost: proxy.test\r\n\r\n")
        assert read_answer(sock).status == 200
        assert closed_within(sock, DEADLINE)


@servers("granian", "uvicorn")
def test_partial_request_body_is_answered_408_and_closed(proxy: EmbeddedProxy) -> None:
    head = (
        f"POST {REFRESH} HTTP/1.1\r\nHost: proxy.test\r\nContent-Type: application/json\r\n"
        "Snap-Device-Series: 16\r\nContent-Length: 1000\r\n\r\n"
    )
    with connect(proxy) as sock:
        sock.sendall(head.encode() + b'{"context": [')
        try:
            answer = http.client.HTTPResponse(sock)
            answer.begin()
            body = answer.read()
        except TimeoutError:
            pytest.fail(f"no answer {DEADLINE} s after the body stopped")
        assert answer.status == 408
        assert answer.getheader("content-type") == "application/json"
        assert json.loads(body)["error-list"][0]["code"] == "request-timeout"
        assert closed_within(sock, DEADLINE)


# uvicorn has no timer for a request head; snapproxy's protocol for it adds one
# (shared/sendfile_http.py).
@servers("granian", "uvicorn")
def test_partial_request_head_is_closed(proxy: EmbeddedProxy) -> None:
    with connect(proxy) as sock:
        sock.sendall(b"GET /_status/ping HTTP/1.1\r\nHost: proxy.test\r\n")
        assert closed_within(sock, DEADLINE)


# granian 2.8 leaves a connection that never sends a byte open (its header_read_timeout
# starts at the first byte): a known gap of --server granian (docs/security.md).
@servers("uvicorn")
def test_a_connection_that_never_sends_a_head_is_closed(proxy: EmbeddedProxy) -> None:
    with connect(proxy) as sock:
        assert closed_within(sock, DEADLINE)


@servers("uvicorn")
def test_a_head_sent_a_byte_at_a_time_is_closed(proxy: EmbeddedProxy) -> None:
    """Each byte restarts no timer: the head as a whole has the client timeout."""
    head = b"GET /_status/ping HTTP/1.1\r\nHost: proxy.test\r\nX-Slow: " + b"a" * 1000
    started = time.monotonic()
    with connect(proxy) as sock:
        try:
            for byte in head:
                sock.sendall(bytes([byte]))
                time.sleep(0.02)
        except (ConnectionResetError, BrokenPipeError):
            pass
        else:
            pytest.fail("the whole dribbled head was taken")
        assert time.monotonic() - started < DEADLINE


def download_url(proxy: EmbeddedProxy, name: str) -> str:
    with httpx.Client(base_url=proxy.url, headers=DEVICE_HEADERS, timeout=30) as client:
        answer = client.post(REFRESH, json=refresh_body([install(name, "k")]))
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["results"][0]["snap"]["download"]["url"]
    return httpx.URL(url).raw_path.decode()


def stalled_download_closed(proxy: EmbeddedProxy, path: str) -> tuple[bool, int, int]:
    """Start a download, read nothing for ``STALL`` seconds, then read what is left: (whether
    the server closed the connection, bytes received, bytes announced)."""
    agent = DEVICE_HEADERS["User-Agent"]
    request = f"GET {path} HTTP/1.1\r\nHost: proxy.test\r\nUser-Agent: {agent}\r\n\r\n"
    with connect(proxy, receive_buffer=16 * 1024) as sock:
        sock.sendall(request.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 200"), head
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        time.sleep(STALL)
        received, closed = 0, False
        sock.settimeout(3)
        try:
            while chunk := sock.recv(1 << 20):
                received += len(chunk)
                if received >= length:
                    break
            else:
                closed = True
        except (ConnectionResetError, BrokenPipeError):
            closed = True
        except TimeoutError:
            closed = False
        return closed, received, length


@servers("granian", "uvicorn")
def test_download_the_client_stopped_reading_is_closed_on_a_miss(
    proxy: EmbeddedProxy, sim: SimHandle
) -> None:
    closed, received, length = stalled_download_closed(proxy, download_url(proxy, "big-app"))
    assert closed and received < length, (received, length)


@servers("granian", "uvicorn")
def test_download_the_client_stopped_reading_is_closed_on_a_hit(
    proxy: EmbeddedProxy, sim: SimHandle
) -> None:
    path = download_url(proxy, "huge-data")
    with httpx.Client(base_url=proxy.url, headers=DEVICE_HEADERS, timeout=60) as client:
        assert client.get(path).status_code == 200  # now it is in the cache
    closed, received, length = stalled_download_closed(proxy, path)
    assert closed and received < length, (received, length)
