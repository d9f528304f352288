"""Ingest: S3 object changes (via SQS) become verified episodes and events.

Parses each record, hands the change to the domain and reports per-record failures; nothing else.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from podcast_pipeline.config import require_lambda_config
from podcast_pipeline.settings import METRIC_NAMESPACE, Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from podcast_pipeline.batch import LoggedBatchProcessor
    from podcast_pipeline.ingest import Ingest

require_lambda_config()  # deployed without its configuration: an init error that names the variable
logger = Logger(service="ingest")
# Only AWS SDK calls are made: patching everything X-Ray can would import requests and more for nothing.
tracer = Tracer(service="ingest", patch_modules=("botocore",))
metrics = Metrics(namespace=METRIC_NAMESPACE, service="ingest")


@functools.cache
def _processor() -> LoggedBatchProcessor:
    # Imported on first use: Powertools' batch utility loads every event data class it knows.
    from podcast_pipeline.batch import LoggedBatchProcessor
    from podcast_pipeline.ingest import IngestConflict
    from podcast_pipeline.routes import INGEST

    # An episode that kept changing under concurrent writers settles on a later delivery: a WARNING.
    return LoggedBatchProcessor(
        logger, max_receive_count=INGEST.max_receive_count, transient=(IngestConflict,)
    )


@functools.cache
def _ingest() -> Ingest:
    # Imported on first use: the domain and boto3 stay out of the cold-start import path.
    import boto3

    from podcast_pipeline.bus import EventBus
    from podcast_pipeline.config import load_config
    from podcast_pipeline.ingest import Ingest
    from podcast_pipeline.s3_objects import S3Objects
    from podcast_pipeline.store import EpisodeStore

    settings = Settings.from_environ()
    session = boto3.session.Session()
    config = load_config(settings.config_path)
    return Ingest(
        config=config,
        store=EpisodeStore(session.client("dynamodb"), settings.table_name),
        objects=S3Objects(session.client("s3"), settings.bucket_name, config.includes_prefix),
        bus=EventBus(session.client("events"), settings.event_bus_name),
    )


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    from podcast_pipeline.s3_events import NotAnS3Event, parse_s3_event

    logger.remove_keys(["object_key", "version_id", "deleted"])
    try:
        change = parse_s3_event(record.json_body)
    except (NotAnS3Event, ValueError) as err:
        # Not ours to process and retrying cannot help: say so and let the record go.
        logger.warning("ignoring message that is not an S3 object change", extra={"reason": str(err)})
        return
    logger.append_keys(object_key=change.key, version_id=change.version_id, deleted=change.deleted)
    logger.set_correlation_id(f"{change.key}#{change.version_id or '-'}")
    outcome = _ingest().handle(change)
    for episode in outcome.episodes:
        state = episode.state.value.title().replace("_", "")
        metrics.add_metric(name=f"Episodes{state}", unit=MetricUnit.Count, value=1)
    if outcome.bytes_read:
        metrics.add_metric(name="ProbeBytesRead", unit=MetricUnit.Bytes, value=outcome.bytes_read)
    if outcome.gone:
        # A fact, not a fault (the object key and version id are on the line): nothing to retry.
        logger.info("object version gone: nothing recorded", extra={"kind": outcome.kind.value})
        return
    if outcome.repeated:
        logger.info("repeated delivery: its effects are already stored", extra={"kind": outcome.kind.value})
        return
    logger.info(
        "stale change ignored" if outcome.stale else "object change ingested",
        extra={
            "kind": outcome.kind.value,
            "episodes": [
                {"id": e.id, "state": e.state.value, "problems": [p.code.value for p in e.problems]}
                for e in outcome.episodes
            ],
            "events": list(outcome.events),
        },
    )
    if outcome.unsettled:
        logger.warning(
            "a post's recorded version is gone: its episode waits for the post's next event",
            extra={"posts": list(outcome.unsettled)},
        )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    from aws_lambda_powertools.utilities.batch import process_partial_response

    return process_partial_response(
        event=event, record_handler=record_handler, processor=_processor(), context=context
    )
