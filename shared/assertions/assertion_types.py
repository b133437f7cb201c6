"""Assertion types snapd knows, their primary keys, and the codec's size limits."""

from typing import Final

# Primary-key header names per type, in primary-key order (snapd asserts/asserts.go).
PRIMARY_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "account": ("account-id",),
    "account-key": ("public-key-sha3-384",),
    "repair": ("brand-id", "repair-id"),
    "model": ("series", "brand-id", "model"),
    "serial": ("brand-id", "model", "serial"),
    "base-declaration": ("series",),
    "snap-declaration": ("series", "snap-id"),
    "snap-build": ("snap-sha3-384",),
    "snap-revision": ("snap-sha3-384", "provenance"),
    "snap-developer": ("snap-id", "publisher-id"),
    "system-user": ("brand-id", "email"),
    "validation": ("series", "snap-id", "approved-snap-id", "approved-snap-revision"),
    "validation-set": ("series", "account-id", "name", "sequence"),
    "store": ("store",),
    "preseed": ("series", "brand-id", "model", "system-label"),
    "snap-resource-revision": ("snap-id", "resource-name", "resource-sha3-384", "provenance"),
    "snap-resource-pair": (
        "snap-id",
        "resource-name",
        "resource-revision",
        "snap-revision",
        "provenance",
    ),
    "registry": ("account-id", "name"),
    # Types without an authority: sent on the wire and signed by a device key.
    "device-session-request": ("brand-id", "model", "serial"),
    "serial-request": (),
    "account-key-request": ("public-key-sha3-384",),
}

DEFAULT_PROVENANCE: Final = "global-upload"

# Optional trailing primary-key headers and the value they take when absent.
OPTIONAL_PRIMARY_KEY_DEFAULTS: Final[dict[str, dict[str, str]]] = {
    "snap-revision": {"provenance": DEFAULT_PROVENANCE},
    "snap-resource-revision": {"provenance": DEFAULT_PROVENANCE},
    "snap-resource-pair": {"provenance": DEFAULT_PROVENANCE},
}

NO_AUTHORITY_TYPES: Final = frozenset(
    {"device-session-request", "serial-request", "account-key-request"}
)
SEQUENCE_FORMING_TYPES: Final = frozenset({"repair", "validation-set"})

MAX_HEADERS_SIZE: Final = 128 * 1024
MAX_BODY_SIZE: Final = 2 * 1024 * 1024
MAX_SIGNATURE_SIZE: Final = 128 * 1024
