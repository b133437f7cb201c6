"""Changing the configuration: every pair validated first, then stored together or not at all.

``snap-proxy config KEY=VALUE...`` and ``--import-yaml`` both end here. The order is: parse
each pair (unknown keys, bad values: :class:`ConfigRefused`, nothing touched), check the
whole, run the apply hooks (``proxy.db.connection``: connect), write the table in one
transaction, and last replace the bootstrap file (a local rename). Anything that fails
before the table's commit leaves every layer as it was (:class:`ConfigNotApplied`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.config.bootstrap import BootstrapError, write_bootstrap
from shared.config.hooks import Applied, ApplyContext, ConfigApplyError
from shared.config.keys import ConfigKey, key_named
from shared.config.load import database_label, run_blocking, unavailable_reason
from shared.config.resolve import Layers, resolve
from shared.config.store import write_table
from shared.config.values import ConfigValueError
from shared.db import create_engine, create_sessionmaker
from shared.settings import ConfigError, Settings


class ConfigRefused(Exception):
    """Bad input: one line per problem (each names its key); nothing was changed."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("; ".join(lines))
        self.lines = lines


class ConfigNotApplied(Exception):
    """The change could not be stored (the database, a hook, the bootstrap file); the
    message is one line, and the previous configuration is kept."""


@dataclass(frozen=True)
class Change:
    key: ConfigKey
    text: str | None  # None: back to the default (removed from the table or the file)


def refusal(key: ConfigKey, text: str, problem: str) -> str:
    """One line naming the key and what is wrong (and the value, unless it is a secret)."""
    shown = "" if key.secret or len(text) > 60 or repr(text) in problem else f" (got {text!r})"
    return f"{key.name}: {problem}{shown}"


def parse_change(name: str, text: str | None) -> Change:
    """One pair; ConfigRefused with its line when the key or the value is bad."""
    try:
        key = key_named(name)
    except ConfigValueError as exc:
        raise ConfigRefused([f"{name}: {exc}"]) from None
    if text is None or not text.strip():
        return Change(key, None)
    try:
        key.parse(text)
    except ConfigValueError as exc:
        raise ConfigRefused([refusal(key, text, str(exc))]) from None
    return Change(key, text.strip())


def parse_changes(pairs: Iterable[tuple[str, str | None]]) -> list[Change]:
    """Every pair parsed; ConfigRefused with a line for each bad one (and for a key given
    twice)."""
    changes: list[Change] = []
    problems: list[str] = []
    seen: set[str] = set()
    for name, text in pairs:
        if name in seen:
            problems.append(f"{name}: given more than once")
            continue
        seen.add(name)
        try:
            changes.append(parse_change(name, text))
        except ConfigRefused as exc:
            problems.extend(exc.lines)
    if problems:
        raise ConfigRefused(problems)
    return changes


def _merged(current: Mapping[str, Any], updates: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for name, text in updates.items():
        if text is None:
            merged.pop(name, None)
        else:
            merged[name] = text
    return merged


def check_whole(layers: Layers, changes: list[Change], *, replace_table: bool) -> None:
    """The configuration after ``changes`` must work as a whole (ConfigRefused otherwise)."""
    bootstrap = {c.key.name: c.text for c in changes if c.key.bootstrap}
    table = {c.key.name: c.text for c in changes if not c.key.bootstrap}
    base_table = {} if replace_table else layers.table
    after = Layers(
        layers.environment, _merged(layers.bootstrap, bootstrap), _merged(base_table, table)
    )
    try:
        resolve(after)
    except ConfigError as exc:
        raise ConfigRefused([str(exc)]) from None


async def _write(settings: Settings, table: Mapping[str, str | None], replace: bool) -> None:
    engine = create_engine(settings, application_name="snap-proxy-config")
    try:
        await write_table(create_sessionmaker(engine), table, replace=replace)
    finally:
        await engine.dispose()


def apply_changes(
    layers: Layers, changes: list[Change], context: ApplyContext, *, replace_table: bool = False
) -> None:
    """Store ``changes`` (already parsed); with ``replace_table`` the table keeps only the
    changed keys (an import). ConfigNotApplied when something could not be done."""
    bootstrap_updates: dict[str, Any] = {}
    table_updates: dict[str, str | None] = {}
    for change in changes:
        text = change.text
        companions: Mapping[str, Any] = {}
        if text is not None and change.key.apply is not None:
            try:
                applied = change.key.apply(text, context)
            except ConfigApplyError as exc:
                raise ConfigNotApplied(f"{change.key.name}: {exc}") from None
            if isinstance(applied, Applied):
                text, companions = applied.text, applied.bootstrap
            else:
                text = applied
        (bootstrap_updates if change.key.bootstrap else table_updates)[change.key.name] = text
        for name in change.key.companions:  # kept with the key, removed with it
            bootstrap_updates[name] = companions.get(name)
    bootstrap = _merged(layers.bootstrap, bootstrap_updates)
    target = resolve(Layers(layers.environment, bootstrap), check=False).settings
    if table_updates or replace_table:
        try:
            run_blocking(_write(target, table_updates, replace_table))
        except Exception as exc:
            raise ConfigNotApplied(
                f"cannot store the configuration in the database {database_label(target)}: "
                f"{unavailable_reason(exc)}; nothing was changed"
            ) from None
    if bootstrap_updates:
        try:
            write_bootstrap(context.data_dir, bootstrap)
        except BootstrapError as exc:
            raise ConfigNotApplied(str(exc)) from None
