"""The auth service: device sessions relayed upstream, the device registry, the admin gate.

Most tests run against the real proxy (both topologies) with the store simulator upstream;
the ``inproc`` tests build the auth app in-process over SQLite with a scripted upstream, to
see exactly what is forwarded and to cover settings the shared proxies do not have.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.auth.app import create_app
from services.auth.service import MAX_SESSION_BODY
from shared import migrate
from shared.admin import check_admin_authorization
from shared.app import create_resources
from shared.assertions import SigningKey, sign_assertion
from shared.errors import SnapProxyError
from shared.settings import Settings
from tests.support.device_api import assert_store_error
from tests.support.proxies import ADMIN_TOKEN, DEVICE_HEADERS, ProxyUnderTest
from tests.support.sim import SimHandle

NONCES = "/api/v1/snaps/auth/nonces"
SESSIONS = "/api/v1/snaps/auth/sessions"
DEVICES = "/v1/devices"


# -- assertions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    brand: SigningKey
    device: SigningKey


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(brand=SigningKey.generate(2048), device=SigningKey.generate(2048))


def serial_assertion(keys: Keys, brand: str, model: str, serial: str) -> str:
    headers = {
        "type": "serial",
        "authority-id": brand,
        "brand-id": brand,
        "model": model,
        "serial": serial,
        "device-key": keys.device.public_key_body().decode(),
        "device-key-sha3-384": keys.device.key_id,
        "timestamp": "2024-05-01T12:00:00Z",
    }
    return sign_assertion(headers, keys.brand).raw.decode()


def other_assertion(keys: Keys) -> str:
    """A well-formed assertion that is not a serial."""
    headers = {
        "type": "account",
        "authority-id": "canonical",
        "account-id": "someone",
        "display-name": "Someone",
        "validation": "unproven",
        "timestamp": "2024-05-01T12:00:00Z",
    }
    return sign_assertion(headers, keys.brand).raw.decode()


def session_body(serial_text: str, **extra: Any) -> dict[str, Any]:
    return {
        "device-session-request": "type: device-session-request\n...",
        "serial-assertion": serial_text,
        "model-assertion": "type: model\n...",
        **extra,
    }


@dataclass(frozen=True)
class NewDevice:
    brand: str
    model: str
    serial: str
    assertion: str


@pytest.fixture
def device(keys: Keys) -> NewDevice:
    """A device no test has used before (the proxies live for the whole session)."""
    serial = f"sn-{uuid.uuid4().hex[:12]}"
    return NewDevice("acme", "acme-box", serial, serial_assertion(keys, "acme", "acme-box", serial))


# -- helpers ---------------------------------------------------------------------------------


def all_devices(proxy: ProxyUnderTest) -> list[dict[str, Any]]:
    with proxy.admin() as admin:
        response = admin.get(DEVICES, params={"limit": 1000})
    assert response.status_code == 200, response.text
    devices: list[dict[str, Any]] = response.json()["devices"]
    return devices


def devices_matching(proxy: ProxyUnderTest, **wanted: Any) -> list[dict[str, Any]]:
    return [d for d in all_devices(proxy) if all(d[k] == v for k, v in wanted.items())]


def sim_requests(sim: SimHandle, key: str) -> int:
    return int(sim.stats()["requests"].get(key, 0))


# -- nonces and sessions through the proxy ---------------------------------------------------


def test_nonce_is_relayed(any_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    with any_proxy.client(Accept="application/json") as client:
        response = client.post(NONCES)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers.get("snap-store-version")  # a relayed upstream header
    nonce = response.json()["nonce"]
    assert isinstance(nonce, str) and nonce
    assert sim_requests(sim, f"POST {NONCES}") == 1


def test_session_is_relayed_and_device_recorded(
    any_proxy: ProxyUnderTest, sim: SimHandle, device: NewDevice
) -> None:
    with any_proxy.client(Accept="application/json") as client:
        response = client.post(SESSIONS, json=session_body(device.assertion))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["macaroon"].startswith("snapsim-session-")
    assert sim_requests(sim, f"POST {SESSIONS}") == 1

    [recorded] = devices_matching(any_proxy, serial=device.serial)
    assert recorded["brand-id"] == device.brand
    assert recorded["model"] == device.model
    assert recorded["user-agent"] == DEVICE_HEADERS["User-Agent"]
    assert recorded["address"] == "127.0.0.1"
    assert recorded["sessions"] == 1
    assert recorded["first-seen"] == recorded["last-seen"]
    assert recorded["verified"] is True  # the upstream granted the session
    assert set(recorded) == {
        "brand-id",
        "model",
        "serial",
        "address",
        "user-agent",
        "first-seen",
        "last-seen",
        "sessions",
        "verified",
    }


def test_second_session_updates_the_same_device(
    any_proxy: ProxyUnderTest, sim: SimHandle, device: NewDevice
) -> None:
    with any_proxy.client() as client:
        assert client.post(SESSIONS, json=session_body(device.assertion)).status_code == 200
        [first] = devices_matching(any_proxy, serial=device.serial)
        refresh = {"X-Device-Authorization": 'Macaroon root="old-session"'}
        response = client.post(SESSIONS, json=session_body(device.assertion), headers=refresh)
        assert response.status_code == 200, response.text
    [second] = devices_matching(any_proxy, serial=device.serial)
    assert second["sessions"] == 2
    assert second["first-seen"] == first["first-seen"]
    assert datetime.fromisoformat(second["last-seen"]) > datetime.fromisoformat(first["last-seen"])
    # Most recently seen first.
    assert all_devices(any_proxy)[0]["serial"] == device.serial


@pytest.mark.parametrize("serial_kind", ["garbage", "not-a-serial"])
def test_device_without_serial_is_recorded_by_address_and_agent(
    any_proxy: ProxyUnderTest, sim: SimHandle, keys: Keys, serial_kind: str
) -> None:
    agent = f"snapd/2.57.6 (series 16; classic) test/{uuid.uuid4().hex[:8]}"
    address = "192.0.2.17"
    serial_text = "this is not an assertion" if serial_kind == "garbage" else other_assertion(keys)
    with any_proxy.client(**{"User-Agent": agent, "X-Forwarded-For": address}) as client:
        for _ in range(2):
            response = client.post(SESSIONS, json=session_body(serial_text))
            assert response.status_code == 200, response.text
    [recorded] = devices_matching(any_proxy, **{"user-agent": agent})
    # A client's own X-Forwarded-For is never believed: only a trusted proxy's (behind nginx,
    # the entry it appended). The embedded default trusts no proxy.
    assert recorded["address"] == "127.0.0.1"
    assert recorded["brand-id"] is None and recorded["model"] is None
    assert recorded["serial"] is None
    assert recorded["sessions"] == 2


def test_upstream_refusal_is_relayed_and_device_still_recorded(
    any_proxy: ProxyUnderTest, sim: SimHandle, device: NewDevice
) -> None:
    sim.set_faults(error_status=401, error_paths=[SESSIONS])
    with any_proxy.client() as client:
        response = client.post(SESSIONS, json=session_body(device.assertion))
    assert_store_error(response, 401)
    assert "simulated failure" in response.json()["error-list"][0]["message"]
    [recorded] = devices_matching(any_proxy, serial=device.serial)
    assert recorded["sessions"] == 0  # seen, but no session granted
    assert recorded["verified"] is False


def test_concurrent_first_sessions_of_one_device(
    any_proxy: ProxyUnderTest, sim: SimHandle, device: NewDevice
) -> None:
    statuses: list[int] = []

    def one() -> None:
        with any_proxy.client() as client:
            statuses.append(client.post(SESSIONS, json=session_body(device.assertion)).status_code)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 8
    [recorded] = devices_matching(any_proxy, serial=device.serial)
    assert recorded["sessions"] == 8


# -- malformed session requests --------------------------------------------------------------

BAD_BODIES: dict[str, bytes] = {
    "not-json": b"this is not json",
    "empty": b"",
    "invalid-utf8": b'{"device-session-request": "\xff\xfe"}',
    "json-array": json.dumps([session_body("x")]).encode(),
    "json-string": b'"device-session-request"',
    "missing-field": json.dumps({"device-session-request": "a", "serial-assertion": "b"}).encode(),
    "number-field": json.dumps(session_body("x", **{"model-assertion": 5})).encode(),
    "null-field": json.dumps(session_body("x", **{"device-session-request": None})).encode(),
    "object-field": json.dumps(session_body("x", **{"serial-assertion": {"a": 1}})).encode(),
    "empty-field": json.dumps(session_body("")).encode(),
    "deep-nesting": b"[" * 100_000 + b"]" * 100_000,
}


@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_malformed_session_request_is_refused(
    any_proxy: ProxyUnderTest, sim: SimHandle, name: str
) -> None:
    with any_proxy.client(**{"Content-Type": "application/json"}) as client:
        response = client.post(SESSIONS, content=BAD_BODIES[name])
    assert_store_error(response, 400, "invalid-request")
    assert sim_requests(sim, f"POST {SESSIONS}") == 0


def test_session_body_over_one_mib_is_refused(any_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    body = json.dumps(session_body("x", padding="p" * MAX_SESSION_BODY)).encode()
    with any_proxy.client(**{"Content-Type": "application/json"}) as client:
        response = client.post(SESSIONS, content=body)
    assert_store_error(response, 413, "request-too-large")
    assert sim_requests(sim, f"POST {SESSIONS}") == 0


def test_session_body_of_exactly_one_mib_is_accepted(
    any_proxy: ProxyUnderTest, sim: SimHandle, device: NewDevice
) -> None:
    body = json.dumps(session_body(device.assertion, padding="")).encode()
    body = json.dumps(
        session_body(device.assertion, padding="p" * (MAX_SESSION_BODY - len(body)))
    ).encode()
    assert len(body) == MAX_SESSION_BODY
    with any_proxy.client(**{"Content-Type": "application/json"}) as client:
        response = client.post(SESSIONS, content=body)
    assert response.status_code == 200, response.text
    assert devices_matching(any_proxy, serial=device.serial)


def test_upstream_down_gives_503(any_proxy: ProxyUnderTest, sim: SimHandle, keys: Keys) -> None:
    body = session_body(serial_assertion(keys, "acme", "acme-box", "down"))
    sim.stop()
    with any_proxy.client() as client:
        assert_store_error(client.post(NONCES), 503)
        assert_store_error(client.post(SESSIONS, json=body), 503)
    sim.start()
    with any_proxy.client() as client:
        assert client.post(NONCES).status_code == 200


# -- the admin device list -------------------------------------------------------------------


def test_devices_needs_the_admin_token(any_proxy: ProxyUnderTest) -> None:
    with httpx.Client(base_url=any_proxy.url, timeout=30) as anonymous:
        response = anonymous.get(DEVICES)
        assert_store_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
        for value in ("Bearer wrong-token", f"Basic {ADMIN_TOKEN}", "Bearer", f"{ADMIN_TOKEN}"):
            response = anonymous.get(DEVICES, headers={"Authorization": value})
            assert_store_error(response, 401, "unauthorized")
            assert response.headers["www-authenticate"].startswith("Bearer")
        response = anonymous.get(DEVICES, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200
    assert isinstance(response.json()["devices"], list)


def test_devices_limit(any_proxy: ProxyUnderTest, sim: SimHandle, keys: Keys) -> None:
    with any_proxy.client() as client:
        for n in range(2):
            text = serial_assertion(keys, "acme", "acme-box", f"limit-{n}-{uuid.uuid4().hex[:6]}")
            assert client.post(SESSIONS, json=session_body(text)).status_code == 200
    with any_proxy.admin() as admin:
        assert len(admin.get(DEVICES, params={"limit": 1}).json()["devices"]) == 1
        assert len(admin.get(DEVICES, params={"limit": 2}).json()["devices"]) == 2
        for bad in ("0", "1001", "-1", "many", ""):
            assert_store_error(admin.get(DEVICES, params={"limit": bad}), 400, "invalid-request")


# -- in-process: what is forwarded, and the admin gate without a token -----------------------


@pytest.fixture(scope="module")
def sqlite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("auth-inproc")
    migrate.upgrade(Settings(data_dir=data_dir))
    return data_dir


@dataclass
class ScriptedUpstream:
    """An upstream that records what it receives and answers with ``answer``."""

    seen: list[httpx.Request] = field(default_factory=list)
    answer: Callable[[httpx.Request], httpx.Response] = lambda request: httpx.Response(
        200, json={"macaroon": "m"}
    )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return self.answer(request)


@dataclass
class InProcess:
    client: httpx.AsyncClient
    upstream: ScriptedUpstream


async def inproc_app(data_dir: Path, admin_token: str | None) -> AsyncIterator[InProcess]:
    settings = Settings(data_dir=data_dir, admin_token=admin_token, upstream_url="http://store")
    scripted = ScriptedUpstream()
    resources = create_resources(
        settings, "auth", with_peers=False, upstream_transport=httpx.MockTransport(scripted)
    )
    app = create_app(settings, resources)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 4242))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://auth") as client:
            yield InProcess(client, scripted)
    finally:
        await resources.aclose()


@pytest.fixture
async def inproc(sqlite_dir: Path) -> AsyncIterator[InProcess]:
    async for value in inproc_app(sqlite_dir, ADMIN_TOKEN):
        yield value


@pytest.fixture
async def inproc_no_token(sqlite_dir: Path) -> AsyncIterator[InProcess]:
    async for value in inproc_app(sqlite_dir, None):
        yield value


async def test_inproc_admin_api_is_closed_without_a_token(inproc_no_token: InProcess) -> None:
    for headers in ({}, {"Authorization": f"Bearer {ADMIN_TOKEN}"}):
        response = await inproc_no_token.client.get(DEVICES, headers=headers)
        assert_store_error(response, 403, "forbidden")
        assert "set SNAPPROXY_ADMIN_TOKEN to enable" in response.json()["error-list"][0]["message"]


@pytest.mark.parametrize(
    ("token", "header", "status"),
    [
        (None, f"Bearer {ADMIN_TOKEN}", 403),
        ("", f"Bearer {ADMIN_TOKEN}", 403),
        (ADMIN_TOKEN, None, 401),
        (ADMIN_TOKEN, "", 401),
        (ADMIN_TOKEN, "Bearer ", 401),
        (ADMIN_TOKEN, f"Bearer {ADMIN_TOKEN}x", 401),
        (ADMIN_TOKEN, "Bearer t\u00e9st", 401),
        (ADMIN_TOKEN, f"Bearer {ADMIN_TOKEN}", None),
        (ADMIN_TOKEN, f"bearer  {ADMIN_TOKEN} ", None),
    ],
)
def test_check_admin_authorization(token: str | None, header: str | None, status: int) -> None:
    settings = Settings(admin_token=token)
    if status is None:
        check_admin_authorization(settings, header)
        return
    with pytest.raises(SnapProxyError) as raised:
        check_admin_authorization(settings, header)
    assert raised.value.status_code == status
    if status == 401:
        assert raised.value.headers["WWW-Authenticate"].startswith("Bearer")


async def test_inproc_session_is_forwarded_byte_exact(inproc: InProcess, keys: Keys) -> None:
    serial = f"sn-{uuid.uuid4().hex[:12]}"
    # Odd but valid JSON: spacing, key order and escapes must reach the store untouched.
    encoded_serial = json.dumps(serial_assertion(keys, "acme", "acme-box", serial))
    body = (
        b'{ "model-assertion":"m\\u0041",\n"serial-assertion": '
        + encoded_serial.encode()
        + b', "device-session-request" : "d", "extra": [1, 2.50, null] }'
    )
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "snapd/2.57.6 inproc",
        "X-Device-Authorization": 'Macaroon root="old"',
        "X-Not-Relayed": "1",
    }
    response = await inproc.client.post(SESSIONS, content=body, headers=headers)
    assert response.status_code == 200, response.text
    [sent] = inproc.upstream.seen
    assert sent.method == "POST" and sent.url.path == SESSIONS
    assert sent.content == body
    assert sent.headers["x-device-authorization"] == 'Macaroon root="old"'
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["user-agent"] == "snapd/2.57.6 inproc"
    assert "x-not-relayed" not in sent.headers

    listed = await inproc.client.get(DEVICES, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    [recorded] = [d for d in listed.json()["devices"] if d["serial"] == serial]
    assert recorded["address"] == "198.51.100.7"  # the peer: no X-Forwarded-For


async def test_inproc_upstream_answer_is_relayed_as_is(inproc: InProcess) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401,
            content=b'{"error_list": [{"code": "device-authorization-needs-refresh"}]}',
            headers={
                "Content-Type": "application/problem+json",
                "WWW-Authenticate": "Macaroon needs_refresh=1, refresh_device_session=1",
                "X-Oops-Id": "OOPS-1",
                "X-Internal": "not for devices",
            },
        )

    inproc.upstream.answer = refuse
    response = await inproc.client.post(SESSIONS, json=session_body("not a serial"))
    assert response.status_code == 401
    assert response.content == b'{"error_list": [{"code": "device-authorization-needs-refresh"}]}'
    assert response.headers["content-type"] == "application/problem+json"
    assert "refresh_device_session=1" in response.headers["www-authenticate"]
    assert response.headers["x-oops-id"] == "OOPS-1"
    assert "x-internal" not in response.headers


async def test_inproc_nonce_sends_no_body(inproc: InProcess) -> None:
    inproc.upstream.answer = lambda request: httpx.Response(200, json={"nonce": "abc"})
    response = await inproc.client.post(NONCES, headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.json() == {"nonce": "abc"}
    [sent] = inproc.upstream.seen
    assert sent.url.path == NONCES and sent.content == b""


async def test_inproc_long_values_fit_the_table(inproc: InProcess, keys: Keys) -> None:
    long_serial = "s" * 300
    text = serial_assertion(keys, "b" * 200, "m" * 200, long_serial)
    headers = {"User-Agent": "u" * 2000, "X-Forwarded-For": "10.0.0.1, not-an-address"}
    for _ in range(2):
        response = await inproc.client.post(SESSIONS, json=session_body(text), headers=headers)
        assert response.status_code == 200, response.text
    listed = await inproc.client.get(DEVICES, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    [recorded] = [d for d in listed.json()["devices"] if d["serial"] == long_serial[:256]]
    assert recorded["sessions"] == 2
    assert recorded["brand-id"] == "b" * 128 and len(recorded["user-agent"]) == 512
    assert recorded["address"] == "198.51.100.7"  # an unparseable forwarded address is ignored
