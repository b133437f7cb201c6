"""The decoded form of one assertion."""

from __future__ import annotations

from dataclasses import dataclass

from .assertion_types import OPTIONAL_PRIMARY_KEY_DEFAULTS, PRIMARY_KEYS
from .headers import HeaderValue


@dataclass(frozen=True)
class Assertion:
    """One assertion as received: keep and relay `raw`, never re-serialise headers.

    `raw` is `content + b"\\n\\n" + signature + b"\\n"`: the exact input bytes, with the
    closing newline added if the input lacked it. `content` is what the signature covers,
    `signature` the base64 signature block without that final newline. `headers` holds
    the parsed headers, with absent optional primary keys set to their defaults.
    """

    raw: bytes
    headers: dict[str, HeaderValue]
    body: bytes
    content: bytes
    signature: bytes

    def __hash__(self) -> int:
        return hash(self.raw)

    def header(self, name: str) -> str | None:
        """The string value of header `name`, or None if absent or not a string."""
        value = self.headers.get(name)
        return value if isinstance(value, str) else None

    @property
    def type(self) -> str:
        return self.header("type") or ""

    @property
    def authority_id(self) -> str:
        return self.header("authority-id") or ""

    @property
    def sign_key_sha3_384(self) -> str:
        return self.header("sign-key-sha3-384") or ""

    @property
    def revision(self) -> int:
        return int(self.header("revision") or "0")

    @property
    def format(self) -> int:
        return int(self.header("format") or "0")

    @property
    def primary_key(self) -> tuple[str, ...]:
        """The values of the type's primary-key headers, optional ones defaulted."""
        return tuple(self.header(name) or "" for name in PRIMARY_KEYS[self.type])

    @property
    def reduced_primary_key(self) -> tuple[str, ...]:
        """The primary key without trailing optional values equal to their default (URL form)."""
        defaults = OPTIONAL_PRIMARY_KEY_DEFAULTS.get(self.type, {})
        names = PRIMARY_KEYS[self.type]
        values = list(self.primary_key)
        while values and defaults.get(names[len(values) - 1]) == values[-1]:
            values.pop()
        return tuple(values)
