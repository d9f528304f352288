"""How long the command line takes to answer, as a whole process: `--help`, and `check` of one post.

    python -m bench.startup [--runs 9] [--out bench/results/startup.json]

Each figure is the median wall time of --runs fresh processes of the installed `podcast-pipeline`
command, the commands interleaved with a bare interpreter's start (`python -c pass`, the baseline run in
the same loop) so that load on the machine hits them alike. The post is the sample show's first episode
with its MP3 beside it, checked with the sample's configuration.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench import report

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "startup.json"
HELP_LIMIT_SECONDS = 0.3  # the budget for `podcast-pipeline --help` on this machine
CHECK_LIMIT_SECONDS = 0.8  # and for `check` of one post with its MP3


def _wall(command: Sequence[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def _sample_post(root: Path) -> tuple[Path, Path]:
    """The sample show's first podcast post and its MP3, written under `root`."""
    from podcast_pipeline.config import load_config
    from podcast_pipeline.posts import parse_post
    from podcast_pipeline.verify import audio_key_of
    from podcast_pipeline_tools.local.sample import SAMPLE_CONFIG, write_sample_show

    write_sample_show(root)
    config = load_config(SAMPLE_CONFIG)
    path = sorted((root / config.posts_prefix / "podcast").glob("*.md"))[0]
    post = parse_post(path.relative_to(root).as_posix(), path.read_bytes(), posts_prefix=config.posts_prefix)
    return path, root / str(audio_key_of(post, config))


def run(runs: int) -> dict[str, Any]:
    command = str(Path(sys.executable).parent / "podcast-pipeline")
    with tempfile.TemporaryDirectory() as tmp:
        post, audio = _sample_post(Path(tmp))
        checked = subprocess.run([command, "check", str(post), "--audio", str(audio)], capture_output=True)
        if checked.returncode != 0:  # a check that fails early would time less than a check
            raise SystemExit(f"check of the sample post did not verify: {checked.stdout.decode()}")
        targets = {
            "baseline: python -c pass": [sys.executable, "-c", "pass"],
            "podcast-pipeline --help": [command, "--help"],
            "podcast-pipeline check POST --audio MP3": [command, "check", str(post), "--audio", str(audio)],
        }
        for target in targets.values():
            _wall(target)  # warm the page cache and the bytecode
        times: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(runs):
            for name, target in targets.items():
                times[name].append(_wall(target))
    baseline = statistics.median(times["baseline: python -c pass"])
    results = []
    for name, walls in times.items():
        median = statistics.median(walls)
        results.append(
            {
                "target": name,
                "median_seconds": round(median, 3),
                "min_seconds": round(min(walls), 3),
                "max_seconds": round(max(walls), 3),
                "vs_baseline": round(median / baseline, 1),
            }
        )
    return {"benchmark": "startup", "runs": runs, "results": results}


def show(result: Mapping[str, Any]) -> None:
    print(f"{'command':<42} | {'median s':>8} | {'min s':>6} | {'max s':>6} | {'x python':>8}")
    for row in result["results"]:
        print(
            f"{row['target']:<42} | {row['median_seconds']:>8} | {row['min_seconds']:>6} | "
            f"{row['max_seconds']:>6} | {row['vs_baseline']:>8}"
        )


def checks(result: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """The budgets: --help and check, medians on this machine."""
    rows = {row["target"]: row for row in result["results"]}
    found = []
    for target, limit in (
        ("podcast-pipeline --help", HELP_LIMIT_SECONDS),
        ("podcast-pipeline check POST --audio MP3", CHECK_LIMIT_SECONDS),
    ):
        median = rows[target]["median_seconds"]
        found.append((f"{target}: {median} s median (<= {limit} s)", median <= limit))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    return report(run(args.runs), show, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
