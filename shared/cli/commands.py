"""The ``snap-proxy`` command line: every command (``shared.cli.main`` runs it)."""

from __future__ import annotations

import typer

from shared.cli import (
    cache,
    children,
    config,
    database,
    db,
    devices,
    egress,
    offline,
    overrides,
    register,
    run,
    status,
    tls,
)

app = typer.Typer(
    name="snap-proxy",
    help="snapproxy: a self-hosted Snap Store proxy and download cache.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
run.register(app)
status.register(app)
devices.register(app)
config.register(app)
database.register(app)
overrides.register(app)
tls.register(app)
egress.register(app)
register.register_commands(app)
children.register(app)
offline.register(app)
app.add_typer(db.app, name="db")
app.add_typer(cache.app, name="cache")
