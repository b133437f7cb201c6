"""``Range`` headers as the download path reads them (services/downloads/ranges.py)."""

from __future__ import annotations

import pytest

from services.downloads.errors import RangeNotSatisfiable
from services.downloads.ranges import parse_range
from shared.errors import BadRequest

SIZE = 100


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("bytes=0-", (0, 99)),
        ("bytes=10-19", (10, 19)),
        ("bytes=10-1000", (10, 99)),  # past the end: up to the end
        ("bytes=99-99", (99, 99)),
        ("bytes=-10", (90, 99)),  # the last 10 bytes
        ("bytes=-1000", (0, 99)),
        (" bytes = 5 - 9 ", (5, 9)),
        ("bytes=20-10", None),  # invalid: the whole file, as RFC 9110 allows
        ("bytes=150-120", None),
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
        ("items=0-1", None),
        ("bytes=-", None),
        ("bytes=a-b", None),
    ],
)
def test_a_single_range_or_the_whole_file(
    header: str | None, expected: tuple[int, int] | None
) -> None:
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize(
    "header",
    [
        "bytes=100-",
        "bytes=500-",
        "bytes=500-600",
        "bytes=-0",
    ],
)
def test_a_range_outside_the_file_is_not_satisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as raised:
        parse_range(header, SIZE)
    assert raised.value.status_code == 416
    assert raised.value.headers["Content-Range"] == f"bytes */{SIZE}"


@pytest.mark.parametrize(
    "header",
    ["bytes=" + "9" * 20 + "-", "bytes=0-" + "9" * 20, "bytes=" + "0" * 300 + "-"],
    ids=["start-digits", "end-digits", "too-long"],
)
def test_absurd_numbers_are_a_bad_request(header: str) -> None:
    with pytest.raises(BadRequest):
        parse_range(header, SIZE)


def test_the_largest_offsets_a_file_can_have_are_read() -> None:
    size = 2**63
    assert parse_range(f"bytes={size - 1}-", size) == (size - 1, size - 1)
