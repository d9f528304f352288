"""The corpus show's feeds, read back by feedparser and gPodder's podcastparser, and held to the podcast
rules the W3C feed validator enforces."""

from __future__ import annotations

import email.utils
import io
import re

import feedparser
import podcastparser
import pytest
from corpus import CORPUS_CONFIG, CORPUS_COUNTS, CorpusPost, corpus_posts, duration_seconds
from lxml import etree

from podcast_pipeline.audio import AudioFacts
from podcast_pipeline.config import SiteConfig, load_config
from podcast_pipeline.decision import MeasuredAudio, ParsedPost, decide
from podcast_pipeline.episode import Episode, SourceRef, State
from podcast_pipeline.feed.apple_categories import APPLE_CATEGORIES
from podcast_pipeline.feed.notes import ShowNotes
from podcast_pipeline.feed.render import ITUNES_NS, RenderedFeed, render_feed
from podcast_pipeline.posts import parse_post

IT = f"{{{ITUNES_NS}}}"
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d{2}:\d{2}:\d{2} ([+-]\d{4}|GMT)$"
)

EPISODES = CORPUS_COUNTS["podcast"]


def corpus_episode(source: CorpusPost, config: SiteConfig) -> Episode:
    """What ingest makes of a post whose MP3 measures exactly what the post claims (the bucket has no
    includes)."""
    post = parse_post(source.key, source.data, posts_prefix=config.posts_prefix)
    audio = None
    if source.mp3_bytes and source.mp3_duration:
        audio = AudioFacts(
            bytes=int(source.mp3_bytes),
            duration_seconds=duration_seconds(source.mp3_duration) + 0.5,
            header="Info",
            bitrate_mode="CBR",
            bitrate=128_000,
            sample_rate=44_100,
            channels=2,
            audio_start=0,
            bytes_read=65_536,
            requests=1,
            frames_walked=False,
        )
    measured = MeasuredAudio(audio) if audio else None
    notes = ShowNotes(config.site).notes_of
    episode = decide(ParsedPost(post, SourceRef(key=source.key)), measured, config, None, notes=notes).episode
    assert episode.state is State.PUBLISHED, episode.problems
    return episode


@pytest.fixture(scope="module")
def config() -> SiteConfig:
    return load_config(CORPUS_CONFIG)


@pytest.fixture(scope="module")
def podcast_feed(config: SiteConfig) -> RenderedFeed:
    episodes = [corpus_episode(post, config) for post in corpus_posts("podcast")]
    return render_feed(config.feeds["podcast"], config, episodes)


@pytest.fixture(scope="module")
def tree(podcast_feed: RenderedFeed) -> etree._Element:
    return etree.fromstring(podcast_feed.xml)


def test_every_corpus_episode_reads_back_in_feedparser(podcast_feed: RenderedFeed) -> None:
    parsed = feedparser.parse(podcast_feed.xml)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    entries = {entry.id: entry for entry in parsed.entries}
    posts = corpus_posts("podcast")
    assert len(entries) == len(posts) == EPISODES
    for post in posts:
        date, slug = post.path.stem[:10], post.path.stem[11:]
        number = int(slug.split("-")[0])
        title = re.search(r'^title: "(.*)"$', post.path.read_text(encoding="utf-8"), re.M)
        assert title and post.mp3_bytes and post.mp3_duration
        entry = entries[f"https://runninginproduction.com/podcast/{slug}"]
        assert entry.guidislink is False
        assert entry.title == title[1]
        enclosure = entry.enclosures[0]
        assert enclosure.href == (
            f"https://runninginproduction.com/assets/podcast/running-in-production-{number}.mp3"
        )
        assert int(enclosure.length) == int(post.mp3_bytes)
        assert enclosure.type == "audio/mpeg"
        assert duration_seconds(entry.itunes_duration) == duration_seconds(post.mp3_duration)
        assert entry.published_parsed[:3] == tuple(int(part) for part in date.split("-"))


def test_every_corpus_episode_reads_back_in_podcastparser(
    podcast_feed: RenderedFeed, config: SiteConfig
) -> None:
    parsed = podcastparser.parse(config.feed_url("podcast"), io.BytesIO(podcast_feed.xml))
    by_guid = {episode["guid"]: episode for episode in parsed["episodes"]}
    for post in corpus_posts("podcast"):
        date, slug = post.path.stem[:10], post.path.stem[11:]
        assert post.mp3_bytes and post.mp3_duration
        episode = by_guid[f"https://runninginproduction.com/podcast/{slug}"]
        (enclosure,) = episode["enclosures"]
        assert enclosure["file_size"] == int(post.mp3_bytes)
        assert enclosure["mime_type"] == "audio/mpeg"
        assert episode["total_time"] == duration_seconds(post.mp3_duration)
        published = email.utils.formatdate(episode["published"], usegmt=True)
        assert email.utils.parsedate_to_datetime(published).date().isoformat() == date
    assert parsed["title"] == "Running in Production"


def test_guids_keep_the_show_permalinks_byte_for_byte(tree: etree._Element) -> None:
    guids = tree.findall("channel/item/guid")
    assert len(guids) == EPISODES
    for guid in guids:
        assert guid.get("isPermaLink") == "false"
        assert re.fullmatch(r"https://runninginproduction\.com/podcast/\d+-[a-z0-9-]+", guid.text or "")


# --- the podcast rules of the W3C feed validator ---------------------------------------------------


def test_explicit_is_true_or_false(tree: etree._Element) -> None:
    assert [e.text for e in tree.iter(f"{IT}explicit")] == ["false"]


def test_durations_are_whole_seconds_or_clock_times(tree: etree._Element) -> None:
    durations = [e.text or "" for e in tree.iter(f"{IT}duration")]
    assert len(durations) == EPISODES
    assert all(re.fullmatch(r"\d+|\d{1,2}(:\d{2}){1,2}", d) for d in durations)


def test_every_date_is_rfc_822(tree: etree._Element) -> None:
    dates = [e.text or "" for e in tree.iter("pubDate", "lastBuildDate")]
    assert len(dates) == EPISODES + 1  # and the channel's lastBuildDate
    for date in dates:
        assert RFC822.match(date), date
        assert email.utils.parsedate_to_datetime(date).tzinfo is not None


def test_enclosures_have_length_and_type(tree: etree._Element) -> None:
    enclosures = tree.findall("channel/item/enclosure")
    assert len(enclosures) == EPISODES
    for enclosure in enclosures:
        assert re.fullmatch(r"[1-9]\d*", enclosure.get("length") or "")
        assert enclosure.get("type") == "audio/mpeg"
        assert (enclosure.get("url") or "").startswith("https://")


def test_categories_are_apples(tree: etree._Element) -> None:
    channel = tree.find("channel")
    assert channel is not None
    for category in channel.findall(f"{IT}category"):
        parent = category.get("text") or ""
        assert parent in APPLE_CATEGORIES
        assert all(sub.get("text") in APPLE_CATEGORIES[parent] for sub in category.findall(f"{IT}category"))
    texts = [(c.get("text"), [s.get("text") for s in c]) for c in channel.findall(f"{IT}category")]
    assert texts == [("Technology", []), ("Business", ["Careers"])]


def test_owner_email_language_image_and_self_link(tree: etree._Element, config: SiteConfig) -> None:
    channel = tree.find("channel")
    assert channel is not None
    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", channel.findtext(f"{IT}owner/{IT}email") or "")
    assert re.fullmatch(r"[a-z]{2}(-[a-z]{2})?", channel.findtext("language") or "")
    image = channel.find(f"{IT}image")
    assert image is not None and (image.get("href") or "").endswith(".png")
    self_link = channel.find("{http://www.w3.org/2005/Atom}link[@rel='self']")
    assert self_link is not None
    assert self_link.get("href") == config.feed_url("podcast")
    assert self_link.get("type") == "application/rss+xml"


def test_show_notes_render_guests_and_drop_plugin_tags(
    podcast_feed: RenderedFeed, tree: etree._Element
) -> None:
    encoded = [e.text or "" for e in tree.iter("{http://purl.org/rss/1.0/modules/content/}encoded")]
    assert len(encoded) == EPISODES
    assert not any("{{" in html or "{%" in html for html in encoded)
    assert any("Dan Purcell goes over building" in html for html in encoded)
    assert any("<h6>📄 References</h6>" in html for html in encoded)
    # services-used.html is not in the bucket here; episode 50 uses the jekyll-assets plugin's tag.
    missing = {p.key for p in podcast_feed.warnings if p.code.value == "missing_include"}
    unknown = [(p.key, p.message) for p in podcast_feed.warnings if p.code.value == "unknown_liquid_tag"]
    assert missing == {post.key for post in corpus_posts("podcast") if b"{% include" in post.data}
    assert unknown == [
        (
            "_posts/podcast/2020-09-28-50-tracking-games-played-on-a-flight-simulator.md",
            "show notes: unknown Liquid tag {% asset_path %} (site plugin?); dropped",
        )
    ]
    assert len(podcast_feed.warnings) == len(missing) + len(unknown)


def test_text_only_interviews_feed_has_no_enclosures(config: SiteConfig) -> None:
    episodes = [corpus_episode(post, config) for post in corpus_posts("interviews")]
    rendered = render_feed(config.feeds["interviews"], config, episodes)
    parsed = feedparser.parse(rendered.xml)
    assert parsed.bozo == 0
    assert len(parsed.entries) == CORPUS_COUNTS["interviews"]
    assert all(not entry.enclosures for entry in parsed.entries)
    assert b"itunes:duration" not in rendered.xml
    assert {p.code.value for p in rendered.warnings} == {"unknown_liquid_tag"}  # the {% image %} tags
