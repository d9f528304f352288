"""Observability: alarms on dead letters, function errors, waiting messages, failed episodes and failed
notifications, and one dashboard."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants
from infra.functions import QueuedFunction
from podcast_pipeline.routes import INGEST, NOTIFY


class Observability(Construct):
    """An alarm topic for the operators (the config's e-mail addresses) and what feeds it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Sequence[QueuedFunction],
        undelivered: sqs.IQueue,
        emails: Sequence[str],
        topic_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self._period = Duration.minutes(constants.ALARM_PERIOD_MINUTES)
        topic_key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        self.topic = sns.Topic(
            self, "Alarms", display_name="Podcast pipeline alarms", master_key=topic_key, enforce_ssl=True
        )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self._action = actions.SnsAction(self.topic)

        self.alarms: list[cloudwatch.Alarm] = [
            self._alarm(
                "UndeliveredEvents",
                "Events EventBridge could not deliver to a queue",
                undelivered.metric_approximate_number_of_messages_visible(
                    period=self._period, statistic=cloudwatch.Stats.MAXIMUM
                ),
                constants.DEAD_LETTER_DEPTH_THRESHOLD,
            )
        ]
        dashboard = cloudwatch.Dashboard(self, "Dashboard", period_override=cloudwatch.PeriodOverride.AUTO)
        for queued in functions:
            self.alarms += self._function_alarms(queued)
            dashboard.add_widgets(*self._function_widgets(queued))
        self.alarms += self._outcome_alarms()
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24))

    def _alarm(
        self, name: str, description: str, metric: cloudwatch.IMetric, threshold: float
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            name,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        alarm.add_ok_action(self._action)
        return alarm

    def _function_alarms(self, queued: QueuedFunction) -> list[cloudwatch.Alarm]:
        name = queued.route.function.title()
        return [
            self._alarm(
                f"{name}DeadLetters",
                f"Messages the {queued.route.function} function gave up on",
                queued.dead_letter_queue.metric_approximate_number_of_messages_visible(
                    period=self._period, statistic=cloudwatch.Stats.MAXIMUM
                ),
                constants.DEAD_LETTER_DEPTH_THRESHOLD,
            ),
            self._alarm(
                f"{name}Errors",
                f"Invocations of the {queued.route.function} function that failed as a whole",
                queued.function.metric_errors(period=self._period, statistic=cloudwatch.Stats.SUM),
                constants.FUNCTION_ERRORS_THRESHOLD,
            ),
            self._alarm(
                f"{name}OldestMessage",
                f"The {queued.route.function} queue is not keeping up",
                queued.queue.metric_approximate_age_of_oldest_message(
                    period=self._period, statistic=cloudwatch.Stats.MAXIMUM
                ),
                constants.OLDEST_MESSAGE_AGE_THRESHOLD_SECONDS,
            ),
        ]

    def _outcome_alarms(self) -> list[cloudwatch.Alarm]:
        """What went wrong although every record was handled: a person fixes a post, or a channel."""
        return [
            self._alarm(
                "EpisodesFailed",
                "Episodes that failed verification: fix the post (the notification says how)",
                # functions/ingest/handler.py: `Episodes` + the state title-cased, service=ingest.
                self._handler_metric("EpisodesFailed", INGEST.function),
                constants.EPISODES_FAILED_THRESHOLD,
            ),
            self._alarm(
                "NotificationFailures",
                "Slack messages, e-mails or WebSub pings that could not be sent (see the notify log)",
                self._handler_metric("NotificationFailures", NOTIFY.function),
                constants.NOTIFICATION_FAILURES_THRESHOLD,
            ),
        ]

    def _handler_metric(self, name: str, service: str) -> cloudwatch.Metric:
        # Powertools' EMF: the Metrics namespace, and its `service` as the one default dimension.
        return cloudwatch.Metric(
            namespace=constants.POWERTOOLS_METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map={"service": service},
            period=self._period,
            statistic=cloudwatch.Stats.SUM,
        )

    def _function_widgets(self, queued: QueuedFunction) -> list[cloudwatch.IWidget]:
        function, queue, name = queued.function, queued.queue, queued.route.function
        return [
            cloudwatch.GraphWidget(
                title=f"{name}: invocations",
                left=[function.metric_invocations(), function.metric_errors(), function.metric_throttles()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title=f"{name}: duration",
                left=[function.metric_duration(statistic=cloudwatch.Stats.p(95))],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title=f"{name}: queue",
                left=[
                    queue.metric_approximate_number_of_messages_visible(),
                    queued.dead_letter_queue.metric_approximate_number_of_messages_visible(
                        label="dead letters"
                    ),
                ],
                right=[queue.metric_approximate_age_of_oldest_message()],
                width=8,
            ),
        ]
