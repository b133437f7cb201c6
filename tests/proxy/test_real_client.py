"""Debian's real snap client and daemon (2.57.6) through the proxy, judged against the simulator.

The simulator is the reference: whatever ``snap find``, ``snap info`` and ``snap download``
do pointed straight at it, they must do identically pointed at the proxy (in front of that
same simulator), in both topologies. The simulator's answers are taken once per module.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.proxy.conftest import ProxyUnderTest
from tests.support.sim import SimHandle
from tests.support.snapclient import (
    SnapDownloadResult,
    normalise_snap_output,
    snap_download,
    snapd_daemon,
)

pytestmark = pytest.mark.realclient

# What the daemon is asked, through the snap CLI. `find` without a query and with
# --section go through the sections endpoint (hal+json checked exactly).
DAEMON_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("find", "hello"),
    ("find", "app"),
    ("find", "zzzz-nothing"),
    ("find", "--section=featured"),
    ("find", "--section=productivity", "app"),
    ("find",),
    ("info", "hello-sim"),
    ("info", "--verbose", "mid-app"),
    ("info", "tiny-tool", "big-app"),
    ("info", "no-such-snap"),
)


@dataclass(frozen=True)
class Download:
    """One ``snap download`` case: what to ask, and the revision the simulator gives."""

    name: str
    channel: str | None = None
    revision: int | None = None
    arch: str | None = None
    expected: int | None = None  # None: an error, the same one from both stores
    ubuntu_store_url: bool = False

    @property
    def id(self) -> str:
        parts = [self.name, self.channel or "", f"r{self.revision}" if self.revision else ""]
        parts += [self.arch or "", "UBUNTU_STORE_URL" if self.ubuntu_store_url else ""]
        return "-".join(p.replace("/", "_") for p in parts if p)


DOWNLOADS = (
    Download("hello-sim", expected=1),
    Download("hello-sim", channel="2.0/stable", arch="arm64", expected=6),
    Download("hello-sim", revision=4, expected=4),
    Download("hello-sim", channel="2.0/edge", ubuntu_store_url=True, expected=7),
    Download("tiny-tool", channel="edge", arch="armhf", expected=2),
    Download("mid-app", channel="beta", expected=2),
    Download("mid-app", arch="arm64", expected=3),
    Download("mid-app", channel="2.0/stable"),  # no such track: no revision
    Download("no-such-snap"),  # snap not found
)


def run_daemon(store_url: str, log_path: Path) -> tuple[dict[tuple[str, ...], str], str]:
    """Each DAEMON_COMMANDS' normalised output (with its exit code), and the daemon's log."""
    outputs = {}
    with snapd_daemon(store_url, log_path=log_path) as snapd:
        for command in DAEMON_COMMANDS:
            done = snapd.run(*command)
            text = normalise_snap_output(done.stdout + done.stderr, store_urls=[store_url])
            outputs[command] = f"exit {done.returncode}\n{text}"
        log = snapd.log()
    return outputs, log


@pytest.fixture(scope="module")
def reference(upstream: SimHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if not upstream.running:
        upstream.start()
    upstream.clear_faults()
    yield tmp_path_factory.mktemp("real-client")


@pytest.fixture(scope="module")
def daemon_at_sim(reference: Path, upstream: SimHandle) -> dict[tuple[str, ...], str]:
    outputs, _ = run_daemon(upstream.api_url, reference / "snapd-sim.log")
    return outputs


def test_daemon_answers_as_against_the_simulator(
    any_proxy: ProxyUnderTest,
    sim: SimHandle,
    daemon_at_sim: dict[tuple[str, ...], str],
    tmp_path: Path,
) -> None:
    proxy_outputs, log = run_daemon(any_proxy.url, tmp_path / "snapd-proxy.log")
    # The daemon really went through the proxy (SNAPD_DEBUG_HTTP logs each request).
    assert f"Host: {urlsplit(any_proxy.url).netloc}" in log or any_proxy.url in log
    for command in DAEMON_COMMANDS:
        assert proxy_outputs[command] == daemon_at_sim[command], " ".join(command)
    # Sanity: the reference itself shows what the comparison is about.
    info = daemon_at_sim[("info", "hello-sim")]
    assert "exit 0" in info and "2.0/stable:" in info and "latest/edge:" in info
    assert "hello-sim" in daemon_at_sim[("find", "hello")]
    assert daemon_at_sim[("info", "no-such-snap")].startswith("exit 1")


_SIM_DOWNLOADS: dict[str, SnapDownloadResult] = {}


def download_with(store_url: str, case: Download, directory: Path) -> SnapDownloadResult:
    shutil.rmtree(directory, ignore_errors=True)
    return snap_download(
        store_url,
        case.name,
        cwd=directory,
        channel=case.channel,
        revision=case.revision,
        arch=case.arch,
        use_ubuntu_store_url=case.ubuntu_store_url,
    )


@pytest.mark.parametrize("case", DOWNLOADS, ids=lambda case: case.id)
def test_snap_download_matches_the_simulator(
    any_proxy: ProxyUnderTest, sim: SimHandle, reference: Path, case: Download, tmp_path: Path
) -> None:
    if case.id not in _SIM_DOWNLOADS:
        _SIM_DOWNLOADS[case.id] = download_with(sim.api_url, case, reference / case.id)
    direct = _SIM_DOWNLOADS[case.id]
    proxied = download_with(any_proxy.url, case, tmp_path / case.id)
    assert proxied.returncode == direct.returncode, proxied.describe()
    assert proxied.error == direct.error, proxied.describe()
    assert normalise_snap_output(proxied.output, store_urls=[any_proxy.url]) == (
        normalise_snap_output(direct.output, store_urls=[sim.api_url])
    )
    if case.expected is None:
        assert direct.snap_path is None and proxied.snap_path is None
        assert proxied.not_found or proxied.no_revision, proxied.describe()
        return
    # Both fetched the blob, verified its digest, and stopped at the same trust check (the
    # simulator's self-signed root), after the download.
    assert direct.stopped_at_trust_check, direct.describe()
    assert proxied.stopped_at_trust_check, proxied.describe()
    assert proxied.circular_key == direct.circular_key
    assert proxied.revision == direct.revision == case.expected
    expected = sim.revision(case.name, case.expected)["sha3-384"]
    assert proxied.sha3_384 == direct.sha3_384 == expected
