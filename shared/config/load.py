"""Building a process's settings from every layer, before it serves (synchronously: an app
factory is a plain function, and the first read of the table must come before the parts
built from restart-needed keys)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from shared.config.bootstrap import read_bootstrap
from shared.config.resolve import ConfiguredSettings, Layers, resolve
from shared.config.store import read_table
from shared.db import create_engine, create_sessionmaker
from shared.settings import Settings, load_settings

T = TypeVar("T")


class ConfigUnavailable(Exception):
    """The ``config`` table cannot be read; the message says why, in one line."""


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine`` to the end from synchronous code, also when this thread already
    runs an event loop (an app factory called by a server): then in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="config-load") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def database_label(settings: Settings) -> str:
    """The database URL as messages show it: no password, no driver."""
    url = settings.sqlalchemy_url
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def unavailable_reason(exc: BaseException) -> str:
    """Why the database could not be used, in one line."""
    if isinstance(exc, ConfigUnavailable):
        return str(exc)
    text = str(getattr(exc, "orig", None) or exc).strip()
    line = text.splitlines()[0] if text else ""
    if "config" in line and ("does not exist" in line or "no such table" in line):
        return "it has no config table: run `snap-proxy db upgrade` first"
    return line or ("timed out" if isinstance(exc, TimeoutError) else type(exc).__name__)


def never_created(settings: Settings) -> bool:
    """True for a SQLite database whose file does not exist yet: nothing was ever configured
    there, and reading must not create it."""
    url = settings.sqlalchemy_url
    sqlite_file = url.drivername.startswith("sqlite") and url.database not in (None, ":memory:")
    return sqlite_file and not Path(str(url.database)).exists()


async def read_table_of(settings: Settings) -> dict[str, str]:
    """The table of the database ``settings`` name (ConfigUnavailable if it cannot be read)."""
    engine = create_engine(settings, application_name="snap-proxy-config")
    try:
        async with asyncio.timeout(settings.db_connect_timeout + 2):
            return await read_table(create_sessionmaker(engine))
    except Exception as exc:  # any failure to read is the same to the caller
        raise ConfigUnavailable(
            f"cannot read the configuration from the database {database_label(settings)}: "
            f"{unavailable_reason(exc)}"
        ) from None
    finally:
        await engine.dispose()


def table_of(settings: Settings) -> dict[str, str]:
    """The ``config`` table of ``settings``' database, read now (empty if never created)."""
    return {} if never_created(settings) else run_blocking(read_table_of(settings))


def bootstrap_layers(environment: Settings) -> Layers:
    """The environment and this node's bootstrap file (BootstrapError if unreadable)."""
    return Layers(environment, read_bootstrap(environment.data_dir))


def configured_settings(service: str | None = None, **overrides: object) -> ConfiguredSettings:
    """Environment (with ``overrides``), bootstrap file and ``config`` table; ConfigError,
    BootstrapError or ConfigUnavailable when one of them does not work. With ``service``:
    as that service runs, on its own database role (``shared.dbroles``)."""
    layers = bootstrap_layers(load_settings(**overrides))
    if service is not None:
        from shared.dbroles import service_layers

        layers = service_layers(layers, service)
    database = resolve(layers).settings  # where the table is
    table = table_of(database)
    return resolve(Layers(layers.environment, layers.bootstrap, table)).settings
