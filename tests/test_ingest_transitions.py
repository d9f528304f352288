"""Which events an episode's change of state announces, and which objects ingest looks at."""

from __future__ import annotations

from dataclasses import replace

import pytest

from podcast_pipeline.config import load_config
from podcast_pipeline.decision import transition_events
from podcast_pipeline.episode import Episode, ObjectKind, State
from podcast_pipeline.ingest import classify
from podcast_pipeline.routes import DetailType
from podcast_pipeline_tools.local.sample import SAMPLE_CONFIG

EPISODE = Episode(id="podcast/1-a", category="podcast", slug="1-a", date="2020-01-01", state=State.PUBLISHED)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (None, State.PUBLISHED, [DetailType.EPISODE_PUBLISHED]),
        (State.AWAITING_AUDIO, State.PUBLISHED, [DetailType.EPISODE_PUBLISHED]),
        (State.FAILED, State.PUBLISHED, [DetailType.EPISODE_PUBLISHED]),
        (State.PUBLISHED, State.PUBLISHED, [DetailType.EPISODE_UPDATED]),
        (
            State.PUBLISHED,
            State.FAILED,
            [DetailType.EPISODE_UNPUBLISHED, DetailType.EPISODE_VERIFICATION_FAILED],
        ),
        (None, State.FAILED, [DetailType.EPISODE_VERIFICATION_FAILED]),
        (State.FAILED, State.FAILED, [DetailType.EPISODE_VERIFICATION_FAILED]),
        (State.PUBLISHED, State.UNPUBLISHED, [DetailType.EPISODE_UNPUBLISHED]),
        (State.AWAITING_AUDIO, State.UNPUBLISHED, []),
        (None, State.AWAITING_AUDIO, []),
        (State.PUBLISHED, State.AWAITING_AUDIO, [DetailType.EPISODE_UNPUBLISHED]),
    ],
)
def test_transition_events(before: State | None, after: State, expected: list[DetailType]) -> None:
    previous = replace(EPISODE, state=before) if before else None
    assert transition_events(previous, replace(EPISODE, state=after)) == expected


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("_posts/podcast/2020-10-26-54-x.md", ObjectKind.POST),
        ("_posts/2020-10-26-54-x.markdown", ObjectKind.POST),
        ("assets/podcast/sample-show-54.mp3", ObjectKind.AUDIO),
        ("assets/podcast/SAMPLE.MP3", ObjectKind.AUDIO),
        ("podcast/feed.xml", ObjectKind.OTHER),
        ("drafts/2020-10-26-x.md", ObjectKind.OTHER),
        ("_includes/services-used.html", ObjectKind.OTHER),
    ],
)
def test_classify(key: str, kind: ObjectKind) -> None:
    assert classify(key, load_config(SAMPLE_CONFIG)) is kind
