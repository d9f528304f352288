"""Reading episode sources from the content bucket: posts size-capped, MP3s through ranged reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from podcast_pipeline.audio import AudioFacts, probe_s3_object
from podcast_pipeline.episode import SourceRef
from podcast_pipeline.posts import MAX_POST_BYTES
from podcast_pipeline.problems import Code, Problem, ProblemError, error

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client


class S3Objects:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def read_post(self, ref: SourceRef) -> bytes:
        """The post's bytes; a post over the cap is refused before it is downloaded."""
        if ref.size is not None and ref.size > MAX_POST_BYTES:
            raise ProblemError(_too_large(ref.key, ref.size))
        # One byte past the cap tells "too large" apart from "exactly at the cap" when the size is unknown.
        cap = f"bytes=0-{MAX_POST_BYTES}"
        if ref.version_id:
            response = self._client.get_object(
                Bucket=self._bucket, Key=ref.key, Range=cap, VersionId=ref.version_id
            )
        else:
            response = self._client.get_object(Bucket=self._bucket, Key=ref.key, Range=cap)
        data = response["Body"].read()
        if len(data) > MAX_POST_BYTES:
            raise ProblemError(_too_large(ref.key, len(data)))
        return data

    def probe_audio(self, ref: SourceRef) -> AudioFacts:
        return probe_s3_object(self._client, self._bucket, ref.key, size=ref.size, version_id=ref.version_id)


def _too_large(key: str, size: int) -> Problem:
    return error(Code.TOO_LARGE, f"post is {size} bytes; the limit is {MAX_POST_BYTES} bytes", key=key)
