"""A seeded generator of HTTP/1.1 requests built byte by byte, for the raw-socket fuzzer.

Each case starts from a request a device or the admin really sends to a public endpoint
(:func:`endpoints`), and then one to three mutations are applied to it: its headers, its
``Range``, its body framing (chunked, Content-Length), its body, or its request line
(``tests/support/rawfuzz_mutations.py``).
A case is a pure function of ``(seed, index)``, so any case can be made again from the two
numbers a failure prints.

Each case says what the server owes it:

``valid``  well-framed (a client may send it): it must get an answer, and under 500;
otherwise the framing is broken (control characters in a head, a chunk size that is not
hex, both Content-Length and Transfer-Encoding, ...): the server may also refuse it by
closing the connection, but never with a 5xx.
``finish`` the request is incomplete on purpose (a missing last chunk, a body shorter than
announced): the client half-closes after sending it, so the server sees the end at once.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass

from tests.support import rawfuzz_values as values
from tests.support.rawfuzz_mutations import MUTATIONS, Draft, Target

__all__ = ["Case", "Target", "make_case"]


@dataclass(frozen=True)
class Case:
    seed: int
    index: int
    labels: tuple[str, ...]
    data: bytes
    valid: bool
    finish: bool
    head: bool
    reusable: bool = True  # the connection holds nothing after the request
    http09: bool = False  # a request line without a version (HTTP/0.9: no status line back)

    @property
    def probe(self) -> bool:
        """Whether the connection should still be usable after the answer."""
        http11 = self.data.split(b"\r\n", 1)[0].endswith(b" HTTP/1.1")
        return self.valid and self.reusable and not self.finish and http11

    def summary(self, limit: int = 300) -> str:
        shown = self.data if len(self.data) <= limit else self.data[:limit] + b"..."
        return (
            f"case {self.seed}:{self.index} [{', '.join(self.labels)}] {len(self.data)} B {shown!r}"
        )


def _json(document: object) -> bytes:
    return json.dumps(document).encode()


def _device(host: bytes = b"proxy.test") -> list[tuple[bytes, bytes]]:
    return [(b"Host", host), *((k.encode(), v.encode()) for k, v in values.DEVICE.items())]


def endpoints(target: Target) -> list[Callable[[random.Random], Draft]]:
    """Every public endpoint, as a device or the admin calls it."""
    snap = target.snap.encode()
    download = target.download_path.encode()
    short = b"/download/" + download.rsplit(b"/", 1)[-1]
    admin = [(b"Host", b"proxy.test"), (b"Authorization", b"Bearer " + target.admin_token.encode())]

    def get(
        path: bytes, headers: Callable[[], list[tuple[bytes, bytes]]] = _device
    ) -> Callable[[random.Random], Draft]:
        return lambda rng: Draft(b"GET", path, headers())

    def post(
        path: bytes, body: Callable[[random.Random], bytes], with_admin: bool = False
    ) -> Callable[[random.Random], Draft]:
        def make(rng: random.Random) -> Draft:
            headers = list(admin) if with_admin else _device()
            headers.append((b"Content-Type", b"application/json"))
            return Draft(b"POST", path, headers, body(rng))

        return make

    def head(path: bytes) -> Callable[[random.Random], Draft]:
        return lambda rng: Draft(b"HEAD", path, _device())

    return [
        post(b"/v2/snaps/refresh", lambda rng: _json(values.refresh_document(rng, target.snap))),
        get(b"/v2/snaps/info/" + snap),
        get(b"/v2/snaps/info/" + snap + b"?fields=channel-map,snap-id&architecture=amd64"),
        get(b"/v2/snaps/find?q=hello&fields=title,version"),
        get(b"/v2/snaps/find?name=" + snap),
        get(b"/v2/snaps/categories"),
        get(b"/api/v1/snaps/sections"),
        get(b"/api/v1/snaps/names"),
        get(b"/v2/assertions/account/canonical"),
        get(b"/api/v1/snaps/assertions/account/canonical"),
        get(b"/v2/assertions/account-key/" + values.CANONICAL_KEY),
        post(b"/api/v1/snaps/auth/nonces", lambda rng: b""),
        post(b"/api/v1/snaps/auth/sessions", lambda rng: _json(values.session_document(rng))),
        get(download),
        head(download),
        get(short),
        head(short),
        get(b"/client-setup.sh"),
        get(b"/v1/devices?limit=5", lambda: list(admin)),
        get(b"/v1/devices"),
        get(b"/v1/cache/stats", lambda: list(admin)),
        get(b"/v1/cache/entries?name=" + snap, lambda: list(admin)),
        post(b"/v1/cache/pin", lambda rng: _json({"name": target.snap}), with_admin=True),
        post(b"/v1/cache/pin", lambda rng: _json({"name": target.snap, "unpin": True})),
        post(b"/v1/cache/evict", lambda rng: _json({"name": "no-such-snap"}), with_admin=True),
        get(b"/_status/ping"),
        get(b"/_status/downloads/check"),
        post(b"/_internal/resolve", lambda rng: _json({"queries": []})),
    ]


def make_case(seed: int, index: int, target: Target) -> Case:
    """Case ``index`` of the run with ``seed``: the same two numbers give the same bytes."""
    rng = random.Random(f"{seed}:{index}")
    draft = rng.choice(endpoints(target))(rng)
    draft.labels.append(f"{draft.method.decode()} {draft.target.decode()[:40]}")
    for mutate in rng.sample(MUTATIONS, k=rng.choice((1, 1, 2, 3))):
        mutate(rng, draft, target)
    data = draft.to_bytes(rng)
    return Case(
        seed,
        index,
        tuple(draft.labels),
        data,
        valid=draft.valid,
        finish=draft.finish,
        head=draft.method == b"HEAD",
        reusable=draft.reusable,
        http09=draft.version == b"",
    )
