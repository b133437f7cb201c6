"""The header grammar, with snapd's own parser test cases."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.assertions import AssertionFormatError, HeaderValue
from shared.assertions.headers import encode_header, parse_headers, prune_value

PARSES: list[tuple[str, dict[str, HeaderValue]]] = [
    ("foo: 1\nbar: baz", {"foo": "1", "bar": "baz"}),
    ("foo:\n    abc\n    \nbar: baz", {"foo": "abc\n", "bar": "baz"}),
    ("foo: 1\nbar:\n    baz\n    ", {"foo": "1", "bar": "baz\n"}),
    ("foo: 1\nbar:\n    baz\n    \n    baz2", {"foo": "1", "bar": "baz\n\nbaz2"}),
    ("foo:\n  - x\n  - y\n  - z\nbar: baz", {"foo": ["x", "y", "z"], "bar": "baz"}),
    (
        "foo:\n  - x\n  -\n      y1\n      y2\n      \n  - z\nbar: baz",
        {"foo": ["x", "y1\ny2\n", "z"], "bar": "baz"},
    ),
    (
        "bar: baz\nfoo:\n  -\n    - u1\n    - u2\n  -\n      y1\n      y2\n      ",
        {"bar": "baz", "foo": [["u1", "u2"], "y1\ny2\n"]},
    ),
    (
        "foo:\n  x: X\n  yy: YY\n  z5: \nbar: baz",
        {"foo": {"x": "X", "yy": "YY", "z5": ""}, "bar": "baz"},
    ),
    (
        "foo:\n  x: X\n  yy:\n      YY1\n      YY2\n  u:\n    - u1\n    - u2\nbar: baz",
        {"foo": {"x": "X", "yy": "YY1\nYY2", "u": ["u1", "u2"]}, "bar": "baz"},
    ),
    ("one:\n  two:\n    three: ", {"one": {"two": {"three": ""}}}),
    ("one:\n  two:\n      three", {"one": {"two": "three"}}),
    (
        "list-of-maps:\n  -\n    entry: foo\n    bar: baz\n  -\n    entry: bar",
        {"list-of-maps": [{"entry": "foo", "bar": "baz"}, {"entry": "bar"}]},
    ),
    (
        "aliases:\n  -\n    name: foo\n    target: app\n"
        "plugs:\n  network-control:\n    allow-installation: true",
        {
            "aliases": [{"name": "foo", "target": "app"}],
            "plugs": {"network-control": {"allow-installation": "true"}},
        },
    ),
    ("a:  leading space ", {"a": " leading space "}),
    ("a: has: colon", {"a": "has: colon"}),
]


@pytest.mark.parametrize(("text", "expected"), PARSES)
def test_parse(text: str, expected: dict[str, HeaderValue]) -> None:
    assert parse_headers(text.encode()) == expected


@pytest.mark.parametrize(("text", "expected"), PARSES)
def test_encode_is_inverse_of_parse(text: str, expected: dict[str, HeaderValue]) -> None:
    encoded = "\n".join(encode_header(name, value) for name, value in expected.items())
    assert parse_headers(encoded.encode()) == expected


ERRORS = [
    ("foo:\n  x X\nbar: baz", "map entry missing ':' separator"),
    ("foo:\n  0x: X\nbar: baz", "invalid map entry key"),
    ("foo:\n  a: a\n  a: b", "repeated map entry"),
    ("foo: 1\nbar:baz", "should have a space or newline"),
    ("foo:\n - x\n  - y\nbar: baz", "expected 4 chars nesting prefix"),
    ("foo:\n  - x\nbar:", "expected 4 chars nesting prefix"),
    ("foo: 1\nfoo: 2", "repeated header"),
    ("Foo: 1", "invalid header name"),
    ("foo-: 1", "invalid header name"),
    ("foo--bar: 1", "invalid header name"),
    ("foo\n: 1", "missing ':'"),
    ("", "missing ':'"),
    ("foo: 1\n", "missing ':'"),
    ("foo:\n  -x", "should have a space or newline"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(AssertionFormatError, match=message):
        parse_headers(text.encode())


def test_not_utf8() -> None:
    with pytest.raises(AssertionFormatError, match="utf8"):
        parse_headers(b"foo: \xff")


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    text = "x:\n" + "".join("  " * i + "  -\n" for i in range(400)) + "  " * 400 + "  - leaf"
    with pytest.raises(AssertionFormatError, match="nested too deeply"):
        parse_headers(text.encode())


def test_encoding_layout() -> None:
    assert encode_header("a", "x") == "a: x"
    assert encode_header("a", "") == "a: "
    assert encode_header("a", "x\ny") == "a:\n    x\n    y"
    assert encode_header("m", {"b": "2", "a": "1"}) == "m:\n  a: 1\n  b: 2"
    assert encode_header("l", ["x", ["y"], {"k": "v\nw"}]) == (
        "l:\n  - x\n  -\n    - y\n  -\n    k:\n        v\n        w"
    )


def test_prune_drops_empty_containers() -> None:
    assert prune_value({"a": [], "b": {}, "c": [[], {}]}) is None
    assert prune_value(["x", [], {"k": []}]) == ["x"]
    with pytest.raises(AssertionFormatError):
        prune_value(["x", 3])
    with pytest.raises(AssertionFormatError):
        prune_value({"Bad": "x"})


NAMES = st.sampled_from(["a", "b", "name", "x-1", "z9", "snap-id", "a-b-c"])
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
VALUES: st.SearchStrategy[HeaderValue] = st.recursive(
    TEXT,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=4)
        | st.dictionaries(NAMES, inner, min_size=1, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(NAMES, VALUES, min_size=1, max_size=5))
def test_random_values_round_trip(headers: dict[str, HeaderValue]) -> None:
    encoded = "\n".join(encode_header(name, value) for name, value in headers.items())
    assert parse_headers(encoded.encode()) == headers


LINE_BODIES = ["-", "- x", "a:", "a: v", "b:", "b: ", "x", "", "-x", "a:b", "- a: v", "A: v"]
HEADER_LINES = st.lists(
    st.tuples(st.integers(0, 10), st.sampled_from(LINE_BODIES)), min_size=1, max_size=14
).map(lambda lines: "\n".join(" " * indent + body for indent, body in lines).encode())


@settings(max_examples=400, deadline=None)
@given(HEADER_LINES)
def test_parse_of_random_layouts_is_stable(text: bytes) -> None:
    """Arbitrary layouts either fail cleanly or parse to values that encode and reparse equal."""
    try:
        headers = parse_headers(text)
    except AssertionFormatError:
        return
    pruned = {name: prune_value(value) for name, value in headers.items()}
    kept = {name: value for name, value in pruned.items() if value is not None}
    encoded = "\n".join(encode_header(name, value) for name, value in kept.items())
    if kept:
        assert parse_headers(encoded.encode()) == kept
