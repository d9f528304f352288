"""`local run` over the real show: every podcast episode published with its measured facts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from corpus import CORPUS_CONFIG, CORPUS_COUNTS, corpus_posts, duration_seconds

from podcast_pipeline_tools.local.runner import run_local

pytestmark = pytest.mark.xdist_group("corpus")
MAX_RENDERS_PER_FEED = 10


@pytest.fixture(scope="module")
def report(corpus_site: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_local(corpus_site, tmp_path_factory.mktemp("out"), CORPUS_CONFIG, progress=False)


def test_every_podcast_episode_is_published_with_its_measured_facts(report: dict[str, Any]) -> None:
    episodes = {entry["id"]: entry for entry in report["episodes"]}
    posts = corpus_posts("podcast")
    assert len(posts) == CORPUS_COUNTS["podcast"]
    for post in posts:
        entry = episodes[f"podcast/{post.path.stem[len('YYYY-MM-DD-') :]}"]
        assert entry["state"] == "published", entry["problems"]
        assert entry["problems"] == [] or all(p["severity"] == "warning" for p in entry["problems"])
        assert post.mp3_bytes and post.mp3_duration
        assert entry["measured"]["bytes"] == int(post.mp3_bytes)
        assert int(entry["measured"]["duration_seconds"]) == duration_seconds(post.mp3_duration)


def test_interviews_publish_without_audio(report: dict[str, Any]) -> None:
    interviews = [e for e in report["episodes"] if e["category"] == "interviews"]
    assert len(interviews) == len(corpus_posts("interviews"))
    assert {e["state"] for e in interviews} == {"published"}


def test_one_published_event_per_published_episode_and_nothing_lost(report: dict[str, Any]) -> None:
    published = Counter(
        e["detail"]["id"] for e in report["events"] if e["detail-type"] == "Episode Published"
    )
    expected = {e["id"] for e in report["episodes"] if e["state"] == "published"}
    assert set(published) == expected
    assert set(published.values()) == {1}
    assert report["dead_letters"] == []


def test_feeds_are_written_and_each_rendered_a_few_times(report: dict[str, Any]) -> None:
    assert set(report["feeds"]) == {"podcast", "interviews"}
    for path in report["feeds"].values():
        assert Path(path).read_bytes().startswith(b"<?xml")
    renders = report["stats"]["feed_renders"]
    assert set(renders) == {"podcast", "interviews"}
    assert all(1 <= count <= MAX_RENDERS_PER_FEED for count in renders.values()), renders
