"""The split topology without Docker: one uvicorn process per service plus nginx, on loopback.

``snap-proxy run-split`` and the test fixtures both use :class:`SplitTopology`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import httpx

from shared.gateway_config import GatewayLayout, render_nginx_conf
from shared.gateway_tls import GatewayTls, in_directory, write_gateway_pair
from shared.settings import SERVICE_NAMES, Settings

MALLOC_ARENA_MAX = "2"  # each service process's malloc arenas (see _service_env)


class SplitTopologyError(Exception):
    """The topology could not start; the message says which part and where its log is."""


class _PortRange:
    """Ports handed out in turn from a range of this process's own (see :func:`use_port_range`)."""

    def __init__(self, first: int, last: int) -> None:
        self.first, self.last = first, last
        self.next = first

    def take(self, host: str) -> int:
        for _ in range(self.last - self.first + 1):
            port = self.next
            self.next = self.first if port >= self.last else port + 1
            with socket.socket() as sock:
                try:
                    sock.bind((host, port))
                except OSError:
                    continue  # something else listens there, or a connection lingers on it
            return port
        raise SplitTopologyError(f"no free port left in {self.first}-{self.last}")


_port_range: _PortRange | None = None


def use_port_range(first: int, last: int) -> None:
    """Make :func:`free_port` hand out the ports ``first``..``last`` in turn.

    For test runners with several worker processes: a port the kernel picks is free when
    picked, but a topology starts its processes one after another, and another worker may
    pick the same port meanwhile and be answering on it when our process looks for its own
    (a request then reaches the wrong server). Give each worker a range of its own, outside
    the kernel's ephemeral range (``/proc/sys/net/ipv4/ip_local_port_range``)."""
    global _port_range
    _port_range = _PortRange(first, last)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now: the kernel's pick, or the next of :func:`use_port_range`."""
    if _port_range is not None:
        return _port_range.take(host)
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
        *,
        gateway_host: str = "127.0.0.1",
        pin_public_url: bool = True,
        downloads_nodes: bool = False,
    ) -> None:
        """``env_settings``: the settings ``snap-proxy run-split`` resolved (its data
        directory, and what the gateway is rendered with); ``pin_public_url``: the services'
        public URL is the gateway's (tests), else it comes from the configuration or the
        request (``snap-proxy run-split``); ``downloads_nodes``: each downloads replica is a
        node of its own, sharing no disk (its own data directory and ``downloads.node-url``;
        for the S3 backend)."""
        self.workdir = workdir
        self.gateway_port = gateway_port or free_port()
        self.gateway_host = gateway_host
        self.env = {**os.environ, **(extra_env or {})}
        self.settings = env_settings
        self.pin_public_url = pin_public_url
        self.downloads_nodes = downloads_nodes
        self.trust_forwarded_proto = bool(env_settings and env_settings.trust_forwarded_proto)
        self.replicas = dict.fromkeys(SERVICE_NAMES, 1) | dict(replicas or {})
        self.ports = {
            name: [free_port() for _ in range(self.replicas[name])] for name in SERVICE_NAMES
        }
        self.processes: dict[str, list[subprocess.Popen[bytes]]] = {}
        self.nginx: subprocess.Popen[bytes] | None = None
        self._logs: list[IO[bytes]] = []

    @property
    def gateway_url(self) -> str:
        host = "127.0.0.1" if self.gateway_host in ("0.0.0.0", "::", "") else self.gateway_host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.gateway_port}"

    @property
    def service_urls(self) -> dict[str, str]:
        return {name: f"http://127.0.0.1:{ports[0]}" for name, ports in self.ports.items()}

    def _service_env(self) -> dict[str, str]:
        data_dir = self.env.get("SNAPPROXY_DATA_DIR") or str(
            self.settings.data_dir.resolve() if self.settings else self.workdir / "data"
        )
        env = {
            **self.env,
            "SNAPPROXY_SERVICE_URLS": json.dumps(self.service_urls),
            "SNAPPROXY_DATA_DIR": data_dir,
            "SNAPPROXY_ACCEL_REDIRECT": "true",
        }
        if self.pin_public_url:
            env["SNAPPROXY_PUBLIC_URL"] = self.env.get("SNAPPROXY_PUBLIC_URL", self.gateway_url)
        # glibc gives each thread that allocates an arena of its own, and keeps what was freed
        # in it: the downloads service's blob I/O threads held some 11 MiB more in them. Two
        # arenas, as the image sets too (Dockerfile); the environment may say otherwise.
        env.setdefault("MALLOC_ARENA_MAX", MALLOC_ARENA_MAX)
        return env

    def node_data_dir(self, replica: int) -> Path:
        """A downloads node's own data directory (``downloads_nodes``)."""
        return self.workdir / f"node-{replica}"

    def start_service(self, name: str, replica: int = 0) -> subprocess.Popen[bytes]:
        port = self.ports[name][replica]
        log = (self.workdir / f"{name}-{replica}.log").open("ab")
        self._logs.append(log)
        env = self._service_env()
        if name == "downloads" and self.downloads_nodes:
            env["SNAPPROXY_DATA_DIR"] = str(self.node_data_dir(replica))
            env["SNAPPROXY_NODE_URL"] = f"http://127.0.0.1:{port}"
        process = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "serve-service", name, "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        replicas = self.processes.setdefault(name, [])
        if replica < len(replicas):
            replicas[replica] = process
        else:
            replicas.append(process)
        # Generous: five interpreters importing at once on a loaded two-core machine.
        if not wait_http_ok(f"http://127.0.0.1:{port}/_status/ping", 60, process):
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

    def _object_store(self) -> str | None:
        """The S3 backend's object store, which the gateway fetches cache hits from."""
        if self.settings is not None:
            return self.settings.object_store_origin
        storage = {
            name.removeprefix("SNAPPROXY_").lower(): value
            for name, value in self.env.items()
            if name.startswith("SNAPPROXY_STORAGE_")
        }
        return Settings.model_validate(storage).object_store_origin

    def _tls_settings(self) -> Settings:
        """The settings HTTPS comes from: run-split's, else the services' environment."""
        if self.settings is not None:
            return self.settings
        variables = {name: f"SNAPPROXY_{name.upper()}" for name in ("tls_cert", "tls_key")}
        variables |= {"port_https": "SNAPPROXY_PORT_HTTPS", "domain": "SNAPPROXY_DOMAIN"}
        values = {name: self.env[var] for name, var in variables.items() if var in self.env}
        return Settings.model_validate(values)

    @property
    def https_port(self) -> int | None:
        """The gateway's HTTPS port, when a certificate is set."""
        settings = self._tls_settings()
        return settings.port_https if settings.tls_enabled else None

    def _gateway_tls(self, host: str) -> GatewayTls | None:
        """The pair written under the work directory, for nginx; None without one."""
        settings = self._tls_settings()
        directory = self.workdir / "tls"
        if not write_gateway_pair(settings, directory):
            return None
        port = settings.port_https
        return in_directory(str(directory), f"{host}:{port}", port)

    def _render_nginx_conf(self) -> Path:
        temp = self.workdir / "nginx-temp"
        temp.mkdir(parents=True, exist_ok=True)
        data_dir = Path(self._service_env()["SNAPPROXY_DATA_DIR"])
        host = f"[{self.gateway_host}]" if ":" in self.gateway_host else self.gateway_host
        layout = GatewayLayout(
            listen=f"{host}:{self.gateway_port}",
            upstreams={
                name: [f"127.0.0.1:{port}" for port in ports] for name, ports in self.ports.items()
            },
            cache_dir=str((data_dir / "cache").resolve()),
            pid_path=str(self.workdir / "nginx.pid"),
            error_log=str(self.workdir / "nginx-error.log"),
            access_log=str(self.workdir / "nginx-access.log"),
            temp_dir=str(temp),
            user="root" if os.geteuid() == 0 else None,
            trust_forwarded_proto=self.trust_forwarded_proto,
            object_store=self._object_store(),
            tls=self._gateway_tls(host),
        )
        conf = self.workdir / "nginx.conf"
        conf.write_text(render_nginx_conf(layout))
        return conf

    def _start_nginx(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        conf = self._render_nginx_conf()
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

    def reload_gateway(
        self,
        *,
        host: str,
        port: int,
        trust_forwarded_proto: bool,
        settings: Settings | None = None,
        timeout: float = 15,
    ) -> None:
        """Render nginx.conf again for a new address, port, proto trust or certificate
        (``settings``: proxy.tls.*, proxy.port.https) and reload nginx (SIGHUP: the master
        reads it, new workers take over, open downloads finish); SplitTopologyError if the
        new address does not answer."""
        if self.nginx is None or self.nginx.poll() is not None:
            raise SplitTopologyError("nginx is not running")
        if settings is not None:
            self.settings = settings
        self.gateway_host, self.gateway_port = host, port
        self.trust_forwarded_proto = trust_forwarded_proto
        self._render_nginx_conf()
        self.nginx.send_signal(signal.SIGHUP)
        if not wait_http_ok(f"{self.gateway_url}/_status/ping", timeout, self.nginx):
            raise SplitTopologyError(
                f"nginx did not answer on {self.gateway_url} after a reload; see "
                f"{self.workdir / 'nginx-error.log'}"
            )

    def restart_services(self) -> None:
        """Restart every service process, one at a time (they read the configuration again)."""
        for name in SERVICE_NAMES:
            for replica in range(self.replicas[name]):
                self.stop_service(name, replica)
                self.start_service(name, replica)

    def running(self) -> bool:
        """Every process is still running."""
        processes = [p for ps in self.processes.values() for p in ps]
        if self.nginx is not None:
            processes.append(self.nginx)
        return all(p.poll() is None for p in processes)

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
