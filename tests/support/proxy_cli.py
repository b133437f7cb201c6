"""``snap-proxy`` commands as an admin runs them on a proxy of the test's own: as a process
with the proxy's environment (its data directory and database), or in this process
(typer's runner: prompts read the given input, as a terminal's)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from shared.cli.commands import app
from tests.support.admin_cli import Ran
from tests.support.proxies import SNAP_PROXY, EmbeddedProxy


def snap_proxy(proxy: EmbeddedProxy, *args: str, stdin: str | None = None) -> Ran:
    """``snap-proxy ARGS`` as a process, with the proxy's environment."""
    done = subprocess.run(
        [*SNAP_PROXY, *args],
        env=proxy.env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def snap_proxy_here(data_dir: Path, env: dict[str, str], *args: str, stdin: str = "") -> Ran:
    """``snap-proxy ARGS`` in this process, on ``data_dir``, with only ``env``'s
    ``SNAPPROXY_*`` settings."""
    wanted: dict[str, str | None] = dict.fromkeys(
        (name for name in os.environ if name.startswith("SNAPPROXY_")), None
    )
    wanted.update({"SNAPPROXY_DATA_DIR": str(data_dir), **env})
    result = CliRunner().invoke(app, list(args), input=stdin, env=wanted)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def restart(proxy: EmbeddedProxy) -> None:
    """The services restart (keys that need a restart take effect then)."""
    proxy.stop()
    proxy.start()


def cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``snap-proxy ARGS`` with ``env`` (its whole environment), output captured."""
    return subprocess.run(
        [*SNAP_PROXY, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
