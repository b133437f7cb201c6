"""The ledger runs a transaction again when PostgreSQL picks it as a deadlock's victim.

An admin evicting a snap (delete its entry, then bump its counter row) while a counter
flush bumps the same rows in the other order made PostgreSQL abort one of them with
``deadlock detected`` (40P01): the evict answered 500. Found with an eviction loop beside
three downloading devices in the split topology. The retry is a unit test here (the
deadlock itself needs two transactions to meet at the right moment).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from services.downloads.ledger import Ledger


class PostgresError(Exception):
    """What SQLAlchemy's asyncpg adapter puts in ``DBAPIError.orig``: the SQLSTATE too."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"error {sqlstate}")
        self.sqlstate = sqlstate


def failing(sqlstate: str, times: int) -> tuple[list[int], object]:
    calls: list[int] = []

    async def work(session: AsyncSession) -> str:
        calls.append(1)
        if len(calls) <= times:
            raise DBAPIError("DELETE ...", {}, PostgresError(sqlstate))
        return "done"

    return calls, work


@pytest.fixture
async def ledger(tmp_path: Path) -> Ledger:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    return Ledger(engine, async_sessionmaker(engine), lease_timeout=30)


@pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
async def test_a_deadlock_victim_is_run_again(ledger: Ledger, sqlstate: str) -> None:
    calls, work = failing(sqlstate, times=2)
    assert await ledger._run(work) == "done"  # type: ignore[arg-type]
    assert len(calls) == 3


async def test_a_lasting_deadlock_is_not_retried_forever(ledger: Ledger) -> None:
    calls, work = failing("40P01", times=10)
    with pytest.raises(DBAPIError):
        await ledger._run(work)  # type: ignore[arg-type]
    assert len(calls) == 3


async def test_other_database_errors_are_not_retried(ledger: Ledger) -> None:
    calls, work = failing("23505", times=10)  # unique_violation: a bug, not bad luck
    with pytest.raises(DBAPIError):
        await ledger._run(work)  # type: ignore[arg-type]
    assert len(calls) == 1
