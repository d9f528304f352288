"""RSS rendering: channel and item elements, deterministic bytes, config validation, well-formedness."""

from __future__ import annotations

import io
import random
from dataclasses import replace
from typing import Any

import feedparser
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from podcast_pipeline.config import ConfigError, SiteConfig, parse_config
from podcast_pipeline.episode import Episode, SourceRef, State
from podcast_pipeline.feed.render import (
    ATOM_NS,
    CONTENT_NS,
    ITUNES_NS,
    PODCAST_NS,
    cdata_sections,
    podcast_guid,
    render_feed,
    xml_text,
)
from podcast_pipeline.problems import Code, warning

IT, PC, ATOM, CONTENT = (f"{{{ns}}}" for ns in (ITUNES_NS, PODCAST_NS, ATOM_NS, CONTENT_NS))


def site(**feed: Any) -> SiteConfig:
    return parse_config(
        {
            "site": {"url": "https://example.com", "title": "Example"},
            "audio": {
                "url_template": "https://cdn.example.com/{number}.mp3",
                "key_template": "audio/{number}.mp3",
            },
            "feeds": {
                "podcast": {
                    "key": "podcast/feed.xml",
                    "title": "Example Show",
                    "description": "About things.",
                    "link": "https://example.com/podcast/",
                    "owner_name": "Ann",
                    "owner_email": "ann@example.com",
                    "author": "Ann",
                    "image": "https://example.com/cover.png",
                    "categories": ["Technology", "Business/Careers", "Business/Investing"],
                    **feed,
                },
            },
        }
    )


CONFIG = site()


def episode(number: int | None = 1, date: str = "2024-03-01", **changes: Any) -> Episode:
    slug = f"{number}-episode" if number is not None else "episode"
    base = Episode(
        id=f"podcast/{slug}",
        category="podcast",
        slug=slug,
        date=date,
        state=State.PUBLISHED,
        number=number,
        title=f"Episode {number}",
        permalink=f"https://example.com/podcast/{slug}",
        audio_key=f"audio/{number}.mp3",
        audio_url=f"https://cdn.example.com/{number}.mp3",
        measured={"bytes": 1_000_000 + (number or 0), "duration_seconds": 61.9},
        post=SourceRef(key=f"_posts/podcast/{date}-{slug}.md"),
        front_matter={"guest": "Bob"},
        notes_html="<p>Hello Bob.</p>\n",
        notes_summary="Hello Bob.",
    )
    return replace(base, **changes)


def channel(config: SiteConfig = CONFIG, episodes: list[Episode] | None = None) -> etree._Element:
    rendered = render_feed(config.feeds["podcast"], config, episodes if episodes is not None else [episode()])
    found = etree.fromstring(rendered.xml).find("channel")
    assert found is not None
    return found


def test_channel_carries_the_show() -> None:
    ch = channel()
    assert ch.findtext("title") == "Example Show"
    assert ch.findtext("link") == "https://example.com/podcast/"
    assert ch.findtext("description") == "About things."
    assert ch.findtext("language") == "en"
    assert ch.findtext(f"{IT}author") == "Ann"
    assert ch.findtext(f"{IT}owner/{IT}name") == "Ann"
    assert ch.findtext(f"{IT}owner/{IT}email") == "ann@example.com"
    assert ch.find(f"{IT}image").get("href") == "https://example.com/cover.png"  # type: ignore[union-attr]
    assert ch.findtext(f"{IT}explicit") == "false"
    assert ch.findtext(f"{IT}type") == "episodic"
    self_link = ch.find(f"{ATOM}link")
    assert self_link is not None
    assert dict(self_link.items()) == {
        "href": "https://example.com/podcast/feed.xml",
        "rel": "self",
        "type": "application/rss+xml",
    }
    assert ch.findtext(f"{PC}guid") == podcast_guid("https://example.com/podcast/feed.xml")
    locked = ch.find(f"{PC}locked")
    assert locked is not None and locked.text == "no" and locked.get("owner") == "ann@example.com"
    assert ch.find(f"{PC}funding") is None
    assert ch.findtext("generator") == "podcast-pipeline"


def test_subcategories_nest_under_one_parent() -> None:
    categories = channel().findall(f"{IT}category")
    assert [(c.get("text"), [s.get("text") for s in c]) for c in categories] == [
        ("Technology", []),
        ("Business", ["Careers", "Investing"]),
    ]


def test_optional_channel_elements() -> None:
    ch = channel(
        site(
            explicit=True,
            locked=True,
            funding_url="https://example.com/support",
            copyright="© Ann",
            type="serial",
        )
    )
    assert ch.findtext(f"{IT}explicit") == "true"
    assert ch.findtext(f"{PC}locked") == "yes"
    assert ch.find(f"{PC}funding").get("url") == "https://example.com/support"  # type: ignore[union-attr]
    assert ch.findtext("copyright") == "© Ann"
    assert ch.findtext(f"{IT}type") == "serial"


def test_podcast_guid_follows_the_namespace_example() -> None:
    # The example of the podcast namespace's <podcast:guid> documentation.
    expected = "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    assert podcast_guid("https://mp3s.nashownotes.com/pc20rss.xml") == expected
    assert podcast_guid("http://mp3s.nashownotes.com/pc20rss.xml//") == expected
    assert channel(site(guid="c0ffee00-0000-5000-8000-000000000000")).findtext(f"{PC}guid") == (
        "c0ffee00-0000-5000-8000-000000000000"
    )


def test_item_elements() -> None:
    item = channel().find("item")
    assert item is not None
    assert item.findtext("title") == "Episode 1"
    assert item.findtext("description") == "Hello Bob."
    assert item.findtext("link") == "https://example.com/podcast/1-episode"
    guid = item.find("guid")
    assert guid is not None and guid.get("isPermaLink") == "false"
    assert guid.text == "https://example.com/podcast/1-episode"
    assert item.findtext("pubDate") == "Fri, 01 Mar 2024 00:00:00 +0000"
    enclosure = item.find("enclosure")
    assert enclosure is not None
    assert dict(enclosure.items()) == {
        "url": "https://cdn.example.com/1.mp3",
        "length": "1000001",
        "type": "audio/mpeg",
    }
    assert item.findtext(f"{IT}duration") == "61"  # truncated, never rounded up
    assert item.findtext(f"{IT}episode") == "1"
    assert item.findtext(f"{IT}episodeType") == "full"
    assert item.findtext(f"{CONTENT}encoded") == "<p>Hello Bob.</p>\n"


def test_front_matter_description_wins_over_the_first_paragraph() -> None:
    ep = episode(front_matter={"description": "  Two\n  lines.  "})
    assert channel(episodes=[ep]).findtext("item/description") == "Two lines."


def test_episode_zero_has_no_itunes_episode_number() -> None:
    assert channel(episodes=[episode(0)]).find(f"item/{IT}episode") is None


def test_text_only_episodes_have_no_enclosure() -> None:
    ep = episode(audio_key=None, audio_url=None, measured=None)
    item = channel(episodes=[ep]).find("item")
    assert item is not None
    assert item.find("enclosure") is None
    assert item.find(f"{IT}duration") is None


def test_order_and_bytes_do_not_depend_on_input_order() -> None:
    episodes = [
        episode(1, "2024-01-01"),
        episode(2, "2024-02-01"),
        episode(4, "2024-02-01"),
        episode(None, "2024-02-01"),
        episode(3, "2023-12-01"),
    ]
    feed = CONFIG.feeds["podcast"]
    first = render_feed(feed, CONFIG, episodes)
    shuffled = episodes[:]
    random.Random(7).shuffle(shuffled)
    assert render_feed(feed, CONFIG, shuffled).xml == first.xml
    assert [g.rsplit("/", 1)[1] for g in first.guids] == [
        "4-episode",
        "2-episode",
        "episode",
        "1-episode",
        "3-episode",
    ]
    # lastBuildDate is the newest episode's date: rebuilding later gives the same bytes.
    assert etree.fromstring(first.xml).findtext("channel/lastBuildDate") == "Thu, 01 Feb 2024 00:00:00 +0000"


def test_only_published_episodes_of_the_category_are_rendered() -> None:
    rendered = render_feed(
        CONFIG.feeds["podcast"],
        CONFIG,
        [
            episode(1),
            episode(2, state=State.FAILED),
            episode(3, state=State.UNPUBLISHED),
            episode(4, category="interviews"),
        ],
    )
    assert rendered.guids == ("https://example.com/podcast/1-episode",)


def test_site_timezone_dates_posts_at_local_midnight() -> None:
    config = replace(CONFIG, site={**CONFIG.site, "timezone": "America/New_York"})
    assert channel(config).findtext("item/pubDate") == "Fri, 01 Mar 2024 00:00:00 -0500"
    with pytest.raises(ConfigError, match=r"site\.timezone"):
        channel(replace(CONFIG, site={**CONFIG.site, "timezone": "Mars/Olympus"}))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"categories": ["Technology/Gadgets"]}, r"feeds\.podcast\.categories.*'Gadgets'"),
        ({"categories": ["Tech"]}, r"feeds\.podcast\.categories.*'Tech'"),
        ({"type": "daily"}, r"feeds\.podcast\.type"),
        ({"language": "English"}, r"feeds\.podcast\.language"),
        ({"owner_email": "ann"}, r"feeds\.podcast\.owner_email"),
    ],
)
def test_feeds_apple_would_reject_are_config_errors(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        channel(site(**change))


def test_items_carry_the_rendered_notes_and_their_summary() -> None:
    item = channel().find("item")
    assert item is not None
    assert item.findtext(f"{CONTENT}encoded") == "<p>Hello Bob.</p>\n"
    assert item.findtext("description") == "Hello Bob."
    described = channel(episodes=[episode(front_matter={"description": " Own\n words "})]).find("item")
    assert described is not None and described.findtext("description") == "Own words"


def test_show_notes_warnings_of_the_episodes_are_the_feeds_warnings() -> None:
    key = "_posts/podcast/2024-03-01-1-episode.md"
    findings = (
        warning(Code.DURATION_ROUNDING, "rounded", key=key),
        warning(Code.UNKNOWN_LIQUID_TAG, "show notes: unknown Liquid tag", key=key),
    )
    rendered = render_feed(CONFIG.feeds["podcast"], CONFIG, [episode(problems=findings)])
    assert [(p.code.value, p.key) for p in rendered.warnings] == [("unknown_liquid_tag", key)]


def test_cdata_sections_split_their_terminator() -> None:
    buffer = io.BytesIO()
    with etree.xmlfile(buffer) as xf, xf.element("x"):
        xf.write(*cdata_sections("a]]>b]]>"))
    assert buffer.getvalue() == b"<x><![CDATA[a]]]]><![CDATA[>b]]]]><![CDATA[>]]></x>"
    assert etree.fromstring(buffer.getvalue()).text == "a]]>b]]>"


def test_titles_and_notes_with_a_cdata_terminator_survive() -> None:
    rendered = render_feed(CONFIG.feeds["podcast"], CONFIG, [episode(notes_html="x ]]> y", title="t ]]> u")])
    item = etree.fromstring(rendered.xml).find("channel/item")
    assert item is not None
    assert item.findtext("title") == "t ]]> u"
    assert item.findtext(f"{CONTENT}encoded") == "x ]]> y"


def test_xml_text_removes_what_xml_cannot_carry() -> None:
    assert xml_text("a\x00b\x08c\x1fd\ufffee\uffff\tf\ng\rh😀") == "abcde\tf\ng\rh😀"


# --- well-formed under any text ------------------------------------------------------------------

AWKWARD = st.sampled_from(
    ["]]>", "\x00", "\x0b", "\x1b[0m", "<![CDATA[", "&amp;", "<script>", "😀", "שלום", "\u202e"]
)
TEXT = st.lists(st.one_of(AWKWARD, st.text(max_size=200)), max_size=30).map("".join)
LONG = "ש😀]]>\x01<b>&" * 1200  # over 10 KB, every awkward kind at once


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=TEXT, notes=TEXT, description=TEXT)
@example(title=LONG, notes=LONG, description=LONG)
@example(title="]]>", notes="]]>]]>", description="")
def test_feed_is_well_formed_under_any_text(title: str, notes: str, description: str) -> None:
    ep = episode(
        title=title, notes_html=notes, notes_summary=notes, front_matter={"description": description}
    )
    rendered = render_feed(CONFIG.feeds["podcast"], CONFIG, [ep, episode(2, title=notes)])
    root = etree.fromstring(rendered.xml)  # raises when not well-formed
    parsed = feedparser.parse(rendered.xml)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert len(parsed.entries) == 2
    expected_title = " ".join(xml_text(title).split()) or ep.slug
    assert root.findall("channel/item")[1].findtext("title") == expected_title
