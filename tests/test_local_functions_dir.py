"""The local runner finds the handlers of the checkout it runs from, or of the project root it is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from podcast_pipeline_tools.local import runner
from podcast_pipeline_tools.local.runner import PROJECT_ROOT_ENV, InputError, functions_dir

ROOT = Path(__file__).resolve().parents[1]


def test_from_a_checkout_the_functions_are_the_checkouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PROJECT_ROOT_ENV, raising=False)
    assert functions_dir() == ROOT / "functions"


def test_a_named_project_root_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ingest", "feed", "notify"):
        (tmp_path / "functions" / name).mkdir(parents=True)
        (tmp_path / "functions" / name / "handler.py").write_text("")
    assert functions_dir(tmp_path) == tmp_path / "functions"
    monkeypatch.setenv(PROJECT_ROOT_ENV, str(tmp_path))
    assert functions_dir() == tmp_path / "functions"


def test_a_root_without_the_handlers_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InputError, match="not a podcast-pipeline checkout"):
        functions_dir(tmp_path)
    monkeypatch.setenv(PROJECT_ROOT_ENV, str(tmp_path))
    with pytest.raises(InputError, match="not a podcast-pipeline checkout"):
        functions_dir()


def test_an_installed_copy_outside_a_checkout_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    installed = tmp_path / "site-packages" / "podcast_pipeline_tools" / "local" / "runner.py"
    monkeypatch.delenv(PROJECT_ROOT_ENV, raising=False)
    monkeypatch.setattr(runner, "__file__", str(installed))
    with pytest.raises(InputError, match=PROJECT_ROOT_ENV):
        functions_dir()
