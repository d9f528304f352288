"""Fault injection for `local run --chaos SPEC`: drills for operators, and the faults our tests run under.

`SPEC` is a comma-separated list such as `duplicates=3,shuffle,put-events-failure=0.3,ddb-throttle=0.2,
s3-errors=0.1,seed=7`:

- `duplicates=N`: every message on every queue is delivered N times (EventBridge delivers at least once).
- `shuffle`: messages reach the handlers in a random order, within and across batches.
- `put-events-failure=P`: each PutEvents entry comes back failed (`InternalFailure`) with probability P and
  is not sent.
- `ddb-throttle=P`: each DynamoDB call raises ProvisionedThroughputExceededException with probability P.
- `s3-errors=P`: each S3 GetObject/PutObject/HeadObject raises InternalError or SlowDown with probability P.
- `seed=N`: the seed of every random choice (default: chosen at random and reported), so a drill repeats.

The handlers build their own boto3 clients (cached per handler module), so the faults cannot be handed to
them; instead `BaseClient._make_api_call` is patched while a handler runs (in the handler's own execution
environment process, or around an in-process call), which reaches every client they built without
touching production code, and leaves the runner's own clients (uploads, report) calm. A fault is injected
above botocore's retries: it is what the application sees once the SDK has given up.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, cast
from unittest import mock

from botocore.client import BaseClient
from botocore.exceptions import ClientError

from podcast_pipeline_tools.local.sqs import SQS_MAX_MESSAGES, delete

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef, SendMessageBatchRequestEntryTypeDef

Handler = Callable[[dict[str, Any], Any], Any]

# Every botocore client call, whatever the service, goes through this method of the client's base class.
API_CALL = "_make_api_call"
ApiCall = Callable[[BaseClient, str, dict[str, Any]], Any]
# Marks a message the chaos poller has already multiplied, so its copies are delivered, not multiplied again.
COPY_ATTRIBUTE = "chaos-copy"
S3_FAULTY_OPERATIONS = frozenset({"GetObject", "PutObject", "HeadObject"})
S3_ERRORS = (("InternalError", 500), ("SlowDown", 503))

# Fault kinds, as counted in the report.
PUT_EVENTS_FAILURE = "put-events-failure"
DDB_THROTTLE = "ddb-throttle"
S3_ERROR = "s3-errors"
DUPLICATE = "duplicates"


@dataclass(frozen=True)
class ChaosSpec:
    duplicates: int = 1
    shuffle: bool = False
    put_events_failure: float = 0.0
    ddb_throttle: float = 0.0
    s3_errors: float = 0.0
    seed: int = 0

    def __str__(self) -> str:
        parts = [f"duplicates={self.duplicates}"] + (["shuffle"] if self.shuffle else [])
        parts += [
            f"{_spec_key(name)}={getattr(self, name)}"
            for name in ("put_events_failure", "ddb_throttle", "s3_errors", "seed")
        ]
        return ",".join(parts)


def _spec_key(field_name: str) -> str:
    return field_name.replace("_", "-")


_FIELDS = {_spec_key(f.name): f.name for f in fields(ChaosSpec)}


def _probability(key: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"chaos {key}: {text!r} is not a probability between 0 and 1") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"chaos {key}: {text!r} is not a probability between 0 and 1")
    return value


def _integer(key: str, text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"chaos {key}: {text!r} is not a whole number") from None
    if value < minimum:
        raise ValueError(f"chaos {key}: {value} is below {minimum}")
    return value


def parse_spec(text: str) -> ChaosSpec:
    """A ChaosSpec from `key=value,flag,...`; a ValueError names the key that is wrong."""
    values: dict[str, Any] = {"seed": random.SystemRandom().randrange(2**32)}
    seen: set[str] = set()
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise ValueError(f"chaos spec {text!r} has an empty item")
        key, has_value, value = (part.strip() for part in item.partition("="))
        if key not in _FIELDS:
            raise ValueError(f"unknown chaos key {key!r} (known: {', '.join(_FIELDS)})")
        if key in seen:
            raise ValueError(f"chaos key {key!r} given twice")
        seen.add(key)
        if key == "shuffle":
            if has_value:
                raise ValueError("chaos shuffle takes no value")
            values["shuffle"] = True
        elif not has_value or not value:
            raise ValueError(f"chaos {key} needs a value ({key}=...)")
        elif key == "duplicates":
            values["duplicates"] = _integer(key, value, 1)
        elif key == "seed":
            values["seed"] = _integer(key, value, 0)
        else:
            values[_FIELDS[key]] = _probability(key, value)
    return ChaosSpec(**values)


def _client_error(client: BaseClient, operation: str, code: str, status: int) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": "injected by local run --chaos"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    # The modelled exception class when there is one, so `except client.exceptions.X` behaves as on AWS.
    # (from_code returns a class; the stubs say an instance.)
    error_class = cast("type[ClientError]", client.exceptions.from_code(code))
    return error_class(response, operation)


class Faults:
    """Injects the spec's API faults into every botocore call made while `active()`; counts them by kind."""

    def __init__(self, spec: ChaosSpec, stream: str = "faults") -> None:
        """`stream` names the random sequence: each execution environment of a run draws its own."""
        self.spec = spec
        self.counts: Counter[str] = Counter()
        self._random = random.Random(f"{spec.seed}:{stream}")

    def _hit(self, probability: float) -> bool:
        return probability > 0 and self._random.random() < probability

    @contextmanager
    def active(self) -> Iterator[None]:
        real: ApiCall = vars(BaseClient)[API_CALL]

        def make_api_call(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
            return self._call(real, client, operation, params)

        with mock.patch.object(BaseClient, API_CALL, make_api_call):
            yield

    def wrap(self, handlers: Mapping[str, Handler]) -> dict[str, Handler]:
        """The handlers, each running with the faults active."""

        def faulty(handler: Handler) -> Handler:
            def run(event: dict[str, Any], context: Any) -> Any:
                with self.active():
                    return handler(event, context)

            return run

        return {name: faulty(handler) for name, handler in handlers.items()}

    def _call(
        self,
        real: ApiCall,
        client: BaseClient,
        operation: str,
        params: dict[str, Any],
    ) -> Any:
        service = client.meta.service_model.service_name
        if service == "events" and operation == "PutEvents":
            return self._put_events(real, client, params)
        if service == "dynamodb" and self._hit(self.spec.ddb_throttle):
            self.counts[DDB_THROTTLE] += 1
            raise _client_error(client, operation, "ProvisionedThroughputExceededException", 400)
        if service == "s3" and operation in S3_FAULTY_OPERATIONS and self._hit(self.spec.s3_errors):
            self.counts[S3_ERROR] += 1
            code, status = self._random.choice(S3_ERRORS)
            raise _client_error(client, operation, code, status)
        return real(client, operation, params)

    def _put_events(self, real: ApiCall, client: BaseClient, params: dict[str, Any]) -> Any:
        """Fail some entries as PutEvents does (HTTP 200, FailedEntryCount); only the others are sent."""
        entries: list[Any] = list(params["Entries"])
        failed = [self._hit(self.spec.put_events_failure) for _ in entries]
        if not any(failed):
            return real(client, "PutEvents", params)
        self.counts[PUT_EVENTS_FAILURE] += sum(failed)
        sent = [entry for entry, lost in zip(entries, failed, strict=True) if not lost]
        response = real(client, "PutEvents", {**params, "Entries": sent}) if sent else {"Entries": []}
        accepted = iter(response["Entries"])
        injected = {"ErrorCode": "InternalFailure", "ErrorMessage": "injected by local run --chaos"}
        results = [dict(injected) if lost else next(accepted) for lost in failed]
        return {
            **response,
            "FailedEntryCount": sum(1 for result in results if result.get("ErrorCode")),
            "Entries": results,
        }


class Deliveries:
    """The spec's delivery faults: every message N times, in a random order.

    A message seen for the first time is taken off its queue and sent back as N marked copies (shuffled
    among everything taken in the same receive when `shuffle`); only copies reach the handlers. The copies
    are new messages, so each keeps the queue's full redrive budget. Safe to share between pollers.
    """

    def __init__(self, faults: Faults) -> None:
        self._faults = faults
        self._random = random.Random(f"{faults.spec.seed}:deliveries")
        self._lock = threading.Lock()

    def copies(self, sqs: SQSClient, url: str, received: list[MessageTypeDef]) -> list[MessageTypeDef]:
        """Of `received`, the copies to hand on; every first delivery among them is multiplied instead."""
        kept = [m for m in received if COPY_ATTRIBUTE in m.get("MessageAttributes", {})]
        fresh = [m for m in received if COPY_ATTRIBUTE not in m.get("MessageAttributes", {})]
        if fresh:
            self._multiply(sqs, url, fresh)
        return kept

    def shuffled(self, batch: list[MessageTypeDef]) -> list[MessageTypeDef]:
        if self._faults.spec.shuffle:
            with self._lock:
                self._random.shuffle(batch)
        return batch

    def _multiply(self, sqs: SQSClient, url: str, originals: list[MessageTypeDef]) -> None:
        copies = self.shuffled([m for m in originals for _ in range(self._faults.spec.duplicates)])
        with self._lock:
            self._faults.counts[DUPLICATE] += len(copies) - len(originals)
        for start in range(0, len(copies), SQS_MAX_MESSAGES):
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {
                    "Id": str(i),
                    "MessageBody": message["Body"],
                    "MessageAttributes": {
                        COPY_ATTRIBUTE: {"DataType": "String", "StringValue": message["MessageId"]}
                    },
                }
                for i, message in enumerate(copies[start : start + SQS_MAX_MESSAGES])
            ]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        delete(sqs, url, originals)


def chaos_report(faults: Faults) -> dict[str, Any]:
    """The spec and the faults injected, by kind, for report.json."""
    kinds = (DUPLICATE, PUT_EVENTS_FAILURE, DDB_THROTTLE, S3_ERROR)
    return {"spec": str(faults.spec), "injected": {kind: faults.counts[kind] for kind in kinds}}
