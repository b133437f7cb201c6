"""Trusted root keys, and the chain of account-keys from an assertion up to one of them.

snapd trusts the root account-key compiled into it (Canonical's) and accepts an assertion
only when its signature verifies with its signing account-key and that key was itself
signed, up a chain, by a trusted root (reference: snapd-store-api.md 4.6). ``TrustChain``
applies the same rule, with the roots a proxy is configured with (``roots``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from .assertion import Assertion
from .errors import SignatureError
from .signing import verify_signature

# Account-keys between an assertion and a root: snapd's are signed by the root directly.
MAX_CHAIN_LENGTH: Final = 4


class UntrustedAssertion(SignatureError):
    """An assertion that does not verify up to a trusted root.

    ``reason`` is a short fixed phrase (it may go into a response header); the message has
    the details.
    """

    BAD_SIGNATURE: Final = "the signature does not verify with its signing key"
    UNKNOWN_SIGNER: Final = "the signing key does not chain to a trusted root"

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def _by_id(keys: Iterable[Assertion]) -> dict[str, list[Assertion]]:
    found: dict[str, list[Assertion]] = {}
    for key in keys:
        if key.type == "account-key":
            found.setdefault(key.header("public-key-sha3-384") or "", []).append(key)
    return found


class TrustChain:
    """Checks assertions against trusted roots, keys known good, and candidate keys.

    ``trusted`` keys need no further check (roots; keys verified before). A ``candidate``
    key (from the same answer, or just fetched) is used only once it chains up itself.
    """

    def __init__(
        self,
        roots: Iterable[Assertion],
        trusted: Iterable[Assertion] = (),
        candidates: Iterable[Assertion] = (),
    ) -> None:
        self.roots = _by_id(roots)
        self.trusted = _by_id(trusted)
        self.candidates = _by_id(candidates)

    def trust(self, keys: Iterable[Assertion]) -> None:
        """Add keys known good (verified before)."""
        for key_id, found in _by_id(keys).items():
            self.trusted.setdefault(key_id, []).extend(found)

    def consider(self, keys: Iterable[Assertion]) -> None:
        """Add candidate keys (used once they chain up themselves)."""
        for key_id, found in _by_id(keys).items():
            self.candidates.setdefault(key_id, []).extend(found)

    def candidate_keys(self, key_id: str) -> list[Assertion]:
        return list(self.candidates.get(key_id, ()))

    def verify(self, assertion: Assertion) -> None:
        """Return if ``assertion`` verifies up to a root; raise UntrustedAssertion if not."""
        self._verify(assertion, 0)

    def _verify(self, assertion: Assertion, depth: int) -> None:
        key_id = assertion.sign_key_sha3_384
        bad_signatures: list[str] = []
        for key in (*self.roots.get(key_id, ()), *self.trusted.get(key_id, ())):
            try:
                verify_signature(assertion, key)
            except SignatureError as exc:
                bad_signatures.append(str(exc))
            else:
                return
        untrusted_key: UntrustedAssertion | None = None
        for key in self.candidates.get(key_id, ()) if depth < MAX_CHAIN_LENGTH else ():
            if key is assertion:
                continue  # a self-signed key that is not a root proves nothing
            try:
                verify_signature(assertion, key)
            except SignatureError as exc:
                bad_signatures.append(str(exc))
                continue
            try:
                self._verify(key, depth + 1)
            except UntrustedAssertion as exc:
                untrusted_key = exc
                continue
            self.trusted.setdefault(key_id, []).append(key)
            return
        if bad_signatures:
            raise UntrustedAssertion(UntrustedAssertion.BAD_SIGNATURE, bad_signatures[0])
        if untrusted_key is not None:
            raise UntrustedAssertion(untrusted_key.reason, f"account-key {key_id}: {untrusted_key}")
        raise UntrustedAssertion(
            UntrustedAssertion.UNKNOWN_SIGNER, f"no trusted account-key {key_id}"
        )

    def missing(self, key_ids: Iterable[str]) -> set[str]:
        """The key ids among ``key_ids`` that are neither roots nor trusted yet."""
        return {k for k in key_ids if k and k not in self.roots and k not in self.trusted}
