"""The cache client against a real memcached, and its in-process twin."""

from __future__ import annotations

import asyncio

from shared.cache import MemcachedCache, MemoryCache, cache_key
from shared.split import free_port


async def test_memory_cache_expiry_and_lru():
    cache = MemoryCache(max_entries=2)
    await cache.set("a", b"1", ttl=60)
    await cache.set("b", b"2", ttl=60)
    assert await cache.get("a") == b"1"  # a is now most recent
    await cache.set("c", b"3", ttl=60)
    assert await cache.get("b") is None
    assert await cache.get("a") == b"1"
    await cache.set("short", b"x", ttl=0)
    await asyncio.sleep(0.01)
    assert await cache.get("short") is None


async def test_memcached_round_trip(memcached_server):
    cache = MemcachedCache([("127.0.0.1", memcached_server.port)])
    try:
        await cache.set("k1", b"value", ttl=30)
        assert await cache.get("k1") == b"value"
        await cache.delete("k1")
        assert await cache.get("k1") is None
        await cache.check()
        assert cache.errors == 0
    finally:
        await cache.close()


async def test_memcached_down_is_a_miss_not_an_error():
    cache = MemcachedCache([("127.0.0.1", free_port())])
    try:
        assert await cache.get("anything") is None
        await cache.set("anything", b"v", ttl=5)
        assert cache.errors >= 1
        failed = False
        try:
            await cache.check()
        except Exception:
            failed = True
        assert failed, "the health check must fail when memcached is down"
    finally:
        await cache.close()


async def test_memcached_comes_back(memcached_private):
    cache = MemcachedCache([("127.0.0.1", memcached_private.port)])
    try:
        await cache.set("k", b"v", ttl=30)
        memcached_private.stop()
        assert await cache.get("k") is None
        memcached_private.start()
        await asyncio.sleep(2.5)  # past the client's dead-server timeout
        await cache.set("k", b"again", ttl=30)
        assert await cache.get("k") == b"again"
    finally:
        await cache.close()


def test_cache_keys_are_memcached_safe():
    assert cache_key("info", "hello") == "info|hello"
    long_key = cache_key("find", "q=" + "x" * 400)
    assert len(long_key) < 250 and long_key.startswith("find:")
    spaced = cache_key("find", "a b")
    assert " " not in spaced
