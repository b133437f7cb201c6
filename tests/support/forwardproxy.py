"""A real forward proxy for tests: Debian's ``tinyproxy`` on a loopback port of its own.

It runs in the foreground (``-d``) with a config file of the test's, logs every request it is
asked (``Request (file descriptor N): CONNECT 127.0.0.1:4443 HTTP/1.1``) to a file the test
reads, and adds ``Via: 1.1 <VIA_NAME>`` to the plain-HTTP requests it relays.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from shared.split import free_port
from tests.support.infra import wait_port

TINYPROXY = "tinyproxy"
VIA_NAME = "snapproxy-test-forward-proxy"
_REQUEST = re.compile(r"Request \(file descriptor \d+\): (\S+) (\S+) HTTP/")


@dataclass(frozen=True)
class Relayed:
    """One request the forward proxy was asked: ``CONNECT host:port`` or ``GET http://...``."""

    method: str
    target: str

    @property
    def port(self) -> int:
        """The port of the origin it went to."""
        authority = self.target.split("://", 1)[-1].split("/", 1)[0]
        return int(authority.rsplit(":", 1)[1]) if ":" in authority else 80


def require_tinyproxy() -> None:
    if shutil.which(TINYPROXY) is None:
        import pytest

        pytest.skip("tinyproxy is not installed (apt-get install tinyproxy)")


class ForwardProxy:
    """``tinyproxy`` on 127.0.0.1 and a free port (kept across restarts)."""

    def __init__(self, workdir: Path, connect_ports: tuple[int, ...] = ()) -> None:
        """``connect_ports``: the only ports CONNECT may reach (as a squid allow-list does);
        none: every port."""
        require_tinyproxy()
        self.connect_ports = connect_ports
        self.workdir = workdir
        self.port = free_port()
        self.log_path = workdir / "tinyproxy.log"
        self.config_path = workdir / "tinyproxy.conf"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ForwardProxy:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            f"Port {self.port}\n"
            "Listen 127.0.0.1\n"
            "Timeout 120\n"
            f'LogFile "{self.log_path}"\n'
            "LogLevel Info\n"
            f'PidFile "{self.workdir / "tinyproxy.pid"}"\n'
            "MaxClients 200\n"
            "Allow 127.0.0.1\n"
            f'ViaProxyName "{VIA_NAME}"\n'
            + "".join(f"ConnectPort {port}\n" for port in self.connect_ports)
        )
        output = (self.workdir / "tinyproxy.out").open("ab")
        self.process = subprocess.Popen(
            [TINYPROXY, "-d", "-c", str(self.config_path)],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        output.close()
        wait_port(self.port, timeout=30)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None

    def requests(self) -> list[Relayed]:
        """Every request it was asked, in order, from its log."""
        if not self.log_path.exists():
            return []
        text = self.log_path.read_text(errors="replace")
        return [Relayed(match[1], match[2]) for match in _REQUEST.finditer(text)]

    def __enter__(self) -> ForwardProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
