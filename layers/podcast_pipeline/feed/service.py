"""Rebuild the feeds of some categories from the store, write the ones whose bytes changed, announce them.

Written against small Protocols so it runs the same on AWS, on the local emulation and in tests.

Concurrent triggers coalesce
----------------------------
Up to two feed invocations run at once (routes.FEED), and a bulk upload hands both of them batches that
name the same feed. A render reads every published episode of its feed from the store, the source of
truth, so one render that starts after a change was stored covers that change and all before it: a
trigger needs no render of its own, only one that starts after it. Each feed has one item in the table
(a `RebuildLedger`; store.py keeps it) holding

- `requested`, a generation counter that every trigger bumps (an atomic ADD),
- `rendered`, the generation the last completed render started from,
- a lease: an `owner` token (uuid4, new at every take) and `lease_expires` (epoch seconds).

A trigger bumps `requested`, then tries to take the lease (a conditional write: no owner, or the owner's
lease has expired). If a live owner holds it the trigger is done, successfully: the holder will include its
request (logged at INFO and counted as coalesced). The holder loops: it reads `requested` as G, renders,
writes the feed if its bytes changed, sets `rendered = G` on condition that it still owns the lease, and
goes again while `requested > rendered`. Then it releases the lease (on condition of its token) and, when
the generations after the release still show `requested > rendered`, tries to take it again. Every read of
the generations is strongly consistent: they come back from the holder's own conditional writes.

No request is lost. Say trigger T stored its episode, bumped `requested` to g at t_b, tried the lease at
t_a > t_b:
1. T took it. T's first read of `requested` comes after t_a, so G >= g: T renders it.
2. A live H held it at t_a. H reads the generations after each of its marks and at its release, which
   comes after t_a, so that read shows `requested >= g`. Either H renders g in its loop, or its release
   shows g pending and H tries the lease again: H takes it (case 1 for H), or K took it after H's
   release, so after t_b, and K's first read shows g (case 1 for K). A holder that stops early hands g on
   as well (below): it fails its own records, or, having lost its lease, bumps again and is in T's place.
Every render starts after the read of its G, so after the bump of g, so after T's episode was stored.

Failures:
- A holder that dies (timeout, out of memory, a killed process) keeps the lease until it expires: the
  invocation's remaining time plus a margin, so no live holder outlives its lease. The triggers that
  coalesced on it are not stranded: the dead invocation's own records fail and come back after the queue's
  visibility timeout, several times the function's timeout, so after the lease expired; the redelivery
  bumps, takes the lease and renders everything pending.
- A render or store fault releases the lease and raises: the handler fails that category's records (a
  real fault), and their redelivery renders what the triggers that coalesced on us asked for.
- A holder that lost its lease (it ran past the expiry and another took over) may just have overwritten a
  newer feed with an older render. Its mark is refused (conditional on its token), so it never records a
  generation it did not render under its lease; it bumps `requested` and tries the lease as a new
  trigger would, so a render that starts after its write puts the newest feed back.
- A holder renders at most `max_rounds` times per invocation. When requests still outpace it, it
  releases the lease and raises FeedStillBehind, failing its own records: their redelivery comes back for
  what is left, and any trigger meanwhile finds the lease free. Returning success instead would strand the
  requests that coalesced on it; holding on would block the feed for the rest of the lease.

Why not a FIFO queue with a message group per category, which also runs one rebuild per feed at a time:
EventBridge gives an SQS FIFO target one fixed message group id, so a group per category means a rule or
a queue per category, infrastructure that follows the site config; a FIFO event source mapping takes at
most 10 records a batch and no batching window, so a bulk upload of 60 episodes renders the feed at least
6 times in a row instead of a few; a group serialises without coalescing (every message still renders);
and a failing message blocks its whole group until it dead-letters. The need is not an order (a render
reads the current state anyway) but "one render after the last change", which the counters say exactly.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from podcast_pipeline.config import FeedConfig, SiteConfig
from podcast_pipeline.episode import SCHEMA_VERSION, Episode
from podcast_pipeline.feed.changes import FeedDiff, diff_feeds
from podcast_pipeline.feed.readiness import (
    IMAGE_HEAD_BYTES,
    feed_readiness,
    image_key,
    image_readiness,
)
from podcast_pipeline.feed.render import RenderedFeed, render_feed
from podcast_pipeline.problems import Problem, Severity
from podcast_pipeline.routes import DetailType

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/rss+xml; charset=utf-8"
# Podcast apps and directories poll every few minutes to hours; five minutes lets a CDN or proxy absorb
# that polling while a new episode still reaches everyone within minutes of its upload.
CACHE_CONTROL = "public, max-age=300"
GUIDS_BUDGET_BYTES = 200_000
# Renders of one feed per invocation at the most. With two invocations at once, a holder goes round again
# only for the batches the other invocation took meanwhile: a few rounds, even in a bulk upload.
MAX_ROUNDS = 10

Generations = tuple[int, int]  # (requested, rendered)


class EpisodeSource(Protocol):
    def published_episodes(self, category: str) -> list[Episode]:
        """The feed entries of `category`: its published episodes as the feed shows them (one Query)."""
        ...


class FeedObjects(Protocol):
    def read(self, key: str) -> bytes | None:
        """The object's bytes, None when there is none."""
        ...

    def read_head(self, key: str, length: int) -> bytes | None:
        """The object's first `length` bytes (all of a shorter one), None when there is none."""
        ...

    def write(self, key: str, data: bytes, content_type: str, cache_control: str) -> None: ...


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class RebuildLedger(Protocol):
    """Per feed: the generations requested and rendered, and a lease with an owner token and an expiry.

    Generations are (requested, rendered) as stored right after the write that returns them.
    """

    def request_rebuild(self, category: str) -> int:
        """Bump the feed's request generation, atomically; the generation now requested."""
        ...

    def take_rebuild_lease(self, category: str, owner: str, expires: int) -> Generations | None:
        """Hold the lease until `expires` (epoch seconds) unless another owner's lease is live (None)."""
        ...

    def mark_rendered(self, category: str, owner: str, generation: int) -> Generations | None:
        """Record `generation` as rendered if `owner` still holds the lease; None when it lost it."""
        ...

    def release_rebuild_lease(self, category: str, owner: str) -> Generations:
        """Give the lease up if `owner` holds it; the generations as they stand after."""
        ...


@dataclass(frozen=True)
class FeedResult:
    category: str
    key: str
    url: str
    sha256: str
    item_count: int
    written: bool
    diff: FeedDiff
    warnings: tuple[Problem, ...]


@dataclass(frozen=True)
class FeedRebuild:
    """What one invocation did for one feed: its renders, in order."""

    category: str
    renders: tuple[FeedResult, ...]

    @property
    def coalesced(self) -> bool:
        """No render of its own: the lease holder's render includes this request."""
        return not self.renders


class FeedStillBehind(RuntimeError):
    """Requests kept coming faster than this invocation could render them; the lease is released."""

    def __init__(self, rebuild: FeedRebuild) -> None:
        super().__init__(
            f"the {rebuild.category} feed is still behind its requests after {len(rebuild.renders)} renders"
        )
        self.rebuild = rebuild


def rebuild_feeds(
    categories: Iterable[str],
    *,
    config: SiteConfig,
    store: EpisodeSource,
    objects: FeedObjects,
    publisher: EventPublisher,
    ledger: RebuildLedger | None = None,
    lease_seconds: int = 300,
    max_rounds: int = MAX_ROUNDS,
    clock: Callable[[], float] = time.time,
) -> list[FeedRebuild]:
    """Rebuild each distinct category; categories without a feed are skipped.

    Without a `ledger`, each feed is rendered once. With one, concurrent triggers coalesce (see the module
    docstring): a feed whose lease another live invocation holds is not rendered here, and the lease lasts
    `lease_seconds` from now. Raises FeedStillBehind, or whatever a render or the ledger raised, after
    releasing the lease.
    """
    feeds: list[FeedConfig] = []
    for category in dict.fromkeys(categories):
        if category in config.feeds:
            feeds.append(config.feeds[category])
        else:
            logger.info("no feed configured for category %r; skipped", category)
    expires = int(clock()) + lease_seconds
    results = []
    for feed in feeds:
        render = functools.partial(_rebuild, feed, config, store, objects, publisher)
        if ledger is None:
            results.append(FeedRebuild(feed.category, (render(),)))
        else:
            results.append(_coalescing(feed.category, render, ledger, expires, max_rounds))
    return results


def _coalescing(
    category: str,
    render: Callable[[], FeedResult],
    ledger: RebuildLedger,
    expires: int,
    max_rounds: int,
) -> FeedRebuild:
    """Ask for a render of the feed, and render it while this invocation holds its lease."""
    renders: list[FeedResult] = []
    generation = ledger.request_rebuild(category)
    while True:
        owner = uuid.uuid4().hex
        taken = ledger.take_rebuild_lease(category, owner, expires)
        if taken is None:
            if not renders:
                logger.info(
                    "%s: another invocation holds the rebuild lease; its render includes request %d",
                    category,
                    generation,
                )
            return FeedRebuild(category, tuple(renders))
        try:
            _render_while_behind(category, owner, taken, render, ledger, renders, max_rounds)
        except BaseException:
            _release_after_fault(ledger, category, owner)
            raise
        requested, rendered = ledger.release_rebuild_lease(category, owner)
        if requested <= rendered:
            return FeedRebuild(category, tuple(renders))
        if len(renders) >= max_rounds:
            raise FeedStillBehind(FeedRebuild(category, tuple(renders)))
        logger.info("%s: requested again as the lease was released; taking it again", category)


def _render_while_behind(
    category: str,
    owner: str,
    generations: Generations,
    render: Callable[[], FeedResult],
    ledger: RebuildLedger,
    renders: list[FeedResult],
    max_rounds: int,
) -> None:
    """Render (appending to `renders`) while renders are requested, the lease is ours and rounds are left."""
    requested, rendered = generations
    while requested > rendered and len(renders) < max_rounds:
        renders.append(render())
        marked = ledger.mark_rendered(category, owner, requested)
        if marked is None:
            logger.warning(
                "%s: the rebuild lease expired during a render and was taken over; requesting another render",
                category,
            )
            ledger.request_rebuild(category)
            return
        requested, rendered = marked


def _release_after_fault(ledger: RebuildLedger, category: str, owner: str) -> None:
    try:
        ledger.release_rebuild_lease(category, owner)
    except Exception:
        logger.exception("%s: the rebuild lease could not be released; it expires by itself", category)


def _rebuild(
    feed: FeedConfig,
    config: SiteConfig,
    store: EpisodeSource,
    objects: FeedObjects,
    publisher: EventPublisher,
) -> FeedResult:
    rendered = render_feed(feed, config, store.published_episodes(feed.category))
    for problem in rendered.warnings:
        logger.warning("%s: %s: %s", problem.key, problem.code.value, problem.message)
    old = objects.read(feed.key)
    url = config.feed_url(feed.category)
    if old == rendered.xml:
        logger.info("%s unchanged (%d items)", feed.key, rendered.item_count)
        return _result(feed, url, rendered, written=False, diff=FeedDiff((), (), ()))
    diff = diff_feeds(old, rendered.xml)
    objects.write(feed.key, rendered.xml, CONTENT_TYPE, CACHE_CONTROL)
    # Only for a feed that changed: an unchanged rebuild reads no artwork and repeats no findings.
    readiness = _readiness(feed, config, objects)
    publisher.publish(
        DetailType.FEED_UPDATED,
        feed_updated_detail(feed.category, feed.key, url, rendered, diff, readiness=readiness),
    )
    logger.info(
        "%s written: %d items, %d added, %d removed, %d changed",
        feed.key,
        rendered.item_count,
        len(diff.added),
        len(diff.removed),
        len(diff.changed),
    )
    return _result(feed, url, rendered, written=True, diff=diff)


def _readiness(feed: FeedConfig, config: SiteConfig, objects: FeedObjects) -> tuple[Problem, ...]:
    """What would make Apple reject or flag the feed, each logged: its config, and its artwork when the
    artwork is in the bucket (only the image's header is read), as `check` reads it from the site folder."""
    found = feed_readiness(feed)
    image = image_key(feed, config)
    head = objects.read_head(image, IMAGE_HEAD_BYTES) if image else None
    if image and head is not None:
        found += image_readiness(head, key=image)
    for problem in found:
        level = logging.ERROR if problem.severity is Severity.ERROR else logging.WARNING
        logger.log(level, "%s: feed readiness: %s: %s", feed.key, problem.code.value, problem.message)
    return found


def _result(
    feed: FeedConfig, url: str, rendered: RenderedFeed, *, written: bool, diff: FeedDiff
) -> FeedResult:
    return FeedResult(
        category=feed.category,
        key=feed.key,
        url=url,
        sha256=rendered.sha256,
        item_count=rendered.item_count,
        written=written,
        diff=diff,
        warnings=rendered.warnings,
    )


def feed_updated_detail(
    category: str,
    key: str,
    url: str,
    rendered: RenderedFeed,
    diff: FeedDiff,
    *,
    readiness: tuple[Problem, ...] = (),
) -> dict[str, Any]:
    """The `detail` of a Feed Updated event.

    EventBridge takes at most 256 KB per event; the guid lists of a first build of a large show would not
    fit, so they are cut short at a budget and `guids_truncated` says so (the counts stay exact).
    `idempotency_key` (`<category>#<sha256>`) names the feed bytes announced: a re-sent event keeps it.
    """
    budget = GUIDS_BUDGET_BYTES
    lists: dict[str, list[str]] = {}
    for name, guids in (
        ("guids_added", diff.added),
        ("guids_removed", diff.removed),
        ("guids_changed", diff.changed),
    ):
        kept: list[str] = []
        for guid in guids:
            budget -= len(guid.encode("utf-8")) + 4  # quotes, comma, space
            if budget < 0:
                break
            kept.append(guid)
        lists[name] = kept
    return {
        "schema_version": SCHEMA_VERSION,
        "category": category,
        "key": key,
        "url": url,
        "item_count": rendered.item_count,
        "sha256": rendered.sha256,
        **lists,
        "counts": {"added": len(diff.added), "removed": len(diff.removed), "changed": len(diff.changed)},
        "guids_truncated": budget < 0,
        "warning_count": len(rendered.warnings),
        "readiness": [
            {"code": p.code.value, "severity": p.severity.value, "message": p.message} for p in readiness
        ],
        "idempotency_key": f"{category}#{rendered.sha256}",
    }
