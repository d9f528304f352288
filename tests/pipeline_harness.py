"""Drive the real pipeline step by step on the emulation: upload, delete, settle, look."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from event_contracts import validate_detail

from podcast_pipeline.episode import Episode
from podcast_pipeline.routes import INGEST
from podcast_pipeline.store import EpisodeStore
from podcast_pipeline_tools.local.corrections import correct_body, delete_object
from podcast_pipeline_tools.local.poller import Poller, receive_all
from podcast_pipeline_tools.local.runner import LocalSession, local_session

SETTLE_TIMEOUT_SECONDS = 120


class Pipeline:
    def __init__(self, session: LocalSession) -> None:
        self.session = session
        self.emulation = session.emulation
        self.poller = Poller(self.emulation, session.handlers, corrections={INGEST.function: self._correct})
        self.store = EpisodeStore(self.emulation.dynamodb, self.emulation.names.table)
        self.events: list[dict[str, Any]] = []  # every event put on our bus, in arrival order
        self.ingested: list[str] = []  # corrected S3 event bodies, as the ingest handler saw them

    def _correct(self, body: str) -> str:
        corrected = correct_body(body)
        self.ingested.append(corrected)
        return corrected

    def put(self, key: str, data: bytes) -> None:
        self.emulation.s3.put_object(Bucket=self.emulation.bucket, Key=key, Body=data)

    def delete(self, key: str) -> None:
        delete_object(self.emulation, key)

    def deliver(self, body: str) -> None:
        """Put one S3 event on the ingest queue again, as EventBridge may (late, or more than once)."""
        self.emulation.sqs.send_message(QueueUrl=self.emulation.queues[INGEST.function].url, MessageBody=body)

    def duplicate_pending(self, times: int) -> None:
        """Deliver every S3 event now waiting for ingest `times` times in all."""
        url = self.emulation.queues[INGEST.function].url
        for message in receive_all(self.emulation.sqs, url, delete=True):
            for _ in range(times):
                self.deliver(message["Body"])

    def settle(self) -> list[dict[str, Any]]:
        """Run every function until all queues are empty; returns the events emitted meanwhile."""
        self.poller.drain(SETTLE_TIMEOUT_SECONDS)
        new = [
            json.loads(message["Body"])
            for message in receive_all(self.emulation.sqs, self.emulation.audit_queue_url, delete=True)
        ]
        for event in new:
            validate_detail(
                event["detail-type"], event["detail"]
            )  # moto omits envelope fields such as `account`
        self.events.extend(new)
        return new

    def episode(self, episode_id: str) -> Episode:
        stored = self.store.get_episode(episode_id)
        assert stored is not None, f"no episode {episode_id}"
        return stored.episode

    def feed(self, key: str) -> bytes | None:
        try:
            return self.emulation.s3.get_object(Bucket=self.emulation.bucket, Key=key)["Body"].read()
        except self.emulation.s3.exceptions.NoSuchKey:
            return None

    def dead_letters(self) -> list[str]:
        return [
            message["Body"]
            for queues in self.emulation.queues.values()
            for message in receive_all(self.emulation.sqs, queues.dlq_url, delete=False)
        ]


def episode_events(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(detail-type, episode id) of the Episode * events, in order."""
    return [(e["detail-type"], e["detail"]["id"]) for e in events if e["detail-type"].startswith("Episode")]


@contextmanager
def pipeline(config: Path | None = None) -> Iterator[Pipeline]:
    with local_session(config, output=io.StringIO()) as session:
        yield Pipeline(session)
