"""Checks a process runs before it serves: settings that parse, a database that answers."""

from __future__ import annotations

import asyncio
import time

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from shared.db import create_engine
from shared.migrate import alembic_config
from shared.settings import ConfigError, Settings


class PreflightError(Exception):
    """Something must be fixed before the process can serve; the message says what."""


def database_label(settings: Settings) -> str:
    """The database URL without its password, for messages."""
    return settings.sqlalchemy_url.render_as_string(hide_password=True)


async def _database_revision(settings: Settings) -> str | None:
    engine = create_engine(settings, application_name="snap-proxy-preflight")
    try:
        async with asyncio.timeout(settings.db_connect_timeout + 1), engine.connect() as conn:

            def current(connection: Connection) -> str | None:
                return MigrationContext.configure(connection).get_current_revision()

            return await conn.run_sync(current)
    finally:
        await engine.dispose()


def wait_for_database(settings: Settings, wait: float | None = None) -> str | None:
    """Connect within ``wait`` seconds (retrying); return the schema's Alembic revision."""
    deadline = time.monotonic() + (settings.startup_db_wait if wait is None else wait)
    while True:
        try:
            return asyncio.run(_database_revision(settings))
        except Exception as exc:
            if time.monotonic() >= deadline:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                reason = reason or ("timed out" if isinstance(exc, TimeoutError) else "")
                raise PreflightError(
                    f"cannot reach the database of SNAPPROXY_DATABASE_URL "
                    f"({database_label(settings)}): {reason or type(exc).__name__}"
                ) from None
            time.sleep(0.5)


def head_revision(settings: Settings) -> str | None:
    return ScriptDirectory.from_config(alembic_config(settings)).get_current_head()


def check_ready_to_serve(settings: Settings) -> None:
    """Raise PreflightError unless settings parse and the database is reachable and migrated."""
    try:
        settings.validate_all()
    except ConfigError as exc:
        raise PreflightError(str(exc)) from None
    revision = wait_for_database(settings)
    if revision != head_revision(settings):
        raise PreflightError(
            f"the database ({database_label(settings)}) is at schema revision {revision}, "
            f"not {head_revision(settings)}: run `snap-proxy db upgrade` first"
        )
