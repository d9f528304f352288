"""The names the functions and the stack share, and the settings a function reads from its environment.

The stack (infra/) sets each function's environment from these names and the handlers read it through
`Settings.from_environ()`, once, when they first build their adapters. Standard library only: the
handlers import this module at cold start.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# CloudWatch namespace of every metric the functions emit (and the alarms watch).
METRIC_NAMESPACE = "PodcastPipeline"
# The partition key of the notify function's idempotency records in the pipeline table.
NOTIFY_IDEMPOTENCY_PARTITION = "idempotency#notify"

# The function environment: the variables the stack sets and Settings reads.
ENV_TABLE_NAME = "TABLE_NAME"
ENV_BUCKET_NAME = "BUCKET_NAME"
ENV_EVENT_BUS_NAME = "EVENT_BUS_NAME"
ENV_NOTIFY_TOPIC_ARN = "NOTIFY_TOPIC_ARN"
ENV_SLACK_WEBHOOK_SECRET_ARN = "SLACK_WEBHOOK_SECRET_ARN"  # noqa: S105 -- a variable name, not a secret
ENV_CONFIG = "PODCAST_PIPELINE_CONFIG"
# Set by the local runner only (never by the stack): the Slack webhook URL itself, in place of the secret.
ENV_SLACK_WEBHOOK_URL = "SLACK_WEBHOOK_URL"
# Set by Lambda in every function: how a module knows it runs deployed.
ENV_LAMBDA_TASK_ROOT = "LAMBDA_TASK_ROOT"

REQUIRED_ENV = (ENV_TABLE_NAME, ENV_BUCKET_NAME, ENV_EVENT_BUS_NAME, ENV_CONFIG)
OPTIONAL_ENV = (ENV_NOTIFY_TOPIC_ARN, ENV_SLACK_WEBHOOK_SECRET_ARN)


class SettingsError(RuntimeError):
    """A variable the function needs is not set in its environment."""


@dataclass(frozen=True)
class Settings:
    """What a deployed function is told by its environment: where its resources are."""

    table_name: str
    bucket_name: str
    event_bus_name: str
    config_path: str
    notify_topic_arn: str | None = None
    slack_webhook_secret_arn: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from `environ` (os.environ by default); SettingsError naming every required
        variable that is unset or empty. Optional variables left empty are None."""
        env = os.environ if environ is None else environ
        missing = [name for name in REQUIRED_ENV if not env.get(name)]
        if missing:
            raise SettingsError(f"{', '.join(missing)} not set: the function's environment must name it")
        return cls(
            table_name=env[ENV_TABLE_NAME],
            bucket_name=env[ENV_BUCKET_NAME],
            event_bus_name=env[ENV_EVENT_BUS_NAME],
            config_path=env[ENV_CONFIG],
            notify_topic_arn=env.get(ENV_NOTIFY_TOPIC_ARN) or None,
            slack_webhook_secret_arn=env.get(ENV_SLACK_WEBHOOK_SECRET_ARN) or None,
        )
