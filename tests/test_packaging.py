"""The real Lambda assets, imported the way Lambda imports them: a missing dependency fails here.

Lambda's layers hold arm64 / Python 3.13 wheels, which cannot be imported on this x86_64 machine, so the
same builders make them for this host's interpreter instead, from the same lock (its pins, this machine's
wheels). The rest is as in Lambda: the function's code directory and both layers on the path, in a fresh
virtualenv holding only boto3 (the runtime's).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from infra_fixtures import ROOT
from uv import find_uv_bin

from infra import constants
from infra.layers import DEPENDENCIES_LOCK, Target, build_dependencies_layer, build_shared_code_layer
from podcast_pipeline.routes import ROUTES

pytestmark = pytest.mark.xdist_group("packaging")

HOST = Target(python_platform=None, python_version=f"{sys.version_info.major}.{sys.version_info.minor}")

# Runs inside the fresh virtualenv: the handler, then every module the shared-code layer ships (the
# handlers import the domain lazily, on their first record).
IMPORT_CHECK = """
import importlib, pkgutil
import handler
assert callable(handler.handler), "handler.handler is not callable"
import podcast_pipeline
for module in pkgutil.walk_packages(podcast_pipeline.__path__, "podcast_pipeline."):
    importlib.import_module(module.name)
from podcast_pipeline.config import load_config
load_config()
import boto3
print(handler.__file__, podcast_pipeline.__file__, boto3.__file__, sep="\\n")
"""


class Lambdalike:
    def __init__(self, root: Path) -> None:
        self.dependencies = root / "dependencies"
        self.shared_code = root / "shared-code"
        self.tasks = root / "task"
        self.venv = root / "venv"
        build_dependencies_layer(self.dependencies, DEPENDENCIES_LOCK, HOST)
        build_shared_code_layer(self.shared_code, ROOT / constants.DEFAULT_CONFIG)
        for route in ROUTES:
            shutil.copytree(
                constants.FUNCTIONS_DIR / route.function,
                self.tasks / route.function,
                ignore=shutil.ignore_patterns(*constants.FUNCTION_CODE_EXCLUDES),
            )
        uv = find_uv_bin()
        subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(self.venv)], check=True)
        python = str(self.venv / "bin" / "python")
        subprocess.run([uv, "pip", "install", "--quiet", "--python", python, "boto3"], check=True)

    def run(self, function: str, *, with_dependencies: bool = True) -> subprocess.CompletedProcess[str]:
        # Lambda's order: the function's code, then the layers' python/ folders.
        path = [self.tasks / function, self.shared_code / "python"]
        path += [self.dependencies / "python"] if with_dependencies else []
        env = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": os.pathsep.join(str(p) for p in path),
            "PYTHONNOUSERSITE": "1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_SERVICE_NAME": function,
            "PODCAST_PIPELINE_CONFIG": str(self.shared_code / constants.CONFIG_IN_LAYER),
        }
        return subprocess.run(
            [str(self.venv / "bin" / "python"), "-c", IMPORT_CHECK],
            cwd=self.tasks / function,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )


@pytest.fixture(scope="module")
def lambdalike(tmp_path_factory: pytest.TempPathFactory) -> Lambdalike:
    return Lambdalike(tmp_path_factory.mktemp("lambda"))


def test_the_virtualenv_holds_boto3_and_nothing_of_ours(lambdalike: Lambdalike) -> None:
    python = str(lambdalike.venv / "bin" / "python")
    probe = (
        "import importlib.util as u; print(bool(u.find_spec('boto3')), bool(u.find_spec('podcast_pipeline')))"
    )
    result = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True, env={})
    assert result.stdout.split() == ["True", "False"]


@pytest.mark.parametrize("function", [route.function for route in ROUTES])
def test_handler_imports_with_only_boto3_and_the_layers(lambdalike: Lambdalike, function: str) -> None:
    result = lambdalike.run(function)
    assert result.returncode == 0, result.stderr
    handler_file, package_file, boto3_file = result.stdout.split()
    assert Path(handler_file).parent == lambdalike.tasks / function
    assert Path(package_file).is_relative_to(lambdalike.shared_code / "python")
    assert Path(boto3_file).is_relative_to(lambdalike.venv)


def test_a_missing_dependency_is_caught(lambdalike: Lambdalike) -> None:
    result = lambdalike.run("ingest", with_dependencies=False)
    assert result.returncode != 0
    assert "ModuleNotFoundError" in result.stderr
