"""``snap-proxy status`` and ``snap-proxy check-connections``."""

from __future__ import annotations

import asyncio

import httpx
import typer
from rich.console import Console
from rich.table import Table

from shared.cache import create_cache
from shared.cli.common import settings_or_exit
from shared.db import create_engine, ping_database
from shared.preflight import database_label
from shared.settings import SERVICE_NAMES, Settings
from shared.suite_status import service_status


def _gateway_url(settings: Settings, url: str | None) -> str:
    return (url or f"http://127.0.0.1:{settings.port}").rstrip("/")


async def _statuses(gateway: str) -> dict[str, dict[str, object]]:
    async with httpx.AsyncClient(base_url=gateway, timeout=5) as client:
        results = await asyncio.gather(
            *(service_status(client, f"/_status/{name}/check") for name in SERVICE_NAMES)
        )
    return dict(zip(SERVICE_NAMES, results, strict=True))


def status(
    url: str = typer.Option(None, help="Gateway URL [default: http://127.0.0.1:$SNAPPROXY_PORT]."),
) -> None:
    """Show whether each internal service is running, through the gateway."""
    settings = settings_or_exit()
    gateway = _gateway_url(settings, url)
    results = asyncio.run(_statuses(gateway))
    console = Console()
    console.print(f"snapproxy at {gateway}")
    table = Table()
    table.add_column("Service")
    table.add_column("Status")
    for name, result in results.items():
        state = "running" if result["ok"] else f"not running: {result.get('error', 'unknown')}"
        table.add_row(name, state)
    console.print(table)
    if not all(result["ok"] for result in results.values()):
        raise typer.Exit(1)


async def _check_targets(settings: Settings) -> list[tuple[str, str, str | None]]:
    url = settings.sqlalchemy_url
    db_where = url.host or (url.database or "sqlite")
    engine = create_engine(settings, application_name="snap-proxy-check")
    cache = create_cache(settings.memcached_servers)

    async def outcome(check: asyncio.Future[None] | object) -> str | None:
        try:
            async with asyncio.timeout(settings.db_connect_timeout + 2):
                await check  # type: ignore[misc]
        except Exception as exc:
            return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return None

    async def upstream() -> None:
        async with httpx.AsyncClient(timeout=settings.db_connect_timeout) as client:
            await client.head(settings.upstream_url + "/")

    try:
        results = await asyncio.gather(
            outcome(ping_database(engine, settings.db_connect_timeout)),
            outcome(cache.check()),
            outcome(upstream()),
        )
    finally:
        await engine.dispose()
        await cache.close()
    name = "postgres" if url.drivername.startswith("postgresql") else "sqlite"
    return [
        (name, db_where, results[0]),
        ("memcached", cache.describe(), results[1]),
        ("upstream", settings.upstream_url, results[2]),
    ]


def check_connections() -> None:
    """Check that the database, memcached and the upstream store can be reached."""
    settings = settings_or_exit()
    failed = []
    for name, where, error in asyncio.run(_check_targets(settings)):
        typer.echo(f"{name}: {where}: {'OK' if error is None else 'FAILED: ' + error}")
        if error is not None:
            failed.append(name)
    if failed:
        typer.echo(f"Cannot reach: {', '.join(failed)} (database: {database_label(settings)})")
        raise typer.Exit(1)
    typer.echo("All connections appear to be accessible")


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.command("check-connections")(check_connections)
