"""Blobs in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, SeaweedFS).

A fill still writes its local partial file (this node's followers read it as it grows); the
writer also uploads it as a multipart upload, a part whenever 8 MiB more have been written,
read back from the file (so no fill holds more than a part in memory). ``commit`` uploads
the last part and completes the upload only after the bytes were verified: before that
nothing is visible in the bucket. A failed fill aborts its upload; uploads of fills that died
with their process are aborted by :meth:`S3BlobStore.sweep_uploads` at start.

The client is boto3 (botocore), called in the blob I/O threads like every store operation
(the choice, measured against obstore, aiobotocore and miniopy-async: docs/performance.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from services.downloads.errors import StorageUnavailable
from services.downloads.storage import BlobWriter, PartialFiles, StoredBlob, check_sha3
from shared.settings import Settings

PART = 8 * 1024 * 1024  # S3 wants parts of 5 MiB at least, but the last


def _missing(error: ClientError) -> bool:
    code = str(error.response.get("Error", {}).get("Code", ""))
    return code in ("404", "NoSuchKey", "NotFound")


class S3Writer(BlobWriter):
    """A fill's writer that also uploads what it wrote, part by part."""

    def __init__(self, path: Path, store: S3BlobStore, key: str) -> None:
        super().__init__(path)
        self.store = store
        self.key = key
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []
        self.uploaded = 0

    def write(self, chunk: bytes) -> None:
        super().write(chunk)
        while self.written - self.uploaded >= PART:
            self._upload_part(PART)

    def _upload_part(self, length: int) -> None:
        client, bucket = self.store.client, self.store.bucket
        if self.upload_id is None:
            created = self.store.call(
                client.create_multipart_upload,
                Bucket=bucket,
                Key=self.key,
                ContentType="application/octet-stream",
            )
            self.upload_id = str(created["UploadId"])
        with self.path.open("rb") as partial:
            partial.seek(self.uploaded)
            body = partial.read(length)
        number = len(self.parts) + 1
        answer = self.store.call(
            client.upload_part,
            Bucket=bucket,
            Key=self.key,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=body,
        )
        self.parts.append({"ETag": answer["ETag"], "PartNumber": number})
        self.uploaded += len(body)

    def complete(self) -> None:
        """Upload what is left and make the object visible (after verification only)."""
        client, bucket = self.store.client, self.store.bucket
        if self.upload_id is None:  # smaller than a part: one PUT
            self.store.call(
                client.put_object, Bucket=bucket, Key=self.key, Body=self.path.read_bytes()
            )
            return
        if self.written > self.uploaded:
            self._upload_part(self.written - self.uploaded)
        self.store.call(
            client.complete_multipart_upload,
            Bucket=bucket,
            Key=self.key,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},
        )
        self.upload_id = None

    def abort(self) -> None:
        super().abort()
        if self.upload_id is not None:
            upload_id, self.upload_id = self.upload_id, None
            self.store.call(
                self.store.client.abort_multipart_upload,
                Bucket=self.store.bucket,
                Key=self.key,
                UploadId=upload_id,
            )


class S3BlobStore(PartialFiles):
    """Blobs as ``<prefix>blobs/<sha3>.snap`` objects; fills under ``<cache dir>/partial``."""

    kind = "s3"

    def __init__(
        self,
        partials: Path,
        *,
        bucket: str,
        prefix: str,
        endpoint: str | None,
        region: str,
        path_style: bool,
        access_key_id: str | None,
        secret_access_key: str | None,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(partials)
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint = endpoint
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                s3={"addressing_style": "path" if path_style else "virtual"},
                signature_version="s3v4",
                connect_timeout=5,
                read_timeout=timeout,
                retries={"max_attempts": 2, "mode": "standard"},
                max_pool_connections=32,
            ),
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        secret = settings.storage_s3_secret_access_key
        return cls(
            settings.cache_dir / "partial",
            bucket=settings.storage_s3_bucket,
            prefix=settings.storage_s3_prefix,
            endpoint=settings.storage_s3_endpoint,
            region=settings.storage_s3_region,
            path_style=settings.storage_s3_path_style,
            access_key_id=settings.storage_s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret else None,
        )

    def call(self, operation: Any, **arguments: Any) -> Any:
        """One S3 operation; StorageUnavailable when the store cannot be reached or refuses."""
        try:
            return operation(**arguments)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise StorageUnavailable(
                f"the object store refused {operation.__name__}: {code}"
            ) from None
        except BotoCoreError as exc:
            raise StorageUnavailable(
                f"the object store is not answering ({type(exc).__name__})"
            ) from None

    def key(self, sha3_384: str) -> str:
        return f"{self.prefix}blobs/{check_sha3(sha3_384)}.snap"

    def recent(self, sha3_384: str) -> StoredBlob | None:
        return None  # every find asks the bucket (another replica may have deleted it)

    def find(self, sha3_384: str) -> StoredBlob | None:
        key = self.key(sha3_384)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _missing(exc):
                return None
            raise StorageUnavailable("the object store refused a HEAD") from None
        except BotoCoreError as exc:
            raise StorageUnavailable(f"the object store is not answering ({exc})") from None
        modified: datetime = head["LastModified"]
        return StoredBlob(int(head["ContentLength"]), modified.timestamp(), key)

    def read(self, sha3_384: str, offset: int, length: int) -> bytes:
        answer = self.call(
            self.client.get_object,
            Bucket=self.bucket,
            Key=self.key(sha3_384),
            Range=f"bytes={offset}-{offset + length - 1}",
        )
        body: bytes = answer["Body"].read()
        return body

    def digest(self, sha3_384: str) -> str | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.key(sha3_384))
        except ClientError as exc:
            if _missing(exc):
                return None
            raise StorageUnavailable("the object store refused a GET") from None
        hasher = hashlib.sha3_384()
        body = answer["Body"]
        while chunk := body.read(1024 * 1024):
            hasher.update(chunk)
        return hasher.hexdigest()

    def presigned_url(self, sha3_384: str, seconds: int) -> str:
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self.key(sha3_384)},
            ExpiresIn=seconds,
        )
        return url

    def writer(self, partial: Path, sha3_384: str) -> BlobWriter:
        return S3Writer(partial, self, self.key(sha3_384))

    def commit(self, writer: BlobWriter, sha3_384: str) -> None:
        assert isinstance(writer, S3Writer)
        writer.complete()
        writer.path.unlink(missing_ok=True)  # followers with it open read on; others use S3

    def delete(self, sha3_384: str) -> None:
        self.call(self.client.delete_object, Bucket=self.bucket, Key=self.key(sha3_384))

    def retire(self, sha3_384: str) -> None:
        # Deleted at once: a presigned URL handed out just before fails (local blobs wait).
        self.delete(sha3_384)

    def drop_retired(self, retired_before: float, sha3s: Iterable[str] | None = None) -> int:
        return 0

    def sweep_uploads(self, older_than: float) -> int:
        answer = self.call(
            self.client.list_multipart_uploads, Bucket=self.bucket, Prefix=f"{self.prefix}blobs/"
        )
        cutoff = datetime.fromtimestamp(older_than, UTC)
        aborted = 0
        for upload in answer.get("Uploads", []):
            if upload["Initiated"] < cutoff:
                self.call(
                    self.client.abort_multipart_upload,
                    Bucket=self.bucket,
                    Key=upload["Key"],
                    UploadId=upload["UploadId"],
                )
                aborted += 1
        return aborted

    def check_writable(self) -> None:
        super().check_writable()
        self.call(self.client.head_bucket, Bucket=self.bucket)
