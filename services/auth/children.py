"""A snapproxy as a parent: children register with it (``POST /v2/auth/proxy/register``, the
protocol of shared.registration.protocol) and it keeps an inventory of them.

A child authenticates with the parent's admin token as its password (any account name is
recorded as given); the parent has no second factor. It signs with its identity key
(shared.registration.authority).

A registered child then reports its figures (``POST /v2/auth/proxy/report``, the protocol of
shared.registration.report), signed with the identity key it registered.
"""

from __future__ import annotations

import asyncio
import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.auth.children_repository import ChildRepository
from shared.config.live import LiveSettings
from shared.errors import BadRequest, NotFound, SnapProxyError
from shared.models import ChildProxy
from shared.registration.authority import sign_store_bundle
from shared.registration.protocol import (
    RegistrationInvalid,
    RegistrationRequest,
    new_store_id,
    parse_request,
)
from shared.registration.report import ReportInvalid, parse_report, signed_by


class InvalidCredentials(SnapProxyError):
    status_code = 401
    code = "invalid-credentials"


class NotARegistrar(SnapProxyError):
    status_code = 503
    code = "not-a-registrar"


class StaleReport(SnapProxyError):
    status_code = 409
    code = "stale-report"


# How far a report's sent-at may be from the parent's clock: further, it is refused (an old
# report replayed, or a child whose clock is wrong: its admin sees the warning).
MAX_CLOCK_SKEW = timedelta(minutes=15)


def child_json(child: ChildProxy) -> dict[str, Any]:
    return {
        "store-id": child.store_id,
        "domain": child.domain,
        "url": child.url,
        "account": child.account,
        "use-case": child.use_case,
        "registered-at": child.registered_at.isoformat(),
        "last-contact": child.last_contact.isoformat(),
        "devices": child.devices,
        "other-clients": child.other_clients,
        "reported-at": child.reported_at.isoformat() if child.reported_at else None,
    }


class ChildRegistry:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], live: LiveSettings) -> None:
        self.sessionmaker = sessionmaker
        self.live = live

    def _check(self, request: RegistrationRequest) -> str:
        """The key to sign with; InvalidCredentials, NotARegistrar."""
        settings = self.live.current
        token = settings.admin_token.get_secret_value() if settings.admin_token else None
        if token is None or not hmac.compare_digest(request.password.encode(), token.encode()):
            raise InvalidCredentials(
                "Provided email/password is not correct: a child gives this proxy's admin "
                "token as its password."
            )
        if settings.key_private is None:
            raise NotARegistrar(
                "this snapproxy has no identity key to sign store assertions with: its admin "
                "runs `snap-proxy generate-keys`"
            )
        return settings.key_private.get_secret_value()

    async def register(self, payload: object) -> dict[str, Any]:
        """A child registers (or reregisters); BadRequest, InvalidCredentials, NotFound,
        NotARegistrar."""
        try:
            request = parse_request(payload)
        except RegistrationInvalid as exc:
            raise BadRequest(str(exc)) from None
        key = self._check(request)
        now = datetime.now(UTC)
        async with self.sessionmaker() as session, session.begin():
            repository = ChildRepository(session)
            if request.store_id:
                known = await repository.get(request.store_id)
                if known is None or known.public_key != request.public_key:
                    raise NotFound(f"No store {request.store_id} registered with this key.")
            store_id = request.store_id or new_store_id()
            stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
            bundle = await asyncio.to_thread(
                sign_store_bundle, key, store_id, request.account, request.url, stamp
            )
            await repository.save(
                store_id=store_id,
                public_key=request.public_key,
                account=request.account,
                domain=request.domain,
                url=request.url,
                use_case=request.use_case,
                assertions=bundle,
                now=now,
            )
        return {"store-id": store_id, "status": "approved", "assertions": bundle}

    async def report(self, body: bytes, signature: str | None) -> dict[str, Any]:
        """A registered child's report, signed with its identity key; BadRequest,
        InvalidCredentials, StaleReport. Nothing changes unless it is taken."""
        try:
            report = parse_report(body)
        except ReportInvalid as exc:
            raise BadRequest(str(exc)) from None
        now = datetime.now(UTC)
        if abs(now - report.sent_at) > MAX_CLOCK_SKEW:
            raise StaleReport(
                f"the report was sent at {report.sent_at.isoformat()}, more than "
                f"{MAX_CLOCK_SKEW} from this proxy's clock ({now.isoformat()})"
            )
        refused = InvalidCredentials(
            "the report is not signed by the identity key of a child proxy registered here"
        )
        async with self.sessionmaker() as session, session.begin():
            repository = ChildRepository(session)
            child = await repository.get(report.store_id, for_update=True)
            if child is None:
                raise refused
            if not await asyncio.to_thread(signed_by, child.public_key, body, signature):
                raise refused
            if child.reported_at is not None and report.sent_at <= child.reported_at:
                raise StaleReport(
                    f"a report sent at {child.reported_at.isoformat()} was taken already; "
                    "this one is not newer"
                )
            await repository.record_report(
                child,
                sent_at=report.sent_at,
                devices=report.devices,
                others=report.other_clients,
                now=now,
            )
        return {"store-id": report.store_id, "recorded-at": now.isoformat()}

    async def children(self) -> list[dict[str, Any]]:
        async with self.sessionmaker() as session, session.begin():
            return [child_json(child) for child in await ChildRepository(session).all()]
