"""GET /v2/assertions: byte-exact bodies, signatures, not-found shape, imports."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from shared.assertions import (
    SigningKey,
    encode_stream,
    parse_assertion,
    parse_stream,
    sign_assertion,
    verify_chain,
)
from tests.sim.helpers import HELLO_ID, one
from tests.support.device_api import install
from tests.support.sim import SimHandle, run_cli
from tools.snap_store_sim.publish import b64url_digest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "canonical-assertions"
ASSERTION_TYPE = "application/x.ubuntu.assertion"
ROOT_KEY = "-CvQKAwRQ5h3Ffn10FILJoEZUXOv6km9FwA80-Rcj-f-6jadQ89VRswHNiEB9Lxk"
GENERIC_KEY = "d-JcZF9nD9eBw7bwMnH61x-bklnQOhQud1Is6o_cn2wTj8EYDi9musrIT9z2MdAa"


def _get(api: httpx.Client, path: str, **params: str) -> httpx.Response:
    return api.get(f"/v2/assertions/{path}", params=params,
                   headers={"Accept": ASSERTION_TYPE})  # fmt: skip


def test_snap_revision_matches_blob_and_verifies(sim: SimHandle, api: httpx.Client) -> None:
    snap = one(api, install("hello-sim"))["snap"]
    blob = httpx.get(snap["download"]["url"], follow_redirects=True).content
    digest = hashlib.sha3_384(blob).hexdigest()
    assert digest == snap["download"]["sha3-384"]
    response = _get(api, f"snap-revision/{b64url_digest(digest)}", **{"max-format": "0"})
    assert response.status_code == 200
    assert response.headers["content-type"] == ASSERTION_TYPE
    revision = parse_assertion(response.content)
    assert revision.raw == response.content
    assert revision.header("snap-id") == HELLO_ID
    assert revision.header("snap-revision") == "1"
    assert revision.header("snap-size") == str(len(blob))
    assert revision.header("developer-id") == "snapsim"
    stored = sim.data_dir / "asserts" / "snap-revision" / f"{b64url_digest(digest)}.assert"
    assert stored.read_bytes() == response.content
    # The whole chain checks out against the simulator's own keys.
    declaration = parse_assertion(_get(api, f"snap-declaration/16/{HELLO_ID}").content)
    store_key = parse_assertion(_get(api, f"account-key/{revision.sign_key_sha3_384}").content)
    root_key = parse_assertion(_get(api, f"account-key/{store_key.sign_key_sha3_384}").content)
    pool = [store_key, root_key]
    for item in (revision, declaration, store_key, root_key):
        verify_chain(item, pool)
    assert declaration.header("snap-name") == "hello-sim"
    assert root_key.header("account-id") == "snapsim-root"
    assert store_key.header("account-id") == "snapsim"


def test_full_key_with_default_provenance(api: httpx.Client) -> None:
    sha = one(api, install("tiny-tool"))["snap"]["download"]["sha3-384"]
    short = _get(api, f"snap-revision/{b64url_digest(sha)}")
    full = _get(api, f"snap-revision/{b64url_digest(sha)}/global-upload")
    assert short.status_code == full.status_code == 200 and short.content == full.content


@pytest.mark.parametrize(
    "path",
    [
        "account/nobody",
        "snap-declaration/16/" + "Q" * 32,
        "snap-declaration/16",
        "snap-declaration/16/a/b",
        "no-such-type/x",
        "snap-revision/abc/other-provenance",
    ],
)
def test_not_found_shape(api: httpx.Client, path: str) -> None:
    response = _get(api, path, **{"max-format": "0"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    error = response.json()["error-list"][0]
    assert error["code"] == "not-found" and error["message"]


def test_prerequisite_stream(api: httpx.Client) -> None:
    response = _get(api, f"snap-declaration/16/{HELLO_ID}", prerequisites="true")
    assert response.status_code == 200
    items = parse_stream(response.content)
    assert encode_stream(items) == response.content
    kinds = [(a.type, a.reduced_primary_key) for a in items]
    assert kinds[-1] == ("snap-declaration", ("16", HELLO_ID))
    assert ("account", ("snapsim",)) in kinds
    assert ("account", ("snapsim-root",)) not in kinds  # the trusted root stays out
    assert len([k for k in kinds if k[0] == "account-key"]) == 1


def test_import_canonical_assertions_byte_exact(sim: SimHandle, api: httpx.Client) -> None:
    files = sorted(FIXTURES.glob("*.assert"))
    result = sim.cli("import-assertions", *map(str, files))
    assert result.stdout.count("imported") + result.stdout.count("kept existing") == len(files)
    paths = {
        "account-canonical.assert": "account/canonical",
        "account-generic.assert": "account/generic",
        "key-root.assert": f"account-key/{ROOT_KEY}",
        "key-generic.assert": f"account-key/{GENERIC_KEY}",
        "model.assert": "model/16/generic/generic-classic",
    }
    for name, path in paths.items():
        original = (FIXTURES / name).read_bytes()
        response = _get(api, path, **{"max-format": "0"})
        assert response.status_code == 200, path
        # Served as encoded on the wire: the file's exact bytes, plus the final "\n"
        # snapd's Encode adds (the fixture files lack it).
        assert response.content == original + (b"" if original.endswith(b"\n") else b"\n")
        assert response.content == parse_assertion(original).raw
    again = sim.cli("import-assertions", str(FIXTURES / "model.assert"))
    assert "kept existing" in again.stdout


def test_import_stream_and_errors(tmp_path: Path) -> None:
    stream = encode_stream(parse_assertion(p.read_bytes()) for p in sorted(FIXTURES.iterdir()))
    (tmp_path / "all.assert").write_bytes(stream)
    data = tmp_path / "data"
    done = run_cli("import-assertions", "--data-dir", str(data), str(tmp_path / "all.assert"))
    assert done.stdout.count("imported") == 5
    stored = data / "asserts" / "account" / "canonical.assert"
    assert stored.read_bytes() == parse_assertion((FIXTURES / "account-canonical.assert")
                                                  .read_bytes()).raw  # fmt: skip
    (tmp_path / "bad.assert").write_bytes(b"type: nonsense\n")
    bad = run_cli("import-assertions", "--data-dir", str(data), str(tmp_path / "bad.assert"),
                  check=False)  # fmt: skip
    assert bad.returncode == 1


def test_validation_set_sequences(sim: SimHandle, api: httpx.Client, tmp_path: Path) -> None:
    key = SigningKey.from_pem((sim.data_dir / "keys" / "store.pem").read_bytes())
    files = []
    for sequence in (1, 2):
        item = sign_assertion(
            {
                "type": "validation-set", "authority-id": "snapsim", "series": "16",
                "account-id": "snapsim", "name": "testset", "sequence": str(sequence),
                "timestamp": "2024-01-01T00:00:00Z",
                "snaps": [{"name": "hello-sim", "id": HELLO_ID, "presence": "required"}],
            },
            key,
        )  # fmt: skip
        files.append(tmp_path / f"vs{sequence}.assert")
        files[-1].write_bytes(item.raw)
    sim.cli("import-assertions", *map(str, files))
    latest = _get(api, "validation-set/16/snapsim/testset", sequence="latest")
    assert parse_assertion(latest.content).header("sequence") == "2"
    first = _get(api, "validation-set/16/snapsim/testset", sequence="1")
    assert first.content == files[0].read_bytes()
    action = {
        "action": "fetch-assertions", "key": "vs",
        "assertions": [
            {"type": "validation-set", "sequence-key": ["16", "snapsim", "testset"],
             "if-sequence-equal-or-newer-than": 2},
            {"type": "validation-set", "sequence-key": ["16", "snapsim", "testset"],
             "sequence": 1},
        ],
    }  # fmt: skip
    urls = one(api, action)["assertion-stream-urls"]
    assert [u.split("?")[0].rsplit("/", 1)[1] for u in urls] == ["2", "1"]
    body = httpx.get(urls[1]).content
    assert parse_stream(body)[-1].raw == files[0].read_bytes()
