"""The backfill's bucket on S3 (or any S3-compatible endpoint): listing, content checksums and uploads.

Credentials and region come from boto3's standard chain (environment, profile, SSO, instance role).
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from podcast_pipeline_tools.backfill import SiteFile, StoreError

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig
    from mypy_boto3_s3.client import S3Client

SHA256_METADATA = "sha256"  # stored as x-amz-meta-sha256: the whole file's SHA-256, hex
# What `aws s3 sync` uses: files over 8 MiB go up in 8 MiB parts, several parts at a time.
PART_BYTES = 8 * 1024 * 1024
PARTS_IN_FLIGHT = 4
_CONTENT_TYPES = {".md": "text/markdown; charset=utf-8", ".mp3": "audio/mpeg"}


class S3Bucket:
    def __init__(self, client: S3Client, bucket: str, *, parts_in_flight: int = PARTS_IN_FLIGHT) -> None:
        self._client = client
        self._bucket = bucket
        self._transfer = _transfer_config(parts_in_flight)

    @classmethod
    def connect(cls, bucket: str, *, endpoint_url: str | None, concurrency: int) -> S3Bucket:
        import boto3
        from botocore.config import Config

        # Every file in flight may hold PARTS_IN_FLIGHT connections; the default pool of 10 would throttle.
        config = Config(max_pool_connections=concurrency * PARTS_IN_FLIGHT + 2)
        return cls(boto3.client("s3", endpoint_url=endpoint_url, config=config), bucket)

    def sizes(self, prefixes: Iterable[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        with _store_errors(f"cannot list s3://{self._bucket}"):
            paginator = self._client.get_paginator("list_objects_v2")
            for prefix in prefixes:
                for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                    found.update({entry["Key"]: entry["Size"] for entry in page.get("Contents", ())})
        return found

    def sha256(self, key: str) -> str | None:
        with _store_errors(f"cannot read s3://{self._bucket}/{key}"):
            head = self._client.head_object(Bucket=self._bucket, Key=key, ChecksumMode="ENABLED")
        recorded = head.get("Metadata", {}).get(SHA256_METADATA)
        if recorded:
            return recorded.lower()
        return _full_object_sha256(head)

    def upload(self, file: SiteFile, sha256: str, on_bytes: Callable[[int], None]) -> None:
        extra = {
            # S3 checks every part against it on arrival: corruption in transit fails the upload.
            "ChecksumAlgorithm": "SHA256",
            "Metadata": {SHA256_METADATA: sha256},
            "ContentType": _content_type(file.key),
        }
        with _store_errors(f"cannot upload {file.path} to s3://{self._bucket}/{file.key}"):
            self._client.upload_file(
                str(file.path),
                self._bucket,
                file.key,
                ExtraArgs=extra,
                Callback=on_bytes,
                Config=self._transfer,
            )


def _transfer_config(parts_in_flight: int) -> TransferConfig:
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=PART_BYTES, multipart_chunksize=PART_BYTES, max_concurrency=parts_in_flight
    )


def _full_object_sha256(head: Any) -> str | None:
    """The object's ChecksumSHA256 as hex when it covers the whole object; a composite one does not.

    AWS marks a multipart upload's composite checksum with ChecksumType COMPOSITE and a `-<parts>` suffix.
    """
    checksum = head.get("ChecksumSHA256")
    if not checksum or head.get("ChecksumType") == "COMPOSITE" or "-" in checksum:
        return None
    try:
        return base64.b64decode(checksum, validate=True).hex()
    except binascii.Error:
        return None


def _content_type(key: str) -> str:
    suffix = key[key.rfind(".") :].lower() if "." in key else ""
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


@contextmanager
def _store_errors(doing: str) -> Iterator[None]:
    """boto3's errors as StoreError, with what was being done and AWS's reason."""
    from boto3.exceptions import S3UploadFailedError
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as problem:
        details = problem.response.get("Error", {})
        reason = details.get("Message") or details.get("Code") or str(problem)
        raise StoreError(f"{doing}: {reason}") from problem
    except (BotoCoreError, S3UploadFailedError) as problem:
        raise StoreError(f"{doing}: {problem}") from problem
