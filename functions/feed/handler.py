"""Feed: batches of Episode events (via SQS) rebuild the feeds of the categories they touch.

Each category named in a batch asks once for a rebuild of its feed. When another invocation holds the
feed's rebuild lease, the request coalesces into that invocation's rebuild and the records succeed (see
podcast_pipeline.feed.service). A record fails only when its category's rebuild raised a fault, or fell
behind requests arriving faster than its renders (FeedStillBehind), so SQS delivers those records again
and their redelivery renders what is left.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from podcast_pipeline.config import require_lambda_config
from podcast_pipeline.settings import METRIC_NAMESPACE, Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from podcast_pipeline.batch import LoggedBatchProcessor
    from podcast_pipeline.bus import EventBus
    from podcast_pipeline.config import SiteConfig
    from podcast_pipeline.feed.s3_objects import S3FeedObjects
    from podcast_pipeline.feed.service import FeedRebuild
    from podcast_pipeline.store import EpisodeStore

NAMESPACE = METRIC_NAMESPACE
SERVICE = "feed"
require_lambda_config()  # deployed without its configuration: an init error that names the variable
logger = Logger(service=SERVICE)
# Only AWS SDK calls are made: patching everything X-Ray can would import requests and more for nothing.
tracer = Tracer(service=SERVICE, patch_modules=("botocore",))
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


@functools.cache
def _processor() -> LoggedBatchProcessor:
    # Imported on first use: Powertools' batch utility loads every event data class it knows.
    from podcast_pipeline.batch import LoggedBatchProcessor
    from podcast_pipeline.feed.service import FeedStillBehind
    from podcast_pipeline.routes import FEED

    # A feed still behind after the most renders one invocation makes is rendered on the next delivery.
    return LoggedBatchProcessor(
        logger, max_receive_count=FEED.max_receive_count, transient=(FeedStillBehind,)
    )


# A lease outlives the invocation that took it by this much, and no more: a crashed rebuild frees its feed
# soon after the function's timeout.
LEASE_MARGIN_SECONDS = 10


class FeedNotRebuilt(RuntimeError):
    """This record's category could not be rebuilt in this batch; SQS will deliver the record again."""


@dataclass(frozen=True)
class _Dependencies:
    config: SiteConfig
    store: EpisodeStore
    objects: S3FeedObjects
    bus: EventBus


@functools.cache
def _dependencies() -> _Dependencies:
    # The only place that builds adapters. Imported on first use: lxml, Liquid and boto3 stay out of the
    # cold-start import path.
    import boto3

    from podcast_pipeline.bus import EventBus
    from podcast_pipeline.config import load_config
    from podcast_pipeline.feed.s3_objects import S3FeedObjects
    from podcast_pipeline.store import EpisodeStore

    settings = Settings.from_environ()
    session = boto3.session.Session()
    return _Dependencies(
        config=load_config(settings.config_path),
        store=EpisodeStore(session.client("dynamodb"), settings.table_name),
        objects=S3FeedObjects(session.client("s3"), settings.bucket_name),
        bus=EventBus(session.client("events"), settings.event_bus_name),
    )


def _event_of(record: SQSRecord) -> tuple[str, str] | None:
    """(event id, category) of an Episode event delivered by SQS; None for any other message."""
    try:
        body = record.json_body
        category = body["detail"]["category"]
        event_id = str(body.get("id") or record.message_id)
    except (ValueError, TypeError, KeyError):
        return None
    return (event_id, category) if isinstance(category, str) and category else None


@tracer.capture_method
def _rebuild(records: list[SQSRecord], lease_seconds: int) -> dict[str, Exception]:
    """Rebuild every category the records name, once each; what failed each category that did not rebuild.

    A failure is not logged here: each of its records is, once, with this cause (batch.py).
    """
    from podcast_pipeline.feed.service import FeedStillBehind, rebuild_feeds

    event_ids: dict[str, list[str]] = {}
    for record in records:
        parsed = _event_of(record)
        if parsed:
            event_ids.setdefault(parsed[1], []).append(parsed[0])
    failed: dict[str, Exception] = {}
    for category, ids in event_ids.items():
        logger.set_correlation_id(ids[0])
        logger.append_keys(category=category, event_ids=ids)
        deps = _dependencies()
        try:
            rebuilds = rebuild_feeds(
                [category],
                config=deps.config,
                store=deps.store,
                objects=deps.objects,
                publisher=deps.bus,
                ledger=deps.store,
                lease_seconds=lease_seconds,
            )
        except FeedStillBehind as behind:
            _report(behind.rebuild)
            failed[category] = behind
            continue
        except Exception as err:
            failed[category] = err
            continue
        for rebuild in rebuilds:
            _report(rebuild)
    logger.remove_keys(["category", "event_ids"])
    return failed


def _report(rebuild: FeedRebuild) -> None:
    """Metrics and a log line for each render of a rebuild, or for its coalescing into another's."""
    if rebuild.coalesced:
        _count_for_category("FeedRebuildsCoalesced", rebuild.category)
        logger.info("feed rebuild coalesced: the invocation holding the feed's lease renders this request")
    for result in rebuild.renders:
        _count_for_category("FeedRenders", result.category)
        metrics.add_metric(name="FeedItems", unit=MetricUnit.Count, value=result.item_count)
        if result.written:
            metrics.add_metric(name="FeedWrites", unit=MetricUnit.Count, value=1)
        logger.info(
            "feed written" if result.written else "feed unchanged",
            extra={
                "key": result.key,
                "items": result.item_count,
                "sha256": result.sha256,
                "added": len(result.diff.added),
                "removed": len(result.diff.removed),
                "changed": len(result.diff.changed),
                "warnings": len(result.warnings),
            },
        )


def _count_for_category(name: str, category: str) -> None:
    # A document of its own: a `category` dimension on `metrics` would apply to all its metrics.
    with single_metric(
        name=name,
        unit=MetricUnit.Count,
        value=1,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE},
    ) as metric:
        metric.add_dimension(name="category", value=category)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    from aws_lambda_powertools.utilities.batch import process_partial_response
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    records = [SQSRecord(raw) for raw in event.get("Records", [])]
    failed: dict[str, Exception] | None  # None: no category could be rebuilt, for `cause`
    cause: Exception | None = None
    try:
        failed = _rebuild(records, context.get_remaining_time_in_millis() // 1000 + LEASE_MARGIN_SECONDS)
    except Exception as err:  # e.g. adapters that cannot be built: every record fails, logged with the cause
        logger.remove_keys(["category", "event_ids"])  # the rebuild's, left behind when it raised
        failed, cause = None, err

    def record_handler(record: SQSRecord) -> None:
        parsed = _event_of(record)
        if parsed is None:
            # Retrying cannot make it an Episode event: say so and let it go.
            logger.warning("ignoring a message that is not an Episode event", extra={"id": record.message_id})
        elif failed is None or parsed[1] in failed:
            why = cause if failed is None else failed[parsed[1]]
            raise FeedNotRebuilt(f"the {parsed[1]} feed was not rebuilt: {why}") from why

    return process_partial_response(
        event=event, record_handler=record_handler, processor=_processor(), context=context
    )
