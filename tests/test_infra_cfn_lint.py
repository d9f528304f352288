"""cfn-lint over every synthesized template: no errors, and no warnings beyond CDK's own pattern."""

from __future__ import annotations

import pytest
from cfnlint.api import ManualArgs, lint_file  # type: ignore[import-untyped]
from infra_fixtures import synthesized

pytestmark = pytest.mark.xdist_group("cdk")

# CDK adds `DependsOn` on a function's role although `Fn::GetAtt` on it already orders them.
TOLERATED_WARNINGS = {"W3005"}


@pytest.mark.parametrize("name", ["default", "full"])
def test_template_lints_clean(name: str) -> None:
    template = getattr(synthesized(), name).template_file
    matches = lint_file(template, ManualArgs(regions=["us-east-1", "eu-west-1"]))
    problems = [
        f"{m.rule.id} {m.message} (line {m.linenumber})"
        for m in matches
        if m.rule.id.startswith("E") or (m.rule.id.startswith("W") and m.rule.id not in TOLERATED_WARNINGS)
    ]
    assert problems == []
