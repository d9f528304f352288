"""Drive the real handlers from the emulation's queues the way Lambda's SQS event source mapping does.

Per route: receive up to `batch_size` messages, hand them to the handler as one SQS event, delete what
succeeded and make the reported failures visible again; after `max_receive_count` deliveries the queue's
redrive policy moves a message to its dead-letter queue. A handler that raises fails its whole batch.
The feed route's batching window is honoured by letting the ingest queue settle before the feed polls,
so a bulk upload rebuilds each feed a few times, not once per episode.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podcast_pipeline.local.emulation import REGION, VISIBILITY_TIMEOUT_SECONDS, Emulation
from podcast_pipeline.routes import FEED, INGEST, ROUTES, Route

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType
    from mypy_boto3_sqs.type_defs import MessageTypeDef

Handler = Callable[[dict[str, Any], Any], Any]
SQS_MAX_MESSAGES = 10  # per ReceiveMessage / *Batch call
FUNCTION_TIMEOUT_SECONDS = 60
DEFAULT_TIMEOUT_SECONDS = 600.0
IDLE_SLEEP_SECONDS = 0.02
# Queued plus in flight: a queue is drained when both are zero.
_QUEUE_DEPTH: list[QueueAttributeNameType] = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
]


class DrainTimeout(RuntimeError):
    """The queues did not drain within the time allowed."""


@dataclass
class FunctionStats:
    invocations: int = 0  # batches handed to the handler
    records: int = 0
    failed_records: int = 0  # reported in batchItemFailures, or in a batch whose handler raised
    errors: int = 0  # invocations that raised
    seconds: float = 0.0  # spent in the handler

    def to_dict(self) -> dict[str, float]:
        return {**vars(self), "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class Batch:
    """One invocation: how many messages it carried, which failed, and what the handler returned."""

    messages: int
    failed: frozenset[str]
    response: Any
    error: Exception | None = None  # what the handler raised, if it did


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    deadline: float = field(default_factory=lambda: time.monotonic() + FUNCTION_TIMEOUT_SECONDS)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def load_handler(path: Path, module_name: str) -> Handler:
    """Import `handler` from a handler file as a fresh module.

    Handlers cache their boto3 clients on first use, so each run loads its own copy under a unique name
    rather than reusing one bound to another run's endpoint.
    """
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load a handler from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses (and pickling) look a class's module up by name
    spec.loader.exec_module(module)
    handler: Handler = module.handler
    return handler


def load_handlers(functions_dir: Path, functions: Iterable[str], run_id: str) -> dict[str, Handler]:
    """`<functions_dir>/<function>/handler.py` for each function, loaded fresh for the run `run_id`."""
    return {
        name: load_handler(functions_dir / name / "handler.py", f"podcast_pipeline_fn_{name}_{run_id}")
        for name in functions
    }


def receive_all(
    sqs: SQSClient, queue_url: str, *, delete: bool, limit: int = 100_000
) -> list[MessageTypeDef]:
    """Every message now in a queue (up to `limit`); deleted as read when `delete`, else left hidden."""
    messages: list[MessageTypeDef] = []
    while len(messages) < limit:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=SQS_MAX_MESSAGES,
            WaitTimeSeconds=0,
            VisibilityTimeout=VISIBILITY_TIMEOUT_SECONDS,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        messages.extend(batch)
        if delete:
            _delete(sqs, queue_url, batch)
    return messages


def _chunks(items: Sequence[MessageTypeDef]) -> Iterable[Sequence[MessageTypeDef]]:
    return (items[i : i + SQS_MAX_MESSAGES] for i in range(0, len(items), SQS_MAX_MESSAGES))


def _delete(sqs: SQSClient, queue_url: str, messages: Sequence[MessageTypeDef]) -> None:
    for chunk in _chunks(messages):
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
        )


def _release(sqs: SQSClient, queue_url: str, messages: Sequence[MessageTypeDef]) -> None:
    # Lambda leaves a failed message hidden until its visibility timeout ends; locally it retries at once.
    for chunk in _chunks(messages):
        sqs.change_message_visibility_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ],
        )


class Poller:
    def __init__(
        self,
        emulation: Emulation,
        handlers: Mapping[str, Handler],
        *,
        corrections: Mapping[str, Callable[[str], str]] | None = None,
        routes: Sequence[Route] = ROUTES,
    ) -> None:
        """`corrections` rewrite a message body, per function, before the handler sees it."""
        self._emulation = emulation
        self._handlers = handlers
        self._corrections = dict(corrections or {})
        self._routes = [route for route in routes if route.function in handlers]
        self.stats = {route.function: FunctionStats() for route in self._routes}
        self.failure_reasons: dict[str, str] = {}  # message id -> why its last delivery failed

    def _queue_url(self, route: Route) -> str:
        return self._emulation.queues[route.function].url

    def _depth(self, route: Route) -> int:
        attributes = self._emulation.sqs.get_queue_attributes(
            QueueUrl=self._queue_url(route), AttributeNames=_QUEUE_DEPTH
        )["Attributes"]
        return sum(int(attributes.get(name, "0")) for name in _QUEUE_DEPTH)

    def _receive_batch(self, route: Route) -> list[MessageTypeDef]:
        # Like the event source mapping: gather up to batch_size messages over several receives.
        batch: list[MessageTypeDef] = []
        for _ in range(-(-route.batch_size // SQS_MAX_MESSAGES)):
            received = self._emulation.sqs.receive_message(
                QueueUrl=self._queue_url(route),
                MaxNumberOfMessages=min(SQS_MAX_MESSAGES, route.batch_size - len(batch)),
                WaitTimeSeconds=0,
                VisibilityTimeout=VISIBILITY_TIMEOUT_SECONDS,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            batch.extend(received)
            if not received or len(batch) >= route.batch_size:
                break
        return batch

    def _record(self, route: Route, message: MessageTypeDef) -> dict[str, Any]:
        body = message["Body"]
        correct = self._corrections.get(route.function)
        if correct is not None:
            body = correct(body)
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": body,
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": dict(message.get("MessageAttributes", {})),
            "md5OfBody": hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self._emulation.queues[route.function].arn,
            "awsRegion": REGION,
        }

    def _invoke(self, route: Route, batch: list[MessageTypeDef]) -> Batch:
        """Call the handler on one batch."""
        stats = self.stats[route.function]
        stats.invocations += 1
        stats.records += len(batch)
        ids = {message["MessageId"] for message in batch}
        started = time.monotonic()
        try:
            event = {"Records": [self._record(route, message) for message in batch]}
            response = self._handlers[route.function](event, LambdaContext(route.function))
        except Exception as err:  # a crashing handler fails its whole batch, as in Lambda
            stats.errors += 1
            stats.seconds += time.monotonic() - started
            reason = f"{route.function} raised {type(err).__name__}: {err}"
            self.failure_reasons.update(dict.fromkeys(ids, reason))
            return Batch(len(batch), frozenset(ids), None, err)
        stats.seconds += time.monotonic() - started
        reported = {
            str(item.get("itemIdentifier") or "") for item in (response or {}).get("batchItemFailures") or ()
        }
        if not reported <= ids:
            # Lambda treats an unknown or empty itemIdentifier as a failure of the whole batch.
            reason = f"{route.function} reported unknown batch item failures {sorted(reported - ids)}"
            self.failure_reasons.update(dict.fromkeys(ids, reason))
            return Batch(len(batch), frozenset(ids), response)
        self.failure_reasons.update(
            dict.fromkeys(reported, f"{route.function} reported the record as failed")
        )
        return Batch(len(batch), frozenset(reported), response)

    def poll(self, route: Route) -> Batch | None:
        """One receive-invoke-settle cycle on `route`'s queue; None when there was nothing to receive."""
        batch = self._receive_batch(route)
        if not batch:
            return None
        result = self._invoke(route, batch)
        self.stats[route.function].failed_records += len(result.failed)
        url = self._queue_url(route)
        _delete(self._emulation.sqs, url, [m for m in batch if m["MessageId"] not in result.failed])
        _release(self._emulation.sqs, url, [m for m in batch if m["MessageId"] in result.failed])
        return result

    def _ready(self, route: Route) -> bool:
        # The feed's batching window: wait for ingest to settle, then take its events in large batches.
        return not (route is FEED and INGEST in self._routes and self._depth(INGEST) > 0)

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
                depths = {route.function: self._depth(route) for route in self._routes}
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
            elif all(self._depth(route) == 0 for route in self._routes):
                quiet_checks += 1
            else:
                quiet_checks = 0
                time.sleep(IDLE_SLEEP_SECONDS)
