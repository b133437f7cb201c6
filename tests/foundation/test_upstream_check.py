"""The upstream health check: checks asked together share one request (the embedded
default's three services with an upstream check are asked at once by ``/_status``
gatherings such as the dashboard's overview and ``snap-proxy status``)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from shared.upstream import Upstream


class CountingUpstream(httpx.AsyncBaseTransport):
    """An upstream store that answers ``status`` to each request, after ``delay`` seconds."""

    def __init__(self, status: int, delay: float = 0.05) -> None:
        self.status = status
        self.delay = delay
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        await asyncio.sleep(self.delay)
        return httpx.Response(self.status, request=request)


async def test_checks_asked_together_send_one_request() -> None:
    store = CountingUpstream(200)
    upstream = Upstream("http://store.test", transport=store)
    await asyncio.gather(upstream.check(), upstream.check(), upstream.check())
    assert store.requests == 1
    await upstream.check()  # a later check asks again: nothing is kept once answered
    assert store.requests == 2
    await upstream.aclose()


async def test_a_failing_answer_reaches_every_caller() -> None:
    store = CountingUpstream(503)
    upstream = Upstream("http://store.test", transport=store)
    results = await asyncio.gather(upstream.check(), upstream.check(), return_exceptions=True)
    assert store.requests == 1
    assert [str(result) for result in results] == ["the upstream store answered 503"] * 2
    await upstream.aclose()


async def test_a_caller_that_gives_up_leaves_the_check_to_the_others() -> None:
    store = CountingUpstream(200, delay=0.2)
    upstream = Upstream("http://store.test", transport=store)
    impatient = asyncio.ensure_future(asyncio.wait_for(upstream.check(), 0.05))
    patient = asyncio.ensure_future(upstream.check())
    with pytest.raises(TimeoutError):
        await impatient
    await patient  # answered: the shared request was not cancelled with the first caller
    assert store.requests == 1
    await upstream.aclose()
