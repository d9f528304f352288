"""A bulk upload (the whole show at once, as `aws s3 sync` does) driven serially and as Lambda does.

    python -m bench.bulk_upload [--limit N] [--out bench/results]

Both runs take the same input (the corpus with generated MP3s when it is beside the repo, else the sample
show). The serial run is the baseline: one invocation at a time, failures retried at once. The Lambda
run has concurrent execution environments, batching windows and scaled visibility timeouts. Printed side
by side: wall time, renders per feed, retried and dead-lettered records, peak concurrency per function.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import run_over_input
from bench.pipeline import build_input

RESULTS = Path(__file__).resolve().parent / "results" / "bulk_upload.json"
MODES = ("serial", "lambda")


def _figures(report: Mapping[str, Any], seconds: float) -> dict[str, Any]:
    stats = report["stats"]
    functions = stats["functions"]
    return {
        "seconds": round(seconds, 1),
        "feed_renders": stats["feed_renders"],
        "records_retried": sum(f["records_retried"] for f in functions.values()),
        "failed_records": sum(f["failed_records"] for f in functions.values()),
        "dead_letters": len(report["dead_letters"]),
        "concurrent_peak": {name: f["concurrent_peak"] for name, f in functions.items()},
        "invocations": {name: f["invocations"] for name, f in functions.items()},
        "episode_events": sum(1 for e in report["events"] if str(e["detail-type"]).startswith("Episode")),
        "runner": stats["runner"],
    }


def run(limit: int | None) -> dict[str, Any]:
    from podcast_pipeline_tools.local.runner import Driving, run_local

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        input_dir, config, source = build_input(Path(tmp) / "site", limit)
        for mode in MODES:
            started = time.perf_counter()
            report = run_local(
                input_dir,
                Path(tmp) / mode,
                config,
                progress=False,
                driving=Driving(serial=mode == "serial"),
            )
            results[mode] = _figures(report, time.perf_counter() - started)
    return {"benchmark": "bulk_upload", "input": source, **results}


def show(result: Mapping[str, Any]) -> None:
    serial, concurrent = result["serial"], result["lambda"]
    print(f"bulk upload of {result['input']}: serial (baseline) | as Lambda drives it")
    rows = [
        ("wall seconds", serial["seconds"], concurrent["seconds"]),
        ("renders per feed", serial["feed_renders"], concurrent["feed_renders"]),
        ("records retried", serial["records_retried"], concurrent["records_retried"]),
        ("records failed", serial["failed_records"], concurrent["failed_records"]),
        ("dead letters", serial["dead_letters"], concurrent["dead_letters"]),
        ("episode events", serial["episode_events"], concurrent["episode_events"]),
        ("concurrent peak", serial["concurrent_peak"], concurrent["concurrent_peak"]),
        ("invocations", serial["invocations"], concurrent["invocations"]),
    ]
    for label, left, right in rows:
        print(f"{label:>16} | {left!s:<40} | {right!s}")
    print(f"wall time ratio (Lambda / serial): {concurrent['seconds'] / max(serial['seconds'], 0.1):.2f}")


def main(argv: Sequence[str] | None = None) -> int:
    return run_over_input(
        argv, prog="python -m bench.bulk_upload", doc=__doc__ or "", run=run, show=show, results=RESULTS
    )


if __name__ == "__main__":
    raise SystemExit(main())
