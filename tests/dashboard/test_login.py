"""Signing in to the dashboard, pages refused without it, and CSRF tokens enforced."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.dashboard.pages import browser, csrf_of, ids, sign_in, signed_in
from tests.support.cache import KIB, Blob, fetch
from tests.support.proxies import ADMIN_TOKEN, ProxyUnderTest

PAGES = ("/dashboard/", "/dashboard/cache", "/dashboard/devices", "/dashboard/overrides")


def test_pages_are_refused_without_login(proxy: ProxyUnderTest) -> None:
    with browser(proxy) as client:
        for page in PAGES:
            answer = client.get(page)
            assert answer.status_code == 303, page
            assert answer.headers["location"] == "/dashboard/login"
        # A forged or altered session cookie is no better.
        with signed_in(proxy) as signed:
            cookie = signed.cookies["snapproxy_dashboard"]
            payload, signature = cookie.split(".")
            for forged in (f"{payload}.{signature[:-2]}AA", f"{payload}x.{signature}", "junk"):
                client.cookies.set("snapproxy_dashboard", forged, path="/dashboard/")
                assert client.get("/dashboard/cache").status_code == 303
            assert signed.get("/dashboard/cache").status_code == 200
    with browser(proxy) as client:
        assert client.get("/dashboard").headers["location"] == "/dashboard/"


def test_the_login_sets_a_strict_http_only_cookie(proxy: ProxyUnderTest) -> None:
    with browser(proxy) as client:
        answer = sign_in(client)
        assert answer.status_code == 303
        set_cookie = answer.headers["set-cookie"]
        attributes = {part.strip().split("=")[0].lower() for part in set_cookie.split(";")}
        assert {"httponly", "samesite", "path"} <= attributes
        assert "samesite=strict" in set_cookie.lower()
        assert "path=/dashboard/" in set_cookie.lower()
        assert "secure" not in attributes  # plain HTTP here; see test_secure_cookie_over_https
        assert ADMIN_TOKEN not in set_cookie
        page = client.get("/dashboard/")
        assert page.status_code == 200 and "<h1>Overview</h1>" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


@pytest.mark.parametrize("token", ["wrong-token", "", "x" * 5000, "'; DROP TABLE x; --"])
def test_a_wrong_token_gets_the_login_page_with_an_error(proxy: ProxyUnderTest, token: str) -> None:
    with browser(proxy) as client:
        answer = sign_in(client, token)
        assert answer.status_code == 401
        assert "Wrong admin token." in answer.text
        assert 'id="token"' in answer.text  # the form again
        assert "Traceback" not in answer.text and "error-list" not in answer.text
        assert client.get("/dashboard/").status_code == 303


def test_the_login_form_needs_its_csrf_token(proxy: ProxyUnderTest) -> None:
    with browser(proxy) as client:
        client.get("/dashboard/login")
        answer = client.post("/dashboard/login", data={"token": ADMIN_TOKEN})
        assert answer.status_code == 403 and "expired" in answer.text
        answer = client.post("/dashboard/login", data={"token": ADMIN_TOKEN, "csrf": "nope"})
        assert answer.status_code == 403
        assert client.get("/dashboard/").status_code == 303


def _cached(proxy: ProxyUnderTest, new_snap: Callable[[int], Blob]) -> Blob:
    blob = new_snap(32 * KIB)
    with proxy.client() as client:
        assert fetch(client, blob.url_path).complete
    assert len(proxy.entries(blob.name)) == 1
    return blob


def test_forms_are_refused_without_the_sessions_csrf_token(
    proxy: ProxyUnderTest, new_snap: Callable[[int], Blob]
) -> None:
    blob = _cached(proxy, new_snap)
    with signed_in(proxy) as client, signed_in(proxy) as other:
        other_csrf = csrf_of(other.get("/dashboard/cache").text)
        for form in (
            {"name": blob.name},
            {"name": blob.name, "csrf": "wrong"},
            {"name": blob.name, "csrf": other_csrf},
        ):
            for action in ("evict", "pin"):
                answer = client.post(f"/dashboard/cache/{action}", data=form)
                assert answer.status_code == 403, (action, form)
                assert "CSRF" in answer.text
        (entry,) = proxy.entries(blob.name)
        assert entry["pinned"] is False
        assert client.post("/dashboard/logout", data={}).status_code == 403
        crowded = "&".join(f"f{number}=x" for number in range(50)) + f"&name={blob.name}"
        answer = client.post(
            "/dashboard/cache/evict",
            content=crowded,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 403  # too many fields: read as no form, no token
        assert client.get("/dashboard/").status_code == 200  # still signed in
    # Without a session, a form sends the browser to the login page and changes nothing.
    with browser(proxy) as anonymous:
        answer = anonymous.post("/dashboard/cache/evict", data={"name": blob.name, "csrf": "x"})
        assert answer.status_code == 303 and answer.headers["location"] == "/dashboard/login"
    assert len(proxy.entries(blob.name)) == 1


def test_pin_and_evict_from_the_page(
    proxy: ProxyUnderTest, new_snap: Callable[[int], Blob]
) -> None:
    blob = _cached(proxy, new_snap)
    with signed_in(proxy) as client:
        csrf = csrf_of(client.get("/dashboard/cache").text)
        answer = client.post("/dashboard/cache/pin", data={"name": blob.name, "csrf": csrf})
        assert answer.status_code == 303
        assert [entry["pinned"] for entry in proxy.entries(blob.name)] == [True]
        page = client.get(answer.headers["location"])
        assert f"{blob.name}: 1 cached blob(s) pinned" in page.text
        with proxy.admin() as admin:
            pinned = admin.get("/v1/cache/pinned").json()["names"]
        assert blob.name in pinned
        assert ids(page.text).text["pinned"] == ", ".join(pinned)
        client.post("/dashboard/cache/unpin", data={"name": blob.name, "csrf": csrf})
        assert [entry["pinned"] for entry in proxy.entries(blob.name)] == [False]
        answer = client.post("/dashboard/cache/evict", data={"name": blob.name, "csrf": csrf})
        assert answer.status_code == 303
        assert proxy.entries(blob.name) == []
        bad = client.post("/dashboard/cache/evict", data={"name": "Not A Name", "csrf": csrf})
        assert bad.status_code == 400 and "not a snap name" in bad.text
        assert "Traceback" not in bad.text
        assert client.post("/dashboard/logout", data={"csrf": csrf}).status_code == 303
        assert client.get("/dashboard/").status_code == 303
