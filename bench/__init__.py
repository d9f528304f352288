"""Benchmark scripts: each prints a table and writes its figures as JSON (`python3 tasks.py bench`)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any


def write_results(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


def report(result: Mapping[str, Any], show: Callable[[Mapping[str, Any]], None], out: Path) -> int:
    """Print a benchmark's table, write its figures to `out`; the exit status of its main."""
    show(result)
    write_results(out, result)
    print(f"wrote {out}")
    return 0


def run_over_input(
    argv: Sequence[str] | None,
    *,
    prog: str,
    doc: str,
    run: Callable[[int | None], Mapping[str, Any]],
    show: Callable[[Mapping[str, Any]], None],
    results: Path,
) -> int:
    """The main of a benchmark that runs the pipeline over the corpus (or the sample show)."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    parser.add_argument("--limit", type=int, help="podcast episodes given an MP3 (default: all)")
    parser.add_argument("--out", type=Path, default=results)
    args = parser.parse_args(argv)
    return report(run(args.limit), show, args.out)
