"""A function deployed without its configuration fails its init, naming the variable; the CLI keeps its
default, the sample show."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from handler_modules import FUNCTIONS, fresh_handler

from podcast_pipeline.config import CONFIG_ENV, ConfigError, load_config, require_lambda_config
from podcast_pipeline_tools.local.sample import SAMPLE_CONFIG


@pytest.fixture
def in_lambda(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")  # no X-Ray patching of this test process
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.mark.usefixtures("in_lambda")
@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_handler_without_its_config_fails_at_import(function: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    with pytest.raises(ConfigError, match=f"^{CONFIG_ENV} is not set"):
        fresh_handler(function)


@pytest.mark.usefixtures("in_lambda")
@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_handler_whose_config_cannot_be_read_fails_at_import(
    function: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for unreadable in (tmp_path / "missing.yaml", tmp_path):  # no such file; a folder
        monkeypatch.setenv(CONFIG_ENV, str(unreadable))
        with pytest.raises(ConfigError, match=f"^{CONFIG_ENV}={re.escape(str(unreadable))} cannot be read"):
            fresh_handler(function)


@pytest.mark.usefixtures("in_lambda")
@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_handler_with_its_config_imports(function: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(SAMPLE_CONFIG))
    assert callable(fresh_handler(function).handler)


def test_outside_lambda_nothing_is_checked_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    require_lambda_config()  # the local runner and the tests set the variable before the first record


def test_load_config_has_no_silent_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    with pytest.raises(ConfigError, match=CONFIG_ENV):
        load_config()
    assert load_config(default=SAMPLE_CONFIG) == load_config(SAMPLE_CONFIG)  # the CLI's default
    corpus = Path(__file__).parent / "data" / "runninginproduction.yaml"
    monkeypatch.setenv(CONFIG_ENV, str(corpus))
    assert load_config(default=SAMPLE_CONFIG) == load_config(corpus)  # the variable wins over the default
