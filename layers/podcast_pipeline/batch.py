"""The SQS batch processor of every function: each failed record logged once, partial failures always.

Powertools' BatchProcessor, built without a logger, logs a failed record's exception at DEBUG only, and by
default raises when every record of a batch failed. This one logs each failed record exactly once, in the
function's JSON logs, with what finds it again: its SQS message id and receive count, the object or episode
it concerns, and the exception (`exception_name`, `error`, the traceback in `exception`). The level says
whether anyone needs to look:

- WARNING: an expected transient failure that a later delivery is expected to get past: a throttled AWS
  call (its error code, on the exception or anywhere on its cause chain, is a throttling code), or one of
  the exception types the function names (ingest: an episode that kept changing under concurrent writers),
  unless this was the message's last delivery.
- ERROR: everything else, and any failure of a last delivery (`last_delivery: true`: the receive count has
  reached the queue's maxReceiveCount, so the message goes to the dead-letter queue next).

It never raises for a batch in which every record failed: the handler returns every record in
`batchItemFailures` instead. SQS then delivers those records again exactly as it would after a raise (each
counts a receive and goes to the DLQ on its own count), but the invocation is no function error: Lambda's
error would carry one BatchProcessingError for the batch, the same outcome as any crash, where the per-record
lines here already say which records failed and why, and the function's Errors metric stays for what
really broke the invocation (an unhandled error, a timeout).

Imported on first use by the handlers (with Powertools' batch utility, which loads every event data class it
knows), never at their import.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from botocore.exceptions import ClientError

from podcast_pipeline.routes import S3_SOURCE

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.utilities.batch.base import FailureResponse
    from aws_lambda_powertools.utilities.batch.exceptions import ExceptionInfo
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

# AWS error codes of a throttled request (botocore's own list for its standard retry mode).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)


class LoggedBatchProcessor(BatchProcessor):
    """An SQS BatchProcessor whose failed records are logged once each by `logger`; see the module."""

    def __init__(
        self, logger: Logger, *, max_receive_count: int, transient: tuple[type[BaseException], ...] = ()
    ) -> None:
        # No Powertools logger: it would log each failure a second time, at WARNING, without the record.
        super().__init__(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        self._log = logger
        self._max_receive_count = max_receive_count
        self._transient = transient

    def failure_handler(self, record: SQSRecord | None, exception: ExceptionInfo) -> FailureResponse:
        error = exception[1]
        fields: dict[str, Any] = {**_delivery(record), **_subject(record), "error": str(error)}
        if fields.get("receive_count", 0) >= self._max_receive_count:
            fields["last_delivery"] = True
        if error is not None and not fields.get("last_delivery") and is_transient(error, self._transient):
            self._log.warning(
                "record failed, expected to pass when delivered again", exc_info=error, extra=fields
            )
        else:
            self._log.error("record failed", exc_info=error, extra=fields)
        return super().failure_handler(record, exception)


def is_transient(error: BaseException, transient: tuple[type[BaseException], ...] = ()) -> bool:
    """`error`, or an error that caused it, is one of `transient` or a throttled AWS call."""
    return any(isinstance(link, transient) or _throttled(link) for link in _causes(error))


def _throttled(error: BaseException) -> bool:
    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in THROTTLING_CODES


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)


def _delivery(record: SQSRecord | None) -> dict[str, Any]:
    """The SQS message id, and how many times the message was received (this time included)."""
    if record is None:
        return {}
    count = str((record.get("attributes") or {}).get("ApproximateReceiveCount"))
    fields = {"message_id": record.get("messageId"), "receive_count": int(count) if count.isdigit() else None}
    return {name: value for name, value in fields.items() if value is not None}


def _subject(record: SQSRecord | None) -> dict[str, str]:
    """What the record's EventBridge event is about: the S3 object, or the episode (or feed) and event type.

    Nothing for a body that is no such event: the failure line still carries the message id.
    """
    try:
        event = json.loads(record.body) if record is not None else None
    except (TypeError, ValueError):
        return {}
    detail = event.get("detail") if isinstance(event, dict) else None
    if not isinstance(event, dict) or not isinstance(detail, dict):
        return {}
    found: dict[str, Any] = {"detail_type": event.get("detail-type")}
    obj = detail.get("object")
    if event.get("source") == S3_SOURCE and isinstance(obj, dict):
        key = obj.get("key")
        # AWS URL-encodes keys in S3 notifications.
        found |= {
            "object_key": unquote_plus(key) if isinstance(key, str) else None,
            "version_id": obj.get("version-id"),
        }
    else:
        found |= {"episode_id": detail.get("id"), "category": detail.get("category")}
    return {name: value for name, value in found.items() if isinstance(value, str) and value}
