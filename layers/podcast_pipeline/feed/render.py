"""The RSS 2.0 podcast feed of one category, written with lxml.

Equal inputs give equal bytes: items are sorted here, and `lastBuildDate` is the newest episode's date, not
the time of the build, so an unchanged feed is never rewritten. The document is streamed with
`lxml.etree.xmlfile`, which can also split show notes that contain `]]>` over several CDATA sections. Show
notes come rendered with the episode (ingest renders them once per post): a rebuild only assembles XML.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, tzinfo
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lxml import etree

from podcast_pipeline.config import ConfigError, FeedConfig, SiteConfig
from podcast_pipeline.episode import Episode, State
from podcast_pipeline.feed.apple_categories import group_categories
from podcast_pipeline.feed.podcasting import (
    ItemExtras,
    enclosure_url,
    item_extras,
    write_item_extras,
    write_persons,
)
from podcast_pipeline.problems import NOTES_CODES, Problem

ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
NSMAP = {"itunes": ITUNES_NS, "podcast": PODCAST_NS, "atom": ATOM_NS, "content": CONTENT_NS}
# The Podcasting 2.0 namespace's UUIDv5 namespace for podcast:guid.
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
GENERATOR = "podcast-pipeline"
AUDIO_TYPE = "audio/mpeg"
FEED_TYPES = ("episodic", "serial")

# Characters XML 1.0 cannot carry at all (C0 controls but tab/newline/return, surrogates, U+FFFE/U+FFFF).
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


@dataclass(frozen=True)
class RenderedFeed:
    xml: bytes
    sha256: str
    guids: tuple[str, ...]  # in feed order
    warnings: tuple[Problem, ...]  # the show-notes findings of its episodes, keyed by post

    @property
    def item_count(self) -> int:
        return len(self.guids)


def xml_text(value: object) -> str:
    """`value` as text XML can carry: characters XML forbids are removed."""
    return _XML_ILLEGAL.sub("", str(value))


def plain_text(value: object) -> str:
    """One line of XML-safe text: runs of whitespace become one space (titles, descriptions)."""
    return " ".join(xml_text(value).split())


def cdata_sections(text: str) -> list[etree.CDATA]:
    """`text` as CDATA sections: `]]>` cannot occur inside one, so each is split as `]]` | `>`."""
    parts = xml_text(text).split("]]>")
    sections = [parts[0]]
    for part in parts[1:]:
        sections[-1] += "]]"
        sections.append(">" + part)
    return [etree.CDATA(section) for section in sections]


def podcast_guid(feed_url: str) -> str:
    """podcast:guid as its namespace defines it: UUIDv5 of the feed URL less scheme and trailing slashes."""
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, _SCHEME.sub("", feed_url).rstrip("/")))


def site_timezone(config: SiteConfig) -> tzinfo:
    """Jekyll's `timezone` setting (posts dated by file name are at midnight there); UTC when unset."""
    name = config.site.get("timezone")
    if not name:
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ConfigError(f"`site.timezone` {name!r} is not a known time zone") from err


def pub_date(date: str, tz: tzinfo) -> str:
    """RFC 2822 date of an ISO post date, at midnight in `tz`."""
    day = datetime.fromisoformat(date[:10])
    return format_datetime(day.replace(tzinfo=tz))


def validate_feed(feed: FeedConfig) -> None:
    """Raise ConfigError for what Apple or the RSS validators would reject."""
    where = f"feeds.{feed.category}"
    try:
        group_categories(feed.categories)
    except ValueError as err:
        raise ConfigError(f"`{where}.categories`: {err}") from err
    if feed.type not in FEED_TYPES:
        raise ConfigError(f"`{where}.type` must be one of {', '.join(FEED_TYPES)}, not {feed.type!r}")
    if not _LANGUAGE.match(feed.language):
        raise ConfigError(f"`{where}.language` {feed.language!r} is not a language code such as en or en-us")
    if feed.owner_email and "@" not in feed.owner_email:
        raise ConfigError(f"`{where}.owner_email` {feed.owner_email!r} is not an e-mail address")


def sort_episodes(episodes: Sequence[Episode]) -> list[Episode]:
    """Newest first: date, then number, descending; id ascending breaks the remaining ties."""
    by_id = sorted(episodes, key=lambda e: e.id)
    return sorted(by_id, key=lambda e: (e.date, -1 if e.number is None else e.number), reverse=True)


def episode_guid(episode: Episode, config: SiteConfig) -> str:
    return episode.permalink or config.permalink(
        number=episode.number, slug=episode.slug, category=episode.category, date=episode.date
    )


class _Writer:
    """Thin helpers over an lxml incremental writer, so namespaced elements keep their prefixes."""

    def __init__(self, xf: Any) -> None:
        self._xf = xf

    @contextmanager
    def element(self, tag: str, attrib: Mapping[str, str] | None = None) -> Iterator[None]:
        with self._xf.element(_qname(tag), {_qname(k): xml_text(v) for k, v in (attrib or {}).items()}):
            self._xf.write("\n")
            yield
        self._xf.write("\n")

    def leaf(self, tag: str, text: object = None, /, **attrib: str) -> None:
        with self._xf.element(_qname(tag), {_qname(k): xml_text(v) for k, v in attrib.items()}):
            if text is not None:
                self._xf.write(xml_text(text))
        self._xf.write("\n")

    def cdata(self, tag: str, text: str) -> None:
        with self._xf.element(_qname(tag)):
            self._xf.write(*cdata_sections(text))
        self._xf.write("\n")


def _qname(name: str) -> str:
    prefix, colon, local = name.partition(":")
    return f"{{{NSMAP[prefix]}}}{local}" if colon else name


def render_feed(
    feed: FeedConfig,
    config: SiteConfig,
    episodes: Sequence[Episode],
    extras: Mapping[str, ItemExtras] | None = None,
) -> RenderedFeed:
    """The feed of `feed.category` from its published episodes (others are left out).

    `extras` are the items' Podcasting 2.0 facts by episode id, as ingest decided them; an episode without
    any gets what its post alone says (number, season, guests: no chapters, no transcripts).
    """
    validate_feed(feed)
    tz = site_timezone(config)
    chosen = sort_episodes(
        [e for e in episodes if e.state is State.PUBLISHED and e.category == feed.category],
    )
    guids: list[str] = []
    warnings: list[Problem] = []
    buffer = io.BytesIO()
    with etree.xmlfile(buffer, encoding="utf-8") as xf:
        xf.write_declaration()
        with xf.element("rss", {"version": "2.0"}, nsmap=NSMAP):
            out = _Writer(xf)
            with out.element("channel"):
                _channel(out, feed, config, chosen[0].date if chosen else None, tz)
                for episode in chosen:
                    guid = episode_guid(episode, config)
                    warnings.extend(p for p in episode.problems if p.code in NOTES_CODES)
                    found = (extras or {}).get(episode.id)
                    _item(out, episode, guid, tz, feed, found or _post_extras(episode, config))
                    guids.append(guid)
    xml = buffer.getvalue()
    return RenderedFeed(xml, hashlib.sha256(xml).hexdigest(), tuple(guids), tuple(warnings))


def _channel(out: _Writer, feed: FeedConfig, config: SiteConfig, newest: str | None, tz: tzinfo) -> None:
    feed_url = config.feed_url(feed.category)
    out.leaf("title", plain_text(feed.title))
    out.leaf("link", feed.link)
    out.leaf("description", plain_text(feed.description))
    out.leaf("language", feed.language)
    if feed.copyright:
        out.leaf("copyright", plain_text(feed.copyright))
    out.leaf("generator", GENERATOR)
    if newest:
        out.leaf("lastBuildDate", pub_date(newest, tz))
    out.leaf("atom:link", href=feed_url, rel="self", type="application/rss+xml")
    for hub in feed.websub_hubs:
        out.leaf("atom:link", href=hub, rel="hub")
    if feed.image:
        with out.element("image"):
            out.leaf("url", feed.image)
            out.leaf("title", plain_text(feed.title))
            out.leaf("link", feed.link)
        out.leaf("itunes:image", href=feed.image)
    if feed.author:
        out.leaf("itunes:author", plain_text(feed.author))
    if feed.owner_name or feed.owner_email:
        with out.element("itunes:owner"):
            if feed.owner_name:
                out.leaf("itunes:name", plain_text(feed.owner_name))
            if feed.owner_email:
                out.leaf("itunes:email", feed.owner_email)
    out.leaf("itunes:explicit", "true" if feed.explicit else "false")
    for parent, children in group_categories(feed.categories).items():
        with out.element("itunes:category", {"text": parent}):
            for child in children:
                out.leaf("itunes:category", text=child)
    out.leaf("itunes:type", feed.type)
    out.leaf("podcast:guid", feed.guid or podcast_guid(feed_url))
    locked = {"owner": feed.owner_email} if feed.owner_email else {}
    out.leaf("podcast:locked", "yes" if feed.locked else "no", **locked)
    if feed.funding_url:
        out.leaf("podcast:funding", "Support the show", url=feed.funding_url)
    write_persons(out, feed.hosts)


def _post_extras(episode: Episode, config: SiteConfig) -> ItemExtras:
    return item_extras(episode.number, episode.front_matter, config)


def item_title(episode: Episode) -> str:
    """The item's `<title>`: the post's title as one line, else its slug."""
    return plain_text(episode.title or "") or episode.slug


def item_description(episode: Episode) -> str:
    """The item's `<description>`: the front-matter's, else the notes' first paragraph."""
    described = episode.front_matter.get("description")
    return plain_text(
        described if isinstance(described, str) and described.strip() else episode.notes_summary
    )


def _item(
    out: _Writer, episode: Episode, guid: str, tz: tzinfo, feed: FeedConfig, extras: ItemExtras
) -> None:
    title, description = item_title(episode), item_description(episode)
    with out.element("item"):
        out.leaf("title", title)
        if description:
            out.leaf("description", description)
        out.leaf("link", guid)
        out.leaf("guid", guid, isPermaLink="false")
        out.leaf("pubDate", pub_date(episode.date, tz))
        if episode.has_audio and episode.audio_url and episode.audio_bytes is not None:
            url = enclosure_url(episode.audio_url, feed)
            out.leaf("enclosure", url=url, length=str(episode.audio_bytes), type=AUDIO_TYPE)
            if episode.duration_seconds is not None:
                out.leaf("itunes:duration", str(episode.duration_seconds))
        out.leaf("itunes:title", title)
        write_item_extras(out, extras, feed)
        out.leaf("itunes:episodeType", "full")
        if episode.notes_html:
            out.cdata("content:encoded", episode.notes_html)
