"""Shared fixtures: moto's server on a loopback port, dummy AWS credentials, and the stack on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from podcast_pipeline_tools.local import emulation as local
from podcast_pipeline_tools.local.emulation import Emulation


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """URL of a moto server running in this process for the whole session."""
    with local.moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and region, so no real account can be reached."""
    for name, value in local.AWS_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def emulation(moto_endpoint: str, aws_env: None) -> Iterator[Emulation]:
    """The pipeline's bucket, table, bus, rules and queues, under names no other test uses."""
    with local.emulation(moto_endpoint) as created:
        yield created


@pytest.fixture(scope="session")
def corpus_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus with full-size generated MP3s, laid out like the bucket (built once per worker)."""
    from corpus import CORPUS_CONFIG, write_corpus_site

    from podcast_pipeline.config import load_config

    template = load_config(CORPUS_CONFIG).audio_key_template
    return write_corpus_site(tmp_path_factory.mktemp("corpus-site"), template)
