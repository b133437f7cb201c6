"""Tables, grouped by the service that owns them. Only Alembic creates them.

Each table names its service's logical schema (``shared.db.SCHEMAS``: one PostgreSQL schema
per service, none on SQLite); ``suite`` holds what every service reads."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
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
    __table_args__ = (
        UniqueConstraint("snap_id", "revision"),
        {"schema": "revisions"},
    )

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
    # Seen only in answers to requests with store credentials (see services/revisions).
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class SnapChannel(Base):
    """Which revision a channel held for an architecture, when upstream last said so."""

    __tablename__ = "snap_channels"
    __table_args__ = (
        UniqueConstraint("snap_id", "architecture", "channel"),
        {"schema": "revisions"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snap_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    architecture: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RevisionOverride(Base):
    """An admin's pin: devices asking for ``channel`` on ``architecture`` get ``revision``
    whatever the upstream holds there. ``snap_json`` is the upstream's answer for that
    revision (every field snapd asks for), fetched when the pin was set. ``frozen``: made by
    ``snap-proxy freeze`` (``unfreeze`` drops exactly those)."""

    __tablename__ = "overrides"
    __table_args__ = (
        UniqueConstraint("snap_id", "channel", "architecture", "series"),
        {"schema": "revisions"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snap_id: Mapped[str] = mapped_column(String(64))
    snap_name: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(128))
    architecture: Mapped[str] = mapped_column(String(32))
    series: Mapped[str] = mapped_column(String(16), default="16")
    revision: Mapped[int] = mapped_column(Integer)
    snap_json: Mapped[str] = mapped_column(Text, default="{}")
    frozen: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(128), default="")


class OverrideChange(Base):
    """One line of the overrides' audit log: who changed which pin, when, from what to what
    (``old_revision``/``new_revision`` None: there was none, or it was removed)."""

    __tablename__ = "override_log"
    __table_args__ = {"schema": "revisions"}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))
    snap_id: Mapped[str] = mapped_column(String(64))
    snap_name: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(128))
    architecture: Mapped[str] = mapped_column(String(32))
    old_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)
    new_revision: Mapped[int | None] = mapped_column(Integer, nullable=True)


# -- the whole suite ---------------------------------------------------------------------------


class SuiteSecret(Base):
    """A secret every process of the suite shares (``shared.internal``), by name."""

    __tablename__ = "suite_secrets"
    __table_args__ = {"schema": "suite"}

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class ConfigEntry(Base):
    """One key of ``snap-proxy config`` (``shared.config``) as the admin set it: every service
    and every replica reads the same values. ``updated_at`` only grows (``shared.config.store``),
    so a process polls ``count(*), max(updated_at)`` to see that something changed."""

    __tablename__ = "config"
    __table_args__ = {"schema": "suite"}

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ServiceRole(Base):
    """The PostgreSQL role a service connects as, and its password (``shared.dbsetup``).
    Only the owner of the database reads it: it is how a second node configured with the
    same database learns the roles' passwords instead of resetting them. Empty on SQLite."""

    __tablename__ = "service_roles"
    __table_args__ = {"schema": "suite"}

    service: Mapped[str] = mapped_column(String(32), primary_key=True)
    role: Mapped[str] = mapped_column(String(63))
    password: Mapped[str] = mapped_column(Text)


# -- assertions service ------------------------------------------------------------------------


class StoredAssertion(Base):
    """An assertion exactly as upstream sent it; a newer revision replaces an older one."""

    __tablename__ = "assertions"
    __table_args__ = (
        UniqueConstraint("type", "primary_key"),
        {"schema": "assertions"},
    )

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
    """A client that asked for a device session. ``verified`` rows are devices whose serial the
    upstream store accepted (it granted a session); other rows (serials it refused or could not
    judge, requests without a serial) are sightings, kept apart under their own keys."""

    __tablename__ = "devices"
    __table_args__ = {"schema": "auth"}

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
    verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class DeviceRefusal(Base):
    """A new device the session endpoint refused because ``proxy.device-limit`` was reached:
    one row per device key (as in ``devices``), counting the refusals."""

    __tablename__ = "device_refusals"
    __table_args__ = {"schema": "auth"}

    device_key: Mapped[str] = mapped_column(String(512), primary_key=True)
    brand_id: Mapped[str | None] = mapped_column(String(128))
    model: Mapped[str | None] = mapped_column(String(128))
    serial: Mapped[str | None] = mapped_column(String(256))
    address: Mapped[str | None] = mapped_column(String(64))
    first_refused: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_refused: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    refusals: Mapped[int] = mapped_column(Integer, default=0)


# -- devicegw service --------------------------------------------------------------------------


class OtherClient(Base):
    """A client that used the device API without a device session (``snap download``, a
    snapd without a serial), by address: it is counted apart from the devices."""

    __tablename__ = "other_clients"
    __table_args__ = {"schema": "devicegw"}

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_agent: Mapped[str | None] = mapped_column(String(512))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ChildProxy(Base):
    """A snapproxy registered with this one as its upstream (``POST /v2/auth/proxy/register``):
    the parent's inventory of its children."""

    __tablename__ = "child_proxies"
    __table_args__ = {"schema": "auth"}

    store_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    public_key: Mapped[str] = mapped_column(Text)
    account: Mapped[str] = mapped_column(String(320))
    domain: Mapped[str] = mapped_column(String(253))
    url: Mapped[str] = mapped_column(Text)
    use_case: Mapped[str] = mapped_column(Text)
    assertions: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_contact: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    devices: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The child's last report (POST /v2/auth/proxy/report): when it sent it, and the clients
    # without a device session it counted (null: not reported, or it could not count them).
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    other_clients: Mapped[int | None] = mapped_column(Integer, nullable=True)


# -- downloads service -------------------------------------------------------------------------


class CacheEntry(Base):
    """A verified blob in the cache, content-addressed by its SHA3-384."""

    __tablename__ = "cache_entries"
    __table_args__ = {"schema": "downloads"}

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
    __table_args__ = {"schema": "downloads"}

    sha3_384: Mapped[str] = mapped_column(String(96), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    partial_name: Mapped[str] = mapped_column(String(256))
    size: Mapped[int] = mapped_column(BigInteger)
    # Where other nodes stream the growing blob from (downloads.node-url); None: same disk.
    node_url: Mapped[str | None] = mapped_column(String(256), default=None)
    # What is being filled, for the admin's list of fills (None: a lease from before 20xx).
    name: Mapped[str | None] = mapped_column(String(64), default=None)
    revision: Mapped[int | None] = mapped_column(Integer, default=None)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class CacheCounter(Base):
    """Hits, misses and bytes per snap (name ``*`` holds events not tied to one snap)."""

    __tablename__ = "cache_counters"
    __table_args__ = {"schema": "downloads"}

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    hits: Mapped[int] = mapped_column(BigInteger, default=0)
    misses: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_from_cache: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_from_upstream: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_fills: Mapped[int] = mapped_column(BigInteger, default=0)
    evictions: Mapped[int] = mapped_column(BigInteger, default=0)
    # Bytes sent to clients that were not hits: streamed from fills, or relayed uncached.
    bytes_relayed: Mapped[int] = mapped_column(BigInteger, default=0)


class CacheDay(Base):
    """The cache's traffic per UTC day (the day of the counters' flush), for the dashboard's
    30-day chart."""

    __tablename__ = "cache_days"
    __table_args__ = {"schema": "downloads"}

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    hits: Mapped[int] = mapped_column(BigInteger, default=0)
    misses: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_from_cache: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_relayed: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_from_upstream: Mapped[int] = mapped_column(BigInteger, default=0)


# -- revisions service: snaps imported from bundles (offline mode, docs/offline.md) ------------


class PushedSnap(Base):
    """A snap imported with ``snap-proxy push-snap``: what info and find answer for it."""

    __tablename__ = "pushed_snaps"
    __table_args__ = {"schema": "revisions"}

    snap_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    info_json: Mapped[str] = mapped_column(Text)  # the info answer, channel map as exported
    find_json: Mapped[str] = mapped_column(Text)  # the find result, or "null"
    pushed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PushedRevision(Base):
    """An imported revision: its blob (in the downloads cache, pinned) and its refresh
    answer's ``snap`` object."""

    __tablename__ = "pushed_revisions"
    __table_args__ = (
        UniqueConstraint("snap_id", "revision"),
        {"schema": "revisions"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snap_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    architectures: Mapped[str] = mapped_column(String(256), default="")
    sha3_384: Mapped[str] = mapped_column(String(96), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    snap_json: Mapped[str] = mapped_column(Text)
    pushed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PushedChannel(Base):
    """Which imported revision a channel holds for an architecture."""

    __tablename__ = "pushed_channels"
    __table_args__ = (
        UniqueConstraint("snap_id", "architecture", "channel"),
        {"schema": "revisions"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snap_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    architecture: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(128))
    revision: Mapped[int] = mapped_column(Integer)
