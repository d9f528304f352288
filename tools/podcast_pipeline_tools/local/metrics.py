"""The metrics of a local run, from the CloudWatch embedded metric format (EMF) the functions print.

On AWS, CloudWatch Logs turns each EMF document in a function's output into metric values; here the
documents are read back from the run's function log and summed per namespace, name, unit and dimensions,
which is what a CloudWatch Sum over the run would show.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FEED_RENDERS = "FeedRenders"  # one per feed rebuild, with a `category` dimension

_Key = tuple[str, str, str, tuple[tuple[str, str], ...]]  # namespace, name, unit, dimensions


def aggregate_emf(lines: Iterable[str]) -> list[dict[str, Any]]:
    """Every metric of the EMF documents among `lines` (other output is skipped), summed, sorted."""
    totals: dict[_Key, float] = {}
    for line in lines:
        document = _emf_document(line)
        if document is None:
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            # Each dimension set makes a metric of its own; a directive without any has one, undimensioned.
            for dimension_set in directive.get("Dimensions") or [[]]:
                dimensions = tuple((name, str(document[name])) for name in dimension_set)
                for metric in directive["Metrics"]:
                    key = (directive["Namespace"], metric["Name"], metric.get("Unit", "None"), dimensions)
                    totals[key] = totals.get(key, 0) + _total(document[metric["Name"]])
    return [
        {"namespace": namespace, "name": name, "unit": unit, "dimensions": dict(dimensions), "value": value}
        for (namespace, name, unit, dimensions), value in sorted(totals.items())
    ]


def feed_renders(metrics: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Feed rebuilds per category, from the aggregated FeedRenders metric."""
    renders: dict[str, int] = {}
    for metric in metrics:
        category = metric["dimensions"].get("category")
        if metric["name"] == FEED_RENDERS and category is not None:
            renders[category] = renders.get(category, 0) + int(metric["value"])
    return dict(sorted(renders.items()))


def _emf_document(line: str) -> dict[str, Any] | None:
    if not line.startswith("{"):
        return None
    try:
        document = json.loads(line)
    except ValueError:
        return None
    if isinstance(document, dict) and isinstance(document.get("_aws"), dict):
        return document if "CloudWatchMetrics" in document["_aws"] else None
    return None


def _total(value: float | list[float]) -> float:
    """EMF gives one value, or a list of the values recorded in one invocation."""
    return sum(value) if isinstance(value, list) else value
