"""The AWS resources of the stack, created on moto's server from the shared definitions.

The CDK stack and this module read the same `routes` and `table` definitions, so a wrong pattern or key
schema is wrong here too. Resource names are derived in one place (`Names`).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from podcast_pipeline import settings, table
from podcast_pipeline.routes import EVENT_SOURCE, ROUTES, Bus, Route
from podcast_pipeline_tools.local import REGION
from podcast_pipeline_tools.local.capacity import CapacityMeter, TableCapacity

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_sns.client import SNSClient
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

# Dummy credentials: the emulation accepts anything, and real ones must never reach a loopback server.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
STACK_NAME = "podcast-pipeline"
TARGET_ID = "queue"
AUDIT = "audit"  # the extra queue that records every event on the custom bus, for the report


@dataclass(frozen=True)
class Names:
    """Every resource name, derived from one prefix (unique per emulation when several share a server)."""

    prefix: str

    @property
    def bucket(self) -> str:
        return f"{self.prefix}-content"

    @property
    def table(self) -> str:
        return f"{self.prefix}-episodes"

    @property
    def event_bus(self) -> str:
        return self.prefix

    @property
    def topic(self) -> str:
        return f"{self.prefix}-notify"

    def queue(self, function: str) -> str:
        return f"{self.prefix}-{function}"

    def dead_letter_queue(self, function: str) -> str:
        return f"{self.prefix}-{function}-dlq"

    def rule(self, function: str) -> str:
        return f"{self.prefix}-{function}"


@dataclass(frozen=True)
class Queues:
    url: str
    arn: str
    dlq_url: str


@dataclass(frozen=True)
class Emulation:
    endpoint_url: str
    names: Names
    queues: Mapping[str, Queues]  # by route function name
    audit_queue_url: str
    rules: Mapping[str, str]  # rule name stem (function, or AUDIT) -> the bus it is on
    topic_arn: str
    s3: S3Client
    dynamodb: DynamoDBClient
    events: EventBridgeClient
    sqs: SQSClient
    sns: SNSClient

    @property
    def bucket(self) -> str:
        return self.names.bucket

    def handler_env(self) -> dict[str, str]:
        """What the functions read from their environment (besides the config path and the Slack URL)."""
        return {
            **AWS_ENV,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            settings.ENV_BUCKET_NAME: self.names.bucket,
            settings.ENV_TABLE_NAME: self.names.table,
            settings.ENV_EVENT_BUS_NAME: self.names.event_bus,
            settings.ENV_NOTIFY_TOPIC_ARN: self.topic_arn,
        }


# Settings that would point boto3 at a real account or a real webhook.
UNSET_ENV = (
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    settings.ENV_SLACK_WEBHOOK_SECRET_ARN,
)


@contextmanager
def patched_environ(values: Mapping[str, str], unset: Iterable[str] = UNSET_ENV) -> Iterator[None]:
    """Set `values` (and remove `unset`) in os.environ for the duration; restore everything after."""
    saved = dict(os.environ)
    for name in unset:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class _MeteredMotoServer(ThreadedMotoServer):
    """moto's threaded server with its application behind a CapacityMeter."""

    def __init__(self) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self.meter = CapacityMeter(DomainDispatcherApplication(create_backend_app))

    def _server_entry(self) -> None:  # moto's, with the metered application
        self._server = make_server(
            self._ip_address, self._port, self.meter, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


_METERS: dict[str, CapacityMeter] = {}  # by endpoint URL, for the servers this process runs


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server on a free loopback port, its DynamoDB capacity metered; yields its endpoint URL."""
    # werkzeug logs every request to stderr; the local runner has its own progress display.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = _MeteredMotoServer()
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    _METERS[endpoint] = server.meter
    try:
        yield endpoint
    finally:
        del _METERS[endpoint]
        server.stop()


def table_capacity(emulation: Emulation) -> TableCapacity | None:
    """The units billed to the emulation's table so far; None on a server this process does not run."""
    meter = _METERS.get(emulation.endpoint_url)
    return meter.table(emulation.names.table) if meter else None


@functools.cache
def _session() -> boto3.session.Session:
    # One session for every emulation: it caches the service models, which makes clients cheap to create.
    return boto3.session.Session(
        aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=AWS_ENV["AWS_SESSION_TOKEN"],
        region_name=REGION,
    )


# Every poller of a concurrent run shares the emulation's SQS client: one connection each, and some spare.
_CLIENT_CONFIG = Config(max_pool_connections=64)


def _client(service: str, endpoint_url: str) -> Any:
    return _session().client(service, endpoint_url=endpoint_url, config=_CLIENT_CONFIG)  # type: ignore[call-overload]


def _create_table(dynamodb: DynamoDBClient, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": attribute, "AttributeType": "S"}
            for attribute in (table.PARTITION_KEY, table.SORT_KEY)
        ],
        KeySchema=[
            {"AttributeName": table.PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": table.SORT_KEY, "KeyType": "RANGE"},
        ],
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table.TTL_ATTRIBUTE}
    )


def _create_queue(
    sqs: SQSClient, name: str, attributes: Mapping[QueueAttributeNameType, str]
) -> tuple[str, str]:
    """Create a queue; returns its URL and ARN."""
    url = sqs.create_queue(QueueName=name, Attributes=dict(attributes))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _create_route_queues(sqs: SQSClient, names: Names, route: Route) -> Queues:
    dlq_url, dlq_arn = _create_queue(sqs, names.dead_letter_queue(route.function), {})
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": route.max_receive_count}
    url, arn = _create_queue(
        sqs,
        names.queue(route.function),
        {"VisibilityTimeout": str(route.visibility_timeout_seconds), "RedrivePolicy": json.dumps(redrive)},
    )
    return Queues(url=url, arn=arn, dlq_url=dlq_url)


def _route_to_queue(
    events: EventBridgeClient, *, rule: str, bus: str, pattern: Mapping[str, Any], queue_arn: str
) -> None:
    events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": TARGET_ID, "Arn": queue_arn}])


def _bus_name(route: Route, names: Names) -> str:
    return "default" if route.bus is Bus.DEFAULT else names.event_bus


def create_resources(endpoint_url: str, names: Names) -> Emulation:
    """Create the stack's bucket, table, bus, queues, rules and topic on the emulation at `endpoint_url`."""
    s3: S3Client = _client("s3", endpoint_url)
    dynamodb: DynamoDBClient = _client("dynamodb", endpoint_url)
    events: EventBridgeClient = _client("events", endpoint_url)
    sqs: SQSClient = _client("sqs", endpoint_url)
    sns: SNSClient = _client("sns", endpoint_url)

    s3.create_bucket(Bucket=names.bucket)
    s3.put_bucket_versioning(Bucket=names.bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=names.bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    _create_table(dynamodb, names.table)
    events.create_event_bus(Name=names.event_bus)

    queues: dict[str, Queues] = {}
    rules: dict[str, str] = {AUDIT: names.event_bus}
    for route in ROUTES:
        queues[route.function] = _create_route_queues(sqs, names, route)
        rules[route.function] = _bus_name(route, names)
        _route_to_queue(
            events,
            rule=names.rule(route.function),
            bus=rules[route.function],
            pattern=route.pattern(names.bucket),
            queue_arn=queues[route.function].arn,
        )
    audit_url, audit_arn = _create_queue(sqs, names.queue(AUDIT), {})
    _route_to_queue(
        events,
        rule=names.rule(AUDIT),
        bus=names.event_bus,
        pattern={"source": [EVENT_SOURCE]},
        queue_arn=audit_arn,
    )
    topic_arn = sns.create_topic(Name=names.topic)["TopicArn"]
    return Emulation(
        endpoint_url=endpoint_url,
        names=names,
        queues=queues,
        audit_queue_url=audit_url,
        rules=rules,
        topic_arn=topic_arn,
        s3=s3,
        dynamodb=dynamodb,
        events=events,
        sqs=sqs,
        sns=sns,
    )


def unique_names() -> Names:
    """Names no other emulation in this process uses.

    moto keeps its state in module globals, so every server in a process shares one account: a second
    run would find the first run's table, and S3 routes its events through every rule of the account.
    """
    return Names(f"{STACK_NAME}-{uuid.uuid4().hex[:8]}")


def delete_resources(emulation: Emulation) -> None:
    """Delete what `create_resources` made, so a long-lived process does not keep every run's MP3s."""
    s3, bucket = emulation.s3, emulation.bucket
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        entries = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        if entries:
            s3.delete_objects(
                Bucket=bucket,
                Delete={"Objects": [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in entries]},
            )
    s3.delete_bucket(Bucket=bucket)
    emulation.dynamodb.delete_table(TableName=emulation.names.table)
    for function, bus in emulation.rules.items():
        rule = emulation.names.rule(function)
        emulation.events.remove_targets(Rule=rule, EventBusName=bus, Ids=[TARGET_ID])
        emulation.events.delete_rule(Name=rule, EventBusName=bus)
    emulation.events.delete_event_bus(Name=emulation.names.event_bus)
    for queues in emulation.queues.values():
        emulation.sqs.delete_queue(QueueUrl=queues.url)
        emulation.sqs.delete_queue(QueueUrl=queues.dlq_url)
    emulation.sqs.delete_queue(QueueUrl=emulation.audit_queue_url)
    emulation.sns.delete_topic(TopicArn=emulation.topic_arn)


@contextmanager
def emulation(endpoint_url: str | None = None) -> Iterator[Emulation]:
    """The stack, under unique names, on the server at `endpoint_url` or on a fresh one; deleted after."""
    with ExitStack() as stack:
        endpoint = endpoint_url or stack.enter_context(moto_server())
        created = create_resources(endpoint, unique_names())
        stack.callback(delete_resources, created)
        yield created
