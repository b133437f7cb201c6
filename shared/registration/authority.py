"""A snapproxy as a parent: what it signs for a child that registers with it.

The parent signs with its own identity key (``proxy.key.private``, made by ``snap-proxy
generate-keys`` or ``register``). Its authority is an account named after that key, and the
bundle carries the key's account-key, signed by the key itself (a root of the parent's own,
as the simulator's is): a child's devices verify the store assertion against it. It carries
the registering account's ``account`` assertion too: the store assertion's prerequisite
(its ``operator-id``), which ``snap ack`` needs in the bundle (it fetches nothing).
"""

from __future__ import annotations

import hashlib

from shared.assertions import SigningKey, encode_stream, sign_assertion
from shared.registration.protocol import store_headers

KEY_SINCE = "2016-01-01T00:00:00Z"


def authority_id(key: SigningKey) -> str:
    """The parent's account id: named after its key, so it never changes with the key kept."""
    return "snapproxy-" + hashlib.sha256(key.key_id.encode()).hexdigest()[:24]


def operator_id(account: str) -> str:
    """The registering account as an assertion header may carry it."""
    return "acct" + hashlib.sha256(account.encode()).hexdigest()[:28]


def sign_store_bundle(
    private_pem: str, store_id: str, account: str, url: str, timestamp: str
) -> str:
    """The store assertion for ``url``, the signing key's account-key and the operator's
    account (blocking: RSA)."""
    key = SigningKey.from_pem(private_pem.encode())
    authority = authority_id(key)
    store = sign_assertion(
        store_headers(authority, store_id, operator_id(account), url, timestamp), key
    )
    account_key = sign_assertion(
        {
            "type": "account-key",
            "authority-id": authority,
            "account-id": authority,
            "name": "snapproxy-parent",
            "public-key-sha3-384": key.key_id,
            "since": KEY_SINCE,
        },
        key,
        body=key.public_key_body(),
    )
    operator = sign_assertion(
        {
            "type": "account",
            "authority-id": authority,
            "account-id": operator_id(account),
            "display-name": account,
            "timestamp": timestamp,
            "validation": "unproven",
        },
        key,
    )
    return encode_stream([store, account_key, operator]).decode()
