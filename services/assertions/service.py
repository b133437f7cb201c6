"""Assertions: fetched upstream once, stored byte-exact, served from the database afterwards.

A stored assertion younger than ``assertion_ttl`` is served without asking upstream; an older
one is refreshed (a newer revision replaces it). When upstream is away whatever is stored is
served, however old. Only assertions that verify up to a trusted root key are stored (see
``verification``); one that does not is relayed as the upstream sent it, with a warning
header, and never stored (snapd does its own checking, and refuses it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.assertions import MEDIA_TYPE, Assertion, AssertionFormatError, parse_assertion
from shared.errors import UpstreamError, UpstreamUnavailable, error_body, error_code
from shared.models import StoredAssertion, utcnow
from shared.upstream import Upstream, response_headers

from . import repository
from .keys import AssertionNotFound, AssertionRequest, join_key
from .pieces import Piece, decode_answer
from .verification import (
    DATABASE_ERRORS,
    NOT_AN_ASSERTION,
    WARNING_HEADER,
    AnswerChecker,
    warning_for,
)

log = structlog.get_logger(__name__)

CACHE_HEADER: Final = "X-Snapproxy-Cache"
# Column sizes of the assertions table: longer values are relayed but not stored.
_LIMITS: Final = {"type": 64, "primary_key": 1024, "authority_id": 128, "sign_key_sha3_384": 128}
_MAX_PREREQUISITE_DEPTH: Final = 8


@dataclass(frozen=True)
class Answer:
    """What the route sends: exact bytes, a status, a Content-Type and extra headers."""

    body: bytes
    status: int = 200
    media_type: str = MEDIA_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def _decode(encoded: bytes) -> Assertion | None:
    try:
        return parse_assertion(encoded)
    except AssertionFormatError:
        return None


def _is_trusted_root(assertion: Assertion) -> bool:
    """Self-signed keys and self-declared accounts: snapd has them built in."""
    if assertion.type == "account":
        return assertion.header("account-id") == assertion.authority_id
    if assertion.type == "account-key":
        return assertion.header("public-key-sha3-384") == assertion.sign_key_sha3_384
    return False


def _prerequisite_refs(assertion: Assertion) -> list[tuple[str, str]]:
    """(type, primary key) of what snapd needs before it can accept ``assertion``."""
    refs: list[tuple[str, str]] = []
    if assertion.sign_key_sha3_384:
        refs.append(("account-key", assertion.sign_key_sha3_384))
    accounts = {
        "account-key": "account-id",
        "snap-declaration": "publisher-id",
        "snap-revision": "developer-id",
        "store": "operator-id",
        "model": "brand-id",
        "validation-set": "account-id",
    }
    header = accounts.get(assertion.type)
    if header and assertion.header(header):
        refs.append(("account", str(assertion.header(header))))
    if assertion.type == "snap-revision" and assertion.header("snap-id"):
        refs.append(("snap-declaration", join_key(("16", str(assertion.header("snap-id"))))))
    return refs


class AssertionsService:
    """Answers assertion requests from the database and the upstream store."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        upstream: Upstream,
        *,
        ttl: float,
        roots: Sequence[Assertion],
    ) -> None:
        self.sessionmaker = sessionmaker
        self.upstream = upstream
        self.ttl = ttl
        self.checker = AnswerChecker(roots, sessionmaker, upstream)

    async def get(
        self, request: AssertionRequest, headers: Mapping[str, str], *, airgap: bool = False
    ) -> Answer:
        """The answer for one request. Raises AssertionNotFound, UpstreamUnavailable, ...
        In ``airgap`` mode only what is stored (imported) answers; the upstream is never
        asked."""
        stored: StoredAssertion | None = None
        if request.key is not None:
            stored = await self._stored(request.type, request.key, request.max_format)
            if not airgap and stored is not None and not request.stream and self._fresh(stored):
                return Answer(stored.encoded, headers={CACHE_HEADER: "hit"})
        if airgap:
            answer = await self._fallback(request, stored)
            if answer is None:
                raise AssertionNotFound(f"{request.label} not found")
            return replace(answer, headers={CACHE_HEADER: "airgap"})
        try:
            response = await self.upstream.request(
                "GET", request.upstream_path, headers=headers, params=request.query or None
            )
        except UpstreamUnavailable:
            fallback = await self._fallback(request, stored)
            if fallback is None:
                raise
            log.info("assertion.served_stale", assertion=request.label)
            return fallback
        return await self._from_upstream(request, response, headers)

    # -- the database ------------------------------------------------------------------

    def _fresh(self, row: StoredAssertion) -> bool:
        age = (utcnow() - row.fetched_at).total_seconds()
        return 0 <= age < self.ttl

    async def _stored(
        self, type_name: str, key: Sequence[str], max_format: int | None
    ) -> StoredAssertion | None:
        try:
            async with self.sessionmaker() as session, session.begin():
                row = await repository.get(session, type_name, join_key(key))
        except DATABASE_ERRORS as exc:
            log.warning("assertion.database_unavailable", error=str(exc) or type(exc).__name__)
            return None
        if row is None or (max_format is not None and row.format > max_format):
            return None
        return row

    async def _fallback(
        self, request: AssertionRequest, stored: StoredAssertion | None
    ) -> Answer | None:
        """What the database can answer while upstream is away (any age)."""
        try:
            async with self.sessionmaker() as session, session.begin():
                row = stored
                if row is None and request.sequence_key is not None:
                    row = await repository.latest_in_sequence(
                        session, request.type, join_key(request.sequence_key), request.max_format
                    )
                if row is None:
                    return None
                body = row.encoded
                if request.stream:
                    body = await self._stream_with_prerequisites(session, row)
        except DATABASE_ERRORS as exc:
            log.warning("assertion.database_unavailable", error=str(exc) or type(exc).__name__)
            return None
        return Answer(body, headers={CACHE_HEADER: "stale"})

    async def _stream_with_prerequisites(
        self, session: AsyncSession, row: StoredAssertion
    ) -> bytes:
        """The stored assertion after its stored prerequisites (built-in roots left out)."""
        out: list[bytes] = []
        seen: set[tuple[str, str]] = set()

        async def collect(current: StoredAssertion, depth: int) -> None:
            ident = (current.type, current.primary_key)
            if ident in seen:
                return
            seen.add(ident)
            decoded = _decode(current.encoded)
            if decoded is not None and depth < _MAX_PREREQUISITE_DEPTH:
                for type_name, key in _prerequisite_refs(decoded):
                    found = await repository.get(session, type_name, key)
                    found_decoded = _decode(found.encoded) if found is not None else None
                    if found is not None and found_decoded and not _is_trusted_root(found_decoded):
                        await collect(found, depth + 1)
            encoded = current.encoded
            out.append(encoded if encoded.endswith(b"\n") else encoded + b"\n")

        await collect(row, 0)
        return b"\n".join(out)

    # -- the upstream store ------------------------------------------------------------

    async def _from_upstream(
        self, request: AssertionRequest, response: httpx.Response, headers: Mapping[str, str]
    ) -> Answer:
        relayed = response_headers(response)
        status = response.status_code
        if status == 200:
            body = response.content
            answer_headers = {**relayed, CACHE_HEADER: "miss"}
            try:
                pieces = decode_answer(body)
            except AssertionFormatError as exc:
                log.warning("assertion.undecodable", assertion=request.label, error=str(exc))
                pieces = []
            if not pieces:
                return Answer(body, headers={**answer_headers, WARNING_HEADER: NOT_AN_ASSERTION})
            warning = await self._check_and_store(pieces, headers)
            if warning:
                answer_headers[WARNING_HEADER] = warning
            return Answer(body, headers=answer_headers)
        if status == 404:
            raise AssertionNotFound(_upstream_message(response) or f"{request.label} not found")
        if 400 <= status < 500:
            media_type = response.headers.get("content-type", "")
            if "json" in media_type:
                return Answer(response.content, status, media_type.split(";")[0], relayed)
            message = _upstream_message(response) or f"the upstream store answered {status}"
            payload = json.dumps(error_body(error_code(status), message)).encode()
            return Answer(payload, status, "application/json", relayed)
        raise UpstreamError(f"the upstream store answered {status} for {request.label}")

    async def _check_and_store(
        self, pieces: Sequence[Piece], headers: Mapping[str, str]
    ) -> str | None:
        """Store what verifies up to a trusted root; the warning for the rest, if any.
        Database trouble only degrades (nothing stored, the answer still relayed)."""
        checked = await self.checker.check(pieces, headers)
        if checked.storable:
            now = utcnow()
            try:
                async with self.sessionmaker() as session, session.begin():
                    for piece in checked.storable:
                        await self._store(session, piece, now)
            except DATABASE_ERRORS as exc:
                log.warning("assertion.not_stored", error=str(exc) or type(exc).__name__)
        return warning_for(checked.refused, len(pieces)) if checked.refused else None

    async def _store(self, session: AsyncSession, piece: Piece, now: datetime) -> None:
        assertion = piece.assertion
        values = {
            "type": assertion.type,
            "primary_key": join_key(assertion.primary_key),
            "authority_id": assertion.authority_id,
            "sign_key_sha3_384": assertion.sign_key_sha3_384,
        }
        too_long = [name for name, value in values.items() if len(value) > _LIMITS[name]]
        if too_long:
            log.warning("assertion.not_stored", reason="value too long", fields=too_long)
            return
        await repository.upsert(
            session,
            type_name=values["type"],
            primary_key=values["primary_key"],
            revision=assertion.revision,
            format=assertion.format,
            authority_id=values["authority_id"],
            sign_key_sha3_384=values["sign_key_sha3_384"],
            encoded=piece.encoded,
            fetched_at=now,
        )


def _upstream_message(response: httpx.Response) -> str | None:
    """The first error message of a Store-shaped (v2 or v1) JSON error body."""
    try:
        payload = response.json()
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    errors = payload.get("error-list")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        message = errors[0].get("message")
        return message if isinstance(message, str) else None
    detail = payload.get("detail") or payload.get("title")
    return detail if isinstance(detail, str) else None
