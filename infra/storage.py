"""Storage: the content bucket (posts, MP3s, feeds), its access-log bucket and the episode table."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra import constants
from infra.acknowledge import acknowledge, skip_checkov
from podcast_pipeline import table

TABLE_READ_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:ConditionCheckItem",
)
TABLE_WRITE_ACTIONS = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
)


class Storage(Construct):
    """The bucket laid out like the Jekyll site, and the single episode table."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            # Log delivery (S3 server access logs, CloudFront standard logs) supports SSE-S3 only.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            # CloudFront standard logging writes through ACLs.
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            # A deleted or overwritten log stays recoverable: the audit trail outlives a careless cleanup.
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(constants.ACCESS_LOG_RETENTION_DAYS),
                    noncurrent_version_expiration=Duration.days(constants.NONCURRENT_VERSION_EXPIRY_DAYS),
                )
            ],
        )
        access_logs_itself = "the access-log destination itself; logging it would loop."
        acknowledge(self.access_logs, "AwsSolutions-S1", access_logs_itself)
        skip_checkov(self.access_logs, "CKV_AWS_18", access_logs_itself)

        self.bucket = s3.Bucket(
            self,
            "Content",
            versioned=True,  # an episode is built from object versions; a bad upload can be rolled back
            # SSE-S3, not KMS: podcast apps fetch MP3s in many ranged GETs (through CloudFront when
            # enabled); with KMS every one is a billed KMS request and OAC needs a key policy.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=constants.ACCESS_LOG_PREFIX,
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(constants.NONCURRENT_VERSION_EXPIRY_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )

        # EventBridge notifications set on the bucket resource itself: CDK's `event_bridge_enabled` would
        # add a custom-resource Lambda to do what CloudFormation does natively.
        content = self.bucket.node.default_child
        assert isinstance(content, s3.CfnBucket)
        content.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(
                event_bridge_enabled=True
            )
        )

        self.table = dynamodb.Table(
            self,
            "Episodes",
            partition_key=dynamodb.Attribute(name=table.PARTITION_KEY, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=table.SORT_KEY, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=table.TTL_ATTRIBUTE,
        )
        skip_checkov(
            self.table,
            "CKV_AWS_119",
            "encrypted at rest with the AWS-managed KMS key; the items (episode facts the public feed "
            "shows, leases, idempotency records) hold nothing secret and IAM grants scoped by partition key "
            "decide who reads them: a customer-managed key would add a key policy and cost, no protection.",
        )

    # Grants spell out actions and resources (no `s3:GetObject*`, no `index/*`): each function gets
    # exactly what its code calls.

    def grant_read_objects(self, grantee: iam.IGrantable, *prefixes: str) -> None:
        """Read (any version of) objects under `prefixes`, and list the bucket.

        `s3:ListBucket` turns a missing key into 404 instead of 403, which the handlers rely on.
        """
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject", "s3:GetObjectVersion"],
            resource_arns=[self.bucket.arn_for_objects(f"{prefix}*") for prefix in prefixes],
        )
        self._grant_list_bucket(grantee)

    def grant_write_objects(self, grantee: iam.IGrantable, *keys: str) -> None:
        """Read and overwrite exactly these keys, and list the bucket (a key not written yet reads as 404)."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["s3:GetObject", "s3:PutObject"],
            resource_arns=[self.bucket.arn_for_objects(key) for key in keys],
        )
        self._grant_list_bucket(grantee)

    def grant_read_keys(self, grantee: iam.IGrantable, *keys: str) -> None:
        """Read exactly these keys."""
        if keys:
            iam.Grant.add_to_principal(
                grantee=grantee,
                actions=["s3:GetObject"],
                resource_arns=[self.bucket.arn_for_objects(key) for key in keys],
            )

    def _grant_list_bucket(self, grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["s3:ListBucket"], resource_arns=[self.bucket.bucket_arn]
        )

    def grant_read_table(self, grantee: iam.IGrantable, *partition_key_prefixes: str) -> None:
        """Read items; with `partition_key_prefixes`, only items whose partition key starts with one."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(TABLE_READ_ACTIONS),
            resource_arns=[self.table.table_arn],
            conditions=_leading_keys(*partition_key_prefixes),
        )

    def grant_write_table(self, grantee: iam.IGrantable, *, partition_key_prefix: str | None = None) -> None:
        """Write items; with `partition_key_prefix`, only items whose partition key starts with it."""
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(TABLE_WRITE_ACTIONS),
            resource_arns=[self.table.table_arn],
            conditions=_leading_keys(*([partition_key_prefix] if partition_key_prefix else [])),
        )


def _leading_keys(*partition_key_prefixes: str) -> dict[str, dict[str, list[str]]] | None:
    if not partition_key_prefixes:
        return None
    return {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{p}*" for p in partition_key_prefixes]}}
