"""The registration API, as snapproxy defines it (the Snap Store's own is not public).

``POST /v2/auth/proxy/register`` with a JSON object:

- ``account``, ``password``: the upstream account registering the proxy; ``otp``: its
  one-time code, when the account has two factors;
- ``domain``: ``proxy.domain``; ``url``: where devices reach the proxy (the store assertion
  points them there); ``use-case``: one line for the upstream's operator;
- ``public-key``: the proxy's identity key (OpenSSH ``ssh-rsa ...``);
- ``store-id`` (``reregister`` only): the Store ID to keep, for the same ``public-key``.

Answers: 200 ``{"store-id", "status": "approved", "assertions"}``, where ``assertions`` is the
``store`` assertion for ``url`` followed by the account-key that signed it and the operator's
``account`` (snap ack's input);
401 ``invalid-credentials``, ``twofactor-required`` or ``twofactor-failure``; 400
``invalid-request``; 404 ``not-found`` for a ``store-id`` this key never registered. Errors
are in the Store's shape, ``{"error-list": [{"code", "message"}]}``.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

REGISTER_PATH = "/v2/auth/proxy/register"
STORE_ID_ALPHABET = string.ascii_letters + string.digits
STORE_ID_LENGTH = 32
MAX_FIELD = 4096


class RegistrationInvalid(ValueError):
    """The request is malformed; the message says which field and why."""


@dataclass(frozen=True)
class RegistrationRequest:
    account: str
    password: str
    otp: str | None
    domain: str
    url: str
    use_case: str
    public_key: str
    store_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "account": self.account,
            "password": self.password,
            "domain": self.domain,
            "url": self.url,
            "use-case": self.use_case,
            "public-key": self.public_key,
        }
        if self.otp:
            body["otp"] = self.otp
        if self.store_id:
            body["store-id"] = self.store_id
        return body


def _text(payload: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = payload.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise RegistrationInvalid(f"'{name}' must be a non-empty string")
    if len(value) > MAX_FIELD:
        raise RegistrationInvalid(f"'{name}' is longer than {MAX_FIELD} characters")
    return value.strip()


def parse_request(payload: object) -> RegistrationRequest:
    """A request from its JSON; RegistrationInvalid naming the first bad field."""
    if not isinstance(payload, dict):
        raise RegistrationInvalid("the body must be a JSON object")
    url = _text(payload, "url") or ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RegistrationInvalid("'url' must be an http:// or https:// URL with a host")
    public_key = _text(payload, "public-key") or ""
    rsa_public_key(public_key)
    store_id = _text(payload, "store-id", required=False)
    if store_id is not None and not valid_store_id(store_id):
        raise RegistrationInvalid("'store-id' is not a Store ID")
    return RegistrationRequest(
        account=_text(payload, "account") or "",
        password=_text(payload, "password") or "",
        otp=_text(payload, "otp", required=False),
        domain=_text(payload, "domain") or "",
        url=url,
        use_case=_text(payload, "use-case") or "",
        public_key=public_key,
        store_id=store_id,
    )


def rsa_public_key(text: str) -> rsa.RSAPublicKey:
    """The RSA key of an OpenSSH public key line; RegistrationInvalid otherwise."""
    try:
        key = serialization.load_ssh_public_key(text.encode())
    except (ValueError, TypeError):
        raise RegistrationInvalid("'public-key' is not an OpenSSH public key") from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < 2048:
        raise RegistrationInvalid("'public-key' must be an RSA key of 2048 bits or more")
    return key


def new_store_id() -> str:
    return "".join(secrets.choice(STORE_ID_ALPHABET) for _ in range(STORE_ID_LENGTH))


def valid_store_id(text: str) -> bool:
    return len(text) == STORE_ID_LENGTH and all(c in STORE_ID_ALPHABET for c in text)


def store_headers(
    authority: str, store_id: str, operator_id: str, url: str, timestamp: str
) -> dict[str, str]:
    """The headers of the ``store`` assertion a registration is answered with."""
    return {
        "type": "store",
        "authority-id": authority,
        "store": store_id,
        "operator-id": operator_id,
        "url": url,
        "timestamp": timestamp,
    }
