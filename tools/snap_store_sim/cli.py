"""``snap-store-sim``: serve, add-snap, import-assertions."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer

from .faults import FaultError, Faults
from .layout import DataDir
from .registrar import DEFAULT_REGISTRAR

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="A Snap Store simulator that Debian's snap client accepts (offline).",
)
DataDirOption = Annotated[Path, typer.Option("--data-dir", help="State directory.")]
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMG]?)(i?)B?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``8KiB``, ``50MiB``, ``2M``, ``1GB``, ``4096`` → bytes."""
    match = _SIZE.match(text)
    if not match:
        raise typer.BadParameter(f"not a size: {text!r}")
    number, unit, binary = float(match[1]), match[2].upper(), match[3]
    base = 1024 if binary or (unit and not text.upper().endswith(f"{unit}B")) else 1000
    power = " KMG".index(unit) if unit else 0
    return int(number * base**power)


def parse_fault(text: str) -> dict[str, Any]:
    """``name=value`` (value as JSON when it parses, else a string) or ``name`` (true)."""
    text = text.strip()
    if text.startswith("{"):
        value = json.loads(text)
        if not isinstance(value, dict):
            raise typer.BadParameter("--fault JSON must be an object")
        return value
    name, sep, raw = text.partition("=")
    name = name.strip().replace("-", "_")
    if not sep:
        return {name: True}
    try:
        return {name: json.loads(raw)}
    except ValueError:
        return {name: raw}


@app.command()
def serve(
    data_dir: DataDirOption,
    host: Annotated[str, typer.Option(help="Address for both servers.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Store API port (0 picks a free one).")] = 8100,
    cdn_port: Annotated[int, typer.Option(help="CDN port (0 picks a free one).")] = 0,
    demo: Annotated[bool, typer.Option(help="Seed the demo catalogue.")] = False,
    latency_ms: Annotated[int, typer.Option(help="Delay before every response.")] = 0,
    bandwidth: Annotated[int | None, typer.Option(help="Per-connection CDN cap, bytes/s.")] = None,
    fault: Annotated[
        list[str] | None, typer.Option(help="NAME=VALUE fault setting (repeatable).")
    ] = None,
    cdn_url: Annotated[str | None, typer.Option(help="Public CDN base URL for redirects.")] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
    https: Annotated[
        bool,
        typer.Option(
            help="Serve both over HTTPS with a CA of the simulator's own (DIR/tls/ca.pem), "
            "as an upstream behind TLS inspection looks."
        ),
    ] = False,
    registrar: Annotated[
        str,
        typer.Option(
            help="EMAIL:PASSWORD[:OTP] of the account that may register proxies "
            "(POST /v2/auth/proxy/register); with an OTP it has two factors."
        ),
    ] = DEFAULT_REGISTRAR,
) -> None:
    """Run the Store API and the CDN until interrupted."""
    from .server import ServeOptions
    from .server import serve as run_servers

    settings: dict[str, Any] = {"latency_ms": latency_ms, "bandwidth_bps": bandwidth}
    for item in fault or []:
        settings.update(parse_fault(item))
    try:
        faults = Faults.from_json(settings)
    except FaultError as exc:
        raise typer.BadParameter(str(exc), param_hint="--fault") from None
    options = ServeOptions(
        data_dir=data_dir,
        host=host,
        port=port,
        cdn_port=cdn_port,
        demo=demo,
        faults=faults,
        cdn_url=cdn_url,
        log_level=log_level,
        https=https,
        registrar=registrar,
    )
    try:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run_servers(options))
    except ImportError:
        asyncio.run(run_servers(options))


@app.command("add-snap")
def add_snap(
    name: Annotated[str, typer.Argument(help="Snap name.")],
    data_dir: DataDirOption,
    size: Annotated[str, typer.Option(help="Blob size, e.g. 64KiB or 50MiB.")] = "64KiB",
    channel: Annotated[
        list[str] | None, typer.Option(help="Channel to release to (repeatable).")
    ] = None,
    revision: Annotated[int | None, typer.Option(help="Revision (default: next).")] = None,
    arch: Annotated[str, typer.Option(help="amd64, arm64, all, ...")] = "amd64",
    version: Annotated[str | None, typer.Option(help="Version string.")] = None,
    publisher: Annotated[str, typer.Option(help="Publisher username.")] = "simdev",
    snap_type: Annotated[str, typer.Option("--type", help="app, base, ...")] = "app",
    base: Annotated[str, typer.Option(help="Base snap ('' for none).")] = "core22",
    confinement: Annotated[str, typer.Option(help="strict, classic, devmode.")] = "strict",
    private: Annotated[
        bool | None,
        typer.Option(
            "--private/--public",
            help="Make the snap private (served only to requests with store credentials the "
            "simulator accepts) or public again. Default: unchanged; new snaps are public.",
        ),
    ] = None,
) -> None:
    """Build a real .snap, sign its assertions and add it to the catalogue.

    A private snap is invisible without accepted credentials: the test user's
    ``Authorization`` macaroon or a device session the simulator issued (see
    ``tools/snap_store_sim/access.py``). Its blob is served by the CDN only with a grant."""
    from .builder import BuildError
    from .publish import add_snap as publish

    try:
        snap, rev = publish(
            DataDir(data_dir),
            name,
            size=parse_size(size),
            channels=channel or ["latest/stable"],
            revision=revision,
            arch=arch,
            version=version,
            publisher=publisher,
            type_=snap_type,
            base=base or None,
            confinement=confinement,
            private=private,
        )
    except (ValueError, BuildError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"added {snap.name} revision {rev.revision} ({rev.arch}, {rev.size} bytes, "
        f"sha3-384 {rev.sha3_384}) to {', '.join(rev.channels) or 'no channel'}"
        + (" (private)" if snap.private else "")
    )


@app.command("import-assertions")
def import_assertions(
    files: Annotated[list[Path], typer.Argument(help="Assertion files or streams.")],
    data_dir: DataDirOption,
) -> None:
    """Store signed assertions byte-exact so the API serves them."""
    from shared.assertions import AssertionFormatError, parse_stream

    from .assertstore import AssertStore

    data = DataDir(data_dir)
    data.ensure()
    store = AssertStore(data.asserts)
    for path in files:
        try:
            assertions = parse_stream(path.read_bytes())
        except (OSError, AssertionFormatError) as exc:
            typer.echo(f"{path}: {exc}", err=True)
            raise typer.Exit(1) from None
        for item in assertions:
            key = "/".join(item.reduced_primary_key)
            done = "imported" if store.put(item) else "kept existing"
            typer.echo(f"{done} {item.type}/{key} (revision {item.revision})")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
