from __future__ import annotations

import io
import math
import uuid
from collections.abc import Iterator
from typing import Any, cast

import pytest
from mp3_fixtures import cbr_mp3, duration_of, headerless_vbr_mp3, id3v2_tag, xing_vbr_mp3

from podcast_pipeline.audio import measure
from podcast_pipeline.audio.measure import TAIL_BYTES
from podcast_pipeline.audio.s3_reader import S3RangedReader, probe_s3_object
from podcast_pipeline.problems import Code, ProblemError

BUCKET = "audio"


class CountingClient:
    """The S3 client, recording every GetObject's parameters."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[dict[str, Any]] = []

    def get_object(self, **params: Any) -> Any:
        self.calls.append(params)
        return self._client.get_object(**params)


@pytest.fixture(scope="module")
def s3(moto_endpoint: str) -> Iterator[Any]:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    yield client


def put(s3: Any, data: bytes) -> str:
    key = f"assets/podcast/{uuid.uuid4().hex}.mp3"
    s3.put_object(Bucket=BUCKET, Key=key, Body=data)
    return key


def test_60_mb_cbr_costs_one_get_of_at_most_64_kib(s3: Any) -> None:
    data = cbr_mp3(exact_bytes=60_000_000, info_header=True, id3v2=id3v2_tag(padding=3000))
    key = put(s3, data)
    client = CountingClient(s3)
    facts = probe_s3_object(cast(Any, client), BUCKET, key, size=len(data))
    assert facts.requests == len(client.calls) == 1
    assert facts.bytes_read <= 65536
    assert client.calls[0]["Range"].startswith("bytes=0-")
    assert facts.duration_seconds == pytest.approx(measure(io.BytesIO(data)).duration_seconds)
    assert math.floor(facts.duration_seconds) == 3749


def test_headerless_cbr_costs_the_head_and_the_end(s3: Any) -> None:
    data = cbr_mp3(exact_bytes=60_000_000, id3v1=True)
    key = put(s3, data)
    client = CountingClient(s3)
    facts = probe_s3_object(cast(Any, client), BUCKET, key, size=len(data))
    assert facts.requests == len(client.calls) == 2
    assert facts.bytes_read <= 65536
    assert client.calls[0]["Range"].startswith("bytes=0-")
    assert client.calls[1]["Range"] == f"bytes={len(data) - TAIL_BYTES}-{len(data) - 1}"
    assert (facts.bitrate_mode, facts.frames_walked) == ("cbr", False)
    assert facts.duration_seconds == pytest.approx((len(data) - 128 - facts.audio_start) * 8 / 128000)


def test_2_mb_id3_picture_costs_two_small_gets(s3: Any) -> None:
    tag = id3v2_tag(picture_bytes=2_000_000)
    data = cbr_mp3(600.0, id3v2=tag, info_header=True)
    key = put(s3, data)
    facts = probe_s3_object(s3, BUCKET, key, size=len(data))
    assert facts.requests <= 2
    assert facts.bytes_read <= 128 * 1024
    assert facts.audio_start == len(tag)


def test_size_and_version_come_from_s3_when_not_given(s3: Any) -> None:
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = put(s3, xing_vbr_mp3(((64, 3.0),)))
    first_version = s3.head_object(Bucket=BUCKET, Key=key)["VersionId"]
    s3.put_object(Bucket=BUCKET, Key=key, Body=xing_vbr_mp3(((64, 9.0),)))
    client = CountingClient(s3)
    facts = probe_s3_object(cast(Any, client), BUCKET, key, version_id=first_version)
    assert facts.duration_seconds == pytest.approx(duration_of(((64, 3.0),)))
    assert facts.bytes == len(xing_vbr_mp3(((64, 3.0),)))
    assert facts.requests == 1
    assert client.calls[0]["VersionId"] == first_version


# ~1.1 MB ends a few KiB past the first walk block; ~12 MB spans many
@pytest.mark.parametrize("segments", [((32, 10.0), (192, 45.0)), ((32, 30.0), (320, 300.0))])
def test_headerless_vbr_streams_the_walk_in_one_get(s3: Any, segments: tuple[tuple[int, float], ...]) -> None:
    data = headerless_vbr_mp3(segments)
    key = put(s3, data)
    facts = probe_s3_object(s3, BUCKET, key, size=len(data))
    assert facts.frames_walked
    assert facts.duration_seconds == pytest.approx(duration_of(segments), abs=1e-6)
    assert facts.requests == 3  # the head, the end, then one GET streamed through the frames
    assert facts.bytes_read <= len(data) + 64 * 1024


def test_empty_and_not_mp3_objects(s3: Any) -> None:
    with pytest.raises(ProblemError) as empty:
        probe_s3_object(s3, BUCKET, put(s3, b""))
    assert empty.value.problem.code == Code.EMPTY_FILE
    with pytest.raises(ProblemError) as png:
        probe_s3_object(s3, BUCKET, key := put(s3, b"\x89PNG\r\n\x1a\n" + bytes(1000)))
    assert png.value.problem.code == Code.NOT_MP3
    assert png.value.problem.key == key


def test_reader_is_a_seekable_file(s3: Any) -> None:
    data = bytes(range(256)) * 2000
    key = put(s3, data)
    with S3RangedReader(s3, BUCKET, key, first_get=1024) as reader:
        assert reader.seek(0, io.SEEK_END) == len(data)
        assert reader.requests == 1
        reader.seek(100)
        assert reader.read(10) == data[100:110]
        assert reader.requests == 1  # from the first GET
        reader.seek(-5, io.SEEK_END)
        assert reader.read() == data[-5:]
        buffered = io.BufferedReader(reader)
        buffered.seek(300_000)
        assert buffered.read(400_000) == data[300_000:700_000]
        assert reader.bytes_fetched < 2 * len(data)
