"""Offline mode (docs/offline.md): ``export`` on an online proxy; ``push-snap``,
``list-pushed-snaps``, ``delete-pushed-snap`` and the airgap switch on the offline one."""

from __future__ import annotations

import asyncio
import platform
from datetime import UTC, datetime
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from shared.channels import normalize_channel
from shared.cli.common import configured_or_exit, fail, settings_or_exit
from shared.offline.bundle import BundleError
from shared.offline.export import ExportError, Selection, export_bundle, since_of
from shared.offline.importer import (
    NotPushed,
    apply_import,
    delete_pushed,
    list_pushed,
    read_and_verify,
)

console = Console(stderr=True)
_MACHINES = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "armhf",
    "ppc64le": "ppc64el",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "i686": "i386",
}


def host_architecture() -> str:
    return _MACHINES.get(platform.machine(), "amd64")


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def _cached_names(base_url: str, token: str | None) -> list[str]:
    """Every snap with a blob in the proxy's cache (the admin API: needs the token)."""
    if not token:
        fail("--cached reads the cache through the admin API: set SNAPPROXY_ADMIN_TOKEN", 2)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        response = httpx.get(f"{base_url}/v1/cache/entries", headers=headers, timeout=60)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the proxy at {base_url}: {type(exc).__name__}")
    if response.status_code != 200:
        fail(f"GET /v1/cache/entries: HTTP {response.status_code}")
    return sorted({str(entry["name"]) for entry in response.json()["entries"]})


def export(
    snaps: list[str] = typer.Argument(None, help="The snaps to export, by name."),
    channel: list[str] = typer.Option(
        [], "--channel", help="A channel to export, repeatable (default: every channel)."
    ),
    arch: list[str] = typer.Option(
        [], "--arch", help="An architecture to export, repeatable (default: this machine's)."
    ),
    with_bases: bool = typer.Option(
        False, "--with-bases", help="Add the bases the snaps need, and snapd (latest/stable)."
    ),
    output: Path = typer.Option(
        None, "-o", "--output", help="Bundle to write (.tar, or .tar.gz to compress)."
    ),
    url: str = typer.Option(
        None, "--url", help="The online proxy (default: http://127.0.0.1:$SNAPPROXY_PORT)."
    ),
    cached: bool = typer.Option(
        False, "--cached", help="Export every snap the proxy has cached (needs the admin token)."
    ),
    since: str = typer.Option(
        None,
        "--since",
        help="Incremental: leave out the blobs of this earlier bundle, or of revisions "
        "created before this ISO date.",
    ),
) -> None:
    """Export snaps from this (online) proxy into a bundle for an offline proxy.

    The bundle holds each chosen revision's blob, its assertions (snap-revision,
    snap-declaration, publisher account, the account-key chain, byte-exact), the channel
    map and the metadata info and find answer with. Copy it across the air gap and import it
    there with `snap-proxy push-snap`. The proxy is asked as a device asks (no admin token).
    """
    settings = settings_or_exit()
    base_url = (url or f"http://127.0.0.1:{settings.port}").rstrip("/")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    target = (output or Path(f"snapproxy-bundle-{stamp}.tar")).resolve()
    if not target.parent.is_dir():
        fail(f"{target.parent} is not a directory", 2)
    names = list(snaps or [])
    if cached:
        token = settings.admin_token.get_secret_value() if settings.admin_token else None
        names += [n for n in _cached_names(base_url, token) if n not in names]
    if not names:
        fail("name the snaps to export, or pass --cached", 2)
    try:
        left_out = since_of(since) if since else None
    except (ExportError, BundleError) as exc:
        fail(str(exc), 2)
    selection = Selection(
        tuple(normalize_channel(c) for c in channel), tuple(arch) or (host_architecture(),)
    )
    tasks: dict[str, TaskID] = {}
    with _progress() as progress, httpx.Client(base_url=base_url, timeout=600) as client:

        def advance(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = progress.add_task(label, total=total)
            progress.update(tasks[label], completed=done)

        try:
            exported = export_bundle(
                client,
                names,
                selection,
                with_bases,
                target,
                advance,
                announce=lambda text: progress.console.print(text),
                since=left_out,
            )
        except ExportError as exc:
            fail(f"{exc}; nothing was written")
    size = target.stat().st_size
    typer.echo(f"wrote {target} ({_human(size)}): {', '.join(exported)}")


def push_snap(
    bundle: Path = typer.Argument(..., help="The bundle `snap-proxy export` wrote."),
) -> None:
    """Import a bundle into this proxy (for airgap mode).

    Everything is checked first: the manifest's checksum, each file's SHA3-384 and size,
    each assertion's signature up to a trusted root (assertions.trusted-root-keys). Then it
    is imported in one step: a bundle that fails leaves no trace, and importing the same
    bundle twice changes nothing.
    """
    settings = configured_or_exit()
    if not bundle.is_file():
        fail(f"{bundle}: no such file", 2)
    total = bundle.stat().st_size
    try:
        with _progress() as progress:
            task = progress.add_task("verifying", total=total)
            read, verified, store = read_and_verify(
                settings, bundle, lambda n: progress.advance(task, n)
            )
            progress.update(task, completed=total)
    except BundleError as exc:
        fail(f"{bundle} refused, nothing imported: {exc}")
    except OSError as exc:
        fail(f"cannot read {bundle} or write the blob store, nothing imported: {exc}")
    try:
        report = asyncio.run(apply_import(settings, read, verified, store))
    except Exception as exc:
        fail(f"import failed, nothing imported: {str(exc).splitlines()[0] if str(exc) else exc!r}")
    if report.changes == 0 and report.new_blobs == 0:
        typer.echo(f"already imported, nothing changed: {', '.join(report.snaps)}")
        return
    typer.echo(
        f"imported {', '.join(report.snaps)}: {report.new_blobs} new blobs "
        f"({_human(report.imported_bytes)}), {report.changes} records added or updated"
    )


def list_pushed_snaps() -> None:
    """The imported snaps: name, revisions, channels, architectures and size."""
    settings = configured_or_exit()
    found = asyncio.run(list_pushed(settings))
    if not found:
        typer.echo("no snaps imported (import a bundle with `snap-proxy push-snap BUNDLE`)")
        return
    table = Table("name", "revisions", "channels", "architectures", "size")
    for snap in found:
        table.add_row(
            snap.name,
            ",".join(str(r) for r in snap.revisions),
            "\n".join(snap.channels),
            ",".join(snap.architectures),
            _human(snap.size),
        )
    Console(width=200).print(table)


def delete_pushed_snap(
    name: str = typer.Argument(..., help="The imported snap."),
    revision: int = typer.Option(None, "--revision", help="Only this revision."),
) -> None:
    """Remove an imported snap (or one revision): gone from info, find and downloads."""
    settings = configured_or_exit()
    try:
        report = asyncio.run(delete_pushed(settings, name, revision))
    except NotPushed as exc:
        fail(str(exc))
    what = "snap" if report.snap_gone else "revision(s) " + ",".join(map(str, report.revisions))
    typer.echo(f"deleted {name} {what}; {report.blobs} blob(s) removed")


def _set_airgap(on: bool) -> None:
    from shared.cli.config import set_keys

    set_keys([("proxy.airgap", "true" if on else "false")])


def enable_airgap_mode() -> None:
    """Airgap mode: serve imported snaps only, never contact the upstream (live).

    refresh, info, find, sections and names answer from imported snaps; downloads from
    their blobs; assertions from the imported ones; anything else is not found at once.
    Nothing cached is dropped: `disable-airgap-mode` brings it all back."""
    _set_airgap(True)


def disable_airgap_mode() -> None:
    """Back to relaying the upstream store (live); imported snaps are kept.

    They stay unused until the next `enable-airgap-mode`; nothing cached is dropped."""
    _set_airgap(False)


def register(app: typer.Typer) -> None:
    app.command()(export)
    app.command("push-snap")(push_snap)
    app.command("list-pushed-snaps")(list_pushed_snaps)
    app.command("delete-pushed-snap")(delete_pushed_snap)
    app.command("enable-airgap-mode")(enable_airgap_mode)
    app.command("disable-airgap-mode")(disable_airgap_mode)
