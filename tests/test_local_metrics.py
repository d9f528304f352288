"""EMF documents in function output, summed per metric and dimensions as CloudWatch would."""

from __future__ import annotations

import json

import pytest
from aws_lambda_powertools import single_metric
from aws_lambda_powertools.metrics import MetricUnit

from podcast_pipeline_tools.local.metrics import aggregate_emf, feed_renders


def renders(category: str) -> None:
    with single_metric(
        name="FeedRenders",
        unit=MetricUnit.Count,
        value=1,
        namespace="NS",
        default_dimensions={"service": "feed"},
    ) as metric:
        metric.add_dimension(name="category", value=category)


def test_emf_documents_are_summed_per_name_and_dimensions(capsys: pytest.CaptureFixture[str]) -> None:
    for category in ("podcast", "podcast", "notes"):
        renders(category)
    two_sets = {
        "_aws": {
            "Timestamp": 0,
            "CloudWatchMetrics": [
                {
                    "Namespace": "NS",
                    "Dimensions": [["service"], []],
                    "Metrics": [{"Name": "Sent", "Unit": "Count"}],
                }
            ],
        },
        "service": "notify",
        "Sent": [2, 3],
    }
    lines = [
        *capsys.readouterr().out.splitlines(),
        '{"level":"INFO","message":"feed written","service":"feed"}',  # a log line, not a metric
        "not json {",
        json.dumps(two_sets),
    ]
    metrics = aggregate_emf(lines)
    assert [(m["name"], m["dimensions"], m["value"]) for m in metrics] == [
        ("FeedRenders", {"service": "feed", "category": "notes"}, 1),
        ("FeedRenders", {"service": "feed", "category": "podcast"}, 2),
        ("Sent", {}, 5),
        ("Sent", {"service": "notify"}, 5),
    ]
    assert feed_renders(metrics) == {"notes": 1, "podcast": 2}
