"""SQL for stored assertions; never commits (the caller's unit of work does)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import insert_for
from shared.models import StoredAssertion

_UPDATED = (
    "revision",
    "format",
    "authority_id",
    "sign_key_sha3_384",
    "encoded",
    "fetched_at",
)


async def get(session: AsyncSession, type_name: str, primary_key: str) -> StoredAssertion | None:
    result = await session.execute(
        select(StoredAssertion).where(
            StoredAssertion.type == type_name, StoredAssertion.primary_key == primary_key
        )
    )
    return result.scalar_one_or_none()


async def get_many(
    session: AsyncSession, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], StoredAssertion]:
    """The stored rows among ``(type, primary_key)`` pairs, by pair."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    result = await session.execute(
        select(StoredAssertion).where(
            tuple_(StoredAssertion.type, StoredAssertion.primary_key).in_(wanted)
        )
    )
    return {(row.type, row.primary_key): row for row in result.scalars()}


async def latest_in_sequence(
    session: AsyncSession, type_name: str, sequence_prefix: str, max_format: int | None
) -> StoredAssertion | None:
    """The stored member of a sequence with the highest sequence number (``prefix/N``)."""
    query = select(StoredAssertion).where(
        StoredAssertion.type == type_name,
        StoredAssertion.primary_key.startswith(sequence_prefix + "/", autoescape=True),
    )
    if max_format is not None:
        query = query.where(StoredAssertion.format <= max_format)
    best: tuple[int, StoredAssertion] | None = None
    for row in (await session.execute(query)).scalars():
        sequence = row.primary_key[len(sequence_prefix) + 1 :]
        if sequence.isdigit() and (best is None or int(sequence) > best[0]):
            best = (int(sequence), row)
    return best[1] if best else None


async def upsert(
    session: AsyncSession,
    *,
    type_name: str,
    primary_key: str,
    revision: int,
    format: int,
    authority_id: str,
    sign_key_sha3_384: str,
    encoded: bytes,
    fetched_at: datetime,
) -> None:
    """Store an assertion; an equal or newer revision replaces the stored one, an older not."""
    statement = insert_for(session, StoredAssertion).values(
        type=type_name,
        primary_key=primary_key,
        revision=revision,
        format=format,
        authority_id=authority_id,
        sign_key_sha3_384=sign_key_sha3_384,
        encoded=encoded,
        fetched_at=fetched_at,
    )
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["type", "primary_key"],
            set_={name: statement.excluded[name] for name in _UPDATED},
            where=StoredAssertion.revision <= statement.excluded.revision,
        )
    )


async def delete_matching(session: AsyncSession, type_name: str, key_prefix: str) -> int:
    """Drop the stored assertions of ``type_name`` whose primary key starts with
    ``key_prefix`` (a deleted imported snap's snap-revisions and snap-declaration)."""
    result = await session.execute(
        delete(StoredAssertion).where(
            StoredAssertion.type == type_name,
            StoredAssertion.primary_key.startswith(key_prefix, autoescape=True),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
