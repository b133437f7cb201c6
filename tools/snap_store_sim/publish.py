"""Adding snaps and revisions: blobs, signed assertions and catalogue entries."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

from shared.assertions import sha3_384_file

from .builder import SnapMeta, build_snap
from .catalogue import Catalogue, CatalogueStore, Revision, Snap
from .channels import parse_channel
from .ids import account_id_for, rfc3339, snap_id_for
from .layout import DataDir
from .signing import STORE_ACCOUNT, Authority


@dataclass(frozen=True)
class Publisher:
    id: str
    username: str
    display_name: str
    validation: str = "unproven"

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "username": self.username,
            "display-name": self.display_name,
            "validation": self.validation,
        }


SNAP_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9](?:-?[a-z0-9])*$")
ARCH = re.compile(r"^[a-z0-9][a-z0-9_.+-]*$")
TYPES = ("app", "base", "os", "snapd", "gadget", "kernel")
CONFINEMENTS = ("strict", "classic", "devmode")

STORE_PUBLISHER = Publisher(STORE_ACCOUNT, STORE_ACCOUNT, "Snap Store Simulator", "verified")


def publisher_for(username: str) -> Publisher:
    if username == STORE_ACCOUNT:
        return STORE_PUBLISHER
    return Publisher(account_id_for(username), username, username.replace("-", " ").title())


def b64url_digest(sha3_hex: str) -> str:
    return base64.urlsafe_b64encode(bytes.fromhex(sha3_hex)).rstrip(b"=").decode()


def snap_meta(snap: Snap, rev: Revision) -> SnapMeta:
    return SnapMeta(
        name=snap.name,
        version=rev.version,
        summary=snap.summary,
        description=snap.description,
        type=rev.type,
        base=rev.base,
        arch=rev.arch,
        confinement=rev.confinement,
    )


def new_snap(name: str, publisher: Publisher, **fields: object) -> Snap:
    snap = Snap(name=name, snap_id=snap_id_for(name), publisher=publisher.to_json())
    snap.summary = str(fields.get("summary") or f"{name}: a simulated snap")
    snap.description = str(fields.get("description") or f"{name} is served by snap-store-sim.")
    snap.title = str(fields.get("title") or name)
    categories = fields.get("categories")
    snap.categories = list(categories) if isinstance(categories, list) else ["development"]
    return snap


def new_revision(
    snap: Snap,
    *,
    revision: int,
    version: str,
    arch: str,
    size: int,
    type_: str = "app",
    base: str | None = "core22",
    confinement: str = "strict",
) -> Revision:
    """A revision whose blob is still to be built (``build`` holds the recipe)."""
    if snap.revision(revision) is not None:
        raise ValueError(f"{snap.name} already has revision {revision}")
    now = rfc3339()
    rev = Revision(
        revision=revision,
        version=version,
        arch=arch,
        channels=[],
        file=f"{snap.name}_{revision}.snap",
        type=type_,
        base=None if type_ in ("base", "snapd", "os") else base,
        confinement=confinement,
        released_at=now,
        created_at=now,
        build={"size": size, "seed": f"{snap.name}/{revision}/{arch}"},
    )
    rev.snap_yaml = snap_meta(snap, rev).snap_yaml()
    return rev


def ensure_snap_assertions(authority: Authority, snap: Snap) -> None:
    """The publisher's account and the snap-declaration."""
    pub = snap.publisher
    if authority.asserts.get("account", [pub["id"]]) is None:
        authority.asserts.put(
            authority.account(pub["id"], pub["username"], pub["display-name"], pub["validation"])
        )
    if authority.asserts.get("snap-declaration", ["16", snap.snap_id]) is None:
        authority.asserts.put(authority.snap_declaration(snap.snap_id, snap.name, pub["id"]))


def build_blob(data: DataDir, snap: Snap, rev: Revision, reuse: bool = False) -> tuple[int, str]:
    """Build the blob of a pending revision: (size, sha3-384 hex).

    With ``reuse``, an existing file is taken as is (demo blobs are deterministic)."""
    assert rev.build is not None
    dest = data.snaps / rev.file
    if reuse and dest.exists():
        return dest.stat().st_size, sha3_384_file(dest)[0]
    seed = str(rev.build["seed"])
    return build_snap(dest, snap_meta(snap, rev), int(rev.build["size"]), seed, data.tmp)


def build_revision(
    data: DataDir, authority: Authority, snap: Snap, rev: Revision, reuse: bool = False
) -> None:
    """Build the blob of a pending revision and sign its snap-revision (in place)."""
    if rev.build is None:
        return
    size, sha3_hex = build_blob(data, snap, rev, reuse)
    authority.asserts.put(
        authority.snap_revision(
            b64url_digest(sha3_hex), snap.snap_id, size, rev.revision, snap.publisher["id"]
        )
    )
    rev.size, rev.sha3_384, rev.build = size, sha3_hex, None


def finish_build(store: CatalogueStore, name: str, built: Revision) -> None:
    """Record a revision built outside the lock."""

    def change(catalogue: Catalogue) -> None:
        snap = catalogue.by_name(name)
        rev = snap.revision(built.revision) if snap else None
        if rev is not None:
            rev.size, rev.sha3_384, rev.build = built.size, built.sha3_384, None

    store.update(change)


def add_snap(
    data: DataDir,
    name: str,
    *,
    size: int,
    channels: list[str],
    revision: int | None = None,
    arch: str = "amd64",
    version: str | None = None,
    publisher: str = "simdev",
    type_: str = "app",
    base: str | None = "core22",
    confinement: str = "strict",
    private: bool | None = None,
) -> tuple[Snap, Revision]:
    """Build and publish one revision now (the ``add-snap`` command).

    ``private=True`` makes the snap private (see ``access.py``: only requests with accepted
    store credentials see it), ``False`` public; None leaves an existing snap as it is (a new
    one is public). Raises ValueError for bad names, channels, types or an existing revision."""
    if not SNAP_NAME.match(name) or len(name) > 40:
        raise ValueError(f"invalid snap name {name!r}")
    if not ARCH.match(arch):
        raise ValueError(f"invalid architecture {arch!r}")
    if type_ not in TYPES or confinement not in CONFINEMENTS:
        raise ValueError(f"type must be one of {TYPES}, confinement one of {CONFINEMENTS}")
    if size < 0 or (revision is not None and revision < 1):
        raise ValueError("size must be >= 0 and revision >= 1")
    channels = [parse_channel(channel).full for channel in channels]
    authority = Authority.ensure(data)
    store = CatalogueStore(data)
    with data.locked():
        catalogue = store.get()
        snap = catalogue.by_name(name) or new_snap(name, publisher_for(publisher))
        if private is not None:
            snap.private = private
        number = revision or max((r.revision for r in snap.revisions), default=0) + 1
        rev = new_revision(
            snap,
            revision=number,
            version=version or f"1.0.{number}",
            arch=arch,
            size=size,
            type_=type_,
            base=base,
            confinement=confinement,
        )
        ensure_snap_assertions(authority, snap)
        build_revision(data, authority, snap, rev)

        def change(fresh: Catalogue) -> None:
            target = fresh.by_name(name)
            if target is None:
                target = snap
                target.revisions = []
                fresh.add(target)
            target.private = snap.private
            target.revisions.append(rev)
            for channel in channels:
                target.release(rev, channel)

        store.update(change)
    return snap, rev
