"""Notify: Episode and Feed events (via SQS) become Slack messages, e-mails and WebSub pings, each sent once.

Parses each record, hands the event to the notifier and reports per-record failures. The AWS adapters
(SNS e-mail, the Powertools idempotency guard, the webhook secret) are here; the decisions are in
`podcast_pipeline.notify`.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, Tracer, single_metric
from aws_lambda_powertools.metrics import MetricUnit

from podcast_pipeline.config import require_lambda_config
from podcast_pipeline.settings import (
    ENV_NOTIFY_TOPIC_ARN,
    ENV_SLACK_WEBHOOK_SECRET_ARN,
    ENV_SLACK_WEBHOOK_URL,
    METRIC_NAMESPACE,
    NOTIFY_IDEMPOTENCY_PARTITION,
    Settings,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_sns.client import SNSClient

    from podcast_pipeline.batch import LoggedBatchProcessor
    from podcast_pipeline.notify.service import Notifier, Outcome

NAMESPACE = METRIC_NAMESPACE
SECRET_MAX_AGE_SECONDS = 300  # a rotated webhook URL is picked up within five minutes
# Outlives the longest an event can come back (a DLQ keeps messages up to 14 days), so not even a redrive
# repeats a message that already went out; the records are a few bytes each.
IDEMPOTENCY_TTL_SECONDS = 14 * 24 * 60 * 60
IDEMPOTENCY_PARTITION = NOTIFY_IDEMPOTENCY_PARTITION

require_lambda_config()  # deployed without its configuration: an init error that names the variable
logger = Logger(service="notify")
metrics = Metrics(namespace=NAMESPACE, service="notify")
# Only AWS SDK calls are traced: X-Ray's urllib patch would record the webhook URL, a credential.
tracer = Tracer(service="notify", patch_modules=("botocore",))


@functools.cache
def _processor() -> LoggedBatchProcessor:
    # Imported on first use: Powertools' batch utility loads every event data class it knows.
    from podcast_pipeline.batch import LoggedBatchProcessor
    from podcast_pipeline.routes import NOTIFY

    return LoggedBatchProcessor(logger, max_receive_count=NOTIFY.max_receive_count)


class _SnsEmail:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client, self._topic_arn = client, topic_arn

    def send(self, subject: str, body: str) -> None:
        self._client.publish(TopicArn=self._topic_arn, Subject=subject, Message=body)


class _PowertoolsGuard:
    """IdempotencyGuard on the pipeline table, with Powertools' DynamoDB persistence layer."""

    def __init__(self, table_name: str) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            DynamoDBPersistenceLayer,
            IdempotencyConfig,
            idempotent_function,
        )

        from podcast_pipeline import table

        store = DynamoDBPersistenceLayer(
            table_name=table_name,
            key_attr=table.PARTITION_KEY,
            sort_key_attr=table.SORT_KEY,
            static_pk_value=IDEMPOTENCY_PARTITION,
            expiry_attr=table.TTL_ATTRIBUTE,
        )
        self.config: IdempotencyConfig = IdempotencyConfig(
            event_key_jmespath="key",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
        )
        # key_prefix keeps the keys stable across function renames and module paths.
        self._once: Callable[..., None] = idempotent_function(
            _run,
            data_keyword_argument="delivery",
            persistence_store=store,
            config=self.config,
            key_prefix="notify",
        )

    def once(self, key: str, action: Callable[[], None]) -> bool:
        """Run `action` unless a delivery of the same meaning completed, or is running right now.

        A delivery in progress elsewhere (a duplicate copy of the event in another invocation) is left to
        finish: if it fails, its marker goes and its own record brings the message back, so this copy
        need not be retried as well.
        """
        from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

        ran: list[bool] = []

        def run() -> None:
            action()
            ran.append(True)

        try:
            self._once(delivery={"key": key}, action=run)
        except IdempotencyAlreadyInProgressError:
            logger.info("another invocation is delivering this message now", extra={"idempotency_key": key})
        return bool(ran)


def _run(*, delivery: dict[str, str], action: Callable[[], None]) -> None:
    action()


def _slack_url(settings: Settings) -> Callable[[], str] | None:
    # The local runner's direct URL (never set by the stack) wins over the deployed secret.
    direct = os.environ.get(ENV_SLACK_WEBHOOK_URL)
    if direct:
        return lambda: direct
    arn = settings.slack_webhook_secret_arn
    if not arn:
        return None

    def from_secret() -> str:
        from aws_lambda_powertools.utilities.parameters import get_secret

        value = str(get_secret(arn, max_age=SECRET_MAX_AGE_SECONDS)).strip()
        # The secret holds the URL itself or {"url": ...}.
        return str(json.loads(value)["url"]) if value.startswith("{") else value

    return from_secret


@dataclass(frozen=True)
class _Dependencies:
    notifier: Notifier
    idempotency: IdempotencyConfig


@functools.cache
def _dependencies() -> _Dependencies:
    # Imported on first use: the domain and boto3 stay out of the cold-start import path.
    import boto3

    from podcast_pipeline.config import load_config
    from podcast_pipeline.notify.service import Notifier
    from podcast_pipeline.notify.slack import SlackWebhook
    from podcast_pipeline.notify.websub import WebSubPublisher

    # The transport's retry warnings go out through this Logger (JSON, correlation id); only ours, not the
    # other modules of the package that share a process with this handler in local runs.
    library = logging.getLogger("podcast_pipeline.notify")
    library.handlers, library.propagate = [logger.registered_handler], False
    library.setLevel(logger.log_level)
    settings = Settings.from_environ()
    slack_url, topic_arn = _slack_url(settings), settings.notify_topic_arn
    if slack_url is None:
        logger.warning(
            f"Slack is off: neither {ENV_SLACK_WEBHOOK_URL} nor {ENV_SLACK_WEBHOOK_SECRET_ARN} is set"
        )
    if not topic_arn:
        logger.warning(f"e-mail is off: {ENV_NOTIFY_TOPIC_ARN} is not set")
    guard = _PowertoolsGuard(settings.table_name)
    notifier = Notifier(
        guard=guard,
        config=load_config(settings.config_path),
        slack=SlackWebhook(slack_url) if slack_url else None,
        email=_SnsEmail(boto3.client("sns"), topic_arn) if topic_arn else None,
        websub=WebSubPublisher(),
    )
    return _Dependencies(notifier, guard.config)


def _count_sent(outcome: Outcome) -> None:
    from podcast_pipeline.notify.service import channel_name

    for channel in outcome.sent:
        # One metric per message: the channel dimension differs within one invocation.
        with single_metric(
            name="NotificationsSent", unit=MetricUnit.Count, value=1, namespace=NAMESPACE
        ) as metric:
            metric.add_dimension(name="service", value="notify")
            metric.add_dimension(name="channel", value=channel_name(channel))


@tracer.capture_method
def record_handler(record: SQSRecord) -> None:
    from podcast_pipeline.notify.service import NotificationError

    try:
        event: dict[str, Any] = record.json_body
    except ValueError:  # logged with the record's failure
        metrics.add_metric(name="NotificationFailures", unit=MetricUnit.Count, value=1)
        raise
    logger.set_correlation_id(str(event.get("id")))
    with logger.append_context_keys(detail_type=event.get("detail-type"), episode_id=_episode_id(event)):
        try:
            outcome = _dependencies().notifier.notify(event)
        except NotificationError as err:
            _count_sent(err.outcome)
            failures = err.outcome.failures
            metrics.add_metric(name="NotificationFailures", unit=MetricUnit.Count, value=len(failures))
            # Which channels failed and why; the record's failure is logged (at ERROR) when it is raised.
            logger.warning(
                "notification failed",
                extra={
                    "idempotency_key": err.outcome.key,
                    "sent": err.outcome.sent,
                    "skipped": err.outcome.skipped,
                    "failures": [
                        {"channel": f.channel, "reason": f.reason, "retryable": f.retryable} for f in failures
                    ],
                },
            )
            raise
        except Exception:
            metrics.add_metric(name="NotificationFailures", unit=MetricUnit.Count, value=1)
            raise  # logged, with its traceback, as the record's failure
        _count_sent(outcome)
        metrics.add_metric(name="NotificationFailures", unit=MetricUnit.Count, value=0)
        # `skipped`: channels not configured (a placeholder Slack secret); nothing was sent or marked there.
        logger.info(
            "notified",
            extra={
                "idempotency_key": outcome.key,
                "sent": outcome.sent,
                "already_sent": outcome.duplicates,
                "skipped": outcome.skipped,
            },
        )


def _episode_id(event: dict[str, Any]) -> str | None:
    detail = event.get("detail")
    return detail.get("id") if isinstance(detail, dict) else None


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The in-progress marker of a delivery expires with this invocation, so a crash cannot block retries.
    from aws_lambda_powertools.utilities.batch import process_partial_response

    try:
        dependencies = _dependencies()
    except Exception:  # noqa: S110 -- every record fails on it below, each logged with it
        pass
    else:
        dependencies.idempotency.register_lambda_context(context)
    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=_processor(), context=context
        )
    )
