"""FeedObjects on S3, through a client the caller builds (this module imports no boto3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class S3FeedObjects:
    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def read(self, key: str) -> bytes | None:
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=key)
        except self._s3.exceptions.NoSuchKey:
            return None
        return response["Body"].read()

    def read_head(self, key: str, length: int) -> bytes | None:
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=key, Range=f"bytes=0-{length - 1}")
        except self._s3.exceptions.NoSuchKey:
            return None
        return response["Body"].read()

    def write(self, key: str, data: bytes, content_type: str, cache_control: str) -> None:
        self._s3.put_object(
            Bucket=self._bucket, Key=key, Body=data, ContentType=content_type, CacheControl=cache_control
        )
