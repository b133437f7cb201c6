"""The project's compose stack on the private engine: docker-compose.yml + the CI override.

The operator's settings are written as a home-server admin writes ``.env``: start from
``.env.example``, set the password, the public URL and the admin token, point the upstream at
the simulator. Every docker-compose call gets that file with ``--env-file``, and nothing of
the caller's environment (compose would let a shell variable win over the file).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shared.gateway_config import GatewayLayout, render_nginx_conf
from shared.settings import SERVICE_NAMES
from tests.compose.engine import COMPOSE_V1, DockerEngine, EngineError, run
from tests.support.sim import SimHandle

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
CI_OVERRIDE = Path(__file__).resolve().parent / "docker-compose.ci.yml"
CACHE_DIR_IN_CONTAINERS = "/var/lib/snapproxy/cache"
UP_TIMEOUT = 300


@dataclass(frozen=True)
class CiPorts:
    """The loopback port of each service, as docker-compose.ci.yml assigns them."""

    postgres: int
    memcached: int
    services: dict[str, int]
    gateway: int

    @classmethod
    def from_override(cls, path: Path = CI_OVERRIDE) -> CiPorts:
        services = yaml.safe_load(path.read_text())["services"]

        def option(command: list[str], flag: str) -> int:
            return int(command[command.index(flag) + 1])

        gateway_check = " ".join(services["gateway"]["healthcheck"]["test"])
        return cls(
            postgres=int(services["postgres"]["environment"]["PGPORT"]),
            memcached=option(services["memcached"]["command"], "-p"),
            services={name: option(services[name]["command"], "--port") for name in SERVICE_NAMES},
            gateway=int(re.findall(r"http://127\.0\.0\.1:(\d+)/", gateway_check)[0]),
        )

    def all(self) -> list[int]:
        return [self.postgres, self.memcached, *self.services.values(), self.gateway]


def gateway_conf(ports: CiPorts) -> str:
    """The gateway's nginx.conf for these ports, from the project's own renderer."""
    return render_nginx_conf(
        GatewayLayout(
            listen=f"127.0.0.1:{ports.gateway}",
            upstreams={name: [f"{name}:{port}"] for name, port in ports.services.items()},
            cache_dir=CACHE_DIR_IN_CONTAINERS,
        )
    )


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def files_outside(settings: dict[str, str], directory: Path) -> list[str]:
    """Absolute paths in (comma-separated) setting values that are not under ``directory``."""
    paths = [item.strip() for value in settings.values() for item in value.split(",")]
    return [
        path
        for path in paths
        if path.startswith("/") and not Path(path).resolve().is_relative_to(directory.resolve())
    ]


def busy_ports(ports: list[int]) -> list[int]:
    busy = []
    for port in ports:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                busy.append(port)
    return busy


class ComposeStack:
    """docker-compose.yml with the CI override on ``engine``, run by Compose v2."""

    def __init__(
        self,
        engine: DockerEngine,
        workdir: Path,
        compose_v2: Path,
        upstream_env: dict[str, str],
        upstream_dir: Path,
        admin_token: str,
        postgres_password: str,
    ) -> None:
        self.engine = engine
        self.workdir = Path(workdir)
        self.compose_v2 = compose_v2
        self.ports = CiPorts.from_override()
        self.gateway_url = f"http://127.0.0.1:{self.ports.gateway}"
        self.upstream_env = dict(upstream_env)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.upstream_env_file = self.workdir / "upstream.env"
        self.nginx_conf = self.workdir / "nginx.conf"
        self.env_file = self.workdir / "ci.env"
        self.settings = {
            **env_example(),
            "POSTGRES_PASSWORD": postgres_password,
            "SNAPPROXY_PUBLIC_URL": self.gateway_url,
            "SNAPPROXY_ADMIN_TOKEN": admin_token,
            **self.upstream_env,
            "SNAPPROXY_CI_UPSTREAM_ENV": str(self.upstream_env_file),
            "SNAPPROXY_CI_SIM_DIR": str(upstream_dir),
            "SNAPPROXY_CI_NGINX_CONF": str(self.nginx_conf),
        }
        outside = files_outside(upstream_env, upstream_dir)
        if outside:
            raise EngineError(
                f"the upstream settings name files outside {upstream_dir}, which is all"
                f" docker-compose.ci.yml mounts into the containers: {outside}"
            )
        self.upstream_env_file.write_text("".join(f"{k}={v}\n" for k, v in upstream_env.items()))
        self.nginx_conf.write_text(gateway_conf(self.ports))
        self.write_env()

    @property
    def project(self) -> str:
        return self.settings["COMPOSE_PROJECT_NAME"]

    def write_env(self, **changes: str) -> None:
        """(Re)write the .env every compose call reads; ``changes`` replace settings."""
        self.settings.update(changes)
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in self.settings.items()))

    def _files(self) -> list[str]:
        return ["-f", str(COMPOSE_FILE), "-f", str(CI_OVERRIDE), "--env-file", str(self.env_file)]

    def compose(
        self, *args: str, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """Compose v2 (``docker compose``)."""
        command: list[str | Path] = [self.compose_v2, *self._files(), *args]
        return run(command, env=self.engine.env, cwd=ROOT, timeout=timeout, check=check)

    def compose_v1(
        self, *args: str, check: bool = True, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        """Debian 12's docker-compose 1.29."""
        command: list[str | Path] = [COMPOSE_V1, *self._files(), *args]
        return run(command, env=self.engine.env, cwd=ROOT, timeout=timeout, check=check)

    # --- life cycle ---------------------------------------------------------------------

    def up(self, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``up -d --wait``, as docs/docker.md tells admins: returns once all are healthy."""
        return self.compose(
            "up", "-d", "--wait", "--wait-timeout", str(UP_TIMEOUT),
            check=check, timeout=UP_TIMEOUT + 60,
        )  # fmt: skip

    def down(self, *args: str) -> None:
        self.compose("down", "--timeout", "30", *args)

    def restart(self, service: str) -> None:
        self.compose("restart", service)

    # --- inspection ---------------------------------------------------------------------

    def containers(self, service: str) -> list[dict[str, Any]]:
        """``docker inspect`` of the service's containers (stopped ones too)."""
        ids = self.compose("ps", "-a", "-q", service).stdout.split()
        if not ids:
            return []
        data: list[dict[str, Any]] = json.loads(self.engine.docker("inspect", *ids).stdout)
        return data

    def health(self, service: str) -> str:
        states = [
            c["State"].get("Health", {}).get("Status", "none") for c in self.containers(service)
        ]
        return ",".join(states) or "absent"

    def wait_healthy(self, service: str, timeout: float = 120) -> None:
        """Poll the healthcheck's verdict (what `up --wait` does; compose 1.29 has no --wait)."""
        deadline = time.monotonic() + timeout
        while (state := self.health(service)) != "healthy":
            if time.monotonic() > deadline:
                raise EngineError(f"{service} is {state} after {timeout}s\n{self.diagnostics()}")
            time.sleep(1)

    def logs(self, service: str) -> str:
        done = self.compose("logs", "--no-color", "--no-log-prefix", service, check=False)
        return done.stdout + done.stderr

    def psql(self, sql: str) -> str:
        """One query as the snapproxy role, inside the postgres container (its local socket)."""
        user, db = "snapproxy", "snapproxy"
        return self.compose("exec", "-T", "postgres", "psql", "-U", user, "-d", db,
                            "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql).stdout.strip()  # fmt: skip

    def volume(self, name: str) -> dict[str, Any]:
        data: list[dict[str, Any]] = json.loads(
            self.engine.docker("volume", "inspect", f"{self.project}_{name}").stdout
        )
        return data[0]

    def diagnostics(self) -> str:
        """ps and the end of every service's log, for assertion messages."""
        parts = [self.compose("ps", "-a", check=False).stdout]
        for service in self.compose("config", "--services", check=False).stdout.split():
            tail = "\n".join(self.logs(service).splitlines()[-15:])
            parts.append(f"--- {service}\n{tail}")
        return "\n".join(parts)


@dataclass
class Deployment:
    """What the compose tests get: the running stack, its upstream, a scratch directory."""

    stack: ComposeStack
    sim: SimHandle
    workdir: Path
    admin_token: str
