"""Signing assertions in snapd's canonical form, and checking their signatures."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa

from .assertion import Assertion
from .assertion_types import NO_AUTHORITY_TYPES, OPTIONAL_PRIMARY_KEY_DEFAULTS, PRIMARY_KEYS
from .codec import check_headers, parse_assertion
from .errors import AssertionFormatError, SignatureError
from .headers import HeaderValue, encode_header, is_header_name, prune_value
from .keys import SigningKey, public_key_from_account_key, verify_content

# Headers about the assertion itself, written at fixed places rather than sorted.
_META_HEADERS: Final = frozenset(
    {"type", "format", "authority-id", "revision", "body-length", "sign-key-sha3-384"}
)


def sign_assertion(
    headers: Mapping[str, HeaderValue], signing_key: SigningKey, body: bytes = b""
) -> Assertion:
    """Assemble and sign an assertion as snapd's `assembleAndSign` does.

    Order: type, format (if > 0), authority-id, revision (if > 0), primary-key headers
    (an optional one equal to its default is left out), the rest sorted, body-length
    (if there is a body), sign-key-sha3-384 (set from `signing_key`).
    """
    final: dict[str, HeaderValue] = {}
    for name, value in headers.items():
        if not is_header_name(name):
            raise AssertionFormatError(f"invalid header name: {name!r}")
        pruned = prune_value(value)
        if pruned is not None:
            final[name] = pruned
    final.pop("body-length", None)
    if body:
        final["body-length"] = str(len(body))
    final["sign-key-sha3-384"] = signing_key.key_id
    check_headers(final, body)
    type_name = str(final["type"])
    defaults = OPTIONAL_PRIMARY_KEY_DEFAULTS.get(type_name, {})

    order = ["type"]
    if final.get("format", "0") != "0":
        order.append("format")
    if type_name not in NO_AUTHORITY_TYPES:
        order.append("authority-id")
    if final.get("revision", "0") != "0":
        order.append("revision")
    primary_keys = PRIMARY_KEYS[type_name]
    order += [name for name in primary_keys if final[name] != defaults.get(name)]
    written = _META_HEADERS | set(primary_keys)
    order += sorted(name for name in final if name not in written)
    if body:
        order.append("body-length")
    order.append("sign-key-sha3-384")

    text = "\n".join(encode_header(name, final[name]) for name in order)
    content = text.encode("utf-8") + (b"\n\n" + body if body else b"")
    signature = signing_key.sign_content(content)
    return parse_assertion(content + b"\n\n" + signature + b"\n")


def verify_signature_with_key(assertion: Assertion, public_key: rsa.RSAPublicKey) -> None:
    """Check the signature against a bare public key (e.g. a serial's `device-key`)."""
    verify_content(assertion.content, assertion.signature, public_key)


def verify_signature(assertion: Assertion, account_key: Assertion) -> None:
    """Check that `account_key` is the assertion's signing key and that the signature holds."""
    if account_key.type != "account-key":
        raise SignatureError(f"expected an account-key assertion, got {account_key.type!r}")
    if account_key.header("public-key-sha3-384") != assertion.sign_key_sha3_384:
        raise SignatureError(
            f"account-key {account_key.header('public-key-sha3-384')} did not sign this "
            f"assertion (sign-key-sha3-384 {assertion.sign_key_sha3_384})"
        )
    if assertion.type not in NO_AUTHORITY_TYPES and (
        account_key.header("account-id") != assertion.authority_id
    ):
        raise SignatureError(
            f"signing key belongs to {account_key.header('account-id')!r}, "
            f"not to the authority {assertion.authority_id!r}"
        )
    verify_content(assertion.content, assertion.signature, public_key_from_account_key(account_key))


def find_account_key(key_id: str, pool: Iterable[Assertion]) -> Assertion | None:
    """The account-key with `key_id` in `pool` (highest revision), or None."""
    found: Assertion | None = None
    for candidate in pool:
        matches = (
            candidate.type == "account-key" and candidate.header("public-key-sha3-384") == key_id
        )
        if matches and (found is None or candidate.revision > found.revision):
            found = candidate
    return found


def verify_chain(assertion: Assertion, pool: Iterable[Assertion]) -> None:
    """Find the assertion's signing account-key in `pool` and verify against it."""
    key_id = assertion.sign_key_sha3_384
    account_key = find_account_key(key_id, pool)
    if account_key is None:
        raise SignatureError(f"no matching public key: account-key/{key_id} is not in the pool")
    verify_signature(assertion, account_key)
