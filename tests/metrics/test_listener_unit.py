"""The embedded default's metrics listener in-process: it serves, stops, and says clearly
when its port is taken."""

from __future__ import annotations

import socket

import httpx
import pytest

from shared.metrics_listener import MetricsListener
from shared.split import free_port


async def test_it_serves_and_stops() -> None:
    port = free_port()
    ran: list[str] = []

    async def hook() -> None:
        ran.append("scraped")

    listener = MetricsListener("127.0.0.1", port, lambda: [hook], send_timeout=10)
    await listener.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            response = await client.get("/metrics")
        assert response.status_code == 200
        assert "snapproxy_upstream_circuit_open" in response.text
        assert ran == ["scraped"]
    finally:
        await listener.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)


async def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        listener = MetricsListener("127.0.0.1", port, list, send_timeout=10)
        with pytest.raises(OSError, match=rf"metrics.port {port} on 127.0.0.1: .*free port"):
            await listener.start()
