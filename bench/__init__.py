"""Benchmark scripts: each prints a table and writes its figures as JSON (`python3 tasks.py bench`)."""

from __future__ import annotations

import json
from pathlib import Path


def write_results(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
