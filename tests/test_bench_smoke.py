"""The benchmark scripts' arithmetic: the cost model on fixed counts, and the `-X importtime` parser."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `bench/` is a top-level folder of the project, not an installed package
    sys.path.insert(0, str(ROOT))

from bench import cold_start, cost  # noqa: E402

MEASURED: dict[str, Any] = {
    "input": "fixed",
    "episodes": 100,  # scaled by 10 to 1,000
    "mp3_bytes": 750_000_000,
    "s3_get_bytes": 0,
    "functions": {
        "ingest": {"invocations": 20, "seconds": 10.0},
        "feed": {"invocations": 5, "seconds": 2.0},
    },
    "requests": {"s3.GetObject": 150, "s3.HeadObject": 50, "s3.PutObject": 10, "sns.Publish": 100},
    "event_source_mapping_sqs": {
        "sqs.ReceiveMessage": 30,
        "sqs.DeleteMessageBatch": 20,
        "sqs.ReceiveMessage (empty)": 7,
    },
    "event_source_mapping_messages": 250,
    "dynamodb_units": {"read": 400.0, "write": 1_000.0, "moto_reported": 1.0},
    "put_events_entries": 300,
    "harness_requests": {"s3.PutObject": 100, "s3.UploadPart": 60, "s3.ListObjectsV2": 5},
}
MEMORY = {"ingest": 1024, "feed": 2048}


def usd(lines: list[cost.Line], item: str) -> float:
    return next(line.usd for line in lines if line.item == item)


def test_cost_lines_scale_counts_to_1000_episodes_at_list_prices() -> None:
    lines = cost.cost_lines(MEASURED, MEMORY)
    assert usd(lines, "Lambda ingest requests") == pytest.approx(200 * 0.20 / 1e6)
    assert usd(lines, "Lambda ingest duration (1024 MB)") == pytest.approx(100 * 0.0000133334)
    assert usd(lines, "Lambda feed duration (2048 MB)") == pytest.approx(40 * 0.0000133334)
    assert usd(lines, "DynamoDB reads") == pytest.approx(4_000 * 0.125 / 1e6)
    assert usd(lines, "DynamoDB writes") == pytest.approx(10_000 * 0.625 / 1e6)
    assert usd(lines, "EventBridge PutEvents entries") == pytest.approx(3_000 / 1e6)
    # 250 deliveries + 30 receives + 20 deletes; the empty polls are not per episode
    assert usd(lines, "SQS: rule deliveries + receives and deletes") == pytest.approx(3_000 * 0.40 / 1e6)
    assert usd(lines, "S3 GET/HEAD by functions") == pytest.approx(2_000 * 0.0004 / 1_000)
    assert usd(lines, "S3 PUT/LIST by functions") == pytest.approx(100 * 0.005 / 1_000)
    assert usd(lines, "SNS e-mails (one subscriber)") == pytest.approx(1_000 * 2.00 / 100_000)
    assert cost.upload_line(MEASURED).quantity == 1_600  # PutObject and UploadPart, not the LIST


def test_whole_download_prices_the_extra_bytes_at_the_stated_throughput() -> None:
    comparison = cost.whole_download(MEASURED, MEMORY, mb_per_second=75)
    # 750 MB at 75 MB/s: 10 s more per 100 episodes, 100 s per 1,000, at 1 GB
    assert comparison["ingest_seconds_whole"] == pytest.approx(200.0)
    assert comparison["extra_usd"] == pytest.approx(100 * 0.0000133334)


def test_configured_memory_is_read_from_the_infra_constants() -> None:
    memory = cost.configured_memory()
    assert set(memory) == {"ingest", "feed", "notify"}
    assert all(mb >= 128 for mb in memory.values())


IMPORTTIME = """\
import time: self [us] | cumulative | imported package
import time:       100 |        100 | _io
import time:        50 |        150 | site
import time:        10 |         10 |     botocore.compat
import time:        20 |         30 |   botocore
import time:         5 |          5 |     wrapt.core
import time:         7 |         12 |   wrapt
import time:         3 |         45 | handler
"""


def test_importtime_parser_finds_the_import_and_what_it_adds_beyond_the_baseline() -> None:
    lines = cold_start.parse_importtime(IMPORTTIME)
    assert [(line.module, line.depth) for line in lines][:3] == [
        ("_io", 0),
        ("site", 0),
        ("botocore.compat", 2),
    ]
    tree = cold_start.subtree(lines, "handler")
    assert [line.module for line in tree] == ["botocore.compat", "botocore", "wrapt.core", "wrapt", "handler"]
    assert tree[-1].cumulative_us == 45
    added = cold_start.beyond(tree, baseline_modules={"botocore", "botocore.compat"})
    assert added == {"wrapt.core": (5, 5), "wrapt": (7, 12), "handler": (3, 15)}
    with pytest.raises(ValueError, match="not imported"):
        cold_start.subtree(lines, "boto3")
