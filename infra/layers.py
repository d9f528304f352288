"""The two Lambda layers — third-party dependencies and our shared code — built without Docker.

The builders are plain functions of a `Target` so the packaging test can build the very same layers for
the machine it runs on (Lambda's arm64 wheels cannot be imported on an x86_64 host).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, FileSystem, ILocalBundling
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from uv import find_uv_bin

from infra import constants

LAYER_PYTHON_DIR = "python"  # Lambda puts /opt/python on sys.path
# The Lambda Python runtime already has these (boto3 and what it pulls in); a second copy in the layer
# would shadow the runtime's and could split boto3 from its botocore.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
# What the dependencies layer installs, and nothing else: a pip requirements file with every package pinned
# and the hash of each of its wheels, resolved for Lambda from pyproject.toml's dependencies. A plain
# requirements file rather than uv.lock, which would lock the whole project (CDK, the CLI, the dev tools)
# for every platform when only this list ships. `python3 tasks.py lock` rewrites it.
DEPENDENCIES_LOCK = constants.LAYERS_DIR / "dependencies.lock"
# Dependencies of pyproject.toml that only the command line (podcast_pipeline_tools) imports, and what only
# they pull in: in a plain `pip install`, never in the layer.
TOOLS_ONLY = ("rich", "pygments")
# Never imported at run time: byte code the runtime cannot reuse from a read-only /opt, and test suites.
STRIPPED_DIRS = ("__pycache__", "tests")
# Byte code left by local runs; the runtime package itself ships whole.
BYTE_CODE = ("__pycache__", "*.pyc")


@dataclass(frozen=True)
class Target:
    """The interpreter a layer is built for; `None` fields mean the interpreter running the build."""

    python_platform: str | None
    python_version: str | None

    def uv_args(self) -> list[str]:
        args = ["--only-binary", ":all:"]  # wheels only: nothing compiles for the wrong machine
        if self.python_platform:
            args += ["--python-platform", self.python_platform]
        if self.python_version:
            args += ["--python-version", self.python_version]
        return args


LAMBDA_TARGET = Target(constants.LAMBDA_PLATFORM, constants.LAMBDA_PYTHON_VERSION)


def project_dependencies(pyproject: Path = constants.PROJECT_ROOT / "pyproject.toml") -> list[str]:
    """The `[project] dependencies` of pyproject.toml the layer installs: all but what the runtime provides
    (boto3) and TOOLS_ONLY, which is exactly what the functions import besides boto3."""
    listed = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    left_out = {*RUNTIME_PROVIDED, *TOOLS_ONLY}
    return [line for line in listed if _requirement_name(line) not in left_out]


def _requirement_name(requirement: str) -> str:
    """The normalized project name of a requirement line (PEP 503): `PyYAML>=6` → `pyyaml`."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    return re.sub(r"[-_.]+", "-", name.group(0) if name else requirement).lower()


def _uv(*args: str) -> str:
    # Fixed program, arguments built here: no shell, nothing from outside. Run from the project root so the
    # lock names pyproject.toml by a path that is the same on every machine.
    result = subprocess.run(  # noqa: S603
        [find_uv_bin(), *args], cwd=constants.PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"uv {' '.join(args[:2])} failed:\n{result.stderr}")
    return result.stdout


def lock_header(requirements: list[str], target: Target) -> str:
    """The lock's opening comment: what it was resolved from, which the lock test compares with today's."""
    return "".join(
        [
            "# The dependencies layer installs exactly these pins, checking their hashes. Do not edit:\n",
            "# `python3 tasks.py lock` rewrites it from these [project] dependencies of pyproject.toml\n",
            *(f"#   {requirement}\n" for requirement in requirements),
            f"# for {target.python_platform} / CPython {target.python_version}, wheels only, without\n",
            f"# what the Lambda runtime provides: {' '.join(RUNTIME_PROVIDED)}\n",
        ]
    )


def lock_dependencies(*, upgrade: bool = False) -> None:
    """Resolve pyproject.toml's dependencies for Lambda into the lock, keeping the pins that still fit.

    `upgrade` takes the newest release of everything instead.
    """
    no_emit = [arg for name in (*RUNTIME_PROVIDED, *TOOLS_ONLY) for arg in ("--no-emit-package", name)]
    _uv(
        "pip",
        "compile",
        "pyproject.toml",
        "--quiet",
        "--no-header",
        "--generate-hashes",
        "--output-file",  # an existing lock's pins are the preferred versions
        str(DEPENDENCIES_LOCK),
        *LAMBDA_TARGET.uv_args(),
        *no_emit,
        *(["--upgrade"] if upgrade else []),
    )
    pins = DEPENDENCIES_LOCK.read_text(encoding="utf-8")
    DEPENDENCIES_LOCK.write_text(lock_header(project_dependencies(), LAMBDA_TARGET) + pins, encoding="utf-8")


def build_dependencies_layer(out_dir: Path, lock: Path, target: Target) -> None:
    """Install the wheels pinned in `lock` for `target` into `out_dir/python`; drop what is never imported.

    The wheels' hashes must match the lock's; the lock lists every wheel of each pinned version, so the
    packaging test builds the same pins for its own machine.
    """
    site = out_dir / LAYER_PYTHON_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    _uv(
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--require-hashes",
        "--target",
        str(site),
        *target.uv_args(),
        "--requirement",
        str(lock),
    )
    for name in STRIPPED_DIRS:
        for directory in sorted(site.rglob(name), reverse=True):
            if directory.is_dir():
                shutil.rmtree(directory)


def build_shared_code_layer(out_dir: Path, config_file: Path) -> None:
    """The runtime package, whole, as `python/podcast_pipeline`, and the site config where the functions
    look for it. The tools (podcast_pipeline_tools) live outside layers/ and never ship."""
    shutil.copytree(
        constants.LAYERS_DIR / constants.SHARED_PACKAGE,
        out_dir / LAYER_PYTHON_DIR / constants.SHARED_PACKAGE,
        ignore=shutil.ignore_patterns(*BYTE_CODE),
    )
    config_target = out_dir / constants.CONFIG_IN_LAYER
    config_target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(config_file, config_target)


@jsii.implements(ILocalBundling)
class _LocalBuild:
    """Runs a builder in this process; CDK asks it before it would fall back to Docker."""

    def __init__(self, build: Callable[[Path], None]) -> None:
        self._build = build

    def try_bundle(self, output_dir: str, _options: BundlingOptions) -> bool:
        self._build(Path(output_dir))
        return True


def _locally_built_code(asset_hash: str, build: Callable[[Path], None]) -> lambda_.Code:
    """An asset whose hash is known before it is built, so CDK reuses cdk.out/asset.<hash> on re-runs."""
    return lambda_.Code.from_asset(
        str(constants.LAYERS_DIR),  # unused by the builders; CDK wants a source path
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=asset_hash,
        bundling=BundlingOptions(
            image=DockerImage.from_registry("unused-local-bundling-always-succeeds"),
            local=_LocalBuild(build),  # type: ignore[arg-type]  # jsii passes the options positionally
        ),
    )


def _sha256(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class Layers(Construct):
    """The dependencies layer and the shared-code layer every function gets."""

    def __init__(self, scope: Construct, construct_id: str, *, config_file: Path) -> None:
        super().__init__(scope, construct_id)
        # Keyed on the lock's bytes: the same lock gives the same layer, and a new lock a new one.
        lock = DEPENDENCIES_LOCK.read_text(encoding="utf-8")
        self.dependencies = lambda_.LayerVersion(
            self,
            "Dependencies",
            description="Third-party packages of the podcast-pipeline functions",
            compatible_runtimes=[constants.LAMBDA_RUNTIME],
            compatible_architectures=[constants.LAMBDA_ARCHITECTURE],
            code=_locally_built_code(
                _sha256(lock, repr(LAMBDA_TARGET), repr(STRIPPED_DIRS)),
                lambda out: build_dependencies_layer(out, DEPENDENCIES_LOCK, LAMBDA_TARGET),
            ),
        )

        config_digest = hashlib.sha256(config_file.read_bytes()).hexdigest()
        package_digest = FileSystem.fingerprint(
            str(constants.LAYERS_DIR / constants.SHARED_PACKAGE), exclude=list(BYTE_CODE)
        )
        self.shared_code = lambda_.LayerVersion(
            self,
            "SharedCode",
            description="podcast_pipeline package and the site configuration",
            compatible_runtimes=[constants.LAMBDA_RUNTIME],
            compatible_architectures=[constants.LAMBDA_ARCHITECTURE],
            code=_locally_built_code(
                _sha256(package_digest, config_digest),
                lambda out: build_shared_code_layer(out, config_file),
            ),
        )
