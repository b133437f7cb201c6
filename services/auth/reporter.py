"""A registered child reports to its parent snapproxy (shared.registration.report).

At start, once registered (or registered again), then every ``registration.report-interval``
seconds, the auth service of a registered proxy sends its parent (``proxy.upstream``) the
devices connected in the last 24 hours and the other clients of that time, signed with its
identity key. A parent that cannot be reached or refuses is a warning in the log, tried again
sooner; the proxy serves on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime

import httpx
import structlog
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from services.auth.service import AuthService
from shared.app import Resources, part_of
from shared.errors import error_code
from shared.outbound import Outbound
from shared.registration.report import (
    REPORT_PATH,
    SIGNATURE_HEADER,
    Report,
    encode_report,
    sign,
)
from shared.settings import Settings

log = structlog.get_logger(__name__)

TICK = 2.0  # seconds between two looks at the configuration (a new registration)
RETRY = 300.0  # seconds before a failed report is tried again, at most
TIMEOUT = 30.0


class ParentReporter:
    def __init__(self, resources: Resources, service: AuthService) -> None:
        self.resources = resources
        self.service = service

    async def run(self) -> None:
        """Report whenever due, until cancelled."""
        reported_for: tuple[str, str, str] | None = None
        due = 0.0
        while True:
            settings = self.resources.settings
            identity = _identity(settings)
            now = time.monotonic()
            if identity is not None and (identity != reported_for or now >= due):
                try:
                    sent = await self.report(settings)
                except Exception:  # never end the loop: the next report may work
                    log.exception("auth.report_failed")
                    sent = False
                reported_for = identity
                interval = settings.report_interval
                due = now + (interval if sent else min(interval, RETRY))
            await asyncio.sleep(TICK)

    async def report(self, settings: Settings) -> bool:
        """One report to the parent; whether it took it (a warning says why not)."""
        store_id, parent = settings.store_id or "", settings.upstream_url
        key = settings.key_private.get_secret_value() if settings.key_private else ""
        try:
            devices = (await self.service.summary(None))["connected-devices"]
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.warning("auth.report_not_sent", parent=parent, error=str(exc) or repr(exc))
            return False
        report = Report(store_id, datetime.now(UTC), devices, await self._other_clients())
        body = encode_report(report)
        signature = await asyncio.to_thread(sign, key, body)
        outbound = Outbound.from_settings(settings)
        # Built in a thread: the client loads its CA bundle from disk.
        client = await asyncio.to_thread(
            httpx.AsyncClient, base_url=parent, timeout=TIMEOUT, **outbound.client_options()
        )
        async with client:
            try:
                response = await client.post(
                    REPORT_PATH,
                    content=body,
                    headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
                )
            except httpx.HTTPError as exc:
                log.warning(
                    "auth.parent_unreachable",
                    parent=parent,
                    error=outbound.failure_reason(exc),
                    detail="the report to the parent proxy was not sent; this proxy serves on",
                )
                return False
        if response.status_code != 200:
            code, message = _error(response)
            log.warning(
                "auth.report_refused",
                parent=parent,
                status=response.status_code,
                code=code,
                message=message,
            )
            return False
        log.info("auth.reported", parent=parent, devices=devices, store_id=store_id)
        return True

    async def _other_clients(self) -> int | None:
        """The devicegw service's count of other clients; None when it cannot tell."""
        peer = self.resources.peers.get("devicegw")
        if peer is None:
            return None
        try:
            response = await peer.get("/_internal/clients/count")
            response.raise_for_status()
            return int(response.json()["other-clients"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("auth.other_clients_not_counted", error=str(exc) or repr(exc))
            return None


def _identity(settings: Settings) -> tuple[str, str, str] | None:
    """What a report is sent for (the Store ID, this proxy's URL, the parent); None when
    there is nothing to report: not registered, or in airgap mode."""
    if not settings.store_id or settings.key_private is None or settings.airgap:
        return None
    return settings.store_id, settings.store_url or "", settings.upstream_url


def _error(response: httpx.Response) -> tuple[str, str]:
    try:
        first = response.json()["error-list"][0]
        return str(first["code"]), str(first["message"])
    except (ValueError, KeyError, IndexError, TypeError):
        return error_code(response.status_code), f"HTTP {response.status_code}"


@asynccontextmanager
async def report_to_parent(app: FastAPI) -> AsyncIterator[None]:
    """The auth service's lifespan hook: its ParentReporter runs while it serves."""
    task = asyncio.create_task(part_of(app, ParentReporter).run())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
