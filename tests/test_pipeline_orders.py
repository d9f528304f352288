"""Uploads in any order, more than once and late end in the right state with the right events.

The real handlers run on the emulation; the sample show's config names the keys.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from mp3_fixtures import matching_mp3
from pipeline_harness import Pipeline, episode_events, pipeline

from podcast_pipeline.durations import format_duration
from podcast_pipeline.episode import State

EPISODE_ID = "podcast/7-a-show-about-queues"
POST_KEY = "_posts/podcast/2024-03-04-7-a-show-about-queues.md"
AUDIO_KEY = "assets/podcast/sample-show-7.mp3"
PUBLISHED, UPDATED, UNPUBLISHED, FAILED = (
    "Episode Published",
    "Episode Updated",
    "Episode Unpublished",
    "Episode Verification Failed",
)
FIRST_CUT = matching_mp3(161_234, 10)
SECOND_CUT = matching_mp3(245_678, 15)


def post(
    audio: bytes, seconds: int, *, title: str = "A show about queues", claimed: int | None = None
) -> bytes:
    return (
        "---\n"
        f'title: "{title}"\n'
        f'mp3_bytes: "{claimed if claimed is not None else len(audio)}"\n'
        f'mp3_duration: "{format_duration(seconds)}"\n'
        'guest: "Grace"\n'
        "---\n\n"
        "{{ page.guest }} explains queues.\n"
    ).encode()


@pytest.fixture
def run() -> Iterator[Pipeline]:
    with pipeline() as p:
        yield p


def test_mp3_first_then_post_publishes_once(run: Pipeline) -> None:
    run.put(AUDIO_KEY, FIRST_CUT)
    assert run.settle() == []  # an MP3 without its post waits silently
    run.put(POST_KEY, post(FIRST_CUT, 10))
    run.settle()
    episode = run.episode(EPISODE_ID)
    assert episode.state is State.PUBLISHED
    assert episode.measured is not None and episode.measured["bytes"] == len(FIRST_CUT)
    assert int(episode.measured["duration_seconds"]) == 10
    assert episode_events(run.events) == [(PUBLISHED, EPISODE_ID)]
    assert run.dead_letters() == []


def test_post_first_waits_for_audio_then_publishes(run: Pipeline) -> None:
    run.put(POST_KEY, post(FIRST_CUT, 10))
    run.settle()
    assert run.episode(EPISODE_ID).state is State.AWAITING_AUDIO
    run.put(AUDIO_KEY, FIRST_CUT)
    run.settle()
    assert run.episode(EPISODE_ID).state is State.PUBLISHED
    assert episode_events(run.events) == [(PUBLISHED, EPISODE_ID)]
    feed = run.feed("podcast/feed.xml")
    assert feed is not None and b"https://sample.example/podcast/7-a-show-about-queues" in feed


def test_post_edited_after_publishing_is_an_update(run: Pipeline) -> None:
    run.put(AUDIO_KEY, FIRST_CUT)
    run.put(POST_KEY, post(FIRST_CUT, 10))
    run.settle()
    run.put(POST_KEY, post(FIRST_CUT, 10, title="Queues, revisited"))
    run.settle()
    episode = run.episode(EPISODE_ID)
    assert (episode.state, episode.title) == (State.PUBLISHED, "Queues, revisited")
    assert episode_events(run.events) == [(PUBLISHED, EPISODE_ID), (UPDATED, EPISODE_ID)]
    feed = run.feed("podcast/feed.xml")
    assert feed is not None and b"Queues, revisited" in feed


def test_replaced_mp3_is_verified_again_and_the_fix_names_the_new_cut(run: Pipeline) -> None:
    run.put(AUDIO_KEY, FIRST_CUT)
    run.put(POST_KEY, post(FIRST_CUT, 10))
    run.settle()
    run.put(AUDIO_KEY, SECOND_CUT)  # a new cut; the post still describes the first one
    new = run.settle()
    episode = run.episode(EPISODE_ID)
    assert episode.state is State.FAILED
    assert episode_events(new) == [(UNPUBLISHED, EPISODE_ID), (FAILED, EPISODE_ID)]
    fixes = [p.fix for p in episode.problems if p.fix]
    assert fixes and all(fix == {"mp3_bytes": str(len(SECOND_CUT)), "mp3_duration": "0:15"} for fix in fixes)
    run.put(POST_KEY, post(SECOND_CUT, 15))  # the producer pastes the fix
    run.settle()
    assert run.episode(EPISODE_ID).state is State.PUBLISHED
    assert episode_events(run.events)[-1] == (PUBLISHED, EPISODE_ID)


def test_deleting_the_post_unpublishes_and_empties_the_feed(run: Pipeline) -> None:
    run.put(AUDIO_KEY, FIRST_CUT)
    run.put(POST_KEY, post(FIRST_CUT, 10))
    run.settle()
    run.delete(POST_KEY)
    run.settle()
    assert run.episode(EPISODE_ID).state is State.UNPUBLISHED
    assert episode_events(run.events) == [(PUBLISHED, EPISODE_ID), (UNPUBLISHED, EPISODE_ID)]
    feed = run.feed("podcast/feed.xml")
    assert feed is not None and b"7-a-show-about-queues" not in feed


def test_deleting_the_mp3_unpublishes_and_says_the_audio_is_missing(run: Pipeline) -> None:
    run.put(AUDIO_KEY, FIRST_CUT)
    run.put(POST_KEY, post(FIRST_CUT, 10))
    run.settle()
    run.delete(AUDIO_KEY)
    run.settle()
    episode = run.episode(EPISODE_ID)
    assert episode.state is State.UNPUBLISHED
    assert "audio_missing" in [p.code.value for p in episode.problems]
    assert episode_events(run.events) == [(PUBLISHED, EPISODE_ID), (UNPUBLISHED, EPISODE_ID)]
    run.put(AUDIO_KEY, FIRST_CUT)  # uploaded again: published again
    run.settle()
    assert run.episode(EPISODE_ID).state is State.PUBLISHED


def test_every_event_delivered_three_times_emits_each_episode_event_once(run: Pipeline) -> None:
    for number in (1, 2, 3):
        audio = matching_mp3(160_000 + number * 4_321, 10)
        run.put(f"assets/podcast/sample-show-{number}.mp3", audio)
        run.put(
            f"_posts/podcast/2024-03-0{number}-{number}-episode.md",
            post(audio, 10, title=f"Episode {number}"),
        )
    run.duplicate_pending(times=3)
    run.settle()
    counts = Counter(episode_events(run.events))
    assert counts == {(PUBLISHED, f"podcast/{n}-episode"): 1 for n in (1, 2, 3)}
    # And once more, much later: still nothing new.
    for body in run.ingested[:6]:
        run.deliver(body)
    assert run.settle() == []


def test_an_older_version_arriving_late_is_ignored(run: Pipeline) -> None:
    run.put(AUDIO_KEY, FIRST_CUT)
    run.put(POST_KEY, post(FIRST_CUT, 10, title="First title"))
    run.settle()
    first_post_event = next(body for body in run.ingested if POST_KEY.split("/")[-1][:10] in body)
    run.put(POST_KEY, post(FIRST_CUT, 10, title="Second title"))
    run.settle()
    run.deliver(first_post_event)  # the first version's event, late
    assert run.settle() == []
    assert run.episode(EPISODE_ID).title == "Second title"
