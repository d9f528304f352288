"""Every command's --help says what its exit codes mean."""

from __future__ import annotations

import re

import pytest

from podcast_pipeline_tools.cli import main

COMMANDS = [
    ["check"],
    ["fix"],
    ["backfill"],
    ["invoke"],
    ["feed", "diff"],
    ["local", "run"],
    ["migrate-table"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_help_lists_the_exit_codes(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps the epilog
    codes = text.split("exit codes:", 1)[1]
    assert re.match(r" 0 \w", codes), codes
    assert " 1 " in codes or " 2 " in codes, codes
