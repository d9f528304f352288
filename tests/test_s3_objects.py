"""Ingest's S3 adapter on moto's server: includes read on demand, reused for a while, then read again."""

from __future__ import annotations

from typing import Any, cast

import pytest

from podcast_pipeline.s3_objects import INCLUDE_TTL_SECONDS, S3Objects

BUCKET = "includes-test"


class CountingClient:
    """The S3 client, recording the key of every GetObject."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.exceptions = client.exceptions
        self.keys: list[str] = []

    def get_object(self, **params: Any) -> Any:
        self.keys.append(params["Key"])
        return self._client.get_object(**params)


@pytest.fixture
def s3(moto_endpoint: str, aws_env: None) -> Any:
    import boto3

    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="_includes/services-used.html", Body=b"<ul></ul>")
    client.put_object(Bucket=BUCKET, Key="_includes/nested/a.html", Body="á".encode())
    client.put_object(Bucket=BUCKET, Key="_includes/binary.bin", Body=b"\xff\xfe\x00")
    return client


def test_includes_are_read_on_demand_and_reused_for_a_while(s3: Any) -> None:
    now = [100.0]
    client = CountingClient(s3)
    objects = S3Objects(cast(Any, client), BUCKET, "_includes/", clock=lambda: now[0])
    assert objects.read_include("services-used.html") == "<ul></ul>"
    assert objects.read_include("nested/a.html") == "á"
    assert objects.read_include("binary.bin") is None  # not text
    assert objects.read_include("gone.html") is None
    s3.put_object(Bucket=BUCKET, Key="_includes/services-used.html", Body=b"<ol></ol>")
    now[0] += INCLUDE_TTL_SECONDS - 1
    assert objects.read_include("services-used.html") == "<ul></ul>"
    assert objects.read_include("gone.html") is None
    assert client.keys == [
        "_includes/services-used.html",
        "_includes/nested/a.html",
        "_includes/binary.bin",
        "_includes/gone.html",
    ]  # each once: a missing include too is remembered
    now[0] += 1
    assert objects.read_include("services-used.html") == "<ol></ol>"
    assert client.keys[-1] == "_includes/services-used.html" and len(client.keys) == 5
