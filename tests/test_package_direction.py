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


# The runtime's adapters: the only modules that talk to AWS (and may load its SDK or Powertools).
ADAPTERS = frozenset(
    {
        "podcast_pipeline.batch",
        "podcast_pipeline.bus",
        "podcast_pipeline.s3_events",
        "podcast_pipeline.s3_objects",
        "podcast_pipeline.store",
        "podcast_pipeline.audio.s3_reader",
        "podcast_pipeline.feed.s3_objects",
    }
)
AWS_PACKAGES = frozenset({"boto3", "botocore", "aws_lambda_powertools"})


def _module_name(path: Path) -> str:
    parts = path.relative_to(RUNTIME.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


DOMAIN = sorted(path for path in RUNTIME.rglob("*.py") if _module_name(path) not in ADAPTERS)


def test_every_adapter_named_exists() -> None:
    assert {_module_name(path) for path in RUNTIME.rglob("*.py")} >= ADAPTERS


def _runtime_imports(path: Path) -> Iterator[tuple[int, str]]:
    """The imports a module executes: those under `if TYPE_CHECKING:` are for the type checker only."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.lineno, node.module


@pytest.mark.parametrize("path", DOMAIN, ids=lambda p: str(p.relative_to(RUNTIME)))
def test_domain_modules_import_no_adapter_and_no_aws_code(path: Path) -> None:
    wrong = [
        f"line {line}: {name}"
        for line, name in _runtime_imports(path)
        if name in ADAPTERS or name.split(".")[0] in AWS_PACKAGES
    ]
    assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}"


def test_importing_every_domain_module_loads_no_aws_sdk_or_powertools() -> None:
    names = [_module_name(path) for path in DOMAIN]
    probe = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(sorted({{n.split('.')[0] for n in sys.modules}} & {set(AWS_PACKAGES)!r}))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["[]"]
    # The probe can fail: the adapters do load them.
    adapters = subprocess.run(
        [sys.executable, "-c", "import podcast_pipeline.store, sys; print('botocore' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert adapters.stdout.strip() == "True"
