"""``snap-proxy children`` and ``generate-keys``: this snapproxy as a parent of others."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from shared.cli.cache import _admin, _call
from shared.cli.common import configured_or_exit
from shared.cli.config import set_keys
from shared.registration.client import new_identity


def children(
    url: str = typer.Option(None, help="Proxy URL [default: http://127.0.0.1:$SNAPPROXY_PORT]."),
) -> None:
    """List the snapproxies registered with this one as their upstream (GET /v1/children,
    with the admin token): Store ID, domain, registration, last contact, and the devices
    (24 h) and other clients the child last reported."""
    with _admin(url) as client:
        found = _call(client, "GET", "/v1/children")["children"]
    if not found:
        typer.echo("No child proxy is registered with this proxy.")
        return
    table = Table()
    columns = ("Store ID", "Domain", "URL", "Registered", "Last contact", "Devices", "Others")
    for column in columns:
        table.add_column(column)
    for child in found:
        reported = child.get("reported-at") is not None
        others = child.get("other-clients")
        table.add_row(
            child["store-id"],
            child["domain"],
            child["url"],
            child["registered-at"][:19],
            child["last-contact"][:19],
            str(child["devices"]) if reported else "not reported",
            ("unknown" if others is None else str(others)) if reported else "not reported",
        )
    Console(width=200).print(table)


def generate_keys() -> None:
    """Make this proxy's identity key pair (proxy.key.private, proxy.key.public) if it has
    none: a parent signs its children's store assertions with it (`register` makes it too)."""
    settings = configured_or_exit()
    if settings.key_private and settings.key_public:
        typer.echo("This proxy has an identity key already:")
        typer.echo(settings.key_public)
        return
    with Console(stderr=True).status("Making the proxy's identity key (RSA 4096)..."):
        identity = new_identity()
    set_keys(
        [("proxy.key.private", identity.private_pem), ("proxy.key.public", identity.public_openssh)]
    )
    typer.echo("Made this proxy's identity key:")
    typer.echo(identity.public_openssh)


def register(app: typer.Typer) -> None:
    app.command("children")(children)
    app.command("generate-keys")(generate_keys)
