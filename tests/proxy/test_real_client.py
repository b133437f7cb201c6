"""Debian's real snap client and daemon (2.57.6) through the proxy, judged against the simulator.

The simulator is the reference: whatever ``snap find``, ``snap info`` and ``snap download``
do pointed straight at it, they must do identically pointed at the proxy (in front of that
same simulator), in both topologies. The simulator's answers are taken once per module.
``snap install`` through the daemon gets past its prerequisites, downloads through the
proxy and stops at the trust check (docs/real-client.md, "snap install").
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from shared.assertions import sha3_384_file
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle
from tests.support.snapclient import (
    SnapDownloadResult,
    normalise_snap_output,
    snap_download,
    snapd_daemon,
)
from tools.snap_store_sim.ids import snap_id_for

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


# ---- snap install through the daemon: prerequisites, downloads, the trust check -----------


def root_key(sim: SimHandle) -> str:
    """The simulator's self-signed root account-key: where the client's chain ends."""
    authority = json.loads((sim.data_dir / "keys" / "authority.json").read_text())
    return str(authority["root-key"])


def trust_failure(sim: SimHandle, name: str, revision: int) -> list[str]:
    """snapd 2.57's stderr when an install stops at the simulator's self-signed root."""
    return [
        "error: cannot perform the following tasks:",
        f'- Fetch and check assertions for snap "{name}" ({revision}) (circular assertions '
        f"are not expected: account-key ({root_key(sim)}))",
    ]


def download_requests(log: str, host: str) -> list[str]:
    """The blob GETs snapd logged (SNAPD_DEBUG_HTTP) to ``host``, as paths."""
    found = re.findall(r"GET (/api/v1/snaps/download/[^ ]+) HTTP/1\.1\\r\\nHost: ([^\\]+)", log)
    return [path for path, to in found if to == host]


def install_requests(log: str, host: str) -> list[str]:
    """The names of the ``install`` actions snapd POSTed to ``host``, in order."""
    names = []
    for line in log.splitlines():
        sent = re.search(r'> "POST /v2/snaps/refresh HTTP/1\.1\\r\\nHost: ([^\\]+)', line)
        if sent and sent[1] == host:
            names += re.findall(r'\\"action\\":\\"install\\",[^}]*?\\"name\\":\\"([^\\]+)', line)
    return names


def test_daemon_install_downloads_through_the_proxy_then_stops_at_trust_check(
    any_proxy: ProxyUnderTest, sim: SimHandle, tmp_path: Path
) -> None:
    installed = ("snapd", "core22")
    with any_proxy.admin() as admin:
        for name in installed:  # so the fills checked below are this install's
            admin.post("/v1/cache/evict", json={"name": name}).raise_for_status()
    with snapd_daemon(any_proxy.url, log_path=tmp_path / "snapd.log") as snapd:
        app = snapd.run("install", "hello-sim")
        base = snapd.run("install", "core22")
        on_device = {
            name: sha3_384_file(path)[0] if (path := snapd.downloaded(name, 1)).exists() else None
            for name in (*installed, "hello-sim")
        }
        log = snapd.log()

    # hello-sim gets past "Ensure prerequisites" (core22 and snapd are in the store); snapd's
    # tasks run first and it stops at the trust check, after downloading snapd.
    assert app.returncode == 1
    assert app.stderr.splitlines() == trust_failure(sim, "snapd", 1), app.stderr
    # A base has no prerequisites: core22 is downloaded and stops at the same check.
    assert base.returncode == 1
    assert base.stderr.splitlines() == trust_failure(sim, "core22", 1), base.stderr
    expected = {name: sim.revision(name, 1) for name in installed}
    assert on_device == {**{n: rev["sha3-384"] for n, rev in expected.items()}, "hello-sim": None}
    # The daemon fetched both blobs from the proxy's download URLs, the proxy filled its
    # cache from the simulator once each, and nothing else was downloaded.
    proxy_host = urlsplit(any_proxy.url).netloc
    snap_ids = {name: snap_id_for(name) for name in installed}
    assert sorted(download_requests(log, proxy_host)) == sorted(
        f"/api/v1/snaps/download/{snap_ids[name]}_1.snap" for name in installed
    )
    assert not download_requests(log, urlsplit(sim.api_url).netloc)
    assert install_requests(log, proxy_host) == ["hello-sim", "core22", "snapd", "core22"]
    stats = sim.stats()
    assert stats["blobs"] == {
        f"{name}_1.snap": {"requests": 1, "bytes": rev["size"]} for name, rev in expected.items()
    }
    with any_proxy.admin() as admin:
        for name, rev in expected.items():
            response = admin.get("/v1/cache/entries", params={"name": name})
            response.raise_for_status()
            (entry,) = response.json()["entries"]
            assert (entry["snap-id"], entry["revision"]) == (snap_ids[name], 1)
            assert (entry["sha3-384"], entry["size"]) == (rev["sha3-384"], rev["size"])
