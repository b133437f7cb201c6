"""docs/admin-guide.md, run: every ``sh`` block, in order, exactly as written, in one shell.

A PostgreSQL server of the test's own (the guide starts from an empty one; every user but
postgres logs in with a password), a store simulator with a ``hello`` snap as the upstream
(through the environment, as the guide says), the password prompts answered on standard
input, and the guide's last command: the real ``snap download`` through the proxy.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.assertions import sha3_384_file
from shared.split import free_port
from tests.support.infra import PrivatePostgres, private_password_postgres, query
from tests.support.sim import SimHandle, run_cli, running_simulator
from tests.support.snapclient import (
    ASSERTIONS_ERROR_PREFIX,
    DEAD_PROXY,
    SNAP_BIN,
    require_binary,
)

pytestmark = pytest.mark.realclient

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "admin-guide.md"
BLOCK = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)
PLACEHOLDERS = ("DOMAIN", "PORT", "PGPORT")
PASSWORD = "guide-password-42"
LAST_EXIT = "the guide's snap download exited with "


def guide_blocks() -> list[str]:
    return BLOCK.findall(GUIDE.read_text())


def test_the_guide_names_its_placeholders() -> None:
    """Every variable the run blocks use is one of the guide's documented placeholders."""
    blocks = guide_blocks()
    assert len(blocks) >= 6
    used = {name for block in blocks for name in re.findall(r"\$\{?([A-Z_]+)", block)}
    assert used == set(PLACEHOLDERS)
    text = GUIDE.read_text()
    for name in PLACEHOLDERS:
        assert f"| `{name}` |" in text


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[SimHandle]:
    """A simulator whose catalogue holds ``hello`` (stable), as the real store does."""
    data = tmp_path / "sim"
    run_cli("add-snap", "hello", "--channel", "stable", "--data-dir", str(data))
    with running_simulator(data, demo=False) as handle:
        yield handle


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    with private_password_postgres() as server:
        yield server


@pytest.mark.timeout(720)  # a whole installation, on a loaded machine
def test_the_admin_guide_runs(
    upstream: SimHandle, postgres: PrivatePostgres, tmp_path: Path
) -> None:
    require_binary(SNAP_BIN)
    workdir, home = tmp_path / "admin", tmp_path / "home"
    workdir.mkdir()
    home.mkdir()
    port = free_port()
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "SNAP_REEXEC": "0",
        # The guide's placeholders.
        "DOMAIN": "127.0.0.1",
        "PORT": str(port),
        "PGPORT": str(postgres.port),
        # The upstream: the simulator (the environment overrides proxy.upstream).
        **upstream.proxy_env(),
        # Nothing leaves the machine: anything not on loopback goes to a dead proxy.
        **dict.fromkeys(("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"), DEAD_PROXY),
        "no_proxy": "127.0.0.1,localhost,::1",
        "NO_PROXY": "127.0.0.1,localhost,::1",
    }
    *steps, download = guide_blocks()
    # Every step must succeed; the last one's exit status is judged below: against the
    # simulator, whose root key stock snap does not trust, `snap download` fetches and
    # verifies the snap, then stops at the trust check (docs/real-client.md).
    script = (
        "set -euo pipefail\n" + "\n".join(steps) + f'\nset +e\n{download}echo "{LAST_EXIT}$?"\n'
    )
    process = subprocess.Popen(
        ["bash", "-c", script],
        cwd=workdir,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        # Two prompts: create-database's new password, then config's after the guide's
        # authentication error.
        stdout, stderr = process.communicate(f"{PASSWORD}\n{PASSWORD}\n", timeout=600)
    finally:
        # The guide leaves `snap-proxy serve` running in the background: its process group
        # is the shell's, which this test started.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
    said = f"--- stdout\n{stdout}--- stderr\n{stderr}--- snapproxy.log\n" + (
        (workdir / "snapproxy.log").read_text() if (workdir / "snapproxy.log").exists() else ""
    )
    assert process.returncode == 0, said

    lines = stdout.splitlines()
    assert (
        "Authentication error with user snapproxy-user. Check the user name and password and "
        "that the user has the LOGIN privilege."
    ) in lines, said
    for role in ("snapauth", "snapdevicegw", "snaprevs", "snapassert", "snapdownloads"):
        assert f"Configured database for {role} role." in lines, said
    assert "All connections appear to be accessible" in lines, said
    assert PASSWORD not in stdout + stderr

    # The real snap client fetched hello through the proxy: the file is the simulator's
    # revision, and the proxy's cache (in its PostgreSQL schema) holds it. The client's only
    # complaint is the simulator's self-signed root key.
    [snap] = workdir.glob("hello_*.snap")
    assert lines[-1] == f"{LAST_EXIT}1", said
    assert stderr.splitlines()[-1].startswith(
        f"{ASSERTIONS_ERROR_PREFIX}circular assertions are not expected: account-key ("
    ), said
    revision = int(snap.stem.split("_")[1])
    assert sha3_384_file(snap)[0] == upstream.revision("hello", revision)["sha3-384"], said
    owner = f"postgresql://snapproxy-user:{PASSWORD}@127.0.0.1:{postgres.port}/snapproxy-db"
    cached = query(owner, "SELECT count(*) FROM snapdownloads.cache_entries")
    assert cached[0][0] == 1, said
