"""Rebuild the feeds of some categories from the store, write the ones whose bytes changed, announce them.

Written against small Protocols so it runs the same on AWS, on the local emulation and in tests.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from podcast_pipeline.config import FeedConfig, SiteConfig
from podcast_pipeline.episode import SCHEMA_VERSION, Episode
from podcast_pipeline.feed.diff import FeedDiff, diff_feeds
from podcast_pipeline.feed.render import RenderedFeed, render_feed
from podcast_pipeline.problems import Problem
from podcast_pipeline.routes import DetailType

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/rss+xml; charset=utf-8"
# Podcast apps and directories poll every few minutes to hours; five minutes lets a CDN or proxy absorb
# that polling while a new episode still reaches everyone within minutes of its upload.
CACHE_CONTROL = "public, max-age=300"
GUIDS_BUDGET_BYTES = 200_000


class EpisodeSource(Protocol):
    def published_episodes(self, category: str) -> list[Episode]:
        """The published episodes of `category` (a Query on a sparse index, never a Scan)."""
        ...


class FeedObjects(Protocol):
    def read(self, key: str) -> bytes | None:
        """The object's bytes, None when there is none."""
        ...

    def write(self, key: str, data: bytes, content_type: str, cache_control: str) -> None: ...


class EventPublisher(Protocol):
    def publish(self, detail_type: str, detail: dict[str, Any]) -> None: ...


class FeedLease(Protocol):
    """A lock that expires by itself, so a crashed rebuild cannot hold a feed forever."""

    def acquire_lease(self, name: str, seconds: int) -> bool: ...

    def release_lease(self, name: str) -> None: ...


class LeaseBusy(RuntimeError):
    """Another invocation is rebuilding this feed; retry later rather than race it."""


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


def lease_name(category: str) -> str:
    return f"feed#{category}"


def rebuild_feeds(
    categories: Iterable[str],
    *,
    config: SiteConfig,
    store: EpisodeSource,
    objects: FeedObjects,
    publisher: EventPublisher,
    lease: FeedLease | None = None,
    lease_seconds: int = 300,
) -> list[FeedResult]:
    """Rebuild each distinct category once; categories without a feed are skipped.

    With a `lease`, a feed another invocation is rebuilding raises LeaseBusy before anything is read,
    and the lease is released whatever happens after it was taken.
    """
    feeds: list[FeedConfig] = []
    for category in dict.fromkeys(categories):
        if category in config.feeds:
            feeds.append(config.feeds[category])
        else:
            logger.info("no feed configured for category %r; skipped", category)
    if not feeds:
        return []
    results = []
    for feed in feeds:
        if lease is None:
            results.append(_rebuild(feed, config, store, objects, publisher))
            continue
        if not lease.acquire_lease(lease_name(feed.category), lease_seconds):
            raise LeaseBusy(f"the {feed.category} feed is being rebuilt by another invocation")
        try:
            results.append(_rebuild(feed, config, store, objects, publisher))
        finally:
            lease.release_lease(lease_name(feed.category))
    return results


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
    publisher.publish(
        DetailType.FEED_UPDATED, feed_updated_detail(feed.category, feed.key, url, rendered, diff)
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
    category: str, key: str, url: str, rendered: RenderedFeed, diff: FeedDiff
) -> dict[str, Any]:
    """The `detail` of a Feed Updated event.

    EventBridge takes at most 256 KB per event; the guid lists of a first build of a large show would not
    fit, so they are cut short at a budget and `guids_truncated` says so (the counts stay exact).
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
    }
