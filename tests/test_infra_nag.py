"""cdk-nag's AwsSolutions pack over both synthesized stacks: nothing unacknowledged, every reason named."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from infra_fixtures import SynthesizedStack, synthesized

pytestmark = pytest.mark.xdist_group("cdk")

ACKNOWLEDGED = "aws:cdk:acknowledged-rules"


def _stacks() -> list[SynthesizedStack]:
    return [synthesized().default, synthesized().full]


def test_the_checks_do_find_problems() -> None:
    """A bucket without logging or TLS enforcement is reported, so a clean report means something."""
    stack = Stack(App(), "Canary")
    s3.Bucket(stack, "Careless")
    report = AwsSolutionsChecks().validate_scope(stack)
    assert {"AwsSolutions-S1", "AwsSolutions-S10"} <= {v.rule_name for v in report.violations}


@pytest.mark.parametrize("name", ["default", "full"])
def test_no_unacknowledged_findings(name: str) -> None:
    report = getattr(synthesized(), name).nag_report
    findings = [
        (v.rule_name, v.severity, [r.construct_path for r in v.violating_resources], v.description)
        for v in report.violations
    ]
    assert findings == []
    assert report.success


def test_every_acknowledgment_names_its_resource_and_says_why() -> None:
    acknowledgments = {
        (construct.node.path, rule): reason
        for synth in _stacks()
        for construct in synth.stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == ACKNOWLEDGED
        for rule, reason in entry.data.items()
    }
    assert acknowledgments
    for (path, rule), reason in acknowledgments.items():
        assert rule.startswith("Annotation::AwsSolutions-"), rule
        assert reason.startswith(f"{path}: "), (path, rule, reason)
        assert len(reason.removeprefix(f"{path}: ")) > 30, (path, rule, reason)
