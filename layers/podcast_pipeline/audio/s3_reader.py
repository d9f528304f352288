"""A seekable, read-only file over one S3 object that GETs bounded byte ranges and keeps them.

The first GET takes the head of the object (or all of it when smaller): tags, first frame and VBR header,
everything `measure` needs for most files. Later small reads GET exactly the missing range; a large read
(a frame walk) streams one GET to the end of the object and keeps reading it while reads stay sequential.
Powertools' `S3Object`, by contrast, opens a new open-ended GET at every seek.
"""

from __future__ import annotations

import dataclasses
import io
from typing import TYPE_CHECKING, Any

from podcast_pipeline.audio.measure import HEAD_BYTES, AudioFacts, KeptRanges, measure, read_fully

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectOutputTypeDef

# Reads at least this large stream from an open-ended GET instead of a ranged one each.
STREAM_MIN = 256 * 1024
# Small ranges kept besides the head (the end of a header-less file, 16 KiB).
CACHE_LIMIT = 1024 * 1024
# What GetObject answers for a version deleted for good or expired (NoSuchVersion), or for a key whose
# current version is gone or a delete marker (NoSuchKey).
GONE_CODES = frozenset({"NoSuchKey", "NoSuchVersion"})


class S3RangedReader(io.RawIOBase):
    """File-like view of `s3://bucket/key` (optionally one version) counting its GETs and bytes received."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        key: str,
        size: int | None = None,
        version_id: str | None = None,
        *,
        first_get: int = HEAD_BYTES,
    ) -> None:
        super().__init__()
        self._client = client
        self._bucket = bucket
        self._key = key
        self._version_id = version_id
        self._size = size
        self._first_get = first_get
        self._pos = 0
        self._head = b""
        self._kept = KeptRanges()
        self._stream: Any = None
        self._stream_pos = 0
        self.requests = 0
        self.bytes_fetched = 0

    @property
    def size(self) -> int:
        if self._size is None:
            self._fetch_head(self._first_get)
        assert self._size is not None
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            raise ValueError("negative seek position")
        self._pos = target
        return target

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = max(0, self.size - self._pos)
        data = self._read(self._pos, size)
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._close_stream()
        super().close()

    def _read(self, offset: int, n: int) -> bytes:
        end = min(offset + n, self.size)
        parts: list[bytes] = []
        pos = offset
        while pos < end:
            hit = self._kept.holding(pos)
            if hit is not None:
                start, data = hit
                parts.append(data[pos - start : end - start])
                pos += len(parts[-1])
                continue
            # fetch up to the next kept range, not over it
            stop = self._kept.next_start(pos, end)
            parts.append(self._fetch(pos, stop))
            pos = stop
        return b"".join(parts)

    def _fetch(self, start: int, stop: int) -> bytes:
        if self.requests == 0 and start < self._first_get:
            self._fetch_head(max(self._first_get, stop))
            return self._head[start:stop]
        if stop - start >= STREAM_MIN or self._streaming_at(start):
            return self._stream_read(start, stop)
        data = self._get(start, stop - 1)["Body"].read()
        if self._kept.size + len(data) <= CACHE_LIMIT + len(self._head):
            self._kept.keep(start, data)
        return data

    def _fetch_head(self, length: int) -> None:
        try:
            response = self._get(0, length - 1)
        except Exception as exc:
            # S3 answers a range on an empty object with 416 InvalidRange
            if self._size is None and error_code(exc) == "InvalidRange":
                self._size = 0
                return
            raise
        self._head = response["Body"].read()
        self._kept.keep(0, self._head)  # the first GET: nothing is kept before it

    def _streaming_at(self, start: int) -> bool:
        """An open stream is already at `start`: going on with it costs no GET."""
        return self._stream is not None and self._stream_pos == start

    def _stream_read(self, start: int, stop: int) -> bytes:
        if not self._streaming_at(start):
            self._close_stream()
            self._stream = self._get(start, None)["Body"]
            self._stream_pos = start
        data, _ = read_fully(self._stream, stop - start)
        self._stream_pos += len(data)
        return data

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _get(self, first: int, last: int | None) -> GetObjectOutputTypeDef:
        params: dict[str, str] = {
            "Bucket": self._bucket,
            "Key": self._key,
            "Range": f"bytes={first}-{'' if last is None else last}",
        }
        if self._version_id:
            params["VersionId"] = self._version_id
        self.requests += 1
        response = self._client.get_object(**params)  # type: ignore[arg-type]
        # what S3 sends for this GET, whether or not all of it is read
        self.bytes_fetched += response.get("ContentLength", 0)
        if self._size is None:
            self._size = _total_size(response)
        return response


def _total_size(response: GetObjectOutputTypeDef) -> int:
    """Object size from `Content-Range: bytes 0-65535/123456`, or the length of a whole-object answer."""
    content_range = response.get("ContentRange", "")
    if "/" in content_range:
        return int(content_range.rsplit("/", 1)[1])
    return response.get("ContentLength", 0)


def error_code(exc: BaseException) -> str:
    """The S3 error code of a failed request (`NoSuchKey`, `InvalidRange`...); "" for any other error."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def object_gone(exc: BaseException) -> bool:
    """The GET failed because the key, or the version it asked for, does not exist (any longer)."""
    return error_code(exc) in GONE_CODES


def probe_s3_object(
    s3_client: S3Client, bucket: str, key: str, size: int | None = None, version_id: str | None = None
) -> AudioFacts:
    """Measure an MP3 in S3 with ranged GETs; `requests` and `bytes_read` count GETs and bytes received.

    Pass `size` when known (S3 events carry it): no request is spent on it. Raises ProblemError, and the
    client's error for a failed GET as it is (`object_gone` tells a vanished version apart).
    """
    with S3RangedReader(s3_client, bucket, key, size, version_id) as reader:
        facts = measure(reader, reader.size, key=key)
        return dataclasses.replace(facts, bytes_read=reader.bytes_fetched, requests=reader.requests)
