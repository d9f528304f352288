"""An S3 event whose object version no longer exists is an outcome, not a fault.

The version was deleted for good (DeleteObject with its VersionId), or expired, before its event was
handled (a late delivery, a DLQ redrive): ingest logs it with the key and version id, records nothing, and
neither retries nor dead-letters the record. The real handlers run on the emulation, over HTTP.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import pytest
from mp3_fixtures import matching_mp3
from pipeline_harness import Pipeline
from test_pipeline_orders import AUDIO_KEY, EPISODE_ID, FIRST_CUT, POST_KEY, post

from podcast_pipeline.episode import SourceRef, State
from podcast_pipeline.ingest import SourceGone
from podcast_pipeline.routes import INGEST
from podcast_pipeline.s3_objects import S3Objects
from podcast_pipeline_tools.local.poller import receive_all
from podcast_pipeline_tools.local.runner import local_session

EVENT_WAIT_SECONDS = 10


@dataclass
class Run:
    pipeline: Pipeline
    output: io.StringIO

    def lines(self) -> list[dict[str, Any]]:
        """The functions' JSON log lines so far."""
        return [json.loads(line) for line in self.output.getvalue().splitlines() if line.startswith('{"')]

    def put(self, key: str, data: bytes) -> str:
        emulation = self.pipeline.emulation
        return emulation.s3.put_object(Bucket=emulation.bucket, Key=key, Body=data)["VersionId"]

    def take_event(self, key: str, version_id: str) -> str:
        """The S3 event of `key` at `version_id`, taken off the ingest queue before ingest saw it."""
        emulation = self.pipeline.emulation
        url = emulation.queues[INGEST.function].url
        deadline = time.monotonic() + EVENT_WAIT_SECONDS
        while time.monotonic() < deadline:
            for message in receive_all(emulation.sqs, url, delete=True):
                obj = json.loads(message["Body"])["detail"]["object"]
                if (obj["key"], obj.get("version-id")) == (key, version_id):
                    return message["Body"]
                self.pipeline.deliver(message["Body"])  # someone else's: back on the queue
            time.sleep(0.05)
        raise AssertionError(f"no event for {key} {version_id}")

    def delete_version(self, key: str, version_id: str) -> None:
        """Delete one version for good; moto, unlike S3, announces nothing for a versioned bucket."""
        emulation = self.pipeline.emulation
        emulation.s3.delete_object(Bucket=emulation.bucket, Key=key, VersionId=version_id)


@pytest.fixture
def run() -> Iterator[Run]:
    output = io.StringIO()
    with local_session(None, output=output) as session:
        yield Run(Pipeline(session), output)


def published(run: Run) -> dict[str, Any]:
    """Post and MP3 uploaded and settled: the episode's stored form, to compare with later."""
    run.put(AUDIO_KEY, FIRST_CUT)
    run.put(POST_KEY, post(FIRST_CUT, 10))
    run.pipeline.settle()
    episode = run.pipeline.episode(EPISODE_ID)
    assert episode.state is State.PUBLISHED
    return episode.to_dict()


def assert_gone_and_nothing_else(run: Run, key: str, version_id: str) -> None:
    """One delivery, logged as gone with the key and version id; no failure, no retry, no dead letter."""
    lines = run.lines()
    gone = [line for line in lines if line["message"] == "object version gone: nothing recorded"]
    assert [(line["level"], line["object_key"], line["version_id"]) for line in gone] == [
        ("INFO", key, version_id)
    ]
    assert [line for line in lines if line["level"] in ("ERROR", "CRITICAL")] == []
    assert not any(line["message"].startswith("record failed") for line in lines)
    assert run.pipeline.dead_letters() == []


@pytest.mark.parametrize(
    ("key", "second"),
    [
        (POST_KEY, post(FIRST_CUT, 10, title="A show about queues, revised")),
        (AUDIO_KEY, matching_mp3(245_678, 15)),
    ],
    ids=["post", "mp3"],
)
def test_an_event_for_a_version_deleted_for_good_is_logged_not_retried(
    run: Run, key: str, second: bytes
) -> None:
    before = published(run)
    version = run.put(key, second)
    event = run.take_event(key, version)
    run.delete_version(key, version)  # the first version is the current one again

    run.pipeline.deliver(event)
    assert run.pipeline.settle() == []

    assert_gone_and_nothing_else(run, key, version)
    assert run.pipeline.episode(EPISODE_ID).to_dict() == before
    recorded = run.pipeline.store.get_source(key)
    assert recorded is not None and recorded.ref.version_id != version  # the latest source stays


def test_a_post_whose_recorded_version_went_is_settled_by_its_next_event(run: Run) -> None:
    before = published(run)
    recorded = run.pipeline.store.get_source(POST_KEY)
    assert recorded is not None and recorded.ref.version_id is not None
    run.delete_version(POST_KEY, recorded.ref.version_id)
    new_cut = matching_mp3(245_678, 15)

    run.put(AUDIO_KEY, new_cut)  # the MP3 is recorded, but its post cannot be read again
    assert run.pipeline.settle() == []

    assert run.pipeline.episode(EPISODE_ID).to_dict() == before
    [waiting] = [line for line in run.lines() if line["message"].startswith("a post's recorded version")]
    assert (waiting["level"], waiting["posts"]) == ("WARNING", [POST_KEY])
    assert run.pipeline.dead_letters() == []

    run.put(POST_KEY, post(new_cut, 15))  # the post's next version settles the episode, with the new MP3
    events = run.pipeline.settle()

    episode = run.pipeline.episode(EPISODE_ID)
    assert episode.state is State.PUBLISHED
    assert episode.measured is not None and episode.measured["bytes"] == len(new_cut)
    assert [e["detail-type"] for e in events if e["detail-type"].startswith("Episode")] == ["Episode Updated"]
    assert run.pipeline.dead_letters() == []


def test_the_s3_adapter_raises_source_gone_only_for_a_missing_version(run: Run) -> None:
    emulation = run.pipeline.emulation
    objects = S3Objects(emulation.s3, emulation.bucket, "_includes/")
    post_version = run.put(POST_KEY, post(FIRST_CUT, 10))
    audio_version = run.put(AUDIO_KEY, FIRST_CUT)
    for key, version in ((POST_KEY, post_version), (AUDIO_KEY, audio_version)):
        run.delete_version(key, version)
    gone_post, gone_audio = SourceRef(POST_KEY, post_version), SourceRef(AUDIO_KEY, audio_version, size=100)

    with pytest.raises(SourceGone) as post_gone:
        objects.read_post(gone_post)
    with pytest.raises(SourceGone) as audio_gone:
        objects.probe_audio(gone_audio)
    with pytest.raises(SourceGone):
        objects.read_post(SourceRef("_posts/podcast/2024-01-01-never-uploaded.md"))  # NoSuchKey

    assert (post_gone.value.ref, audio_gone.value.ref) == (gone_post, gone_audio)
    assert post_version in str(post_gone.value)
    elsewhere = S3Objects(emulation.s3, "no-such-bucket-anywhere", "_includes/")
    with pytest.raises(Exception) as other:
        elsewhere.read_post(SourceRef(POST_KEY))
    assert not isinstance(other.value, SourceGone)  # NoSuchBucket is a fault: the record fails
    assert cast(Any, other.value).response["Error"]["Code"] == "NoSuchBucket"
