"""Which assertions of an upstream answer may be stored: those that verify up to a trusted root.

snapd checks every assertion itself; the proxy's part is never to store, and so never to
re-serve (also while the upstream is away), one that snapd would refuse. An assertion is
stored only when its signature verifies with its signing account-key and that key chains up
to a configured trusted root. The keys come from the same answer, from the database (whatever
is stored was verified when it was stored), or, at most ``MAX_KEY_FETCHES`` of them per
answer, from the upstream store; keys fetched that way and found good are stored too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.assertions import (
    MAX_CHAIN_LENGTH,
    Assertion,
    AssertionFormatError,
    TrustChain,
    UntrustedAssertion,
    parse_assertion,
)
from shared.errors import UpstreamUnavailable
from shared.upstream import Upstream

from . import repository
from .pieces import Piece, decode_answer

log = structlog.get_logger(__name__)

# Failures of the database that degrade an answer rather than fail it.
DATABASE_ERRORS: Final = (SQLAlchemyError, OSError, TimeoutError)
MAX_KEY_FETCHES: Final = 4
WARNING_HEADER: Final = "X-Snapproxy-Warning"
NOT_AN_ASSERTION: Final = "assertion not stored: the upstream answer is not a valid assertion"


@dataclass
class Checked:
    """The verdict on one answer: what may be stored, and what was refused and why."""

    storable: list[Piece] = field(default_factory=list)
    refused: list[tuple[Piece, UntrustedAssertion]] = field(default_factory=list)


def label_of(assertion: Assertion) -> str:
    return "/".join((assertion.type, *assertion.primary_key))


def warning_for(refused: Sequence[tuple[Piece, UntrustedAssertion]], total: int) -> str:
    """The warning header's value: ASCII, fixed phrases only (details go to the log)."""
    reason = refused[0][1].reason
    if total == 1:
        return f"assertion not stored: {reason}"
    return f"{len(refused)} of {total} assertions not stored: {reason}"


def _decode(encoded: bytes) -> Assertion | None:
    try:
        return parse_assertion(encoded)
    except AssertionFormatError:
        return None


class AnswerChecker:
    """Checks the assertions of upstream answers against the configured trusted roots."""

    def __init__(
        self,
        roots: Sequence[Assertion],
        sessionmaker: async_sessionmaker[AsyncSession],
        upstream: Upstream,
    ) -> None:
        self.roots = tuple(roots)
        self.sessionmaker = sessionmaker
        self.upstream = upstream

    async def check(self, pieces: Sequence[Piece], headers: Mapping[str, str]) -> Checked:
        """Gather the signing keys the answer needs, then verify each assertion (in a thread:
        RSA and SHA-512 over up to 2 MiB are CPU work)."""
        chain = TrustChain(self.roots, candidates=[piece.assertion for piece in pieces])
        fetched = await self._gather_keys(chain, pieces, headers)
        checked = await asyncio.to_thread(_verdicts, chain, pieces, fetched)
        for piece, reason in checked.refused:
            self._log_refusal(piece.assertion, reason)
        return checked

    async def _gather_keys(
        self, chain: TrustChain, pieces: Sequence[Piece], headers: Mapping[str, str]
    ) -> list[Piece]:
        """Walk up from the answer's signing keys: stored keys end a branch (they were
        verified), keys in the answer or fetched lead on to their own signers."""
        fetched: list[Piece] = []
        asked: set[str] = set()
        needed = chain.missing(piece.assertion.sign_key_sha3_384 for piece in pieces)
        for _ in range(MAX_CHAIN_LENGTH + 1):
            needed -= asked
            if not needed:
                break
            asked |= needed
            chain.trust(await self._stored_keys(needed))
            leads: list[Assertion] = []
            for key_id in sorted(chain.missing(needed)):
                keys = chain.candidate_keys(key_id)
                if not keys and len(fetched) < MAX_KEY_FETCHES:
                    found = await self._fetch_key(key_id, headers)
                    fetched += found
                    keys = [piece.assertion for piece in found]
                    chain.consider(keys)
                leads += keys
            needed = chain.missing(key.sign_key_sha3_384 for key in leads)
        return fetched

    async def _stored_keys(self, key_ids: Iterable[str]) -> list[Assertion]:
        try:
            async with self.sessionmaker() as session, session.begin():
                rows = await repository.get_many(
                    session, (("account-key", key_id) for key_id in key_ids)
                )
        except DATABASE_ERRORS as exc:
            log.warning("assertion.database_unavailable", error=str(exc) or type(exc).__name__)
            return []
        return [key for key in (_decode(row.encoded) for row in rows.values()) if key]

    async def _fetch_key(self, key_id: str, headers: Mapping[str, str]) -> list[Piece]:
        """The account-key ``key_id`` from the upstream, or nothing."""
        try:
            response = await self.upstream.request(
                "GET", f"/v2/assertions/account-key/{key_id}", headers=headers
            )
        except UpstreamUnavailable:
            return []
        if response.status_code != 200:
            return []
        try:
            pieces = decode_answer(response.content)
        except AssertionFormatError:
            return []
        return [
            piece
            for piece in pieces
            if piece.assertion.type == "account-key"
            and piece.assertion.header("public-key-sha3-384") == key_id
        ]

    def _log_refusal(self, assertion: Assertion, reason: UntrustedAssertion) -> None:
        event = (
            "assertion.signature_invalid"
            if reason.reason == UntrustedAssertion.BAD_SIGNATURE
            else "assertion.signer_unknown"
        )
        log.warning(
            event,
            assertion=label_of(assertion),
            sign_key=assertion.sign_key_sha3_384,
            error=str(reason),
            stored=False,
        )


def _verdicts(chain: TrustChain, pieces: Sequence[Piece], fetched: Sequence[Piece]) -> Checked:
    checked = Checked()
    for piece in pieces:
        try:
            chain.verify(piece.assertion)
        except UntrustedAssertion as exc:
            checked.refused.append((piece, exc))
        else:
            checked.storable.append(piece)
    for piece in fetched:
        try:
            chain.verify(piece.assertion)
        except UntrustedAssertion:
            continue  # a key that does not chain up is simply not used
        checked.storable.append(piece)
    return checked
