"""Run ``snap-store-sim`` as a real subprocess for tests and benchmarks.

handle = start_simulator(tmp_path / "sim")          # demo catalogue, free ports
httpx.post(handle.api_url + "/v2/snaps/refresh", ...)
handle.set_faults(error_status=503)                  # PUT /_sim/faults
handle.stats()["blobs"]["big-app_1.snap"]["bytes"]
handle.stop(); handle.start()                        # restart on the same dir and ports
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

SIM_COMMAND = [sys.executable, "-m", "tools.snap_store_sim"]
READY_PREFIX = "snap-store-sim ready "
START_TIMEOUT = 30.0


class SimulatorError(RuntimeError):
    """The simulator did not start (the message carries its log)."""


class SimHandle:
    """A running (or stopped) simulator process on one data directory."""

    def __init__(
        self,
        data_dir: Path,
        demo: bool = True,
        extra_args: tuple[str, ...] | list[str] = (),
        host: str = "127.0.0.1",
        https: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.demo = demo
        self.https = https  # serve --https: a CA of its own, at ca_path once started
        self.extra_args = tuple(extra_args)
        self.host = host
        self.api_port = 0
        self.cdn_port = 0
        self.api_url = ""
        self.cdn_url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.sim.log"
        self.ready_seconds: float | None = None
        self._client: httpx.Client | None = None

    # -- process control -------------------------------------------------------------

    def command(self) -> list[str]:
        cmd = [
            *SIM_COMMAND, "serve", "--host", self.host, "--port", str(self.api_port),
            "--cdn-port", str(self.cdn_port), "--data-dir", str(self.data_dir),
        ]  # fmt: skip
        if self.demo:
            cmd.append("--demo")
        if self.https:
            cmd.append("--https")
        return cmd + list(self.extra_args)

    def start(self, timeout: float = START_TIMEOUT) -> SimHandle:
        """Start (or restart, on the same ports once known) and wait for the ready line."""
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        started = time.monotonic()
        self.process = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL
        )
        log.close()
        line = self._read_ready_line(self.process, timeout)
        self.ready_seconds = time.monotonic() - started
        fields = dict(item.split("=", 1) for item in line[len(READY_PREFIX) :].split())
        self.api_url, self.cdn_url = fields["api"], fields["cdn"]
        self.api_port = int(self.api_url.rsplit(":", 1)[1])
        self.cdn_port = int(self.cdn_url.rsplit(":", 1)[1])
        return self

    def _read_ready_line(self, process: subprocess.Popen[bytes], timeout: float) -> str:
        assert process.stdout is not None
        found: list[str] = []
        got_line = threading.Event()

        def pump() -> None:
            assert process.stdout is not None
            for raw in process.stdout:
                text = raw.decode(errors="replace").rstrip("\n")
                if not found and text.startswith(READY_PREFIX):
                    found.append(text)
                    got_line.set()
            got_line.set()

        threading.Thread(target=pump, name="snapsim-stdout", daemon=True).start()
        if not got_line.wait(timeout) or not found:
            self.kill()
            raise SimulatorError(
                f"snap-store-sim not ready after {timeout}s "
                f"(exit code {process.poll()}); log:\n{self.log()}"
            )
        return found[0]

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM and wait (SIGKILL if it does not go)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def restart(self) -> SimHandle:
        self.stop()
        return self.start()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> SimHandle:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- HTTP helpers ----------------------------------------------------------------

    @property
    def ca_path(self) -> Path:
        """The simulator's own CA certificate (``serve --https``)."""
        return self.data_dir / "tls" / "ca.pem"

    @property
    def client(self) -> httpx.Client:
        """An httpx client on the API (redirects not followed; trusts the simulator's CA
        in HTTPS mode)."""
        if self._client is None:
            verify: ssl.SSLContext | bool = (
                ssl.create_default_context(cafile=str(self.ca_path)) if self.https else True
            )
            self._client = httpx.Client(base_url=self.api_url, timeout=60, verify=verify)
        return self._client

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        response = self.client.request(method, path, json=body)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, Any]:
        return dict(self._json("GET", "/_sim/stats"))

    def reset(self) -> None:
        self._json("POST", "/_sim/reset")

    def faults(self) -> dict[str, Any]:
        return dict(self._json("GET", "/_sim/faults"))

    def set_faults(self, **settings: Any) -> dict[str, Any]:
        """Replace all faults (unnamed ones go back to their defaults)."""
        return dict(self._json("PUT", "/_sim/faults", settings))

    def update_faults(self, **settings: Any) -> dict[str, Any]:
        """Change only the named faults."""
        return dict(self._json("PATCH", "/_sim/faults", settings))

    def clear_faults(self) -> None:
        self._json("DELETE", "/_sim/faults")

    def catalogue(self, wait: bool = False) -> dict[str, Any]:
        """The catalogue JSON (from the server, or from the file when stopped)."""
        if not self.running:
            return dict(json.loads((self.data_dir / "catalogue.json").read_text()))
        return dict(self._json("GET", "/_sim/catalogue" + ("?wait=1" if wait else "")))

    def wait_built(self) -> dict[str, Any]:
        """Wait until every lazily built demo blob exists."""
        return self.catalogue(wait=True)

    def revision(self, name: str, revision: int) -> dict[str, Any]:
        for snap in self.catalogue()["snaps"]:
            if snap["name"] == name:
                for rev in snap["revisions"]:
                    if rev["revision"] == revision:
                        return dict(rev)
        raise KeyError(f"{name} revision {revision}")

    def env(self) -> dict[str, str]:
        return sim_env(self)

    def proxy_env(self) -> dict[str, str]:
        """The ``SNAPPROXY_*`` settings a proxy needs to use this simulator as its upstream.

        Every test and benchmark that starts a proxy in front of the simulator takes them
        from here, so a setting the upstream needs is added in one place. The simulator's
        CDN listens on its own port: blob redirects go there, so it is an allowed origin.
        The simulator signs its demo assertions with a root key of its own: the proxy trusts
        it, besides Canonical's (for the genuine assertions the tests import)."""
        return {
            "SNAPPROXY_UPSTREAM_URL": self.api_url,
            "SNAPPROXY_CDN_HOSTS": self.cdn_url,
            "SNAPPROXY_TRUSTED_ROOT_KEYS": f"canonical,{self.root_key_path()}",
        }

    def root_key_path(self) -> Path:
        """The simulator's self-signed root account-key, in its assertion folder."""
        authority = json.loads((self.data_dir / "keys" / "authority.json").read_text())
        return self.data_dir / "asserts" / "account-key" / f"{authority['root-key']}.assert"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run another ``snap-store-sim`` command on this data directory."""
        return run_cli(*args, "--data-dir", str(self.data_dir), check=check)


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SIM_COMMAND, *args], capture_output=True, text=True, check=check, timeout=300
    )


def sim_env(handle: SimHandle, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment that points the ``snap`` CLI (``snap download``) at the simulator."""
    env = dict(os.environ if base is None else base)
    env.update(SNAPPY_FORCE_API_URL=handle.api_url, UBUNTU_STORE_URL=handle.api_url)
    env.pop("SNAPPY_FORCE_SAS_URL", None)
    return env


def start_simulator(
    data_dir: Path,
    demo: bool = True,
    extra_args: tuple[str, ...] | list[str] = (),
    *,
    https: bool = False,
) -> SimHandle:
    """Launch ``snap-store-sim serve --port 0 --cdn-port 0`` and wait until it is ready."""
    return SimHandle(data_dir, demo=demo, extra_args=extra_args, https=https).start()


@contextlib.contextmanager
def running_simulator(
    data_dir: Path, demo: bool = True, extra_args: tuple[str, ...] | list[str] = ()
) -> Iterator[SimHandle]:
    handle = start_simulator(data_dir, demo, extra_args)
    try:
        yield handle
    finally:
        handle.stop()
