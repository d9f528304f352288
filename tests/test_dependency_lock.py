"""The dependencies layer is built from layers/dependencies.lock, and the lock agrees with pyproject.toml.

Offline and quick: the lock's header records what it was resolved from, and its pins and `# via`
annotations must agree with that. When pyproject.toml's dependencies change, `python3 tasks.py lock`
rewrites the lock, header and all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import takewhile
from pathlib import Path
from typing import cast

import pytest
from aws_cdk import CfnElement
from infra_fixtures import synthesized
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from infra import layers
from infra.layers import (
    DEPENDENCIES_LOCK,
    LAMBDA_TARGET,
    RUNTIME_PROVIDED,
    TOOLS_ONLY,
    build_dependencies_layer,
    lock_header,
    project_dependencies,
)

REFRESH = "pyproject.toml and layers/dependencies.lock disagree: run `python3 tasks.py lock`"
FROM_PYPROJECT = "podcast-pipeline (pyproject.toml)"


@dataclass
class Pin:
    version: Version
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)  # what asked for it: a locked package or pyproject.toml


def locked_pins(text: str) -> dict[str, Pin]:
    """The lock's pins by canonical name, read the way pip writes requirements files."""
    pins: dict[str, Pin] = {}
    pin: Pin | None = None
    for line in text.splitlines():
        entry = line.strip().removesuffix("\\").strip()
        if not line.startswith(" "):
            if entry and not entry.startswith("#"):
                requirement = Requirement(entry)
                (specifier,) = requirement.specifier
                assert specifier.operator == "==", line
                pin = pins[canonicalize_name(requirement.name)] = Pin(Version(specifier.version))
        elif pin is not None and entry.startswith("--hash="):
            pin.hashes.append(entry.removeprefix("--hash="))
        elif pin is not None and (via := entry.removeprefix("#").strip().removeprefix("via").strip()):
            pin.via.append(via)
    return pins


LOCK = DEPENDENCIES_LOCK.read_text(encoding="utf-8")
PINS = locked_pins(LOCK)


def test_the_lock_was_resolved_from_pyprojects_dependencies_for_lambda() -> None:
    header = "".join(takewhile(lambda line: line.startswith("#"), LOCK.splitlines(keepends=True)))
    assert header == lock_header(project_dependencies(), LAMBDA_TARGET), REFRESH


def test_each_dependency_is_pinned_at_a_version_it_allows() -> None:
    direct = [Requirement(line) for line in project_dependencies()]
    for requirement in direct:
        pin = PINS.get(canonicalize_name(requirement.name))
        assert pin is not None, f"{requirement.name} is not locked. {REFRESH}"
        assert requirement.specifier.contains(pin.version, prereleases=True), f"{requirement}: {REFRESH}"
    from_pyproject = {name for name, pin in PINS.items() if FROM_PYPROJECT in pin.via}
    assert from_pyproject == {canonicalize_name(r.name) for r in direct}, REFRESH


def test_the_command_lines_own_dependencies_stay_out_of_the_layer() -> None:
    assert not set(TOOLS_ONLY) & set(PINS)
    assert not any(line.startswith(TOOLS_ONLY) for line in project_dependencies())


def test_every_pin_is_hashed_and_asked_for_and_none_is_the_runtimes() -> None:
    assert PINS
    runtime = {canonicalize_name(name) for name in RUNTIME_PROVIDED}
    assert not runtime & set(PINS)
    for name, pin in PINS.items():
        assert pin.hashes, f"{name} has no hash"
        assert all(h.startswith("sha256:") for h in pin.hashes), name
        assert pin.via, f"{name} says nothing of what asked for it"
        asked = {v if v == FROM_PYPROJECT else canonicalize_name(v) for v in pin.via}
        # The command line's own packages may ask for a pin too, but never alone: they are not in the layer.
        assert asked - set(TOOLS_ONLY), f"{name} is in the layer only for {sorted(asked)}"
        assert asked - {FROM_PYPROJECT} <= set(PINS) | runtime | set(TOOLS_ONLY), name


def test_the_layer_build_installs_the_lock_checking_its_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, ...]] = []

    def uv(*args: str) -> str:
        calls.append(args)
        return ""

    monkeypatch.setattr(layers, "_uv", uv)
    build_dependencies_layer(tmp_path, DEPENDENCIES_LOCK, LAMBDA_TARGET)
    (args,) = calls
    assert args[:2] == ("pip", "install")
    assert {"--require-hashes", "--no-deps"} <= set(args)
    assert args[args.index("--requirement") + 1] == str(DEPENDENCIES_LOCK)


@pytest.mark.xdist_group("cdk")  # the infra tests' synth, shared on one worker
def test_the_synthesized_dependencies_layer_holds_exactly_the_locked_packages() -> None:
    default = synthesized().default
    layer = default.stack.node.find_child("Layers").node.find_child("Dependencies")
    logical_id = default.stack.get_logical_id(cast(CfnElement, layer.node.default_child))
    resource = default.template_json["Resources"][logical_id]
    asset_hash = str(resource["Properties"]["Content"]["S3Key"]).removesuffix(".zip")
    installed = {}
    for dist_info in (default.template_file.parent / f"asset.{asset_hash}" / "python").glob("*.dist-info"):
        name, version = dist_info.name.removesuffix(".dist-info").rsplit("-", 1)
        installed[canonicalize_name(name)] = Version(version)
    assert installed == {name: pin.version for name, pin in PINS.items()}
