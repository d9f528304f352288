"""What a pipeline run ends with, in a form two runs can be compared by: episodes, feed items, events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lxml import etree

ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"

FeedItem = tuple[str, str, str, str, str]  # guid, enclosure url, enclosure length, itunes:duration, title


def feed_items(xml: bytes) -> list[FeedItem]:
    """The items of an RSS feed, in feed order, by what a podcast app reads of them."""
    root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    items = []
    for item in root.iter("item"):
        enclosure = item.find("enclosure")
        items.append(
            (
                item.findtext("guid") or "",
                "" if enclosure is None else enclosure.get("url", ""),
                "" if enclosure is None else enclosure.get("length", ""),
                item.findtext(f"{ITUNES}duration") or "",
                item.findtext("title") or "",
            )
        )
    return items


def feeds_of(paths: Mapping[str, str]) -> dict[str, list[FeedItem]]:
    """Feed items by category, from the feed files a local run wrote."""
    return {category: feed_items(Path(path).read_bytes()) for category, path in paths.items()}


def episodes_of(entries: Iterable[Mapping[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Report episodes (or MP3s awaiting their post) by id: state, title, measured facts, problems."""
    return {
        str(entry["id"] or entry["audio"]["key"]): (
            entry["state"],
            entry["title"],
            entry["measured"],
            entry["problems"],
        )
        for entry in entries
    }


def episode_event_counts(events: Iterable[Mapping[str, Any]]) -> Counter[tuple[str, str]]:
    """(detail-type, episode id) of every Episode * event, with how often each was emitted."""
    return Counter(
        (str(e["detail-type"]), str(e["detail"]["id"]))
        for e in events
        if str(e["detail-type"]).startswith("Episode")
    )
