"""``KeyedLocks``: one holder per key at a time, other keys free, and nothing kept after."""

from __future__ import annotations

import asyncio

from services.downloads.keyed_locks import KeyedLocks


def test_one_holder_per_key_and_nothing_left_after() -> None:
    async def scenario() -> tuple[list[str], int, int]:
        locks = KeyedLocks()
        order: list[str] = []

        async def hold(key: str, name: str, seconds: float) -> None:
            async with locks.hold(key):
                order.append(f"{name} in")
                await asyncio.sleep(seconds)
                order.append(f"{name} out")

        first = asyncio.create_task(hold("a", "a1", 0.05))
        await asyncio.sleep(0)
        second = asyncio.create_task(hold("a", "a2", 0))
        other = asyncio.create_task(hold("b", "b1", 0))
        await asyncio.sleep(0.01)
        during = len(locks)
        await asyncio.gather(first, second, other)
        return order, during, len(locks)

    order, during, after = asyncio.run(scenario())
    assert order.index("a1 out") < order.index("a2 in")  # one holder of "a" at a time
    assert order.index("b1 out") < order.index("a1 out")  # "b" did not wait for "a"
    assert during == 1  # "a" (held, one waiting); "b" came and went
    assert after == 0


def test_a_cancelled_waiter_leaves_nothing_behind() -> None:
    async def scenario() -> int:
        locks = KeyedLocks()
        release = asyncio.Event()

        async def hold() -> None:
            async with locks.hold("a"):
                await release.wait()

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0)
        waiter = asyncio.create_task(hold())
        await asyncio.sleep(0)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        release.set()
        await holder
        return len(locks)

    assert asyncio.run(scenario()) == 0
