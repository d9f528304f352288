"""Feed rendering cost: time and peak memory for 100, 1,000 and 10,000 synthetic episodes.

    python -m bench.feed_render [--sizes 100 1000 10000] [--out bench/results/feed_render.json]

Each size is timed without tracing (best of --repeat), then rendered once more under tracemalloc for the
peak. Episodes carry their notes rendered, as ingest stores them, so a rebuild (cold: every render is
one) only assembles XML. The notes themselves cost ingest, once per post: "notes_ms" is one post's
render (Liquid, markdown, sanitising), timed over the first 100 posts. The baseline is plain lxml: a tree of
the same items built and serialized with `etree.tostring`; the ratio says what the feed writer costs on top.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree

from bench import write_results
from podcast_pipeline.config import SiteConfig, parse_config
from podcast_pipeline.decision import with_notes
from podcast_pipeline.episode import Episode, SourceRef, State
from podcast_pipeline.feed.notes import ShowNotes
from podcast_pipeline.feed.render import CONTENT_NS, ITUNES_NS, NSMAP, RenderedFeed, pub_date, render_feed

UTC = ZoneInfo("UTC")
MIB = 2**20
RESULTS = Path(__file__).resolve().parent / "results" / "feed_render.json"
NOTES_SAMPLE = 100  # posts whose notes are rendered (and timed); larger shows reuse them

CONFIG = parse_config(
    {
        "site": {"url": "https://example.com", "author": {"name": "Host"}},
        "audio": {"url_template": "https://example.com/audio/{number}.mp3"},
        "feeds": {
            "podcast": {
                "key": "podcast/feed.xml",
                "title": "Bench Show",
                "description": "Synthetic episodes.",
                "link": "https://example.com/podcast/",
                "owner_email": "host@example.com",
                "categories": ["Technology"],
            }
        },
    }
)

# About the size and shape of a corpus episode's notes: prose, a topic list, links, Liquid variables.
NOTES = (
    "In this episode, {{ page.guest }} talks about running **{{ page.app }}** in production.\n\n"
    "## Topics Include\n\n"
    + "".join(
        f"- {m}:{m * 7 % 60:02d} -- Topic number {m} with `code` and [a link](/podcast/{m})\n"
        for m in range(30)
    )
    + "\n###### 📄 References\n\n"
    + "".join(f"- <https://example.com/reference/{m}>\n" for m in range(10))
    + "\n{% include services-used.html %}\n"
)
INCLUDES = {"services-used.html": "<ul>{% for tag in page.tags %}<li>{{ tag }}</li>{% endfor %}</ul>"}


def post_episode(number: int) -> Episode:
    """An episode as ingest decides it, before its notes are rendered."""
    slug = f"{number}-episode-about-app-{number}"
    date = f"{2000 + number // 336:04d}-{number // 28 % 12 + 1:02d}-{number % 28 + 1:02d}"
    return Episode(
        id=f"podcast/{slug}",
        category="podcast",
        slug=slug,
        date=date,
        state=State.PUBLISHED,
        number=number,
        title=f"Episode {number}: How App {number} Runs in Production",
        permalink=f"https://example.com/podcast/{slug}",
        audio_key=f"audio/{number}.mp3",
        audio_url=f"https://example.com/audio/{number}.mp3",
        measured={"bytes": 50_000_000 + number, "duration_seconds": 3600.5},
        post=SourceRef(key=f"_posts/podcast/{date}-{slug}.md"),
        front_matter={"guest": f"Guest {number}", "app": f"App {number}", "tags": ["python", "aws"]},
        body=NOTES,
    )


def ingest_notes(sample: int) -> tuple[list[Episode], float]:
    """The first `sample` episodes with notes rendered as ingest renders them, and the seconds per post."""
    notes = ShowNotes(CONFIG.site, INCLUDES.get)
    notes.notes_of(post_episode(0))  # a warm function has parsed the include already
    start = time.perf_counter()
    episodes = [with_notes(e, notes.notes_of(e)) for e in map(post_episode, range(1, sample + 1))]
    return episodes, (time.perf_counter() - start) / sample


def synthetic_episodes(count: int, rendered: Sequence[Episode]) -> list[Episode]:
    """`count` episodes as the store holds them; past the rendered ones, notes of the same size and shape."""
    return [
        replace(
            post_episode(number),
            notes_html=rendered[(number - 1) % len(rendered)].notes_html,
            notes_summary=rendered[(number - 1) % len(rendered)].notes_summary,
        )
        for number in range(1, count + 1)
    ]


def plain_lxml(config: SiteConfig, episodes: Sequence[Episode], html: str) -> bytes:
    """The same items as an lxml tree serialized in one go: the floor for any lxml feed writer."""
    rss = etree.Element("rss", version="2.0", nsmap=NSMAP)
    channel = etree.SubElement(rss, "channel")
    etree.SubElement(channel, "title").text = config.feeds["podcast"].title
    for episode in episodes:
        item = etree.SubElement(channel, "item")
        etree.SubElement(item, "title").text = episode.title
        etree.SubElement(item, "link").text = episode.permalink
        etree.SubElement(item, "guid", isPermaLink="false").text = episode.permalink
        etree.SubElement(item, "pubDate").text = pub_date(episode.date, UTC)
        etree.SubElement(
            item, "enclosure", url=episode.audio_url or "", length=str(episode.audio_bytes), type="audio/mpeg"
        )
        etree.SubElement(item, f"{{{ITUNES_NS}}}duration").text = str(episode.duration_seconds)
        etree.SubElement(item, f"{{{CONTENT_NS}}}encoded").text = etree.CDATA(html)
    return bytes(etree.tostring(rss, xml_declaration=True, encoding="utf-8"))


def _best_seconds(work: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def _peak_bytes(work: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure(count: int, repeat: int, rendered: Sequence[Episode], notes_seconds: float) -> dict[str, Any]:
    episodes = synthetic_episodes(count, rendered)
    feed = CONFIG.feeds["podcast"]

    def cold() -> RenderedFeed:  # nothing is cached between rebuilds: every one is cold
        return render_feed(feed, CONFIG, episodes)

    xml = cold().xml
    html = episodes[0].notes_html
    cold_seconds = _best_seconds(cold, repeat)
    baseline_seconds = _best_seconds(lambda: plain_lxml(CONFIG, episodes, html), repeat)
    return {
        "episodes": count,
        "feed_mib": round(len(xml) / MIB, 2),
        "cold_seconds": round(cold_seconds, 3),
        "cold_peak_mib": round(_peak_bytes(cold) / MIB, 1),
        "lxml_seconds": round(baseline_seconds, 3),
        "lxml_peak_mib": round(_peak_bytes(lambda: plain_lxml(CONFIG, episodes, html)) / MIB, 1),
        "cold_vs_lxml": round(cold_seconds / baseline_seconds, 1),
        # Ingest-side notes render: paid once per post upload, no longer by every rebuild.
        "notes_ms_per_post": round(notes_seconds * 1000, 2),
        "notes_seconds_all_posts": round(notes_seconds * count, 1),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.feed_render", description="Feed rendering cost")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size; the best one counts")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rendered, notes_seconds = ingest_notes(NOTES_SAMPLE)
    rows = [measure(size, args.repeat, rendered, notes_seconds) for size in args.sizes]
    columns = list(rows[0])
    print(" | ".join(f"{c:>15}" for c in columns))
    for row in rows:
        print(" | ".join(f"{row[c]:>15}" for c in columns))
    write_results(args.out, {"benchmark": "feed_render", "results": rows})
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
