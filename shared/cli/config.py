"""``snap-proxy config``: read and set configuration keys, export and import them."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from shared.cli.common import ask_secret, environment_or_exit, fail
from shared.config.bootstrap import BootstrapError
from shared.config.changes import (
    Change,
    ConfigNotApplied,
    ConfigRefused,
    apply_changes,
    check_whole,
    parse_changes,
)
from shared.config.hooks import ApplyContext
from shared.config.keys import KEYS, ConfigKey, Restart, key_named
from shared.config.load import ConfigUnavailable, bootstrap_layers, table_of
from shared.config.resolve import Layers, Resolved, Source, changed_keys, resolve, stored_text
from shared.config.transfer import export_yaml, import_changes
from shared.config.values import ConfigValueError
from shared.settings import ConfigError, Settings, load_settings

HELP = (
    "Show or set configuration keys, as the Snap Store Proxy's `snap-proxy config` does.\n\n"
    "snap-proxy config                       every key: its source and value\n"
    "snap-proxy config KEY...                those keys only\n"
    "snap-proxy config KEY=VALUE...          set them: all, or none if one is bad\n"
    "snap-proxy config KEY=                  back to the default\n"
    "snap-proxy config --export-yaml > FILE  all that is stored, secrets included\n"
    "snap-proxy config --import-yaml FILE    restore it (`-`: standard input)\n\n"
    "The configuration lives in the database, so every service and every node sees the "
    "same values; only the database connection (proxy.db.connection) lives in this node's "
    "bootstrap file, $SNAPPROXY_DATA_DIR/bootstrap.yaml. A SNAPPROXY_* environment variable "
    "overrides a key (the SOURCE column says so).\n\n"
    "Running services pick up a live key within config.poll-interval seconds; setting any "
    "other key says what must restart. docs/configuration.md describes every key."
)

RESTART_HINTS = {
    Restart.GATEWAY: (
        "takes effect when the gateway restarts: `snap-proxy run-split` re-renders nginx "
        "and reloads it by itself; restart `snap-proxy serve` (one already serving HTTPS "
        "loads a new certificate by itself); with docker compose, the gateway's published "
        "ports are SNAPPROXY_HTTP_PORT and SNAPPROXY_HTTPS_PORT in .env, and its nginx.conf "
        "comes from `snap-proxy render-nginx -o deploy/nginx/nginx.conf --tls-dir "
        "deploy/nginx/tls` (then `docker compose exec gateway nginx -s reload`)"
    ),
    Restart.SERVICES: (
        "takes effect when the services restart: `snap-proxy run-split` restarts them by "
        "itself; restart `snap-proxy serve`; with docker compose, "
        "`docker compose restart auth devicegw revisions assertions downloads`"
    ),
}


def read_layers(changing: bool = False) -> Layers:
    """Environment, bootstrap file and table, as this node sees them (exit on failure)."""
    environment = environment_or_exit()
    unchanged = "; nothing was changed" if changing else ""
    try:
        layers = bootstrap_layers(environment)
        database = resolve(layers, check=False).settings
        return Layers(environment, layers.bootstrap, table_of(database))
    except ConfigError as exc:
        fail(f"{exc}{unchanged}", 2)
    except (BootstrapError, ConfigUnavailable) as exc:
        fail(f"{exc}{unchanged}")


def resolved_or_exit(layers: Layers) -> Resolved:
    try:
        return resolve(layers, check=False)
    except ConfigError as exc:
        fail(str(exc), 2)


def _shown(key: ConfigKey, resolved: Resolved) -> str:
    text = key.text(getattr(resolved.settings, key.field))
    if not text:
        return f"({key.unset})"
    shown = key.shown(text)
    lines = shown.splitlines()
    return lines[0] + f" … ({len(lines)} lines)" if len(lines) > 1 else shown


def _source(key: ConfigKey, resolved: Resolved) -> tuple[str, str]:
    """The source, and what the value column adds to say where an environment value is from
    (and which stored value it hides)."""
    source = resolved.sources[key.name]
    if source is not Source.ENVIRONMENT:
        return source.value, ""
    hidden = stored_text(key, resolved.layers)
    if hidden is None:
        return source.value, f"  [{key.env_var}]"
    return source.value, f"  [{key.env_var}; overrides the config's {key.shown(hidden)}]"


# Keys `snap-proxy config KEY` prints as they are when asked alone (a PEM text to hand on:
# `snap-proxy config proxy.tls.cert > proxy.crt`), as the Snap Store Proxy does.
PRINTED_WHOLE = ("proxy.tls.cert",)


def show(names: list[str]) -> None:
    layers = read_layers()
    resolved = resolved_or_exit(layers)
    if len(names) == 1 and names[0] in PRINTED_WHOLE:
        key = key_named(names[0])
        text = key.text(getattr(resolved.settings, key.field))
        if not text:
            fail(f"{key.name} is not set: `snap-proxy import-certificate` sets it")
        typer.echo(text.strip())
        return
    try:
        keys = [key_named(name) for name in names] if names else sorted(KEYS, key=_order)
    except ConfigValueError as exc:
        bad = next(name for name in names if name not in {k.name for k in KEYS})
        fail(f"{bad}: {exc}", 2)
    width = max(len(key.name) for key in keys)
    typer.echo(f"{'KEY':<{width}}  {'SOURCE':<11}  VALUE")
    for key in keys:
        source, where = _source(key, resolved)
        typer.echo(f"{key.name:<{width}}  {source:<11}  {_shown(key, resolved)}{where}")
    for name in resolved.ignored:
        typer.echo(f"warning: the config table has {name}, which is no key: ignored", err=True)


def _order(key: ConfigKey) -> tuple[bool, str]:
    """The Snap Store Proxy's keys first, then snapproxy's own, each by name."""
    return (not key.name.startswith("proxy."), key.name)


def _context(layers: Layers, interactive: bool) -> ApplyContext:
    return ApplyContext(
        data_dir=layers.environment.data_dir,
        settings=resolved_or_exit(Layers(layers.environment, layers.bootstrap)).settings,
        interactive=interactive,
        echo=typer.echo,
        prompt_secret=ask_secret,
    )


def store_changes(changes: list[Change], *, replace: bool, interactive: bool) -> None:
    layers = read_layers(changing=True)
    before = resolved_or_exit(layers).settings
    try:
        check_whole(layers, changes, replace_table=replace)
        apply_changes(layers, changes, _context(layers, interactive), replace_table=replace)
    except ConfigRefused as exc:
        for line in exc.lines:
            typer.echo(f"snap-proxy: error: {line}", err=True)
        raise typer.Exit(2) from None
    except ConfigNotApplied as exc:
        fail(str(exc))
    _tell_what_follows(layers, changes, _changed_since(before, changes))


def set_keys(pairs: list[tuple[str, str | None]]) -> None:
    """Set keys as ``snap-proxy config KEY=VALUE`` does (``None``: back to the default):
    every pair checked, all stored or none, the same messages and exit codes."""
    try:
        changes = parse_changes(pairs)
    except ConfigRefused as exc:
        for line in exc.lines:
            typer.echo(f"snap-proxy: error: {line}", err=True)
        raise typer.Exit(2) from None
    store_changes(changes, replace=False, interactive=False)


def _changed_since(before: Settings, changes: list[Change]) -> set[str]:
    """The keys whose values this node now resolves differently (all the changed ones when
    the new configuration cannot be read back, e.g. a new database not migrated yet)."""
    try:
        environment = load_settings()
        layers = bootstrap_layers(environment)
        database = resolve(layers, check=False).settings
        table = table_of(database)
        after = resolve(Layers(environment, layers.bootstrap, table), check=False).settings
    except Exception:
        return {change.key.name for change in changes}
    return {key.name for key in changed_keys(before, after)}


def _tell_what_follows(layers: Layers, changes: list[Change], changed: set[str]) -> None:
    """Warnings for keys the environment overrides, notes for restarts and unused keys."""
    restarts: dict[Restart, list[str]] = {}
    for change in changes:
        key = change.key
        if key.field in layers.environment.model_fields_set:
            typer.echo(
                f"warning: {key.env_var} is set in this environment and overrides {key.name}: "
                "processes started with it keep the environment's value",
                err=True,
            )
        if key.unused:
            typer.echo(f"note: {key.name} is stored, but nothing uses it yet", err=True)
        if key.restart is not None and key.name in changed:
            restarts.setdefault(key.restart, []).append(key.name)
    for restart, names in restarts.items():
        hint = RESTART_HINTS[restart]
        if len(names) > 1:
            hint = hint.replace("takes effect", "take effect", 1)
        typer.echo(f"note: {', '.join(names)} {hint}", err=True)


def _pairs(items: list[str]) -> list[tuple[str, str | None]]:
    return [(name.strip(), text) for name, _, text in (item.partition("=") for item in items)]


def config(
    items: list[str] = typer.Argument(
        None, metavar="KEY[=VALUE]...", help="Keys to show, or KEY=VALUE pairs to set."
    ),
    export: bool = typer.Option(
        False, "--export-yaml", help="Print the stored configuration as YAML, secrets included."
    ),
    import_from: str = typer.Option(
        None,
        "--import-yaml",
        metavar="FILE|-",
        help="Restore a configuration exported with --export-yaml (all of it, or none).",
    ),
) -> None:
    items = items or []
    if sum((export, import_from is not None, bool(items))) > 1:
        fail("give KEYs, KEY=VALUE pairs, --export-yaml or --import-yaml, one at a time", 2)
    if export:
        typer.echo(export_yaml(read_layers()), nl=False)
        return
    if import_from is not None:
        text = _import_text(import_from)
        try:
            changes = import_changes(text)
        except ConfigRefused as exc:
            for line in exc.lines:
                typer.echo(f"snap-proxy: error: {import_from}: {line}", err=True)
            raise typer.Exit(2) from None
        store_changes(changes, replace=True, interactive=False)
        return
    setting = [item for item in items if "=" in item]
    if setting and len(setting) != len(items):
        fail("either show keys or set KEY=VALUE pairs, not both", 2)
    if not setting:
        show(items)
        return
    try:
        changes = parse_changes(_pairs(items))
    except ConfigRefused as exc:
        for line in exc.lines:
            typer.echo(f"snap-proxy: error: {line}", err=True)
        raise typer.Exit(2) from None
    # Asks for a password when needed: without echo on a terminal, else a line of stdin.
    store_changes(changes, replace=False, interactive=True)


def _import_text(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {source}: {exc.strerror or exc}", 2)


def register(app: typer.Typer) -> None:
    app.command("config", help=HELP)(config)
