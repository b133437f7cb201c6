"""The simulator's own trust chain: a root key, a store key, and what they sign.

* ``snapsim-root`` owns the self-signed root account-key and signs accounts and
  account-keys (like Canonical's root key).
* ``snapsim`` owns the store key (its account-key is signed by the root) and signs
  snap-declarations and snap-revisions (like Canonical's store key).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from shared.assertions import Assertion, HeaderValue, SigningKey, sign_assertion

from .assertstore import AssertStore
from .ids import assertion_time
from .layout import DataDir, atomic_write

ROOT_ACCOUNT = "snapsim-root"
STORE_ACCOUNT = "snapsim"
KEY_SINCE = "2016-01-01T00:00:00Z"
ACCOUNT_TIMESTAMP = "2016-04-01T00:00:00Z"
KEY_BITS = 4096


def _load_key(pem: bytes) -> SigningKey:
    """Load one of our own PEMs; skips OpenSSL's slow (~0.3 s) RSA consistency check."""
    key = serialization.load_pem_private_key(pem, None, unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("simulator keys must be RSA")
    return SigningKey(key)


def _load_or_generate(data: DataDir, name: str, bits: int) -> tuple[SigningKey, bool]:
    path = data.keys / f"{name}.pem"
    if path.exists():
        return _load_key(path.read_bytes()), False
    key = SigningKey.generate(bits=bits)
    atomic_write(path, key.to_pem(), mode=0o600)
    return key, True


@dataclass
class Authority:
    root: SigningKey
    store: SigningKey
    asserts: AssertStore

    @classmethod
    def ensure(cls, data: DataDir, bits: int = KEY_BITS) -> Authority:
        """Load the keys of ``data``, creating keys and root assertions on first use."""
        data.ensure()
        with data.locked(), ThreadPoolExecutor(2) as pool:  # RSA key generation runs in C
            root_job = pool.submit(_load_or_generate, data, "root", bits)
            store, _ = _load_or_generate(data, "store", bits)
            root, _ = root_job.result()
            authority = cls(root, store, AssertStore(data.asserts))
            authority._ensure_chain()
            atomic_write(
                data.keys / "authority.json",
                json.dumps(
                    {
                        "root-account": ROOT_ACCOUNT,
                        "root-key": root.key_id,
                        "store-account": STORE_ACCOUNT,
                        "store-key": store.key_id,
                    },
                    indent=1,
                ).encode()
                + b"\n",
            )
        return authority

    def _ensure_chain(self) -> None:
        if self.asserts.get("account-key", [self.store.key_id]) is not None:
            return
        self.asserts.put(self.account(ROOT_ACCOUNT, ROOT_ACCOUNT, "Snap Store Simulator Root"))
        self.asserts.put(self._account_key(ROOT_ACCOUNT, "root", self.root))
        self.asserts.put(self.account(STORE_ACCOUNT, STORE_ACCOUNT, "Snap Store Simulator"))
        self.asserts.put(self._account_key(STORE_ACCOUNT, "store", self.store))

    def _sign(
        self, key: SigningKey, authority: str, headers: dict[str, HeaderValue], body: bytes = b""
    ) -> Assertion:
        return sign_assertion({"authority-id": authority, **headers}, key, body=body)

    def account(
        self, account_id: str, username: str, display_name: str, validation: str = "verified"
    ) -> Assertion:
        return self._sign(
            self.root,
            ROOT_ACCOUNT,
            {
                "type": "account",
                "account-id": account_id,
                "display-name": display_name,
                "timestamp": ACCOUNT_TIMESTAMP,
                "username": username,
                "validation": validation,
            },
        )

    def _account_key(self, account_id: str, name: str, key: SigningKey) -> Assertion:
        return self._sign(
            self.root,
            ROOT_ACCOUNT,
            {
                "type": "account-key",
                "account-id": account_id,
                "name": name,
                "public-key-sha3-384": key.key_id,
                "since": KEY_SINCE,
            },
            body=key.public_key_body(),
        )

    def snap_declaration(self, snap_id: str, snap_name: str, publisher_id: str) -> Assertion:
        return self._sign(
            self.store,
            STORE_ACCOUNT,
            {
                "type": "snap-declaration",
                "series": "16",
                "snap-id": snap_id,
                "publisher-id": publisher_id,
                "snap-name": snap_name,
                "timestamp": assertion_time(),
            },
        )

    def snap_revision(
        self, sha3_b64: str, snap_id: str, size: int, revision: int, developer_id: str
    ) -> Assertion:
        return self._sign(
            self.store,
            STORE_ACCOUNT,
            {
                "type": "snap-revision",
                "snap-sha3-384": sha3_b64,
                "developer-id": developer_id,
                "snap-id": snap_id,
                "snap-revision": str(revision),
                "snap-size": str(size),
                "timestamp": assertion_time(),
            },
        )
