"""Where collected recordings live: a directory (the default, HOTLINE_RECORDINGS_DIR) or an
S3-compatible object store (HOTLINE_RECORDINGS_S3_BUCKET; AWS S3, MinIO, Ceph RGW …) through
boto3. Credentials come from boto3's own chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a
profile, an instance role), never from the hotline's settings.

An object store is written by one PUT (an object appears whole or not at all: no `.part`), sent
with its SHA-256 for the server to check (`ChecksumSHA256`) and then read back and hashed here
before the recording is linked and the PBX's copy deleted — the same rule as the directory.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def sha256_of(path: Path) -> tuple[int, str]:
    """A file's size and SHA-256 (hex), read in chunks."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


@dataclass
class S3Store:
    bucket: str
    prefix: str = "recordings/"
    endpoint_url: str | None = None
    region: str | None = None
    client: Any = None  # a boto3 S3 client (made from the fields when None)

    def __post_init__(self) -> None:
        if self.client is None:
            import boto3  # the optional object-store client: only a store configured for S3 loads it

            self.client = boto3.client("s3", endpoint_url=self.endpoint_url or None, region_name=self.region or None)

    def key(self, rel: str) -> str:
        return self.prefix + rel

    def put_verified(self, src: Path, rel: str, *, write_hook: Callable[[int], None] | None = None) -> tuple[int, str]:
        """Upload `src` as `rel` with its SHA-256 (the server refuses a body that does not match),
        then read the object back and compare size and SHA-256; a mismatch deletes the object and
        raises OSError."""
        size, digest = sha256_of(src)
        key = self.key(rel)
        try:
            with src.open("rb") as f:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=f, ContentType="audio/wav",
                                       ChecksumSHA256=base64.b64encode(bytes.fromhex(digest)).decode())
            if write_hook is not None:
                write_hook(size)
            got_size, got_sha = self.hash_of(rel)
        except Exception as e:  # noqa: BLE001 - botocore's errors: the copy did not happen
            raise OSError(f"upload of {src} to s3://{self.bucket}/{key} failed: {e}") from e
        if (got_size, got_sha) != (size, digest) or src.stat().st_size != size:
            self.remove(rel)
            raise OSError(f"s3://{self.bucket}/{key} does not match {src}: size {got_size}/{size}, sha256 {got_sha}/{digest}")
        return size, digest

    def hash_of(self, rel: str) -> tuple[int, str]:
        body = self.client.get_object(Bucket=self.bucket, Key=self.key(rel))["Body"]
        h = hashlib.sha256()
        size = 0
        for chunk in body.iter_chunks(CHUNK):
            h.update(chunk)
            size += len(chunk)
        return size, h.hexdigest()

    def exists(self, rel: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(rel))
        except self.client.exceptions.ClientError as e:
            if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def remove(self, rel: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(rel))

    def read_range(self, rel: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes start..end (inclusive) of the object, streamed."""
        body = self.client.get_object(Bucket=self.bucket, Key=self.key(rel), Range=f"bytes={start}-{end}")["Body"]
        try:
            yield from body.iter_chunks(64 * 1024)
        finally:
            body.close()


Store = Path | S3Store


@dataclass(frozen=True)
class StoredObject:
    """A recording kept in an object store: what the web route streams ranges of."""

    store: S3Store
    rel: str
    size: int


def store_of(settings: Any) -> Store:
    """The recordings' store from the settings: the S3 bucket when one is set, else the directory."""
    if settings.recordings_s3_bucket:
        return S3Store(settings.recordings_s3_bucket, settings.recordings_s3_prefix,
                       settings.recordings_s3_endpoint, settings.recordings_s3_region)
    return settings.recordings_store  # type: ignore[no-any-return]
