"""``serve``: the Store API and the CDN, two uvicorn servers on one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from .api import create_api_app
from .builder import clean_work_dir
from .cdn import CdnApp
from .demo import prebuild_demo, seed_demo
from .faults import Faults, FaultState
from .layout import DataDir, write_json
from .registrar import DEFAULT_REGISTRAR, Registrar
from .signing import Authority
from .state import BuildQueue, SimState
from .tls import ensure_chain

log = logging.getLogger("snap_store_sim")


@dataclass
class ServeOptions:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8100
    cdn_port: int = 0
    demo: bool = False
    faults: Faults = field(default_factory=Faults)
    cdn_url: str | None = None
    log_level: str = "warning"
    https: bool = False  # both servers speak TLS, with a CA of the simulator's own (tls.py)
    registrar: str = DEFAULT_REGISTRAR  # the account that may register proxies


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to us (two share one loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(1024)
    return sock


def _url(host: str, sock: socket.socket, scheme: str) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def prepare(options: ServeOptions) -> tuple[SimState, Authority]:
    """Keys, root assertions and (with --demo) the demo catalogue; blocking."""
    data = DataDir(options.data_dir)
    data.ensure()
    clean_work_dir(data.tmp)
    with ThreadPoolExecutor(1) as pool:  # key generation overlaps the small demo builds
        keys = pool.submit(Authority.ensure, data)
        if options.demo:
            prebuild_demo(data)
        authority = keys.result()
    if options.demo:
        seed_demo(data, authority)
    state = SimState.open(data)
    state.cdn_url = options.cdn_url
    return state, authority


async def serve(options: ServeOptions) -> None:
    state, authority = prepare(options)
    state.faults = FaultState(options.faults)
    state.builds = BuildQueue(state.data, authority)
    state.authority = authority
    state.registrar = Registrar.parse(options.registrar)
    api_sock, cdn_sock = bind(options.host, options.port), bind(options.host, options.cdn_port)
    state.cdn_port = cdn_sock.getsockname()[1]
    tls: dict[str, str] = {}
    if options.https:
        _ca, leaf, key = ensure_chain(state.data.root / "tls", options.host)
        tls = {"ssl_certfile": str(leaf), "ssl_keyfile": str(key)}

    def config(app: object) -> uvicorn.Config:
        return uvicorn.Config(
            app,  # type: ignore[arg-type]
            interface="asgi3",
            lifespan="off",
            log_level=options.log_level,
            access_log=False,
            timeout_graceful_shutdown=2,
            timeout_keep_alive=30,
            **tls,  # type: ignore[arg-type]
        )

    servers = [_Server(config(create_api_app(state))), _Server(config(CdnApp(state)))]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    tasks = [
        asyncio.create_task(servers[0].serve(sockets=[api_sock])),
        asyncio.create_task(servers[1].serve(sockets=[cdn_sock])),
    ]
    while not all(server.started for server in servers):
        if any(task.done() for task in tasks):
            stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise SystemExit("snap-store-sim: a server failed to start")
        await asyncio.sleep(0.01)
    scheme = "https" if options.https else "http"
    api_url, cdn_url = _url(options.host, api_sock, scheme), _url(options.host, cdn_sock, scheme)
    write_json(state.data.ready, {"api": api_url, "cdn": cdn_url, "pid": os.getpid()})
    state.builds.start()
    sys.stdout.write(f"snap-store-sim ready api={api_url} cdn={cdn_url}\n")
    sys.stdout.flush()
    try:
        await asyncio.gather(*tasks)
    finally:
        state.builds.stop()
        with contextlib.suppress(OSError):
            ready = json.loads(state.data.ready.read_text())
            if ready.get("pid") == os.getpid():
                state.data.ready.unlink()
