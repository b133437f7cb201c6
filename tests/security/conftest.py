"""Security findings of issue 15, one module per finding (``test_fNN_*.py``).

Each test reproduces its finding; it was committed (marked ``xfail(strict=True)``) before the
fix that makes it pass, so the history shows it failing first. The shared fixtures
(``upstream``/``sim``, ``embedded``, ``split``, ``any_proxy``) come from
``tests/support/fixtures.py``; ``split_hardened`` is defined here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.split import SplitTopology
from tests.security.hardened import hardened_split
from tests.support.sim import SimHandle


@pytest.fixture(scope="session")
def split_hardened(
    tmp_path_factory: pytest.TempPathFactory, upstream: SimHandle
) -> Iterator[SplitTopology]:
    """The split topology with a known internal secret and only its nginx trusted as a
    proxy (``tests/security/hardened.py``)."""
    with hardened_split(tmp_path_factory.mktemp("split-hardened"), upstream) as topology:
        yield topology
