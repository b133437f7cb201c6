"""Bad input gets a 4xx in the Store's shape, never a 500, in both topologies.

The shape is ``{"error-list": [{"code": ..., "message": ...}]}`` as JSON. Some answers come
from the proxy itself (it validates what it relays), some from the gateway (nginx refuses
malformed requests itself) and some are the upstream's own 4xx, relayed.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.device_api import (
    REFRESH,
    assert_store_error,
    context_entry,
    install,
    refresh_action,
    refresh_body,
)
from tests.support.proxies import DEVICE_HEADERS, ProxyUnderTest
from tests.support.sim import SimHandle

HELLO_ID = "tKON2tQqjAfqXvA5kwltUvEt7VqzquO8"  # any well-formed snap-id will do
MIB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop_headers: tuple[str, ...] = ()
    status: int | None = None  # None: any 4xx
    code: str | None = None


def refresh_json(document: Any) -> bytes:
    return json.dumps(document).encode()


def download(name: str, key: str) -> dict[str, Any]:
    return {"action": "download", "instance-key": key, "name": name, "epoch": None}


def one_action(**action: Any) -> bytes:
    return refresh_json({"context": [], "actions": [action]})


CASES = [
    # -- the refresh body ------------------------------------------------------------------
    Case("malformed-json", "POST", REFRESH, b'{"context": [', status=400),
    Case("not-utf8", "POST", REFRESH, b"\xff\xfe{}", status=400),
    Case("empty-body", "POST", REFRESH, b"", status=400),
    Case("json-array", "POST", REFRESH, b"[]", status=400),
    Case("json-string", "POST", REFRESH, b'"refresh"', status=400),
    Case("deeply-nested", "POST", REFRESH, b"[" * 100_000 + b"]" * 100_000, status=400),
    Case("no-actions", "POST", REFRESH, refresh_json({"context": []}), status=400),
    Case(
        "context-object", "POST", REFRESH, refresh_json({"context": {}, "actions": []}), status=400
    ),
    Case("action-not-object", "POST", REFRESH, refresh_json({"actions": ["install"]}), status=400),
    Case("unknown-action", "POST", REFRESH, one_action(action="frobnicate"), status=400),
    Case("action-list-type", "POST", REFRESH, one_action(action=["install"]), status=400),
    Case(
        "name-wrong-type",
        "POST",
        REFRESH,
        one_action(action="install", **{"instance-key": "i"}, name=5),
        status=400,
    ),
    Case(
        "no-instance-key",
        "POST",
        REFRESH,
        one_action(action="install", name="hello-sim"),
        status=400,
    ),
    Case(
        "revision-string",
        "POST",
        REFRESH,
        refresh_json(refresh_body([install("hello-sim", "install-1", revision="4")])),
        status=400,
    ),
    Case(
        "revision-bool",
        "POST",
        REFRESH,
        refresh_json(refresh_body([install("hello-sim", "install-1", revision=True)])),
        status=400,
    ),
    Case(
        "revision-negative",
        "POST",
        REFRESH,
        refresh_json(refresh_body([install("hello-sim", "install-1", revision=-1)])),
        status=400,
    ),
    Case(
        "revision-huge",
        "POST",
        REFRESH,
        refresh_json(refresh_body([install("hello-sim", "install-1", revision=10**30)])),
        status=400,
    ),
    Case(
        "channel-number",
        "POST",
        REFRESH,
        refresh_json(refresh_body([install("hello-sim", "install-1", channel=1)])),
        status=400,
    ),
    Case(
        "context-revision-string",
        "POST",
        REFRESH,
        refresh_json(
            refresh_body(
                [refresh_action(HELLO_ID)], [{**context_entry(HELLO_ID, 1), "revision": "1"}]
            )
        ),
        status=400,
    ),
    Case(
        "tracking-channel-number",
        "POST",
        REFRESH,
        refresh_json(
            refresh_body(
                [refresh_action(HELLO_ID)], [{**context_entry(HELLO_ID, 1), "tracking-channel": 5}]
            )
        ),
        status=400,
    ),
    Case(
        "refresh-no-snap-id",
        "POST",
        REFRESH,
        one_action(action="refresh", **{"instance-key": "k"}),
        status=400,
    ),
    Case(
        "fields-not-list",
        "POST",
        REFRESH,
        refresh_json({"actions": [], "fields": "name"}),
        status=400,
    ),
    Case(
        "assertions-not-list",
        "POST",
        REFRESH,
        one_action(action="fetch-assertions", key="k", assertions="snap-declaration"),
        status=400,
    ),
    Case(
        "name-dotdot",
        "POST",
        REFRESH,
        refresh_json(refresh_body([install("../../etc/passwd", "install-1")])),
        status=400,
    ),
    Case(
        "name-odd-characters",
        "POST",
        REFRESH,
        refresh_json(refresh_body([install("hello sim;rm -rf /\x00", "install-1")])),
        status=400,
    ),
    Case(
        "name-upper-case",
        "POST",
        REFRESH,
        refresh_json(refresh_body([install("Hello-Sim", "install-1")])),
        status=400,
    ),
    Case(
        "name-too-long",
        "POST",
        REFRESH,
        refresh_json(refresh_body([download("a" * 41, "download-1")])),
        status=400,
    ),
    Case(
        "body-over-1mib",
        "POST",
        REFRESH,
        refresh_json({"actions": [], "padding": "x" * (MIB + 10)}),
        status=413,
    ),
    Case(
        "missing-architecture",
        "POST",
        REFRESH,
        refresh_json(refresh_body([install("hello-sim", "install-1")])),
        drop_headers=("Snap-Device-Architecture",),
        status=400,
        code="missing-header",
    ),
    Case("wrong-method", "PUT", REFRESH, refresh_json(refresh_body([])), status=405),
    Case("get-refresh", "GET", REFRESH, status=405),
    # -- names and paths -------------------------------------------------------------------
    Case("info-dotdot", "GET", "/v2/snaps/info/..%2F..%2Fetc%2Fpasswd", status=404),
    Case("info-dotdot-plain", "GET", "/v2/snaps/info/..", status=404),
    Case("info-nul", "GET", "/v2/snaps/info/hello%00sim"),  # nginx: 400, embedded: 404
    Case("info-space-semicolon", "GET", "/v2/snaps/info/a%20b;c", status=404),
    Case("info-upper-case", "GET", "/v2/snaps/info/HELLO-SIM", status=404),
    Case("info-unicode", "GET", "/v2/snaps/info/h%C3%A9llo", status=404),
    Case("info-very-long", "GET", "/v2/snaps/info/" + "a" * 3000, status=404),
    Case("info-wrong-method", "DELETE", "/v2/snaps/info/hello-sim", status=405),
    Case("info-no-name", "GET", "/v2/snaps/info/", status=404),
    Case("unknown-endpoint", "GET", "/v2/snaps/nonsense", status=404),
    Case("find-bad-query", "GET", "/v2/snaps/find?q=hello%22%3C%3E", status=400),
    Case("find-dotdot", "GET", "/v2/snaps/find?q=..%2F..%2Fetc", status=400),
    Case("find-bad-channel", "GET", "/v2/snaps/find?q=hello&channel=a/b/c/d", status=400),
    Case("download-dotdot", "GET", "/api/v1/snaps/download/..%2F..%2Fetc%2Fpasswd", status=404),
    Case("download-bad-name", "GET", "/api/v1/snaps/download/hello;ls_1.snap", status=404),
    Case("download-revision-0", "GET", f"/api/v1/snaps/download/{HELLO_ID}_0.snap", status=404),
    Case(
        "download-huge-revision",
        "GET",
        f"/api/v1/snaps/download/{HELLO_ID}_9999999999.snap",
        status=404,
    ),
]


def send_raw(
    base_url: str, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> httpx.Response:
    """One request with the path exactly as written (httpx would resolve ``..`` itself)."""
    url = httpx.URL(base_url)
    connection = http.client.HTTPConnection(url.host, url.port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        return httpx.Response(answer.status, headers=answer.getheaders(), content=answer.read())
    finally:
        connection.close()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_bad_input_gets_a_store_shaped_4xx(
    any_proxy: ProxyUnderTest, sim: SimHandle, case: Case
) -> None:
    headers = {k: v for k, v in DEVICE_HEADERS.items() if k not in case.drop_headers}
    headers.update({"Content-Type": "application/json", **case.headers})
    response = send_raw(any_proxy.url, case.method, case.path, case.body, headers)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    error = assert_store_error(response, case.status)
    if case.code is not None:
        assert error["code"] == case.code


def test_body_over_1mib_without_content_length(any_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    """A chunked body gives no length up front: it is cut off as soon as it passes 1 MiB."""

    def chunks() -> Iterator[bytes]:
        yield b'{"actions": [], "padding": "'
        for _ in range(20):
            yield b"x" * (128 * 1024)
        yield b'"}'

    with any_proxy.client(**{"Content-Type": "application/json"}) as client:
        response = client.post(REFRESH, content=chunks())
    assert_store_error(response, 413)


def test_odd_names_never_crash(any_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    """Every printable ASCII character, alone and inside a name, in each place a name goes."""
    names = [chr(c) for c in range(0x21, 0x7F)] + [f"a{chr(c)}b" for c in range(0x20, 0x7F)]
    with any_proxy.client() as client:
        for name in names:
            quoted = quote(name, safe="")
            for response in (
                client.get(f"/v2/snaps/info/{quoted}"),
                client.get("/v2/snaps/find", params={"q": name}),
                client.post(REFRESH, json=refresh_body([install(name, "install-1")])),
            ):
                assert response.status_code < 500, (name, response.status_code, response.text)
                if response.status_code >= 400:
                    assert_store_error(response)
