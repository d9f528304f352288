"""Settings: the function environment, read once, with a clear error for a missing variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from podcast_pipeline import settings
from podcast_pipeline.settings import REQUIRED_ENV, Settings, SettingsError

FULL = {
    "TABLE_NAME": "episodes",
    "BUCKET_NAME": "content",
    "EVENT_BUS_NAME": "podcast-pipeline-dev",
    "PODCAST_PIPELINE_CONFIG": "/opt/podcast-pipeline/site.yaml",
    "NOTIFY_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:notify",
    "SLACK_WEBHOOK_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack",
}


def test_from_environ_reads_every_setting() -> None:
    assert Settings.from_environ(FULL) == Settings(
        table_name="episodes",
        bucket_name="content",
        event_bus_name="podcast-pipeline-dev",
        config_path="/opt/podcast-pipeline/site.yaml",
        notify_topic_arn=FULL["NOTIFY_TOPIC_ARN"],
        slack_webhook_secret_arn=FULL["SLACK_WEBHOOK_SECRET_ARN"],
    )


@pytest.mark.parametrize("blank", [None, ""])
def test_optional_settings_are_none_when_unset_or_empty(blank: str | None) -> None:
    env = {k: v for k, v in FULL.items() if k not in ("NOTIFY_TOPIC_ARN", "SLACK_WEBHOOK_SECRET_ARN")}
    if blank is not None:
        env |= {"NOTIFY_TOPIC_ARN": blank, "SLACK_WEBHOOK_SECRET_ARN": blank}
    loaded = Settings.from_environ(env)
    assert (loaded.notify_topic_arn, loaded.slack_webhook_secret_arn) == (None, None)


@pytest.mark.parametrize("name", REQUIRED_ENV)
@pytest.mark.parametrize("blank", [None, ""])
def test_a_missing_required_variable_is_named(name: str, blank: str | None) -> None:
    env = {k: v for k, v in FULL.items() if k != name} | ({} if blank is None else {name: blank})
    with pytest.raises(SettingsError, match=name):
        Settings.from_environ(env)


def test_from_environ_defaults_to_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FULL.items():
        monkeypatch.setenv(name, value)
    assert Settings.from_environ().table_name == "episodes"
    monkeypatch.delenv("TABLE_NAME")
    with pytest.raises(SettingsError, match="TABLE_NAME"):
        Settings.from_environ()


def test_settings_is_frozen() -> None:
    loaded = Settings.from_environ(FULL)
    with pytest.raises(AttributeError):
        loaded.table_name = "other"  # type: ignore[misc]


def test_importing_settings_loads_only_the_standard_library() -> None:
    code = (
        "import sys, podcast_pipeline.settings; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 'aws_lambda_powertools', 'yaml')))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"
    assert settings.__name__ == "podcast_pipeline.settings"
