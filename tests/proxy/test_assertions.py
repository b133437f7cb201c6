"""The assertions service: fetched upstream once, stored byte-exact, served from the database.

Most tests run against the real proxy (both topologies) with the store simulator upstream,
which holds the genuine Canonical assertions and the demo catalogue's own. The ``inproc``
tests build the app in-process over SQLite with a scripted upstream, for what the simulator
cannot show (newer revisions, bad signatures, validation sets, upstream refusals); they trust
a root key of their own (``keys.root``).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import structlog.testing
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from services.assertions import repository
from services.assertions.app import create_app
from services.assertions.keys import AssertionNotFound, parse_request
from services.assertions.pieces import split_stream
from services.assertions.verification import MAX_KEY_FETCHES
from shared import migrate
from shared.app import create_resources
from shared.assertions import (
    MEDIA_TYPE,
    PRIMARY_KEYS,
    Assertion,
    HeaderValue,
    SigningKey,
    parse_assertion,
    parse_stream,
    sha3_384_hex_to_b64,
    sign_assertion,
    verify_chain,
)
from shared.db import create_engine, create_sessionmaker
from shared.errors import BadRequest
from shared.models import StoredAssertion, utcnow
from shared.settings import Settings
from tests.support.device_api import ASSERTION_ERROR_TYPES, assert_store_error
from tests.support.proxies import ProxyUnderTest
from tests.support.sim import SimHandle

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/canonical-assertions"
PROBLEM_JSON = "application/problem+json"


def url_of(assertion: Assertion) -> str:
    """The single-assertion URL snapd would build (reduced primary key)."""
    return f"/v2/assertions/{assertion.type}/{'/'.join(assertion.reduced_primary_key)}"


def genuine() -> list[Assertion]:
    return [parse_assertion(path.read_bytes()) for path in sorted(FIXTURES.glob("*.assert"))]


def assertion_requests(sim: SimHandle) -> int:
    return sum(sim.stats()["assertions"].values())


@pytest.fixture(scope="module")
def demo_chain(upstream: SimHandle) -> list[str]:
    """URLs of one demo snap revision's assertions: revision, declaration, account, keys."""
    catalogue = upstream.catalogue()
    revisions = [(s, r) for s in catalogue["snaps"] for r in s["revisions"] if r.get("sha3-384")]
    if not revisions:
        catalogue = upstream.wait_built()
        revisions = [(s, r) for s in catalogue["snaps"] for r in s["revisions"]]
    snap, rev = revisions[0]
    digest = sha3_384_hex_to_b64(rev["sha3-384"])
    revision = parse_assertion(
        upstream.client.get(f"/v2/assertions/snap-revision/{digest}").content
    )
    snap_id = revision.header("snap-id")
    declaration = parse_assertion(
        upstream.client.get(f"/v2/assertions/snap-declaration/16/{snap_id}").content
    )
    assert snap_id == snap["snap-id"]
    urls = [url_of(revision), url_of(declaration)]
    urls.append(f"/v2/assertions/account/{declaration.header('publisher-id')}")
    urls.append(f"/v2/assertions/account/{revision.header('developer-id')}")
    key_ids = {revision.sign_key_sha3_384, declaration.sign_key_sha3_384}
    for key_id in sorted(key_ids):
        key = upstream.client.get(f"/v2/assertions/account-key/{key_id}").content
        key_ids.add(parse_assertion(key).sign_key_sha3_384)  # up to the self-signed root
    urls += [f"/v2/assertions/account-key/{key_id}" for key_id in sorted(key_ids)]
    return list(dict.fromkeys(urls))


# -- through the proxy, the simulator upstream -----------------------------------------------


def test_genuine_canonical_assertions_byte_identical_and_verify(
    any_proxy: ProxyUnderTest, sim: SimHandle
) -> None:
    received: list[Assertion] = []
    with any_proxy.client() as client:
        for assertion in genuine():
            url = url_of(assertion) + "?max-format=0"
            direct = sim.client.get(url)
            assert direct.status_code == 200, url
            via = client.get(url, headers={"Accept": MEDIA_TYPE})
            assert via.status_code == 200, via.text
            assert via.content == direct.content
            assert via.headers["content-type"] == MEDIA_TYPE
            received.append(parse_assertion(via.content))
    assert {a.type for a in received} == {"account", "account-key", "model"}
    for assertion in received:
        verify_chain(assertion, received)  # root key self-signed; model by generic's key


def test_demo_snap_assertions_byte_identical_and_verify(
    any_proxy: ProxyUnderTest, sim: SimHandle, demo_chain: list[str]
) -> None:
    received: list[Assertion] = []
    with any_proxy.client() as client:
        for url in demo_chain:
            direct = sim.client.get(url, params={"max-format": 5})
            via = client.get(url, params={"max-format": 5})
            assert via.status_code == 200, (url, via.text)
            assert via.content == direct.content, url
            received.append(parse_assertion(via.content))
    assert {"snap-revision", "snap-declaration", "account", "account-key"} <= {
        a.type for a in received
    }
    for assertion in received:
        verify_chain(assertion, received)


def test_second_get_is_served_from_the_database(any_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    url = "/v2/assertions/account/generic?max-format=0"
    with any_proxy.client() as client:
        first = client.get(url)
        assert first.status_code == 200
        sim.reset()
        for _ in range(3):
            again = client.get(url)
            assert again.status_code == 200
            assert again.content == first.content
            assert again.headers["x-snapproxy-cache"] == "hit"
    assert assertion_requests(sim) == 0


def test_first_get_reaches_upstream_once(any_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    # The stream URL always asks upstream; each assertion in it is then stored.
    [model] = [a for a in genuine() if a.type == "model"]
    with any_proxy.client() as client:
        stream = client.get(url_of(model), params={"prerequisites": "true"})
        direct = sim.client.get(url_of(model), params={"prerequisites": "true"})
        assert stream.status_code == 200
        assert stream.content == direct.content
        assert assertion_requests(sim) == 2  # ours and the direct one
        sim.reset()
        for assertion in parse_stream(stream.content):
            single = client.get(url_of(assertion), params={"max-format": 0})
            assert single.status_code == 200
            assert single.headers["x-snapproxy-cache"] == "hit"
    assert assertion_requests(sim) == 0


def test_v1_path_serves_the_same_bytes(any_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    direct = sim.client.get("/v2/assertions/account/canonical")
    with any_proxy.client() as client:
        via = client.get("/api/v1/snaps/assertions/account/canonical")
    assert via.status_code == 200
    assert via.content == direct.content


def test_not_found_is_json_problem(any_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    with any_proxy.client() as client:
        for url in (
            "/v2/assertions/account/nosuchaccount?max-format=0",
            "/v2/assertions/snap-declaration/16/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?max-format=5",
            "/v2/assertions/no-such-type/x",
            "/api/v1/snaps/assertions/account/nosuchaccount",
        ):
            response = client.get(url)
            assert_store_error(response, 404, "not-found", media_types=ASSERTION_ERROR_TYPES)
            assert response.headers["content-type"] == PROBLEM_JSON


BAD_PATHS = [
    "/v2/assertions/account/%2E%2E",
    "/v2/assertions/account/%2E%2E%2F%2E%2E%2Fetc",
    "/v2/assertions/account/a..b",
    "/v2/assertions/account/.",
    "/v2/assertions/account/a%2Fb",
    "/v2/assertions/account/a%20b",
    "/v2/assertions/account/caf%C3%A9",
    "/v2/assertions/account/a%0Ab",
    "/v2/assertions/account/a%3Fb",
    "/v2/assertions/account/",
    "/v2/assertions/account",
    "/v2/assertions/account/a/b",
    "/v2/assertions/account//canonical",
    "/v2/assertions/model/16/generic",
    "/v2/assertions/model/16/generic/generic-classic/extra",
    "/v2/assertions/snap-revision/" + "A" * 300,
    "/v2/assertions/account/canonical?max-format=abc",
    "/v2/assertions/account/canonical?max-format=1&max-format=2",
    "/v2/assertions/validation-set/16/acct/name?sequence=abc",
    "/v2/assertions/validation-set/16/acct/name?sequence=0",
    "/v2/assertions/validation-set/16/acct/name/x",
    "/v2/assertions/no-such-type/x",
    "/v2/assertions/serial-request/x",
    "/api/v1/snaps/assertions/account/%2E%2E",
    "/api/v1/snaps/assertions/account/a/b/c",
]


def test_bad_input_gets_4xx_in_store_shape(any_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    with httpx.Client(base_url=any_proxy.url, timeout=30) as client:  # no device headers
        wrong = []
        for path in BAD_PATHS:
            response = client.get(httpx.URL(any_proxy.url + path))
            ok = 400 <= response.status_code < 500 and "json" in response.headers["content-type"]
            if not ok or not all(response.json()["error-list"][0].values()):
                wrong.append((path, response.status_code, response.text[:200]))
        assert not wrong
        # Without any device header a good request still works.
        assert client.get("/v2/assertions/account/canonical").status_code == 200


def test_nul_in_path_gets_4xx_in_store_shape(any_proxy: ProxyUnderTest) -> None:
    with httpx.Client(timeout=30) as client:
        for path, code in (
            ("/v2/assertions/account/a%00b", "invalid-request"),
            ("/v2/assertions/%00/x", "not-found"),  # no such type
        ):
            response = client.get(httpx.URL(any_proxy.url + path))
            assert 400 <= response.status_code < 500, path
            assert response.headers["content-type"].startswith("application/")
            if any_proxy.name == "split":
                code = "invalid-request"  # nginx refuses a NUL itself, in the Store's shape
            assert response.json()["error-list"][0]["code"] == code


def test_upstream_down_serves_what_is_stored(any_proxy: ProxyUnderTest, sim: SimHandle) -> None:
    [model] = [a for a in genuine() if a.type == "model"]
    with any_proxy.client() as client:
        stored = client.get(url_of(model), params={"max-format": 0})
        assert stored.status_code == 200
        stream = client.get(url_of(model), params={"prerequisites": "true"})
        assert stream.status_code == 200
        sim.stop()
        # At most two upstream failures here, below the circuit breaker's threshold.
        again = client.get(url_of(model), params={"max-format": 0})
        assert again.status_code == 200
        assert again.content == stored.content
        offline_stream = client.get(url_of(model), params={"prerequisites": "true"})
        assert offline_stream.status_code == 200
        assert offline_stream.headers["x-snapproxy-cache"] == "stale"
        assert [a.type for a in parse_stream(offline_stream.content)] == [
            a.type for a in parse_stream(stream.content)
        ]
        unknown = client.get("/v2/assertions/account/never-fetched-account")
        assert_store_error(unknown, 503, media_types=ASSERTION_ERROR_TYPES)
        assert client.get("/v2/assertions/account/%2E%2E").status_code == 400


# -- units: request parsing, stream cutting ---------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "path", "query", "key", "sequence_key"),
    [
        ("account", "canonical", {}, ("canonical",), None),
        ("snap-revision", "abc", {}, ("abc", "global-upload"), None),
        ("snap-revision", "abc/global-upload", {}, ("abc", "global-upload"), None),
        ("snap-revision", "abc/other", {}, ("abc", "other"), None),
        ("model", "16/brand/model", {"max-format": ["0"]}, ("16", "brand", "model"), None),
        ("validation-set", "16/a/n", {"sequence": ["latest"]}, None, ("16", "a", "n")),
        ("validation-set", "16/a/n", {}, None, ("16", "a", "n")),
        ("validation-set", "16/a/n", {"sequence": ["3"]}, ("16", "a", "n", "3"), None),
        ("validation-set", "16/a/n/3", {}, ("16", "a", "n", "3"), None),
        ("system-user", "brand/me+x@example.com", {}, ("brand", "me+x@example.com"), None),
    ],
)
def test_parse_request(
    kind: str,
    path: str,
    query: dict[str, list[str]],
    key: tuple[str, ...] | None,
    sequence_key: tuple[str, ...] | None,
) -> None:
    parsed = parse_request(kind, path, query, "")
    assert parsed.key == key
    assert parsed.sequence_key == sequence_key
    assert not parsed.stream


def test_parse_request_refusals() -> None:
    with pytest.raises(AssertionNotFound):
        parse_request("device-session-request", "a/b/c", {}, "")
    for kind, path in [("account", "a/b"), ("snap-revision", "a/b/c"), ("model", "16")]:
        with pytest.raises(BadRequest):
            parse_request(kind, path, {}, "")
    parsed = parse_request("account", "a", {"max-format": ["-1"], "prerequisites": ["1"]}, "")
    assert parsed.stream and parsed.max_format is None


def test_split_stream_keeps_exact_bytes() -> None:
    items = [path.read_bytes() for path in sorted(FIXTURES.glob("*.assert"))]
    # The fixture files end without a newline: a stream joins them with one blank line.
    body = b"\n\n".join(items)
    pieces = split_stream(body)
    assert [piece.encoded for piece in pieces[:-1]] == [item + b"\n" for item in items[:-1]]
    assert pieces[-1].encoded == items[-1]
    assert split_stream(items[0])[0].encoded == items[0]
    assert split_stream(items[0] + b"\n")[0].encoded == items[0] + b"\n"


# -- in-process: scripted upstream over SQLite ------------------------------------------------


@dataclass
class ScriptedUpstream:
    """An upstream that records what it receives and answers from ``assertions``."""

    assertions: dict[str, bytes] = field(default_factory=dict)
    seen: list[httpx.Request] = field(default_factory=list)
    answer: Callable[[httpx.Request], httpx.Response] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if self.answer is not None:
            return self.answer(request)
        body = self.assertions.get(request.url.path)
        if body is None:
            return httpx.Response(
                404, json={"error-list": [{"code": "not-found", "message": "not here"}]}
            )
        return httpx.Response(200, content=body, headers={"Content-Type": MEDIA_TYPE})


@dataclass
class InProcess:
    client: httpx.AsyncClient
    upstream: ScriptedUpstream
    settings: Settings


@dataclass(frozen=True)
class Keys:
    root: SigningKey
    other: SigningKey


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(root=SigningKey.generate(2048), other=SigningKey.generate(2048))


@pytest.fixture(scope="module")
def sqlite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("assertions-inproc")
    migrate.upgrade(Settings(data_dir=data_dir))
    return data_dir


async def inproc_app(settings: Settings) -> AsyncIterator[InProcess]:
    scripted = ScriptedUpstream()
    resources = create_resources(
        settings, "assertions", with_peers=False, upstream_transport=httpx.MockTransport(scripted)
    )
    async with resources.sessionmaker() as session, session.begin():
        await session.execute(delete(StoredAssertion))
    app = create_app(settings, resources)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://assertions") as client:
            yield InProcess(client, scripted, settings)
    finally:
        await resources.aclose()


DEFAULT_TTL: float = Settings.model_fields["assertion_ttl"].default


def inproc_settings(data_dir: Path, keys: Keys, assertion_ttl: float = DEFAULT_TTL) -> Settings:
    """Settings of the in-process app: it trusts the tests' own root key."""
    root = account_key(keys, keys.root, account="root").raw.decode()
    return Settings(
        data_dir=data_dir,
        upstream_url="http://store",
        trusted_root_keys=root,
        assertion_ttl=assertion_ttl,
    )


@pytest.fixture
async def inproc(sqlite_dir: Path, keys: Keys) -> AsyncIterator[InProcess]:
    async for value in inproc_app(inproc_settings(sqlite_dir, keys)):
        yield value


@pytest.fixture
async def inproc_no_ttl(sqlite_dir: Path, keys: Keys) -> AsyncIterator[InProcess]:
    async for value in inproc_app(inproc_settings(sqlite_dir, keys, assertion_ttl=0)):
        yield value


def account_key(keys: Keys, key: SigningKey, account: str = "acct") -> Assertion:
    headers = {
        "type": "account-key",
        "authority-id": "root",
        "public-key-sha3-384": key.key_id,
        "account-id": account,
        "name": "k" + key.key_id[:8].lower().replace("_", "x").replace("-", "x"),
        "since": "2016-01-01T00:00:00Z",
    }
    return sign_assertion(headers, keys.root, key.public_key_body())


def account(
    keys: Keys, account_id: str, revision: int = 0, signer: SigningKey | None = None
) -> Assertion:
    headers = {
        "type": "account",
        "authority-id": "root",
        "account-id": account_id,
        "display-name": f"Account {account_id} r{revision}",
        "validation": "unproven",
        "timestamp": "2024-01-01T00:00:00Z",
        "revision": str(revision),
    }
    return sign_assertion(headers, signer or keys.root)


def validation_set(keys: Keys, sequence: int) -> Assertion:
    headers: dict[str, HeaderValue] = {
        "type": "validation-set",
        "authority-id": "acct",
        "series": "16",
        "account-id": "acct",
        "name": "set",
        "sequence": str(sequence),
        "snaps": [{"name": "hello", "id": "a" * 32, "presence": "required"}],
        "timestamp": "2024-01-01T00:00:00Z",
    }
    return sign_assertion(headers, keys.other)


async def test_inproc_newer_revision_replaces_older(inproc_no_ttl: InProcess, keys: Keys) -> None:
    app = inproc_no_ttl
    path = "/v2/assertions/account/someone"
    for revision, expected in ((1, 1), (3, 3), (2, 3)):
        body = account(keys, "someone", revision).raw
        app.upstream.assertions[path] = body
        response = await app.client.get(path)
        assert response.status_code == 200
        assert response.content == body  # upstream's answer relayed as-is
        async with app_session(app) as session:
            row = await repository.get(session, "account", "someone")
        assert row is not None and row.revision == expected


async def test_inproc_fresh_copy_is_served_and_stale_one_refreshed(
    inproc: InProcess, keys: Keys
) -> None:
    path = "/v2/assertions/account/fresh"
    inproc.upstream.assertions[path] = account(keys, "fresh", 1).raw
    assert (await inproc.client.get(path)).status_code == 200
    assert (await inproc.client.get(path)).headers["x-snapproxy-cache"] == "hit"
    assert len(inproc.upstream.seen) == 1
    async with app_session(inproc) as session:
        row = await repository.get(session, "account", "fresh")
        assert row is not None
        row.fetched_at = utcnow() - timedelta(seconds=inproc.settings.assertion_ttl + 1)
    newer = account(keys, "fresh", 2).raw
    inproc.upstream.assertions[path] = newer
    refreshed = await inproc.client.get(path)
    assert refreshed.content == newer
    assert refreshed.headers["x-snapproxy-cache"] == "miss"
    assert len(inproc.upstream.seen) == 2


async def test_inproc_headers_and_query_are_relayed(inproc: InProcess, keys: Keys) -> None:
    path = "/v2/assertions/account/relayed"
    inproc.upstream.assertions[path] = account(keys, "relayed").raw
    headers = {
        "Accept": MEDIA_TYPE,
        "X-Ubuntu-Series": "16",
        "X-Device-Authorization": 'Macaroon root="x"',
        "Cookie": "not-relayed",
    }
    await inproc.client.get(
        "/api/v1/snaps/assertions/account/relayed?max-format=0", headers=headers
    )
    [sent] = inproc.upstream.seen
    assert sent.url.path == path
    assert sent.url.params["max-format"] == "0"
    assert sent.headers["x-ubuntu-series"] == "16"
    assert sent.headers["x-device-authorization"] == 'Macaroon root="x"'
    assert "cookie" not in sent.headers


async def test_inproc_assertions_that_do_not_verify_are_relayed_not_stored(
    inproc: InProcess, keys: Keys
) -> None:
    good_key = account_key(keys, keys.other)
    signed = account(keys, "tampered", signer=keys.other)
    tampered = signed.raw.replace(b"Account tampered", b"Account tampereD")
    wrong_authority = account(keys, "forged", signer=keys.other)  # authority root, acct's key
    unknown = account(keys, "unknown-signer", signer=SigningKey.generate(2048))
    answers = {
        f"/v2/assertions/account-key/{keys.other.key_id}": good_key.raw,
        "/v2/assertions/account/tampered": tampered,
        "/v2/assertions/account/forged": wrong_authority.raw,
        "/v2/assertions/account/unknown-signer": unknown.raw,
    }
    inproc.upstream.assertions.update(answers)
    with structlog.testing.capture_logs() as logs:
        for path, body in answers.items():
            response = await inproc.client.get(path)
            assert response.status_code == 200 and response.content == body
            stored = "account-key" in path
            assert ("x-snapproxy-warning" in response.headers) is not stored, path
    events = {(entry["event"], entry.get("assertion")) for entry in logs}
    assert ("assertion.signature_invalid", "account/tampered") in events
    assert ("assertion.signature_invalid", "account/forged") in events
    assert ("assertion.signer_unknown", "account/unknown-signer") in events
    async with app_session(inproc) as session:
        wanted = [("account", name) for name in ("tampered", "forged", "unknown-signer")]
        rows = await repository.get_many(session, [("account-key", keys.other.key_id), *wanted])
    assert list(rows) == [("account-key", keys.other.key_id)]


async def test_inproc_missing_signing_key_is_fetched_and_stored(
    inproc: InProcess, keys: Keys
) -> None:
    key_path = f"/v2/assertions/account-key/{keys.other.key_id}"
    inproc.upstream.assertions[key_path] = account_key(keys, keys.other).raw
    signed = validation_set(keys, 40).raw
    inproc.upstream.assertions["/v2/assertions/validation-set/16/acct/set/40"] = signed
    response = await inproc.client.get("/v2/assertions/validation-set/16/acct/set/40")
    assert response.content == signed and "x-snapproxy-warning" not in response.headers
    assert [request.url.path for request in inproc.upstream.seen][-1] == key_path
    again = await inproc.client.get(key_path)
    assert again.headers["x-snapproxy-cache"] == "hit"  # stored on the way


async def test_inproc_key_fetches_are_bounded(inproc: InProcess, keys: Keys) -> None:
    """A chain of keys each signed by the next, none trusted: a bounded number of fetches."""
    chain = [SigningKey.generate(1024) for _ in range(MAX_KEY_FETCHES + 2)]
    for signed_key, signer in itertools.pairwise(chain):
        key = sign_assertion(
            {
                "type": "account-key",
                "authority-id": "root",
                "account-id": "root",
                "name": "k" + signed_key.key_id[:6].lower().replace("-", "x").replace("_", "x"),
                "public-key-sha3-384": signed_key.key_id,
                "since": "2016-01-01T00:00:00Z",
            },
            signer,
            signed_key.public_key_body(),
        )
        inproc.upstream.assertions[f"/v2/assertions/account-key/{signed_key.key_id}"] = key.raw
    body = account(keys, "far-away", signer=chain[0]).raw
    inproc.upstream.assertions["/v2/assertions/account/far-away"] = body
    response = await inproc.client.get("/v2/assertions/account/far-away")
    assert response.content == body and "not stored" in response.headers["x-snapproxy-warning"]
    assert len(inproc.upstream.seen) == 1 + MAX_KEY_FETCHES


async def test_inproc_validation_set_latest(inproc: InProcess, keys: Keys) -> None:
    base = "/v2/assertions/validation-set/16/acct/set"
    sets = {n: validation_set(keys, n).raw for n in (1, 2)}

    signing_key = account_key(keys, keys.other).raw

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v2/assertions/account-key/"):
            return httpx.Response(200, content=signing_key)
        sequence = request.url.params.get("sequence", "latest")
        number = max(sets) if sequence == "latest" else int(sequence)
        return httpx.Response(200, content=sets[number])

    inproc.upstream.answer = answer
    assert (await inproc.client.get(base, params={"sequence": 1})).content == sets[1]
    assert (await inproc.client.get(base, params={"sequence": "latest"})).content == sets[2]
    # latest always asks upstream; pinned sequences come from the database
    assert (await inproc.client.get(base, params={"sequence": "latest"})).content == sets[2]
    assert (await inproc.client.get(base, params={"sequence": 1})).content == sets[1]
    assert len([r for r in inproc.upstream.seen if "validation-set" in r.url.path]) == 3

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("down")

    inproc.upstream.answer = down
    offline = await inproc.client.get(base, params={"sequence": "latest"})
    assert offline.status_code == 200 and offline.content == sets[2]
    assert offline.headers["x-snapproxy-cache"] == "stale"


async def test_inproc_upstream_refusals(inproc: InProcess) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401,
            json={"error-list": [{"code": "device-authorization-needs-refresh", "message": "m"}]},
            headers={"WWW-Authenticate": "Macaroon needs_refresh=1"},
        )

    inproc.upstream.answer = refuse
    response = await inproc.client.get("/v2/assertions/account/x")
    assert_store_error(
        response, 401, "device-authorization-needs-refresh", media_types=ASSERTION_ERROR_TYPES
    )
    assert response.headers["www-authenticate"] == "Macaroon needs_refresh=1"

    inproc.upstream.answer = lambda request: httpx.Response(429, text="slow down")
    assert_store_error(
        await inproc.client.get("/v2/assertions/account/x"), 429, media_types=ASSERTION_ERROR_TYPES
    )
    inproc.upstream.answer = lambda request: httpx.Response(404, text="<html>")
    response = await inproc.client.get("/v2/assertions/account/x")
    assert_store_error(response, 404, "not-found", media_types=ASSERTION_ERROR_TYPES)
    assert response.headers["content-type"] == PROBLEM_JSON
    inproc.upstream.answer = lambda request: httpx.Response(503)
    assert_store_error(
        await inproc.client.get("/v2/assertions/account/x"), 503, media_types=ASSERTION_ERROR_TYPES
    )
    inproc.upstream.answer = lambda request: httpx.Response(200, content=b"not an assertion")
    garbage = await inproc.client.get("/v2/assertions/account/x")
    assert garbage.status_code == 200 and garbage.content == b"not an assertion"
    assert "not stored" in garbage.headers["x-snapproxy-warning"]


async def test_inproc_stream_answer_stores_each_assertion(inproc: InProcess, keys: Keys) -> None:
    key = account_key(keys, keys.other)
    first, second = validation_set(keys, 9), account(keys, "two")  # by acct's key, by root
    body = b"\n".join([key.raw, first.raw, second.raw])
    inproc.upstream.answer = lambda request: httpx.Response(200, content=body)
    response = await inproc.client.get("/v2/assertions/account/two?prerequisites=true")
    assert response.content == body and "x-snapproxy-warning" not in response.headers
    async with app_session(inproc) as session:
        rows = await repository.get_many(
            session,
            [
                ("account-key", keys.other.key_id),
                ("validation-set", "16/acct/set/9"),
                ("account", "two"),
            ],
        )
    assert {k: row.encoded for k, row in rows.items()} == {
        ("account-key", keys.other.key_id): key.raw,
        ("validation-set", "16/acct/set/9"): first.raw,
        ("account", "two"): second.raw,
    }


@asynccontextmanager
async def app_session(app: InProcess) -> AsyncIterator[AsyncSession]:
    """A unit of work on the in-process app's database (commits on exit)."""
    engine = create_engine(app.settings)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()


# -- the repository on PostgreSQL -------------------------------------------------------------


async def test_upsert_on_postgresql(pg_url: str, keys: Keys) -> None:
    engine = create_engine(Settings(database_url=pg_url))
    sessionmaker = create_sessionmaker(engine)
    try:
        for revision, expected in ((2, 2), (1, 2), (2, 2), (5, 5)):
            assertion = account(keys, "pg_%x", revision)
            async with sessionmaker() as session, session.begin():
                await repository.upsert(
                    session,
                    type_name="account",
                    primary_key="pg_%x",
                    revision=revision,
                    format=0,
                    authority_id="root",
                    sign_key_sha3_384=keys.root.key_id,
                    encoded=assertion.raw,
                    fetched_at=utcnow(),
                )
            async with sessionmaker() as session:
                row = await repository.get(session, "account", "pg_%x")
                assert row is not None and row.revision == expected
        async with sessionmaker() as session:
            assert await repository.latest_in_sequence(session, "account", "pg_", None) is None
    finally:
        await engine.dispose()


@given(
    kind=st.sampled_from([*PRIMARY_KEYS, "bogus", "", ".."]),
    path=st.text(max_size=80),
    query=st.dictionaries(
        st.sampled_from(["max-format", "sequence", "prerequisites", ""]),
        st.lists(st.text(max_size=12), min_size=1, max_size=2),
        max_size=3,
    ),
)
def test_parse_request_only_raises_store_errors(
    kind: str, path: str, query: dict[str, list[str]]
) -> None:
    try:
        parsed = parse_request(kind, path, query, "")
    except (BadRequest, AssertionNotFound):
        return
    for value in parsed.segments:
        assert value and ".." not in value and "/" not in value and value.isascii()
