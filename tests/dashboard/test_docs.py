"""``/docs/``: the documentation rendered, public, through both gateways; links between
documents resolve (anchors included), unknown documents and paths that try to leave the
directory get a 404 page and nothing of any file."""

from __future__ import annotations

import http.client
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.dashboard.pages import browser
from tests.support.proxies import ProxyUnderTest

DOCS = Path(__file__).resolve().parents[2] / "docs"
_HREF = re.compile(r'href="([^"]+)"')
_SRC = re.compile(r'src="([^"]+)"')
_LINK = re.compile(r"\]\((#|[a-z0-9-]+\.md)")


def test_the_index_lists_every_document_without_login(proxy: ProxyUnderTest) -> None:
    with browser(proxy) as client:
        assert client.get("/docs").headers["location"] == "/docs/"
        index = client.get("/docs/")
    assert index.status_code == 200 and "<h1>Documentation</h1>" in index.text
    listed = set(re.findall(r'href="/docs/([a-z0-9-]+\.md)"', index.text))
    assert listed == {path.name for path in DOCS.glob("*.md")}
    assert "Sign out" not in index.text  # public: no session needed nor shown
    assert "<title>Documentation · snapproxy dashboard</title>" in index.text
    assert 'href="/dashboard/"' in index.text


def test_a_document_is_rendered_and_its_links_resolve(proxy: ProxyUnderTest) -> None:
    followed = 0
    with browser(proxy) as client:
        for name in ("dashboard.md", "admin-guide.md", "security.md"):
            page = client.get(f"/docs/{name}")
            assert page.status_code == 200, name
            assert page.headers["content-type"].startswith("text/html")
            source = (DOCS / name).read_text()
            title = source.splitlines()[0].removeprefix("# ").replace("`", "")
            assert '<h1 id="' in page.text and title.split("(")[0].strip() in page.text
            assert f"<title>{title.split('(')[0].strip()}" in page.text.replace("&#39;", "'")
            assert "<table>" in page.text or "|---" not in source  # tables are tables
            assert "<script" not in page.text
            for href in _HREF.findall(page.text):
                if href.startswith(("http://", "https://", "/dashboard", "/docs/")) or ".." in href:
                    continue
                target, _, anchor = href.partition("#")
                found = client.get(f"/docs/{target}") if target else page
                assert found.status_code == 200, f"{name}: {href}"
                if anchor:
                    assert f'id="{anchor}"' in found.text, f"{name}: {href}"
                followed += 1
            for src in _SRC.findall(page.text):
                image = client.get(f"/docs/{src}")
                assert image.status_code == 200, f"{name}: {src}"
                assert image.headers["content-type"] in {"image/png", "image/svg+xml"}
    # Every link the sources make to another document or a heading was followed.
    written = sum(
        len(_LINK.findall((DOCS / name).read_text()))
        for name in ("dashboard.md", "admin-guide.md", "security.md")
    )
    assert followed == written > 0


def test_an_unknown_document_gets_a_clear_404_page(proxy: ProxyUnderTest) -> None:
    with browser(proxy) as client:
        for path in ("/docs/no-such-doc.md", "/docs/README.md", "/docs/images/nope.png"):
            answer = client.get(path)
            assert answer.status_code == 404, path
            assert "No such document" in answer.text and "Traceback" not in answer.text


def _raw_get(url: str, path: str) -> tuple[int, str]:
    """GET ``path`` exactly as written (no client normalises its dots)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        connection.putrequest("GET", path, skip_accept_encoding=True)
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, answer.read().decode(errors="replace")
    finally:
        connection.close()


@pytest.mark.parametrize(
    "path",
    [
        "/docs/../pyproject.toml",
        "/docs/..%2fpyproject.toml",
        "/docs/%2e%2e/%2e%2e/etc/passwd",
        "/docs/images/../../pyproject.toml",
        "/docs/images/..%2f..%2fpyproject.toml",
        "/docs/profiles/%2e%2e%2fdashboard.md",
        "/docs//etc/passwd",
        "/docs/%2fetc%2fpasswd",
        "/docs/dashboard.md%00.png",
        "/docs/images/%2e%2e",
        "/docs/..\\pyproject.toml",
    ],
)
def test_paths_that_leave_the_directory_are_refused(proxy: ProxyUnderTest, path: str) -> None:
    status, body = _raw_get(proxy.url, path)
    assert status in {400, 404}, (path, status)
    assert "[project]" not in body and "root:x:0:0" not in body and "setuptools" not in body
    assert "# The web dashboard" not in body
