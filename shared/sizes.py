"""Byte counts as people read them (the CLI's tables and the dashboard's pages)."""

from __future__ import annotations


def human_size(size: int | None) -> str:
    """``1.5 GiB``; None (a cache without a size cap) is ``no cap``."""
    if size is None:
        return "no cap"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def signed_size(size: int) -> str:
    """A size that may be below zero (bytes saved, while fetched blobs wait for clients)."""
    return f"-{human_size(-size)}" if size < 0 else human_size(size)
