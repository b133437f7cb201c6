"""The dashboard in a real browser: Debian's Chromium, driven by Playwright (no browser
download: ``executable_path`` points at the Debian binary). It signs in, reads the cache
page's figures against the admin API, and pins and evicts a snap from the page; a real
``snap download`` shows in "fills in progress" and then in the counters."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.cache import KIB, MIB, Blob, fetch
from tests.support.proxies import ADMIN_TOKEN, ProxyUnderTest
from tests.support.sim import SimHandle
from tests.support.snapclient import SnapDownloadResult, snap_download

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")

playwright_sync = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (make install: dev extras)"
)
if not CHROMIUM.exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does)",
        allow_module_level=True,
    )


@pytest.fixture
def browser(proxy: ProxyUnderTest) -> Iterator[Browser]:
    """Chromium, launched once the proxy runs (its fixtures use asyncio.run, which Playwright's
    sync API, running a loop of its own, would refuse)."""
    with playwright_sync.sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


def test_sign_in_read_the_cache_page_pin_and_evict_from_it(
    browser: Browser, proxy: ProxyUnderTest, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(48 * KIB)
    with proxy.client() as device:
        assert fetch(device, blob.url_path).complete
        assert fetch(device, blob.url_path).complete
    page = browser.new_page()
    try:
        page.goto(f"{proxy.url}/dashboard/cache")
        assert page.url.endswith("/dashboard/login")  # refused without login
        page.fill("#token", "not-the-token")
        page.click("form[action='/dashboard/login'] button")
        assert page.text_content("#login-error") == "Wrong admin token."
        page.fill("#token", ADMIN_TOKEN)
        page.click("form[action='/dashboard/login'] button")
        assert page.text_content("h1") == "Overview"
        page.click("nav >> text=Cache")
        assert page.url.endswith("/dashboard/cache")
        stats = proxy.stats()
        deadline_reads = 0
        while page.get_attribute("#cache-size", "data-bytes") != str(stats["totals"]["size"]):
            deadline_reads += 1  # another test's fill landed between the two reads
            assert deadline_reads < 10
            page.reload()
            stats = proxy.stats()
        totals = stats["totals"]
        assert page.text_content("#cache-entries") == str(totals["entries"])
        row = page.locator(f'tr[data-snap="{blob.name}"]')
        if row.count():
            assert row.locator("td[data-bytes]").first.get_attribute("data-bytes") == str(
                stats["snaps"][blob.name]["bytes-from-cache"]
            )
        page.fill("#pin-name", blob.name)
        page.click("#pin-form button")
        assert page.text_content("#done") == f"{blob.name}: 1 cached blob(s) pinned"
        assert [entry["pinned"] for entry in proxy.entries(blob.name)] == [True]
        assert blob.name in (page.text_content("#pinned") or "")
        page.fill("#evict-name", blob.name)
        page.click("#evict-form button")
        assert page.text_content("#done") == f"{blob.name}: 1 cached blob(s) evicted"
        assert proxy.entries(blob.name) == []
        # The session cookie is out of the page's reach (HttpOnly).
        assert page.evaluate("document.cookie") == ""
    finally:
        page.close()


@pytest.mark.realclient
def test_a_snap_download_shows_in_fills_in_progress_then_in_the_counters(
    browser: Browser,
    proxy: ProxyUnderTest,
    sim: SimHandle,
    new_snap: Callable[[int], Blob],
    tmp_path: Path,
) -> None:
    """Debian's real ``snap download`` through the proxy, from a slow upstream: the cache
    page, opened before it started and never reloaded, shows the fill growing (its script
    reads the fills every two seconds), then the fill gone; reloaded, the counters count it."""
    blob = new_snap(8 * MIB)
    sim.set_faults(bandwidth_bps=MIB)  # about eight seconds
    page = browser.new_page()
    try:
        sign_in_page(page, proxy)
        page.goto(f"{proxy.url}/dashboard/cache")
        before = proxy.stats()["totals"]
        assert page.get_attribute("#bytes-from-upstream", "data-bytes") == str(
            before["bytes-from-upstream"]
        )
        assert not page.locator(f'#fills tr[data-snap="{blob.name}"]').count()
        results: list[SnapDownloadResult] = []
        downloading = threading.Thread(
            target=lambda: results.append(
                snap_download(proxy.url, blob.name, cwd=tmp_path / "client", timeout=120)
            )
        )
        downloading.start()
        try:
            row = page.wait_for_selector(f'#fills tr[data-snap="{blob.name}"]', timeout=30_000)
            assert row is not None
            bar = f'#fills tr[data-snap="{blob.name}"] progress'
            assert page.get_attribute(bar, "max") == str(blob.size)
            first = int(page.eval_on_selector(bar, "bar => bar.value"))
            assert 0 <= first < blob.size
            # The next readings grow (the page is not reloaded: its script updates it).
            page.wait_for_function(
                f"() => {{ const bar = document.querySelector('{bar}');"
                f" return bar !== null && bar.value > {first}; }}",
                timeout=30_000,
            )
            cells = page.locator(f'#fills tr[data-snap="{blob.name}"] td')
            assert cells.nth(0).text_content() == str(blob.revision)
            page.wait_for_selector(
                f'#fills tr[data-snap="{blob.name}"]', state="detached", timeout=60_000
            )
        finally:
            downloading.join(150)
        assert results, "snap download did not finish"
        result = results[0]
        assert result.sha3_384 == blob.sha3_384, result.describe()
        stats = proxy.stats()
        ours = stats["snaps"][blob.name]
        assert (ours["misses"], ours["bytes-from-upstream"], ours["bytes-relayed"]) == (
            1,
            blob.size,
            blob.size,
        )
        page.reload()
        totals = stats["totals"]
        for figure in ("bytes-from-upstream", "bytes-relayed", "bytes-from-cache"):
            assert page.get_attribute(f"#{figure}", "data-bytes") == str(totals[figure])
        assert totals["bytes-from-upstream"] - before["bytes-from-upstream"] == blob.size
        today = page.locator("#daily tbody tr").last
        upstream_today = today.locator("td[data-bytes]").nth(2).get_attribute("data-bytes")
        assert int(upstream_today or 0) >= blob.size
    finally:
        page.close()


def sign_in_page(page: Page, proxy: ProxyUnderTest) -> None:
    page.goto(f"{proxy.url}/dashboard/login")
    page.fill("#token", ADMIN_TOKEN)
    page.click("form[action='/dashboard/login'] button")
    assert page.text_content("h1") == "Overview"


def test_set_and_delete_an_override_and_read_the_docs_in_the_browser(
    browser: Browser, proxy: ProxyUnderTest, new_snap: Callable[[int], Blob]
) -> None:
    blob = new_snap(8 * KIB)
    page = browser.new_page()
    try:
        page.goto(f"{proxy.url}/dashboard/overrides")
        assert page.url.endswith("/dashboard/login")
        page.fill("#token", ADMIN_TOKEN)
        page.click("form[action='/dashboard/login'] button")
        page.click("nav >> text=Overrides")
        page.fill("#override-name", blob.name)
        page.fill("#override-channel", "stable")
        page.fill("#override-revision", str(blob.revision))
        page.click("#override-form button")
        assert page.text_content("#done") == f"{blob.name}: override set"
        with proxy.admin() as admin:
            (made,) = admin.get(f"/v2/metadata/overrides/{blob.name}").json()["overrides"]
        assert made["revision"] == blob.revision
        row = page.locator(f'tr[data-override="{blob.name} stable {made["architecture"]}"]')
        row.locator("button").click()
        assert page.text_content("#done") == f"{blob.name}: override deleted"
        with proxy.admin() as admin:
            assert admin.get(f"/v2/metadata/overrides/{blob.name}").json()["overrides"] == []
        # The documentation, with its screenshots loaded (the page's policy allows them).
        page.click("nav >> text=Documentation")
        page.click("text=The web dashboard")
        assert page.url.endswith("/docs/dashboard.md")
        images = page.locator("article img")
        assert images.count() >= 6
        # A function, not an expression: Playwright evaluates an expression with eval() on
        # each poll, which the dashboard's Content-Security-Policy refuses.
        page.wait_for_function("() => [...document.images].every(image => image.complete)")
        widths = page.evaluate(
            "[...document.querySelectorAll('article img')].map(i => i.naturalWidth)"
        )
        assert all(width > 0 for width in widths), widths
    finally:
        page.close()
