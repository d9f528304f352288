"""Reading episode sources from the content bucket: posts size-capped, MP3s through ranged reads, and the
Liquid includes their show notes use.

A post or MP3 version that no longer exists (NoSuchVersion/NoSuchKey) raises the domain's SourceGone, so
ingest never sees the client's errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from podcast_pipeline.audio import AudioFacts
from podcast_pipeline.audio.s3_reader import object_gone, probe_s3_object
from podcast_pipeline.episode import SourceRef
from podcast_pipeline.ingest import SourceGone
from podcast_pipeline.posts import MAX_POST_BYTES, check_post_size

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client


# How long a warm function reuses an include it read. A bulk upload renders many posts that share the same
# few includes: one GET each per minute instead of one per post, while an edited include still reaches the
# posts ingested a minute later (a post ingested meanwhile keeps the old text until it is uploaded again).
INCLUDE_TTL_SECONDS = 60.0


class S3Objects:
    def __init__(
        self,
        client: S3Client,
        bucket: str,
        includes_prefix: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._bucket = bucket
        self._includes_prefix = includes_prefix
        self._clock = clock
        self._includes: dict[str, tuple[float, str | None]] = {}  # name → (read at, text)

    def read_post(self, ref: SourceRef) -> bytes:
        """The post's bytes; a post over the cap is refused before it is downloaded. SourceGone: gone."""
        if ref.size is not None:
            check_post_size(ref.key, ref.size)
        if ref.size == 0:
            return b""  # S3 answers any range of an empty object with 416 InvalidRange
        # One byte past the cap tells "too large" apart from "exactly at the cap" when the size is unknown.
        cap = f"bytes=0-{MAX_POST_BYTES}"
        with _gone_as_outcome(ref):
            if ref.version_id:
                response = self._client.get_object(
                    Bucket=self._bucket, Key=ref.key, Range=cap, VersionId=ref.version_id
                )
            else:
                response = self._client.get_object(Bucket=self._bucket, Key=ref.key, Range=cap)
        data = response["Body"].read()
        check_post_size(ref.key, len(data))
        return data

    def probe_audio(self, ref: SourceRef) -> AudioFacts:
        """The MP3 measured with ranged GETs; ProblemError when it is no usable MP3, SourceGone when gone."""
        with _gone_as_outcome(ref):
            return probe_s3_object(
                self._client, self._bucket, ref.key, size=ref.size, version_id=ref.version_id
            )

    def read_include(self, name: str) -> str | None:
        """The include's text, read on first use and then reused for INCLUDE_TTL_SECONDS.

        None when there is none or it is not UTF-8 text; that, too, is remembered, so posts that name an
        include the bucket lacks do not each ask for it again.
        """
        now = self._clock()
        cached = self._includes.get(name)
        if cached is not None and now - cached[0] < INCLUDE_TTL_SECONDS:
            return cached[1]
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=self._includes_prefix + name)
            text: str | None = response["Body"].read().decode("utf-8")
        except (self._client.exceptions.NoSuchKey, UnicodeDecodeError):
            text = None
        self._includes[name] = (now, text)
        return text


@contextmanager
def _gone_as_outcome(ref: SourceRef) -> Iterator[None]:
    """A GET that finds no such version or key raises SourceGone instead of the client's error."""
    try:
        yield
    except Exception as err:
        if object_gone(err):
            raise SourceGone(ref) from err
        raise
