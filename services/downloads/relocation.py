"""Moving the cached blobs between the backends (local disk <-> S3 bucket).

Each blob the ledger lists is read from the store in use and written to the other one the
way a fill writes (a partial file, multipart for S3), its SHA3-384 checked before it is
committed there. A blob already in the destination is skipped, so a move that was stopped
is finished by running it again. The source keeps its copies: switching
``proxy.storage.backend`` afterwards is the admin's step (``snap-proxy cache move-to`` does
it), and deleting the old copies is theirs too.
"""

from __future__ import annotations

from services.downloads.errors import StorageUnavailable
from services.downloads.storage import BlobStore, LocalBlobStore
from shared.settings import Settings

CHUNK = 4 * 1024 * 1024


class MoveRefused(StorageUnavailable):
    """The move cannot start: the destination is the store in use, or it is unusable."""

    status_code = 400
    code = "invalid-request"


def destination_store(settings: Settings, backend: str, current: BlobStore) -> BlobStore:
    """The store of ``backend`` built from ``settings`` (the S3 keys are read even while
    the local backend is in use)."""
    if backend == current.kind:
        raise MoveRefused(f"the cache is already in the {backend} store")
    if backend == "local":
        return LocalBlobStore(settings.cache_dir)
    if backend == "s3":
        if not (settings.storage_s3_endpoint or settings.storage_s3_access_key_id):
            raise MoveRefused(
                "configure the bucket first: proxy.storage.s3.server-url (or, for AWS S3, "
                "proxy.storage.s3.access-key-id) and storage.s3.bucket; see docs/storage.md"
            )
        from services.downloads.s3store import S3BlobStore  # botocore only when used

        return S3BlobStore.from_settings(settings)
    raise MoveRefused(f"unknown storage backend {backend!r}: local or s3")


def copy_blob(source: BlobStore, destination: BlobStore, sha3_384: str, size: int) -> bool:
    """Copy one blob (blocking: a blob I/O thread); False when the destination has it."""
    if destination.find(sha3_384) is not None:
        return False
    writer = destination.writer(destination.new_partial(sha3_384), sha3_384)
    try:
        offset = 0
        while offset < size:
            chunk = source.read(sha3_384, offset, min(CHUNK, size - offset))
            if not chunk:
                raise StorageUnavailable(f"blob {sha3_384[:16]} is shorter than recorded")
            writer.write(chunk)
            offset += len(chunk)
        if writer.finish() != sha3_384:
            raise StorageUnavailable(f"blob {sha3_384[:16]} does not match its SHA3-384")
        destination.commit(writer, sha3_384)
    except BaseException:
        writer.abort()
        raise
    return True
