"""The webhook client and WebSub pings against a real HTTP server on 127.0.0.1, with scripted answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest

from podcast_pipeline.notify.slack import SlackWebhook
from podcast_pipeline.notify.transport import (
    HttpPoster,
    NotConfiguredError,
    PermanentDeliveryError,
    RetryPolicy,
    TransientDeliveryError,
)
from podcast_pipeline.notify.websub import WebSubPublisher
from podcast_pipeline_tools.sink import Reply, WebhookSink

PAYLOAD = {
    "text": "Episode 54 published",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
}
FAST = RetryPolicy(max_attempts=3, timeout_seconds=2.0, total_seconds=5.0, base_delay_seconds=0.01)


@pytest.fixture
def sink() -> Iterator[WebhookSink]:
    with WebhookSink() as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


def poster(sleeps: list[float], policy: RetryPolicy = FAST) -> HttpPoster:
    # Record the backoff instead of sleeping it; jitter fixed at its maximum so delays are predictable.
    return HttpPoster(policy, sleep=sleeps.append, jitter=lambda: 1.0)


def test_success_posts_the_payload_once(sink: WebhookSink, sleeps: list[float]) -> None:
    SlackWebhook(sink.url, poster(sleeps)).send(PAYLOAD)

    assert sink.received == [PAYLOAD]
    assert sink.requests[0].content_type.startswith("application/json")
    assert sleeps == []


def test_429_waits_for_retry_after_then_succeeds(sink: WebhookSink, sleeps: list[float]) -> None:
    sink.script(Reply(429, "rate_limited", headers={"Retry-After": "2"}))

    SlackWebhook(sink.url, poster(sleeps)).send(PAYLOAD)

    assert [r.reply.status for r in sink.requests] == [429, 200]
    assert sleeps == [2.0]  # Retry-After beats the (smaller) exponential backoff
    assert sink.received == [PAYLOAD]


def test_retry_after_beyond_the_budget_gives_up_without_waiting(
    sink: WebhookSink, sleeps: list[float]
) -> None:
    sink.script(Reply(429, "rate_limited", headers={"Retry-After": "60"}))

    with pytest.raises(TransientDeliveryError, match="beyond the retry budget") as failure:
        SlackWebhook(sink.url, poster(sleeps)).send(PAYLOAD)

    assert failure.value.retryable
    assert len(sink.requests) == 1
    assert sleeps == []


def test_500_then_success_backs_off_once(sink: WebhookSink, sleeps: list[float]) -> None:
    sink.script(Reply(500, "rollup_error"))

    SlackWebhook(sink.url, poster(sleeps)).send(PAYLOAD)

    assert [r.reply.status for r in sink.requests] == [500, 200]
    assert sleeps == [FAST.base_delay_seconds]
    assert sink.received == [PAYLOAD]


def test_backoff_grows_exponentially_and_attempts_are_bounded(sleeps: list[float]) -> None:
    with WebhookSink(default=Reply(503, "busy")) as sink:
        with pytest.raises(TransientDeliveryError, match=r"after 3 attempt\(s\): HTTP 503 busy"):
            SlackWebhook(sink.url, poster(sleeps)).send(PAYLOAD)
        assert len(sink.requests) == FAST.max_attempts
    assert sleeps == [0.01, 0.02]


def test_400_is_permanent_with_the_reason_and_without_the_url(sink: WebhookSink, sleeps: list[float]) -> None:
    sink.script(Reply(400, "invalid_payload"))

    with pytest.raises(PermanentDeliveryError) as failure:
        SlackWebhook(sink.url, poster(sleeps)).send(PAYLOAD)

    message = str(failure.value)
    assert "HTTP 400 invalid_payload" in message
    assert failure.value.status == 400
    assert not failure.value.retryable
    assert sink.url not in message and sink.url.split("/services/")[1] not in message
    assert len(sink.requests) == 1  # a 4xx is not retried
    assert sink.received == []


def test_a_body_that_echoes_the_url_is_redacted(sink: WebhookSink, sleeps: list[float]) -> None:
    path = sink.url.split("127.0.0.1", 1)[1].split("/", 1)[1]
    sink.script(Reply(404, f"no_service for /{path}"))

    with pytest.raises(PermanentDeliveryError) as failure:
        SlackWebhook(sink.url, poster(sleeps)).send(PAYLOAD)

    assert path not in str(failure.value)
    assert "[redacted]" in str(failure.value)


def test_timeout_is_retried_then_reported(sleeps: list[float]) -> None:
    policy = RetryPolicy(max_attempts=2, timeout_seconds=0.2, total_seconds=5.0, base_delay_seconds=0.01)
    with WebhookSink(default=Reply(delay_seconds=3.0)) as sink:
        started = time.monotonic()
        with pytest.raises(TransientDeliveryError, match="timed out"):
            SlackWebhook(sink.url, poster(sleeps, policy)).send(PAYLOAD)
        elapsed = time.monotonic() - started
        assert len(sink.requests) == 2
    assert elapsed < 2.0  # two 0.2 s timeouts, not the server's 3 s


def test_a_redirect_is_not_followed(sink: WebhookSink, sleeps: list[float]) -> None:
    sink.script(Reply(302, "", headers={"Location": "http://127.0.0.1:9/elsewhere"}))

    with pytest.raises(PermanentDeliveryError, match="HTTP 302"):
        SlackWebhook(sink.url, poster(sleeps)).send(PAYLOAD)
    assert len(sink.requests) == 1


def test_only_http_urls_are_opened(sleeps: list[float]) -> None:
    with pytest.raises(PermanentDeliveryError, match="not an http") as failure:
        poster(sleeps).post(
            "file:///etc/passwd", b"{}", content_type="application/json", label="Slack webhook"
        )
    assert "passwd" not in str(failure.value)


def test_connection_refused_is_transient(sleeps: list[float]) -> None:
    with WebhookSink() as sink:
        url = sink.url
    # The sink is stopped: nothing listens on its port any more.
    with pytest.raises(TransientDeliveryError, match="connection failed"):
        SlackWebhook(url, poster(sleeps)).send(PAYLOAD)
    assert len(sleeps) == FAST.max_attempts - 1


def test_websub_ping_is_a_form_encoded_publish(sink: WebhookSink, sleeps: list[float]) -> None:
    sink.script(Reply(500), Reply(204, ""))

    WebSubPublisher(poster(sleeps)).ping(sink.url, "https://sample.example/podcast/feed.xml")

    final = sink.requests[-1]
    assert final.content_type == "application/x-www-form-urlencoded"
    assert parse_qs(final.body.decode()) == {
        "hub.mode": ["publish"],
        "hub.url": ["https://sample.example/podcast/feed.xml"],
    }
    assert len(sink.requests) == 2  # the 500 was retried with the same policy as Slack


def test_websub_hub_refusal_names_the_hub(sink: WebhookSink, sleeps: list[float]) -> None:
    sink.script(Reply(400, "hub.url not allowed"))

    with pytest.raises(PermanentDeliveryError, match=r"WebSub hub .* refused the message: HTTP 400"):
        WebSubPublisher(poster(sleeps)).ping(sink.url, "https://sample.example/podcast/feed.xml")


def test_policy_rejects_unbounded_settings() -> None:
    with pytest.raises(ValueError, match="at least one attempt"):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize("value", ["not-configured", "", "   ", "hooks.slack.com/services/T0/B0/x"])
def test_a_webhook_without_a_url_is_not_configured_and_sends_nothing(
    value: str, caplog: pytest.LogCaptureFixture
) -> None:
    webhook = SlackWebhook(lambda: value)
    with caplog.at_level("WARNING", logger="podcast_pipeline.notify"):
        assert webhook.configured() is False
        with pytest.raises(NotConfiguredError):
            webhook.send({"text": "hello"})  # it never pretends the message went out
    assert "not configured" in caplog.text
    if value.strip():
        assert value not in caplog.text  # the value may be a mistyped URL: it is not logged


def test_not_configured_is_said_once_until_the_url_arrives(
    sink: WebhookSink, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    secret = ["not-configured"]
    webhook = SlackWebhook(lambda: secret[0], poster(sleeps))
    with caplog.at_level("WARNING", logger="podcast_pipeline.notify"):
        assert [webhook.configured() for _ in range(3)] == [False] * 3
        assert caplog.text.count("not configured") == 1
        secret[0] = sink.url  # the operator puts the real URL in the secret
        assert webhook.configured() is True
        webhook.send(PAYLOAD)
        secret[0] = "not-configured"  # and takes it out again: that is said again, once
        assert [webhook.configured() for _ in range(2)] == [False] * 2
    assert caplog.text.count("not configured") == 2
    assert sink.received == [PAYLOAD]
