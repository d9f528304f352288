"""What changed between two versions of a feed, item by item, keyed on guid.

Items are compared by content, not by bytes: whitespace between elements, the order of attributes, of an
item's elements and of the items, and CDATA versus escaped text do not count as changes, so a feed written
by another tool diffs cleanly.

`compare_feeds` also says, field by field, what a subscriber's app would notice, for checking a migrated feed
against the live one. What disturbs subscribers: an item removed (a changed guid is one removed and one
added), since apps drop the episode or, seeing the new guid, download it again as a new episode; and a
changed enclosure url or length, which makes apps download the audio again. Added items (new episodes, or a
back catalogue the old feed had trimmed) and changed titles, dates or durations are reported but expected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from lxml import etree

from podcast_pipeline.durations import parse_duration
from podcast_pipeline.feed.render import ITUNES_NS

# An existing feed may come from anywhere: no entities, no network, but large CDATA sections are fine.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=True)
DISTURBING_FIELDS = frozenset({"enclosure url", "enclosure length"})


class FeedError(ValueError):
    """Bytes that are not an RSS feed; the message says why."""


@dataclass(frozen=True)
class FeedDiff:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def item_digests(xml: bytes | None) -> dict[str, str]:
    """guid → content digest of every item of an RSS document; {} for no or unreadable bytes."""
    if not xml:
        return {}
    try:
        root = etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError:
        return {}
    return {key: _digest(item) for key, item in _keyed_items(root)}


def _keyed_items(root: etree._Element) -> Iterator[tuple[str, etree._Element]]:
    """Every item with its key: the guid, else the link; items with neither cannot be told apart."""
    for item in root.iterfind("channel/item"):
        key = (item.findtext("guid") or item.findtext("link") or "").strip()
        if key:
            yield key, item


def _digest(item: etree._Element) -> str:
    return hashlib.sha256(_canonical(item).encode("utf-8")).hexdigest()


def _canonical(element: etree._Element) -> str:
    attributes = "".join(f" {name!r}={value!r}" for name, value in sorted(element.attrib.items()))
    text = (element.text or "").strip()
    # RSS gives the order of an item's elements no meaning.
    children = "".join(sorted(_canonical(child) for child in element if isinstance(child.tag, str)))
    tag = element.tag if isinstance(element.tag, str) else ""
    return f"<{tag}{attributes}>{text!r}{children}</>"


def diff_items(old: Mapping[str, str], new: Mapping[str, str]) -> FeedDiff:
    """Guids added, removed and changed, each in the order of the feed they come from."""
    return FeedDiff(
        added=tuple(guid for guid in new if guid not in old),
        removed=tuple(guid for guid in old if guid not in new),
        changed=tuple(guid for guid in new if guid in old and old[guid] != new[guid]),
    )


def diff_feeds(old: bytes | None, new: bytes) -> FeedDiff:
    return diff_items(item_digests(old), item_digests(new))


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
        {guid: _digest(item) for guid, item in old_items.items()},
        {guid: _digest(item) for guid, item in new_items.items()},
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
        root = etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError as problem:
        raise FeedError(f"the {which} feed is not XML: {problem}") from problem
    if root.tag != "rss" or root.find("channel") is None:
        raise FeedError(f"the {which} feed is not RSS (<{root.tag}> without <channel>)")
    return dict(_keyed_items(root))


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
