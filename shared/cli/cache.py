"""``snap-proxy cache``: look at and manage the download cache through the admin API."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from typing import Any, NoReturn

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
from shared.settings import Settings
from shared.sizes import human_size, signed_size
from shared.upstream_lookup import channel_download_request

app = typer.Typer(help="Inspect and manage the download cache.", no_args_is_help=True)
console = Console()

UrlOption = typer.Option(
    None, "--url", help="Proxy URL [default: http://127.0.0.1:$SNAPPROXY_PORT]."
)


def _proxy_url(url: str | None, settings: Settings) -> str:
    return (url or f"http://127.0.0.1:{settings.port}").rstrip("/")


def _admin(url: str | None) -> httpx.Client:
    """A client of the admin API, with the admin token."""
    settings = settings_or_exit()
    if settings.admin_token is None:
        fail("set SNAPPROXY_ADMIN_TOKEN to the proxy's admin token")
    token = settings.admin_token.get_secret_value()
    return httpx.Client(
        base_url=_proxy_url(url, settings),
        timeout=600,
        headers={"Authorization": f"Bearer {token}"},
    )


def _device(url: str | None) -> httpx.Client:
    """A client that asks the proxy as a device does. Never the admin client: device
    requests are relayed upstream, and the admin token must not leave the suite."""
    return httpx.Client(base_url=_proxy_url(url, settings_or_exit()), timeout=600)


def _call(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the proxy at {client.base_url}: {type(exc).__name__}")
    if response.status_code != 200:
        _call_failed(response, f"{method} {path}")
    return response.json()


def _call_failed(response: httpx.Response, what: str) -> NoReturn:
    try:
        message = response.json()["error-list"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        message = response.text[:200]
    fail(f"{what}: HTTP {response.status_code}: {message}")


@app.command()
def stats(url: str = UrlOption) -> None:
    """Hits, misses and bytes saved, overall and per snap."""
    with _admin(url) as client:
        body = _call(client, "GET", "/v1/cache/stats")
    totals, disk = body["totals"], body["disk"]
    served = totals["bytes-from-cache"]
    console.print(
        f"{totals['entries']} blobs, {human_size(totals['size'])} of "
        f"{human_size(totals['max-size'])}; "
        f"{totals['hits']} hits, {totals['misses']} misses; "
        f"{human_size(served)} served from cache, {human_size(totals['bytes-relayed'])} "
        f"relayed while fetched, {human_size(totals['bytes-from-upstream'])} fetched; "
        f"{signed_size(totals['bytes-saved'])} saved"
    )
    console.print(
        f"disk: {human_size(disk['free'])} free of {human_size(disk['total'])} "
        f"(eviction keeps {human_size(disk['reserve'])} free)"
    )
    table = Table(
        "snap",
        "hits",
        "misses",
        "from cache",
        "relayed",
        "from upstream",
        "saved",
        "failed",
        "evicted",
    )
    for name, row in sorted(body["snaps"].items()):
        table.add_row(
            name,
            str(row["hits"]),
            str(row["misses"]),
            human_size(row["bytes-from-cache"]),
            human_size(row["bytes-relayed"]),
            human_size(row["bytes-from-upstream"]),
            signed_size(row["bytes-saved"]),
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
            human_size(entry["size"]),
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
    """Warm the cache: fetch a snap through the proxy as a device does, with a progress bar."""
    with _device(url) as client:
        headers = {"Snap-Device-Architecture": arch, "Snap-Device-Series": "16"}
        answer = _call(
            client,
            "POST",
            "/v2/snaps/refresh",
            headers=headers,
            json=channel_download_request(name, channel),
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
        f"{name} revision {snap['revision']} ({human_size(size)}, {channel}, {arch}) is cached"
    )


@app.command("move-to")
def move_to(
    backend: str = typer.Argument(..., help="Where the blobs go: s3 or local."),
    switch: bool = typer.Option(
        True, help="Then set proxy.storage.backend (this node's configuration)."
    ),
    url: str = UrlOption,
) -> None:
    """Copy every cached snap into the other storage backend, then switch to it.

    Each blob is read from the store in use, written to the other one and checked against
    its SHA3-384 before it is kept there; blobs already there are skipped, so a move that was
    stopped is finished by running the command again. The old copies stay where they were
    (delete them once the proxy runs on the new backend). The proxy keeps serving meanwhile.
    Configure the S3 keys first (`snap-proxy config proxy.storage.s3...`, docs/storage.md)."""
    if backend not in ("s3", "local"):
        fail(f"unknown backend {backend!r}: choose s3 or local", 2)
    with _admin(url) as client:
        total = _call(client, "GET", "/v1/cache/stats")["totals"]["size"] or 0
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        summary: dict[str, Any] = {}
        with Progress(*columns, console=console) as progress:
            task = progress.add_task(f"to {backend}", total=total)
            try:
                with client.stream("POST", "/v1/cache/move", json={"to": backend}) as response:
                    if response.status_code != 200:
                        response.read()
                        _call_failed(response, "POST /v1/cache/move")
                    for line in response.iter_lines():
                        item = json.loads(line)
                        if "error" in item:
                            fail(f"the move stopped: {item['error']} (run it again to resume)")
                        if item.get("done"):
                            summary = item
                        else:
                            progress.update(task, advance=item["size"], description=item["name"])
            except httpx.HTTPError as exc:
                fail(f"the move stopped: {type(exc).__name__} (run it again to resume)")
    if not summary:
        fail("the move ended without its summary (run it again to resume)")
    console.print(
        f"{summary['copied']} blobs copied ({human_size(summary['bytes'])}), "
        f"{summary['present']} were there already: every cached snap is in {backend}"
    )
    if not switch or url:
        console.print(f"next: snap-proxy config proxy.storage.backend={backend}")
        return
    done = subprocess.run(
        [sys.executable, "-m", "shared.cli", "config", f"proxy.storage.backend={backend}"],
        check=False,
    )
    if done.returncode != 0:
        fail(f"then run: snap-proxy config proxy.storage.backend={backend}", done.returncode)
