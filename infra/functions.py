"""One queued function: SQS queue + dead-letter queue + Lambda + event source mapping, from a route."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants
from infra.acknowledge import SQS_MANAGED_ENCRYPTION, acknowledge, skip_checkov
from podcast_pipeline.routes import Route


class QueuedFunction(Construct):
    """A function fed by its own queue, so a bad record never blocks its neighbours and none is lost."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        route: Route,
        layers: Sequence[lambda_.ILayerVersion],
        environment: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.route = route
        timeout = Duration.seconds(route.timeout_seconds)

        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(constants.DEAD_LETTER_RETENTION_DAYS),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(constants.QUEUE_RETENTION_DAYS),
            visibility_timeout=Duration.seconds(route.visibility_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letter_queue, max_receive_count=route.max_receive_count
            ),
        )

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            retention=constants.LOG_RETENTION,
        )
        # Our own role instead of the AWS-managed basic execution policy: logs go to this group only.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"The {route.function} function",
        )
        self.log_group.grant_write(self.role)

        self.function = lambda_.Function(
            self,
            "Function",
            description=f"podcast-pipeline {route.function}",
            runtime=constants.LAMBDA_RUNTIME,
            architecture=constants.LAMBDA_ARCHITECTURE,
            handler=constants.HANDLER,
            code=lambda_.Code.from_asset(
                str(constants.FUNCTIONS_DIR / route.function), exclude=list(constants.FUNCTION_CODE_EXCLUDES)
            ),
            layers=list(layers),
            memory_size=route.memory_mb,
            timeout=timeout,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment={
                constants.ENV_CONFIG: constants.CONFIG_PATH_IN_LAMBDA,
                "POWERTOOLS_SERVICE_NAME": route.function,
                "POWERTOOLS_METRICS_NAMESPACE": constants.POWERTOOLS_METRICS_NAMESPACE,
                "LOG_LEVEL": constants.LOG_LEVEL,
                **environment,
            },
        )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5[Resource::*]",
            "tracing: X-Ray's PutTraceSegments and PutTelemetryRecords accept no resource but `*`.",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            f"Python {constants.LAMBDA_PYTHON_VERSION} on purpose: the dependencies layer is built for "
            "exactly this version, and they move together.",
        )
        for queue in (self.queue, self.dead_letter_queue):
            skip_checkov(queue, "CKV_AWS_27", SQS_MANAGED_ENCRYPTION)
        skip_checkov(
            self.log_group,
            "CKV_AWS_158",
            "CloudWatch Logs encrypts every log group at rest; the functions log no secrets (the Slack URL "
            "is redacted, tested), so a customer-managed key would add a key policy and cost, no protection.",
        )
        for check, why in (
            (
                "CKV_AWS_116",
                "invoked only by its SQS event source, whose queue has a redrive policy to a dead-letter "
                "queue; a function DLQ serves asynchronous invocations, which it never gets.",
            ),
            (
                "CKV_AWS_117",
                "calls AWS APIs (TLS, IAM-authenticated) and, for notify, Slack and WebSub hubs on the "
                "internet; no private resource to reach, and a VPC would add a NAT gateway for nothing.",
            ),
            (
                "CKV_AWS_115",
                "its SQS event source bounds the scaling (MaximumConcurrency where one run at a time "
                "matters); reserved concurrency would take from the account pool, and Lambda refuses any "
                "on an account whose limit leaves fewer than 100 unreserved.",
            ),
            (
                "CKV_AWS_173",
                "the environment holds resource names and ARNs only, encrypted at rest by Lambda; the Slack "
                "webhook URL is read from Secrets Manager, never passed in the environment.",
            ),
        ):
            skip_checkov(self.function, check, why)

        self.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=route.batch_size,
                max_batching_window=(
                    Duration.seconds(route.batching_window_seconds) if route.batching_window_seconds else None
                ),
                max_concurrency=route.max_concurrency,
                report_batch_item_failures=True,
            )
        )
