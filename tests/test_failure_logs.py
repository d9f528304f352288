"""Every failed record is logged once, in the function's JSON, and reported, never raised, in each function.

A failure is injected in each handler (a broken dependency, or the domain raising); each failed record
must give exactly one ERROR line (WARNING for an expected transient: an ingest conflict, a throttle) that
carries its SQS message id, its receive count, what it concerns and the exception with its traceback, and
the handler must return it in batchItemFailures, even when every record of the batch failed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from botocore.exceptions import ClientError
from handler_modules import Context, fresh_handler, log_lines, sample, sqs_event

from podcast_pipeline.batch import is_transient
from podcast_pipeline.episode import ObjectChange
from podcast_pipeline.ingest import IngestConflict
from podcast_pipeline.routes import INGEST

POST_KEY = "_posts/podcast/2020-10-26-54-café + 50% off.md"  # events/s3-object-created-special-key.json
# Powertools warns on every invocation that flushes no metric; Lambda would log it.
pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)


def failures_logged(lines: list[dict[str, Any]], message_id: str) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("message_id") == message_id and line["level"] != "INFO"]


def assert_logged_once(
    lines: list[dict[str, Any]], message_id: str, level: str, exception: str, **subject: Any
) -> dict[str, Any]:
    [line] = failures_logged(lines, message_id)
    assert line["level"] == level
    assert line["exception_name"] == exception
    assert line["exception"].startswith("Traceback (most recent call last)")  # the traceback
    assert line["error"]  # the message
    assert {name: line.get(name) for name in subject} == subject
    return line


def error_lines(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["level"] in ("ERROR", "CRITICAL")]


# -- ingest ----------------------------------------------------------------------------------------


class _FailingIngest:
    """Ingest whose domain raises what each key asks for."""

    def __init__(self, errors: dict[str, Exception]) -> None:
        self._errors = errors

    def handle(self, change: ObjectChange) -> Any:
        raise self._errors[change.key]


@pytest.fixture
def ingest() -> Iterator[ModuleType]:
    yield fresh_handler("ingest")


def _throttled() -> ClientError:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutItem")


def test_ingest_logs_each_failed_record_once_and_reports_it(
    ingest: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    mp3 = sample("s3-object-created-mp3")
    mp3_key = mp3["detail"]["object"]["key"]
    errors: dict[str, Exception] = {POST_KEY: RuntimeError("the table is gone"), mp3_key: IngestConflict("x")}
    monkeypatch.setattr(ingest, "_ingest", lambda: _FailingIngest(errors))
    bodies = [json.dumps(sample("s3-object-created-special-key")), json.dumps(mp3), '{"not": "an S3 event"}']
    event, (post_id, mp3_id, other_id) = sqs_event(bodies, receive_count=2)

    with log_lines(ingest) as lines:
        response = ingest.handler(event, Context())

    assert response == {"batchItemFailures": [{"itemIdentifier": post_id}, {"itemIdentifier": mp3_id}]}
    line = assert_logged_once(lines, post_id, "ERROR", "RuntimeError", receive_count=2, object_key=POST_KEY)
    assert "the table is gone" in line["exception"] and line["error"] == "the table is gone"
    assert (line["version_id"], line["detail_type"]) == ("GMdl7.1OqAfRYO81Pt4kz5awjBMzQ98r", "Object Created")
    assert_logged_once(lines, mp3_id, "WARNING", "IngestConflict", receive_count=2, object_key=mp3_key)
    assert failures_logged(lines, other_id) == []
    assert [line["message_id"] for line in error_lines(lines)] == [post_id]


@pytest.mark.parametrize(
    ("error", "receive_count", "level"),
    [
        (_throttled(), 1, "WARNING"),
        (IngestConflict("kept changing"), INGEST.max_receive_count - 1, "WARNING"),
        (IngestConflict("kept changing"), INGEST.max_receive_count, "ERROR"),  # next stop: the DLQ
        (ValueError("a bug"), 1, "ERROR"),
    ],
    ids=["throttled", "conflict", "conflict-on-the-last-delivery", "bug"],
)
def test_a_batch_whose_every_record_failed_is_reported_not_raised(
    ingest: ModuleType, monkeypatch: pytest.MonkeyPatch, error: Exception, receive_count: int, level: str
) -> None:
    monkeypatch.setattr(ingest, "_ingest", lambda: _FailingIngest({POST_KEY: error}))
    body = json.dumps(sample("s3-object-created-special-key"))
    event, ids = sqs_event([body, body], receive_count=receive_count)

    with log_lines(ingest) as lines:
        response = ingest.handler(event, Context())

    assert response == {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in ids]}
    for message_id in ids:
        line = assert_logged_once(lines, message_id, level, type(error).__name__, receive_count=receive_count)
        assert line.get("last_delivery", False) is (receive_count >= INGEST.max_receive_count)


def test_a_transient_cause_anywhere_on_the_chain_counts() -> None:
    try:
        try:
            raise _throttled()
        except ClientError as err:
            raise RuntimeError("gave up") from err
    except RuntimeError as wrapped:
        assert is_transient(wrapped)
    assert is_transient(IngestConflict("x"), (IngestConflict,))
    assert not is_transient(IngestConflict("x"))
    not_throttled = ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject")
    assert not is_transient(not_throttled)


# -- feed ------------------------------------------------------------------------------------------


def _broken() -> Any:
    raise RuntimeError("TABLE_NAME is not set")


def test_feed_logs_each_record_of_a_failed_rebuild_once(monkeypatch: pytest.MonkeyPatch) -> None:
    feed = fresh_handler("feed")
    monkeypatch.setattr(feed, "_dependencies", _broken)
    published, updated = sample("episode-published"), sample("episode-updated")
    bodies = [json.dumps(published), json.dumps(updated), "not an Episode event"]
    event, (first, second, other) = sqs_event(bodies, receive_count=3)

    with log_lines(feed) as lines:
        response = feed.handler(event, Context())

    assert response == {"batchItemFailures": [{"itemIdentifier": first}, {"itemIdentifier": second}]}
    for message_id, episode in ((first, published), (second, updated)):
        assert_logged_once(
            lines,
            message_id,
            "ERROR",
            "FeedNotRebuilt",
            receive_count=3,
            category=episode["detail"]["category"],
            episode_id=episode["detail"]["id"],
            detail_type=episode["detail-type"],
        )
    assert failures_logged(lines, other) == []
    # One line per failed record and no other: the rebuild's cause travels in each record's line.
    assert [line["level"] for line in lines].count("ERROR") == 2


# -- notify ----------------------------------------------------------------------------------------


def test_notify_logs_each_failed_record_once(monkeypatch: pytest.MonkeyPatch) -> None:
    notify = fresh_handler("notify")
    monkeypatch.setattr(notify, "_dependencies", _broken)
    published = sample("episode-published")
    event, (episode_id, not_json_id) = sqs_event([json.dumps(published), "{"], receive_count=4)

    with log_lines(notify) as lines:
        response = notify.handler(event, Context())

    assert response == {"batchItemFailures": [{"itemIdentifier": i} for i in (episode_id, not_json_id)]}
    line = assert_logged_once(
        lines,
        episode_id,
        "ERROR",
        "RuntimeError",
        receive_count=4,
        episode_id=published["detail"]["id"],
        detail_type="Episode Published",
    )
    assert "TABLE_NAME is not set" in line["exception"]
    assert_logged_once(lines, not_json_id, "ERROR", "JSONDecodeError", receive_count=4)
    assert len(error_lines(lines)) == 2  # once per record, nothing besides
