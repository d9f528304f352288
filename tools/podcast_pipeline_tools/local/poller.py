"""What every local driver of the handlers shares, and the serial one: the handlers in this process, in turn.

Per route: receive up to `batch_size` messages, hand them to the handler as one SQS event, delete what
succeeded and make the reported failures visible again; after `max_receive_count` deliveries the queue's
redrive policy moves a message to its dead-letter queue. A handler that raises fails its whole batch.

The serial `Poller` runs one invocation at a time with the handlers loaded in this process, retries a
failed record at once and lets ingest settle before the feed polls: quick and deterministic, for tests
that step the pipeline and for `local run --serial`. `local run` itself drives the handlers the way
Lambda does, concurrently and with visibility timeouts (`podcast_pipeline_tools.local.mapping`).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from podcast_pipeline.routes import FEED, INGEST, ROUTES, Route
from podcast_pipeline_tools.local import REGION
from podcast_pipeline_tools.local.chaos import Deliveries, Faults
from podcast_pipeline_tools.local.emulation import Emulation
from podcast_pipeline_tools.local.environments import Handler, Invocation, LambdaContext
from podcast_pipeline_tools.local.sqs import SQS_MAX_MESSAGES, hide, receive, receive_count
from podcast_pipeline_tools.local.sqs import delete as delete_messages

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType
    from mypy_boto3_sqs.type_defs import MessageTypeDef

DEFAULT_TIMEOUT_SECONDS = 600.0
IDLE_SLEEP_SECONDS = 0.02
# Queued plus in flight: a queue is drained when both are zero.
_QUEUE_DEPTH: list[QueueAttributeNameType] = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
]
Correction = Callable[[str], str]


class DrainTimeout(RuntimeError):
    """The queues did not drain within the time allowed."""


@dataclass
class FunctionStats:
    invocations: int = 0  # batches handed to the handler
    cold_starts: int = 0  # execution environments started
    concurrent_peak: int = 0  # most invocations running at once
    records: int = 0  # deliveries, retries included
    records_retried: int = 0  # deliveries of a message SQS had delivered before
    failed_records: int = 0  # reported in batchItemFailures, or in a batch whose invocation failed
    errors: int = 0  # invocations that raised, timed out or crashed
    seconds: float = 0.0  # spent in the handler
    # Per message id: the receive count of its last delivery to the handler.
    _last_count: dict[str, int] = field(default_factory=dict, repr=False)

    def delivered(self, messages: Sequence[MessageTypeDef]) -> None:
        self.records += len(messages)
        for message in messages:
            count = receive_count(message)
            self.records_retried += count > 1
            self._last_count[message["MessageId"]] = count

    def to_dict(self) -> dict[str, Any]:
        """The figures, with `receive_counts`: messages by their last receive count ({"1": n}: no retry)."""
        public = {name: value for name, value in vars(self).items() if not name.startswith("_")}
        histogram = {str(count): n for count, n in sorted(Counter(self._last_count.values()).items())}
        return {**public, "seconds": round(self.seconds, 3), "receive_counts": histogram}


@dataclass(frozen=True)
class Batch:
    """One invocation: how many messages it carried, which failed, and what the handler returned."""

    messages: int
    failed: frozenset[str]
    response: Any
    error: str | None = None  # what ended the invocation, if it failed as a whole


def sqs_record(
    emulation: Emulation, route: Route, message: MessageTypeDef, correct: Correction | None
) -> dict[str, Any]:
    """The record of `message` in the SQS event Lambda hands the function."""
    body = correct(message["Body"]) if correct is not None else message["Body"]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": dict(message.get("MessageAttributes", {})),
        "md5OfBody": hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": emulation.queues[route.function].arn,
        "awsRegion": REGION,
    }


def batch_outcome(route: Route, ids: set[str], invocation: Invocation) -> tuple[Batch, dict[str, str]]:
    """Which records of an invocation failed, as Lambda reads its response; and why, per message id."""
    if invocation.error is not None:
        reason = f"{route.function} failed: {invocation.error}"
        return Batch(len(ids), frozenset(ids), None, invocation.error), dict.fromkeys(ids, reason)
    response = invocation.response
    reported = {
        str(item.get("itemIdentifier") or "") for item in (response or {}).get("batchItemFailures") or ()
    }
    if not reported <= ids:
        # Lambda treats an unknown or empty itemIdentifier as a failure of the whole batch.
        reason = f"{route.function} reported unknown batch item failures {sorted(reported - ids)}"
        return Batch(len(ids), frozenset(ids), response), dict.fromkeys(ids, reason)
    return Batch(len(ids), frozenset(reported), response), dict.fromkeys(
        reported, f"{route.function} reported the record as failed"
    )


def call_in_process(handler: Handler, event: dict[str, Any], context: LambdaContext) -> Invocation:
    """Run a handler loaded in this process; what it raised becomes the invocation's error."""
    try:
        return Invocation(handler(event, context))
    except Exception as err:  # a crashing handler fails its whole batch, as in Lambda
        return Invocation(None, f"{type(err).__name__}: {err}")


def receive_all(
    sqs: SQSClient, queue_url: str, *, delete: bool, limit: int = 100_000
) -> list[MessageTypeDef]:
    """Every message now in a queue (up to `limit`); deleted as read when `delete`, else left hidden."""
    messages: list[MessageTypeDef] = []
    while len(messages) < limit:
        batch = receive(sqs, queue_url, SQS_MAX_MESSAGES, ROUTES_MAX_VISIBILITY)
        if not batch:
            break
        messages.extend(batch)
        if delete:
            delete_messages(sqs, queue_url, batch)
    return messages


# Long enough that nothing read for a report becomes visible again before the report is written.
ROUTES_MAX_VISIBILITY = max(route.visibility_timeout_seconds for route in ROUTES)


def queue_depth(emulation: Emulation, function: str) -> int:
    attributes = emulation.sqs.get_queue_attributes(
        QueueUrl=emulation.queues[function].url, AttributeNames=_QUEUE_DEPTH
    )["Attributes"]
    return sum(int(attributes.get(name, "0")) for name in _QUEUE_DEPTH)


class Poller:
    def __init__(
        self,
        emulation: Emulation,
        handlers: Mapping[str, Handler],
        *,
        corrections: Mapping[str, Correction] | None = None,
        routes: Sequence[Route] = ROUTES,
        deliveries: Deliveries | None = None,
    ) -> None:
        """`corrections` rewrite a message body, per function, before the handler sees it; `deliveries`
        (chaos) multiply and shuffle what is received."""
        self._emulation = emulation
        self._handlers = handlers
        self._corrections = dict(corrections or {})
        self._deliveries = deliveries
        self._routes = [route for route in routes if route.function in handlers]
        self.stats = {route.function: FunctionStats() for route in self._routes}
        self.failure_reasons: dict[str, str] = {}  # message id -> why its last delivery failed

    def _queue_url(self, route: Route) -> str:
        return self._emulation.queues[route.function].url

    def _receive_batch(self, route: Route) -> list[MessageTypeDef]:
        # Like the event source mapping: gather up to batch_size messages over several receives.
        url, sqs = self._queue_url(route), self._emulation.sqs
        batch: list[MessageTypeDef] = []
        while len(batch) < route.batch_size:
            received = receive(sqs, url, route.batch_size - len(batch), route.visibility_timeout_seconds)
            if not received:
                break
            batch.extend(self._deliveries.copies(sqs, url, received) if self._deliveries else received)
        return self._deliveries.shuffled(batch) if self._deliveries else batch

    def _invoke(self, route: Route, batch: list[MessageTypeDef]) -> Batch:
        stats = self.stats[route.function]
        stats.invocations += 1
        stats.concurrent_peak = 1
        stats.delivered(batch)
        correct = self._corrections.get(route.function)
        event = {"Records": [sqs_record(self._emulation, route, m, correct) for m in batch]}
        started = time.monotonic()
        context = LambdaContext(route.function, timeout_seconds=route.timeout_seconds)
        invocation = call_in_process(self._handlers[route.function], event, context)
        stats.seconds += time.monotonic() - started
        stats.errors += invocation.error is not None
        result, reasons = batch_outcome(route, {m["MessageId"] for m in batch}, invocation)
        self.failure_reasons.update(reasons)
        return result

    def poll(self, route: Route) -> Batch | None:
        """One receive-invoke-settle cycle on `route`'s queue; None when there was nothing to receive."""
        batch = self._receive_batch(route)
        if not batch:
            return None
        result = self._invoke(route, batch)
        self.stats[route.function].failed_records += len(result.failed)
        url, sqs = self._queue_url(route), self._emulation.sqs
        delete_messages(sqs, url, [m for m in batch if m["MessageId"] not in result.failed])
        # Lambda leaves a failed message hidden until its visibility timeout ends; serially it is retried
        # at once.
        hide(sqs, url, [m for m in batch if m["MessageId"] in result.failed], 0)
        return result

    def _ready(self, route: Route) -> bool:
        # The feed's batching window: wait for ingest to settle, then take its events in large batches.
        return not (route is FEED and INGEST in self._routes and queue_depth(self._emulation, "ingest") > 0)

    def drain(
        self, timeout: float = DEFAULT_TIMEOUT_SECONDS, on_batch: Callable[[str, int], None] | None = None
    ) -> None:
        """Poll every queue until all are empty twice in a row (nothing queued, nothing in flight).

        `on_batch(function, messages)` is called after each batch, for progress displays.
        """
        deadline = time.monotonic() + timeout
        quiet_checks = 0
        while quiet_checks < 2:
            if time.monotonic() > deadline:
                depths = {r.function: queue_depth(self._emulation, r.function) for r in self._routes}
                raise DrainTimeout(f"queues not drained after {timeout:.0f}s: {depths}")
            handled = 0
            for route in self._routes:
                batch = self.poll(route) if self._ready(route) else None
                if batch is not None:
                    handled += batch.messages
                    if on_batch is not None:
                        on_batch(route.function, batch.messages)
            if handled:
                quiet_checks = 0
            elif all(queue_depth(self._emulation, r.function) == 0 for r in self._routes):
                quiet_checks += 1
            else:
                quiet_checks = 0
                time.sleep(IDLE_SLEEP_SECONDS)


class ChaosPoller(Poller):
    """The serial poller under the spec's faults: API faults in the handlers, duplicated shuffled deliveries.

    Every sweep of a queue takes what is visible, multiplies each first delivery, and hands on only copies,
    so copies of early and late messages mix in one shuffle.
    """

    def __init__(
        self,
        emulation: Emulation,
        handlers: Mapping[str, Handler],
        faults: Faults,
        *,
        corrections: Mapping[str, Correction] | None = None,
    ) -> None:
        super().__init__(
            emulation, faults.wrap(handlers), corrections=corrections, deliveries=Deliveries(faults)
        )
        self.faults = faults
