"""The split topology without Docker: one uvicorn process per service plus nginx, on loopback.

``snap-proxy run-split`` and the test fixtures both use :class:`SplitTopology`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import httpx

from shared.gateway_config import GatewayLayout, render_nginx_conf
from shared.settings import SERVICE_NAMES, Settings


class SplitTopologyError(Exception):
    """The topology could not start; the message says which part and where its log is."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http_ok(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> bool:
    """Poll ``url`` until it answers 200, the process exits, or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


class SplitTopology:
    """Five service processes (``downloads`` may have replicas) and an nginx gateway."""

    def __init__(
        self,
        workdir: Path,
        gateway_port: int | None = None,
        env_settings: Settings | None = None,
        extra_env: Mapping[str, str] | None = None,
        replicas: Mapping[str, int] | None = None,
    ) -> None:
        self.workdir = workdir
        self.gateway_port = gateway_port or free_port()
        self.env = {**os.environ, **(extra_env or {})}
        self.settings = env_settings
        self.replicas = dict.fromkeys(SERVICE_NAMES, 1) | dict(replicas or {})
        self.ports = {
            name: [free_port() for _ in range(self.replicas[name])] for name in SERVICE_NAMES
        }
        self.processes: dict[str, list[subprocess.Popen[bytes]]] = {}
        self.nginx: subprocess.Popen[bytes] | None = None
        self._logs: list[IO[bytes]] = []

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.gateway_port}"

    @property
    def service_urls(self) -> dict[str, str]:
        return {name: f"http://127.0.0.1:{ports[0]}" for name, ports in self.ports.items()}

    def _service_env(self) -> dict[str, str]:
        data_dir = self.env.get("SNAPPROXY_DATA_DIR") or str(self.workdir / "data")
        return {
            **self.env,
            "SNAPPROXY_SERVICE_URLS": json.dumps(self.service_urls),
            "SNAPPROXY_DATA_DIR": data_dir,
            "SNAPPROXY_PUBLIC_URL": self.env.get("SNAPPROXY_PUBLIC_URL", self.gateway_url),
            "SNAPPROXY_ACCEL_REDIRECT": "true",
        }

    def start_service(self, name: str, replica: int = 0) -> subprocess.Popen[bytes]:
        port = self.ports[name][replica]
        log = (self.workdir / f"{name}-{replica}.log").open("ab")
        self._logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "serve-service", name, "--port", str(port)],
            env=self._service_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        replicas = self.processes.setdefault(name, [])
        if replica < len(replicas):
            replicas[replica] = process
        else:
            replicas.append(process)
        if not wait_http_ok(f"http://127.0.0.1:{port}/_status/ping", 30, process):
            raise SplitTopologyError(
                f"service {name} did not start; see {self.workdir / f'{name}-{replica}.log'}"
            )
        return process

    def stop_service(self, name: str, replica: int = 0, kill: bool = False) -> None:
        process = self.processes[name][replica]
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _start_nginx(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        temp = self.workdir / "nginx-temp"
        temp.mkdir(parents=True, exist_ok=True)
        data_dir = Path(self._service_env()["SNAPPROXY_DATA_DIR"])
        layout = GatewayLayout(
            listen=f"127.0.0.1:{self.gateway_port}",
            upstreams={
                name: [f"127.0.0.1:{port}" for port in ports] for name, ports in self.ports.items()
            },
            cache_dir=str((data_dir / "cache").resolve()),
            pid_path=str(self.workdir / "nginx.pid"),
            error_log=str(self.workdir / "nginx-error.log"),
            access_log=str(self.workdir / "nginx-access.log"),
            temp_dir=str(temp),
            user="root" if os.geteuid() == 0 else None,
        )
        conf = self.workdir / "nginx.conf"
        conf.write_text(render_nginx_conf(layout))
        log = (self.workdir / "nginx.log").open("ab")
        self._logs.append(log)
        self.nginx = subprocess.Popen(
            [nginx, "-p", str(self.workdir), "-c", str(conf), "-g", "daemon off;"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if not wait_http_ok(f"{self.gateway_url}/_status/ping", 15, self.nginx):
            raise SplitTopologyError(f"nginx did not start; see {self.workdir / 'nginx.log'}")

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name in SERVICE_NAMES:
            for replica in range(self.replicas[name]):
                self.start_service(name, replica)
        self._start_nginx()

    def wait(self) -> None:
        """Block until any process exits."""
        while all(p.poll() is None for ps in self.processes.values() for p in ps):
            time.sleep(0.5)

    def stop(self) -> None:
        everything = [p for ps in self.processes.values() for p in ps]
        if self.nginx is not None:
            everything.append(self.nginx)
        for process in everything:
            if process.poll() is None:
                process.terminate()
        for process in everything:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in self._logs:
            log.close()
        self._logs.clear()
