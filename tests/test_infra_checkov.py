"""checkov over both synthesized templates: no failed check, every skip on its resource with a reason.

checkov lives in its own virtualenv (.venv-checkov, installed by `python3 tasks.py test`): its pinned
dependencies would fight the project's.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from infra_fixtures import ROOT, TEST_ASSEMBLY, synthesized

pytestmark = pytest.mark.xdist_group("cdk")

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
STACKS = ("default", "full")
# A queue without any encryption: checkov must fail it, so a clean report means something.
CANARY = {"Resources": {"Careless": {"Type": "AWS::SQS::Queue", "Properties": {}}}}
OUTCOMES = ("passed_checks", "failed_checks", "skipped_checks")

Records = dict[str, list[dict[str, Any]]]


def _checkov() -> Path:
    if not CHECKOV.exists():
        message = "checkov is not installed in .venv-checkov/; `python3 tasks.py test` installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHECKOV


@functools.cache
def _scan() -> dict[Path, Records]:
    """One checkov run over both templates and the canary (its start-up alone takes seconds), by file.

    Not `--quiet`: the passed and skipped records are checked too. `--skip-download`: nothing is fetched
    from checkov's platform (CI has no network for it).
    """
    checkov = _checkov()
    templates = [getattr(synthesized(), name).template_file for name in STACKS]
    canary = TEST_ASSEMBLY / "checkov-canary.template.json"
    canary.write_text(json.dumps(CANARY))
    files = [*templates, canary]
    options = ["--framework", "cloudformation", "--output", "json", "--compact", "--skip-download"]
    command = [str(checkov), *options, *(arg for file in files for arg in ("-f", str(file)))]
    # Exit status 1 means "something failed", which the canary guarantees; anything else is an error.
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    assert result.returncode in (0, 1), result.stderr
    output = json.loads(result.stdout)
    reports = output if isinstance(output, list) else [output]
    by_file: dict[Path, Records] = {file.resolve(): {outcome: [] for outcome in OUTCOMES} for file in files}
    for report in reports:
        assert report["check_type"] == "cloudformation"
        assert report["results"]["parsing_errors"] == []
        for outcome in OUTCOMES:
            for record in report["results"][outcome]:
                by_file[(ROOT / record["file_abs_path"]).resolve()][outcome].append(record)
    return by_file


def _records(name: str) -> Records:
    return _scan()[getattr(synthesized(), name).template_file.resolve()]


def _resource(record: dict[str, Any]) -> str:
    """The logical id of a record's resource (`AWS::SQS::Queue.IngestQueue95F6DB49`)."""
    return str(record["resource"]).split(".", 1)[1]


def test_checkov_does_find_problems() -> None:
    canary = _scan()[(TEST_ASSEMBLY / "checkov-canary.template.json").resolve()]
    assert ("CKV_AWS_27", "Careless") in {(r["check_id"], _resource(r)) for r in canary["failed_checks"]}


@pytest.mark.parametrize("name", STACKS)
def test_no_failed_checks(name: str) -> None:
    records = _records(name)
    failed = [(r["check_id"], _resource(r), r["check_name"]) for r in records["failed_checks"]]
    assert failed == []
    # Every resource of the template was looked at, not only a few.
    template = getattr(synthesized(), name).template_json
    checked = {_resource(r) for outcome in OUTCOMES for r in records[outcome]}
    assert {"AWS::Lambda::Function", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::IAM::Policy"} <= {
        template["Resources"][logical_id]["Type"] for logical_id in checked
    }


@pytest.mark.parametrize("name", STACKS)
def test_every_skip_is_on_its_resource_and_says_why(name: str) -> None:
    """The skips in the template are exactly the ones checkov applied, each with a reason of substance."""
    template = getattr(synthesized(), name).template_json
    declared = {
        (logical_id, skip["id"]): skip["comment"]
        for logical_id, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    }
    assert declared
    for (logical_id, check), comment in declared.items():
        assert len(comment) > 30, (logical_id, check, comment)
    applied = {
        (_resource(r), r["check_id"]): r["check_result"]["suppress_comment"]
        for r in _records(name)["skipped_checks"]
    }
    # A skip checkov did not apply is stale (the check no longer runs there): it would hide nothing but
    # still claim an exception.
    assert applied == declared


def test_the_readme_explains_every_exception() -> None:
    """Each skipped checkov check and acknowledged cdk-nag rule has its row in the README's security table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Exceptions to the checks", 1)[1].split("\n### ", 1)[0]
    checks = {
        skip["id"]
        for name in STACKS
        for resource in getattr(synthesized(), name).template_json["Resources"].values()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    }
    rules = {
        rule.removeprefix("Annotation::AwsSolutions-").split("[", 1)[0]
        for name in STACKS
        for construct in getattr(synthesized(), name).stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == "aws:cdk:acknowledged-rules"
        for rule in entry.data
    }
    assert checks and rules
    missing = [check for check in checks if not re.search(rf"\b{check}\b", table)]
    missing += [rule for rule in rules if not re.search(rf"cdk-nag {rule}\b", table)]
    assert missing == []
