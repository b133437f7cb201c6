"""Finding 3: request bodies are bounded everywhere, and the admin token comes first.

Admin endpoints used to parse bodies of any size before checking the token (one 256 MiB body
cost 190 MiB). Now every service refuses a body over its limit (1 MiB, the gateway's; a few
KiB on the admin API) as soon as it knows, without nginx in front, and the admin token is
checked before a byte of the body is read. "Before the body is read" is shown from outside:
the answer arrives while the client has sent only part of the body it announced.
"""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.security.rawhttp import Connection, RawAnswer, request_bytes
from tests.support.device_api import REFRESH, assert_store_error
from tests.support.proxies import ADMIN_TOKEN, EmbeddedProxy, ProxyUnderTest
from tests.support.sim import SimHandle

KIB, MIB = 1024, 1024 * 1024
BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
JSON = {"Content-Type": "application/json"}
EVICT = "/v1/cache/evict"
ANSWER_TIMEOUT = 5.0  # seconds; the right answer comes at once, a server reading waits forever


def answer_before_body(
    url: str, path: str, headers: dict[str, str], *, declared: int, sent: int
) -> RawAnswer:
    """Announce ``declared`` bytes, send ``sent`` of them, and read the answer."""
    with Connection(url) as connection:
        connection.send(
            request_bytes("POST", path, {**JSON, **headers}, b"{" * sent, content_length=declared)
        )
        try:
            return connection.answer(ANSWER_TIMEOUT)
        except TimeoutError:
            pytest.fail(f"POST {path}: no answer while {declared - sent} announced bytes are due")


def answer_to_endless_chunks(
    url: str, path: str, headers: dict[str, str], sent: int = 512 * KIB
) -> RawAnswer:
    """A chunked body that has sent ``sent`` bytes and is not finished. (Through nginx, stay
    under its own 1 MiB: past it, nginx drops a connection whose answer has begun.)"""
    chunk = b"4000\r\n" + b" " * (16 * KIB) + b"\r\n"
    with Connection(url) as connection:
        connection.send(
            request_bytes("POST", path, {**JSON, **headers, "Transfer-Encoding": "chunked"})
        )
        try:
            for _ in range(sent // (16 * KIB)):
                connection.send(chunk)
        except OSError:
            pass  # the server stopped reading (and may have answered already)
        try:
            return connection.answer(ANSWER_TIMEOUT)
        except TimeoutError:
            pytest.fail(f"POST {path}: no answer to an unfinished chunked body")


def test_admin_token_is_checked_before_the_body_is_read(
    any_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    for headers in ({}, {"Authorization": "Bearer not-the-token"}):
        answer = answer_before_body(any_proxy.url, EVICT, headers, declared=900 * KIB, sent=KIB)
        assert_store_error(answer.as_httpx(), 401, "unauthorized")
    answer = answer_to_endless_chunks(any_proxy.url, EVICT, {})
    assert_store_error(answer.as_httpx(), 401, "unauthorized")


def test_admin_bodies_are_limited_to_a_few_kib(any_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    answer = answer_before_body(any_proxy.url, EVICT, BEARER, declared=64 * KIB, sent=0)
    assert_store_error(answer.as_httpx(), 413, "request-too-large")
    answer = answer_to_endless_chunks(any_proxy.url, EVICT, BEARER)
    assert_store_error(answer.as_httpx(), 413, "request-too-large")


# One path per service that takes a body (assertions takes none: any body is refused there).
BODY_PATHS = {
    "devicegw": (REFRESH, {}),
    "auth": ("/api/v1/snaps/auth/sessions", {}),
    "assertions": ("/v2/assertions/account-key/x", {}),
    "downloads": (EVICT, BEARER),
    "revisions": ("/_internal/observations", {}),
}


@pytest.mark.split
@pytest.mark.parametrize("service", sorted(BODY_PATHS))
def test_every_service_bounds_bodies_on_its_own(
    split: ProxyUnderTest, sim: SimHandle, service: str
) -> None:
    """Straight to each service's own port (nginx's limit does not help there): a body
    announced or streamed past every limit gets a 4xx before it is all sent."""
    path, headers = BODY_PATHS[service]
    url = split.services[service]
    announced = answer_before_body(url, path, headers, declared=256 * MIB, sent=0)
    streamed = answer_to_endless_chunks(url, path, headers, sent=2 * MIB)
    for answer in (announced, streamed):
        response = answer.as_httpx()
        assert 400 <= response.status_code < 500, response.text
        assert_store_error(response)


def _stream_big_body(url: str, size: int, answers: list[int]) -> None:
    """Stream ``size`` bytes of chunked body to the admin API, stopping once an answer comes."""
    chunk = b"100000\r\n" + b" " * MIB + b"\r\n"
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=30) as sock:
        head = request_bytes("POST", EVICT, {**JSON, **BEARER, "Transfer-Encoding": "chunked"})
        sock.sendall(head)
        try:
            for _ in range(size // MIB):
                if select.select([sock], [], [], 0)[0]:
                    break  # answered early
                sock.sendall(chunk)
            else:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        status_line = sock.makefile("rb").readline()
        answers.append(int(status_line.split()[1]) if status_line else 0)


def _peak_rss(pid: int) -> int:
    """The summed peak memory of ``pid`` and its children (granian serves in a worker)."""
    total = 0
    for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1]) * KIB
    return total


@pytest.fixture
def own_embedded(tmp_path: Path, sim: SimHandle) -> Iterator[EmbeddedProxy]:
    proxy = EmbeddedProxy(tmp_path / "proxy", SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN, **sim.proxy_env())
    proxy.start()
    yield proxy
    proxy.stop()


def test_four_big_admin_bodies_cost_no_memory(own_embedded: EmbeddedProxy) -> None:
    """The issue's measurement: four concurrent 48 MiB bodies to the admin API of the
    embedded default. They are refused early, so the process's peak memory barely moves."""
    assert own_embedded.process is not None
    pid = own_embedded.process.pid
    before = _peak_rss(pid)
    answers: list[int] = []
    threads = [
        threading.Thread(target=_stream_big_body, args=(own_embedded.url, 48 * MIB, answers))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    grown = _peak_rss(pid) - before
    assert grown < 32 * MIB, f"peak memory grew by {grown // MIB} MiB"
    assert answers == [413] * 4
