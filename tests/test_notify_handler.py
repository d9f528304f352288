"""The notify handler end to end: SQS batches in, Slack over loopback HTTP, SNS, Secrets Manager and the
idempotency records on moto's server, all on 127.0.0.1."""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

from podcast_pipeline import table
from podcast_pipeline_tools.local.sample import SAMPLE_CONFIG
from podcast_pipeline_tools.sink import Reply, WebhookSink

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
SLACK_WEBHOOK_PLACEHOLDER = "not-configured"  # what the stack stores (infra/constants.py)


def load_handler() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "notify_handler", ROOT / "functions" / "notify" / "handler.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


notify = load_handler()


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((ROOT / "events" / f"{name}.json").read_text(encoding="utf-8"))
    return event


def sqs_batch(*events: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    ids = [str(uuid.uuid4()) for _ in events]
    records = [
        {
            "messageId": message_id,
            "receiptHandle": "handle",
            "body": json.dumps(event),
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:podcast-pipeline-notify",
            "awsRegion": REGION,
        }
        for message_id, event in zip(ids, events, strict=True)
    ]
    return {"Records": records}, ids


@dataclass
class Context:
    function_name: str = "podcast-pipeline-notify"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:podcast-pipeline-notify"
    aws_request_id: str = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    # One server per session: Powertools' default Parameters provider keeps the client it first built.
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclass
class Stack:
    endpoint: str
    table: str
    topic_arn: str
    mail_queue_url: str

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION)  # type: ignore[call-overload]

    def emails(self) -> list[dict[str, Any]]:
        """Every SNS message delivered so far to the test subscriber queue."""
        sqs, found = self.client("sqs"), []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            batch = sqs.receive_message(QueueUrl=self.mail_queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                break
            for message in batch:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.mail_queue_url, ReceiptHandle=message["ReceiptHandle"])
        return found


@pytest.fixture
def stack(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """A fresh table, topic and subscriber queue per test, and the handler's environment pointing at them."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": moto_endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "SLACK_WEBHOOK_URL", "SLACK_WEBHOOK_SECRET_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PODCAST_PIPELINE_CONFIG", str(SAMPLE_CONFIG))  # as the stack sets it, to the layer's
    suffix = uuid.uuid4().hex[:8]
    stack = Stack(moto_endpoint, f"episodes-{suffix}", "", "")
    stack.client("dynamodb").create_table(
        TableName=stack.table,
        KeySchema=[
            {"AttributeName": table.PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": table.SORT_KEY, "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": table.PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": table.SORT_KEY, "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    sns, sqs = stack.client("sns"), stack.client("sqs")
    stack.topic_arn = sns.create_topic(Name=f"notify-{suffix}")["TopicArn"]
    stack.mail_queue_url = sqs.create_queue(QueueName=f"mail-{suffix}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=stack.mail_queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=stack.topic_arn, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("TABLE_NAME", stack.table)
    # Set for every function by the stack (Settings requires them); notify itself uses neither.
    monkeypatch.setenv("BUCKET_NAME", "content-unused-by-notify")
    monkeypatch.setenv("EVENT_BUS_NAME", "bus-unused-by-notify")
    monkeypatch.setenv("NOTIFY_TOPIC_ARN", stack.topic_arn)
    notify._dependencies.cache_clear()
    return stack


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", sink.url)
        yield sink
    notify._dependencies.cache_clear()


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """The handler Logger's JSON output."""
    stream = io.StringIO()
    handler = notify.logger.registered_handler
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def another_revision(event: dict[str, Any], revision: int) -> dict[str, Any]:
    """The same Episode event decided again, at `revision`: another event, under another EventBridge id."""
    later = copy.deepcopy(event) | {"id": str(uuid.uuid4())}
    detail = later["detail"]
    detail["revision"] = revision
    detail["idempotency_key"] = f"{detail['id']}#{revision}#{later['detail-type']}"
    return later


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = notify.handler(event, Context())
    return result


def test_the_same_event_delivered_twice_sends_once(stack: Stack, slack: WebhookSink) -> None:
    event = sample("episode-published")
    batch, _ = sqs_batch(event, event)  # twice in one batch ...

    assert invoke(batch) == {"batchItemFailures": []}
    assert invoke(sqs_batch(event)[0]) == {"batchItemFailures": []}  # ... and once more later

    assert len(slack.received) == 1
    assert [r["detail-type"] for r in slack.records()] == ["Episode Published"]
    emails = stack.emails()
    assert len(emails) == 1
    assert emails[0]["Subject"].startswith("[Sample Show] Episode 54 published:")


def test_idempotency_records_live_in_the_table_with_a_ttl(stack: Stack, slack: WebhookSink) -> None:
    invoke(sqs_batch(sample("episode-published"))[0])

    items = stack.client("dynamodb").query(
        TableName=stack.table,
        KeyConditionExpression="#pk = :pk",
        ExpressionAttributeNames={"#pk": table.PARTITION_KEY},
        ExpressionAttributeValues={":pk": {"S": notify.IDEMPOTENCY_PARTITION}},
    )["Items"]
    assert len(items) == 2  # one per channel: slack and e-mail
    now = time.time()
    for item in items:
        assert item["status"]["S"] == "COMPLETED"
        assert item[table.SORT_KEY]["S"].startswith("notify#")
        expires = int(item[table.TTL_ATTRIBUTE]["N"])
        assert (
            now + notify.IDEMPOTENCY_TTL_SECONDS - 60 < expires <= now + notify.IDEMPOTENCY_TTL_SECONDS + 60
        )


def test_a_failure_message_carries_every_problem_and_the_fix_lines(stack: Stack, slack: WebhookSink) -> None:
    event = sample("episode-verification-failed")

    assert invoke(sqs_batch(event)[0]) == {"batchItemFailures": []}

    [record] = slack.records()
    assert (record["detail-type"], record["episode_id"], record["number"]) == (
        "Episode Verification Failed",
        event["detail"]["id"],
        54,
    )
    payload_text = json.dumps(record["payload"]["blocks"], ensure_ascii=False)
    for problem in event["detail"]["problems"]:
        assert problem["message"] in record["text"]
        assert json.dumps(problem["message"])[1:-1] in payload_text
    assert 'mp3_bytes: "59259264"\nmp3_duration: "1:01:43"' in record["text"]
    assert json.dumps('mp3_bytes: "59259264"\nmp3_duration: "1:01:43"')[1:-1] in payload_text
    [email] = stack.emails()
    assert 'mp3_bytes: "59259264"' in email["Message"]
    assert len(email["Subject"]) < 100


def test_a_400_from_slack_fails_the_record_with_the_reason_and_keeps_email_once(
    stack: Stack, slack: WebhookSink, logs: io.StringIO
) -> None:
    slack.script(Reply(400, "invalid_payload"))
    published, failed = sample("episode-published"), sample("episode-verification-failed")
    batch, ids = sqs_batch(published, failed)

    assert invoke(batch) == {"batchItemFailures": [{"itemIdentifier": ids[0]}]}

    errors = [json.loads(line) for line in logs.getvalue().splitlines() if '"notification failed"' in line]
    assert len(errors) == 1
    [failure] = errors[0]["failures"]
    assert failure["channel"] == "slack"
    assert "HTTP 400 invalid_payload" in failure["reason"]
    assert failure["retryable"] is False
    assert errors[0]["correlation_id"] == published["id"]
    assert slack.url not in logs.getvalue()
    assert len(stack.emails()) == 2  # e-mail went out for both, whatever Slack said

    # SQS delivers the failed record again: Slack now works, and e-mail is not sent a second time.
    assert invoke(sqs_batch(published)[0]) == {"batchItemFailures": []}
    assert [r["detail-type"] for r in slack.records()] == ["Episode Verification Failed", "Episode Published"]
    assert stack.emails() == []


def test_the_webhook_url_can_come_from_secrets_manager(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = stack.client("secretsmanager")
    with WebhookSink() as plain, WebhookSink() as as_json:
        for revision, (sink, value) in enumerate(
            ((plain, plain.url), (as_json, json.dumps({"url": as_json.url}))), start=2
        ):
            arn = secrets.create_secret(Name=f"slack-{uuid.uuid4().hex[:8]}", SecretString=value)["ARN"]
            monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", arn)
            notify._dependencies.cache_clear()
            event = another_revision(sample("episode-published"), revision)  # a new event for each sink
            assert invoke(sqs_batch(event)[0]) == {"batchItemFailures": []}
            assert len(sink.received) == 1
    notify._dependencies.cache_clear()


def test_feed_updated_pings_websub_hubs_and_tells_slack_only_of_changes(
    stack: Stack, slack: WebhookSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with WebhookSink() as hub:
        config = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
        config["feeds"]["podcast"]["websub_hubs"] = [hub.url]
        path = tmp_path / "site.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        monkeypatch.setenv("PODCAST_PIPELINE_CONFIG", str(path))
        notify._dependencies.cache_clear()
        changed = sample("feed-updated")
        unchanged = copy.deepcopy(changed)  # new feed bytes (the channel changed), the same items
        unchanged["id"] = str(uuid.uuid4())
        unchanged["detail"]["guids_added"] = []
        unchanged["detail"]["sha256"] = "0" * 64
        unchanged["detail"]["idempotency_key"] = f"podcast#{'0' * 64}"

        assert invoke(sqs_batch(changed, unchanged, changed)[0]) == {"batchItemFailures": []}

        pings = [r.body.decode() for r in hub.requests]
        feed = "hub.url=https%3A%2F%2Frunninginproduction.com%2Fpodcast%2Ffeed.xml"
        assert pings == [f"hub.mode=publish&{feed}"] * 2  # once per event, not per delivery
    assert [r["detail-type"] for r in slack.records()] == ["Feed Updated"]
    assert stack.emails() == []


def test_a_record_that_is_not_our_event_fails(stack: Stack, slack: WebhookSink, logs: io.StringIO) -> None:
    foreign = sample("episode-published") | {"source": "aws.s3"}
    batch, ids = sqs_batch(foreign)
    batch["Records"].append({**batch["Records"][0], "messageId": "not-json", "body": "{"})

    response = invoke(batch)

    assert response == {"batchItemFailures": [{"itemIdentifier": ids[0]}, {"itemIdentifier": "not-json"}]}
    assert "is not 'podcast.pipeline'" in logs.getvalue()
    assert slack.received == []


def notified(logs: io.StringIO) -> list[dict[str, Any]]:
    """The handler's "notified" log lines, one per record handled without failure."""
    lines = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("message") == "notified"]


def sent_metrics(out: str) -> list[str]:
    """The channel of every NotificationsSent in the EMF documents the handler printed."""
    channels = []
    for line in out.splitlines():
        document = json.loads(line) if line.startswith('{"_aws"') else {}
        names = [
            m["Name"] for d in document.get("_aws", {}).get("CloudWatchMetrics", []) for m in d["Metrics"]
        ]
        if "NotificationsSent" in names:
            channels.append(document["channel"])
    return channels


def idempotency_records(stack: Stack) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = stack.client("dynamodb").query(
        TableName=stack.table,
        KeyConditionExpression="#pk = :pk",
        ExpressionAttributeNames={"#pk": table.PARTITION_KEY},
        ExpressionAttributeValues={":pk": {"S": notify.IDEMPOTENCY_PARTITION}},
    )["Items"]
    return items


def test_an_event_sent_again_under_a_new_id_is_told_once_and_a_new_revision_again(
    stack: Stack, slack: WebhookSink, logs: io.StringIO
) -> None:
    event = sample("episode-published")
    # What the ingest outbox does after a partial PutEvents failure: the same detail, a new envelope id.
    resent = copy.deepcopy(event) | {"id": str(uuid.uuid4())}
    later = another_revision(event, event["detail"]["revision"] + 2)  # published again, later

    assert invoke(sqs_batch(event, resent)[0]) == {"batchItemFailures": []}  # at once ...
    assert invoke(sqs_batch(resent)[0]) == {"batchItemFailures": []}  # ... and later

    assert [r["event_id"] for r in slack.records()] == [event["id"]]
    assert len(stack.emails()) == 1
    assert [line["already_sent"] for line in notified(logs)] == [[], ["slack", "email"], ["slack", "email"]]
    assert {line["idempotency_key"] for line in notified(logs)} == {event["detail"]["idempotency_key"]}

    assert invoke(sqs_batch(later)[0]) == {"batchItemFailures": []}

    assert [r["event_id"] for r in slack.records()] == [event["id"], later["id"]]
    assert len(stack.emails()) == 1


@pytest.mark.parametrize(
    "secret",
    [SLACK_WEBHOOK_PLACEHOLDER, json.dumps({"url": ""})],
    ids=["placeholder", "no url"],
)
def test_while_slack_is_not_configured_nothing_is_marked_sent_and_later_the_event_goes_out(
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    secret: str,
) -> None:
    secrets = stack.client("secretsmanager")
    arn = secrets.create_secret(Name=f"slack-{uuid.uuid4().hex[:8]}", SecretString=secret)["ARN"]
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", arn)
    monkeypatch.setattr(notify, "SECRET_MAX_AGE_SECONDS", 1)  # five minutes in production
    notify._dependencies.cache_clear()
    event = sample("episode-verification-failed")

    for _ in range(2):
        assert invoke(sqs_batch(event)[0]) == {"batchItemFailures": []}

    assert len(idempotency_records(stack)) == 1  # e-mail's; none for Slack
    assert [(line["sent"], line["skipped"]) for line in notified(logs)] == [
        (["email"], ["slack"]),
        ([], ["slack"]),
    ]
    assert logs.getvalue().count("Slack webhook not configured") == 1  # once, not per message
    assert [
        line["level"]
        for line in map(json.loads, logs.getvalue().splitlines())
        if "not configured" in line["message"]
    ] == ["WARNING"]
    assert sent_metrics(capsys.readouterr().out) == ["email"]

    with WebhookSink() as sink:
        secrets.put_secret_value(SecretId=arn, SecretString=sink.url)  # the operator sets the real URL
        time.sleep(1.1)  # the cached secret value expires

        assert invoke(sqs_batch(event)[0]) == {"batchItemFailures": []}  # the same cold start, same event

        assert [r["detail-type"] for r in sink.records()] == ["Episode Verification Failed"]
    assert len(idempotency_records(stack)) == 2
    assert (notified(logs)[-1]["sent"], notified(logs)[-1]["skipped"]) == (["slack"], [])
    assert sent_metrics(capsys.readouterr().out) == ["slack"]
    assert len(stack.emails()) == 1
    notify._dependencies.cache_clear()


def test_without_a_webhook_slack_is_skipped_and_a_deployment_with_one_sends_the_event(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, logs: io.StringIO
) -> None:
    event = sample("episode-published")

    assert invoke(sqs_batch(event)[0]) == {"batchItemFailures": []}

    assert len(idempotency_records(stack)) == 1
    assert notified(logs)[-1]["skipped"] == ["slack"]
    with WebhookSink() as sink:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", sink.url)
        notify._dependencies.cache_clear()  # a new configuration is a new cold start

        assert invoke(sqs_batch(event)[0]) == {"batchItemFailures": []}

        assert len(sink.received) == 1
    assert len(stack.emails()) == 1
    notify._dependencies.cache_clear()


def test_a_copy_of_an_event_being_delivered_elsewhere_succeeds_and_the_message_goes_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two copies of one event in two invocations at once: the second finds the first's marker in
    progress and leaves the message to it, instead of failing and coming back after the visibility
    timeout."""
    event = sample("episode-published")
    with WebhookSink([Reply(delay_seconds=1.5)]) as sink:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", sink.url)
        notify._dependencies.cache_clear()
        first: list[dict[str, Any]] = []
        slow = threading.Thread(target=lambda: first.append(invoke(sqs_batch(event)[0])))
        slow.start()
        deadline = time.monotonic() + 10
        while not sink.received and time.monotonic() < deadline:  # the first copy is talking to Slack
            time.sleep(0.02)
        assert invoke(sqs_batch(event)[0]) == {"batchItemFailures": []}
        slow.join()
        assert first == [{"batchItemFailures": []}]
        assert len(sink.received) == 1
    notify._dependencies.cache_clear()
