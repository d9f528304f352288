"""Every name, size, timeout, retention and alarm threshold of the stack, in one place."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from podcast_pipeline import settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# CDK context keys (`cdk synth -c config=... -c stage=... -c cdn=true`) and their defaults.
CONTEXT_CONFIG = "config"
CONTEXT_STAGE = "stage"
CONTEXT_CDN = "cdn"
DEFAULT_CONFIG = "tools/podcast_pipeline_tools/sample/site.yaml"
DEFAULT_STAGE = "dev"

STACK_NAME = "PodcastPipeline-{stage}"
# Named (not generated) because other teams' rules refer to it.
EVENT_BUS_NAME = "podcast-pipeline-{stage}"
SCHEMA_REGISTRY_NAME = "podcast-pipeline-{stage}"
SCHEMAS_DIR = PROJECT_ROOT / "events" / "schemas"
ARCHIVE_RETENTION_DAYS = 90  # how far back a replay can reach

# Lambda
FUNCTIONS_DIR = PROJECT_ROOT / "functions"
LAYERS_DIR = PROJECT_ROOT / "layers"
SHARED_PACKAGE = "podcast_pipeline"
HANDLER = "handler.handler"
FUNCTION_CODE_EXCLUDES = ("__pycache__", "*.pyc")
LAMBDA_RUNTIME = lambda_.Runtime.PYTHON_3_13
LAMBDA_ARCHITECTURE = lambda_.Architecture.ARM_64
LAMBDA_PYTHON_VERSION = LAMBDA_RUNTIME.name.removeprefix("python")
# The python3.13 runtime is Amazon Linux 2023 (glibc 2.34): any wheel up to manylinux_2_34 runs there.
LAMBDA_PLATFORM = "aarch64-manylinux_2_34"
# Where the shared-code layer puts the site config (layers are unpacked under /opt).
CONFIG_IN_LAYER = "podcast-pipeline/site.yaml"
CONFIG_PATH_IN_LAMBDA = f"/opt/{CONFIG_IN_LAYER}"
POWERTOOLS_METRICS_NAMESPACE = settings.METRIC_NAMESPACE
LOG_LEVEL = "INFO"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


# SQS (each queue's visibility timeout and the functions' sizes are in podcast_pipeline.routes)
QUEUE_RETENTION_DAYS = 4
DEAD_LETTER_RETENTION_DAYS = 14  # the SQS maximum: time to look, fix and redrive

# EventBridge -> SQS delivery: retried for a day, then kept in the delivery dead-letter queue.
RULE_TARGET_RETRY_ATTEMPTS = 185
RULE_TARGET_MAX_EVENT_AGE_HOURS = 24

# S3
# The status page's private prefix in the content bucket: never readable through the CDN.
STATUS_PAGE_PREFIX = "status/"
NONCURRENT_VERSION_EXPIRY_DAYS = 90  # earlier versions of posts and MP3s stay restorable this long
ACCESS_LOG_RETENTION_DAYS = 365
ACCESS_LOG_PREFIX = "content-bucket/"
CDN_LOG_PREFIX = "cdn/"

# The partition key of the notify function's idempotency records.
NOTIFY_IDEMPOTENCY_PARTITION = settings.NOTIFY_IDEMPOTENCY_PARTITION

# Secrets Manager: stored until the operator puts the real Slack incoming-webhook URL in.
SLACK_WEBHOOK_PLACEHOLDER = "not-configured"

# Alarms
ALARM_PERIOD_MINUTES = 5
DEAD_LETTER_DEPTH_THRESHOLD = 1  # any message in a dead-letter queue needs a person
FUNCTION_ERRORS_THRESHOLD = 1  # an invocation error (not a reported record failure)
OLDEST_MESSAGE_AGE_THRESHOLD_SECONDS = 15 * 60  # a producer hears about a failure within minutes
EPISODES_FAILED_THRESHOLD = 1  # an episode that fails verification: its post needs fixing
NOTIFICATION_FAILURES_THRESHOLD = 1  # a message that did not go out (Slack, e-mail, WebSub)

# Function environment: the names the handlers read (podcast_pipeline.settings.Settings).
ENV_BUCKET_NAME = settings.ENV_BUCKET_NAME
ENV_TABLE_NAME = settings.ENV_TABLE_NAME
ENV_EVENT_BUS_NAME = settings.ENV_EVENT_BUS_NAME
ENV_SLACK_WEBHOOK_ARN = settings.ENV_SLACK_WEBHOOK_SECRET_ARN
ENV_NOTIFY_TOPIC_ARN = settings.ENV_NOTIFY_TOPIC_ARN
ENV_CONFIG = settings.ENV_CONFIG
