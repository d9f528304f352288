"""The Podcasting 2.0 elements of an item (https://podcastindex.org/namespace/1.0), and the enclosure URL.

An item's extras come in one small value, `ItemExtras`, decided at ingest (chapters file, guests,
transcripts, numbers) and kept with the episode, so a feed rebuild only writes them out. The feed's hosts are
not in it: they come from the config at render, so changing them needs no episode to be ingested again.

What each element is, as the namespace defines it (docs/1.0.md):

- `<podcast:episode>N</podcast:episode>`: a number, beside `itunes:episode` (both from 1: a number 0, the
  show's preview, is left to the title).
- `<podcast:season>N</podcast:season>`: an integer >= 1, beside `itunes:season`: the post's `season`,
  else the feed's.
- `<podcast:chapters url type="application/json+chapters"/>`: once an item, both attributes required.
- `<podcast:person role href img>name</podcast:person>`: many; item persons replace the channel's, so each
  item names the hosts again with its guests.
- `<podcast:transcript url type [rel="captions"]/>`: many; SubRip is marked as captions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from podcast_pipeline.chapters import CONTENT_TYPE as CHAPTERS_TYPE
from podcast_pipeline.config import FeedConfig, SiteConfig
from podcast_pipeline.people import Person, guests
from podcast_pipeline.transcripts import TranscriptFacts


class ElementWriter(Protocol):
    """What of render's writer this module uses: one element with text and attributes."""

    def leaf(self, tag: str, text: object = None, /, **attrib: str) -> None: ...


@dataclass(frozen=True)
class TranscriptLink:
    url: str
    content_type: str  # text/vtt | application/x-subrip
    captions: bool = False  # rel="captions"

    @classmethod
    def of(cls, facts: TranscriptFacts) -> TranscriptLink:
        return cls(url=facts.url, content_type=facts.content_type, captions=facts.is_captions)


@dataclass(frozen=True)
class ItemExtras:
    """An item's Podcasting 2.0 facts, the feed's stored projection of what ingest decided."""

    episode: int | None = None  # itunes:episode and podcast:episode
    season: int | None = None  # the post's; the feed's `season` applies when it has none
    chapters_url: str | None = None  # None: the post has no topic list
    guests: tuple[Person, ...] = ()
    transcripts: tuple[TranscriptLink, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "episode": self.episode,
            "season": self.season,
            "chapters_url": self.chapters_url,
            "guests": [guest.to_dict() for guest in self.guests],
            "transcripts": [
                {"url": t.url, "content_type": t.content_type, "captions": t.captions}
                for t in self.transcripts
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ItemExtras:
        return cls(
            episode=data.get("episode"),
            season=data.get("season"),
            chapters_url=data.get("chapters_url"),
            guests=tuple(Person.from_dict(g) for g in data.get("guests") or ()),
            transcripts=tuple(
                TranscriptLink(t["url"], t["content_type"], bool(t.get("captions")))
                for t in data.get("transcripts") or ()
            ),
        )


def item_extras(
    number: int | None,
    front_matter: Mapping[str, Any],
    config: SiteConfig,
    *,
    chapters_url: str | None = None,
    transcripts: tuple[TranscriptFacts, ...] = (),
) -> ItemExtras:
    """An item's extras from its post (number, front-matter) and what ingest made of it: the URL of the
    chapters file it wrote (None when the post has no topics) and the transcripts that validated."""
    return ItemExtras(
        episode=number,
        season=post_season(front_matter),
        chapters_url=chapters_url,
        guests=guests(front_matter, image_template=config.guest_image_template),
        transcripts=tuple(TranscriptLink.of(facts) for facts in transcripts),
    )


def post_season(front_matter: Mapping[str, Any]) -> int | None:
    """The post's `season`, a whole number >= 1; any other value is no season (the feed's applies)."""
    value = front_matter.get("season")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return None


def enclosure_url(url: str, feed: FeedConfig) -> str:
    """`url` behind the feed's analytics prefix, if any. Prefix services (OP3, Podtrac, Chartable) take the
    URL without its `https://`; an `http://` URL keeps its scheme, so the service does not upgrade it."""
    if not feed.enclosure_prefix:
        return url
    return feed.enclosure_prefix + url.removeprefix("https://")


def write_persons(out: ElementWriter, people: tuple[Person, ...]) -> None:
    for person in people:
        attributes = {"role": person.role}
        if person.href:
            attributes["href"] = person.href
        if person.img:
            attributes["img"] = person.img
        out.leaf("podcast:person", person.name, **attributes)


def write_item_extras(out: ElementWriter, extras: ItemExtras, feed: FeedConfig) -> None:
    """The numbering (iTunes and Podcasting 2.0) and the Podcasting 2.0 elements of one item."""
    # Apple numbers episodes from 1; a number 0 (a preview) is left to the title.
    if extras.episode:
        out.leaf("itunes:episode", str(extras.episode))
        out.leaf("podcast:episode", str(extras.episode))
    season = extras.season or feed.season
    if season:
        out.leaf("itunes:season", str(season))
        out.leaf("podcast:season", str(season))
    if extras.chapters_url:
        out.leaf("podcast:chapters", url=extras.chapters_url, type=CHAPTERS_TYPE)
    write_persons(out, (*feed.hosts, *extras.guests))
    for transcript in extras.transcripts:
        rel = {"rel": "captions"} if transcript.captions else {}
        out.leaf("podcast:transcript", url=transcript.url, type=transcript.content_type, **rel)
