"""Whether subscribers would notice moving from one feed to another: `podcast-pipeline feed diff`.

`compare_feeds` says, field by field, what a subscriber's app would notice, for checking a migrated feed
against the live one. What disturbs subscribers: an item removed (a changed guid is one removed and one
added), since apps drop the episode or, seeing the new guid, download it again as a new episode; and a
changed enclosure url or length, which makes apps download the audio again. Added items (new episodes, or a
back catalogue the old feed had trimmed) and changed titles, dates or durations are reported but expected.
Items are compared by content as `podcast_pipeline.feed.changes` compares them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from lxml import etree

from podcast_pipeline.durations import parse_duration
from podcast_pipeline.feed.changes import FEED_PARSER, FeedDiff, diff_items, item_digest, keyed_items
from podcast_pipeline.feed.render import ITUNES_NS

DISTURBING_FIELDS = frozenset({"enclosure url", "enclosure length"})


class FeedError(ValueError):
    """Bytes that are not an RSS feed; the message says why."""


@dataclass(frozen=True)
class FieldChange:
    guid: str
    field: str  # title, pubDate, enclosure url, enclosure length, duration
    old: str | None  # as written; None when the item has no such field
    new: str | None

    @property
    def disturbing(self) -> bool:
        return self.field in DISTURBING_FIELDS

    def to_dict(self) -> dict[str, Any]:
        return {
            "guid": self.guid,
            "field": self.field,
            "old": self.old,
            "new": self.new,
            "disturbing": self.disturbing,
        }


@dataclass(frozen=True)
class FeedComparison:
    items: FeedDiff  # `changed`: any difference in an item's content, show notes included
    fields: tuple[FieldChange, ...]  # what apps show or download, item by item

    @property
    def disturbs_subscribers(self) -> bool:
        return bool(self.items.removed) or any(change.disturbing for change in self.fields)

    def to_dict(self) -> dict[str, Any]:
        return {
            "disturbs_subscribers": self.disturbs_subscribers,
            "added": list(self.items.added),
            "removed": list(self.items.removed),
            "changed": list(self.items.changed),
            "field_changes": [change.to_dict() for change in self.fields],
        }


def compare_feeds(old: bytes, new: bytes) -> FeedComparison:
    """Items added, removed and changed, with the field changes subscribers would see; FeedError if either
    document is not an RSS feed."""
    old_items, new_items = _rss_items(old, "old"), _rss_items(new, "new")
    items = diff_items(
        {guid: item_digest(item) for guid, item in old_items.items()},
        {guid: item_digest(item) for guid, item in new_items.items()},
    )
    fields = tuple(
        FieldChange(guid, name, before, after)
        for guid in items.changed
        for name, (before, after) in _field_pairs(old_items[guid], new_items[guid]).items()
        if not _same(name, before, after)
    )
    return FeedComparison(items, fields)


def _rss_items(xml: bytes, which: str) -> dict[str, etree._Element]:
    try:
        root = etree.fromstring(xml, FEED_PARSER)
    except etree.XMLSyntaxError as problem:
        raise FeedError(f"the {which} feed is not XML: {problem}") from problem
    if root.tag != "rss" or root.find("channel") is None:
        raise FeedError(f"the {which} feed is not RSS (<{root.tag}> without <channel>)")
    return dict(keyed_items(root))


def _fields(item: etree._Element) -> dict[str, str | None]:
    enclosure = item.find("enclosure")
    return {
        "title": item.findtext("title"),
        "pubDate": item.findtext("pubDate"),
        "enclosure url": enclosure.get("url") if enclosure is not None else None,
        "enclosure length": enclosure.get("length") if enclosure is not None else None,
        "duration": item.findtext(f"{{{ITUNES_NS}}}duration"),
    }


def _field_pairs(old: etree._Element, new: etree._Element) -> dict[str, tuple[str | None, str | None]]:
    before, after = _fields(old), _fields(new)
    return {name: (before[name], after[name]) for name in before}


def _same(field: str, old: str | None, new: str | None) -> bool:
    """Equal as apps read them: one instant in any zone, one length in seconds or as a clock, one text
    however it is spaced."""
    if old is None or new is None:
        return old is new
    readers: dict[str, Callable[[str], object]] = {
        "pubDate": parsedate_to_datetime,
        "duration": parse_duration,
    }
    normal = readers.get(field)
    if normal is not None:
        try:
            return normal(old) == normal(new)
        except (TypeError, ValueError):
            pass  # unreadable on one side: compare as written
    return " ".join(old.split()) == " ".join(new.split())
