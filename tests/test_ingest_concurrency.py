"""Concurrent ingest invocations of one episode, against the emulation: its events go out exactly once.

On Lambda the same S3 event can reach two execution environments at once (EventBridge and SQS deliver
at least once), and a post and its MP3 uploaded together settle one episode from two invocations. Each
thread here is such an invocation, with its own adapters over HTTP, as the ingest handler builds them.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from pipeline_harness import Pipeline, pipeline
from test_pipeline_orders import AUDIO_KEY, FIRST_CUT, POST_KEY, post

from podcast_pipeline.bus import EventBus
from podcast_pipeline.episode import ObjectChange, SourceRecord
from podcast_pipeline.ingest import EPISODE_LOCK_SECONDS, Ingest, IngestConflict
from podcast_pipeline.routes import INGEST
from podcast_pipeline.s3_events import parse_s3_event
from podcast_pipeline.s3_objects import S3Objects
from podcast_pipeline.store import EpisodeStore
from podcast_pipeline_tools.local.corrections import correct_body
from podcast_pipeline_tools.local.poller import receive_all

EPISODE_ID = "podcast/7-a-show-about-queues"


def _ingest(run: Pipeline) -> Ingest:
    """An Ingest wired like the handler's, with clients of its own (one per invocation)."""
    emulated = run.emulation
    session = boto3.session.Session()
    endpoint = emulated.endpoint_url
    return Ingest(
        config=run.session.config,
        store=EpisodeStore(session.client("dynamodb", endpoint_url=endpoint), emulated.names.table),
        objects=S3Objects(
            session.client("s3", endpoint_url=endpoint), emulated.bucket, run.session.config.includes_prefix
        ),
        bus=EventBus(session.client("events", endpoint_url=endpoint), emulated.names.event_bus),
    )


def _pending_changes(run: Pipeline) -> list[ObjectChange]:
    url = run.emulation.queues[INGEST.function].url
    bodies = [correct_body(m["Body"]) for m in receive_all(run.emulation.sqs, url, delete=True)]
    return [parse_s3_event(json.loads(body)) for body in bodies]


def _episode_events(run: Pipeline) -> Counter[tuple[str, str]]:
    messages = receive_all(run.emulation.sqs, run.emulation.audit_queue_url, delete=True)
    events = [json.loads(m["Body"]) for m in messages]
    return Counter(
        (e["detail-type"], e["detail"]["id"]) for e in events if e["detail-type"] != "Feed Updated"
    )


def _at_once(work: list[tuple[Ingest, ObjectChange]]) -> list[BaseException]:
    barrier = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def run(ingest: Ingest, change: ObjectChange) -> None:
        barrier.wait()
        try:
            ingest.handle(change)
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=run, args=item) for item in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.fixture
def run() -> Iterator[Pipeline]:
    with pipeline() as p:
        yield p


def test_one_s3_event_in_four_invocations_at_once_publishes_once(run: Pipeline) -> None:
    run.put(AUDIO_KEY, FIRST_CUT)
    run.put(POST_KEY, post(FIRST_CUT, 10))
    changes = _pending_changes(run)
    audio = next(c for c in changes if c.key == AUDIO_KEY)
    _ingest(run).handle(audio)
    post_change = next(c for c in changes if c.key == POST_KEY)
    assert _at_once([(_ingest(run), post_change) for _ in range(4)]) == []
    assert _episode_events(run) == Counter({("Episode Published", EPISODE_ID): 1})
    assert run.episode(EPISODE_ID).state.value == "published"


def test_a_post_and_its_mp3_settled_at_once_publish_once(run: Pipeline) -> None:
    run.put(AUDIO_KEY, FIRST_CUT)
    run.put(POST_KEY, post(FIRST_CUT, 10))
    changes = _pending_changes(run)
    assert _at_once([(_ingest(run), c) for c in changes for _ in range(2)]) == []
    assert _episode_events(run) == Counter({("Episode Published", EPISODE_ID): 1})


def test_a_change_that_finds_the_episode_locked_too_long_is_retried_later(run: Pipeline) -> None:
    run.put(AUDIO_KEY, FIRST_CUT)
    run.put(POST_KEY, post(FIRST_CUT, 10))
    changes = _pending_changes(run)
    ingest = _ingest(run)
    ingest.handle(next(c for c in changes if c.key == POST_KEY))  # awaiting its audio, at revision 1
    # Another invocation holds the episode (and is alive: its claim has not expired).
    assert run.store.claim_episode(EPISODE_ID, 1, "someone-else", EPISODE_LOCK_SECONDS)
    clock = iter(range(0, 1000, 5))
    patient = Ingest(
        run.session.config,
        ingest._store,
        ingest._objects,
        ingest._bus,
        clock=lambda: float(next(clock)),
        sleep=lambda _: None,
    )
    with pytest.raises(IngestConflict, match="stayed claimed"):
        patient.handle(next(c for c in changes if c.key == AUDIO_KEY))
    run.store.release_episode(EPISODE_ID, 1, "someone-else", [])
    patient.handle(next(c for c in changes if c.key == AUDIO_KEY))
    assert _episode_events(run) == Counter({("Episode Published", EPISODE_ID): 1})


class _NoReads:
    """An ObjectReader that must not be asked: a repeated delivery is settled from the store alone."""

    def read_post(self, ref: object) -> bytes:
        raise AssertionError(f"read {ref}")

    def probe_audio(self, ref: object) -> Any:
        raise AssertionError(f"probed {ref}")

    def read_include(self, name: str) -> str | None:
        raise AssertionError(f"read include {name}")


def test_a_repeated_delivery_of_a_settled_change_reads_no_object_and_sends_nothing(run: Pipeline) -> None:
    run.put(AUDIO_KEY, FIRST_CUT)
    run.put(POST_KEY, post(FIRST_CUT, 10))
    changes = _pending_changes(run)
    ingest = _ingest(run)
    for change in changes:
        ingest.handle(change)
    assert _episode_events(run) == Counter({("Episode Published", EPISODE_ID): 1})
    again = Ingest(run.session.config, ingest._store, _NoReads(), ingest._bus)
    assert [again.handle(change).repeated for change in changes] == [True, True]
    assert _episode_events(run) == Counter()


def test_a_delivery_after_a_crash_before_the_decision_goes_the_whole_way(run: Pipeline) -> None:
    """The source was recorded, then the invocation died: the redelivery decides and publishes."""
    run.put(AUDIO_KEY, FIRST_CUT)
    run.put(POST_KEY, post(FIRST_CUT, 10))
    changes = _pending_changes(run)
    ingest = _ingest(run)
    audio, post_change = (next(c for c in changes if c.key == key) for key in (AUDIO_KEY, POST_KEY))
    ingest.handle(audio)
    recorded = run.store.get_source(POST_KEY)
    assert recorded is None
    crashed = ingest._store
    original = crashed.record_source(
        SourceRecord(post_change.ref, "post", episode_id=EPISODE_ID)
    )  # what the first delivery wrote before it died
    assert original
    outcome = ingest.handle(post_change)
    assert not outcome.repeated
    assert _episode_events(run) == Counter({("Episode Published", EPISODE_ID): 1})
