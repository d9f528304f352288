"""Ingest stamps each event with the revision it was decided at, and the outbox re-sends it unchanged:
the idempotency key a subscriber dedupes on survives a partial PutEvents failure. The store, the bucket
and the table are the real adapters on moto's server."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from event_contracts import validate_detail

from podcast_pipeline.config import load_config
from podcast_pipeline.episode import ObjectChange
from podcast_pipeline.ingest import Ingest
from podcast_pipeline.publishing import Event, PublishError
from podcast_pipeline.s3_events import normalize_sequencer
from podcast_pipeline.s3_objects import S3Objects
from podcast_pipeline.store import EpisodeStore
from podcast_pipeline_tools.local.emulation import Emulation
from podcast_pipeline_tools.local.sample import SAMPLE_CONFIG

CONFIG = load_config(SAMPLE_CONFIG)
POST = "_posts/notes/2021-03-01-1-a-note.md"  # a text-only category: the post alone publishes it
EPISODE = "notes/1-a-note"
TEXT = '---\ntitle: "{title}"\n---\nNotes.\n'


@dataclass
class Bus:
    """Keeps every PutEvents attempt; the attempts numbered in `partial` put only their first event."""

    partial: set[int] = field(default_factory=set)
    attempts: list[list[Event]] = field(default_factory=list)

    def publish_all(self, events: Sequence[Event]) -> None:
        self.attempts.append(list(events))
        if len(self.attempts) in self.partial:
            raise PublishError("PutEvents: 1 entry failed", events[1:])

    def keys(self) -> list[list[tuple[str, int, str]]]:
        return [[(t, d["revision"], d["idempotency_key"]) for t, d in attempt] for attempt in self.attempts]


@pytest.fixture
def upload(emulation: Emulation) -> Any:
    sequence = iter(range(1, 100))

    def put(title: str) -> ObjectChange:
        body = TEXT.format(title=title).encode()
        put = emulation.s3.put_object(Bucket=emulation.bucket, Key=POST, Body=body)
        return ObjectChange(
            event_id=str(uuid.uuid4()),
            bucket=emulation.bucket,
            key=POST,
            deleted=False,
            version_id=put.get("VersionId"),
            etag=put["ETag"].strip('"'),
            sequencer=normalize_sequencer(f"{next(sequence):018X}"),
            size=len(body),
        )

    return put


def ingest(emulation: Emulation, bus: Bus) -> Ingest:
    return Ingest(
        config=CONFIG,
        store=EpisodeStore(emulation.dynamodb, emulation.names.table),
        objects=S3Objects(emulation.s3, emulation.bucket, CONFIG.includes_prefix),
        bus=bus,
    )


def test_each_decision_is_a_new_revision_and_its_events_carry_it(emulation: Emulation, upload: Any) -> None:
    bus = Bus()
    pipeline = ingest(emulation, bus)

    pipeline.handle(upload("A note"))
    pipeline.handle(upload("A better title"))

    assert bus.keys() == [
        [("Episode Published", 1, f"{EPISODE}#1#Episode Published")],
        [("Episode Updated", 2, f"{EPISODE}#2#Episode Updated")],
    ]
    for attempt in bus.attempts:
        for detail_type, detail in attempt:
            validate_detail(detail_type, detail)


def test_an_event_the_bus_did_not_take_is_sent_again_with_the_same_key(
    emulation: Emulation, upload: Any
) -> None:
    bus = Bus(partial={2})
    pipeline = ingest(emulation, bus)
    pipeline.handle(upload("A note"))
    broken = upload('A note"\nmp3_bytes: [')  # no longer valid YAML: unpublished, and failed

    with pytest.raises(PublishError):
        pipeline.handle(broken)  # the bus takes Episode Unpublished, not Episode Verification Failed
    pipeline.handle(broken)  # SQS delivers the record again: the outbox sends only what was not taken

    unpublished = ("Episode Unpublished", 2, f"{EPISODE}#2#Episode Unpublished")
    failed = ("Episode Verification Failed", 2, f"{EPISODE}#2#Episode Verification Failed")
    assert bus.keys()[1:] == [[unpublished, failed], [failed]]
    assert bus.attempts[2] == bus.attempts[1][1:]  # the same detail, so the same key, in a new event
