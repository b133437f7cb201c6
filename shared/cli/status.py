"""``snap-proxy status`` and ``snap-proxy check-connections``, in the Snap Store Proxy's
shapes (``shared.status_report``, ``shared.connections``)."""

from __future__ import annotations

import asyncio
import json

import typer

from shared.cli.common import best_settings, proxy_url
from shared.connections import ConnectionCheck, check_all
from shared.gateway_status import gateway_problem
from shared.offline.importer import missing_essentials
from shared.settings import Settings
from shared.status_report import as_json, gather, lines


def status(
    url: str = typer.Option(None, help="Gateway URL (default: http://127.0.0.1:$SNAPPROXY_PORT)."),
    as_json_: bool = typer.Option(False, "--json", help="Print the status as JSON, for scripts."),
) -> None:
    """Show the store's state, the connected devices and the device limit, and whether each
    internal service is running (through the gateway). Exits 1 when one is not running.

    The device figures come from the admin API: the admin token is admin.token
    (`snap-proxy config`) or SNAPPROXY_ADMIN_TOKEN."""
    settings, _ = best_settings()
    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    limit = settings.device_limit or None
    report = asyncio.run(gather(proxy_url(settings, url), token, limit))
    report.store_id = settings.store_id
    if settings.tls_enabled:  # the front door as clients see it: HTTPS for proxy.domain
        problem = asyncio.run(gateway_problem(settings, url))
        if problem is not None:
            report.front_door_failed(problem)
    mode = _mode_lines(settings)
    if as_json_:
        body = as_json(report) | {"mode": "airgap" if settings.airgap else "online"}
        body["warnings"] = [line.removeprefix("Warning: ") for line in mode[1:]]
        typer.echo(json.dumps(body, indent=2, sort_keys=True))
    else:
        shown = lines(report)
        at = shown.index("Internal Service Status:") if "Internal Service Status:" in shown else 0
        for line in [*shown[:at], *mode, *shown[at:]]:
            typer.echo(line)
    if not report.healthy:
        raise typer.Exit(1)


def _mode_lines(settings: Settings) -> list[str]:
    """``Mode:`` online or airgap (proxy.airgap); in airgap mode, a ``Warning:`` line per
    essential not imported (a base a snap needs, snapd)."""
    if not settings.airgap:
        return ["Mode: online"]
    mode = "Mode: airgap (imported snaps only)"
    try:
        warnings = asyncio.run(missing_essentials(settings))
    except Exception as exc:
        return [mode, f"Warning: the imported snaps cannot be checked ({type(exc).__name__})"]
    return [mode, *(f"Warning: {warning}" for warning in warnings)]


def _line(check: ConnectionCheck) -> str:
    if not check.checked:
        return f"{check.kind}: {check.target}"
    return f"{check.kind}: {check.target}: {'OK' if check.error is None else check.error}"


def check_connections() -> None:
    """Check that this node reaches the upstream store, the database and each memcached
    server, one line each; exits 1 when one cannot be reached."""
    settings, table_error = best_settings()
    checks = asyncio.run(check_all(settings))
    for check in checks:
        typer.echo(_line(check))
    failed = [check for check in checks if check.error is not None]
    if failed:
        names = ", ".join(dict.fromkeys(f"{check.kind} {check.target}" for check in failed))
        typer.echo(f"Cannot reach: {names}")
        raise typer.Exit(1)
    if table_error is not None:  # reachable, but its configuration could not be read
        typer.echo(
            f"note: {table_error}; checked with the environment and bootstrap file", err=True
        )
    typer.echo("All connections appear to be accessible")


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.command("check-connections")(check_connections)
