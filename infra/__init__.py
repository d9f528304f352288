"""The CDK app of podcast-pipeline: one stack composed of one construct per capability."""
