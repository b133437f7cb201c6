"""The offline-mode tests' stores: an online proxy in front of the simulator exports two
demo snaps with their bases and snapd; the simulator stops; a fresh proxy on an empty data
directory, whose upstream accepts connections and never answers (any contact would hang),
imports the bundle and is switched to airgap mode. What the real client did through the
online proxy is kept for comparison."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.offline.support import SilentUpstream
from tests.support.proxies import ADMIN_TOKEN, DEVICE_HEADERS, EmbeddedProxy
from tests.support.proxy_cli import cli
from tests.support.sim import SimHandle, start_simulator
from tests.support.snapclient import (
    SnapDownloadResult,
    normalise_snap_output,
    snap_download,
    snapd_daemon,
)

EXPORTED = ("hello-sim", "tiny-tool")
ESSENTIALS = ("core20", "core22", "snapd")
DAEMON_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("info", "hello-sim"),
    ("info", "tiny-tool"),
    ("find", "hello"),
    ("find", "tiny"),
)
WAIT = 60.0


@dataclass
class Stores:
    bundle: Path
    offline: EmbeddedProxy
    upstream: SilentUpstream
    root_key: str
    online_url: str
    online_downloads: dict[str, SnapDownloadResult] = field(default_factory=dict)
    online_daemon: dict[tuple[str, ...], str] = field(default_factory=dict)
    export_output: str = ""
    cached_output: str = ""


def daemon_outputs(store_url: str, log_path: Path) -> dict[tuple[str, ...], str]:
    outputs = {}
    with snapd_daemon(store_url, log_path=log_path) as snapd:
        for command in DAEMON_COMMANDS:
            done = snapd.run(*command)
            text = normalise_snap_output(done.stdout + done.stderr, store_urls=[store_url])
            outputs[command] = f"exit {done.returncode}\n{text}"
    return outputs


def wait_for_airgap(proxy: EmbeddedProxy) -> None:
    deadline = time.monotonic() + WAIT
    with httpx.Client(base_url=proxy.url, headers=DEVICE_HEADERS, timeout=10) as client:
        while time.monotonic() < deadline:
            try:
                answer = client.get("/v2/snaps/info/hello-sim")
            except httpx.HTTPError:
                answer = None
            if answer is not None and answer.headers.get("x-snapproxy-cache") == "airgap":
                return
            time.sleep(0.5)
    raise AssertionError(f"airgap mode did not take effect:\n{proxy.log()[-3000:]}")


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    root = tmp_path_factory.mktemp("airgap")
    sim: SimHandle = start_simulator(root / "sim")
    online = EmbeddedProxy(root / "online", **sim.proxy_env(), SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN)
    bundle = root / "bundle.tar"
    try:
        online.start()
        reference = {
            name: snap_download(online.url, name, cwd=root / "online-dl" / name)
            for name in EXPORTED
        }
        online_daemon = daemon_outputs(online.url, root / "snapd-online.log")
        exported = cli(
            online.env, "export", *EXPORTED, "--with-bases", "-o", str(bundle), "--url", online.url
        )
        assert exported.returncode == 0, exported.stderr
        incremental = cli(
            online.env,
            "export",
            *EXPORTED,
            "--with-bases",
            "--since",
            str(bundle),
            "-o",
            str(root / "incremental.tar"),
            "--url",
            online.url,
        )
        assert incremental.returncode == 0, incremental.stderr
        cached = cli(
            online.env, "export", "--cached", "-o", str(root / "cached.tar"), "--url", online.url
        )
        assert cached.returncode == 0, cached.stderr
        trusted = f"canonical,{sim.root_key_path()}"
        root_key = sim.root_key_path().stem
    finally:
        online.stop()
        sim.stop()
    upstream = SilentUpstream()
    offline = EmbeddedProxy(
        root / "offline",
        SNAPPROXY_UPSTREAM_URL=upstream.url,
        SNAPPROXY_TRUSTED_ROOT_KEYS=trusted,
        SNAPPROXY_ADMIN_TOKEN=ADMIN_TOKEN,
        SNAPPROXY_CONFIG_POLL_INTERVAL="0.5",
    )
    try:
        offline.start()
        enabled = cli(offline.env, "enable-airgap-mode")
        assert enabled.returncode == 0, enabled.stderr
        pushed = cli(offline.env, "push-snap", str(bundle))
        assert pushed.returncode == 0, pushed.stderr
        wait_for_airgap(offline)
        yield Stores(
            bundle,
            offline,
            upstream,
            root_key,
            online.url,
            reference,
            online_daemon,
            exported.stdout,
            cached.stdout,
        )
    finally:
        offline.stop()
        upstream.close()
