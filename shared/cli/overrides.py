"""``snap-proxy override``, ``list-overrides``, ``delete-override``, ``freeze``, ``unfreeze``,
``promote`` and ``overrides-log``: the overrides, through the admin REST API (so they work
against a remote proxy with ``--url`` and the admin token, as the Snap Store Proxy's
``snap-store-proxy-client`` does)."""

from __future__ import annotations

import getpass
import socket
from typing import Annotated, Any

import httpx
import typer

from shared.channels import ChannelError, parse_channel
from shared.cli.common import fail, settings_or_exit

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="SNAPPROXY_URL",
        help="The proxy's URL (default: http://127.0.0.1:$SNAPPROXY_PORT).",
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="SNAPPROXY_ADMIN_TOKEN",
        help="The proxy's admin token (default: $SNAPPROXY_ADMIN_TOKEN).",
        show_default=False,
    ),
]
ChannelOption = Annotated[
    str | None, typer.Option("--channel", help="Only this channel (e.g. stable, 2.0/beta).")
]


def _actor() -> str:
    """Who is changing the overrides, for the audit log: user@host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"[:64]


def _admin(url: str | None, token: str | None) -> httpx.Client:
    if url is None:
        url = f"http://127.0.0.1:{settings_or_exit().port}"
    if not token:
        fail("give the proxy's admin token: --token or SNAPPROXY_ADMIN_TOKEN", 2)
    return httpx.Client(
        base_url=url.rstrip("/"),
        timeout=120,
        headers={"Authorization": f"Bearer {token}", "X-Snapproxy-Actor": _actor()},
    )


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
        fail(f"HTTP {response.status_code}: {message}")
    return response.json()


def _pair(text: str) -> tuple[str, int]:
    channel, equals, revision = text.partition("=")
    if not equals or not channel or not revision.isdigit() or int(revision) < 1:
        fail(f"{text!r}: write CHANNEL=REVISION, e.g. stable=42", 2)
    return channel, int(revision)


def _full(channel: str) -> str:
    try:
        return parse_channel(channel)
    except ChannelError:
        return channel


def _line(item: dict[str, Any]) -> str:
    return f"{item['snap_name']} {item['channel']} {item['architecture']} {item['revision']}"


def override(
    snap: Annotated[str, typer.Argument(help="The snap's name.")],
    pins: Annotated[
        list[str], typer.Argument(help="CHANNEL=REVISION, e.g. stable=42 (one or more).")
    ],
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Pin channels of SNAP to revisions.

    Devices on CHANNEL get REVISION, whatever the upstream holds there. The revision decides
    the architectures. Prints `snap channel arch revision` for each override made."""
    wanted = [_pair(text) for text in pins]
    items = [{"snap_name": snap, "channel": c, "revision": r, "series": "16"} for c, r in wanted]
    with _admin(url, token) as client:
        body = _call(client, "POST", "/v2/metadata/overrides", json=items)
    made = {(_full(channel), revision) for channel, revision in wanted}
    for item in body["overrides"]:
        if (_full(item["channel"]), item["revision"]) in made:
            typer.echo(_line(item))


def list_overrides(
    snap: Annotated[str, typer.Argument(help="The snap's name.")],
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """SNAP's overrides, with the upstream's current revision in brackets."""
    with _admin(url, token) as client:
        body = _call(client, "GET", f"/v2/metadata/overrides/{snap}")
    for item in body["overrides"]:
        upstream = item["upstream_revision"]
        typer.echo(f"{_line(item)} ({upstream if upstream is not None else 'none'})")


def delete_override(
    snap: Annotated[str, typer.Argument(help="The snap's name.")],
    channel: Annotated[str, typer.Argument(help="The channel, e.g. stable.")],
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Drop SNAP's overrides on CHANNEL (every architecture).

    Devices get the upstream's revision again on their next request."""
    item = {"snap_name": snap, "channel": channel, "revision": None, "series": "16"}
    with _admin(url, token) as client:
        _call(client, "POST", "/v2/metadata/overrides", json=[item])


def _changes(body: dict[str, Any]) -> None:
    for change in body["changes"]:
        old, new = change["old_revision"], change["new_revision"]
        typer.echo(
            f"{change['snap_name']} {change['channel']} {change['architecture']} "
            f"{old if old is not None else '-'} -> {new if new is not None else '-'}"
        )
    if not body["changes"]:
        typer.echo("nothing changed")


def freeze(
    snaps: Annotated[list[str] | None, typer.Argument(help="Only these snaps.")] = None,
    channel: ChannelOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Pin every channel the proxy has seen to its current revision, for a change freeze.

    Only SNAPs' channels if given, only --channel if given; each is pinned to the revision
    the upstream holds there now. Channels already pinned stay as they are."""
    with _admin(url, token) as client:
        body = _call(
            client, "POST", "/v1/overrides/freeze", json={"snaps": snaps or [], "channel": channel}
        )
    _changes(body)


def unfreeze(
    snaps: Annotated[list[str] | None, typer.Argument(help="Only these snaps.")] = None,
    channel: ChannelOption = None,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Drop the overrides `freeze` made.

    Only SNAPs' if given, only --channel if given. Overrides set with `override` stay."""
    with _admin(url, token) as client:
        body = _call(
            client,
            "POST",
            "/v1/overrides/unfreeze",
            json={"snaps": snaps or [], "channel": channel},
        )
    _changes(body)


def promote(
    snap: Annotated[str, typer.Argument(help="The snap's name.")],
    from_channel: Annotated[str, typer.Argument(help="Where devices get the revision now.")],
    to_channel: Annotated[str, typer.Argument(help="The channel to pin to it.")],
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Give devices on TO_CHANNEL the revision devices on FROM_CHANNEL get now.

    Each architecture is pinned: test machines follow candidate, the fleet a promoted stable."""
    request = {"snap_name": snap, "from_channel": from_channel, "to_channel": to_channel}
    with _admin(url, token) as client:
        body = _call(client, "POST", "/v1/overrides/promote", json=request)
    _changes(body)


def overrides_log(
    snap: Annotated[str | None, typer.Argument(help="Only this snap.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many.")] = 100,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Every change to the overrides, newest first.

    One line each: when, who, what, and from which revision to which (`-`: none)."""
    params: dict[str, Any] = {"limit": limit} | ({"snap": snap} if snap else {})
    with _admin(url, token) as client:
        body = _call(client, "GET", "/v1/overrides/log", params=params)
    for change in body["changes"]:
        old, new = change["old_revision"], change["new_revision"]
        typer.echo(
            f"{change['changed_at'][:19]} {change['actor']} {change['action']} "
            f"{change['snap_name']} {change['channel']} {change['architecture']} "
            f"{old if old is not None else '-'} -> {new if new is not None else '-'}"
        )


def register(app: typer.Typer) -> None:
    app.command()(override)
    app.command("list-overrides")(list_overrides)
    app.command("delete-override")(delete_override)
    app.command()(freeze)
    app.command()(unfreeze)
    app.command()(promote)
    app.command("overrides-log")(overrides_log)
