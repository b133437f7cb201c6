"""What the fuzz pass of issue 15 found (``test_fuzz_raw.py``), one test per finding.

1. The embedded default's in-process gateway answered some requests itself (an unrouted
   path's 404, ``/_status/ping``) without reading their body. granian then closed the
   connection after the answer, without saying ``Connection: close``, so the client's next
   request on it met a closed connection (nginx reads and drops such a body).
2. nginx answered a request with an unknown ``Transfer-Encoding`` 501 and an HTTP version it
   does not speak 505, as HTML: server errors for a client's malformed request. They are
   400s in the Store's shape now, as nginx's other refusals of malformed requests are.
3. nginx echoed any ``X-Request-Id`` a client sent in its answer (and passed it to the
   services): control characters (``\\x0b``, ``\\x0c``), bytes outside ASCII and any length,
   which made the answer malformed HTTP. The gateway now takes only the request ids the
   services take (``shared.logging``), and makes its own for anything else.
4. nginx's own refusals besides its 400 were its HTML pages, not the Store's error shape:
   headers over its buffers ("400 Request Header Or Cookie Too Large"), a request target
   over 8 KiB (414), TRACE and CONNECT (405), and its internal locations (404). (granian's
   own refusals of such heads, in the embedded default, are a bare status with no body:
   they come before any snapproxy code runs.)
"""

from __future__ import annotations

import json
import re

import pytest

from tests.support.proxies import ProxyUnderTest
from tests.support.wire import Exchange, exchange

# The request ids the services accept (shared.logging._VALID_REQUEST_ID).
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def address(proxy: ProxyUnderTest) -> tuple[str, int]:
    host, _, port = proxy.url.removeprefix("http://").partition(":")
    return host, int(port)


def send(proxy: ProxyUnderTest, data: bytes, probe: bool = False) -> Exchange:
    return exchange(address(proxy), data, probe=probe, timeout=15)


def store_error(answer: Exchange, status: int) -> None:
    assert answer.kind == "answer", answer.describe()
    assert answer.status == status, answer.describe()
    assert answer.headers["content-type"] == "application/json", answer.headers
    errors = json.loads(answer.body)["error-list"]
    assert errors and errors[0]["code"] and errors[0]["message"], answer.body


# -- 1: the embedded gateway's own answers keep the connection usable ----------------------

BODY = b'{"context": [], "actions": []}'
CHUNKED = b"5\r\n" + BODY[:5] + b"\r\n%x\r\n" % (len(BODY) - 5) + BODY[5:] + b"\r\n0\r\n\r\n"


def with_body(line: bytes, chunked: bool) -> bytes:
    framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % len(BODY)
    head = line + b"\r\nHost: proxy.test\r\nContent-Type: application/json\r\n" + framing
    return head + b"\r\n\r\n" + (CHUNKED if chunked else BODY)


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
@pytest.mark.parametrize(
    "line",
    [
        b"POST /no/such/path HTTP/1.1",
        b"POST /_internal/resolve HTTP/1.1",
        b"GET /_status/ping HTTP/1.1",
        b"OPTIONS * HTTP/1.1",
        b"POST /./v1/devices HTTP/1.1",
    ],
    ids=["unrouted", "internal", "ping", "asterisk", "dot-segment"],
)
def test_an_answer_without_reading_the_body_keeps_the_connection(
    any_proxy: ProxyUnderTest, line: bytes, chunked: bool
) -> None:
    answer = send(any_proxy, with_body(line, chunked), probe=True)
    if any_proxy.name == "split" and line.startswith(b"OPTIONS *"):
        store_error(answer, 400)  # nginx refuses the asterisk form itself (and closes)
        return
    assert answer.kind == "answer" and answer.status is not None, answer.describe()
    assert answer.status < 500, answer.describe()
    assert answer.headers.get("connection", "").lower() != "close", answer.headers
    assert answer.probe is not None, "the answer did not leave the connection open"
    assert answer.probe.kind == "answer" and answer.probe.status == 200, answer.describe()


# -- 2: nginx's refusals of transfer codings and versions are 400s --------------------------


@pytest.mark.split
@pytest.mark.parametrize(
    "coding", [b"gzip", b"gzip, chunked", b"chunked, chunked", b"identity", b"chunked, gzip"]
)
def test_unknown_transfer_coding_is_a_400(split: ProxyUnderTest, coding: bytes) -> None:
    request = with_body(b"POST /v2/snaps/refresh HTTP/1.1", chunked=True).replace(
        b"Transfer-Encoding: chunked", b"Transfer-Encoding: " + coding
    )
    store_error(send(split, request), 400)


@pytest.mark.split
@pytest.mark.parametrize("version", [b"HTTP/2.0", b"HTTP/11.1", b"HTTP/3.0"])
def test_unsupported_http_version_is_a_400(split: ProxyUnderTest, version: bytes) -> None:
    store_error(
        send(split, b"GET /v2/snaps/categories %s\r\nHost: proxy.test\r\n\r\n" % version), 400
    )


# -- 3: request ids are echoed only when they are ones the services accept ------------------


@pytest.mark.parametrize(
    "request_id",
    [b"amd\x0b64", b"amd\x0c64", b"\xff\xfe", b"a" * 300, b"a b", b"x;y", b""],
    ids=["vt", "ff", "non-ascii", "long", "space", "semicolon", "empty"],
)
def test_an_invalid_request_id_is_not_echoed(any_proxy: ProxyUnderTest, request_id: bytes) -> None:
    request = b"GET /_status/devicegw/ping HTTP/1.1\r\nHost: proxy.test\r\nX-Request-Id: %s\r\n\r\n"
    answer = send(any_proxy, request % request_id)
    # granian refuses control characters in a head itself (400, no request id at all).
    assert answer.kind == "answer" and answer.status is not None, answer.describe()
    assert answer.status < 500, answer.describe()
    echoed = answer.headers.get("x-request-id")
    assert echoed is None or VALID_REQUEST_ID.fullmatch(echoed), answer.headers
    assert echoed != request_id.decode("latin-1")


def test_a_valid_request_id_is_echoed(any_proxy: ProxyUnderTest) -> None:
    request = (
        b"GET /v2/snaps/categories HTTP/1.1\r\nHost: proxy.test\r\nX-Request-Id: abc-1.2_3\r\n\r\n"
    )
    answer = send(any_proxy, request)
    assert answer.kind == "answer" and answer.headers.get("x-request-id") == "abc-1.2_3", (
        answer.describe(),
        answer.headers,
    )


# -- 4: nginx's own refusals are in the Store's shape ----------------------------------------


@pytest.mark.split
@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (
            b"GET /v2/snaps/categories HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n" % (b"a" * 20000),
            400,
        ),
        (b"GET /v2/snaps/info/%s HTTP/1.1\r\nHost: x\r\n\r\n" % (b"a" * 9000), 414),
    ],
    ids=["big-header", "long-target"],
)
def test_nginx_refuses_big_heads_in_the_store_shape(
    split: ProxyUnderTest, request_bytes: bytes, status: int
) -> None:
    store_error(send(split, request_bytes), status)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"TRACE /v2/snaps/categories HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"CONNECT /v2/snaps/categories HTTP/1.1\r\nHost: x\r\n\r\n", 405),
        (b"GET /_cache/x HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        (b"GET /_bad_request HTTP/1.1\r\nHost: x\r\n\r\n", 404),
    ],
    ids=["trace", "connect", "cache", "bad-request-page"],
)
def test_refused_methods_and_internal_locations_in_the_store_shape(
    any_proxy: ProxyUnderTest, request_bytes: bytes, status: int
) -> None:
    store_error(send(any_proxy, request_bytes), status)


def test_a_control_character_in_a_header_is_a_400_at_the_gateway(split: ProxyUnderTest) -> None:
    """5. A control character in a header value went through nginx to a service, whose HTTP
    parser refused the head by closing the connection with the body unread; when the reset
    overtook the refusal, nginx answered 503. The gateway now passes only the headers the
    services read, and refuses a control character in one of those itself."""
    body = b'{"context":[],"actions":[],"fields":[]}' + b" " * 150_000
    head = (
        b"POST /v2/snaps/refresh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Snap-Device-Architecture: amd64\r\nSnap-Device-Series: 16\r\n"
    )
    refused = send(
        split,
        head + b"User-Agent: snapd\x01/2.57\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
    )
    store_error(refused, 400)
    # A header no service reads is not passed on at all: the request is answered.
    passed = send(
        split,
        head + b"X-Nobody-Reads: a\x01b\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
    )
    assert passed.kind == "answer" and passed.status == 200, passed.describe()
