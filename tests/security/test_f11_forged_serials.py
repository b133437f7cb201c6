"""Finding 11: devices recorded from forged serials.

A session request carries the device's ``serial-assertion``. Only the upstream store can
tell a genuine serial from a forged one (it knows the brands' keys), so a device counts as
verified only when the upstream granted its session. A forged or refused request is kept
apart, marked unverified, and never overwrites a verified device's row. A request the
upstream could not answer is still recorded (unverified) although the request fails.

The simulator grants every session; where the real store would refuse a forged serial the
tests make the simulator refuse (a 401, as the store answers).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from shared.assertions import SigningKey, sign_assertion
from tests.support.device_api import assert_store_error
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle

SESSIONS = "/api/v1/snaps/auth/sessions"
BRAND, MODEL = "acme", "acme-box"


@pytest.fixture(scope="module")
def brand_key() -> SigningKey:
    return SigningKey.generate(2048)


@pytest.fixture(scope="module")
def device_key() -> SigningKey:
    return SigningKey.generate(2048)


@pytest.fixture
def serial() -> str:
    """A serial no other test has used (the proxies live for the whole session)."""
    return f"f11-{uuid.uuid4().hex[:12]}"


def serial_assertion(signer: SigningKey, device_key: SigningKey, serial: str) -> str:
    """A serial assertion in the real shape, signed by ``signer``."""
    headers = {
        "type": "serial",
        "authority-id": BRAND,
        "brand-id": BRAND,
        "model": MODEL,
        "serial": serial,
        "device-key": device_key.public_key_body().decode(),
        "device-key-sha3-384": device_key.key_id,
        "timestamp": "2024-05-01T12:00:00Z",
    }
    return sign_assertion(headers, signer).raw.decode()


def tampered(text: str) -> str:
    """The same assertion with one header changed after signing: the signature is wrong."""
    return text.replace("timestamp: 2024-05-01T12:00:00Z", "timestamp: 2024-05-02T12:00:00Z")


def session_body(serial_text: str) -> dict[str, str]:
    return {
        "device-session-request": "type: device-session-request\n...",
        "serial-assertion": serial_text,
        "model-assertion": "type: model\n...",
    }


def rows_for(proxy: ProxyUnderTest, serial: str) -> list[dict[str, Any]]:
    with proxy.admin() as admin:
        response = admin.get("/v1/devices", params={"limit": 1000})
    assert response.status_code == 200, response.text
    return [row for row in response.json()["devices"] if row["serial"] == serial]


@pytest.mark.parametrize("forgery", ["unknown-key", "bad-signature"])
def test_forged_serial_never_overwrites_a_verified_device(
    any_proxy: ProxyUnderTest,
    sim: SimHandle,
    brand_key: SigningKey,
    device_key: SigningKey,
    serial: str,
    forgery: str,
) -> None:
    genuine = serial_assertion(brand_key, device_key, serial)
    with any_proxy.client(**{"User-Agent": "snapd/2.57.6 genuine"}) as client:
        assert client.post(SESSIONS, json=session_body(genuine)).status_code == 200
    [before] = rows_for(any_proxy, serial)

    if forgery == "unknown-key":
        forged = serial_assertion(SigningKey.generate(2048), SigningKey.generate(2048), serial)
    else:
        forged = tampered(genuine)
    sim.set_faults(error_status=401, error_paths=[SESSIONS])  # as the store answers a forgery
    headers = {"User-Agent": "snapd/2.57.6 forger", "X-Forwarded-For": "203.0.113.66"}
    with any_proxy.client(**headers) as client:
        assert_store_error(client.post(SESSIONS, json=session_body(forged)), 401)

    rows = rows_for(any_proxy, serial)
    verified = [row for row in rows if row["user-agent"] == "snapd/2.57.6 genuine"]
    assert verified == [before], "the forged request overwrote the genuine device's row"
    assert before["verified"] is True and before["sessions"] == 1
    [claimed] = [row for row in rows if row["user-agent"] == "snapd/2.57.6 forger"]
    assert claimed["verified"] is False
    assert claimed["sessions"] == 0
    assert (claimed["brand-id"], claimed["model"]) == (BRAND, MODEL)


def test_refused_session_is_not_a_verified_device(
    any_proxy: ProxyUnderTest,
    sim: SimHandle,
    device_key: SigningKey,
    serial: str,
) -> None:
    sim.set_faults(error_status=401, error_paths=[SESSIONS])  # as the store answers a forgery
    forged = serial_assertion(SigningKey.generate(2048), device_key, serial)
    with any_proxy.client() as client:
        for _ in range(2):
            assert_store_error(client.post(SESSIONS, json=session_body(forged)), 401)
    [row] = rows_for(any_proxy, serial)
    assert row["verified"] is False
    assert row["sessions"] == 0


def test_granted_session_makes_a_verified_device(
    any_proxy: ProxyUnderTest,
    sim: SimHandle,
    brand_key: SigningKey,
    device_key: SigningKey,
    serial: str,
) -> None:
    text = serial_assertion(brand_key, device_key, serial)
    with any_proxy.client() as client:
        assert client.post(SESSIONS, json=session_body(text)).status_code == 200
    [row] = rows_for(any_proxy, serial)
    assert row["verified"] is True
    assert (row["brand-id"], row["model"], row["sessions"]) == (BRAND, MODEL, 1)


def test_upstream_down_sighting_is_recorded_unverified(
    any_proxy: ProxyUnderTest,
    sim: SimHandle,
    brand_key: SigningKey,
    device_key: SigningKey,
    serial: str,
) -> None:
    text = serial_assertion(brand_key, device_key, serial)
    sim.stop()  # the sim fixture starts it again
    with any_proxy.client() as client:
        assert_store_error(client.post(SESSIONS, json=session_body(text)), 503)
    sim.start()
    [row] = rows_for(any_proxy, serial)
    assert row["verified"] is False
    assert row["sessions"] == 0
    assert (row["brand-id"], row["model"]) == (BRAND, MODEL)


@pytest.mark.parametrize("twin", ["SERIAL-ASSERTION", "Serial-Assertion", "\u017ferial-assertion"])
def test_a_field_given_twice_is_refused(
    any_proxy: ProxyUnderTest,
    sim: SimHandle,
    brand_key: SigningKey,
    device_key: SigningKey,
    serial: str,
    twin: str,
) -> None:
    """A JSON decoder that matches names case-insensitively (Go's) could read the other
    copy than the proxy: the upstream would judge one serial and the proxy record another."""
    genuine = serial_assertion(brand_key, device_key, f"{serial}-other")
    forged = serial_assertion(SigningKey.generate(2048), device_key, serial)
    body = json.dumps({**session_body(forged), twin: genuine}).encode()
    with any_proxy.client(**{"Content-Type": "application/json"}) as client:
        response = client.post(SESSIONS, content=body)
    assert_store_error(response, 400, "invalid-request")
    assert int(sim.stats()["requests"].get(f"POST {SESSIONS}", 0)) == 0
    assert rows_for(any_proxy, serial) == []
