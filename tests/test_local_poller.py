"""The local SQS poller: batches, partial failures, redrive to the dead-letter queue, drain and bounds."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from podcast_pipeline.routes import FEED, INGEST
from podcast_pipeline_tools.local.emulation import Emulation
from podcast_pipeline_tools.local.environments import Handler, load_handler
from podcast_pipeline_tools.local.poller import DrainTimeout, Poller, receive_all

FAIL_BAD = """
def handler(event, context):
    return {"batchItemFailures": [
        {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"].startswith("bad")
    ]}
"""

RAISE_ON_BOOM = """
def handler(event, context):
    if any(r["body"] == "boom" for r in event["Records"]):
        raise RuntimeError("boom in batch")
"""

UNKNOWN_ID_ONCE = """
CALLS = []
def handler(event, context):
    CALLS.append(len(event["Records"]))
    return {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]} if len(CALLS) == 1 else None
"""

RECORD_EVENTS = """
EVENTS = []
def handler(event, context):
    EVENTS.append(event)
    return {"batchItemFailures": []}
"""

# Forwards every record to the feed as an Episode event on the custom bus, as the ingest function does.
PUBLISH = """
import json, os, boto3
def handler(event, context):
    client = boto3.client("events")
    for record in event["Records"]:
        client.put_events(Entries=[{
            "Source": "podcast.pipeline", "DetailType": "Episode Published",
            "Detail": json.dumps({"id": record["body"]}), "EventBusName": os.environ["EVENT_BUS_NAME"],
        }])
"""

# Never settles: every delivery puts a new message on the same queue.
ECHO = """
import boto3
def handler(event, context):
    client = boto3.client("sqs")
    for record in event["Records"]:
        client.send_message(QueueUrl=record["body"], MessageBody=record["body"])
"""


def _handler(tmp_path: Path, source: str) -> Handler:
    path = tmp_path / f"handler_{uuid.uuid4().hex[:8]}.py"
    path.write_text(source)
    return load_handler(path, f"test_local_poller_{path.stem}")


def _send(emulation: Emulation, function: str, *bodies: str) -> None:
    for body in bodies:
        emulation.sqs.send_message(QueueUrl=emulation.queues[function].url, MessageBody=body)


def _dead_letters(emulation: Emulation, function: str) -> list[Any]:
    return receive_all(emulation.sqs, emulation.queues[function].dlq_url, delete=False)


def test_reported_failures_are_retried_then_dead_lettered(tmp_path: Path, emulation: Emulation) -> None:
    poller = Poller(emulation, {"ingest": _handler(tmp_path, FAIL_BAD)})
    _send(emulation, "ingest", "good-1", "bad-1", "good-2")
    poller.drain(timeout=30)

    (dead,) = _dead_letters(emulation, "ingest")
    assert dead["Body"] == "bad-1"
    # The count moves with the message to the dead-letter queue, and reading it there is one more receive.
    assert dead["Attributes"]["ApproximateReceiveCount"] == str(INGEST.max_receive_count + 1)
    assert "reported the record as failed" in poller.failure_reasons[dead["MessageId"]]
    stats = poller.stats["ingest"]
    assert stats.failed_records == INGEST.max_receive_count
    assert stats.records == 2 + INGEST.max_receive_count
    assert receive_all(emulation.sqs, emulation.queues["ingest"].url, delete=False) == []


def test_a_raising_handler_fails_its_whole_batch(tmp_path: Path, emulation: Emulation) -> None:
    poller = Poller(emulation, {"ingest": _handler(tmp_path, RAISE_ON_BOOM)})
    _send(emulation, "ingest", "fine", "boom")
    poller.drain(timeout=30)

    assert sorted(m["Body"] for m in _dead_letters(emulation, "ingest")) == ["boom", "fine"]
    assert poller.stats["ingest"].errors == INGEST.max_receive_count
    assert all("RuntimeError: boom in batch" in r for r in poller.failure_reasons.values())


def test_an_unknown_item_identifier_fails_the_batch_like_lambda(tmp_path: Path, emulation: Emulation) -> None:
    handler = _handler(tmp_path, UNKNOWN_ID_ONCE)
    poller = Poller(emulation, {"ingest": handler})
    _send(emulation, "ingest", "a", "b", "c")
    poller.drain(timeout=30)

    assert handler.__globals__["CALLS"] == [3, 3]  # the whole batch came back once
    assert _dead_letters(emulation, "ingest") == []


def test_the_handler_gets_a_lambda_sqs_event(tmp_path: Path, emulation: Emulation) -> None:
    handler = _handler(tmp_path, RECORD_EVENTS)
    poller = Poller(emulation, {"ingest": handler}, corrections={"ingest": str.upper})
    _send(emulation, "ingest", "hello")
    poller.drain(timeout=30)

    ((record,),) = [event["Records"] for event in handler.__globals__["EVENTS"]]
    assert record["body"] == "HELLO"
    assert record["md5OfBody"] == hashlib.md5(b"HELLO").hexdigest()
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == emulation.queues["ingest"].arn
    assert set(record) >= {"messageId", "receiptHandle", "messageAttributes", "awsRegion"}


def test_the_feed_waits_for_ingest_and_takes_large_batches(
    tmp_path: Path, emulation: Emulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in emulation.handler_env().items():
        monkeypatch.setenv(name, value)
    feed = _handler(tmp_path, RECORD_EVENTS)
    poller = Poller(emulation, {"ingest": _handler(tmp_path, PUBLISH), "feed": feed})
    _send(emulation, "ingest", *(f"podcast/{n}" for n in range(25)))
    poller.drain(timeout=60)

    assert poller.stats["ingest"].invocations == 3  # batches of INGEST.batch_size
    assert [len(event["Records"]) for event in feed.__globals__["EVENTS"]] == [25]
    assert FEED.batch_size >= 25
    bodies = [json.loads(r["body"]) for r in feed.__globals__["EVENTS"][0]["Records"]]
    assert {b["detail"]["id"] for b in bodies} == {f"podcast/{n}" for n in range(25)}


def test_drain_is_bounded(tmp_path: Path, emulation: Emulation, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulation.endpoint_url)
    poller = Poller(emulation, {"ingest": _handler(tmp_path, ECHO)})
    _send(emulation, "ingest", emulation.queues["ingest"].url)
    started = time.monotonic()
    with pytest.raises(DrainTimeout, match="not drained"):
        poller.drain(timeout=1.0)
    assert time.monotonic() - started < 5
    assert poller.stats["ingest"].invocations > 1
