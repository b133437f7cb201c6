"""Issue 15's fuzz pass, the raw half: requests built byte by byte, through both gateways.

``tests/support/rawfuzz.py`` makes each case from a request a device or the admin sends to
a public endpoint (refresh, info, find, categories, sections, names, assertions v2 and v1,
nonces, sessions, downloads GET and HEAD in both URL forms, client-setup.sh, the admin API
with and without the token, the status routes, and ``/_internal/`` which is not routed),
then spoils its headers (bytes outside ASCII, control characters, huge and repeated values,
no or odd ``Host``, credentials, ``X-Forwarded-*``), its ``Range``, its chunked framing, its
body (bad JSON and UTF-8, lone surrogates, deep nesting, huge arrays, wrong types) or its
request line (methods, absolute and asterisk forms, percent-encoding, traversal, very long
paths, versions). Each case goes out on a connection of its own, and the answer is read by
a strict parser (``tests/support/wire.py``). A well-behaved neighbour runs all the while
(``tests/security/fuzzing.py``).

What each case may get back (``problem`` says what is a failure):

- a well-formed answer under 500; when it leaves the connection open, that connection must
  answer the next request (a probe) too;
- for a request whose framing is broken, a clean close without an answer instead: nginx
  and granian refuse some malformed heads and bodies themselves (granian with a bare 400 or
  a close, nginx with its 400 in the Store's shape or a close);
- for an incomplete request (the client half-closes it), a close, even in mid-answer;
- for a request line without a version, an HTTP/0.9 answer (nginx gives one: no status line),
  or a reset (nginx closes it with the rest of the request unread, which the kernel answers
  with a reset that may overtake the answer);
- through nginx, after an answer given before the body was read (401, 403, 413 on the admin
  API, whose bodies nginx streams to the service), the connection may be closed although
  the answer said keep-alive: nginx closes a connection whose request body is still
  arriving when the answer ends (its lingering close). Only the sender's own connection.

Never: a 5xx, a reset, a hang, bytes that are not HTTP, or a close without an answer for a
well-framed request. (A header value with a control character once got the gateway's 503
through nginx, rarely: nginx now refuses it itself, fuzz finding 5 in test_fuzz_findings.py.)

CI runs a fixed seed and ``SNAPPROXY_FUZZ_CASES`` (default 1200) cases per topology. A deeper
run: ``SNAPPROXY_FUZZ_CASES=50000 pytest -m fuzz tests/security/test_fuzz_raw.py -s`` draws a
fresh seed and prints it; ``SNAPPROXY_FUZZ_SEED=<seed>`` replays a run, and each failure
names its case (``case <seed>:<index>``, :func:`tests.support.rawfuzz.make_case`).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.security.fuzzing import (
    CASES_VARIABLE,
    cached_download,
    fuzz_seed,
    neighbour_summary,
    proxy_said,
    well_behaved_neighbour,
)
from tests.support.proxies import ADMIN_TOKEN, ProxyUnderTest
from tests.support.rawfuzz import Case, Target, make_case
from tests.support.sim import SimHandle
from tests.support.wire import Exchange, exchange

CASES = int(os.environ.get(CASES_VARIABLE, "1200"))
# A few ms a case on two cores; a deeper run gets the time it needs.
pytestmark = [pytest.mark.fuzz, pytest.mark.timeout(120 + CASES // 20)]
WORKERS = 4  # connections at a time
ANSWER_TIMEOUT = 20.0  # seconds: more than any upstream call may take (6 s)
# Answers the services give before reading a body (the admin token, the body limits).
EARLY_REFUSALS = frozenset({401, 403, 413})
# The Store's errors (snapd also takes problem+json on a not-found).
STORE_MEDIA_TYPES = ("application/json", "application/problem+json")


def problem(case: Case, answer: Exchange, topology: str) -> str | None:
    """What is wrong with ``answer`` to ``case`` (None: nothing)."""
    if answer.status is not None and answer.status >= 500:
        return "a server error"
    if answer.kind == "answer":
        probe = answer.probe
        if probe is None or (probe.kind == "answer" and probe.status == 200):
            return None
        if topology == "split" and answer.status in EARLY_REFUSALS and probe.kind == "closed":
            return None  # nginx's lingering close (module docstring)
        return "the connection failed after an answer that kept it open"
    if answer.kind == "closed":
        return "closed without an answer" if case.valid else None
    if answer.kind == "cut":
        return None if case.finish else "the answer was cut short"
    if answer.kind == "http09" or (answer.kind == "reset" and case.http09):
        return None if case.http09 else "an answer without a status line"
    return f"a {answer.kind}"  # reset, timeout, garbage


def store_shaped(answer: Exchange) -> bool:
    """An error answer in the Store's shape: ``{"error-list": [{"code", "message"}]}``."""
    if answer.headers.get("content-type", "").split(";")[0] not in STORE_MEDIA_TYPES:
        return False
    try:
        errors = json.loads(answer.body)["error-list"]
        return bool(errors[0]["code"] and errors[0]["message"])
    except (ValueError, KeyError, IndexError, TypeError):
        return False


def outcome_label(case: Case, answer: Exchange) -> str:
    """How the summary counts an answer; 4xx not in the Store's shape are told apart (they
    are answered by nginx or granian themselves, before any snapproxy code runs)."""
    label = f"{answer.kind} {answer.status or ''}".strip()
    error = answer.kind == "answer" and answer.status is not None and answer.status >= 400
    if error and not case.head and not store_shaped(answer):
        label += f" (bare, {answer.headers.get('server', '?')})"
    return label


def test_raw_requests_through_the_gateway(any_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    download = cached_download(any_proxy)
    target = Target("hello-sim", download.path, ADMIN_TOKEN)
    url = httpx.URL(any_proxy.url)
    address = (url.host, url.port or 80)
    seed = fuzz_seed()

    def run(index: int) -> tuple[Case, Exchange]:
        case = make_case(seed, index, target)
        answer = exchange(
            address,
            case.data,
            head=case.head,
            finish=case.finish,
            probe=case.probe,
            timeout=ANSWER_TIMEOUT,
        )
        return case, answer

    started = time.monotonic()
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    probes = 0
    with (
        well_behaved_neighbour(any_proxy, download) as neighbour,
        ThreadPoolExecutor(WORKERS) as pool,
    ):
        for case, answer in pool.map(run, range(CASES)):
            outcomes[outcome_label(case, answer)] += 1
            probes += answer.probe is not None
            if (found := problem(case, answer, any_proxy.name)) is not None:
                failures.append(f"{found}: {answer.describe()}\n  {case.summary()}")
    elapsed = time.monotonic() - started
    print(
        f"\nraw fuzz through {any_proxy.name}: seed {seed}, {CASES} cases and {probes} probes "
        f"in {elapsed:.1f} s; neighbour: {neighbour_summary(neighbour)}\n  "
        + ", ".join(f"{kind}: {count}" for kind, count in sorted(outcomes.items()))
    )
    assert not failures, (
        f"seed {seed}: {len(failures)} failures\n"
        + "\n".join(failures[:30])
        + f"\n{proxy_said(any_proxy)}"
    )
    with any_proxy.client() as client:
        assert client.get("/_status/check").status_code == 200  # the suite is still whole
