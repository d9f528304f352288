"""S3 EventBridge notifications, read into the one shape the ingest domain works with."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent

from podcast_pipeline.episode import ObjectChange
from podcast_pipeline.routes import S3_SOURCE, S3DetailType

SEQUENCER_WIDTH = 40


def normalize_sequencer(sequencer: str | None) -> str | None:
    """S3 sequencers of one key compare as hex numbers: left-pad to one width so strings compare alike."""
    if not sequencer:
        return None
    return sequencer.upper().rjust(SEQUENCER_WIDTH, "0")


class NotAnS3Event(ValueError):
    """The message is not an S3 Object Created/Deleted notification."""


def parse_s3_event(event: dict[str, Any]) -> ObjectChange:
    notification = S3EventBridgeNotificationEvent(event)
    source, detail_type = notification.get("source"), notification.get("detail-type")
    if source != S3_SOURCE or detail_type not in (S3DetailType.OBJECT_CREATED, S3DetailType.OBJECT_DELETED):
        raise NotAnS3Event(f"unexpected event {source!r} / {detail_type!r}")
    try:
        obj = notification.detail.object
        return ObjectChange(
            event_id=notification.get("id") or "",
            bucket=notification.detail.bucket.name,
            key=obj.key,
            deleted=detail_type == S3DetailType.OBJECT_DELETED,
            version_id=obj.get("version-id") or None,
            etag=(obj.get("etag") or "").strip('"') or None,
            sequencer=normalize_sequencer(obj.get("sequencer")),
            size=obj.size,
        )
    except (KeyError, TypeError) as err:
        raise NotAnS3Event(f"S3 notification without {err}") from err
