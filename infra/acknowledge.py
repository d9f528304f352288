"""cdk-nag acknowledgments that always say which resource they are about and why."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, why: str) -> None:
    """Accept `rule` (e.g. `AwsSolutions-S1`) on `construct` and its children, for the reason `why`."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=f"{construct.node.path}: {why}"))
