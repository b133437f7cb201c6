"""The snap assertion codec: parsing, encoding, signing and verifying assertions.

Follows snapd's `asserts` package (reference: snapd-store-api.md section 4).
"""

import importlib
from typing import TYPE_CHECKING, Final

from .assertion import Assertion
from .assertion_types import (
    DEFAULT_PROVENANCE,
    MAX_BODY_SIZE,
    MAX_HEADERS_SIZE,
    MAX_SIGNATURE_SIZE,
    NO_AUTHORITY_TYPES,
    OPTIONAL_PRIMARY_KEY_DEFAULTS,
    PRIMARY_KEYS,
    SEQUENCE_FORMING_TYPES,
)
from .codec import encode_stream, parse_assertion, parse_stream
from .digest import sha3_384_b64_to_hex, sha3_384_file, sha3_384_hex_to_b64
from .errors import AssertionFormatError, SignatureError
from .headers import HeaderValue
from .keybody import key_id_of_body
from .roots import CANONICAL, TrustedRootError, canonical_root_key, load_trusted_roots

if TYPE_CHECKING:
    from .keys import (
        SigningKey,
        public_key_from_account_key,
        public_key_from_body,
    )
    from .signing import (
        find_account_key,
        sign_assertion,
        verify_chain,
        verify_signature,
        verify_signature_with_key,
    )
    from .trust import MAX_CHAIN_LENGTH, TrustChain, UntrustedAssertion

# Keys, signatures and trust need ``cryptography`` (some 10 MiB in each process): they are
# imported on first use, so the services that only parse and relay assertions never load it.
_NEEDS_CRYPTOGRAPHY: Final = {
    ".keys": (
        "SigningKey",
        "public_key_from_account_key",
        "public_key_from_body",
    ),
    ".signing": (
        "find_account_key",
        "sign_assertion",
        "verify_chain",
        "verify_signature",
        "verify_signature_with_key",
    ),
    ".trust": ("MAX_CHAIN_LENGTH", "TrustChain", "UntrustedAssertion"),
}
_MODULE_OF: Final = {
    name: module for module, names in _NEEDS_CRYPTOGRAPHY.items() for name in names
}


def __getattr__(name: str) -> object:
    """PEP 562: the names of ``_NEEDS_CRYPTOGRAPHY``, imported when first asked for."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


MEDIA_TYPE = "application/x.ubuntu.assertion"

__all__ = [
    "CANONICAL",
    "DEFAULT_PROVENANCE",
    "MAX_BODY_SIZE",
    "MAX_CHAIN_LENGTH",
    "MAX_HEADERS_SIZE",
    "MAX_SIGNATURE_SIZE",
    "MEDIA_TYPE",
    "NO_AUTHORITY_TYPES",
    "OPTIONAL_PRIMARY_KEY_DEFAULTS",
    "PRIMARY_KEYS",
    "SEQUENCE_FORMING_TYPES",
    "Assertion",
    "AssertionFormatError",
    "HeaderValue",
    "SignatureError",
    "SigningKey",
    "TrustChain",
    "TrustedRootError",
    "UntrustedAssertion",
    "canonical_root_key",
    "encode_stream",
    "find_account_key",
    "key_id_of_body",
    "load_trusted_roots",
    "parse_assertion",
    "parse_stream",
    "public_key_from_account_key",
    "public_key_from_body",
    "sha3_384_b64_to_hex",
    "sha3_384_file",
    "sha3_384_hex_to_b64",
    "sign_assertion",
    "verify_chain",
    "verify_signature",
    "verify_signature_with_key",
]
