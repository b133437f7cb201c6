"""``snap-proxy db migrate-to URL`` (``shared.dbmigrate``): the command's steps and output."""

from __future__ import annotations

import asyncio

import typer

from shared import migrate
from shared.cli.common import ask_secret, environment_or_exit, fail, settings_or_exit
from shared.config.bootstrap import BootstrapError, update_bootstrap
from shared.config.hooks import ApplyContext, ConfigApplyError
from shared.config.values import ConfigValueError, database_url
from shared.db import create_engine
from shared.dbmigrate import MigrateError, copy_rows, count_rows
from shared.dbroles import CONNECTION_KEY, ROLES_ENTRY
from shared.dbsetup import configure_database
from shared.pgconnect import async_url, first_line, shown
from shared.settings import Settings


async def _copy(source: Settings, target: Settings, total: int) -> dict[str, int]:
    reading = create_engine(source, application_name="snap-proxy-migrate-to")
    writing = create_engine(target, application_name="snap-proxy-migrate-to")
    try:
        with typer.progressbar(length=total, label="Copying rows", file=None) as bar:
            return await copy_rows(reading, writing, bar.update)
    finally:
        await reading.dispose()
        await writing.dispose()


async def _count(source: Settings) -> dict[str, int]:
    engine = create_engine(source, application_name="snap-proxy-migrate-to")
    try:
        return await count_rows(engine)
    finally:
        await engine.dispose()


def migrate_node(url: str) -> None:
    environment = environment_or_exit()
    if "database_url" in environment.model_fields_set:
        fail("SNAPPROXY_DATABASE_URL is set in this environment: unset it first", 2)
    source = settings_or_exit()
    if source.sqlalchemy_url.get_backend_name() != "sqlite":
        fail(f"this node is on {shown(source.sqlalchemy_url)} already, not on SQLite", 2)
    try:
        database_url(url)
    except ConfigValueError as exc:
        fail(f"{url}: {exc}", 2)
    if async_url(url, source).get_backend_name() != "postgresql":
        fail("migrate-to moves to PostgreSQL: give a postgresql:// URL", 2)
    migrate.upgrade(source)  # the SQLite schema at this version's head: the same tables
    rows = asyncio.run(_count(source))
    context = ApplyContext(source.data_dir, source, True, typer.echo, ask_secret)
    try:
        applied = configure_database(url, context)
    except ConfigApplyError as exc:
        fail(f"{exc}; this node stays on SQLite")
    target = Settings.model_construct(
        database_url=applied.text,
        data_dir=source.data_dir,
        db_connect_timeout=source.db_connect_timeout,
    )
    try:
        copied = asyncio.run(_copy(source, target, sum(rows.values())))
    except MigrateError as exc:
        fail(f"{exc}; nothing was copied, this node stays on SQLite")
    except Exception as exc:
        reason = first_line(exc)
        fail(f"cannot copy the rows: {reason}; nothing was copied, this node stays on SQLite")
    try:
        update_bootstrap(
            source.data_dir,
            {CONNECTION_KEY: applied.text, ROLES_ENTRY: applied.bootstrap.get(ROLES_ENTRY)},
        )
    except BootstrapError as exc:
        fail(f"the rows are copied, but {exc}: set proxy.db.connection again")
    typer.echo(
        f"Copied {sum(copied.values())} rows of {len(copied)} tables from "
        f"{shown(source.sqlalchemy_url)} to {shown(async_url(applied.text, source))}."
    )
    typer.echo(
        "proxy.db.connection is set: start snap-proxy serve again (the SQLite file is kept)."
    )
