"""What a device's request headers say about it: its architecture and series, under the v2
names (``Snap-Device-*``) or the v1 ones (``X-Ubuntu-*``). Each path's own names count
first: the v1 ones on v1 paths (downloads), where snapd sends them. Header names are matched
in any letter case."""

from __future__ import annotations

from collections.abc import Mapping


def _header(headers: Mapping[str, str], v2: str, v1: str, v1_path: bool) -> str | None:
    folded = {name.lower(): value for name, value in headers.items()}
    for name in (v1, v2) if v1_path else (v2, v1):
        if folded.get(name):
            return folded[name]
    return None


def device_architecture(headers: Mapping[str, str], *, v1_path: bool = False) -> str | None:
    """The architecture the device said it is; None when it did not say (never a default:
    an answer for another architecture would install the wrong binary)."""
    return _header(headers, "snap-device-architecture", "x-ubuntu-architecture", v1_path)


def device_series(headers: Mapping[str, str], *, v1_path: bool = False) -> str | None:
    return _header(headers, "snap-device-series", "x-ubuntu-series", v1_path)
