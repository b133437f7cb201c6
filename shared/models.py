"""Tables, grouped by the service that owns them. Only Alembic creates them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware column that always reads back as UTC: SQLite hands back naive
    datetimes (every stored time is UTC), PostgreSQL the session's time zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- revisions service -------------------------------------------------------------------------


class SnapRevision(Base):
    """A snap revision seen in an upstream answer: enough to fetch and verify its blob."""

    __tablename__ = "snap_revisions"
    __table_args__ = (UniqueConstraint("snap_id", "revision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snap_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    architectures: Mapped[str] = mapped_column(String(256), default="")
    sha3_384: Mapped[str] = mapped_column(String(96), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    upstream_url: Mapped[str] = mapped_column(Text)
    snap_json: Mapped[str] = mapped_column(Text, default="{}")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SnapChannel(Base):
    """Which revision a channel held for an architecture, when upstream last said so."""

    __tablename__ = "snap_channels"
    __table_args__ = (UniqueConstraint("snap_id", "architecture", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snap_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    architecture: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# -- assertions service ------------------------------------------------------------------------


class StoredAssertion(Base):
    """An assertion exactly as upstream sent it; a newer revision replaces an older one."""

    __tablename__ = "assertions"
    __table_args__ = (UniqueConstraint("type", "primary_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    primary_key: Mapped[str] = mapped_column(String(1024))
    revision: Mapped[int] = mapped_column(Integer, default=0)
    format: Mapped[int] = mapped_column(Integer, default=0)
    authority_id: Mapped[str] = mapped_column(String(128), default="")
    sign_key_sha3_384: Mapped[str] = mapped_column(String(128), default="")
    encoded: Mapped[bytes] = mapped_column(LargeBinary)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# -- auth service ------------------------------------------------------------------------------


class Device(Base):
    """A device that talked to the proxy: by serial when it has one, else by address and agent."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_key: Mapped[str] = mapped_column(String(512), unique=True)
    brand_id: Mapped[str | None] = mapped_column(String(128))
    model: Mapped[str | None] = mapped_column(String(128))
    serial: Mapped[str | None] = mapped_column(String(256))
    address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(512))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sessions: Mapped[int] = mapped_column(Integer, default=0)


# -- downloads service -------------------------------------------------------------------------


class CacheEntry(Base):
    """A verified blob in the cache, content-addressed by its SHA3-384."""

    __tablename__ = "cache_entries"

    sha3_384: Mapped[str] = mapped_column(String(96), primary_key=True)
    snap_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(BigInteger)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_access: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)


class CacheFill(Base):
    """A lease on filling one blob: exactly one owner fetches it upstream at a time."""

    __tablename__ = "cache_fills"

    sha3_384: Mapped[str] = mapped_column(String(96), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    partial_name: Mapped[str] = mapped_column(String(256))
    size: Mapped[int] = mapped_column(BigInteger)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CacheCounter(Base):
    """Hits, misses and bytes per snap (name ``*`` holds events not tied to one snap)."""

    __tablename__ = "cache_counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    hits: Mapped[int] = mapped_column(BigInteger, default=0)
    misses: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_from_cache: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_from_upstream: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_fills: Mapped[int] = mapped_column(BigInteger, default=0)
    evictions: Mapped[int] = mapped_column(BigInteger, default=0)
