"""The embedded default's Prometheus listener: ``/metrics`` on a port of its own.

``snap-proxy serve`` has one port, the public one, and its gateway never answers
``/metrics``; with ``metrics.port`` set, the process also listens on ``metrics.address``
(loopback unless told) for the monitoring system, in the same event loop (uvicorn's server,
without its signal handling: the process's own server has that).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Iterator

import uvicorn

from shared.metrics import ScrapeHook, metrics_app
from shared.serving import listening_socket

STARTUP_TIMEOUT = 10.0


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the process's own server stops us (lifespan shutdown), not a signal


class MetricsListener:
    def __init__(
        self, host: str, port: int, hooks: Callable[[], Iterable[ScrapeHook]], send_timeout: float
    ) -> None:
        self.host = host
        self.port = port
        self.hooks = hooks
        self.send_timeout = send_timeout
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen, or raise OSError saying why not (the port is taken)."""
        try:
            sock = listening_socket(self.host, self.port, self.send_timeout)
        except OSError as exc:
            raise OSError(
                f"metrics.port {self.port} on {self.host}: {exc.strerror or exc}; choose a "
                "free port (snap-proxy config metrics.port=...), or 0 for none"
            ) from None
        config = uvicorn.Config(
            metrics_app(self.hooks), lifespan="off", log_level="warning", access_log=False
        )
        self._server = server = _EmbeddedServer(config)
        self._task = asyncio.create_task(server.serve(sockets=[sock]))
        async with asyncio.timeout(STARTUP_TIMEOUT):
            while not server.started:
                if self._task.done():
                    self._task.result()
                    raise OSError("the metrics listener stopped at start")
                await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
            self._server = self._task = None
