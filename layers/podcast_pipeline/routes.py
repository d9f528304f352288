"""Who listens to what: event patterns, queues, batch sizes and function sizing, defined once.

The CDK stack builds its rules, queues, functions and event source mappings from these, and the local
runner builds and drives the same on the emulation, so a pattern or timeout that is wrong is wrong in
tests too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

EVENT_SOURCE = "podcast.pipeline"
S3_SOURCE = "aws.s3"
# Lambda's guidance: a queue's visibility timeout is six times the function timeout (plus the batching
# window), so a batch is never visible again while a retried invocation still works on it.
VISIBILITY_TIMEOUT_FACTOR = 6
# Without a maximum concurrency, Lambda starts five concurrent batches per event source mapping and adds
# more while messages remain (docs: "Configuring scaling behavior for SQS event source mappings").
LAMBDA_INITIAL_CONCURRENCY = 5


class DetailType(StrEnum):
    EPISODE_PUBLISHED = "Episode Published"
    EPISODE_UPDATED = "Episode Updated"
    EPISODE_UNPUBLISHED = "Episode Unpublished"
    EPISODE_VERIFICATION_FAILED = "Episode Verification Failed"
    FEED_UPDATED = "Feed Updated"


class S3DetailType(StrEnum):
    """The notifications S3 puts on the default bus that ingest listens to."""

    OBJECT_CREATED = "Object Created"
    OBJECT_DELETED = "Object Deleted"


class Bus(StrEnum):
    DEFAULT = "default"  # where S3 sends its notifications
    PIPELINE = "pipeline"  # our custom bus


@dataclass(frozen=True)
class Route:
    function: str  # folder under functions/, also the queue's name stem
    bus: Bus
    detail_types: tuple[str, ...]
    batch_size: int
    memory_mb: int  # CPU scales with memory: the MP3 frame walk and feed rendering are CPU-bound
    timeout_seconds: int
    batching_window_seconds: int = 0
    max_receive_count: int = 5  # deliveries before a message goes to the dead-letter queue
    max_concurrency: int | None = None  # None: Lambda's default scaling
    emits: tuple[str, ...] = ()  # the detail-types the function puts on our bus

    @property
    def visibility_timeout_seconds(self) -> int:
        return VISIBILITY_TIMEOUT_FACTOR * self.timeout_seconds + self.batching_window_seconds

    def pattern(self, bucket: str) -> dict[str, Any]:
        """The EventBridge event pattern of this route's rule."""
        if self.bus is Bus.DEFAULT:
            return {
                "source": [S3_SOURCE],
                "detail-type": list(self.detail_types),
                "detail": {"bucket": {"name": [bucket]}},
            }
        return {"source": [EVENT_SOURCE], "detail-type": list(self.detail_types)}


INGEST = Route(
    function="ingest",
    bus=Bus.DEFAULT,
    # Only these two: moto (and S3 itself for tagging) also emits `Object Tags Added` on every put.
    detail_types=(S3DetailType.OBJECT_CREATED, S3DetailType.OBJECT_DELETED),
    batch_size=10,
    # A header-less VBR MP3 is read whole (up to ~110 MB) and every frame walked.
    memory_mb=1024,
    timeout_seconds=120,
    emits=(
        DetailType.EPISODE_PUBLISHED,
        DetailType.EPISODE_UPDATED,
        DetailType.EPISODE_UNPUBLISHED,
        DetailType.EPISODE_VERIFICATION_FAILED,
    ),
)
FEED = Route(
    function="feed",
    bus=Bus.PIPELINE,
    detail_types=(DetailType.EPISODE_PUBLISHED, DetailType.EPISODE_UPDATED, DetailType.EPISODE_UNPUBLISHED),
    # A bulk upload becomes a few large batches, so each feed is rebuilt a few times, not once per episode:
    # about one render per window while the upload lasts. A minute keeps a show's whole sync to two or
    # three renders (measured: `python -m bench.bulk_upload`; 20 s gave six under chaos) and costs little
    # freshness, since apps and the CDN hold a feed for five minutes anyway (feed/service.CACHE_CONTROL).
    batch_size=100,
    batching_window_seconds=60,
    # Renders up to 10,000 episodes per feed and writes each changed feed.
    memory_mb=1024,
    timeout_seconds=120,
    emits=(DetailType.FEED_UPDATED,),
    # Few rebuilds at once; concurrent triggers of one feed coalesce on its rebuild lease (feed/service.py).
    max_concurrency=2,  # the lowest value SQS event source mappings accept
)
NOTIFY = Route(
    function="notify",
    bus=Bus.PIPELINE,
    detail_types=(
        DetailType.EPISODE_PUBLISHED,
        DetailType.EPISODE_VERIFICATION_FAILED,
        DetailType.EPISODE_UNPUBLISHED,
        DetailType.FEED_UPDATED,
    ),
    batch_size=10,
    # Slack retries back off and honour Retry-After.
    memory_mb=256,
    timeout_seconds=60,
)

ROUTES: tuple[Route, ...] = (INGEST, FEED, NOTIFY)
