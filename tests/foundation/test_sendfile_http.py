"""snapproxy's uvicorn protocol (shared/sendfile_http.py), served for real on loopback with a
small Starlette app: a ``FileResponse`` goes out with ``sendfile``, whole and right, on a
keep-alive connection; a file gone before it is opened is a 503 the client may retry; a head
that never completes closes the connection."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from shared.sendfile_http import HEAD_LIMIT, PATHSEND, ZEROCOPYSEND, SendfileHttpProtocol
from shared.split import free_port

HEAD_TIMEOUT = 1.0
SIZE = 5 * 1024 * 1024 + 7


class Served:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.extensions: list[object] = []


def build_app(served: Served) -> Starlette:
    async def file(request: Request) -> Response:
        served.extensions.append(request.scope.get("extensions"))
        name = request.path_params["name"]
        return FileResponse(served.folder / name, media_type="application/octet-stream")

    async def gone(request: Request) -> Response:
        path = served.folder / "doomed"
        path.write_bytes(b"x" * 100)
        response = FileResponse(path, stat_result=path.stat())
        path.unlink()  # what the size cap may do between the route's look and the open
        return response

    class Segments:  # a plain ASGI app (a class: Starlette then does not wrap it)
        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await send_segments(scope, send)

    async def send_segments(scope: Scope, send: Send) -> None:
        """The blob in two parts of one open file, as a follower sends it; ``/short``
        announces more than the file holds."""
        declared = SIZE + (1000 if scope["path"] == "/short" else 0)
        headers = [(b"content-length", str(declared).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        half = SIZE // 2
        with (served.folder / "blob").open("rb") as blob:
            for offset, count, more in ((0, half, True), (half, declared - half, False)):
                message = {"type": ZEROCOPYSEND, "file": blob, "offset": offset}
                await send({**message, "count": count, "more_body": more})

    return Starlette(
        routes=[
            Route("/file/{name}", file, methods=["GET", "HEAD"]),
            Route("/gone", gone),
            Route("/segments", Segments()),
            Route("/short", Segments()),
        ]
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("sendfile")
    (folder / "blob").write_bytes(bytes(range(256)) * (SIZE // 256) + b"x" * (SIZE % 256))
    served = Served(folder, free_port())
    config = uvicorn.Config(
        build_app(served),
        host="127.0.0.1",
        port=served.port,
        http=SendfileHttpProtocol.with_head_timeout(HEAD_TIMEOUT),
        loop="asyncio",
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield served
    server.should_exit = True
    thread.join(10)


def connection(served: Served) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)


def test_a_file_goes_out_whole_twice_on_one_connection(served: Served) -> None:
    expected = hashlib.sha3_384((served.folder / "blob").read_bytes()).hexdigest()
    client = connection(served)
    for _ in range(2):
        client.request("GET", "/file/blob")
        answer = client.getresponse()
        body = answer.read()
        assert answer.status == 200
        assert answer.getheader("content-length") == str(SIZE)
        assert hashlib.sha3_384(body).hexdigest() == expected
    assert served.extensions[-1] == {PATHSEND: {}, ZEROCOPYSEND: {}}
    client.close()


def test_head_sends_no_body_and_keeps_the_connection(served: Served) -> None:
    client = connection(served)
    client.request("HEAD", "/file/blob")
    answer = client.getresponse()
    assert (answer.status, answer.getheader("content-length"), answer.read()) == (
        200,
        str(SIZE),
        b"",
    )
    client.request("GET", "/file/blob")
    assert len(client.getresponse().read()) == SIZE
    client.close()


def test_a_file_gone_before_it_is_opened_is_a_503_to_retry(served: Served) -> None:
    client = connection(served)
    client.request("GET", "/gone")
    answer = client.getresponse()
    body = json.loads(answer.read())
    assert answer.status == 503
    assert answer.getheader("retry-after") == "1"
    assert body["error-list"][0]["code"] == "cache-file-gone"
    client.request("GET", "/file/blob")  # the connection is still good
    assert len(client.getresponse().read()) == SIZE
    client.close()


def test_a_client_gone_mid_file_leaves_the_server_serving(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET /file/blob HTTP/1.1\r\nHost: t\r\n\r\n")
        assert sock.recv(12) == b"HTTP/1.1 200"
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    client = connection(served)
    client.request("GET", "/file/blob")
    assert len(client.getresponse().read()) == SIZE
    client.close()


@pytest.mark.parametrize("sent", [b"", b"GET /file/blob HTTP/1.1\r\nHost: t\r\n"])
def test_a_head_not_complete_in_time_closes_the_connection(served: Served, sent: bytes) -> None:
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.sendall(sent)
        sock.settimeout(HEAD_TIMEOUT + 5)
        started = time.monotonic()
        assert sock.recv(1024) == b""
        assert time.monotonic() - started >= HEAD_TIMEOUT * 0.8


def test_a_malformed_head_gets_a_store_shaped_400(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.sendall(b"GET /file/blob HTTP/1.1\r\nHost: t\r\nBad\x01Header: x\r\n\r\n")
        sock.settimeout(5)
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        body = json.loads(answer.read())
        assert answer.status == 400
        assert answer.getheader("content-type") == "application/json"
        assert body["error-list"][0]["code"] == "bad-request"
        assert sock.recv(1) == b""  # closed


def test_a_head_over_the_limit_gets_a_431_and_is_not_kept(served: Served) -> None:
    head = b"GET /file/blob HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * HEAD_LIMIT
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.settimeout(5)
        sock.sendall(head)  # one header that has not ended, past the limit; then nothing
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        assert answer.status == 431
        assert json.loads(answer.read())["error-list"][0]["code"] == "request-header-too-large"
        assert sock.recv(1) == b""  # closed


def test_parts_of_an_open_file_go_out_whole_and_keep_the_connection(served: Served) -> None:
    expected = (served.folder / "blob").read_bytes()
    client = connection(served)
    for _ in range(2):
        client.request("GET", "/segments")
        answer = client.getresponse()
        assert answer.status == 200
        assert answer.read() == expected
    client.close()


def test_a_part_past_the_end_of_its_file_cuts_the_answer_short(served: Served) -> None:
    client = connection(served)
    client.request("GET", "/short")
    answer = client.getresponse()
    assert answer.getheader("content-length") == str(SIZE + 1000)
    with pytest.raises(http.client.IncompleteRead) as cut:
        answer.read()
    assert len(cut.value.partial) == SIZE
    client.close()
