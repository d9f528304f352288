"""The Slack webhook URL is a credential: no log line, printed output or error may contain it."""

from __future__ import annotations

import io
import itertools
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

# The handler tests' fixtures (logs, moto_endpoint, stack) are reused: the emulation and the Logger's output.
from test_notify_handler import (  # noqa: F401
    Stack,
    another_revision,
    invoke,
    logs,
    moto_endpoint,
    notify,
    sample,
    sqs_batch,
    stack,
)

from podcast_pipeline.notify.slack import SlackWebhook
from podcast_pipeline.notify.transport import DeliveryError, HttpPoster, RetryPolicy
from podcast_pipeline_tools.sink import Reply, WebhookSink


def secret_parts(url: str) -> list[str]:
    """The URL and its secret path, whole and per segment, so a partial leak is caught too."""
    path = url.split("/services/", 1)[1]
    return [url, path, *(segment for segment in path.split("/") if len(segment) > 8)]


_revisions = itertools.count(100)


def fresh(name: str) -> dict[str, Any]:
    """A new event (a later decision, so a new idempotency key) like the sample `name`."""
    return another_revision(sample(name), next(_revisions))


@pytest.fixture
def output(
    caplog: pytest.LogCaptureFixture,
    logs: io.StringIO,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Callable[[], str]]:
    """Reads everything captured so far: the handler Logger's JSON, all std logging, stdout and stderr."""
    caplog.set_level(logging.DEBUG, logger="podcast_pipeline")
    caplog.set_level(logging.DEBUG, logger="aws_lambda_powertools")
    caplog.set_level(logging.INFO)
    notify.logger.setLevel("DEBUG")

    def read() -> str:
        out, err = capsys.readouterr()
        records = [f"{r.getMessage()} {json.dumps(r.__dict__, default=str)}" for r in caplog.records]
        return "\n".join([logs.getvalue(), *records, caplog.text, out, err])

    yield read
    notify.logger.setLevel("INFO")


def test_the_handler_never_logs_the_webhook_url(
    stack: Stack,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    output: Callable[[], str],
) -> None:
    with WebhookSink() as slack:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", slack.url)
        notify._dependencies.cache_clear()
        path = slack.url.split("127.0.0.1", 1)[1]
        slack.script(
            Reply(200),  # success
            Reply(500, "rollup_error"),  # a retry, then success
            Reply(200),
            Reply(429, "rate_limited", headers={"Retry-After": "0"}),  # Retry-After, then success
            Reply(200),
            Reply(404, f"no_service at {slack.url} ({path})"),  # a refusal that echoes the URL back
        )
        events = [fresh("episode-published") for _ in range(4)]
        responses = [invoke(sqs_batch(event)[0]) for event in events]

        assert [len(r["batchItemFailures"]) for r in responses] == [0, 0, 0, 1]
        assert len(slack.received) == 3
        text = output()
        assert "retrying" in text and "HTTP 404" in text and "notified" in text  # it did log
        for part in secret_parts(slack.url):
            assert part not in text
    notify._dependencies.cache_clear()


def test_timeouts_and_exhausted_retries_never_log_the_url(
    output: Callable[[], str],
) -> None:
    policy = RetryPolicy(max_attempts=2, timeout_seconds=0.2, total_seconds=3.0, base_delay_seconds=0.01)
    errors: list[str] = []
    with WebhookSink([Reply(delay_seconds=2.0)] * 2, default=Reply(503, "busy")) as slack:
        client = SlackWebhook(slack.url, HttpPoster(policy))
        assert repr(client) == "SlackWebhook(url=[redacted])"
        for _ in range(2):  # the first times out twice, the second gets 503 twice
            with pytest.raises(DeliveryError) as failure:
                client.send({"text": "hello"})
            errors.append(str(failure.value))
            logging.getLogger("podcast_pipeline.notify").error("delivery failed", exc_info=failure.value)
        url = slack.url

    assert "timed out" in errors[0] and "HTTP 503 busy" in errors[1]
    text = output() + "\n".join(errors)
    assert "retrying" in text
    for part in secret_parts(url):
        assert part not in text


def test_a_webhook_url_from_secrets_manager_is_not_logged(
    stack: Stack,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    output: Callable[[], str],
) -> None:
    with WebhookSink([Reply(500), Reply(400, "invalid_payload")]) as slack:
        arn = stack.client("secretsmanager").create_secret(
            Name=f"slack-{uuid.uuid4().hex[:8]}", SecretString=json.dumps({"url": slack.url})
        )["ARN"]
        monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ARN", arn)
        notify._dependencies.cache_clear()

        response = invoke(sqs_batch(fresh("episode-verification-failed"))[0])

        assert len(response["batchItemFailures"]) == 1
        text = output()
        assert "invalid_payload" in text
        for part in secret_parts(slack.url):
            assert part not in text
    notify._dependencies.cache_clear()
