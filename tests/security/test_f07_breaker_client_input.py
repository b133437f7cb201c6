"""Finding 7: client input must not trip the circuit breaker for every device.

Five refreshes with a lone surrogate (``"\\ud800"``) in ``instance-key`` made the upstream
answer 500 and opened the breaker: every device then got offline answers or 503s. Now a body
with invalid Unicode is refused with 400 before it is relayed; only transport errors,
timeouts and 502/503/504 count toward the breaker; and half-open lets exactly one trial call
through while the other callers fail fast.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from shared.errors import UpstreamUnavailable
from shared.upstream import CircuitBreaker, Upstream
from tests.support.device_api import REFRESH, assert_store_error, install, refresh_body
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle

INFO = "/v2/snaps/info/hello-sim"


def fresh_refresh(any_proxy: ProxyUnderTest) -> None:
    """A good refresh is answered by the upstream, not from what the proxy recorded."""
    with any_proxy.client() as client:
        response = client.post(REFRESH, json=refresh_body([install("hello-sim", "good-1")]))
    assert response.status_code == 200, response.text
    assert response.headers.get("x-snapproxy-cache") != "offline"
    assert response.json()["results"][0]["name"] == "hello-sim"


def with_lone_surrogate(where: str) -> bytes:
    """A refresh body whose JSON has a ``\\ud800`` escape at ``where``."""
    action = install("hello-sim", "i-1")
    document = refresh_body([action])
    marker = "LONE-SURROGATE"
    if where == "instance-key":
        action["instance-key"] = marker
    elif where == "tracking-channel":
        document["context"] = [
            {"snap-id": "x" * 32, "instance-key": "c-1", "revision": 1, "tracking-channel": marker}
        ]
    elif where == "key":
        action[marker] = "x"
    elif where == "fields":
        document["fields"] = [*document["fields"], marker]
    return json.dumps(document).replace(marker, "\\ud800").encode()


@pytest.mark.parametrize("where", ["instance-key", "tracking-channel", "key", "fields"])
def test_invalid_unicode_is_refused_and_never_relayed(
    any_proxy: ProxyUnderTest, sim: SimHandle, where: str
) -> None:
    body = with_lone_surrogate(where)
    with any_proxy.client(**{"Content-Type": "application/json"}) as client:
        for _ in range(6):  # more than the breaker's threshold
            assert_store_error(client.post(REFRESH, content=body), 400, "invalid-request")
    assert sim.stats()["requests"].get(f"POST {REFRESH}", 0) == 0
    fresh_refresh(any_proxy)


def test_upstream_500s_do_not_open_the_breaker(any_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    """An upstream 500 is still an error for the device that asked (an offline answer or a
    503 in the Store's shape), but it says the upstream is up: the breaker stays closed."""
    sim.set_faults(error_status=500, error_paths=[REFRESH])
    with any_proxy.client() as client:
        for _ in range(6):
            response = client.post(REFRESH, json=refresh_body([install("hello-sim", "i-1")]))
            if response.status_code != 200:
                assert_store_error(response, 503)
            else:
                assert response.headers["x-snapproxy-cache"] == "offline"
    sim.clear_faults()
    fresh_refresh(any_proxy)


# -- the breaker itself, on an Upstream of the test's own in front of the simulator -----------


async def failures_open_the_breaker(sim: SimHandle, status: int) -> bool:
    sim.set_faults(error_status=status, error_paths=[INFO])
    upstream = Upstream(sim.api_url, breaker=CircuitBreaker(failure_threshold=3, cooldown=60))
    try:
        for _ in range(3):
            with pytest.raises(UpstreamUnavailable):
                await upstream.request("GET", INFO)
        return upstream.breaker.is_open
    finally:
        await upstream.aclose()
        sim.clear_faults()


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_failures_open_the_breaker(sim: SimHandle, status: int) -> None:
    assert await failures_open_the_breaker(sim, status)


@pytest.mark.parametrize("status", [500, 501])
async def test_other_5xx_leave_the_breaker_closed(sim: SimHandle, status: int) -> None:
    assert not await failures_open_the_breaker(sim, status)


async def test_transport_errors_open_the_breaker() -> None:
    from shared.split import free_port

    upstream = Upstream(
        f"http://127.0.0.1:{free_port()}", breaker=CircuitBreaker(failure_threshold=3)
    )
    try:
        for _ in range(3):
            with pytest.raises(UpstreamUnavailable):
                await upstream.request("GET", INFO)
        assert upstream.breaker.is_open
    finally:
        await upstream.aclose()


async def test_half_open_lets_exactly_one_trial_through(sim: SimHandle) -> None:
    upstream = Upstream(sim.api_url, breaker=CircuitBreaker(failure_threshold=1, cooldown=0.2))
    try:
        upstream.breaker.record_failure()  # open
        assert upstream.breaker.is_open
        await asyncio.sleep(0.3)  # cooldown over: half-open
        sim.set_faults(latency_ms=500)  # the trial is still under way while the others come
        sim.reset()
        outcomes = await asyncio.gather(
            *(upstream.request("GET", INFO) for _ in range(10)), return_exceptions=True
        )
        answered = [o for o in outcomes if not isinstance(o, BaseException)]
        refused = [o for o in outcomes if isinstance(o, UpstreamUnavailable)]
        assert len(answered) == 1 and len(refused) == 9, outcomes
        assert sim.stats()["requests"].get("GET /v2/snaps/info/{name}", 0) == 1
        assert not upstream.breaker.is_open  # the trial succeeded: closed again
    finally:
        sim.clear_faults()
        await upstream.aclose()


async def test_a_cancelled_trial_does_not_keep_the_breaker_open(sim: SimHandle) -> None:
    upstream = Upstream(sim.api_url, breaker=CircuitBreaker(failure_threshold=1, cooldown=0.1))
    try:
        upstream.breaker.record_failure()
        await asyncio.sleep(0.2)
        sim.set_faults(latency_ms=2000)
        trial = asyncio.create_task(upstream.request("GET", INFO))
        await asyncio.sleep(0.3)
        trial.cancel()
        with pytest.raises(asyncio.CancelledError):
            await trial
        sim.clear_faults()
        await asyncio.sleep(0.2)
        answer = await upstream.request("GET", INFO)  # a new trial is let through
        assert answer.status_code == 200
        assert not upstream.breaker.is_open
    finally:
        sim.clear_faults()
        await upstream.aclose()
