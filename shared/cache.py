"""The metadata cache: memcached through pymemcache (off the event loop), or an in-process LRU.

Cache errors never fail a request: they are logged, counted and treated as misses.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from typing import Protocol

import structlog
from pymemcache.client.base import Client
from pymemcache.client.hash import HashClient

log = structlog.get_logger(__name__)


def cache_key(*parts: str) -> str:
    """A memcached-safe key: readable prefix, hashed when long or unsafe."""
    joined = "|".join(parts)
    if len(joined) <= 200 and joined.isascii() and not any(c.isspace() for c in joined):
        return joined
    return f"{parts[0][:40]}:{hashlib.sha256(joined.encode()).hexdigest()}"


class Cache(Protocol):
    """What services need from a cache; every method swallows backend errors."""

    errors: int

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl: int) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def check(self) -> None:
        """Raise if the cache backend is unreachable (health checks only)."""

    def describe(self) -> str: ...

    async def close(self) -> None: ...


class MemoryCache:
    """An in-process LRU with per-entry expiry, for the embedded default."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max_entries = max_entries
        self.errors = 0

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, value = entry
        if expires_at < time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        self._entries[key] = (time.monotonic() + ttl, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    async def check(self) -> None:
        return None

    def describe(self) -> str:
        return "memory"

    async def close(self) -> None:
        self._entries.clear()


class MemcachedCache:
    """memcached via pymemcache; each blocking call runs in a worker thread."""

    def __init__(self, servers: list[tuple[str, int]], timeout: float = 0.5) -> None:
        self._servers = servers
        self._client = HashClient(
            servers,
            connect_timeout=timeout,
            timeout=timeout,
            use_pooling=True,
            max_pool_size=16,
            ignore_exc=False,
            retry_attempts=1,
            retry_timeout=1,
            dead_timeout=2,
        )
        self.errors = 0

    async def _call(self, operation: str, *args: object) -> object:
        try:
            return await asyncio.to_thread(getattr(self._client, operation), *args)
        except Exception as exc:  # any backend failure is a miss
            self.errors += 1
            log.warning("cache.error", operation=operation, error=str(exc) or type(exc).__name__)
            return None

    async def get(self, key: str) -> bytes | None:
        value = await self._call("get", key)
        return value if isinstance(value, bytes) else None

    async def set(self, key: str, value: bytes, ttl: int) -> None:
        await self._call("set", key, value, ttl)

    async def delete(self, key: str) -> None:
        await self._call("delete", key)

    async def check(self) -> None:
        def probe() -> None:
            for server in self._servers:
                client = Client(server, connect_timeout=1, timeout=1)
                try:
                    client.version()
                finally:
                    client.close()

        await asyncio.to_thread(probe)

    def describe(self) -> str:
        return ",".join(f"{host}:{port}" for host, port in self._servers)

    async def close(self) -> None:
        await asyncio.to_thread(self._client.close)


def create_cache(servers: list[tuple[str, int]]) -> Cache:
    return MemcachedCache(servers) if servers else MemoryCache()
