"""Dollars per 1,000 episodes at AWS list prices, from the counts bench/pipeline.py measured.

    python -m bench.cost [--pipeline bench/results/pipeline.json] [--mb-per-second 75]

Every figure is scaled from the measured run to 1,000 episodes. Lambda duration is the handlers' time as
the local run measured it (on this machine, with the emulation in the same process) at each function's
configured memory (infra/constants.py). Not counted: the free tiers, Lambda's per-invocation rounding up
to the millisecond and init phases, CloudWatch logs and metrics, X-Ray traces, storage, and the event
source mapping's long polls of an idle queue (a fixed cost per queue, not per episode).

The comparison is a design that downloads the whole MP3 to measure it: the same run, but the ingest
function reads every MP3 in full, at --mb-per-second from S3 (in-region transfer is free; the time is not).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import report
from podcast_pipeline.routes import ROUTES

ROOT = Path(__file__).resolve().parent.parent
PIPELINE = ROOT / "bench" / "results" / "pipeline.json"
RESULTS = ROOT / "bench" / "results" / "cost.json"
EPISODES = 1_000
MB = 1_000_000
# One S3 GET stream into a 1 GB function in the same region: tens of MB/s; 75 is a middle figure.
DEFAULT_MB_PER_SECOND = 75.0

PRICES_AS_OF = "2025 (us-east-1 list prices; first tier, free tiers ignored)"


@dataclass(frozen=True)
class Price:
    usd: float
    per: int  # units the price is for
    unit: str


PRICES: dict[str, Price] = {
    "lambda_gb_second": Price(0.0000133334, 1, "GB-second, arm64"),
    "lambda_request": Price(0.20, 1_000_000, "Lambda requests"),
    "dynamodb_rru": Price(0.125, 1_000_000, "DynamoDB on-demand read request units"),
    "dynamodb_wru": Price(0.625, 1_000_000, "DynamoDB on-demand write request units"),
    "eventbridge_event": Price(1.00, 1_000_000, "EventBridge custom events (PutEvents entries, 64 KB each)"),
    "sqs_request": Price(0.40, 1_000_000, "SQS standard requests (64 KB each)"),
    "s3_get": Price(0.0004, 1_000, "S3 Standard GET and other reads"),
    "s3_put": Price(0.005, 1_000, "S3 Standard PUT, COPY, POST, LIST"),
    "s3_transfer_in_region": Price(0.0, 1, "S3 to Lambda data transfer in the same region (GB)"),
    "sns_publish": Price(0.50, 1_000_000, "SNS publishes"),
    "sns_email": Price(2.00, 100_000, "SNS e-mail deliveries"),
}
S3_READS = ("GetObject", "HeadObject")
S3_WRITES = ("PutObject", "CopyObject", "ListObjects", "ListObjectsV2", "ListObjectVersions")
S3_UPLOADS = ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")


@dataclass(frozen=True)
class Line:
    item: str
    quantity: float  # per 1,000 episodes, in the price's units
    price: str  # a PRICES key
    usd: float

    @classmethod
    def of(cls, item: str, quantity: float, price: str) -> Line:
        p = PRICES[price]
        return cls(item, quantity, price, quantity * p.usd / p.per)


def _requests(counts: Mapping[str, int], service: str, operations: Sequence[str]) -> int:
    return sum(counts.get(f"{service}.{op}", 0) for op in operations)


def lambda_lines(measured: Mapping[str, Any], memory_mb: Mapping[str, int], scale: float) -> list[Line]:
    lines = []
    for name, figures in measured["functions"].items():
        lines.append(Line.of(f"Lambda {name} requests", figures["invocations"] * scale, "lambda_request"))
        gb_seconds = figures["seconds"] * memory_mb[name] / 1024
        lines.append(
            Line.of(f"Lambda {name} duration ({memory_mb[name]} MB)", gb_seconds * scale, "lambda_gb_second")
        )
    return lines


def cost_lines(measured: Mapping[str, Any], memory_mb: Mapping[str, int]) -> list[Line]:
    """The pipeline's bill per 1,000 episodes, line by line (the publisher's uploads last)."""
    scale = EPISODES / measured["episodes"]
    requests, esm = measured["requests"], measured["event_source_mapping_sqs"]
    units = measured["dynamodb_units"]
    # Each message a function receives was sent to its queue once by EventBridge.
    esm_requests = sum(n for op, n in esm.items() if not op.endswith("(empty)"))
    return [
        *lambda_lines(measured, memory_mb, scale),
        Line.of("DynamoDB reads", units["read"] * scale, "dynamodb_rru"),
        Line.of("DynamoDB writes", units["write"] * scale, "dynamodb_wru"),
        Line.of("EventBridge PutEvents entries", measured["put_events_entries"] * scale, "eventbridge_event"),
        Line.of(
            "SQS: rule deliveries + receives and deletes",
            (measured["event_source_mapping_messages"] + esm_requests) * scale,
            "sqs_request",
        ),
        Line.of("S3 GET/HEAD by functions", _requests(requests, "s3", S3_READS) * scale, "s3_get"),
        Line.of("S3 PUT/LIST by functions", _requests(requests, "s3", S3_WRITES) * scale, "s3_put"),
        Line.of("S3 bytes read (GB)", measured["s3_get_bytes"] / 1e9 * scale, "s3_transfer_in_region"),
        Line.of("SNS publishes", requests.get("sns.Publish", 0) * scale, "sns_publish"),
        Line.of("SNS e-mails (one subscriber)", requests.get("sns.Publish", 0) * scale, "sns_email"),
    ]


def upload_line(measured: Mapping[str, Any]) -> Line:
    """The publisher's own uploads (posts and MP3s, multipart above 8 MB): not the pipeline's doing."""
    scale = EPISODES / measured["episodes"]
    return Line.of(
        "S3 uploads by the publisher",
        _requests(measured["harness_requests"], "s3", S3_UPLOADS) * scale,
        "s3_put",
    )


def whole_download(
    measured: Mapping[str, Any], memory_mb: Mapping[str, int], mb_per_second: float
) -> dict[str, Any]:
    """The same run with every MP3 read in full: extra ingest time, and its price, per 1,000 episodes."""
    scale = EPISODES / measured["episodes"]
    extra_bytes = max(0, measured["mp3_bytes"] - measured["s3_get_bytes"])
    extra_seconds = extra_bytes / (mb_per_second * MB)
    extra = Line.of(
        "Lambda ingest duration, whole downloads",
        extra_seconds * memory_mb["ingest"] / 1024 * scale,
        "lambda_gb_second",
    )
    ingest_seconds = measured["functions"]["ingest"]["seconds"]
    return {
        "mb_per_second": mb_per_second,
        "bytes_read_ours": round(measured["s3_get_bytes"] * scale),
        "bytes_read_whole": round(measured["mp3_bytes"] * scale),
        "ingest_seconds_ours": round(ingest_seconds * scale, 1),
        "ingest_seconds_whole": round((ingest_seconds + extra_seconds) * scale, 1),
        "extra_usd": extra.usd,
    }


def configured_memory() -> dict[str, int]:
    """Each function's memory size, as the stack configures it."""
    return {route.function: route.memory_mb for route in ROUTES}


def estimate(
    measured: Mapping[str, Any], memory_mb: Mapping[str, int], mb_per_second: float
) -> dict[str, Any]:
    lines = cost_lines(measured, memory_mb)
    total = sum(line.usd for line in lines)
    comparison = whole_download(measured, memory_mb, mb_per_second)
    return {
        "benchmark": "cost",
        "episodes": EPISODES,
        "measured_episodes": measured["episodes"],
        "input": measured["input"],
        "prices_as_of": PRICES_AS_OF,
        "prices": {key: asdict(price) for key, price in PRICES.items()},
        "memory_mb": dict(memory_mb),
        "lines": [asdict(line) for line in lines],
        "total_usd": total,
        "uploads": asdict(upload_line(measured)),
        "whole_download": {**comparison, "total_usd": total + comparison["extra_usd"]},
    }


def show(result: Mapping[str, Any]) -> None:
    print(
        f"Cost per {result['episodes']:,} episodes (scaled from {result['measured_episodes']} measured, "
        f"{result['input']}); prices: {result['prices_as_of']}"
    )
    print(f"{'item':<46} {'quantity':>14} {'unit':<58} {'USD':>10}")
    for line in [*result["lines"], result["uploads"]]:
        unit = result["prices"][line["price"]]["unit"]
        print(f"{line['item']:<46} {line['quantity']:>14,.2f} {unit:<58} {line['usd']:>10.4f}")
    print(f"{'pipeline total (uploads excluded)':<120} {result['total_usd']:>10.4f}")
    whole = result["whole_download"]
    print(
        f"\nWhole-MP3 download design at {whole['mb_per_second']:g} MB/s: reads "
        f"{whole['bytes_read_whole'] / 1e9:,.2f} GB instead of {whole['bytes_read_ours'] / 1e6:,.2f} MB; "
        f"ingest {whole['ingest_seconds_whole']:,.0f} s instead of {whole['ingest_seconds_ours']:,.0f} s; "
        f"total ${whole['total_usd']:.4f} instead of ${result['total_usd']:.4f} "
        f"({whole['total_usd'] / result['total_usd']:.1f}x)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", type=Path, default=PIPELINE, help="bench/pipeline.py's JSON")
    parser.add_argument("--mb-per-second", type=float, default=DEFAULT_MB_PER_SECOND)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    measured = json.loads(args.pipeline.read_text())
    return report(estimate(measured, configured_memory(), args.mb_per_second), show, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
