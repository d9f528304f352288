"""What changed between two versions of a feed, item by item, keyed on guid (the feed-updated event's guids).

Items are compared by content, not by bytes: whitespace between elements, the order of attributes, of an
item's elements and of the items, and CDATA versus escaped text do not count as changes, so a feed written
by another tool diffs cleanly. The field-by-field comparison of two feeds for a migration is a tool:
`podcast_pipeline_tools.feed.diff`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from lxml import etree

# An existing feed may come from anywhere: no entities, no network, but large CDATA sections are fine.
FEED_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, remove_blank_text=True)


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
        root = etree.fromstring(xml, FEED_PARSER)
    except etree.XMLSyntaxError:
        return {}
    return {key: item_digest(item) for key, item in keyed_items(root)}


def keyed_items(root: etree._Element) -> Iterator[tuple[str, etree._Element]]:
    """Every item with its key: the guid, else the link; items with neither cannot be told apart."""
    for item in root.iterfind("channel/item"):
        key = (item.findtext("guid") or item.findtext("link") or "").strip()
        if key:
            yield key, item


def item_digest(item: etree._Element) -> str:
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
