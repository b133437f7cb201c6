"""The mutations of the raw-socket fuzzer (``tests/support/rawfuzz.py``): a request under
construction (:class:`Draft`), and five ways to spoil it: its headers, its ``Range``, its
body framing, its body, its request line. Each changes the draft in place and says whether
the request is still well-framed (``valid``), and whether it is incomplete (``finish``).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

from tests.support import rawfuzz_values as values


@dataclass(frozen=True)
class Target:
    """What the generator must know of the proxy under test."""

    snap: str  # a snap the upstream has (info, refresh)
    download_path: str  # the path of a download the proxy has cached
    admin_token: str


@dataclass
class Draft:
    """A request under construction: every part as bytes."""

    method: bytes
    target: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    version: bytes = b"HTTP/1.1"
    framing: str = "length"  # length | chunked | raw (a mutation wrote the framing itself)
    encoded: bytes = b""  # the body as sent, when framing is raw
    valid: bool = True
    finish: bool = False
    reusable: bool = True
    labels: list[str] = field(default_factory=list)

    def set(self, name: bytes, value: bytes) -> None:
        self.drop(name)
        self.headers.append((name, value))

    def drop(self, name: bytes) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]

    def to_bytes(self, rng: random.Random) -> bytes:
        headers = list(self.headers)
        body = self.body
        if self.framing == "chunked":
            headers.append((b"Transfer-Encoding", b"chunked"))
            body = values.chunked(rng, self.body)
        elif self.framing == "raw":
            body = self.encoded
        elif self.body or self.method in (b"POST", b"PUT", b"PATCH"):
            headers.append((b"Content-Length", str(len(self.body)).encode()))
        head = b"%s %s %s\r\n" % (self.method, self.target, self.version)
        head += b"".join(k + b": " + v + b"\r\n" for k, v in headers)
        return head + b"\r\n" + body


def header_mutation(rng: random.Random, draft: Draft, target: Target) -> None:
    kind = rng.choice(values.HEADER_KINDS)
    draft.labels.append(f"header:{kind}")
    name = rng.choice(values.HEADER_NAMES)
    if kind == "non-ascii":
        draft.set(name, values.non_ascii(rng))
    elif kind == "control":
        draft.set(name, values.with_control(rng))
        draft.valid = False
    elif kind == "huge":
        draft.set(name, b"x" * rng.choice((4096, 9000, 20000, 70000)))
    elif kind == "repeated":
        value = rng.choice((b"amd64", b"snapd", b"", b"Bearer x", b"bytes=0-1"))
        draft.headers += [(name, value)] * rng.choice((2, 3, 50, 300))
    elif kind == "many":
        draft.headers += [(b"X-F%d" % i, b"v") for i in range(rng.choice((100, 200, 1000)))]
    elif kind == "no-host":
        draft.drop(b"Host")
    elif kind == "host":
        draft.drop(b"Host")
        for _ in range(rng.choice((1, 1, 1, 2))):
            draft.headers.insert(0, (b"Host", rng.choice(values.HOSTS)))
    elif kind == "credentials":
        draft.set(*rng.choice(values.credentials(target.admin_token)))
    elif kind == "forwarded":
        draft.headers.append(rng.choice(values.FORWARDED))
    elif kind == "bad-name":
        draft.headers.insert(
            rng.randrange(len(draft.headers) + 1), (rng.choice(values.BAD_NAMES), b"v")
        )
        draft.valid = False
    elif kind == "folded":
        draft.headers.append((b"User-Agent", b"snapd\r\n continued"))
        draft.valid = False
    elif kind == "expect":
        draft.set(b"Expect", rng.choice((b"100-continue", b"200-ok", b"\xff")))


def range_mutation(rng: random.Random, draft: Draft, target: Target) -> None:
    draft.labels.append("range")
    if rng.random() < 0.8:  # mostly where ranges mean something: the downloads
        download = target.download_path.encode()
        draft.target = rng.choice((download, b"/download/" + download.rsplit(b"/", 1)[-1]))
        draft.method = rng.choice((b"GET", b"GET", b"HEAD"))
        draft.body = b""
    draft.set(b"Range", values.range_value(rng))
    if rng.random() < 0.2:
        draft.set(
            b"If-Range", rng.choice((b'"x"', b"Wed, 21 Oct 2015 07:28:00 GMT", b"\xff", b"W/"))
        )
    if rng.random() < 0.1:
        draft.headers.append((b"Range", values.range_value(rng)))


def framing_mutation(rng: random.Random, draft: Draft, target: Target) -> None:
    kind = rng.choice(values.FRAMING_KINDS)
    draft.labels.append(f"framing:{kind}")
    if not draft.body:
        draft.body = json.dumps(values.refresh_document(rng, target.snap)).encode()
    body = draft.body
    if kind == "chunked":
        draft.framing = "chunked"
        return
    draft.framing = "raw"
    if kind == "chunked-extras":  # extensions and trailers: well-framed
        draft.headers.append(
            (b"Transfer-Encoding", rng.choice((b"chunked", b"Chunked", b"CHUNKED")))
        )
        draft.encoded = values.chunked_with_extras(rng, body)
        return
    if kind == "long-body":  # the surplus is a second, broken request on the connection
        draft.headers.append((b"Content-Length", b"%d" % (len(body) // 2)))
        draft.encoded = body
        draft.reusable = False
        return
    draft.valid = False
    if kind == "bad-size":
        draft.headers.append((b"Transfer-Encoding", b"chunked"))
        draft.encoded = rng.choice(values.BAD_SIZES) + b"\r\n" + body + b"\r\n0\r\n\r\n"
    elif kind == "no-terminator":
        draft.headers.append((b"Transfer-Encoding", b"chunked"))
        draft.encoded = values.chunked(rng, body)[: -len(b"0\r\n\r\n")]
        draft.finish = True
    elif kind == "no-crlf":
        draft.headers.append((b"Transfer-Encoding", b"chunked"))
        draft.encoded = b"%x\r\n%s0\r\n\r\n" % (len(body), body)
    elif kind == "short-chunk":
        draft.headers.append((b"Transfer-Encoding", b"chunked"))
        draft.encoded = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body) + 7, body)
        draft.finish = True
    elif kind == "both":
        draft.headers += [
            (b"Content-Length", b"%d" % len(body)),
            (b"Transfer-Encoding", b"chunked"),
        ]
        rng.shuffle(draft.headers)
        draft.encoded = values.chunked(rng, body)
    elif kind == "odd-te":
        draft.headers.append((b"Transfer-Encoding", rng.choice(values.ODD_TE)))
        draft.encoded = values.chunked(rng, body)
    elif kind == "bad-length":
        draft.headers.append((b"Content-Length", rng.choice(values.BAD_LENGTHS)))
        draft.encoded = body
    elif kind == "short-body":
        draft.headers.append((b"Content-Length", b"%d" % (len(body) + rng.choice((1, 100, 10**6)))))
        draft.encoded = body
        draft.finish = True


def body_mutation(rng: random.Random, draft: Draft, target: Target) -> None:
    kind = rng.choice(values.BODY_KINDS)
    draft.labels.append(f"body:{kind}")
    if draft.method not in (b"POST", b"PUT") or rng.random() < 0.6:
        draft.method, draft.target = b"POST", rng.choice(values.POST_TARGETS)
        if draft.target.startswith(b"/v1/"):
            draft.set(b"Authorization", b"Bearer " + target.admin_token.encode())
        draft.set(b"Content-Type", b"application/json")
    draft.body = values.body(rng, kind, target.snap)


def line_mutation(rng: random.Random, draft: Draft, target: Target) -> None:
    kind = rng.choice(values.LINE_KINDS)
    draft.labels.append(f"line:{kind}")
    if kind == "method":
        draft.method, valid = rng.choice(values.METHODS)
        draft.valid = draft.valid and valid
    elif kind == "absolute":
        draft.target = rng.choice(values.ABSOLUTE_PREFIXES) + draft.target
    elif kind == "asterisk":
        draft.method, draft.target = b"OPTIONS", b"*"
    elif kind == "connect":
        draft.method, draft.target = b"CONNECT", rng.choice(values.AUTHORITIES)
    elif kind == "percent":
        draft.target = values.percent_mangle(rng, draft.target)
    elif kind == "traversal":
        draft.target = rng.choice(values.TRAVERSALS)
    elif kind == "long":
        draft.target += b"/" + b"a" * rng.choice((2000, 9000, 20000, 70000))
    elif kind == "query":
        query, valid = rng.choice(values.QUERIES)
        draft.target = draft.target.split(b"?")[0] + b"?" + query
        draft.valid = draft.valid and valid
    elif kind == "version":
        draft.version, valid = rng.choice(values.VERSIONS)
        draft.valid = draft.valid and valid
    elif kind == "target-bytes":
        draft.target += rng.choice((b"\xff", b"\x00", b" x", b"\t", b"\x7f", b"#frag"))
        draft.valid = False  # none of these bytes belongs in a request target


MUTATIONS = (header_mutation, range_mutation, framing_mutation, body_mutation, line_mutation)
