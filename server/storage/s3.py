"""The S3-compatible store (AWS S3, MinIO, Ceph RGW, Aliyun OSS, Tencent COS) through boto3.

A write goes to `<prefix>tmp/<area>/<random>`; the store's copy is then read back and
hashed, and only when its SHA-256 matches is it copied (server side) to the real key and
the temporary deleted. S3 never shows a half-written object, but a copy that arrived
damaged, or a process killed between the steps, must not leave a wrong object under a
real key either: at worst a temporary stays behind for `flask storage sweep`. The hash
is also stored as the object's `sha256` metadata, which `flask storage migrate` reads
to skip what was already copied.

boto3 ≥ 1.36 adds CRC checksums to every upload by default, which several S3-compatible
servers (older MinIO and Ceph, OSS, COS) refuse; the client asks for checksums only
where the API requires them, and the SHA-256 check above does the integrity work.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from . import MissingObject, Staged, StorageError, Store, _check_key, sha256_file, sha256_stream

NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}


def client_for(app):
    """One boto3 client per app and configuration (clients are thread-safe, and costly to make)."""
    cfg = app.config
    settings = tuple(cfg.get(k) or None for k in ("S3_ENDPOINT_URL", "S3_REGION", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY", "S3_ADDRESSING_STYLE"))
    cache = app.extensions.setdefault("patrol_s3", {})
    if settings not in cache:
        endpoint, region, key_id, secret, style = settings
        cache[settings] = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint,
            region_name=region or "us-east-1",
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": style or "auto"},
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )
    return cache[settings]


def _missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code")) in NOT_FOUND


class S3Store(Store):
    backend = "s3"

    def __init__(self, client, bucket: str, prefix: str, tmp_root: str):
        if not bucket:
            raise StorageError("STORAGE_BACKEND=s3 needs S3_BUCKET")
        self.client, self.bucket, self.prefix = client, bucket, prefix
        self.tmp_prefix = tmp_root + prefix.rstrip("/").rsplit("/", 1)[-1] + "/"

    def _key(self, key: str) -> str:
        return self.prefix + _check_key(key)

    def _call(self, fn, key: str, **kw):
        try:
            return fn(Bucket=self.bucket, **kw)
        except ClientError as exc:
            if _missing(exc):
                raise MissingObject(key) from None
            raise StorageError(f"{self.bucket}/{key}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"{self.bucket}: {exc}") from exc

    def _publish(self, key: str, tmp: str, expected: str) -> str:
        """Check the temporary's SHA-256 as the store holds it, then copy it under its real key."""
        try:
            body = self._call(self.client.get_object, key, Key=tmp)["Body"]
            try:
                got = sha256_stream(body)
            finally:
                body.close()
            if got != expected:
                raise StorageError(f"{key}: the stored copy does not match its SHA-256")
            try:
                self.client.copy({"Bucket": self.bucket, "Key": tmp}, self.bucket, self._key(key))
            except (ClientError, BotoCoreError) as exc:
                raise StorageError(f"{self.bucket}/{key}: {exc}") from exc
            return got
        finally:
            self._drop_temp(tmp)

    def _drop_temp(self, tmp: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=tmp)
        except (ClientError, BotoCoreError):
            pass  # the sweeper removes it later

    def stage(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> Staged:
        """The upload to a temporary key now; publish() checks it and copies it under `key`."""
        _check_key(key)
        expected = hashlib.sha256(data).hexdigest()
        tmp = self.tmp_prefix + uuid.uuid4().hex
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 (transport check the S3 API defines)
        self._call(self.client.put_object, key, Key=tmp, Body=data, ContentMD5=md5, ContentType=content_type, Metadata={"sha256": expected})
        return Staged(lambda: self._publish(key, tmp, expected), lambda: self._drop_temp(tmp))

    def put_file(self, key: str, path: Path, sha256: str | None = None, content_type: str = "application/octet-stream") -> str:
        _check_key(key)
        expected = sha256 or sha256_file(path)
        tmp = self.tmp_prefix + uuid.uuid4().hex
        try:
            self.client.upload_file(str(path), self.bucket, tmp, ExtraArgs={"Metadata": {"sha256": expected}, "ContentType": content_type})
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"{self.bucket}/{key}: {exc}") from exc
        return self._publish(key, tmp, expected)

    @contextmanager
    def open(self, key: str) -> Iterator[IO[bytes]]:
        body = self._call(self.client.get_object, key, Key=self._key(key))["Body"]
        try:
            yield body
        finally:
            body.close()

    def _head(self, key: str) -> dict:
        return self._call(self.client.head_object, key, Key=self._key(key))

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
            return True
        except MissingObject:
            return False

    def size(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def recorded_sha256(self, key: str) -> str | None:
        try:
            return self._head(key).get("Metadata", {}).get("sha256")
        except MissingObject:
            return None

    def delete(self, key: str) -> bool:
        existed = self.exists(key)
        self._call(self.client.delete_object, key, Key=self._key(key))
        return existed

    def _list(self, prefix: str) -> Iterator[dict]:
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                yield from page.get("Contents", [])
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"{self.bucket}: {exc}") from exc

    def keys(self, prefix: str = "") -> Iterator[str]:
        for obj in self._list(self.prefix + prefix):
            yield obj["Key"][len(self.prefix):]

    def sweep(self, older_than: timedelta) -> int:
        cutoff = datetime.now(timezone.utc) - older_than
        stale = [obj["Key"] for obj in self._list(self.tmp_prefix) if obj["LastModified"] < cutoff]
        for start in range(0, len(stale), 1000):
            batch = stale[start:start + 1000]
            self._call(self.client.delete_objects, "tmp", Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
        return len(stale)

    def check(self) -> None:
        self._call(self.client.head_bucket, "")

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"
