"""Who owns a fill, and whether that owner is still alive.

An owner is one downloads process (``host:pid:random``). On PostgreSQL it holds a
session-level advisory lock on the blob's key for as long as it fills, on a connection of its
own: when its process dies, the server drops the lock at once.
"""

from __future__ import annotations

import os
import socket
import uuid

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.downloads import repository as repo

log = structlog.get_logger(__name__)


def new_owner_id() -> str:
    """``host:pid:random``: unique per process start, and says where the owner ran."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def lock_key(sha3_384: str) -> int:
    """A signed 64-bit advisory lock key for a blob."""
    return int(sha3_384[:16], 16) - 2**63


def pid_gone(owner: str) -> bool:
    """True when ``owner`` ran on this host under a process id that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname()[:32] or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class OwnerLock:
    """The advisory lock a fill owner holds (PostgreSQL), on a connection of its own."""

    def __init__(self, connection: AsyncConnection | None, key: int) -> None:
        self.connection = connection
        self.key = key

    async def keep(self, engine: AsyncEngine) -> None:
        """Check the lock's connection; after a database blip took it, take the lock again
        (if another process took it meanwhile, both fills finish: blobs are content-addressed,
        so the second commit changes nothing)."""
        if self.connection is None:
            return
        try:
            await self.connection.execute(text("SELECT 1"))
            await self.connection.commit()
            return
        except Exception:
            await _close_quietly(self.connection)
            self.connection = None
        connection = await engine.connect()
        if await repo.try_lock(connection, self.key):
            await connection.commit()
            self.connection = connection
        else:
            await connection.close()
            log.warning("cache.owner_lock_lost", key=self.key)

    async def release(self) -> None:
        if self.connection is None:
            return
        try:
            await repo.unlock(self.connection, self.key)
            await self.connection.commit()
        except Exception as exc:  # the server drops it with the session anyway
            log.info("cache.unlock_failed", error=str(exc) or type(exc).__name__)
        finally:
            await self.connection.close()
            self.connection = None


async def _close_quietly(connection: AsyncConnection) -> None:
    try:
        await connection.close()
    except Exception as exc:
        log.info("cache.close_failed", error=describe(exc))


def describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
