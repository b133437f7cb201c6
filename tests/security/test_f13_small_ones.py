"""Finding 13 (devicegw's and the services' share of the small ones).

- ``/client-setup.sh`` answered 500 for an IPv6 ``Host``;
- trailing-slash redirects reflected the ``Host`` header (an open redirect);
- the snap-name, snap-id and SHA3 patterns used ``$``, which accepts a trailing newline;
- an invalid chunked body gave a 500 in the embedded default.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from services.devicegw.rewrite import rewrite_snap
from shared.revisions_api import Observation
from tests.security.rawhttp import Connection, request_bytes
from tests.support.device_api import REFRESH, assert_store_error, install, refresh_body
from tests.support.proxies import ADMIN_TOKEN, DEVICE_HEADERS, ProxyUnderTest
from tests.support.sim import SimHandle

SHA3 = "ab" * 48
SNAP_ID = "tKON2tQqjAfqXvA5kwltUvEt7VqzquO8"


@pytest.mark.parametrize("host", ["[::1]:8000", "[2001:db8::7]", "[::1]"])
def test_client_setup_for_an_ipv6_host(embedded: ProxyUnderTest, tmp_path: Path, host: str) -> None:
    """The embedded default builds the script from the ``Host`` it was reached at."""
    with embedded.client(Host=host) as client:
        response = client.get("/client-setup.sh")
    assert response.status_code == 200, response.text
    assert f"Environment=SNAPPY_FORCE_API_URL=http://{host}/\n" in response.text
    script = tmp_path / "client-setup.sh"
    script.write_text(response.text)
    subprocess.run(["sh", "-n", str(script)], check=True)


def test_client_setup_refuses_a_url_a_shell_would_run() -> None:
    from services.devicegw.client_setup import client_setup_script
    from shared.errors import BadRequest

    for url in ("http://a$(reboot)", "http://a`id`", 'http://a"b', "http://a b", "http://a;b"):
        with pytest.raises((BadRequest, ValueError)):
            client_setup_script(url)


@pytest.mark.parametrize(
    "path",
    [
        "/v2/snaps/find/?q=hello",
        "/api/v1/snaps/sections/",
        "/v1/cache/stats/",
        "/_status/devicegw/ping/",
    ],
)
def test_no_redirect_reflects_the_host_header(
    any_proxy: ProxyUnderTest, sim: SimHandle, path: str
) -> None:
    headers = {"Host": "evil.example", "Authorization": f"Bearer {ADMIN_TOKEN}"}
    with any_proxy.client(**headers) as client:
        response = client.get(path)
    assert not response.is_redirect, response.headers
    assert "evil.example" not in response.headers.get("location", "")
    assert_store_error(response, 404)


def test_a_name_with_a_trailing_newline_is_refused(
    any_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    with any_proxy.client() as client:
        assert_store_error(client.get("/v2/snaps/info/hello-sim%0A"), 404)
        refresh = client.post(REFRESH, json=refresh_body([install("hello-sim\n", "i-1")]))
        assert_store_error(refresh, 400, "invalid-request")
    assert sim.stats()["requests"] == {}  # neither went upstream


@pytest.mark.parametrize(
    ("snap_id", "sha3"), [(SNAP_ID + "\n", SHA3), (SNAP_ID, SHA3 + "\n")], ids=["id", "sha3"]
)
def test_ids_with_a_trailing_newline_are_not_recorded(snap_id: str, sha3: str) -> None:
    snap = {
        "snap-id": snap_id,
        "name": "hello-sim",
        "revision": 3,
        "download": {"url": "https://cdn.example/x.snap", "sha3-384": sha3, "size": 10},
    }
    observation = Observation()
    rewrite_snap(snap, "http://proxy.test", observation)
    assert observation.revisions == []


def test_an_invalid_chunked_body_is_a_400(embedded: ProxyUnderTest, sim: SimHandle) -> None:
    """The embedded default (nginx refuses it itself in the split topology)."""
    headers: dict[str, str | bytes] = {
        **DEVICE_HEADERS,
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
    }
    with Connection(embedded.url) as connection:
        answer = connection.exchange(
            request_bytes("POST", REFRESH, headers, b"zz\r\n{}\r\n0\r\n\r\n")
        )
    assert_store_error(answer.as_httpx(), 400)
