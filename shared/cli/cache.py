"""``snap-proxy cache``: look at and manage the download cache through the admin API."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from shared.cli.common import fail, settings_or_exit

app = typer.Typer(help="Inspect and manage the download cache.", no_args_is_help=True)
console = Console()

UrlOption = typer.Option(
    None, "--url", help="Proxy URL [default: http://127.0.0.1:$SNAPPROXY_PORT]."
)


def _human(size: int | None) -> str:
    if size is None:
        return "no cap"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _admin(url: str | None) -> httpx.Client:
    settings = settings_or_exit()
    if settings.admin_token is None:
        fail("set SNAPPROXY_ADMIN_TOKEN to the proxy's admin token")
    base = (url or f"http://127.0.0.1:{settings.port}").rstrip("/")
    token = settings.admin_token.get_secret_value()
    return httpx.Client(base_url=base, timeout=600, headers={"Authorization": f"Bearer {token}"})


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the proxy at {client.base_url}: {type(exc).__name__}")
    if response.status_code != 200:
        try:
            message = response.json()["error-list"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            message = response.text[:200]
        fail(f"{method} {path}: HTTP {response.status_code}: {message}")
    return response.json()


@app.command()
def stats(url: str = UrlOption) -> None:
    """Hits, misses and bytes saved, overall and per snap."""
    with _admin(url) as client:
        body = _call(client, "GET", "/v1/cache/stats")
    totals = body["totals"]
    served = totals["bytes-from-cache"]
    console.print(
        f"{totals['entries']} blobs, {_human(totals['size'])} of {_human(totals['max-size'])}; "
        f"{totals['hits']} hits, {totals['misses']} misses; "
        f"{_human(served)} served from cache, {_human(totals['bytes-from-upstream'])} fetched"
    )
    table = Table("snap", "hits", "misses", "from cache", "from upstream", "failed", "evicted")
    for name, row in sorted(body["snaps"].items()):
        table.add_row(
            name,
            str(row["hits"]),
            str(row["misses"]),
            _human(row["bytes-from-cache"]),
            _human(row["bytes-from-upstream"]),
            str(row["failed-fills"]),
            str(row["evictions"]),
        )
    console.print(table)


@app.command("list")
def list_entries(
    name: str = typer.Argument(None, help="Only this snap."), url: str = UrlOption
) -> None:
    """What the cache holds."""
    with _admin(url) as client:
        body = _call(client, "GET", "/v1/cache/entries", params={"name": name} if name else None)
    table = Table("snap", "revision", "size", "last access", "pinned", "sha3-384")
    for entry in body["entries"]:
        table.add_row(
            entry["name"],
            str(entry["revision"]),
            _human(entry["size"]),
            entry["last-access"][:19],
            "yes" if entry["pinned"] else "",
            entry["sha3-384"][:16] + "…",
        )
    console.print(table)


@app.command()
def verify(url: str = UrlOption) -> None:
    """Re-hash every stored blob; corrupt or missing ones are dropped."""
    with _admin(url) as client, console.status("verifying every cached blob…"):
        body = _call(client, "POST", "/v1/cache/verify")
    for dropped in body["dropped"]:
        console.print(f"dropped {dropped['name']} r{dropped['revision']}: {dropped['reason']}")
    console.print(f"{body['verified']} blobs verified, {len(body['dropped'])} dropped")


@app.command()
def evict(
    name: str = typer.Argument(None, help="The snap whose blobs to drop."),
    all_: bool = typer.Option(False, "--all", help="Drop everything."),
    url: str = UrlOption,
) -> None:
    """Drop a snap's cached blobs (or all of them with --all)."""
    if not name and not all_:
        fail("name a snap, or pass --all", 2)
    with _admin(url) as client:
        body = _call(client, "POST", "/v1/cache/evict", json={"name": name, "all": all_})
    console.print(f"evicted {len(body['evicted'])} blobs")


@app.command()
def pin(
    name: str = typer.Argument(..., help="The snap whose blobs are never evicted."),
    unpin: bool = typer.Option(False, "--unpin", help="Allow eviction again."),
    url: str = UrlOption,
) -> None:
    """Pin a snap's cached blobs so eviction never removes them."""
    with _admin(url) as client:
        body = _call(client, "POST", "/v1/cache/pin", json={"name": name, "pinned": not unpin})
    state = "pinned" if body["pinned"] else "unpinned"
    console.print(f"{state} {body['entries']} blobs of {name}")


@app.command()
def prefetch(
    name: str = typer.Argument(..., help="Snap to fetch into the cache."),
    channel: str = typer.Option("latest/stable", help="Channel to fetch."),
    arch: str = typer.Option("amd64", help="Architecture to fetch."),
    url: str = UrlOption,
) -> None:
    """Warm the cache: fetch a snap through the proxy, with a progress bar."""
    with _admin(url) as client:
        headers = {"Snap-Device-Architecture": arch, "Snap-Device-Series": "16"}
        action = {
            "action": "download",
            "instance-key": "download-1",
            "name": name,
            "channel": channel,
            "epoch": None,
        }
        answer = _call(
            client,
            "POST",
            "/v2/snaps/refresh",
            headers=headers,
            json={"context": [], "actions": [action], "fields": ["download", "revision"]},
        )
        result = (answer.get("results") or [{}])[0]
        if result.get("result") == "error":
            fail(f"{name}: {result['error'].get('message', 'not available')}")
        snap = result["snap"]
        size, expected = snap["download"]["size"], snap["download"]["sha3-384"]
        hasher = hashlib.sha3_384()
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"{name} r{snap['revision']}", total=size)
            with client.stream("GET", snap["download"]["url"], headers=headers) as response:
                if response.status_code != 200:
                    fail(f"download failed: HTTP {response.status_code}")
                for chunk in response.iter_bytes(256 * 1024):
                    hasher.update(chunk)
                    progress.update(task, advance=len(chunk))
    if hasher.hexdigest() != expected:
        fail(f"{name}: the downloaded bytes do not match the recorded SHA3-384")
    console.print(
        f"{name} revision {snap['revision']} ({_human(size)}, {channel}, {arch}) is cached"
    )
