"""Which S3 client library for the blob store: obstore, aiobotocore, boto3 or miniopy-async.

    python bench/s3_clients.py --endpoint http://127.0.0.1:8333 [--size-mib 256]

Each candidate that is installed uploads one object in parts (as a fill does: parts of
8 MiB as they arrive), reads it back as a stream, and signs a GET URL; the figures are the
wall time, the CPU time this process spent (the client's own cost, which is what the
downloads service pays), and the peak memory added. The yardstick is curl moving the same
bytes with a presigned URL. Candidates that are not installed are skipped with a note.
(The choice and its figures: docs/performance.md, "The S3 client".)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

PART = 8 * 1024 * 1024


@dataclass
class Figures:
    name: str
    put_s: float
    put_cpu: float
    get_s: float
    get_cpu: float
    peak_mib: float


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def timed(work: Callable[[], Awaitable[None]]) -> tuple[float, float]:
    wall, used = time.perf_counter(), cpu()
    await work()
    return time.perf_counter() - wall, cpu() - used


def parts(size: int) -> list[bytes]:
    block = os.urandom(PART)
    return [block] * (size // PART)


async def run_obstore(endpoint: str, bucket: str, size: int) -> Figures:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        bucket,
        endpoint=endpoint,
        access_key_id="bench",
        secret_access_key="bench",
        region="us-east-1",
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )
    key = f"obstore-{uuid.uuid4().hex}"
    before = peak_mib()

    async def put() -> None:
        upload = obstore.open_writer_async(store, key, buffer_size=PART)
        for part in parts(size):
            await upload.write(part)
        await upload.close()

    async def get() -> None:
        result = await obstore.get_async(store, key)
        digest = hashlib.sha3_384()
        async for chunk in result.stream(min_chunk_size=1024 * 1024):
            digest.update(chunk)

    put_s, put_cpu = await timed(put)
    get_s, get_cpu = await timed(get)
    obstore.sign(store, "GET", key, __import__("datetime").timedelta(minutes=5))
    return Figures("obstore", put_s, put_cpu, get_s, get_cpu, peak_mib() - before)


async def run_aiobotocore(endpoint: str, bucket: str, size: int) -> Figures:
    from aiobotocore.session import get_session

    key = f"aiobotocore-{uuid.uuid4().hex}"
    session = get_session()
    before = peak_mib()
    async with session.create_client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        region_name="us-east-1",
    ) as client:

        async def put() -> None:
            upload = await client.create_multipart_upload(Bucket=bucket, Key=key)
            done = []
            for number, part in enumerate(parts(size), start=1):
                answer = await client.upload_part(
                    Bucket=bucket,
                    Key=key,
                    PartNumber=number,
                    UploadId=upload["UploadId"],
                    Body=part,
                )
                done.append({"ETag": answer["ETag"], "PartNumber": number})
            await client.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload["UploadId"],
                MultipartUpload={"Parts": done},
            )

        async def get() -> None:
            answer = await client.get_object(Bucket=bucket, Key=key)
            digest = hashlib.sha3_384()
            async for chunk in answer["Body"].iter_chunks(1024 * 1024):
                digest.update(chunk)

        put_s, put_cpu = await timed(put)
        get_s, get_cpu = await timed(get)
        await client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
        )
    return Figures("aiobotocore", put_s, put_cpu, get_s, get_cpu, peak_mib() - before)


async def run_boto3(endpoint: str, bucket: str, size: int) -> Figures:
    """boto3 (botocore, as aiobotocore) called from a worker thread, as the blob store's
    file operations are."""
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        region_name="us-east-1",
    )
    key = f"boto3-{uuid.uuid4().hex}"
    before = peak_mib()

    def put_sync() -> None:
        upload = client.create_multipart_upload(Bucket=bucket, Key=key)
        done = []
        for number, part in enumerate(parts(size), start=1):
            answer = client.upload_part(
                Bucket=bucket, Key=key, PartNumber=number, UploadId=upload["UploadId"], Body=part
            )
            done.append({"ETag": answer["ETag"], "PartNumber": number})
        client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload["UploadId"], MultipartUpload={"Parts": done}
        )

    def get_sync() -> None:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        digest = hashlib.sha3_384()
        while chunk := body.read(1024 * 1024):
            digest.update(chunk)

    async def put() -> None:
        await asyncio.to_thread(put_sync)

    async def get() -> None:
        await asyncio.to_thread(get_sync)

    put_s, put_cpu = await timed(put)
    get_s, get_cpu = await timed(get)
    client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
    )
    return Figures("boto3 (in a thread)", put_s, put_cpu, get_s, get_cpu, peak_mib() - before)


async def run_miniopy(endpoint: str, bucket: str, size: int) -> Figures:
    import io
    from datetime import timedelta

    from miniopy_async import Minio

    host = endpoint.split("://", 1)[1]
    client = Minio(host, access_key="bench", secret_key="bench", secure=False)
    key = f"minio-{uuid.uuid4().hex}"
    before = peak_mib()
    data = b"".join(parts(size))  # its put_object wants a file object and a length

    async def put() -> None:
        await client.put_object(bucket, key, io.BytesIO(data), len(data), part_size=PART)

    async def get() -> None:
        answer = await client.get_object(bucket, key)
        digest = hashlib.sha3_384()
        try:
            async for chunk in answer.content.iter_chunked(1024 * 1024):
                digest.update(chunk)
        finally:
            answer.close()

    put_s, put_cpu = await timed(put)
    get_s, get_cpu = await timed(get)
    await client.presigned_get_object(bucket, key, expires=timedelta(minutes=5))
    return Figures("miniopy-async", put_s, put_cpu, get_s, get_cpu, peak_mib() - before)


def curl_yardstick(endpoint: str, bucket: str, size: int) -> Figures:
    path = f"/tmp/s3-bench-{uuid.uuid4().hex}"
    with open(path, "wb") as out:
        for part in parts(size):
            out.write(part)
    url = f"{endpoint}/{bucket}/curl-{uuid.uuid4().hex}"
    started = time.perf_counter()
    subprocess.run(["curl", "-sf", "-T", path, url], check=True)
    put_s = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run(["curl", "-sf", "-o", "/dev/null", url], check=True)
    get_s = time.perf_counter() - started
    os.unlink(path)
    return Figures("curl (yardstick)", put_s, 0.0, get_s, 0.0, 0.0)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", default="snapproxy-bench")
    parser.add_argument("--size-mib", type=int, default=256)
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024
    create_bucket = ["curl", "-sf", "-X", "PUT", f"{args.endpoint}/{args.bucket}"]
    await asyncio.to_thread(subprocess.run, create_bucket, check=False)
    rows = [curl_yardstick(args.endpoint, args.bucket, size)]
    for runner in (run_obstore, run_aiobotocore, run_boto3, run_miniopy):
        try:
            rows.append(await runner(args.endpoint, args.bucket, size))
        except ImportError as exc:
            print(f"skipped {runner.__name__}: {exc}")
    mib = size / 1024 / 1024
    print(f"\n{mib:.0f} MiB object in {PART // 1024 // 1024} MiB parts")
    print(f"{'client':18} {'put MiB/s':>10} {'put CPU s':>10} {'get MiB/s':>10} {'get CPU s':>10} "
          f"{'+peak MiB':>10}")  # fmt: skip
    for row in rows:
        print(
            f"{row.name:18} {mib / row.put_s:10.0f} {row.put_cpu:10.2f} {mib / row.get_s:10.0f} "
            f"{row.get_cpu:10.2f} {row.peak_mib:10.0f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
