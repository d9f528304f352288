"""README's table of problem codes lists every code of problems.py, with the severities the code gives."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from podcast_pipeline.problems import Code

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `([a-z_0-9]+)` \| (error|warning|error or warning) \| (.+?) \| (.+?) \|$")


def _documented() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Problem codes", 1)[1].split("\n## ", 1)[0]
    rows = [ROW.match(line) for line in section.splitlines() if line.startswith("| `")]
    assert all(rows), "a row of the problem codes table is malformed"
    return {row.group(1): row.group(2) for row in rows if row}


def _severities_in_code() -> dict[str, set[str]]:
    """The severities each code is given by an `error(Code.X, ...)` or `warning(Code.X, ...)` call."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in [*(ROOT / "layers").rglob("*.py"), *(ROOT / "tools").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            called = node.func if isinstance(node, ast.Call) else None
            if (
                isinstance(node, ast.Call)
                and isinstance(called, ast.Name)
                and called.id in ("error", "warning")
            ):
                first = node.args[0] if node.args else None
                if isinstance(first, ast.Attribute) and getattr(first.value, "id", "") == "Code":
                    found[Code[first.attr].value].add(called.id)
    return found


def test_every_code_is_documented_once() -> None:
    assert sorted(_documented()) == sorted(code.value for code in Code)


def test_the_documented_severity_is_the_one_the_code_gives() -> None:
    documented = _documented()
    for code, severities in _severities_in_code().items():
        assert set(documented[code].split(" or ")) >= severities, code
    assert _severities_in_code()["duration_rounding"] == {"warning"}  # the scan finds what it looks for
