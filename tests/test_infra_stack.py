"""The synthesized stack: functions, queues, rules, storage, encryption, least privilege, alarms, CDN."""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Annotations, Match, Template
from infra_fixtures import EMAILS, ROOT, SynthesizedStack, synthesized

from infra import constants
from infra.cdn import public_keys
from infra.events import Events
from infra.stack import audio_prefix
from podcast_pipeline import settings
from podcast_pipeline.config import CONFIG_ENV, load_config
from podcast_pipeline.feed.readiness import artwork_keys
from podcast_pipeline.notify.slack import SlackWebhook
from podcast_pipeline.routes import FEED, INGEST, NOTIFY, ROUTES, Bus, Route
from podcast_pipeline.settings import METRIC_NAMESPACE, OPTIONAL_ENV, REQUIRED_ENV, Settings

# One synth per worker: where xdist grouping works, every infra test runs on the same one.
pytestmark = pytest.mark.xdist_group("cdk")

SAMPLE = load_config(ROOT / constants.DEFAULT_CONFIG)


@pytest.fixture(scope="module")
def default() -> SynthesizedStack:
    return synthesized().default


@pytest.fixture(scope="module")
def full() -> SynthesizedStack:
    return synthesized().full


def logical_id(synth: SynthesizedStack, construct: Any) -> str:
    return synth.stack.get_logical_id(construct.node.default_child)


def resource(synth: SynthesizedStack, construct: Any) -> dict[str, Any]:
    return dict(synth.template_json["Resources"][logical_id(synth, construct)])


def resources_of(synth: SynthesizedStack, resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in synth.template_json["Resources"].items() if v["Type"] == resource_type}


def render(value: Any) -> str:
    """An intrinsic as readable text: GetAtt -> <Id.Attr>, Ref -> <Id>, Join -> the joined parts."""
    if isinstance(value, str):
        return value
    if "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(render(part) for part in parts)
    raise AssertionError(f"unexpected intrinsic {value}")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def role_permissions(synth: SynthesizedStack, route: Route) -> list[tuple[str, str, str]]:
    """(action, resource, condition json) for every Allow statement attached to the function's role."""
    role_id = logical_id(synth, synth.stack.functions[route.function].role)
    permissions = []
    for policy in resources_of(synth, "AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            condition = json.dumps(statement.get("Condition"), sort_keys=True)
            for action in _as_list(statement["Action"]):
                for target in _as_list(statement["Resource"]):
                    permissions.append((action, render(target), condition))
    return permissions


def actions_on(permissions: list[tuple[str, str, str]], prefix: str) -> dict[str, set[str]]:
    """Resource -> actions, for actions of one service (`s3:`, `dynamodb:`, ...)."""
    found: dict[str, set[str]] = {}
    for action, target, _ in permissions:
        if action.startswith(prefix):
            found.setdefault(target, set()).add(action)
    return found


# -- functions -------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.function)
def test_function_runtime_architecture_tracing_and_layers(default: SynthesizedStack, route: Route) -> None:
    queued = default.stack.functions[route.function]
    props = resource(default, queued.function)["Properties"]
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "handler.handler"
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert (props["MemorySize"], props["Timeout"]) == (route.memory_mb, route.timeout_seconds)
    layer_ids = sorted(ref["Ref"] for ref in props["Layers"])
    assert layer_ids == sorted(resources_of(default, "AWS::Lambda::LayerVersion"))
    assert len(layer_ids) == 2


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.function)
def test_function_environment(default: SynthesizedStack, route: Route) -> None:
    stack = default.stack
    env = resource(default, stack.functions[route.function].function)["Properties"]["Environment"][
        "Variables"
    ]
    assert env["POWERTOOLS_SERVICE_NAME"] == route.function
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "PodcastPipeline"
    assert env["LOG_LEVEL"] == constants.LOG_LEVEL
    assert env[CONFIG_ENV] == constants.CONFIG_PATH_IN_LAMBDA
    assert env["BUCKET_NAME"] == {"Ref": logical_id(default, stack.storage.bucket)}
    assert env["TABLE_NAME"] == {"Ref": logical_id(default, stack.storage.table)}
    assert env["EVENT_BUS_NAME"] == {"Ref": logical_id(default, stack.events.bus)}
    notify_only = {"SLACK_WEBHOOK_SECRET_ARN", "NOTIFY_TOPIC_ARN"}
    if route is NOTIFY:
        assert env["SLACK_WEBHOOK_SECRET_ARN"] == {
            "Ref": logical_id(default, stack.notifications.slack_webhook)
        }
        assert env["NOTIFY_TOPIC_ARN"] == {"Ref": logical_id(default, stack.notifications.topic)}
    else:
        assert not notify_only & set(env)


# What the stack sets for the functions themselves (Powertools and the log level aside).
POWERTOOLS_ENV = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL"}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.function)
def test_function_environment_is_what_settings_reads(default: SynthesizedStack, route: Route) -> None:
    env = resource(default, default.stack.functions[route.function].function)["Properties"]["Environment"][
        "Variables"
    ]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == METRIC_NAMESPACE
    read = set(REQUIRED_ENV) | (set(OPTIONAL_ENV) if route is NOTIFY else set())
    assert set(env) - POWERTOOLS_ENV == read
    # Every required variable is set, so the function's Settings load (placeholders for the tokens).
    loaded = Settings.from_environ({name: str(value) for name, value in env.items()})
    assert (loaded.notify_topic_arn is not None) is (route is NOTIFY)


def layer_asset_hash(synth: SynthesizedStack, layer: str) -> str:
    layers = synth.stack.node.find_child("Layers")
    s3_key = resource(synth, layers.node.find_child(layer))["Properties"]["Content"]["S3Key"]
    return str(s3_key).removesuffix(".zip")


def test_shared_code_layer_holds_the_config_where_the_functions_look(default: SynthesizedStack) -> None:
    asset_dir = default.template_file.parent / f"asset.{layer_asset_hash(default, 'SharedCode')}"
    assert f"/opt/{constants.CONFIG_IN_LAYER}" == constants.CONFIG_PATH_IN_LAMBDA
    assert (asset_dir / constants.CONFIG_IN_LAYER).read_bytes() == (
        ROOT / constants.DEFAULT_CONFIG
    ).read_bytes()
    assert (asset_dir / "python" / "podcast_pipeline" / "routes.py").is_file()
    assert not list(asset_dir.rglob("__pycache__"))


def test_shared_code_layer_is_the_runtime_package_whole_and_no_tool(default: SynthesizedStack) -> None:
    asset_dir = default.template_file.parent / f"asset.{layer_asset_hash(default, 'SharedCode')}"
    package = ROOT / "layers" / "podcast_pipeline"
    shipped = {p.relative_to(asset_dir / "python" / "podcast_pipeline") for p in asset_dir.rglob("*.py")}
    assert shipped == {p.relative_to(package) for p in package.rglob("*.py")}
    assert {p.name for p in asset_dir.iterdir()} == {"python", constants.CONFIG_IN_LAYER.split("/")[0]}
    tools = ("cli", "local", "backfill", "sink", "diff", "sample")
    for path in asset_dir.rglob("*"):
        names = [part.removesuffix(".py").removesuffix(".yaml") for part in path.relative_to(asset_dir).parts]
        assert not any(name.startswith(tools) for name in names), path


def test_dependency_layer_is_keyed_on_the_dependencies_only(
    default: SynthesizedStack, full: SynthesizedStack
) -> None:
    # Same dependencies, different site config: one shared dependencies asset, two shared-code assets.
    assert layer_asset_hash(default, "Dependencies") == layer_asset_hash(full, "Dependencies")
    assert layer_asset_hash(default, "SharedCode") != layer_asset_hash(full, "SharedCode")
    dependencies = (
        default.template_file.parent / f"asset.{layer_asset_hash(default, 'Dependencies')}" / "python"
    )
    assert (dependencies / "aws_lambda_powertools").is_dir()
    assert not (dependencies / "boto3").exists()  # the runtime's own copy must win
    unzipped = sum(f.stat().st_size for f in dependencies.rglob("*") if f.is_file())
    assert unzipped < 200 * 2**20  # Lambda allows 250 MB for the function and all its layers


# -- queues and mappings ---------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.function)
def test_queue_has_dead_letter_queue_and_long_enough_visibility(
    default: SynthesizedStack, route: Route
) -> None:
    queued = default.stack.functions[route.function]
    queue = resource(default, queued.queue)["Properties"]
    dlq = resource(default, queued.dead_letter_queue)["Properties"]
    timeout = route.timeout_seconds
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [logical_id(default, queued.dead_letter_queue), "Arn"]},
        "maxReceiveCount": route.max_receive_count,
    }
    assert queue["VisibilityTimeout"] >= 6 * timeout + route.batching_window_seconds
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.function)
def test_event_source_mapping_follows_the_route(default: SynthesizedStack, route: Route) -> None:
    queued = default.stack.functions[route.function]
    expected: dict[str, Any] = {
        "EventSourceArn": {"Fn::GetAtt": [logical_id(default, queued.queue), "Arn"]},
        "FunctionName": {"Ref": logical_id(default, queued.function)},
        "BatchSize": route.batch_size,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
    }
    if route.batching_window_seconds:
        expected["MaximumBatchingWindowInSeconds"] = route.batching_window_seconds
    if route.max_concurrency:
        expected["ScalingConfig"] = {"MaximumConcurrency": route.max_concurrency}
    default.template.has_resource_properties("AWS::Lambda::EventSourceMapping", expected)


def test_feed_mapping_batches(default: SynthesizedStack) -> None:
    mappings = [m["Properties"] for m in resources_of(default, "AWS::Lambda::EventSourceMapping").values()]
    assert len(mappings) == len(ROUTES)
    assert all(m["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings)
    feed_function = {"Ref": logical_id(default, default.stack.functions[FEED.function].function)}
    (feed,) = [m for m in mappings if m["FunctionName"] == feed_function]
    assert feed["MaximumBatchingWindowInSeconds"] == FEED.batching_window_seconds > 0


# -- rules -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.function)
def test_rule_pattern_equals_the_shared_route(default: SynthesizedStack, route: Route) -> None:
    stack = default.stack
    bucket_ref = stack.resolve(stack.storage.bucket.bucket_name)
    assert bucket_ref == {"Ref": logical_id(default, stack.storage.bucket)}
    queue_arn = {"Fn::GetAtt": [logical_id(default, stack.functions[route.function].queue), "Arn"]}
    rules = [
        rule["Properties"]
        for rule in resources_of(default, "AWS::Events::Rule").values()
        if rule["Properties"]["Targets"][0]["Arn"] == queue_arn
    ]
    assert len(rules) == 1
    (rule,) = rules
    assert rule["EventPattern"] == route.pattern(bucket_ref)  # the Ref stands in for the name
    if route.bus is Bus.DEFAULT:
        assert rule["EventBusName"] == "default"
    else:
        assert rule["EventBusName"] == {"Ref": logical_id(default, stack.events.bus)}
    (target,) = rule["Targets"]
    assert target["DeadLetterConfig"] == {
        "Arn": {"Fn::GetAtt": [logical_id(default, stack.events.undelivered), "Arn"]}
    }
    assert target["RetryPolicy"] == {
        "MaximumRetryAttempts": constants.RULE_TARGET_RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": constants.RULE_TARGET_MAX_EVENT_AGE_HOURS * 3600,
    }


def test_bus_archive_and_schemas(default: SynthesizedStack) -> None:
    default.template.has_resource_properties("AWS::Events::EventBus", {"Name": "podcast-pipeline-test"})
    default.template.has_resource_properties(
        "AWS::Events::Archive",
        {
            "SourceArn": {"Fn::GetAtt": [logical_id(default, default.stack.events.bus), "Arn"]},
            "EventPattern": {"source": ["podcast.pipeline"]},
            "RetentionDays": constants.ARCHIVE_RETENTION_DAYS,
        },
    )
    schema_files = sorted(constants.SCHEMAS_DIR.glob("*.json"))
    schemas = resources_of(default, "AWS::EventSchemas::Schema")
    assert sorted(s["Properties"]["SchemaName"] for s in schemas.values()) == [
        f"podcast.pipeline@{f.stem}" for f in schema_files
    ]
    for schema_file in schema_files:
        (schema,) = [
            s for s in schemas.values() if s["Properties"]["SchemaName"].endswith(f"@{schema_file.stem}")
        ]
        assert json.loads(schema["Properties"]["Content"]) == json.loads(schema_file.read_text())


def test_schema_registry_synthesizes_from_any_number_of_files(tmp_path: Any) -> None:
    def schemas_in(directory: Any) -> Mapping[str, Any]:
        stack = Stack(App())
        Events(stack, "Events", stage="t", bucket_name="bucket", schemas_dir=directory)
        return Template.from_stack(stack).find_resources("AWS::EventSchemas::Schema")

    assert schemas_in(tmp_path) == {}  # an empty (or missing) folder still synthesizes
    (tmp_path / "episode-published.json").write_text(json.dumps({"type": "object", "required": ["detail"]}))
    (schema,) = schemas_in(tmp_path).values()
    assert schema["Properties"]["SchemaName"] == "podcast.pipeline@episode-published"
    assert schema["Properties"]["Type"] == "JSONSchemaDraft4"


# -- storage and encryption ------------------------------------------------------------------------


def test_content_bucket(default: SynthesizedStack) -> None:
    stack = default.stack
    props = resource(default, stack.storage.bucket)["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert props["LoggingConfiguration"]["DestinationBucketName"] == {
        "Ref": logical_id(default, stack.storage.access_logs)
    }
    assert {
        "NoncurrentVersionExpiration": {"NoncurrentDays": constants.NONCURRENT_VERSION_EXPIRY_DAYS},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        "Status": "Enabled",
    } in props["LifecycleConfiguration"]["Rules"]


@pytest.mark.parametrize("bucket", ["bucket", "access_logs"])
def test_buckets_refuse_plain_http(default: SynthesizedStack, bucket: str) -> None:
    bucket_id = logical_id(default, getattr(default.stack.storage, bucket))
    default.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Effect": "Deny",
                                "Action": "s3:*",
                                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                            }
                        )
                    ]
                )
            },
        },
    )


def test_table(default: SynthesizedStack) -> None:
    props = resource(default, default.stack.storage.table)["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    # No index: a feed's entries are a partition of the table, and an index would bill every write twice.
    assert "GlobalSecondaryIndexes" not in props


def test_every_queue_is_encrypted_and_refuses_plain_http(default: SynthesizedStack) -> None:
    queues = resources_of(default, "AWS::SQS::Queue")
    assert len(queues) == 2 * len(ROUTES) + 1  # queue + dead-letter queue per route, undelivered events
    assert all(q["Properties"]["SqsManagedSseEnabled"] is True for q in queues.values())
    tls_protected = {
        render(queue_ref)
        for policy in resources_of(default, "AWS::SQS::QueuePolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
        and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for queue_ref in policy["Properties"]["Queues"]
    }
    assert tls_protected == {f"<{queue_id}>" for queue_id in queues}


def test_topics_are_encrypted_and_refuse_plain_http(full: SynthesizedStack) -> None:
    topics = resources_of(full, "AWS::SNS::Topic")
    key = {"Fn::GetAtt": [logical_id(full, full.stack.notifications.topic_key), "Arn"]}
    assert len(topics) == 2  # notifications and alarms
    assert all(topic["Properties"]["KmsMasterKeyId"] == key for topic in topics.values())
    full.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    denied = [
        statement
        for policy in resources_of(full, "AWS::SNS::TopicPolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
    ]
    assert len(denied) == 2
    assert all(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denied)


def test_slack_secret_is_a_placeholder_and_emails_subscribe(
    default: SynthesizedStack, full: SynthesizedStack
) -> None:
    default.template.has_resource_properties(
        "AWS::SecretsManager::Secret", {"SecretString": constants.SLACK_WEBHOOK_PLACEHOLDER}
    )
    # The notify function reads the placeholder as "Slack not configured": skipped, nothing marked sent.
    assert SlackWebhook(constants.SLACK_WEBHOOK_PLACEHOLDER).configured() is False
    assert resources_of(default, "AWS::SNS::Subscription") == {}  # the sample config has no e-mails
    subscriptions = [s["Properties"] for s in resources_of(full, "AWS::SNS::Subscription").values()]
    by_topic: dict[str, set[str]] = {}
    for subscription in subscriptions:
        assert subscription["Protocol"] == "email"
        by_topic.setdefault(render(subscription["TopicArn"]), set()).add(subscription["Endpoint"])
    expected = set(EMAILS)
    assert by_topic == {
        f"<{logical_id(full, full.stack.notifications.topic)}>": expected,
        f"<{logical_id(full, full.stack.observability.topic)}>": expected,
    }


# -- least privilege -------------------------------------------------------------------------------

XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.function)
def test_no_wildcard_resource_except_xray(default: SynthesizedStack, route: Route) -> None:
    permissions = role_permissions(default, route)
    assert {action for action, target, _ in permissions if target == "*"} == XRAY
    assert not [action for action, _, _ in permissions if action.endswith("*")]


def test_ingest_permissions(default: SynthesizedStack) -> None:
    stack = default.stack
    bucket = f"<{logical_id(default, stack.storage.bucket)}.Arn>"
    table = f"<{logical_id(default, stack.storage.table)}.Arn>"
    permissions = role_permissions(default, INGEST)
    assert actions_on(permissions, "s3:") == {
        f"{bucket}/_posts/*": {"s3:GetObject", "s3:GetObjectVersion"},
        f"{bucket}/assets/podcast/*": {"s3:GetObject", "s3:GetObjectVersion"},
        f"{bucket}/_includes/*": {"s3:GetObject", "s3:GetObjectVersion"},
        bucket: {"s3:ListBucket"},
    }
    dynamodb = actions_on(permissions, "dynamodb:")
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:GetItem", "dynamodb:Query"} <= dynamodb[
        table
    ]
    assert actions_on(permissions, "events:") == {
        f"<{logical_id(default, stack.events.bus)}.Arn>": {"events:PutEvents"}
    }
    assert not actions_on(permissions, "sns:") and not actions_on(permissions, "secretsmanager:")


def test_feed_permissions(default: SynthesizedStack) -> None:
    stack = default.stack
    bucket = f"<{logical_id(default, stack.storage.bucket)}.Arn>"
    table = f"<{logical_id(default, stack.storage.table)}.Arn>"
    permissions = role_permissions(default, FEED)
    feed_keys = {f"{bucket}/{feed.key}" for feed in SAMPLE.feeds.values()}
    s3 = actions_on(permissions, "s3:")
    assert {target for target, actions in s3.items() if "s3:PutObject" in actions} == feed_keys
    # Show notes come rendered from ingest: the feed reads no includes, only its own feeds and, for feed
    # readiness, the header of the artwork in the bucket.
    artwork = {f"{bucket}/{key}": {"s3:GetObject"} for key in artwork_keys(SAMPLE)}
    assert artwork == {f"{bucket}/assets/cover.png": {"s3:GetObject"}}
    assert s3 == {key: {"s3:GetObject", "s3:PutObject"} for key in feed_keys} | artwork | {
        bucket: {"s3:ListBucket"}
    }
    # It reads only the feed entries and its rebuild items, in one Query per feed.
    reads = {(target, condition) for action, target, condition in permissions if action == "dynamodb:Query"}
    assert reads == {
        (
            table,
            json.dumps(
                {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["FEED#*", "LEASE#*"]}}, sort_keys=True
            ),
        )
    }
    writes = {
        (target, condition) for action, target, condition in permissions if action == "dynamodb:PutItem"
    }
    # Its only table writes are its leases.
    assert writes == {
        (
            table,
            json.dumps({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["LEASE#*"]}}, sort_keys=True),
        )
    }
    assert list(actions_on(permissions, "events:").values()) == [{"events:PutEvents"}]


def test_notify_permissions(default: SynthesizedStack) -> None:
    stack = default.stack
    permissions = role_permissions(default, NOTIFY)
    assert actions_on(permissions, "sns:") == {
        f"<{logical_id(default, stack.notifications.topic)}>": {"sns:Publish"}
    }
    assert actions_on(permissions, "secretsmanager:") == {
        f"<{logical_id(default, stack.notifications.slack_webhook)}>": {"secretsmanager:GetSecretValue"}
    }
    slack_key = f"<{logical_id(default, stack.notifications.slack_webhook_key)}.Arn>"
    assert actions_on(permissions, "kms:") == {
        f"<{logical_id(default, stack.notifications.topic_key)}.Arn>": {"kms:Decrypt", "kms:GenerateDataKey"},
        slack_key: {"kms:Decrypt"},
    }
    # The webhook's key decrypts only through Secrets Manager, and only that secret.
    [slack_key_condition] = [json.loads(c) for a, t, c in permissions if t == slack_key]
    assert set(slack_key_condition["StringEquals"]) == {"kms:ViaService", "kms:EncryptionContext:SecretARN"}
    assert slack_key_condition["StringEquals"]["kms:EncryptionContext:SecretARN"] == {
        "Ref": logical_id(default, stack.notifications.slack_webhook)
    }
    assert not actions_on(permissions, "s3:") and not actions_on(permissions, "events:")
    # The table: its own idempotency records only, and the partition matches the handler's.
    table = f"<{logical_id(default, stack.storage.table)}.Arn>"
    only_its_records = json.dumps(
        {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["idempotency#notify*"]}}, sort_keys=True
    )
    table_access = {(t, c) for a, t, c in permissions if a.startswith("dynamodb:")}
    assert table_access == {(table, only_its_records)}
    assert {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= {
        a for a, _, _ in permissions if a.startswith("dynamodb:")
    }
    assert handler_constant("notify", "IDEMPOTENCY_PARTITION") == constants.NOTIFY_IDEMPOTENCY_PARTITION


def handler_constant(function: str, name: str) -> Any:
    """A module-level constant of a handler, read without importing it: a literal, another of its
    constants, or a name it imports from podcast_pipeline.settings (where the shared names live)."""
    module = ast.parse((constants.FUNCTIONS_DIR / function / "handler.py").read_text())
    for node in module.body:
        if isinstance(node, ast.ImportFrom) and node.module == "podcast_pipeline.settings":
            imported = [a.name for a in node.names if (a.asname or a.name) == name]
            if imported:
                return getattr(settings, imported[0])
        if isinstance(node, ast.Assign) and [getattr(t, "id", None) for t in node.targets] == [name]:
            if isinstance(node.value, ast.Name):
                return handler_constant(function, node.value.id)
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found in functions/{function}/handler.py")


def test_no_aws_managed_policies(default: SynthesizedStack) -> None:
    roles = resources_of(default, "AWS::IAM::Role")
    assert roles and all("ManagedPolicyArns" not in role["Properties"] for role in roles.values())


# -- observability and CDN -------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.function)
def test_alarms_for_each_function(default: SynthesizedStack, route: Route) -> None:
    stack = default.stack
    queued = stack.functions[route.function]
    alarm_topic = {"Ref": logical_id(default, stack.observability.topic)}
    expectations = [
        ("ApproximateNumberOfMessagesVisible", "QueueName", queued.dead_letter_queue, "QueueName", 1),
        ("Errors", "FunctionName", queued.function, None, 1),
        ("ApproximateAgeOfOldestMessage", "QueueName", queued.queue, "QueueName", 900),
    ]
    for metric, dimension, construct, attribute, threshold in expectations:
        value = (
            {"Fn::GetAtt": [logical_id(default, construct), attribute]}
            if attribute
            else {"Ref": logical_id(default, construct)}
        )
        default.template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "MetricName": metric,
                "Dimensions": [{"Name": dimension, "Value": value}],
                "Threshold": threshold,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "AlarmActions": [alarm_topic],
            },
        )
    assert len(resources_of(default, "AWS::CloudWatch::Dashboard")) == 1


@pytest.mark.parametrize(
    ("metric", "route", "threshold", "emitted_as"),
    [
        # functions/ingest/handler.py: `Episodes` + the episode's state, title-cased.
        ("EpisodesFailed", INGEST, constants.EPISODES_FAILED_THRESHOLD, 'name=f"Episodes{state}"'),
        (
            "NotificationFailures",
            NOTIFY,
            constants.NOTIFICATION_FAILURES_THRESHOLD,
            'name="NotificationFailures"',
        ),
    ],
    ids=["episodes-failed", "notification-failures"],
)
def test_alarms_on_what_a_person_must_act_on(
    default: SynthesizedStack, metric: str, route: Route, threshold: int, emitted_as: str
) -> None:
    alarm_topic = {"Ref": logical_id(default, default.stack.observability.topic)}
    default.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            # Powertools' EMF: the handler's Metrics namespace, its `service` the one dimension.
            "Namespace": constants.POWERTOOLS_METRICS_NAMESPACE,
            "MetricName": metric,
            "Dimensions": [{"Name": "service", "Value": route.function}],
            "Statistic": "Sum",
            "Period": constants.ALARM_PERIOD_MINUTES * 60,
            "EvaluationPeriods": 1,
            "Threshold": threshold,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [alarm_topic],
            "OKActions": [alarm_topic],
        },
    )
    assert threshold == 1  # one failed episode, one lost message: a person looks
    source = (constants.FUNCTIONS_DIR / route.function / "handler.py").read_text()
    assert emitted_as in source
    assert f'service="{route.function}"' in source or f'SERVICE = "{route.function}"' in source
    assert handler_namespace(route.function) == constants.POWERTOOLS_METRICS_NAMESPACE


def handler_namespace(function: str) -> str:
    """The namespace a handler's Powertools Metrics write to, read without importing the handler."""
    module = ast.parse((constants.FUNCTIONS_DIR / function / "handler.py").read_text())
    for node in ast.walk(module):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Metrics":
            namespace = next(k.value for k in node.keywords if k.arg == "namespace")
            if isinstance(namespace, ast.Name):
                return str(handler_constant(function, namespace.id))
            return str(ast.literal_eval(namespace))
    raise AssertionError(f"no Metrics(...) in functions/{function}/handler.py")


def test_cdn_is_optional_and_reads_the_bucket_through_origin_access_control(
    default: SynthesizedStack, full: SynthesizedStack
) -> None:
    assert resources_of(default, "AWS::CloudFront::Distribution") == {}
    (distribution,) = resources_of(full, "AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["Logging"]["Prefix"] == constants.CDN_LOG_PREFIX
    assert config["Origins"][0]["OriginAccessControlId"]


def test_cdn_is_granted_only_the_public_keys(full: SynthesizedStack) -> None:
    bucket = logical_id(full, full.stack.storage.bucket)
    distribution = logical_id(full, full.stack.cdn.distribution)  # type: ignore[union-attr]
    policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in resources_of(full, "AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    grants = [
        statement
        for statements in policies
        for statement in statements
        if statement.get("Principal") == {"Service": "cloudfront.amazonaws.com"}
    ]
    (grant,) = grants  # and no grant of the whole bucket from the origin: its view is imported
    assert not Annotations.from_stack(full.stack).find_warning("*", Match.any_value())
    assert grant["Effect"] == "Allow" and grant["Action"] == "s3:GetObject"
    source = json.dumps(grant["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert distribution in source  # this distribution only
    # Each resource is `<bucket ARN>/<key>`: {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/<key>"]]}.
    keys = sorted(resource["Fn::Join"][1][1].removeprefix("/") for resource in grant["Resource"])
    assert keys == sorted(
        [
            *(feed.key for feed in SAMPLE.feeds.values()),
            "assets/cover.png",
            "assets/podcast/*",
            f"{SAMPLE.chapters_prefix}*",
        ]
    )
    # Nothing private is readable: no key or prefix granted reaches into posts, includes or the status page.
    for private in (SAMPLE.posts_prefix, SAMPLE.includes_prefix, constants.STATUS_PAGE_PREFIX):
        assert not [key for key in keys if key.startswith(private) or private.startswith(key.rstrip("*"))]


def test_a_public_prefix_that_would_serve_posts_is_refused() -> None:
    unsafe = replace(SAMPLE, audio_key_template="{slug}.mp3")
    with pytest.raises(ValueError, match="whole bucket"):
        public_keys(unsafe, audio_prefix(unsafe))
