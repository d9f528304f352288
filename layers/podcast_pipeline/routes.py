"""Who listens to what: event patterns, queues and batch sizes, defined once.

The CDK stack builds its rules, queues and event source mappings from these, and the local runner
builds the same on the emulation, so a pattern that is wrong is wrong in tests too.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

EVENT_SOURCE = "podcast.pipeline"
S3_SOURCE = "aws.s3"


class DetailType(StrEnum):
    EPISODE_PUBLISHED = "Episode Published"
    EPISODE_UPDATED = "Episode Updated"
    EPISODE_UNPUBLISHED = "Episode Unpublished"
    EPISODE_VERIFICATION_FAILED = "Episode Verification Failed"
    FEED_UPDATED = "Feed Updated"


class Bus(StrEnum):
    DEFAULT = "default"  # where S3 sends its notifications
    PIPELINE = "pipeline"  # our custom bus


@dataclass(frozen=True)
class Route:
    function: str  # folder under functions/, also the queue's name stem
    bus: Bus
    detail_types: tuple[str, ...]
    batch_size: int
    batching_window_seconds: int = 0
    max_receive_count: int = 5  # deliveries before a message goes to the dead-letter queue
    max_concurrency: int | None = None  # None: Lambda's default scaling

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
    detail_types=("Object Created", "Object Deleted"),
    batch_size=10,
)
FEED = Route(
    function="feed",
    bus=Bus.PIPELINE,
    detail_types=(DetailType.EPISODE_PUBLISHED, DetailType.EPISODE_UPDATED, DetailType.EPISODE_UNPUBLISHED),
    # A bulk upload becomes a few large batches, so each feed is rebuilt a few times, not once per episode.
    batch_size=100,
    batching_window_seconds=20,
    # One rebuild at a time: two concurrent renders could write an older feed last.
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
)

ROUTES: tuple[Route, ...] = (INGEST, FEED, NOTIFY)
