"""Cold-start import cost of each handler module, relative to `import boto3` alone.

    python -m bench.cold_start [--runs 9] [--top 10] [--out bench/results/cold_start.json]

Every import runs in a fresh interpreter under the same conditions: a Lambda-like environment (the
variables the stack sets, LAMBDA_TASK_ROOT so Powertools' Tracer is on as it is when deployed) and
PYTHONPATH = the function's folder then layers/, as Lambda puts /var/task before the layers. Two figures,
each the median of --runs interpreters, the targets interleaved so that load on the machine hits them alike:

- wall and CPU: time.perf_counter() and time.process_time() around the import statement, in an
  interpreter without -X importtime (CPU time is the steadier figure on a busy machine);
- importtime: the import's cumulative time as `python -X importtime` reports it.

The limit applies to wall and CPU time: -X importtime adds its own cost per module, which weighs on the
target that imports more modules, so its ratio is shown but serves to find the offenders.

The offenders are the modules a handler imports beyond what `import boto3` imports, by self and by
cumulative time (from each module's median over the -X importtime runs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import write_results

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"
LAYERS = ROOT / "layers"
RESULTS = ROOT / "bench" / "results" / "cold_start.json"
BASELINE = "boto3"
LIMIT = 1.5  # DESIGN.md: handler imports stay close to `import boto3` alone
# Variables that would change what the interpreter imports or where it looks.
_DROPPED_ENV = (
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "PYTHONHOME",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONDONTWRITEBYTECODE",
)


@dataclass(frozen=True)
class ImportLine:
    """One line of `-X importtime`: a module, its own time and the time including what it imported."""

    module: str
    self_us: int
    cumulative_us: int
    depth: int  # 0 for an import made by the program itself


@dataclass(frozen=True)
class Target:
    name: str  # "boto3" or a function name
    module: str  # what is imported
    python_path: tuple[Path, ...]


def parse_importtime(stderr: str) -> list[ImportLine]:
    """The `import time:` lines of a stderr, in the order printed (a module after what it imported)."""
    lines = []
    for raw in stderr.splitlines():
        if not raw.startswith("import time:"):
            continue
        self_part, cumulative_part, name_part = raw[len("import time:") :].split("|", 2)
        if not self_part.strip().isdigit():
            continue  # the header line
        name = name_part.rstrip()
        stripped = name.lstrip(" ")
        lines.append(
            ImportLine(
                module=stripped,
                self_us=int(self_part),
                cumulative_us=int(cumulative_part),
                depth=(len(name) - len(stripped) - 1) // 2,
            )
        )
    return lines


def subtree(lines: Sequence[ImportLine], module: str) -> list[ImportLine]:
    """The lines of the top-level import of `module`: the module and everything it imported first."""
    start = 0
    for index, line in enumerate(lines):
        if line.depth == 0:
            if line.module == module:
                return list(lines[start : index + 1])
            start = index + 1
    raise ValueError(f"{module} was not imported at top level")


def targets(functions_dir: Path, functions: Sequence[str]) -> list[Target]:
    return [
        Target(BASELINE, "boto3", (LAYERS,)),
        *(Target(name, "handler", (functions_dir / name, LAYERS)) for name in functions),
    ]


def lambda_env(target: Target) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV and not k.startswith("POWERTOOLS_")}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(str(p) for p in target.python_path),
            "LAMBDA_TASK_ROOT": str(target.python_path[0]),
            "AWS_LAMBDA_FUNCTION_NAME": target.name,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_SERVICE_NAME": target.name,
            "POWERTOOLS_METRICS_NAMESPACE": "PodcastPipeline",
            "LOG_LEVEL": "INFO",
            # What the stack sets: a handler module refuses to import in Lambda without it.
            "PODCAST_PIPELINE_CONFIG": str(LAYERS / "podcast_pipeline" / "sample" / "site.yaml"),
        }
    )
    return env


def _python(target: Target, *args: str) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        [sys.executable, *args],
        env=lambda_env(target),
        cwd=target.python_path[0],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"importing {target.name} failed:\n{run.stderr}")
    return run


def timed_import(target: Target) -> tuple[float, float]:
    """(wall, CPU) seconds of the import statement in a fresh interpreter."""
    code = (
        "import time; w, c = time.perf_counter(), time.process_time(); "
        f"import {target.module}; "
        "print(time.perf_counter() - w, time.process_time() - c)"
    )
    wall, cpu = _python(target, "-c", code).stdout.split()
    return float(wall), float(cpu)


def importtime_lines(target: Target) -> list[ImportLine]:
    return subtree(
        parse_importtime(_python(target, "-X", "importtime", "-c", f"import {target.module}").stderr),
        target.module,
    )


def beyond(lines: Sequence[ImportLine], baseline_modules: set[str]) -> dict[str, tuple[int, int]]:
    """Per module not imported by the baseline: (self µs, cumulative µs counting only such modules).

    A line's imports are the lines just before it that are deeper, so the cumulative figure leaves out
    what the baseline imports too (X-Ray's botocore patch imports botocore, which boto3 pays for anyway).
    """
    found: dict[str, tuple[int, int]] = {}
    for index, line in enumerate(lines):
        if line.module in baseline_modules:
            continue
        total, before = line.self_us, index - 1
        while before >= 0 and lines[before].depth > line.depth:
            if lines[before].module not in baseline_modules:
                total += lines[before].self_us
            before -= 1
        found[line.module] = (line.self_us, total)
    return found


def offenders(
    runs: Sequence[Sequence[ImportLine]], baseline_modules: set[str], top: int
) -> dict[str, list[dict[str, Any]]]:
    """The modules beyond the baseline's, by median self and by median cumulative time.

    The imported module itself heads the cumulative list: all it costs beyond the baseline.
    """
    times: dict[str, list[tuple[int, int]]] = {}
    for lines in runs:
        for module, pair in beyond(lines, baseline_modules).items():
            times.setdefault(module, []).append(pair)

    def ranked(which: int) -> list[dict[str, Any]]:
        medians = {module: statistics.median(p[which] for p in pairs) for module, pairs in times.items()}
        return [
            {"module": module, "ms": round(us / 1000, 1)}
            for module, us in sorted(medians.items(), key=lambda item: -item[1])[:top]
        ]

    return {"self": ranked(0), "cumulative": ranked(1)}


def measure(functions_dir: Path, functions: Sequence[str], runs: int, top: int) -> dict[str, Any]:
    chosen = targets(functions_dir, functions)
    for target in chosen:  # bytecode compiled and files in the page cache before anything counts
        timed_import(target)
    walls: dict[str, list[float]] = {t.name: [] for t in chosen}
    cpus: dict[str, list[float]] = {t.name: [] for t in chosen}
    trees: dict[str, list[list[ImportLine]]] = {t.name: [] for t in chosen}
    for _ in range(runs):
        for target in chosen:
            wall, cpu = timed_import(target)
            walls[target.name].append(wall)
            cpus[target.name].append(cpu)
            trees[target.name].append(importtime_lines(target))
    baseline_modules = {line.module for lines in trees[BASELINE] for line in lines}
    base_wall = statistics.median(walls[BASELINE])
    base_cpu = statistics.median(cpus[BASELINE])
    base_import = statistics.median(lines[-1].cumulative_us for lines in trees[BASELINE]) / 1e6
    rows = []
    for target in chosen:
        wall = statistics.median(walls[target.name])
        cpu = statistics.median(cpus[target.name])
        imported = statistics.median(lines[-1].cumulative_us for lines in trees[target.name]) / 1e6
        row: dict[str, Any] = {
            "target": target.name,
            "wall_ms": round(wall * 1000, 1),
            "wall_vs_boto3": round(wall / base_wall, 2),
            "cpu_ms": round(cpu * 1000, 1),
            "cpu_vs_boto3": round(cpu / base_cpu, 2),
            "importtime_ms": round(imported * 1000, 1),
            "importtime_vs_boto3": round(imported / base_import, 2),
            "modules": round(statistics.median(len(lines) for lines in trees[target.name])),
        }
        if target.name != BASELINE:
            row["within_limit"] = max(row["wall_vs_boto3"], row["cpu_vs_boto3"]) <= LIMIT
            row["offenders"] = offenders(trees[target.name], baseline_modules, top)
        rows.append(row)
    return {"runs": runs, "limit": LIMIT, "python": sys.version.split()[0], "results": rows}


def show(result: Mapping[str, Any]) -> None:
    print(f"Handler import vs `import boto3` alone (median of {result['runs']} fresh interpreters)")
    columns = (
        "target",
        "wall_ms",
        "wall_vs_boto3",
        "cpu_ms",
        "cpu_vs_boto3",
        "importtime_ms",
        "importtime_vs_boto3",
        "modules",
    )
    print(" | ".join(f"{c:>13}" for c in columns) + " | wall, CPU <= 1.5x")
    for row in result["results"]:
        verdict = "" if "within_limit" not in row else ("yes" if row["within_limit"] else "NO")
        print(" | ".join(f"{row[c]!s:>13}" for c in columns) + f" | {verdict}")
    for row in result["results"]:
        if "offenders" not in row:
            continue
        print(f"\n{row['target']}: imported beyond boto3's modules (median ms)")
        by_self, by_cumulative = row["offenders"]["self"], row["offenders"]["cumulative"]
        print(f"  {'self':>8}  {'module':<52} {'cumulative':>10}  module")
        for left, right in zip(by_self, by_cumulative, strict=False):
            print(f"  {left['ms']:>8}  {left['module']:<52} {right['ms']:>10}  {right['module']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh interpreters per target and measure")
    parser.add_argument("--top", type=int, default=10, help="offenders listed per handler")
    parser.add_argument(
        "--functions-dir", type=Path, default=FUNCTIONS, help="holds <function>/handler.py (another tree's)"
    )
    parser.add_argument("--functions", nargs="+", help="default: every <function>/handler.py there")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    functions = args.functions or sorted(p.parent.name for p in args.functions_dir.glob("*/handler.py"))
    result = measure(args.functions_dir, functions, args.runs, args.top)
    show(result)
    write_results(args.out, {"benchmark": "cold_start", **result})
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
