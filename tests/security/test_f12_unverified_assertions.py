"""Finding 12: assertions that fail verification are stored.

The proxy stores (and so re-serves, also while the upstream is away) only assertions whose
signature verifies with their signing account-key, that key chaining up to a configured
trusted root (the simulator's root here: ``SimHandle.proxy_env`` configures it). Anything
else is relayed once, byte-exact, with an ``X-Snapproxy-Warning`` header, and not stored.

The simulator serves whatever lies in its assertion folder, so the tests drop forgeries
there: an account signed by an unknown key, one whose signature no longer matches, one
signed by a real key of the chain that does not belong to its authority, and a self-signed
account-key posing as a root.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.assertions import Assertion, SigningKey, parse_stream, sign_assertion
from tests.support.device_api import assert_store_error
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle

WARNING = "x-snapproxy-warning"
ROOT_ACCOUNT = "snapsim-root"
ERROR_TYPES = ("application/json", "application/problem+json")


def sim_key(sim: SimHandle, name: str) -> SigningKey:
    """One of the simulator's own signing keys (``root`` or ``store``)."""
    pem = (sim.data_dir / "keys" / f"{name}.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return SigningKey(key)


def serve(sim: SimHandle, assertion: Assertion | bytes, type_name: str, key: str) -> str:
    """Put an assertion into the simulator's folder; return its URL path."""
    raw = assertion.raw if isinstance(assertion, Assertion) else assertion
    path = sim.data_dir / "asserts" / type_name / f"{key}.assert"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(raw)
    partial.rename(path)
    return f"/v2/assertions/{type_name}/{key}"


def account(account_id: str, signer: SigningKey, authority: str = ROOT_ACCOUNT) -> Assertion:
    return sign_assertion(
        {
            "type": "account",
            "authority-id": authority,
            "account-id": account_id,
            "display-name": f"Account {account_id}",
            "timestamp": "2024-05-01T12:00:00Z",
            "username": account_id,
            "validation": "unproven",
        },
        signer,
    )


def self_signed_key(account_id: str, key: SigningKey) -> Assertion:
    return sign_assertion(
        {
            "type": "account-key",
            "authority-id": account_id,
            "account-id": account_id,
            "name": "root",
            "public-key-sha3-384": key.key_id,
            "since": "2016-01-01T00:00:00Z",
        },
        key,
        key.public_key_body(),
    )


def unknown_key(sim: SimHandle, name: str) -> str:
    return serve(sim, account(name, SigningKey.generate(2048)), "account", name)


def bad_signature(sim: SimHandle, name: str) -> str:
    raw = account(name, sim_key(sim, "root")).raw
    return serve(
        sim, raw.replace(b"validation: unproven", b"validation: verified"), "account", name
    )


def wrong_authority(sim: SimHandle, name: str) -> str:
    """Signed by the simulator's store key, which belongs to ``snapsim``, not to the root."""
    return serve(sim, account(name, sim_key(sim, "store")), "account", name)


def fake_root(sim: SimHandle, name: str) -> str:
    key = SigningKey.generate(2048)
    return serve(sim, self_signed_key(ROOT_ACCOUNT, key), "account-key", key.key_id)


FORGERIES: dict[str, Callable[[SimHandle, str], str]] = {
    "unknown-key": unknown_key,
    "bad-signature": bad_signature,
    "wrong-authority": wrong_authority,
    "self-signed-key": fake_root,
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_forged_assertion_is_relayed_with_a_warning_and_not_stored(
    any_proxy: ProxyUnderTest, sim: SimHandle, forgery: str
) -> None:
    name = f"f12-{uuid.uuid4().hex[:12]}"
    genuine_url = serve(sim, account(f"{name}-ok", sim_key(sim, "root")), "account", f"{name}-ok")
    forged_url = FORGERIES[forgery](sim, name)
    forged_bytes = sim.client.get(forged_url).content

    with any_proxy.client() as client:
        genuine = client.get(genuine_url, params={"max-format": 0})
        assert genuine.status_code == 200 and WARNING not in genuine.headers
        for _ in range(2):  # never from the database: each time from upstream, with a warning
            forged = client.get(forged_url, params={"max-format": 0})
            assert forged.status_code == 200
            assert forged.content == forged_bytes
            assert "not stored" in forged.headers.get(WARNING, "")
            assert forged.headers["x-snapproxy-cache"] == "miss"

        sim.stop()  # the sim fixture starts it again
        stored = client.get(genuine_url, params={"max-format": 0})
        assert stored.status_code == 200 and stored.content == genuine.content
        offline = client.get(forged_url, params={"max-format": 0})
        assert offline.content != forged_bytes
        assert_store_error(offline, 503, media_types=ERROR_TYPES)


def test_stream_keeps_what_verifies_and_drops_the_rest(
    any_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    """A stream with a genuine prerequisite (the store's account-key) and a forged account."""
    name = f"f12-{uuid.uuid4().hex[:12]}"
    signed = account(name, sim_key(sim, "store"), authority="snapsim").raw
    url = serve(sim, signed.replace(b"unproven", b"verified"), "account", name)
    with any_proxy.client() as client:
        stream = client.get(url, params={"prerequisites": "true"})
        assert stream.status_code == 200
        assert stream.content == sim.client.get(url, params={"prerequisites": "true"}).content
        assert "not stored" in stream.headers.get(WARNING, "")
        pieces = parse_stream(stream.content)
        assert pieces[-1].header("account-id") == name
        [store_key] = [piece for piece in pieces if piece.type == "account-key"]
        key_url = f"/v2/assertions/account-key/{store_key.header('public-key-sha3-384')}"
        sim.stop()
        kept = client.get(key_url, params={"max-format": 0})
        assert kept.status_code == 200 and kept.content == store_key.raw
        assert_store_error(client.get(url, params={"max-format": 0}), 503, media_types=ERROR_TYPES)


def test_proxy_trusts_the_simulator_root_it_was_given(sim: SimHandle) -> None:
    """The fixtures' proxies are told to trust this simulator's root, and Canonical's."""
    entries = sim.proxy_env()["SNAPPROXY_TRUSTED_ROOT_KEYS"].split(",")
    assert "canonical" in entries
    [path] = [Path(entry) for entry in entries if entry != "canonical"]
    [root] = parse_stream(path.read_bytes())
    assert root.header("public-key-sha3-384") == sim_key(sim, "root").key_id
