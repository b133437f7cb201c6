"""The internal secret: the credential of every call one snapproxy service makes to another.

Every ``/_internal/*`` route requires it (``shared.deps.require_internal``), and
the peer clients of ``Resources`` send it on every request (``InternalSecretAuth``), so a
hop through ``resources.peers`` always carries it. It travels in the
``Snapproxy-Internal-Secret`` header.

It is ``SNAPPROXY_INTERNAL_SECRET`` when set. Otherwise the first process to start generates
one and stores it in the database (``suite_secrets``: insert if absent, then read back, so
processes starting at the same time agree); every process loads it at start, before it
serves. Devices never see it: the gateway does not route ``/_internal/``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncGenerator, Generator

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.db import insert_for
from shared.errors import SnapProxyError, Unauthorized
from shared.models import SuiteSecret

HEADER = "Snapproxy-Internal-Secret"
INTERNAL_PREFIX = "/_internal/"
SECRET_NAME = "internal"


class InternalSecretWrong(SnapProxyError):
    status_code = 403
    code = "forbidden"


class InternalSecretUnknown(SnapProxyError):
    status_code = 503
    code = "service-unavailable"


async def stored_secret(sessionmaker: async_sessionmaker[AsyncSession], name: str) -> str:
    """The secret ``name`` from the database, generated and stored by the first caller.
    Read first: a service's own role may read it but not write it (``shared.dbsetup`` stores
    it when it sets the database up)."""
    query = select(SuiteSecret.value).where(SuiteSecret.name == name)
    async with sessionmaker() as session, session.begin():
        found: str | None = await session.scalar(query)
        if found is not None:
            return found
        insert = insert_for(session, SuiteSecret).values(name=name, value=secrets.token_urlsafe(32))
        await session.execute(insert.on_conflict_do_nothing(index_elements=["name"]))
        value: str = (await session.execute(query)).scalar_one()
        return value


class InternalSecret:
    """The suite's internal secret: from the settings at once, else from the database on the
    first ``get()`` (the lifespan of every service calls it before serving)."""

    def __init__(
        self, configured: str | None, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        self._value = configured or None
        self._sessionmaker = sessionmaker
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        if self._value is None:
            async with self._lock:
                if self._value is None:
                    self._value = await stored_secret(self._sessionmaker, SECRET_NAME)
        return self._value

    async def check(self, given: str | None) -> None:
        """Raise unless ``given`` is the secret (compared in constant time)."""
        if not given:
            raise Unauthorized(
                f"this is snapproxy's internal API: only its services call it (with {HEADER})"
            )
        try:
            expected = await self.get()
        except Exception:
            raise InternalSecretUnknown(
                "the internal secret cannot be read from the database yet"
            ) from None
        # Header values arrive latin-1 decoded; compare the bytes in constant time.
        if not secrets.compare_digest(
            given.encode("latin-1", errors="replace"), expected.encode("utf-8")
        ):
            raise InternalSecretWrong(f"wrong {HEADER}")


class InternalSecretAuth(httpx.Auth):
    """Puts the internal secret on every request of a peer client."""

    def __init__(self, secret: InternalSecret) -> None:
        self.secret = secret

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("peer clients are async")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        try:
            request.headers[HEADER] = await self.secret.get()
        except Exception as exc:  # the database is away: the call fails like an unreachable peer
            raise httpx.RequestError(
                f"internal secret unavailable: {exc}", request=request
            ) from exc
        yield request
