"""`cdk synth` / `cdk deploy` entry point (see cdk.json): context `config`, `stage` and `cdn`."""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks

from infra import constants
from infra.stack import PodcastPipelineStack


def main() -> None:
    app = App()
    stage = str(app.node.try_get_context(constants.CONTEXT_STAGE) or constants.DEFAULT_STAGE)
    config = str(app.node.try_get_context(constants.CONTEXT_CONFIG) or constants.DEFAULT_CONFIG)
    # `-c cdn=true` arrives as a string, cdk.json may hold a boolean.
    cdn = str(app.node.try_get_context(constants.CONTEXT_CDN)).lower() == "true"
    PodcastPipelineStack(
        app,
        constants.STACK_NAME.format(stage=stage),
        config_file=constants.PROJECT_ROOT / config,
        stage=stage,
        cdn=cdn,
        description="podcast-pipeline: verified podcast episodes from S3 uploads, feeds and notifications",
    )
    # Any unacknowledged AwsSolutions finding fails the synth.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()


if __name__ == "__main__":
    main()
