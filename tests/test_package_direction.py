"""Two packages, one direction: the tools (podcast_pipeline_tools) use the runtime (podcast_pipeline), which
ships to Lambda and never imports them; the handlers import only the runtime."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import podcast_pipeline

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = Path(podcast_pipeline.__file__).parent
FUNCTIONS = ROOT / "functions"
TOOLS = "podcast_pipeline_tools"


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Every module a file imports, wherever the import statement is (functions, TYPE_CHECKING blocks)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module
        elif isinstance(node, ast.ImportFrom):
            raise AssertionError(f"{path}:{node.lineno}: relative import; name the package")


def test_the_runtime_package_is_the_one_under_layers() -> None:
    assert RUNTIME == ROOT / "layers" / "podcast_pipeline"


@pytest.mark.parametrize("path", sorted(RUNTIME.rglob("*.py")), ids=lambda p: str(p.relative_to(RUNTIME)))
def test_no_runtime_module_imports_the_tools(path: Path) -> None:
    wrong = [f"line {line}: {name}" for line, name in imported_modules(path) if name.split(".")[0] == TOOLS]
    assert not wrong, f"{path.relative_to(ROOT)} imports the tools package: {wrong}"


@pytest.mark.parametrize("path", sorted(FUNCTIONS.glob("*/handler.py")), ids=lambda p: p.parent.name)
def test_handlers_import_only_the_runtime(path: Path) -> None:
    ours = {name.split(".")[0] for _, name in imported_modules(path)} & {TOOLS, "infra", "tests"}
    assert not ours, f"{path.relative_to(ROOT)} imports {sorted(ours)}"


def test_importing_every_runtime_module_loads_nothing_of_the_tools() -> None:
    probe = (
        "import importlib, pkgutil, sys\n"
        "import podcast_pipeline\n"
        "for module in pkgutil.walk_packages(podcast_pipeline.__path__, 'podcast_pipeline.'):\n"
        "    importlib.import_module(module.name)\n"
        f"print(sorted(name for name in sys.modules if name.split('.')[0] == {TOOLS!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(RUNTIME.parent), "PATH": "", "PYTHONNOUSERSITE": "1"},
    )
    assert result.stdout.split() == ["[]"]
