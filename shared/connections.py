"""``snap-proxy check-connections``: can this node reach what the proxy needs? One check per
upstream URL, per database and per memcached server, run concurrently, each with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable
from dataclasses import dataclass

import httpx

from shared.cache import MemcachedCache
from shared.db import create_engine, ping_database
from shared.outbound import Outbound
from shared.settings import Settings
from shared.status_report import connection_reason
from shared.upstream import Upstream, upstream_label


@dataclass(frozen=True)
class ConnectionCheck:
    kind: str  # http, forward proxy, postgres, sqlite, memcached
    target: str
    error: str | None  # None: OK
    checked: bool = True  # False: nothing to check (no memcached configured)


async def _outcome(check: Awaitable[None], timeout: float) -> str | None:
    try:
        async with asyncio.timeout(timeout):
            await check
    except TimeoutError:
        return f"timed out after {timeout:g} s"
    except CheckFailed as exc:  # already in its own words
        return f"FAILED: {exc}"
    except Exception as exc:  # any failure is the answer
        reason = connection_reason(exc)
        return f"FAILED: {reason}"
    return None


async def _upstream(url: str, timeout: float, outbound: Outbound) -> None:
    store = Upstream(url, timeout=timeout, outbound=outbound)
    try:
        await store.check()
    except RuntimeError as exc:  # Upstream.check's own words
        raise CheckFailed(str(exc)) from None
    finally:
        await store.aclose()


class CheckFailed(RuntimeError):
    """A check that says why it failed in its own words (the forward proxy, the upstream
    through it, its TLS certificate): shown as it is."""


async def _forward_proxy(proxy_url: str, timeout: float) -> None:
    """The forward proxy accepts a connection (the upstream check then goes through it)."""
    url = httpx.URL(proxy_url)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        async with asyncio.timeout(timeout):
            _reader, writer = await asyncio.open_connection(url.host, port)
    except TimeoutError:
        raise CheckFailed("the forward proxy is unreachable (timed out)") from None
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else type(exc).__name__
        raise CheckFailed(f"the forward proxy is unreachable ({reason})") from None
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def _database(settings: Settings) -> None:
    engine = create_engine(settings, application_name="snap-proxy-check")
    try:
        await ping_database(engine, settings.db_connect_timeout)
    finally:
        await engine.dispose()


async def _memcached(server: tuple[str, int]) -> None:
    cache = MemcachedCache([server])
    try:
        await cache.check()
    finally:
        await cache.close()


def _database_target(settings: Settings) -> tuple[str, str]:
    url = settings.sqlalchemy_url
    if url.drivername.startswith("postgresql"):
        return "postgres", url.host or "localhost"
    return "sqlite", str(url.database)


async def check_all(settings: Settings) -> list[ConnectionCheck]:
    timeout = settings.db_connect_timeout + 2
    targets: list[tuple[str, str, Awaitable[None]]] = []
    upstream = settings.upstream_url
    outbound = Outbound.from_settings(settings)  # proxy.https.proxy, upstream.ca-certs
    via = ""
    if outbound.forward_proxy and outbound.proxy_label:
        proxy = outbound.forward_proxy
        targets.append(("forward proxy", outbound.proxy_label, _forward_proxy(proxy, 5)))
        via = f" via {outbound.proxy_label}"
    # "http" for every upstream URL, https ones too: the Snap Store Proxy's word for the probe.
    targets.append(("http", upstream_label(upstream) + via, _upstream(upstream, 5, outbound)))
    kind, where = _database_target(settings)
    targets.append((kind, where, _database(settings)))
    for host, port in settings.memcached_servers:
        targets.append(("memcached", f"{host}:{port}", _memcached((host, port))))
    errors = await asyncio.gather(*(_outcome(check, timeout) for _, _, check in targets))
    checks = [
        ConnectionCheck(kind, target, error)
        for (kind, target, _), error in zip(targets, errors, strict=True)
    ]
    if not settings.memcached_servers:
        checks.append(
            ConnectionCheck("memcached", "not configured (in-process cache)", None, False)
        )
    return checks
