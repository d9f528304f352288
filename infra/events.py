"""Events: our custom bus with an archive for replay, the schema registry, and the routes' rules."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_eventschemas as eventschemas
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants
from infra.acknowledge import SQS_MANAGED_ENCRYPTION, acknowledge, skip_checkov
from podcast_pipeline.routes import EVENT_SOURCE, Bus, Route


def event_pattern(pattern: dict[str, object]) -> events.EventPattern:
    """An `EventPattern` holding exactly the keys of a route's pattern (`detail-type` -> `detail_type`).

    An unknown key fails the synth instead of being dropped.
    """
    return events.EventPattern(**{key.replace("-", "_"): value for key, value in pattern.items()})  # type: ignore[arg-type]


class Events(Construct):
    """The pipeline's bus (source `podcast.pipeline`), what we publish on it, and who listens to what."""

    def __init__(
        self, scope: Construct, construct_id: str, *, stage: str, bucket_name: str, schemas_dir: Path
    ) -> None:
        super().__init__(scope, construct_id)
        self._bucket_name = bucket_name
        self.bus = events.EventBus(self, "Bus", event_bus_name=constants.EVENT_BUS_NAME.format(stage=stage))
        self.default_bus = events.EventBus.from_event_bus_name(self, "DefaultBus", "default")
        events.Archive(
            self,
            "Archive",
            source_event_bus=self.bus,
            event_pattern=events.EventPattern(source=[EVENT_SOURCE]),
            retention=Duration.days(constants.ARCHIVE_RETENTION_DAYS),
            description="Every pipeline event, for replay to a new or repaired subscriber",
        )

        # EventBridge -> SQS deliveries that still fail after the retries land here instead of vanishing.
        self.undelivered = sqs.Queue(
            self,
            "Undelivered",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(constants.DEAD_LETTER_RETENTION_DAYS),
        )
        acknowledge(
            self.undelivered, "AwsSolutions-SQS3", "is itself the dead-letter queue of the rule targets."
        )
        skip_checkov(self.undelivered, "CKV_AWS_27", SQS_MANAGED_ENCRYPTION)

        registry = eventschemas.CfnRegistry(
            self,
            "Schemas",
            registry_name=constants.SCHEMA_REGISTRY_NAME.format(stage=stage),
            description="JSON Schemas of the events podcast-pipeline publishes (source podcast.pipeline)",
        )
        for schema_file in sorted(schemas_dir.glob("*.json")):
            eventschemas.CfnSchema(
                self,
                f"Schema-{schema_file.stem}",
                registry_name=registry.attr_registry_name,
                schema_name=f"{EVENT_SOURCE}@{schema_file.stem}",
                type="JSONSchemaDraft4",
                # Re-serialised compactly: the registry limits the content size, and a broken file
                # fails here rather than at deploy time.
                content=json.dumps(
                    json.loads(schema_file.read_text(encoding="utf-8")), separators=(",", ":")
                ),
            )

    def grant_put_events(self, grantee: iam.IGrantable) -> None:
        self.bus.grant_put_events_to(grantee)

    def route_to(self, route: Route, queue: sqs.IQueue) -> events.Rule:
        """The rule that delivers `route`'s events to `queue`, on the bus the route listens to."""
        return events.Rule(
            self,
            f"{route.function.title()}Rule",
            description=f"{', '.join(route.detail_types)} -> the {route.function} queue",
            event_bus=self.default_bus if route.bus is Bus.DEFAULT else self.bus,
            event_pattern=event_pattern(route.pattern(self._bucket_name)),
            targets=[
                targets.SqsQueue(
                    queue,
                    dead_letter_queue=self.undelivered,
                    retry_attempts=constants.RULE_TARGET_RETRY_ATTEMPTS,
                    max_event_age=Duration.hours(constants.RULE_TARGET_MAX_EVENT_AGE_HOURS),
                )
            ],
        )
