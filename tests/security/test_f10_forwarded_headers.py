"""Finding 10: ``X-Forwarded-For``, ``-Host`` and ``-Proto`` were believed from anyone.

A device could claim any address for the device registry, and make the proxy hand it
download URLs on any host. Now they are believed only from a trusted proxy
(``SNAPPROXY_TRUSTED_PROXIES``: the split topology's nginx on loopback by default, nothing in
the embedded default), and then only what that proxy itself added.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from starlette.requests import Request

from shared.http import ClientView, client_view, public_base_url
from shared.settings import ConfigError, Settings
from shared.split import SplitTopology
from tests.security.hardened import UNTRUSTED_SOURCE, untrusted_client
from tests.support.proxies import ADMIN_TOKEN, DEVICE_HEADERS, ProxyUnderTest

SESSIONS = "/api/v1/snaps/auth/sessions"
# Not a serial assertion: the device is recorded by address and user agent.
SESSION = {
    "device-session-request": "type: device-session-request\n...",
    "serial-assertion": "not an assertion",
    "model-assertion": "type: model\n...",
}
CLAIMED = "203.0.113.9"


def recorded_address(base_url: str, agent: str) -> str:
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
    ) as admin:
        answer = admin.get("/v1/devices", params={"limit": 1000})
    assert answer.status_code == 200, answer.text
    [device] = [d for d in answer.json()["devices"] if d["user-agent"] == agent]
    address: str = device["address"]
    return address


def new_agent() -> str:
    return f"snapd/2.57.6 (series 16; classic) f10/{uuid.uuid4().hex[:8]}"


def session_through(client: httpx.Client, agent: str, **headers: str) -> None:
    answer = client.post(SESSIONS, json=SESSION, headers={"User-Agent": agent, **headers})
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    "topology",
    ["embedded", pytest.param("split", marks=pytest.mark.split)],
)
def test_client_cannot_claim_another_address(topology: str, request: pytest.FixtureRequest) -> None:
    proxy: ProxyUnderTest = request.getfixturevalue(topology)
    agent = new_agent()
    with proxy.client() as client:
        session_through(client, agent, **{"X-Forwarded-For": CLAIMED})
    assert recorded_address(proxy.url, agent) == "127.0.0.1"


def test_client_cannot_choose_the_host_of_download_urls(embedded: ProxyUnderTest) -> None:
    forged = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    with embedded.client(**forged) as client:
        script = client.get("/client-setup.sh")
    assert script.status_code == 200, script.text
    assert "evil.example" not in script.text
    assert embedded.url in script.text  # what the client connected to (its Host header)


@pytest.mark.split
def test_untrusted_peer_on_a_service_port_cannot_claim_an_address(
    split_hardened: SplitTopology,
) -> None:
    agent = new_agent()
    auth = split_hardened.service_urls["auth"]
    with untrusted_client(auth, **DEVICE_HEADERS) as client:
        session_through(client, agent, **{"X-Forwarded-For": CLAIMED})
    assert recorded_address(split_hardened.gateway_url, agent) == UNTRUSTED_SOURCE


@pytest.mark.split
def test_serve_service_trusts_its_nginx_by_default(split: ProxyUnderTest) -> None:
    """The shared split topology sets no SNAPPROXY_TRUSTED_PROXIES: loopback is trusted."""
    agent = new_agent()
    with untrusted_client(split.url, **DEVICE_HEADERS) as client:
        session_through(client, agent, **{"X-Forwarded-For": CLAIMED})
    assert recorded_address(split.url, agent) == UNTRUSTED_SOURCE  # what nginx saw


@pytest.mark.split
def test_the_gateway_is_believed(split_hardened: SplitTopology) -> None:
    """nginx (a trusted proxy) says who connected to it, whatever the client claimed."""
    agent = new_agent()
    with untrusted_client(split_hardened.gateway_url, **DEVICE_HEADERS) as client:
        session_through(client, agent, **{"X-Forwarded-For": CLAIMED})
    assert recorded_address(split_hardened.gateway_url, agent) == UNTRUSTED_SOURCE


# -- the rule, in process ---------------------------------------------------------------------


def request_from(peer: str | None, **headers: str) -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "scheme": "http",
        "server": ("proxy.test", 8000),
        "client": (peer, 40000) if peer else None,
        "headers": [
            (name.lower().replace("_", "-").encode(), value.encode())
            for name, value in {"host": "proxy.test:8000", **headers}.items()
        ],
    }
    return Request(scope)


FORWARDED = {
    "x_forwarded_for": "198.51.100.1, 192.0.2.44",
    "x_forwarded_proto": "http, https",
    "x_forwarded_host": "client.example, proxy.example.org",
}


@pytest.mark.parametrize("trusted", [None, "none", "10.0.0.0/8", "127.0.0.1"])
def test_an_untrusted_peer_is_taken_as_it_is(trusted: str | None) -> None:
    settings = Settings(trusted_proxies=trusted)
    view = client_view(request_from("192.0.2.9", **FORWARDED), settings)
    assert view == ClientView(address="192.0.2.9", scheme="http", host="proxy.test:8000")
    assert public_base_url(request_from("192.0.2.9", **FORWARDED), settings) == (
        "http://proxy.test:8000"
    )


@pytest.mark.parametrize("peer", ["10.1.2.3", "::ffff:10.1.2.3"])
def test_a_trusted_proxy_is_believed_for_what_it_added(peer: str) -> None:
    settings = Settings(trusted_proxies="10.0.0.0/8, ::1")
    view = client_view(request_from(peer, **FORWARDED), settings)
    assert view == ClientView(address="192.0.2.44", scheme="https", host="proxy.example.org")
    assert public_base_url(request_from(peer, **FORWARDED), settings) == (
        "https://proxy.example.org"
    )
    assert client_view(request_from("::1", **FORWARDED), settings).address == "192.0.2.44"


def test_a_trusted_proxy_without_forwarded_headers() -> None:
    settings = Settings(trusted_proxies="127.0.0.0/8")
    view = client_view(request_from("127.0.0.1"), settings)
    assert view == ClientView(address="127.0.0.1", scheme="http", host="proxy.test:8000")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"x_forwarded_for": "not-an-address"}, ClientView("127.0.0.1", "http", "proxy.test:8000")),
        ({"x_forwarded_proto": "gopher"}, ClientView("127.0.0.1", "http", "proxy.test:8000")),
        ({"x_forwarded_host": "evil example/x"}, ClientView("127.0.0.1", "http", "0.0.0.0:9000")),
        ({"x_forwarded_for": "2001:db8::1"}, ClientView("2001:db8::1", "http", "proxy.test:8000")),
    ],
)
def test_odd_forwarded_values(headers: dict[str, str], expected: ClientView) -> None:
    settings = Settings(trusted_proxies="127.0.0.1", host="0.0.0.0", port=9000)
    assert client_view(request_from("127.0.0.1", **headers), settings) == expected


def test_the_public_url_setting_wins() -> None:
    settings = Settings(trusted_proxies="127.0.0.1", public_url="https://snaps.example/")
    assert public_base_url(request_from("127.0.0.1", **FORWARDED), settings) == (
        "https://snaps.example"
    )


def test_no_peer_address() -> None:
    view = client_view(request_from(None, **FORWARDED), Settings(trusted_proxies="0.0.0.0/0"))
    assert view.address is None and view.host == "proxy.test:8000"


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "gateway", "10.0.0.1,", "1.2.3.4/8/8"])
def test_bad_trusted_proxies_name_the_setting(bad: str) -> None:
    with pytest.raises(ConfigError, match="SNAPPROXY_TRUSTED_PROXIES"):
        Settings(trusted_proxies=bad).validate_all()
