"""The raw material of ``tests/support/rawfuzz.py``: odd header values, hosts, ranges, chunked
framings, bodies and request lines. Lists are what a mutation picks from; functions build
what is better generated (numbers, nesting, lengths) from the case's own ``random.Random``.
"""

from __future__ import annotations

import json
import random
from typing import Any

from tests.support.proxies import DEVICE_HEADERS

DEVICE = DEVICE_HEADERS
# Canonical's root account-key (tests/fixtures/canonical-assertions/key-root.assert).
CANONICAL_KEY = b"-CvQKAwRQ5h3Ffn10FILJoEZUXOv6km9FwA80-Rcj-f-6jadQ89VRswHNiEB9Lxk"

# -- headers ------------------------------------------------------------------------------

HEADER_KINDS = (
    "non-ascii", "control", "huge", "repeated", "many", "no-host", "host", "host",
    "credentials", "credentials", "forwarded", "forwarded", "bad-name", "folded", "expect",
)  # fmt: skip
HEADER_NAMES = (
    b"User-Agent", b"Snap-Device-Series", b"Snap-Device-Architecture", b"Snap-Device-Store",
    b"Snap-Classic", b"Accept", b"Authorization", b"Snap-Device-Authorization",
    b"X-Ubuntu-Series", b"Snap-Refresh-Reason", b"Content-Type", b"Cookie", b"X-Request-Id",
    b"X-Forwarded-For", b"X-Forwarded-Host", b"Snapproxy-Internal-Secret", b"Range",
    b"If-None-Match", b"If-Modified-Since", b"X-Anything",
)  # fmt: skip
HOSTS = (
    b"[::1]", b"[::1]:8000", b"[::1", b"::1", b"[fe80::1%25eth0]:80", b"[::ffff:127.0.0.1]",
    b"[v1.fe]", b"127.0.0.1:99999", b"127.0.0.1:-1", b"127.0.0.1:abc", b"127.0.0.1:",
    b"host:80:80", b"user@host", b"user:pw@host:1", b"host/path", b"host?q", b"host#f", b"",
    b" ", b"a b", b"\xc3\xa9vil.example", b"\xff", b"xn--e1afmkfd.example", b"a" * 300,
    b"example.com.", b"..", b"%41", b"host\tx", b'"quoted"', b"$(reboot)", b"`id`", b"h;rm -rf",
)  # fmt: skip
FORWARDED = (
    (b"X-Forwarded-For", b"1.2.3.4"), (b"X-Forwarded-For", b"::1, 10.0.0.1, garbage"),
    (b"X-Forwarded-For", b"\xff\xfe"), (b"X-Forwarded-For", b", , ,"),
    (b"X-Forwarded-For", b"999.999.999.999"), (b"X-Forwarded-For", b"[::1]:80"),
    (b"X-Forwarded-Host", b"evil.example"), (b"X-Forwarded-Host", b"[::1"),
    (b"X-Forwarded-Host", b"a b"), (b"X-Forwarded-Host", b"x, y, $(id)"),
    (b"X-Forwarded-Proto", b"gopher"), (b"X-Forwarded-Proto", b"https, javascript"),
    (b"X-Forwarded-Proto", b""), (b"X-Forwarded-Port", b"-5"),
    (b"Forwarded", b"for=1.2.3.4;host=evil;proto=https"), (b"X-Real-IP", b"\x00"),
)  # fmt: skip
BAD_NAMES = (
    b"Bad Name", b"Bad:Name", b"", b" Leading", b"Trailing ", b"N\xe4me", b"N\x00me", b"(x)",
    b"X\x7f", b"\tTab", b"a" * 9000,
)  # fmt: skip


def credentials(admin_token: str) -> list[tuple[bytes, bytes]]:
    token = admin_token.encode()
    return [
        (b"Authorization", b"Bearer " + token),
        (b"Authorization", b"Bearer " + token + b"x"),
        (b"Authorization", b"bearer   " + token + b"  "),
        (b"Authorization", b"Bearer"),
        (b"Authorization", b"Bearer \xff" + token),
        (b"Authorization", b"Basic YWRtaW46YWRtaW4="),
        (b"Authorization", b'Macaroon root="x", discharge="y"'),
        (b"Authorization", b"Macaroon \xff"),
        (b"Authorization", b"Macaroon " + b"m" * 20000),
        (b"Authorization", b""),
        (b"Snap-Device-Authorization", b'Macaroon root="\xc3\xa9"'),
        (b"Snap-Device-Authorization", b"garbage"),
        (b"X-Device-Authorization", b"Macaroon x"),
        (b"Snapproxy-Internal-Secret", b"guess"),
        (b"Snapproxy-Internal-Secret", b"\xff" * 40),
        (b"Snapproxy-Internal-Secret", b""),
    ]


def non_ascii(rng: random.Random) -> bytes:
    return bytes(
        rng.choice((0x80, 0xA0, 0xC3, 0xE9, 0xFF, 0x41)) for _ in range(rng.randint(1, 40))
    )


def with_control(rng: random.Random) -> bytes:
    control = rng.choice((b"\x00", b"\x01", b"\x07", b"\x0b", b"\x0c", b"\x1b", b"\x7f", b"\r"))
    return b"amd" + control + b"64"


# -- Range --------------------------------------------------------------------------------

RANGES = (
    b"bytes=0-0", b"bytes=0-", b"bytes=-1", b"bytes=-0", b"bytes=0-0,2-3,5-", b"bytes=5-2",
    b"bytes=-99999999999", b"bytes=99999999999999999999-", b"bytes=18446744073709551616-1",
    b"bytes=0-99999999999999999999999", b"bytes=" + b"1" * 5000 + b"-", b"bytes=", b"bytes",
    b"bytes=-", b"bytes=--1", b"bytes=1--2", b"bytes=a-b", b"bytes=0x10-", b"bytes=1.5-2",
    b"bytes=+1-2", b"bytes = 1 - 2", b"Bytes=0-1", b"items=0-5", b"none", b"=0-1", b"bytes=,",
    b"bytes=0-1,,", b"bytes=\xff-", b"bytes=\xb2-", b"bytes=0-1;x", b"bytes=0-1\t",
)  # fmt: skip


def range_value(rng: random.Random) -> bytes:
    pick = rng.random()
    if pick < 0.5:
        return rng.choice(RANGES)
    if pick < 0.8:
        first = rng.choice((0, 1, 100, 4095, 4096, 10**6, 2**31, 2**63 - 1, 2**63, 2**64))
        last = rng.choice((b"", b"%d" % rng.choice((0, 1, 99, 2**63, 10**30))))
        return b"bytes=%d-%s" % (first, last)
    parts = [
        rng.choice((b"%d-%d" % (n, n + rng.randint(0, 50)), b"-%d" % n, b"%d-" % n))
        for n in (rng.randint(0, 5000) for _ in range(rng.choice((2, 3, 50, 200, 2000))))
    ]
    return b"bytes=" + b",".join(parts)


# -- body framing -------------------------------------------------------------------------

FRAMING_KINDS = (
    "chunked", "chunked-extras", "bad-size", "no-terminator", "no-crlf", "short-chunk",
    "both", "odd-te", "bad-length", "short-body", "long-body",
)  # fmt: skip
BAD_SIZES = (
    b"zz", b"-1", b"0x10", b" 5", b"5 5", b"fffffffffffffffffff0", b"1" * 100, b"",
    b"\xff", b"5\x00", b"+5",
)  # fmt: skip
ODD_TE = (
    b"gzip", b"gzip, chunked", b"chunked, gzip", b"chunked, chunked", b"identity",
    b"identity, chunked", b" chunked", b"chunked\x00", b"chunk", b"\xffchunked", b"",
)  # fmt: skip
BAD_LENGTHS = (b"-1", b"abc", b"1,1", b"+5", b"0x10", b"1 2", b"99999999999999999999999", b"")


def chunked(rng: random.Random, body: bytes) -> bytes:
    """``body`` in chunks of random sizes, terminated as it should be."""
    out = bytearray()
    at = 0
    while at < len(body):
        size = rng.choice((1, 7, 100, 4096, 70000))
        piece = body[at : at + size]
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
        at += size
    return bytes(out) + b"0\r\n\r\n"


def chunked_with_extras(rng: random.Random, body: bytes) -> bytes:
    """Well-formed chunked framing with chunk extensions, upper-case sizes and trailers."""
    out = b""
    if body:  # a chunk of size 0 is the last one: every chunk before it holds something
        half = max(1, len(body) // 2)
        out = b"%X;name=value\r\n%s\r\n" % (half, body[:half])
        if body[half:]:
            out += b'%x;a;b="q"\r\n%s\r\n' % (len(body) - half, body[half:])
    trailer = rng.choice((b"", b"X-Trailer: 1\r\n", b"Snap-Device-Series: 99\r\nX-T: \xff\r\n"))
    return out + b"0\r\n" + trailer + b"\r\n"


# -- bodies -------------------------------------------------------------------------------

BODY_KINDS = (
    "invalid-json", "invalid-utf8", "surrogate", "deep", "huge-array", "over-limit",
    "wrong-types", "wrong-types", "numbers", "empty", "bom", "duplicate-keys",
)  # fmt: skip
POST_TARGETS = (
    b"/v2/snaps/refresh", b"/v2/snaps/refresh", b"/v2/snaps/refresh",
    b"/api/v1/snaps/auth/sessions", b"/api/v1/snaps/auth/nonces", b"/v1/cache/evict",
    b"/v1/cache/pin", b"/v1/cache/verify",
)  # fmt: skip
WRONG_VALUES: tuple[Any, ...] = (
    None, True, 0, -1, 2**31, 2**63, 2**100, 1.5, "", "x" * 5000, [], {}, [1], {"a": 1},
    "\u0000", "\ud800", "../../etc", "hello-sim\n", float("nan"),
)  # fmt: skip


def refresh_document(rng: random.Random, snap: str) -> dict[str, Any]:
    action = rng.choice(("install", "download", "refresh"))
    entry: dict[str, Any] = {"action": action, "instance-key": "k-1", "epoch": None}
    if action == "refresh":
        entry["snap-id"] = "tKON2tQqjAfqXvA5kwltUvEt7VqzquO8"
    else:
        entry["name"] = snap
    if rng.random() < 0.3:
        entry["channel"] = rng.choice(("stable", "latest/edge", "2.0/stable"))
    return {"context": [], "actions": [entry], "fields": ["download", "revision", "version"]}


def session_document(rng: random.Random) -> dict[str, Any]:
    return {
        "device-session-request": "type: device-session-request\n",
        "serial-assertion": "type: serial\n",
        "model-assertion": "type: model\n",
    }


def _wrong_types(rng: random.Random, snap: str) -> bytes:
    document = refresh_document(rng, snap)
    where = rng.choice(("action", "context", "top", "fields"))
    value = rng.choice(WRONG_VALUES)
    if where == "action":
        key = rng.choice(("action", "instance-key", "name", "snap-id", "revision", "channel",
                          "cohort-key", "epoch", "key", "assertions"))  # fmt: skip
        document["actions"][0][key] = value
    elif where == "context":
        document["context"] = rng.choice(
            (value, [value], [{"snap-id": value, "instance-key": "k", "revision": 1}])
        )
    elif where == "fields":
        document["fields"] = rng.choice((value, [value]))
    else:
        document[rng.choice(("actions", "context", "fields"))] = value
    return json.dumps(document).encode()


def body(rng: random.Random, kind: str, snap: str) -> bytes:
    valid = json.dumps(refresh_document(rng, snap)).encode()
    if kind == "invalid-json":
        return rng.choice((valid[:-1], valid + b"}", b"{'a': 1}", b"{", b"nul", b"[1,]", b"\x00"))
    if kind == "invalid-utf8":
        return valid.replace(snap.encode(), rng.choice((b"\xff", b"\xc3", b"\xed\xa0\x80")))
    if kind == "surrogate":
        return valid.replace(snap.encode(), rng.choice((b"\\ud800", b"\\udfff", b"a\\ud83d")))
    if kind == "deep":
        depth = rng.choice((100, 1000, 10000, 100000))
        opener, closer = rng.choice(((b"[", b"]"), (b'{"a":', b"}")))
        return b'{"actions":' + opener * depth + b"1" + closer * depth + b"}"
    if kind == "huge-array":
        count = rng.choice((1000, 50000, 200000))
        item = rng.choice((b"1", b'"x"', b"{}", valid))
        return b'{"context":[],"actions":[' + b",".join([item] * count)[:1000000] + b"]}"
    if kind == "over-limit":
        return b'{"actions":[],"pad":"' + b"x" * (1024 * 1024 + rng.randint(1, 10000)) + b'"}'
    if kind == "wrong-types":
        return _wrong_types(rng, snap)
    if kind == "numbers":
        number = rng.choice((b"1e999999", b"-0", b"NaN", b"Infinity", b"1" * 5000, b"0.1e-99999"))
        return (
            b'{"context":[],"actions":[{"action":"install","instance-key":"k","name":"%s",'
            b'"revision":%s}]}' % (snap.encode(), number)
        )
    if kind == "empty":
        return b""
    if kind == "bom":
        return b"\xef\xbb\xbf" + valid
    return valid[:-1] + b',"actions":[],"actions":7}'  # duplicate keys


# -- request lines ------------------------------------------------------------------------

LINE_KINDS = (
    "method", "absolute", "asterisk", "connect", "percent", "traversal", "traversal", "long",
    "query", "version", "target-bytes",
)  # fmt: skip
# CONNECT takes only these (authority-form); with any other target it is malformed.
AUTHORITIES = (b"proxy.test:443", b"[::1]:80", b"127.0.0.1:5432", b"evil.example:25", b"x:0")
METHODS = (
    (b"PUT", True), (b"DELETE", True), (b"PATCH", True), (b"OPTIONS", True), (b"TRACE", True),
    (b"CONNECT", False), (b"PROPFIND", True), (b"get", True), (b"GeT", True), (b"BREW", True),
    (b"M" * 5000, True), (b"G\x00T", False), (b"G T", False), (b"", False), (b"\xff", False),
)  # fmt: skip
ABSOLUTE_PREFIXES = (
    b"http://proxy.test", b"http://[::1]:80", b"https://evil.example", b"ftp://x",
    b"http://user:pw@h", b"http://", b"//evil.example",
)  # fmt: skip
TRAVERSALS = (
    b"/v2/snaps/../../_internal/resolve", b"/_internal/resolve", b"/_internal/observations",
    b"/_internal/revisions/x/1", b"/%5finternal/resolve", b"/v1/../_internal/resolve",
    b"/v1/cache/%2e%2e/%2e%2e/_internal/resolve", b"/download/..%2f..%2fetc%2fpasswd",
    b"/download/../../../../etc/passwd", b"/api/v1/snaps/download/..%2F_internal%2Fresolve",
    b"/_status/revisions/../../_internal/resolve", b"/_status/revisions/%2e%2e/_internal/x",
    b"/_cache/", b"/_cache/x", b"/_bad_request", b"//v2//snaps//info//hello-sim",
    b"/v2/snaps/info/.", b"/v2/snaps/info/..", b"/v2/snaps/info/%00", b"/./v1/devices",
    b"/v2/snaps/info/hello-sim/", b"/api/v1/snaps/download/", b"/download/%ff.snap",
    b"/download/a_1.snap%00.txt", b"/v1/cache/stats/../../../v1/devices",
)  # fmt: skip
QUERIES = (
    (b"&&&", True), (b"=", True), (b"a=%zz", True), (b"a=%ff%fe", True),
    (b"q=" + b"x" * 9000, True),
    (b"q=\xff", False), (b"fields=" + b",".join([b"f"] * 3000), True), (b"a[]=1&a[]=2", True),
    (b"architecture=&architecture=amd64&architecture=\x00", False), (b"%", True), (b"?", True),
)  # fmt: skip
VERSIONS = (
    (b"HTTP/1.0", True), (b"HTTP/1.2", False), (b"HTTP/2.0", False), (b"HTTP/0.9", False),
    (b"HTTP/1", False), (b"http/1.1", False), (b"HTTP/1.1 extra", False), (b"", False),
    (b"HTTP/11.1", False), (b"HTTPS/1.1", False),
)  # fmt: skip


def percent_mangle(rng: random.Random, target: bytes) -> bytes:
    path, sep, query = target.partition(b"?")
    out = bytearray()
    for byte in path:
        roll = rng.random()
        if roll < 0.15 and byte != ord("/"):
            out += b"%%%02X" % byte
        elif roll < 0.18:
            out += rng.choice((b"%2f", b"%2F", b"%00", b"%ff", b"%zz", b"%", b"%25", b"%2e"))
        else:
            out.append(byte)
    return bytes(out) + sep + query
