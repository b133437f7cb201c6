"""The documentation (``docs/*.md``) as HTML, for ``/docs/`` (``docs_routes``).

Rendered server-side with markdown-it-py (CommonMark, with tables and strikethrough; raw
HTML in a document is shown as text, never passed through). Headings get GitHub's anchors
(``#2a-a-certificate-of-your-own-...``), so the links between documents work as written
(``tls.md#...``): a document is served at ``/docs/NAME.md``, next to its images.

A document is found only by a name listed in the directory that matches ``NAME.md``
(lowercase letters, digits, hyphens), an image only by such a name in one of the image
directories: nothing a request says is ever joined to a path unchecked.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

DOC_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}\.md")
ASSET_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}\.(png|svg)")
ASSET_DIRS = ("images", "profiles")
MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}
_SLUG_DROP = re.compile(r"[^\w\- ]")


def docs_directory() -> Path | None:
    """The source checkout's ``docs/`` (``make run``), else the installed copy the wheel
    puts under ``<prefix>/share/doc/snapproxy`` (the container image); None if neither."""
    for found in (
        Path(__file__).resolve().parents[3] / "docs",
        Path(sys.prefix) / "share" / "doc" / "snapproxy",
    ):
        if (found / "dashboard.md").is_file():
            return found
    return None


def slug(text: str, seen: dict[str, int]) -> str:
    """GitHub's heading anchor: lowercase, punctuation dropped, spaces to hyphens; a
    repeated one gets ``-1``, ``-2``..."""
    base = _SLUG_DROP.sub("", text.strip().lower()).replace(" ", "-")
    count = seen.get(base, 0)
    seen[base] = count + 1
    return base if count == 0 else f"{base}-{count}"


@dataclass(frozen=True)
class Doc:
    name: str
    title: str
    html: str


class DocsLibrary:
    """The documents of one directory, rendered once each (again when the file changes).
    Blocking (file reads): the routes call it in a worker thread."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.markdown = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
        self._rendered: dict[str, tuple[float, Doc]] = {}

    def names(self) -> list[str]:
        if self.directory is None:
            return []
        return sorted(p.name for p in self.directory.iterdir() if DOC_NAME.fullmatch(p.name))

    def index(self) -> list[tuple[str, str]]:
        """(name, title) of every document; the title is its first ``# `` line."""
        found = []
        for name in self.names():
            assert self.directory is not None
            with (self.directory / name).open(encoding="utf-8") as lines:
                first = next((line for line in lines if line.startswith("# ")), "")
            found.append((name, first[2:].strip().replace("`", "") or name))
        return found

    def doc(self, name: str) -> Doc | None:
        if self.directory is None or not DOC_NAME.fullmatch(name) or name not in self.names():
            return None
        path = self.directory / name
        mtime = path.stat().st_mtime
        cached = self._rendered.get(name)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        doc = self._render(name, path.read_text(encoding="utf-8"))
        self._rendered[name] = (mtime, doc)
        return doc

    def asset(self, folder: str, name: str) -> tuple[bytes, str] | None:
        """An image a document shows (``images/NAME.png``, ``profiles/NAME.svg``)."""
        found = ASSET_NAME.fullmatch(name)
        if self.directory is None or folder not in ASSET_DIRS or found is None:
            return None
        where = self.directory / folder
        if not where.is_dir() or name not in {p.name for p in where.iterdir()}:
            return None
        return (where / name).read_bytes(), MEDIA_TYPES[found.group(1)]

    def _render(self, name: str, text: str) -> Doc:
        tokens = self.markdown.parse(text)
        seen: dict[str, int] = {}
        title = name.removesuffix(".md")
        for at, token in enumerate(tokens):
            if token.type == "heading_open":
                heading = tokens[at + 1].content
                token.attrSet("id", slug(heading, seen))
                if token.tag == "h1" and title == name.removesuffix(".md"):
                    title = heading.replace("`", "")
        html = self.markdown.renderer.render(tokens, self.markdown.options, {})
        return Doc(name, title, html)
