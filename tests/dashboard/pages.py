"""Signing in to the dashboard and reading its pages, over HTTP as a browser does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser

import httpx

from tests.support.proxies import ADMIN_TOKEN, ProxyUnderTest

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, html[:500]
    return found.group(1)


def browser(proxy: ProxyUnderTest) -> httpx.Client:
    return httpx.Client(base_url=proxy.url, timeout=60, follow_redirects=False)


def sign_in(client: httpx.Client, token: str = ADMIN_TOKEN) -> httpx.Response:
    form = client.get("/dashboard/login")
    assert form.status_code == 200, form.text
    return client.post("/dashboard/login", data={"csrf": csrf_of(form.text), "token": token})


@contextmanager
def signed_in(proxy: ProxyUnderTest) -> Iterator[httpx.Client]:
    with browser(proxy) as client:
        answer = sign_in(client)
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == "/dashboard/"
        yield client


class Ids(HTMLParser):
    """The text and ``data-bytes`` of every element with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.text: dict[str, str] = {}
        self.data_bytes: dict[str, str] = {}
        self._open: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        ident = found.get("id")
        if ident and "data-bytes" in found:
            self.data_bytes[ident] = found["data-bytes"] or ""
        if tag in {"input", "meta", "link", "br", "option"}:
            return
        self._open.append(ident)
        if ident:
            self.text.setdefault(ident, "")

    def handle_endtag(self, tag: str) -> None:
        for ident in self._open:  # cells and lines read apart: "a b", not "ab"
            if ident:
                self.text[ident] += " "
        if tag not in {"input", "meta", "link", "br", "option"} and self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        for ident in self._open:
            if ident:
                self.text[ident] += data


def ids(html: str) -> Ids:
    parser = Ids()
    parser.feed(html)
    for key, value in parser.text.items():
        parser.text[key] = " ".join(value.split())
    return parser
