"""Trusted root keys (SNAPPROXY_TRUSTED_ROOT_KEYS) and the chain up to them."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.assertions import (
    Assertion,
    SigningKey,
    TrustChain,
    TrustedRootError,
    UntrustedAssertion,
    canonical_root_key,
    load_trusted_roots,
    parse_assertion,
    sign_assertion,
)
from shared.settings import Settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/canonical-assertions"
CANONICAL_ROOT_ID = "-CvQKAwRQ5h3Ffn10FILJoEZUXOv6km9FwA80-Rcj-f-6jadQ89VRswHNiEB9Lxk"


def fixture(name: str) -> Assertion:
    return parse_assertion((FIXTURES / name).read_bytes())


def account_key(key: SigningKey, signer: SigningKey, account: str = "root") -> Assertion:
    return sign_assertion(
        {
            "type": "account-key",
            "authority-id": "root",
            "account-id": account,
            "name": "k" + key.key_id[:6].lower().replace("-", "x").replace("_", "x"),
            "public-key-sha3-384": key.key_id,
            "since": "2016-01-01T00:00:00Z",
        },
        signer,
        key.public_key_body(),
    )


def account(account_id: str, signer: SigningKey, authority: str = "root") -> Assertion:
    return sign_assertion(
        {
            "type": "account",
            "authority-id": authority,
            "account-id": account_id,
            "display-name": account_id,
            "validation": "unproven",
            "timestamp": "2024-01-01T00:00:00Z",
        },
        signer,
    )


@pytest.fixture(scope="module")
def root() -> SigningKey:
    return SigningKey.generate(2048)


@pytest.fixture(scope="module")
def middle() -> SigningKey:
    return SigningKey.generate(2048)


def test_the_built_in_root_is_canonicals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SNAPPROXY_TRUSTED_ROOT_KEYS", raising=False)
    [key] = load_trusted_roots("canonical")
    assert key.header("public-key-sha3-384") == CANONICAL_ROOT_ID
    assert canonical_root_key() == (FIXTURES / "key-root.assert").read_bytes()
    assert Settings().trusted_root_keys == "canonical"


def test_roots_from_files_and_inline_text(tmp_path: Path, root: SigningKey) -> None:
    own = account_key(root, root)
    path = tmp_path / "root.assert"
    path.write_bytes(own.raw)
    keys = load_trusted_roots(f" canonical , {path} ")
    assert [k.header("public-key-sha3-384") for k in keys] == [CANONICAL_ROOT_ID, root.key_id]
    [inline] = load_trusted_roots(own.raw.decode())
    assert inline.raw == own.raw


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "names no trusted root key"),
        (" , ", "names no trusted root key"),
        ("/nonexistent/root.assert", "cannot read /nonexistent/root.assert"),
        (str(FIXTURES / "model.assert"), "not an account-key"),
        ("type: account-key\n\nnot signed", "not an assertion stream"),
    ],
)
def test_bad_roots_are_refused(spec: str, message: str) -> None:
    with pytest.raises(TrustedRootError, match=message):
        load_trusted_roots(spec)


def test_bad_roots_setting_names_the_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPPROXY_TRUSTED_ROOT_KEYS", "/nonexistent/root.assert")
    with pytest.raises(ValidationError, match="cannot read"):
        Settings()


def test_a_key_whose_body_does_not_match_its_id_is_refused(root: SigningKey) -> None:
    other = SigningKey.generate(1024)
    lying = account_key(root, root).raw.replace(root.public_key_body(), other.public_key_body())
    # The body changed length: fix body-length so the text still parses.
    text = lying.decode().replace(
        f"body-length: {len(root.public_key_body())}",
        f"body-length: {len(other.public_key_body())}",
    )
    with pytest.raises(TrustedRootError, match="does not match its body"):
        load_trusted_roots(text)


def test_canonical_chain_verifies() -> None:
    roots = load_trusted_roots("canonical")
    fixtures = [fixture(p.name) for p in sorted(FIXTURES.glob("*.assert"))]
    chain = TrustChain(roots, candidates=fixtures)
    for assertion in fixtures:
        chain.verify(assertion)
    with pytest.raises(UntrustedAssertion) as raised:
        TrustChain(roots).verify(fixture("model.assert"))  # generic's key unknown
    assert raised.value.reason == UntrustedAssertion.UNKNOWN_SIGNER


def test_chain_through_a_candidate_key(root: SigningKey, middle: SigningKey) -> None:
    key = account_key(middle, root, account="acct")
    leaf = account("acct", middle, authority="acct")
    [root_key] = load_trusted_roots(account_key(root, root).raw.decode())
    TrustChain([root_key], candidates=[key]).verify(leaf)
    TrustChain([root_key], trusted=[key]).verify(leaf)
    with pytest.raises(UntrustedAssertion):
        TrustChain([root_key]).verify(leaf)


def test_refusals(root: SigningKey, middle: SigningKey) -> None:
    [root_key] = load_trusted_roots(account_key(root, root).raw.decode())
    chain = TrustChain([root_key])
    tampered = parse_assertion(account("x", root).raw.replace(b"unproven", b"verified"))
    cases = {
        "tampered": (tampered, UntrustedAssertion.BAD_SIGNATURE),
        "wrong authority": (
            account("y", middle),  # authority root, signed by acct's key
            UntrustedAssertion.BAD_SIGNATURE,
        ),
        "unknown signer": (
            account("z", SigningKey.generate(1024)),
            UntrustedAssertion.UNKNOWN_SIGNER,
        ),
    }
    chain.consider([account_key(middle, root, account="acct")])
    for name, (assertion, reason) in cases.items():
        with pytest.raises(UntrustedAssertion) as raised:
            chain.verify(assertion)
        assert raised.value.reason == reason, name


def test_a_self_signed_key_is_no_root(middle: SigningKey, root: SigningKey) -> None:
    fake_root = account_key(middle, middle)
    leaf = account("a", middle)
    [root_key] = load_trusted_roots(account_key(root, root).raw.decode())
    chain = TrustChain([root_key], candidates=[fake_root])
    for assertion in (fake_root, leaf):
        with pytest.raises(UntrustedAssertion) as raised:
            chain.verify(assertion)
        assert raised.value.reason == UntrustedAssertion.UNKNOWN_SIGNER


def test_a_key_chain_that_loops_ends(root: SigningKey) -> None:
    one, two = SigningKey.generate(1024), SigningKey.generate(1024)
    [root_key] = load_trusted_roots(account_key(root, root).raw.decode())
    chain = TrustChain([root_key], candidates=[account_key(one, two), account_key(two, one)])
    with pytest.raises(UntrustedAssertion):
        chain.verify(account("loop", one))
