"""A private Docker engine for the compose test: its own dockerd, data root and socket.

Debian's packages (``apt-get install docker.io docker-compose debootstrap``, done by
``.ci/run``) give Docker 20.10. The engine is started by hand, without systemd, with
``--bridge=none --iptables=false``: it creates no network interface, address or firewall
rule on the machine, and its containers use the host's network (see docker-compose.ci.yml).
Everything it writes lives under one directory, removed by :meth:`DockerEngine.remove`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

DOCKER = Path("/usr/bin/docker")  # not /usr/local/bin/docker, which may be another client
DOCKERD_CANDIDATES = (Path("/usr/sbin/dockerd"), Path("/usr/bin/dockerd"))
DEBOOTSTRAP = Path("/usr/sbin/debootstrap")
COMPOSE_V1 = Path("/usr/bin/docker-compose")
START_TIMEOUT = 90.0
STOP_TIMEOUT = 60.0


class EngineError(RuntimeError):
    """The private dockerd did not start or a docker command failed (with its output)."""


def dockerd_binary() -> Path | None:
    return next((path for path in DOCKERD_CANDIDATES if os.access(path, os.X_OK)), None)


def missing_prerequisites() -> list[str]:
    """What this machine lacks to run the compose test (empty when nothing)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (dockerd and debootstrap need it)")
    if dockerd_binary() is None or not os.access(DOCKER, os.X_OK):
        missing.append("docker.io")
    if not os.access(COMPOSE_V1, os.X_OK):
        missing.append("docker-compose")
    if not os.access(DEBOOTSTRAP, os.X_OK):
        missing.append("debootstrap")
    return missing


def run(
    command: Sequence[str | Path],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float = 600,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; EngineError with its output when ``check`` and it fails."""
    done = subprocess.run(
        [str(part) for part in command],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if check and done.returncode != 0:
        raise EngineError(
            f"$ {' '.join(map(str, command))}\nexit {done.returncode}\n"
            f"--- stdout\n{done.stdout[-6000:]}\n--- stderr\n{done.stderr[-6000:]}"
        )
    return done


def reap_leftover(record: Path) -> None:
    """Stop and delete the engine a killed run left behind, as ``record`` names it.

    Only that dockerd (its pid, and only while its command line still names that data
    root) is signalled; then its directory is unmounted and deleted."""
    try:
        data = json.loads(record.read_text())
        pid, root = int(data["pid"]), Path(data["root"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        record.unlink(missing_ok=True)
        return
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except (FileNotFoundError, ProcessLookupError):
        arguments = []
    if f"--data-root={root / 'data'}" in arguments:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        if Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
    DockerEngine(root).remove()
    record.unlink(missing_ok=True)


class DockerEngine:
    """``dockerd`` with every path of its own under ``root``; ``record`` (a JSON file) names
    the running one, so that a later run can clean up after a run that was killed."""

    def __init__(self, root: Path, record: Path | None = None) -> None:
        self.root = Path(root)
        self.record = record
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def log_path(self) -> Path:
        return self.root / "dockerd.log"

    @property
    def env(self) -> dict[str, str]:
        """The environment of every client of this engine (nothing inherited)."""
        return {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.root / "home"),
            "LANG": "C.UTF-8",
            "DOCKER_HOST": f"unix://{self.socket}",
            "DOCKER_CONFIG": str(self.root / "client-config"),
        }

    def command(self) -> list[str]:
        dockerd = dockerd_binary()
        if dockerd is None:
            raise EngineError("dockerd is not installed (apt-get install docker.io)")
        return [
            str(dockerd),
            f"--data-root={self.root / 'data'}",
            f"--exec-root={self.root / 'exec'}",
            f"--host=unix://{self.socket}",
            f"--pidfile={self.root / 'docker.pid'}",
            "--bridge=none",
            "--iptables=false",
            "--storage-driver=overlay2",
        ]

    def start(self) -> DockerEngine:
        for sub in ("data", "exec", "home", "client-config"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        if self.record is not None:
            self.record.write_text(json.dumps({"pid": self.process.pid, "root": str(self.root)}))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EngineError(f"dockerd exited with {self.process.returncode}:\n{self.log()}")
            probe = self.docker("version", "--format", "{{.Server.Version}}", check=False)
            if probe.returncode == 0:
                return self
            time.sleep(0.5)
        raise EngineError(f"dockerd not answering after {START_TIMEOUT}s:\n{self.log()}")

    def docker(
        self, *args: str | Path, check: bool = True, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return run([DOCKER, *args], env=self.env, timeout=timeout, check=check)

    def log(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM (dockerd stops its containers and its containerd), SIGKILL if it hangs."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.process = None

    def remove(self) -> None:
        """Stop, then delete every file of this engine (images, containers, volumes)."""
        self.stop()
        for mount in self._mounts_below_root():
            subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
        if self.record is not None:
            self.record.unlink(missing_ok=True)

    def _mounts_below_root(self) -> list[str]:
        """Mount points left under root (a killed dockerd can leave overlays), deepest first."""
        prefix = str(self.root.resolve()) + "/"
        mounts = []
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(prefix):
                mounts.append(point)
        return sorted(mounts, key=len, reverse=True)
