"""Running ``snap-proxy config`` as an admin does, on a node of the test's own.

The command runs in this process (typer's runner, the real code with the real database and
files) because an interpreter start per call would cost seconds; ``spawn=True`` runs it as
a process of its own where that matters.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from typer.testing import CliRunner

from shared.cli.commands import app
from tests.support.infra import proxy_env
from tests.support.proxies import SNAP_PROXY


@dataclass(frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class Node:
    """A data directory, and the environment the admin runs ``snap-proxy`` with there."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def _env(self, **env: str) -> dict[str, str]:
        return {"SNAPPROXY_DATA_DIR": str(self.data_dir), **self.env, **env}

    def run(self, *args: str, stdin: str | None = None, spawn: bool = False, **env: str) -> Ran:
        """``snap-proxy ARGS`` with the node's environment and ``env``."""
        if spawn:
            done = subprocess.run(
                [*SNAP_PROXY, *args],
                env=proxy_env(**self._env(**env)),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=60,
            )
            return Ran(done.returncode, done.stdout, done.stderr)
        # Every SNAPPROXY_* variable of this process unset, then the node's.
        wanted: dict[str, str | None] = dict.fromkeys(
            (k for k in os.environ if k.startswith("SNAPPROXY_")), None
        )
        wanted.update(self._env(**env))
        result = CliRunner().invoke(app, list(args), input=stdin, env=wanted)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Ran(result.exit_code, result.stdout, result.stderr)

    def config(self, *args: str, stdin: str | None = None, **env: str) -> Ran:
        return self.run("config", *args, stdin=stdin, spawn=False, **env)

    def ok(self, *args: str, **env: str) -> str:
        result = self.config(*args, **env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def listing(self, *keys: str, **env: str) -> dict[str, tuple[str, str]]:
        """key -> (source, value) as ``snap-proxy config`` prints them."""
        rows = {}
        for line in self.ok(*keys, **env).splitlines()[1:]:
            name, source, value = line.split(None, 2)
            rows[name] = (source, value)
        return rows

    def export(self, **env: str) -> str:
        return self.ok("--export-yaml", **env)

    def upgrade(self) -> None:
        result = self.run("db", "upgrade")
        assert result.returncode == 0, result.stderr


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def error_lines(result: Ran) -> list[str]:
    return result.stderr.strip().splitlines()
