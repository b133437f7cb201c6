"""The registering side: the identity key, the call to the upstream, the answer checked.

Blocking work (RSA key generation) is for the CLI, which runs it before any event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.assertions import AssertionFormatError, SignatureError, parse_stream, verify_chain
from shared.outbound import Outbound
from shared.registration.protocol import REGISTER_PATH, RegistrationRequest

KEY_BITS = 4096
# The Snap Store's hosts: its registration API is not public, so nothing registers there.
CANONICAL_HOSTS = ("snapcraft.io", "ubuntu.com", "canonical.com")


class RegistrationFailed(Exception):
    """Registration did not happen; the message says why and what to do, in one line."""


class TwoFactorRequired(RegistrationFailed):
    """The account has two factors and no one-time code was given."""


@dataclass(frozen=True)
class Identity:
    private_pem: str
    public_openssh: str


@dataclass(frozen=True)
class Registered:
    store_id: str
    status: str
    assertions: str


def new_identity(bits: int = KEY_BITS) -> Identity:
    """A new RSA identity key pair: PEM private key, OpenSSH public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    return Identity(private, public.decode())


def is_canonical(upstream_url: str) -> bool:
    host = (urlsplit(upstream_url).hostname or "").lower()
    return any(host == name or host.endswith("." + name) for name in CANONICAL_HOSTS)


def _error(response: httpx.Response) -> tuple[str, str]:
    try:
        body: Any = response.json()
        first = body["error-list"][0]
        return str(first.get("code", "")), str(first.get("message", ""))
    except (ValueError, KeyError, IndexError, TypeError):
        return "", f"HTTP {response.status_code}"


async def register(
    upstream_url: str, outbound: Outbound, request: RegistrationRequest, timeout: float = 60.0
) -> Registered:
    """Ask the upstream; Registered, or RegistrationFailed (TwoFactorRequired) with why."""
    async with httpx.AsyncClient(
        base_url=upstream_url.rstrip("/"), timeout=timeout, **outbound.client_options()
    ) as client:
        try:
            response = await client.post(REGISTER_PATH, json=request.to_json())
        except httpx.HTTPError as exc:
            raise RegistrationFailed(
                f"cannot reach the upstream store: {outbound.failure_reason(exc)}"
            ) from None
    if response.status_code == 200:
        return _registered(response, request)
    code, message = _error(response)
    if code == "twofactor-required":
        raise TwoFactorRequired(message)
    if response.status_code == 404 and not request.store_id:
        raise RegistrationFailed(
            "the upstream has no registration API (is proxy.upstream a snapproxy or the "
            "store simulator?)"
        )
    raise RegistrationFailed(f"the upstream refused: {message} ({code or response.status_code})")


def _registered(response: httpx.Response, request: RegistrationRequest) -> Registered:
    try:
        body = response.json()
        found = Registered(str(body["store-id"]), str(body["status"]), str(body["assertions"]))
    except (ValueError, KeyError, TypeError):
        raise RegistrationFailed("the upstream's answer is not a registration") from None
    check_bundle(found.assertions, found.store_id, request.url)
    return found


def check_bundle(text: str, store_id: str, url: str) -> None:
    """The bundle holds a ``store`` assertion for ``store_id`` and ``url``, signed by an
    account-key the bundle holds; RegistrationFailed otherwise."""
    try:
        assertions = parse_stream(text.encode())
    except AssertionFormatError as exc:
        raise RegistrationFailed(f"the upstream's assertions do not parse: {exc}") from None
    stores = [a for a in assertions if a.type == "store"]
    if len(stores) != 1:
        raise RegistrationFailed("the upstream's answer holds no single store assertion")
    store = stores[0]
    if store.header("store") != store_id or store.header("url") != url:
        raise RegistrationFailed(
            f"the upstream's store assertion is for {store.header('store')} at "
            f"{store.header('url')}, not {store_id} at {url}"
        )
    try:
        verify_chain(store, assertions)
    except SignatureError as exc:
        raise RegistrationFailed(f"the upstream's store assertion does not verify: {exc}") from None
