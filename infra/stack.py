"""The podcast-pipeline stack: one construct per capability, wired by the shared route definitions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import constants
from infra.acknowledge import acknowledge
from infra.cdn import Cdn, public_keys
from infra.events import Events
from infra.functions import QueuedFunction
from infra.layers import Layers
from infra.notifications import Notifications
from infra.observability import Observability
from infra.storage import Storage
from podcast_pipeline import store
from podcast_pipeline.config import SiteConfig, load_config
from podcast_pipeline.feed.readiness import artwork_keys
from podcast_pipeline.routes import FEED, INGEST, NOTIFY, ROUTES


def audio_prefix(config: SiteConfig) -> str:
    """The folder of the audio key template (`assets/podcast/` of `assets/podcast/show-{number}.mp3`)."""
    fixed = config.audio_key_template.split("{", 1)[0]
    return fixed[: fixed.rfind("/") + 1]


class PodcastPipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config_file: Path,
        stage: str,
        cdn: bool,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        config = load_config(config_file)

        self.storage = storage = Storage(self, "Storage")
        self.events = events = Events(
            self,
            "Events",
            stage=stage,
            bucket_name=storage.bucket.bucket_name,
            schemas_dir=constants.SCHEMAS_DIR,
        )
        self.notifications = notifications = Notifications(
            self, "Notifications", emails=config.notification_emails
        )
        layers = Layers(self, "Layers", config_file=config_file)

        shared_environment = {
            constants.ENV_BUCKET_NAME: storage.bucket.bucket_name,
            constants.ENV_TABLE_NAME: storage.table.table_name,
            constants.ENV_EVENT_BUS_NAME: events.bus.event_bus_name,
        }
        extra_environment = {
            NOTIFY.function: {
                constants.ENV_SLACK_WEBHOOK_ARN: notifications.slack_webhook.secret_arn,
                constants.ENV_NOTIFY_TOPIC_ARN: notifications.topic.topic_arn,
            }
        }
        self.functions = functions = {
            route.function: QueuedFunction(
                self,
                route.function.title(),
                route=route,
                layers=[layers.dependencies, layers.shared_code],
                environment=shared_environment | extra_environment.get(route.function, {}),
            )
            for route in ROUTES
        }
        for queued in functions.values():
            events.route_to(queued.route, queued.queue)

        # Least privilege: each role gets what its function's code calls, on the keys it touches.
        ingest = functions[INGEST.function].role
        # Includes: `{% include %}` in show notes, which ingest renders.
        self._grant_object_reads(
            storage, ingest, config.posts_prefix, audio_prefix(config), config.includes_prefix
        )
        storage.grant_read_table(ingest)
        storage.grant_write_table(ingest)
        events.grant_put_events(ingest)

        feed = functions[FEED.function].role
        storage.grant_write_objects(feed, *(feed_config.key for feed_config in config.feeds.values()))
        storage.grant_read_keys(feed, *artwork_keys(config))  # feed readiness reads the artwork's header
        storage.grant_read_table(feed, store.FEED_PREFIX, store.LEASE_PREFIX)  # entries and rebuilds only
        storage.grant_write_table(feed, partition_key_prefix=store.LEASE_PREFIX)  # one rebuild at a time
        events.grant_put_events(feed)  # Feed Updated

        notify = functions[NOTIFY.function].role
        notifications.grant_publish(notify)
        notifications.grant_read_slack_webhook(notify)
        # Its idempotency records (one message per event), and nothing else in the table.
        storage.grant_read_table(notify, constants.NOTIFY_IDEMPOTENCY_PARTITION)
        storage.grant_write_table(notify, partition_key_prefix=constants.NOTIFY_IDEMPOTENCY_PARTITION)

        self.observability = Observability(
            self,
            "Observability",
            functions=list(functions.values()),
            undelivered=events.undelivered,
            emails=config.notification_emails,
            topic_key=notifications.topic_key,
        )

        CfnOutput(self, "BucketName", value=storage.bucket.bucket_name)
        CfnOutput(self, "EventBusName", value=events.bus.event_bus_name)
        CfnOutput(self, "EventBusArn", value=events.bus.event_bus_arn)
        CfnOutput(self, "NotifyTopicArn", value=notifications.topic.topic_arn)
        CfnOutput(self, "SlackWebhookSecretArn", value=notifications.slack_webhook.secret_arn)
        self.cdn = (
            Cdn(
                self,
                "Cdn",
                bucket=storage.bucket,
                log_bucket=storage.access_logs,
                public=public_keys(config, audio_prefix(config)),
            )
            if cdn
            else None
        )
        if self.cdn:
            CfnOutput(self, "DistributionDomainName", value=self.cdn.distribution.distribution_domain_name)

    def _grant_object_reads(self, storage: Storage, role: iam.Role, *prefixes: str) -> None:
        storage.grant_read_objects(role, *prefixes)
        bucket_id = self.get_logical_id(storage.bucket.node.default_child)  # type: ignore[arg-type]
        for prefix in prefixes:
            acknowledge(
                role,
                f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{prefix}*]",
                f"reads every object under {prefix!r}, whose keys are not known in advance.",
            )
