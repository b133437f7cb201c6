"""Wall-clock time of each step of the compose test, printed at the end of the run."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

# (depth, label, seconds) in the order the steps started; a nested step is inside the one before
TIMINGS: list[tuple[int, str, float]] = []
_depth = 0


@contextlib.contextmanager
def step(label: str) -> Iterator[None]:
    global _depth
    started = time.monotonic()
    index = len(TIMINGS)
    TIMINGS.append((_depth, label, 0.0))
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        TIMINGS[index] = (_depth, label, time.monotonic() - started)


def report() -> list[str]:
    lines = [f"{seconds:7.1f} s  {'  ' * depth}{label}" for depth, label, seconds in TIMINGS]
    if TIMINGS:
        total = sum(seconds for depth, _, seconds in TIMINGS if depth == 0)
        lines.append(f"{total:7.1f} s  in all (outermost steps)")
    return lines
