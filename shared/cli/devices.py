"""``snap-proxy devices``: the devices and other clients the proxy has seen, through the
admin API (``GET /v1/devices``, ``/v1/devices/refused``, ``/v1/clients``)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from shared.cli.common import best_settings, fail, proxy_url

CLIENT_TIMEOUT = 60


def _get(client: httpx.Client, path: str, limit: int) -> Any:
    try:
        response = client.get(path, params={"limit": limit})
    except httpx.HTTPError as exc:
        fail(f"cannot reach the proxy at {client.base_url}: {exc}")
    if response.status_code != 200:
        try:
            message = response.json()["error-list"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            message = response.text[:200]
        fail(f"GET {path}: HTTP {response.status_code}: {message}")
    return response.json()


def _when(stamp: str | None) -> str:
    return (stamp or "").replace("T", " ").split(".")[0].removesuffix("Z")


def _devices_table(devices: list[dict[str, Any]]) -> Table:
    table = Table(title="Devices (by serial; verified: the upstream granted a session)")
    for column in ("Brand", "Model", "Serial", "Verified", "Sessions", "First seen", "Last seen"):
        table.add_column(column)
    for device in devices:
        table.add_row(
            device["brand-id"] or "-",
            device["model"] or "-",
            device["serial"] or f"(no serial: {device['address']})",
            "yes" if device["verified"] else "no",
            str(device["sessions"]),
            _when(device["first-seen"]),
            _when(device["last-seen"]),
        )
    return table


def _refused_table(refused: list[dict[str, Any]]) -> Table:
    table = Table(title="New devices refused by proxy.device-limit")
    for column in ("Brand", "Model", "Serial", "Refusals", "First refused", "Last refused"):
        table.add_column(column)
    for device in refused:
        table.add_row(
            device["brand-id"] or "-",
            device["model"] or "-",
            device["serial"] or "-",
            str(device["refusals"]),
            _when(device["first-refused"]),
            _when(device["last-refused"]),
        )
    return table


def _clients_table(clients: list[dict[str, Any]]) -> Table:
    table = Table(title="Other clients (no device session, e.g. snap download; by address)")
    for column in ("Address", "User agent", "First seen", "Last seen"):
        table.add_column(column)
    for client in clients:
        table.add_row(
            client["address"],
            client["user-agent"] or "-",
            _when(client["first-seen"]),
            _when(client["last-seen"]),
        )
    return table


def devices(
    url: str = typer.Option(None, help="Proxy URL (default: http://127.0.0.1:$SNAPPROXY_PORT)."),
    limit: int = typer.Option(100, min=1, max=1000, help="At most this many of each list."),
    as_json: bool = typer.Option(False, "--json", help="Print the lists as JSON, for scripts."),
) -> None:
    """List the devices the proxy has seen (by serial, with first and last seen), the new
    devices proxy.device-limit refused, and the other clients (no device session, such as
    `snap download`), most recently seen first.

    Uses the admin API: the admin token is admin.token (`snap-proxy config`) or
    SNAPPROXY_ADMIN_TOKEN."""
    settings, _ = best_settings()
    if settings.admin_token is None:
        fail("no admin token: set admin.token with `snap-proxy config` or SNAPPROXY_ADMIN_TOKEN")
    headers = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
    base = proxy_url(settings, url)
    with httpx.Client(base_url=base, headers=headers, timeout=CLIENT_TIMEOUT) as client:
        found = _get(client, "/v1/devices", limit)["devices"]
        refused = _get(client, "/v1/devices/refused", limit)["devices"]
        others = _get(client, "/v1/clients", limit)["clients"]
    if as_json:
        document = {"devices": found, "refused-devices": refused, "other-clients": others}
        typer.echo(json.dumps(document, indent=2, sort_keys=True))
        return
    console = Console(width=max(Console().width, 160))
    console.print(_devices_table(found))
    if refused:
        console.print(_refused_table(refused))
    console.print(_clients_table(others))


def register(app: typer.Typer) -> None:
    app.command()(devices)
