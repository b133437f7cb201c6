"""The snap assertion codec: parsing, encoding, signing and verifying assertions.

Follows snapd's `asserts` package (reference: snapd-store-api.md section 4).
"""

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
from .keys import (
    SigningKey,
    key_id_of_body,
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

MEDIA_TYPE = "application/x.ubuntu.assertion"

__all__ = [
    "DEFAULT_PROVENANCE",
    "MAX_BODY_SIZE",
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
    "encode_stream",
    "find_account_key",
    "key_id_of_body",
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
