"""The lean table, against the emulation: what each item holds, what each change writes, as AWS bills it.

The episode item holds no notes (the feed entry does), a feed entry exists exactly while its episode is
published, an unchanged decision writes nothing, and the audio link is written once.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from pipeline_harness import Pipeline, pipeline
from test_pipeline_orders import AUDIO_KEY, FIRST_CUT, POST_KEY, post

from podcast_pipeline.episode import State
from podcast_pipeline_tools.local.capacity import TableCapacity
from podcast_pipeline_tools.local.emulation import table_capacity

EPISODE_ID = "podcast/7-a-show-about-queues"


@pytest.fixture
def run() -> Iterator[Pipeline]:
    with pipeline() as p:
        yield p


def _capacity(run: Pipeline) -> TableCapacity:
    capacity = table_capacity(run.emulation)
    assert capacity is not None
    return copy.deepcopy(capacity)


def _item(run: Pipeline, pk: str, sk: str) -> object:
    response = run.emulation.dynamodb.get_item(
        TableName=run.emulation.names.table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    )
    return response.get("Item")


def test_the_episode_item_holds_no_notes_and_the_feed_entry_holds_what_the_feed_shows(run: Pipeline) -> None:
    run.put(AUDIO_KEY, FIRST_CUT)
    run.put(POST_KEY, post(FIRST_CUT, 10))
    run.settle()
    stored = run.store.get_episode(EPISODE_ID)
    assert stored is not None and stored.episode.state is State.PUBLISHED
    assert stored.episode.body == stored.episode.notes_html == "" and stored.episode.front_matter == {}
    assert not stored.owes_work and stored.owner is None
    (entry,) = run.store.published_episodes("podcast")
    assert entry.id == EPISODE_ID
    assert "Grace explains queues." in entry.notes_html
    assert entry.front_matter == {"guest": "Grace"}  # of the front-matter, only what an item shows
    assert entry.body == "" and entry.post is None
    assert b"Grace explains queues." in (run.feed("podcast/feed.xml") or b"")
    # No index: the table's one partition per feed is what a rebuild reads.
    assert _item(run, f"EPISODE#{EPISODE_ID}", "LOCK") is None


def test_an_unpublished_episode_leaves_its_feed(run: Pipeline) -> None:
    run.put(AUDIO_KEY, FIRST_CUT)
    run.put(POST_KEY, post(FIRST_CUT, 10))
    run.settle()
    run.delete(AUDIO_KEY)
    run.settle()
    assert run.episode(EPISODE_ID).state is State.UNPUBLISHED
    assert run.store.published_episodes("podcast") == []
    assert b"<item>" not in (run.feed("podcast/feed.xml") or b"")


def test_a_repeated_decision_writes_nothing_and_the_audio_link_is_written_once(run: Pipeline) -> None:
    run.put(POST_KEY, post(FIRST_CUT, 10))
    run.settle()
    assert run.episode(EPISODE_ID).state is State.AWAITING_AUDIO
    run.put(AUDIO_KEY, FIRST_CUT)
    before = _capacity(run)
    run.settle()
    published = _capacity(run)
    writes = published.write_units - before.write_units
    # The MP3's source record; the episode saved with its claim, then given up; the feed entry. The link
    # the post's decision wrote is not written again.
    assert writes["AUDIO"] == 0
    assert writes["SOURCE"] == 1 and writes["EPISODE"] == 2 and writes["FEED"] == 1
    for message in run.ingested[-1:]:
        run.deliver(message)  # the same S3 event again: settled from the store
    run.settle()
    again = _capacity(run).write_units - published.write_units
    assert sum(again.values()) == 0


def test_the_report_gives_units_per_episode_and_per_feed_entry(run: Pipeline) -> None:
    run.put(AUDIO_KEY, FIRST_CUT)
    run.put(POST_KEY, post(FIRST_CUT, 10))
    run.settle()
    figures = _capacity(run).to_dict(episodes=1)
    assert figures["write_units"] == sum(figures["write_units_by_item"].values())
    assert figures["write_units_per_episode"] == figures["write_units"]
    # One small entry per rebuild: a strongly consistent read of under 4 KB is one unit.
    assert figures["read_units_per_feed_entry"] == 1.0
