"""Exceptions to the infrastructure checks, in one place: cdk-nag acknowledgments and checkov skips.

Each one says which resource it is about and why the check does not apply there.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnResource, Validations
from constructs import IConstruct

CHECKOV_METADATA = "checkov"

# checkov's CKV_AWS_27 recognises only KMS (`KmsMasterKeyId`) as queue encryption.
SQS_MANAGED_ENCRYPTION = (
    "encrypted at rest with SSE-SQS (SqsManagedSseEnabled), which this check does not recognise; "
    "EventBridge cannot deliver to a queue under the AWS-managed aws/sqs key, and a customer-managed key "
    "would add a key policy and cost for messages that only name S3 objects and episodes."
)


def acknowledge(construct: IConstruct, rule: str, why: str) -> None:
    """Accept `rule` (e.g. `AwsSolutions-S1`) on `construct` and its children, for the reason `why`."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=f"{construct.node.path}: {why}"))


def skip_checkov(construct: IConstruct, check: str, why: str) -> None:
    """Skip checkov's `check` (e.g. `CKV_AWS_117`) on the CloudFormation resource of `construct`.

    checkov reads `Metadata.checkov.skip` of each resource; the reason travels with the template.
    """
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} is not a CloudFormation resource")
    metadata: dict[str, list[dict[str, Any]]] = resource.get_metadata(CHECKOV_METADATA) or {"skip": []}
    metadata["skip"].append({"id": check, "comment": why})
    resource.add_metadata(CHECKOV_METADATA, metadata)
