"""The settings a running process uses now, kept up to date with the ``config`` table.

Every process reads the table when it starts (before it serves) and then polls it every
``config.poll-interval`` seconds: first ``count(*), max(updated_at)``, and only when that
changed the whole table. Components that must follow live keys (the cache cap, the device
limit, the public URL, the admin token) read ``LiveSettings.current`` when they need a
value, never a copy taken at construction. Keys that need a restart change in ``current``
too, but the parts built from them keep their old values until the process restarts (a
warning in the log says so).
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.config.keys import ConfigKey
from shared.config.resolve import Layers, Resolved, Source, changed_keys, layers_of, resolve
from shared.config.store import Stamp, read_stamp, read_table
from shared.settings import ConfigError, Settings

log = structlog.get_logger(__name__)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class LiveSettings:
    """One per process (shared by the five services when embedded)."""

    def __init__(
        self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession] | None = None
    ) -> None:
        layers = layers_of(settings)
        # What the process was built with: checked already, or a test's own choice.
        self._resolved: Resolved = resolve(layers, check=False)
        self._sessionmaker = sessionmaker
        self._stamp: Stamp | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    @property
    def current(self) -> Settings:
        """The settings as of the last successful read of the table."""
        return self._resolved.settings

    @property
    def sources(self) -> dict[str, Source]:
        return self._resolved.sources

    @property
    def layers(self) -> Layers:
        return self._resolved.layers

    async def refresh(self) -> list[ConfigKey]:
        """Read the table if it changed; the keys whose values changed. A stored value that
        does not work is logged and the previous settings are kept."""
        if self._sessionmaker is None:
            return []
        stamp = await read_stamp(self._sessionmaker)
        if stamp == self._stamp:
            return []
        table = await read_table(self._sessionmaker)
        layers = Layers(self.layers.environment, self.layers.bootstrap, table)
        try:
            resolved = resolve(layers)
        except ConfigError as exc:
            log.warning("config.invalid", error=str(exc), kept="the previous configuration")
            self._stamp = stamp
            return []
        changed = changed_keys(self.current, resolved.settings)
        self._resolved, self._stamp = resolved, stamp
        if changed:
            log.info("config.changed", keys=[key.name for key in changed])
            needing = [key.name for key in changed if key.restart is not None]
            if needing:
                log.warning("config.restart_needed", keys=needing)
        return changed

    async def start(self) -> None:
        """Read the table (raises when it cannot be read), then poll it. Idempotent."""
        if self._task is not None:
            return
        await self.refresh()
        self._task = asyncio.create_task(self._poll(), name="config-poll")

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.current.config_poll_interval)
            try:
                await self.refresh()
            except Exception as exc:  # the database is away: keep what we have, say it once
                if not self._failing:
                    log.warning("config.unreadable", error=_reason(exc), kept="the last values")
                self._failing = True
            else:
                if self._failing:
                    log.info("config.readable_again")
                self._failing = False

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
