"""Concurrent feed rebuild triggers coalesce: on the emulation, over HTTP, with the real EpisodeStore.

Triggers run in threads (and, for a holder that dies, in a child process killed with SIGKILL) against
moto's server; a trigger that finds the feed's lease held by a live owner succeeds without rendering, and
every feed ends equal to a fresh render of the store.
"""

from __future__ import annotations

import datetime
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pytest
from test_feed_service import (
    CONFIG,
    Context,
    FakePublisher,
    episode,
    episode_event,
    load_feed_handler,
    sqs_event,
)

from podcast_pipeline.episode import Episode
from podcast_pipeline.feed.render import render_feed
from podcast_pipeline.feed.s3_objects import S3FeedObjects
from podcast_pipeline.feed.service import EpisodeSource, FeedRebuild, rebuild_feeds
from podcast_pipeline.store import EpisodeStore
from podcast_pipeline_tools.local.emulation import Emulation

if TYPE_CHECKING:
    from multiprocessing.synchronize import Event

CATEGORY = "podcast"
FEED_KEY = CONFIG.feeds[CATEGORY].key
WAIT_SECONDS = 30  # for a thread or a child process to reach its next step; a test takes a few seconds


def numbered(n: int) -> Episode:
    """A published episode numbered `n`, one day after episode n - 1."""
    slug = f"{n}-x"
    return replace(
        episode(1),
        id=f"{CATEGORY}/{slug}",
        slug=slug,
        number=n,
        date=(datetime.date(2024, 1, 1) + datetime.timedelta(days=n)).isoformat(),
        permalink=f"https://example.com/{CATEGORY}/{slug}",
        audio_key=f"{n}.mp3",
        audio_url=f"https://example.com/{n}.mp3",
    )


@dataclass
class Feeds:
    """The store, the feed objects and a publisher on the emulation, and a trigger of one feed rebuild."""

    store: EpisodeStore
    objects: S3FeedObjects
    publisher: FakePublisher = field(default_factory=FakePublisher)

    def publish(self, n: int) -> None:
        self.store.put_feed_entry(numbered(n))

    def trigger(self, source: EpisodeSource | None = None, **options: Any) -> FeedRebuild:
        (rebuild,) = rebuild_feeds(
            [CATEGORY],
            config=CONFIG,
            store=source or self.store,
            objects=self.objects,
            publisher=self.publisher,
            ledger=self.store,
            **options,
        )
        return rebuild

    def feed(self) -> bytes:
        written = self.objects.read(FEED_KEY)
        assert written is not None, "no feed written"
        return written

    def fresh_render(self) -> bytes:
        return render_feed(CONFIG.feeds[CATEGORY], CONFIG, self.store.published_episodes(CATEGORY)).xml


@pytest.fixture
def feeds(emulation: Emulation) -> Feeds:
    return Feeds(
        EpisodeStore(emulation.dynamodb, emulation.names.table),
        S3FeedObjects(emulation.s3, emulation.bucket),
    )


class PausingSource:
    """The store, except that its first read of the episodes calls `pause` before handing them over."""

    def __init__(self, store: EpisodeStore, pause: Callable[[], None]) -> None:
        self._store = store
        self._pause: Callable[[], None] | None = pause

    def published_episodes(self, category: str) -> list[Episode]:
        episodes = self._store.published_episodes(category)
        pause, self._pause = self._pause, None
        if pause is not None:
            pause()
        return episodes


def test_a_trigger_during_a_render_coalesces_and_the_feed_ends_with_both_episodes(feeds: Feeds) -> None:
    feeds.publish(1)  # episode A
    rendering = threading.Barrier(2, timeout=WAIT_SECONDS)
    second_done = threading.Event()

    def hold_the_render() -> None:
        rendering.wait()  # the first trigger holds the lease and has read episode A only
        assert second_done.wait(WAIT_SECONDS)

    def second_trigger() -> FeedRebuild:
        rendering.wait()
        try:
            feeds.publish(2)  # episode B, stored while the first render runs
            return feeds.trigger()
        finally:
            second_done.set()

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(feeds.trigger, PausingSource(feeds.store, hold_the_render))
        second = pool.submit(second_trigger)
        first_rebuild, second_rebuild = first.result(WAIT_SECONDS), second.result(WAIT_SECONDS)

    assert second_rebuild.coalesced
    assert [result.item_count for result in first_rebuild.renders] == [1, 2]  # A, then A and B
    assert b"example.com/podcast/1-x" in feeds.feed() and b"example.com/podcast/2-x" in feeds.feed()
    assert feeds.feed() == feeds.fresh_render()
    status = feeds.store.rebuild_status(CATEGORY)
    assert (status.requested, status.rendered, status.owner) == (2, 2, None)


# -- a holder that dies ------------------------------------------------------------------------------

LEASE_SECONDS = 2


class HangingSource:
    """The store, except that reading the episodes says so through `holding` and then never returns."""

    def __init__(self, store: EpisodeStore, holding: Event) -> None:
        self._store = store
        self._holding = holding

    def published_episodes(self, category: str) -> list[Episode]:
        self._store.published_episodes(category)
        self._holding.set()
        time.sleep(10 * WAIT_SECONDS)  # until killed
        raise AssertionError("the holder was to be killed mid-render")


def hold_the_lease_and_hang(endpoint_url: str, table: str, bucket: str, holding: Event) -> None:
    """In a child process: start a rebuild with a lease of LEASE_SECONDS that hangs mid-render."""
    import boto3

    session = boto3.session.Session()  # the test's dummy credentials, from the environment
    store = EpisodeStore(session.client("dynamodb", endpoint_url=endpoint_url), table)
    Feeds(store, S3FeedObjects(session.client("s3", endpoint_url=endpoint_url), bucket)).trigger(
        HangingSource(store, holding), lease_seconds=LEASE_SECONDS
    )


def test_a_killed_holder_keeps_its_feed_until_its_lease_expires_then_the_next_trigger_renders(
    feeds: Feeds, emulation: Emulation
) -> None:
    feeds.publish(1)
    spawn = multiprocessing.get_context("spawn")
    holding = spawn.Event()
    holder = spawn.Process(
        target=hold_the_lease_and_hang,
        args=(emulation.endpoint_url, emulation.names.table, emulation.bucket, holding),
    )
    holder.start()
    try:
        assert holding.wait(WAIT_SECONDS), "the holder never reached its render"
    finally:
        holder.kill()
        holder.join(WAIT_SECONDS)
    assert holder.exitcode == -signal.SIGKILL
    dead = feeds.store.rebuild_status(CATEGORY)
    assert dead.owner is not None and dead.lease_expires is not None
    assert (dead.requested, dead.rendered) == (1, 0)

    feeds.publish(2)
    assert time.time() < dead.lease_expires
    early = feeds.trigger()
    assert early.coalesced and feeds.objects.read(FEED_KEY) is None
    assert feeds.store.rebuild_status(CATEGORY).owner == dead.owner

    while int(time.time()) <= dead.lease_expires:  # live through its last second
        time.sleep(0.1)
    late = feeds.trigger()
    assert len(late.renders) == 1 and late.renders[0].item_count == 2
    assert feeds.feed() == feeds.fresh_render()
    status = feeds.store.rebuild_status(CATEGORY)
    assert (status.requested, status.rendered, status.owner) == (3, 3, None)


# -- many triggers at once -----------------------------------------------------------------------------

THREADS = 8
TRIGGERS_PER_THREAD = 5


def test_many_concurrent_triggers_end_with_a_current_feed_and_few_renders(feeds: Feeds) -> None:
    start = threading.Barrier(THREADS, timeout=WAIT_SECONDS)

    def publish_and_trigger(thread: int) -> list[FeedRebuild]:
        start.wait()
        rebuilds = []
        for i in range(TRIGGERS_PER_THREAD):
            feeds.publish(thread * TRIGGERS_PER_THREAD + i + 1)
            rebuilds.append(feeds.trigger())
        return rebuilds

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(publish_and_trigger, thread) for thread in range(THREADS)]
        rebuilds = [rebuild for future in futures for rebuild in future.result(WAIT_SECONDS)]

    triggers = THREADS * TRIGGERS_PER_THREAD
    renders = sum(len(rebuild.renders) for rebuild in rebuilds)
    coalesced = sum(rebuild.coalesced for rebuild in rebuilds)
    print(f"{triggers} triggers, {renders} renders, {coalesced} coalesced")
    assert len(rebuilds) == triggers  # none raised
    assert feeds.feed() == feeds.fresh_render()
    assert f"<itunes:episode>{triggers}<".encode() in feeds.feed()
    status = feeds.store.rebuild_status(CATEGORY)
    assert status.requested == status.rendered and status.owner is None
    assert renders <= triggers // 2


# -- the handler ----------------------------------------------------------------------------------------


def test_the_handler_succeeds_for_a_feed_whose_lease_another_live_invocation_holds(
    feeds: Feeds, emulation: Emulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    from podcast_pipeline.bus import EventBus

    feed_handler = load_feed_handler(monkeypatch)
    feeds.publish(1)
    assert feeds.store.take_rebuild_lease(CATEGORY, "another invocation", int(time.time()) + 60) == (0, 0)
    deps = feed_handler._Dependencies(
        CONFIG, feeds.store, feeds.objects, EventBus(emulation.events, emulation.names.event_bus)
    )
    monkeypatch.setattr(feed_handler, "_dependencies", lambda: deps)
    event = sqs_event(episode_event("e1", CATEGORY), episode_event("e2", CATEGORY))

    assert feed_handler.handler(event, Context()) == {"batchItemFailures": []}
    assert feeds.objects.read(FEED_KEY) is None  # the holder renders it
    status = feeds.store.rebuild_status(CATEGORY)
    assert (status.requested, status.rendered, status.owner) == (1, 0, "another invocation")
    # The holder's release shows the request, so it goes round again.
    assert feeds.store.release_rebuild_lease(CATEGORY, "another invocation") == (1, 0)
