"""Every benchmark, one after another: tables on stdout, JSON in bench/results/, the acceptance checks last.

    python -m bench [--only cold_start,startup,probe,feed_render,pipeline,bulk_upload,cost] [--quick]

--quick runs small sizes (a 1 MB probe, feeds of 100 and 1,000, 3 interpreters per import, 3 MP3s) and
writes to bench/results/quick/ instead, so a check never overwrites the measured figures. The import
timings go first, while nothing else of ours runs.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import bulk_upload, cold_start, cost, feed_render, pipeline, probe, startup

RESULTS = Path(__file__).resolve().parent / "results"
KIB = 1024
PROBE_MAX_REQUESTS = 2
PROBE_MAX_BYTES = 128 * KIB
PROBE_MAX_ERROR_SECONDS = 0.05
FEED_MAX_RATIO = 12.0
FEED_LARGE, FEED_SMALL = 10_000, 1_000

# name -> (main, arguments, arguments in --quick mode); every one also gets --out.
BENCHMARKS: dict[str, tuple[Callable[[Sequence[str] | None], int], list[str], list[str]]] = {
    "cold_start": (cold_start.main, [], ["--runs", "3"]),
    "startup": (startup.main, [], ["--runs", "3"]),
    "probe": (probe.main, [], ["--sizes", "1"]),
    "feed_render": (feed_render.main, [], ["--sizes", "100", "1000", "--repeat", "1"]),
    "pipeline": (pipeline.main, [], ["--limit", "3"]),
    "bulk_upload": (bulk_upload.main, [], ["--limit", "3"]),
    "cost": (cost.main, [], []),
}


def _load(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def probe_checks(result: Mapping[str, Any]) -> list[tuple[str, bool]]:
    checks = []
    for row in result["runs"]:
        if row["method"] != "ours":
            continue
        label = f"probe {row['kind']} {row['size'] / 1e6:.0f} MB"
        if row["kind"] == "headerless-vbr":
            error = row["error_seconds"]
            checks.append(
                (
                    f"{label}: duration within 0.05 s of ffmpeg ({error})",
                    error is not None and abs(error) <= PROBE_MAX_ERROR_SECONDS,
                )
            )
        else:
            checks.append(
                (
                    f"{label}: {row['requests']} requests, {row['bytes']:,} bytes (<= 2, <= 128 KiB)",
                    row["requests"] <= PROBE_MAX_REQUESTS and row["bytes"] <= PROBE_MAX_BYTES,
                )
            )
    return checks


def feed_checks(result: Mapping[str, Any]) -> list[tuple[str, bool]]:
    rows = {row["episodes"]: row for row in result["results"]}
    if FEED_LARGE not in rows or FEED_SMALL not in rows:
        return []
    large, small = rows[FEED_LARGE], rows[FEED_SMALL]
    checks = []
    for key in large:
        if key.endswith("_seconds") and not key.startswith("lxml") and small.get(key):
            ratio = large[key] / small[key]
            checks.append(
                (f"feed {key}: 10,000 / 1,000 episodes = {ratio:.1f} (<= 12)", ratio <= FEED_MAX_RATIO)
            )
    return checks


def cold_start_checks(result: Mapping[str, Any]) -> list[tuple[str, bool]]:
    return [
        (
            f"import {row['target']}: {row['wall_vs_boto3']}x wall, {row['cpu_vs_boto3']}x CPU, "
            f"({row['importtime_vs_boto3']}x under -X importtime) of `import boto3` (wall, CPU <= 1.5)",
            bool(row["within_limit"]),
        )
        for row in result["results"]
        if "within_limit" in row
    ]


def acceptance(out_dir: Path) -> list[tuple[str, bool]]:
    checks: list[tuple[str, bool]] = []
    for name, check in (
        ("probe", probe_checks),
        ("feed_render", feed_checks),
        ("cold_start", cold_start_checks),
        ("startup", startup.checks),
    ):
        result = _load(out_dir / f"{name}.json")
        if result is not None:
            checks.extend(check(result))
    return checks


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated, run in this order")
    parser.add_argument("--quick", action="store_true", help="small sizes, results in bench/results/quick/")
    args = parser.parse_args(argv)
    chosen = [name for name in args.only.split(",") if name]
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")
    out_dir = RESULTS / "quick" if args.quick else RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    for name in chosen:
        run, full, quick = BENCHMARKS[name]
        extra = ["--pipeline", str(out_dir / "pipeline.json")] if name == "cost" else []
        print(f"\n=== {name}", flush=True)
        started = time.perf_counter()
        status = run([*(quick if args.quick else full), *extra, "--out", str(out_dir / f"{name}.json")])
        timings[name] = round(time.perf_counter() - started, 1)
        if status:
            return status
    checks = acceptance(out_dir)
    print("\n=== acceptance")
    for label, passed in checks:
        print(f"{'pass' if passed else 'FAIL'}  {label}")
    summary = {
        "quick": args.quick,
        "seconds": timings,
        "checks": [{"check": c, "pass": p} for c, p in checks],
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\n{', '.join(f'{name} {seconds} s' for name, seconds in timings.items())}")
    return 0 if all(passed for _, passed in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
