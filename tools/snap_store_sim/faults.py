"""Fault injection and traffic shaping, settable at start and at run time."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


class FaultError(ValueError):
    """A fault setting with an unknown name or a wrong type."""


@dataclass(frozen=True)
class Faults:
    latency_ms: int = 0
    bandwidth_bps: int | None = None
    error_status: int | None = None
    error_paths: list[str] | None = None
    hang: bool = False
    truncate_after: int | None = None
    corrupt: bool = False
    stall_after: int | None = None
    # How many more blob requests the faults apply to; after the last they clear themselves
    # (the request under way keeps them). None: until they are changed.
    requests: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any, base: Faults | None = None) -> Faults:
        """Validate ``data``; fields it leaves out come from ``base`` (or the defaults)."""
        if not isinstance(data, dict):
            raise FaultError("faults must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise FaultError(f"unknown fault setting(s): {', '.join(unknown)}")
        values = (base or cls()).to_json()
        for name, value in data.items():
            values[name] = _check(name, value)
        return cls(**values)

    def matches(self, path: str, default: bool) -> bool:
        """Whether error_status/hang apply to ``path``; ``default`` when no paths are set."""
        if self.error_paths is None:
            return default
        return any(path.startswith(prefix) for prefix in self.error_paths)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check(name: str, value: Any) -> Any:
    if name in ("hang", "corrupt"):
        if not isinstance(value, bool):
            raise FaultError(f"{name} must be true or false")
        return value
    if name == "error_paths":
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(p, str) and p for p in value)
        ):
            raise FaultError("error_paths must be null or a list of path prefixes")
        return value
    if name == "latency_ms":
        if not _is_int(value) or value < 0:
            raise FaultError("latency_ms must be an integer >= 0")
        return value
    if value is None:
        return None
    if not _is_int(value):
        raise FaultError(f"{name} must be null or an integer")
    if name == "error_status" and not 400 <= value <= 599:
        raise FaultError("error_status must be between 400 and 599")
    if name == "requests" and value < 1:
        raise FaultError("requests must be null or an integer >= 1")
    if name == "bandwidth_bps" and value <= 0:
        raise FaultError("bandwidth_bps must be > 0")
    if value < 0:
        raise FaultError(f"{name} must be >= 0")
    return value


class FaultState:
    """The current faults, plus a way to wait until they change."""

    def __init__(self, initial: Faults | None = None) -> None:
        self.current = initial or Faults()
        self._changed = asyncio.Event()

    def set(self, faults: Faults) -> None:
        self.current = faults
        self._changed.set()
        self._changed = asyncio.Event()

    def claim(self) -> Faults:
        """The faults one blob request gets. When they are limited to a number of requests,
        this one counts, and after the last they clear themselves for the requests after it."""
        faults = self.current
        if faults.requests is not None:
            left = faults.requests - 1
            self.set(replace(faults, requests=left) if left else Faults())
        return faults

    async def wait_change(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    async def hold(self, path: str, default: bool, limit: float = 600.0) -> None:
        """Hang while ``hang`` applies to ``path`` (at most ``limit`` seconds)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while self.current.hang and self.current.matches(path, default):
            left = deadline - loop.time()
            if left <= 0:
                return
            await self.wait_change(left)

    async def delay(self) -> None:
        if self.current.latency_ms:
            await asyncio.sleep(self.current.latency_ms / 1000)
