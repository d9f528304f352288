"""One synthesized CDK app per test session (a jsii synth takes seconds): shared by the infra tests.

The app holds two stacks: `default` as `cdk synth` builds it from cdk.json, and `full` with the optional
parts switched on (CDN, e-mail subscribers) so both shapes are checked, linted and nagged.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `infra/` is a top-level folder of the project, not an installed package
    sys.path.insert(0, str(ROOT))

from aws_cdk import App, PolicyValidationPluginReport  # noqa: E402
from aws_cdk.assertions import Template  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from infra import constants  # noqa: E402
from infra.stack import PodcastPipelineStack  # noqa: E402

# Outside the CLI's cdk.out/manifest.json, but inside cdk.out so staged layers survive between sessions;
# one per xdist worker, so two workers never bundle into the same folder.
TEST_ASSEMBLY = ROOT / "cdk.out" / f"test-assembly-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
EMAILS = ("producer@example.com", "ops@example.com")


@dataclass(frozen=True)
class SynthesizedStack:
    stack: PodcastPipelineStack
    template: Template
    template_json: dict[str, Any]
    template_file: Path
    nag_report: PolicyValidationPluginReport


@dataclass(frozen=True)
class Synthesized:
    default: SynthesizedStack
    full: SynthesizedStack


def cdk_json_context() -> dict[str, Any]:
    return dict(json.loads((ROOT / "cdk.json").read_text())["context"])


def _config_with_emails(directory: Path) -> Path:
    config = yaml.safe_load((ROOT / constants.DEFAULT_CONFIG).read_text())
    config["notifications"] = {"emails": list(EMAILS)}
    path = directory / "site-with-emails.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@functools.cache
def synthesized() -> Synthesized:
    TEST_ASSEMBLY.mkdir(parents=True, exist_ok=True)
    context = cdk_json_context()
    app = App(context=context, outdir=str(TEST_ASSEMBLY))
    default = PodcastPipelineStack(
        app,
        "PodcastPipeline-test",
        config_file=ROOT / context[constants.CONTEXT_CONFIG],
        stage="test",
        cdn=False,
    )
    full = PodcastPipelineStack(
        app,
        "PodcastPipeline-testfull",
        config_file=_config_with_emails(TEST_ASSEMBLY),
        stage="testfull",
        cdn=True,
    )
    assembly = app.synth()

    def result(stack: PodcastPipelineStack) -> SynthesizedStack:
        artifact = assembly.get_stack_by_name(stack.stack_name)
        return SynthesizedStack(
            stack=stack,
            template=Template.from_json(artifact.template),
            template_json=artifact.template,
            template_file=Path(artifact.template_full_path),
            nag_report=AwsSolutionsChecks().validate_scope(stack),
        )

    return Synthesized(default=result(default), full=result(full))
