"""RSA keys in snapd's encoding: account-key bodies, key IDs, and signing."""

from __future__ import annotations

import functools
import hashlib
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from . import openpgp
from .assertion import Assertion
from .errors import SignatureError
from .keybody import check_account_key, decode_v1, encode_v1, key_id_of_body, public_key_packet


@functools.lru_cache(maxsize=256)
def public_key_from_body(body: bytes) -> rsa.RSAPublicKey:
    """The RSA key in an account-key body or `device-key` header value."""
    packet = public_key_packet(body)
    try:
        return rsa.RSAPublicNumbers(packet.exponent, packet.modulus).public_key()
    except ValueError as exc:  # bad RSA numbers
        raise SignatureError(f"cannot decode public key: {exc}") from None


def public_key_from_account_key(account_key: Assertion) -> rsa.RSAPublicKey:
    """The RSA key of an account-key assertion, whose body must match its key ID."""
    check_account_key(account_key)
    return public_key_from_body(account_key.body)


def verify_content(content: bytes, signature: bytes, public_key: rsa.RSAPublicKey) -> None:
    """Check an encoded signature block over `content`; raise SignatureError if it fails."""
    try:
        packet = openpgp.decode_signature_packet(decode_v1(signature))
    except ValueError as exc:
        raise SignatureError(f"cannot decode signature: {exc}") from None
    hash_name = openpgp.HASH_NAMES[packet.hash_algorithm]
    digest = hashlib.new(hash_name, content)
    digest.update(openpgp.signed_suffix(packet.hashed_prefix))
    if digest.digest()[:2] != packet.hash_left16:
        raise SignatureError("failed signature verification: hash tag doesn't match")
    key_bytes = (public_key.key_size + 7) // 8
    if packet.signature.bit_length() > public_key.key_size:
        raise SignatureError("failed signature verification: signature too long")
    algorithm: hashes.HashAlgorithm = {
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }[hash_name]
    try:
        public_key.verify(
            packet.signature.to_bytes(key_bytes, "big"),
            digest.digest(),
            padding.PKCS1v15(),
            Prehashed(algorithm),
        )
    except (InvalidSignature, ValueError) as exc:
        raise SignatureError("failed signature verification") from exc


class SigningKey:
    """An RSA private key that signs assertion content the way snapd does."""

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self.private_key = private_key
        numbers = private_key.public_key().public_numbers()
        packet = openpgp.encode_public_key_packet(numbers.n, numbers.e)
        self._body = encode_v1(packet)
        self._issuer = openpgp.issuer_key_id(numbers.n, numbers.e)
        self.key_id: str = key_id_of_body(self._body)

    @classmethod
    def generate(cls, bits: int = 4096) -> SigningKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=bits))

    @classmethod
    def from_pem(cls, pem: bytes, password: bytes | None = None) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=password)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("only RSA private keys can sign assertions")
        return cls(key)

    def to_pem(self) -> bytes:
        """The private key as unencrypted PKCS#8 PEM."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def public_key_body(self) -> bytes:
        """The account-key body (also the `device-key` header value) for this key."""
        return self._body

    def sign_content(self, content: bytes, created: int | None = None) -> bytes:
        """The encoded signature block over `content` (SHA-512, v4 packet)."""
        created = int(time.time()) if created is None else created
        prefix = openpgp.hashed_signature_prefix(openpgp.HASH_SHA512, created)
        hasher = hashlib.sha512(content)
        hasher.update(openpgp.signed_suffix(prefix))
        digest = hasher.digest()
        signature = self.private_key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA512()))
        unhashed = openpgp.encode_subpacket(openpgp.SUBPACKET_ISSUER, self._issuer)
        packet = openpgp.encode_signature_packet(
            prefix, unhashed, digest[:2], int.from_bytes(signature, "big")
        )
        return encode_v1(packet)
