"""Screenshots of every dashboard page (and of /docs/) for docs/dashboard.md.

Run it from the source tree (it reuses the tests' helpers, ``tests/support``)::

    .venv/bin/python -m tools.dashboard_screenshots [-o docs/images]

It starts the store simulator (demo catalogue) and the embedded default on a temporary data
directory, gives them something to show through the real APIs (snaps fetched twice, one
pinned, device sessions, an override, an imported bundle), signs in with Playwright driving
Debian's Chromium (``/usr/bin/chromium``: no browser download) and writes
``dashboard-<page>.png`` for each page. Nothing outside the temporary directory and the
output directory is touched.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from tests.support.cache import KIB, Blob, fetch, publish, running_fast_embedded
from tests.support.device_sessions import SESSIONS, new_device
from tests.support.offline import build_bundle
from tests.support.proxies import ADMIN_TOKEN, SNAP_PROXY, ProxyUnderTest
from tests.support.sim import SimHandle, start_simulator

CHROMIUM = "/usr/bin/chromium"
PAGES = {
    "login": "/dashboard/login",
    "overview": "/dashboard/",
    "cache": "/dashboard/cache",
    "devices": "/dashboard/devices",
    "overrides": "/dashboard/overrides",
    "offline": "/dashboard/offline",
    "docs": "/docs/",
}
WIDTH, HEIGHT = 1100, 760


def seed(proxy: ProxyUnderTest, sim: SimHandle, work: Path) -> None:
    """Something on every page, made through the real APIs as devices and the admin would."""
    blobs: list[Blob] = [publish(sim, size * KIB, prefix="demo") for size in (96, 64, 48, 32)]
    with proxy.client() as device:
        for index, blob in enumerate(blobs):
            for _ in range(1 + len(blobs) - index):  # a miss, then hits: a ranking
                assert fetch(device, blob.url_path).complete
        for _ in range(5):
            answer = device.post(SESSIONS, json=new_device("screenshot").session_body())
            assert answer.status_code == 200, answer.text
    with proxy.admin() as admin:
        assert admin.post("/v1/cache/pin", json={"name": blobs[0].name}).status_code == 200
        override = {"snap_name": blobs[1].name, "channel": "stable", "revision": 1}
        answer = admin.post(
            "/v2/metadata/overrides",
            json=[{**override, "series": "16"}],
            headers={"X-Snapproxy-Actor": "admin@screenshots"},
        )
        assert answer.status_code == 200, answer.text
    bundle, root_key, _ = build_bundle(work / "bundle", 40 * KIB)
    assert proxy.embedded is not None
    env = dict(proxy.embedded.env) | {"SNAPPROXY_TRUSTED_ROOT_KEYS": str(root_key)}
    subprocess.run([*SNAP_PROXY, "push-snap", str(bundle)], env=env, check=True)
    time_to_flush = proxy.stats()  # the hit counters written before the pages are read
    assert time_to_flush["totals"]["hits"] > 0


def shoot(url: str, output: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.goto(f"{url}/dashboard/login")
            target = output / "dashboard-login.png"
            page.screenshot(path=str(target))
            written.append(target)
            page.fill("#token", ADMIN_TOKEN)
            page.click("form[action='/dashboard/login'] button")
            for name, path in PAGES.items():
                if name == "login":
                    continue
                page.goto(f"{url}{path}")
                target = output / f"dashboard-{name}.png"
                page.screenshot(path=str(target), full_page=True)
                written.append(target)
        finally:
            browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/images"))
    args = parser.parse_args(argv)
    output: Path = args.output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dashboard-screenshots-") as temporary:
        work = Path(temporary)
        sim = start_simulator(work / "sim", demo=True)
        try:
            with running_fast_embedded(work / "proxy", sim) as proxy:
                seed(proxy, sim, work)
                with httpx.Client(base_url=proxy.url) as client:
                    assert client.get("/_status/check").status_code == 200
                written = shoot(proxy.url, output)
        finally:
            sim.stop()
    for path in written:
        print(f"{path} ({path.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
