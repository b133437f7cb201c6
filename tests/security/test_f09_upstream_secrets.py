"""Finding 9: an upstream URL with credentials must not leak.

``SNAPPROXY_UPSTREAM_URL`` may carry a user and password (an authenticating forward proxy in
front of the store). They used to appear in error answers to devices, in logs and in
``snap-proxy check-connections``. Now answers to clients say "the upstream store" without
the URL at all, and logs and ``check-connections`` show it with the password hidden, as the
database URL is.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shared.split import free_port
from tests.support.device_api import REFRESH, install, refresh_body
from tests.support.infra import proxy_env, running_split
from tests.support.proxies import ADMIN_TOKEN, DEVICE_HEADERS, SNAP_PROXY, EmbeddedProxy

PASSWORD = "s3cr3t-pw"
# Nothing listens there: every upstream call fails, and every failure says something.
DEAD_PORT = free_port()
UPSTREAM = f"http://snapuser:{PASSWORD}@127.0.0.1:{DEAD_PORT}"
REDACTED = f"http://snapuser:***@127.0.0.1:{DEAD_PORT}"


@dataclass
class SecretProxy:
    url: str
    logs: Callable[[], str]


@pytest.fixture(scope="module", params=["embedded", pytest.param("split", marks=pytest.mark.split)])
def secret_proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecretProxy]:
    env = {"SNAPPROXY_UPSTREAM_URL": UPSTREAM, "SNAPPROXY_ADMIN_TOKEN": ADMIN_TOKEN}
    base = tmp_path_factory.mktemp(f"secret-{request.param}")
    if request.param == "embedded":
        embedded = EmbeddedProxy(base / "data", **env)
        embedded.start()
        try:
            yield SecretProxy(embedded.url, embedded.log)
        finally:
            embedded.stop()
        return
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed")
    with running_split(
        base / "run",
        base / "data",
        SNAPPROXY_UPSTREAM_URL=UPSTREAM,
        SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN,
    ) as topology:

        def logs() -> str:
            return "".join(p.read_text(errors="replace") for p in (base / "run").glob("*.log"))

        yield SecretProxy(topology.gateway_url, logs)


def client_answers(url: str) -> list[httpx.Response]:
    """Requests that each end in an upstream failure, some after the breaker opened."""
    answers = []
    with httpx.Client(base_url=url, headers=DEVICE_HEADERS, timeout=30) as client:
        for round_ in range(4):
            answers += [
                client.post(REFRESH, json=refresh_body([install("hello-sim", f"i-{round_}")])),
                client.get("/v2/snaps/info/hello-sim"),
                client.get("/v2/snaps/find", params={"q": "hello"}),
                client.get("/v2/assertions/account/canonical"),
                client.post("/api/v1/snaps/auth/nonces"),
            ]
        answers += [client.get("/_status/check"), client.get("/_status/devicegw/check")]
    return answers


def test_answers_to_clients_never_name_the_upstream(secret_proxy: SecretProxy) -> None:
    answers = client_answers(secret_proxy.url)
    assert any(a.status_code == 503 for a in answers)  # the upstream failures were answered
    for answer in answers:
        assert PASSWORD not in answer.text, answer.text
        assert f"127.0.0.1:{DEAD_PORT}" not in answer.text, answer.text
    messages = [a.json()["error-list"][0]["message"] for a in answers if a.status_code == 503]
    assert any("the upstream store" in message for message in messages), messages


def test_logs_show_the_upstream_redacted(secret_proxy: SecretProxy) -> None:
    client_answers(secret_proxy.url)
    logs = secret_proxy.logs()
    assert PASSWORD not in logs
    assert REDACTED in logs  # operators still see which upstream failed


def test_check_connections_redacts_the_upstream(tmp_path: Path) -> None:
    done = subprocess.run(
        [*SNAP_PROXY, "check-connections"],
        env=proxy_env(SNAPPROXY_UPSTREAM_URL=UPSTREAM, SNAPPROXY_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output  # the upstream cannot be reached
    assert PASSWORD not in output
    assert f"http: {REDACTED}: FAILED" in output


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("https://api.snapcraft.io", "https://api.snapcraft.io"),
        ("http://user:pw@proxy.lan:3128", "http://user:***@proxy.lan:3128"),
        ("http://:pw@proxy.lan", "http://:***@proxy.lan"),
        ("http://user@proxy.lan/store", "http://user@proxy.lan/store"),
        ("https://proxy.lan/store?token=abc", "https://proxy.lan/store?***"),
        ("http://u:p%40ss@[::1]:8080#frag", "http://u:***@[::1]:8080"),
    ],
)
def test_upstream_label(url: str, label: str) -> None:
    from shared.upstream import upstream_label

    assert upstream_label(url) == label
