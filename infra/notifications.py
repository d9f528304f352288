"""Notifications: the e-mail topic (subscribers from the site config) and the Slack webhook secret."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import SecretValue, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra import constants
from infra.acknowledge import acknowledge


class Notifications(Construct):
    """Where the notify function sends what people read."""

    def __init__(self, scope: Construct, construct_id: str, *, emails: Sequence[str]) -> None:
        super().__init__(scope, construct_id)
        # A customer-managed key, because CloudWatch alarms cannot publish to a topic encrypted with
        # the AWS-managed SNS key; the alarm topic shares it.
        self.topic_key = kms.Key(
            self, "TopicKey", enable_key_rotation=True, description="podcast-pipeline SNS topics"
        )
        self.topic = sns.Topic(
            self, "Email", display_name="Podcast pipeline", master_key=self.topic_key, enforce_ssl=True
        )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

        # The webhook URL is a bearer credential: its own key, so reading it takes kms:Decrypt on this key
        # as well as the secret's IAM grant, and every decrypt is logged against it.
        self.slack_webhook_key = kms.Key(
            self, "SlackWebhookKey", enable_key_rotation=True, description="podcast-pipeline Slack webhook"
        )
        # The operator puts the URL in (`aws secretsmanager put-secret-value`); until then notify sees
        # the placeholder and skips Slack.
        self.slack_webhook = secretsmanager.Secret(
            self,
            "SlackWebhook",
            description="Slack incoming-webhook URL of podcast-pipeline notifications",
            encryption_key=self.slack_webhook_key,
            secret_string_value=SecretValue.unsafe_plain_text(constants.SLACK_WEBHOOK_PLACEHOLDER),
        )
        acknowledge(
            self.slack_webhook,
            "AwsSolutions-SMG4",
            "holds a webhook URL that Slack issues: no rotation Lambda can make one, people replace it.",
        )

    def grant_publish(self, grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["sns:Publish"], resource_arns=[self.topic.topic_arn]
        )
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resource_arns=[self.topic_key.key_arn],
        )

    def grant_read_slack_webhook(self, grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["secretsmanager:GetSecretValue"],
            resource_arns=[self.slack_webhook.secret_arn],
        )
        # Only through Secrets Manager: the key decrypts this secret for the role, nothing else.
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["kms:Decrypt"],
            resource_arns=[self.slack_webhook_key.key_arn],
            conditions={
                "StringEquals": {
                    "kms:ViaService": f"secretsmanager.{Stack.of(self).region}.amazonaws.com",
                    "kms:EncryptionContext:SecretARN": self.slack_webhook.secret_arn,
                }
            },
        )
