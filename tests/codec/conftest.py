"""Session fixtures: the genuine Canonical assertions and freshly generated keys."""

from __future__ import annotations

import pytest

from shared.assertions import Assertion, SigningKey, parse_assertion

from .support import FIXTURE_NAMES, make_account_key, read_fixture


@pytest.fixture(scope="session")
def genuine_bytes() -> dict[str, bytes]:
    return {name: read_fixture(name) for name in FIXTURE_NAMES}


@pytest.fixture(scope="session")
def genuine(genuine_bytes: dict[str, bytes]) -> dict[str, Assertion]:
    return {name: parse_assertion(data) for name, data in genuine_bytes.items()}


@pytest.fixture(scope="session")
def root_key() -> SigningKey:
    """A 4096-bit key, generated once: key generation is slow."""
    return SigningKey.generate(4096)


@pytest.fixture(scope="session")
def small_key() -> SigningKey:
    """A 2048-bit key for tests that do not care about key size."""
    return SigningKey.generate(2048)


@pytest.fixture(scope="session")
def root_account_key(root_key: SigningKey) -> Assertion:
    """The self-signed account-key of `root_key`, for account `testroot`."""
    return make_account_key(root_key, "testroot", root_key)


@pytest.fixture(scope="session")
def small_account_key(small_key: SigningKey, root_key: SigningKey) -> Assertion:
    """`small_key`'s account-key for account `brand`, signed by `root_key`."""
    return make_account_key(small_key, "brand", root_key)
