"""`feed diff`: our feed for the corpus against one built here from the show's published conventions."""

from __future__ import annotations

import copy
import datetime as dt
import email.utils
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from corpus import CORPUS_CONFIG, corpus_posts
from lxml import etree
from test_feed_corpus import corpus_episode

from podcast_pipeline.config import load_config
from podcast_pipeline.feed.render import render_feed
from podcast_pipeline_tools.cli import main

SITE = "https://runninginproduction.com"
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"


def reference_feed() -> etree._Element:
    """The podcast feed as the show publishes it (corpus/README.md), written without our renderer."""
    rss = etree.Element("rss", version="2.0", nsmap={"itunes": ITUNES})
    channel = etree.SubElement(rss, "channel")
    etree.SubElement(channel, "title").text = "Running in Production"
    for post in corpus_posts("podcast"):
        date, slug = post.path.stem[:10], post.path.stem[11:]
        number = slug.split("-", 1)[0]
        front_matter = yaml.safe_load(post.path.read_text(encoding="utf-8").split("---")[1])
        item = etree.SubElement(channel, "item")
        etree.SubElement(item, "title").text = front_matter["title"]
        guid = etree.SubElement(item, "guid", isPermaLink="false")
        guid.text = f"{SITE}/podcast/{slug}"
        published = dt.datetime.combine(dt.date.fromisoformat(date), dt.time(), dt.UTC)
        etree.SubElement(item, "pubDate").text = email.utils.format_datetime(published)
        etree.SubElement(
            item,
            "enclosure",
            url=f"{SITE}/assets/podcast/running-in-production-{number}.mp3",
            length=str(post.mp3_bytes),
            type="audio/mpeg",
        )
        etree.SubElement(item, f"{{{ITUNES}}}duration").text = post.mp3_duration
    return rss


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = load_config(CORPUS_CONFIG)
    episodes = [corpus_episode(post, config) for post in corpus_posts("podcast")]
    path = tmp_path_factory.mktemp("feeds") / "ours.xml"
    path.write_bytes(render_feed(config.feeds["podcast"], config, episodes).xml)
    return path


def write(tmp_path: Path, name: str, rss: etree._Element) -> Path:
    path = tmp_path / name
    path.write_bytes(etree.tostring(rss, xml_declaration=True, encoding="utf-8"))
    return path


def diff_json(capsys: pytest.CaptureFixture[str], old: Path, new: Path) -> tuple[int, dict[str, Any]]:
    code = main(["feed", "diff", str(old), str(new), "--json"])
    return code, json.loads(capsys.readouterr().out)


def first_item(rss: etree._Element) -> etree._Element:
    item = rss.find("channel/item")
    assert item is not None
    return item


def test_our_feed_keeps_every_guid_and_enclosure_of_the_show(
    ours: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = write(tmp_path, "reference.xml", reference_feed())
    code, report = diff_json(capsys, reference, ours)
    assert code == 0
    assert report["removed"] == []
    assert report["added"] == []
    assert report["disturbs_subscribers"] is False
    # titles, dates and durations agree too; only show notes and other elements differ
    assert report["field_changes"] == []
    assert len(report["changed"]) == len(corpus_posts("podcast"))


def test_a_changed_guid_disturbs(ours: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reference = reference_feed()
    mutated = copy.deepcopy(reference)
    guid = first_item(mutated).find("guid")
    assert guid is not None and guid.text
    old_guid = guid.text
    guid.text = old_guid.replace("/podcast/", "/episodes/")
    code, report = diff_json(
        capsys, write(tmp_path, "old.xml", reference), write(tmp_path, "new.xml", mutated)
    )
    assert code == 1
    assert report["removed"] == [old_guid]
    assert report["added"] == [guid.text]


def test_a_changed_length_disturbs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reference = reference_feed()
    mutated = copy.deepcopy(reference)
    enclosure = first_item(mutated).find("enclosure")
    assert enclosure is not None
    old_length = enclosure.get("length")
    enclosure.set("length", "4096")
    code, report = diff_json(
        capsys, write(tmp_path, "old.xml", reference), write(tmp_path, "new.xml", mutated)
    )
    assert code == 1
    (change,) = report["field_changes"]
    assert change["field"] == "enclosure length"
    assert (change["old"], change["new"], change["disturbing"]) == (old_length, "4096", True)


def test_a_removed_item_disturbs_and_an_added_one_does_not(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = reference_feed()
    trimmed = copy.deepcopy(reference)
    item = first_item(trimmed)
    item.getparent().remove(item)  # type: ignore[union-attr]
    full_path, trimmed_path = write(tmp_path, "full.xml", reference), write(tmp_path, "trimmed.xml", trimmed)
    code, report = diff_json(capsys, full_path, trimmed_path)
    assert (code, len(report["removed"]), report["added"]) == (1, 1, [])
    code, report = diff_json(capsys, trimmed_path, full_path)
    assert (code, report["removed"], len(report["added"])) == (0, [], 1)


def test_title_date_and_duration_changes_are_reported_but_do_not_disturb(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reference = reference_feed()
    mutated = copy.deepcopy(reference)
    item = first_item(mutated)
    for tag, value in (("title", "Renamed"), ("pubDate", "Fri, 01 Jan 2021 00:00:00 +0000")):
        element = item.find(tag)
        assert element is not None
        element.text = value
    duration = item.find(f"{{{ITUNES}}}duration")
    assert duration is not None and duration.text
    written = duration.text
    duration.text = str(sum(int(part) * 60**i for i, part in enumerate(reversed(written.split(":")))))
    old, new = write(tmp_path, "old.xml", reference), write(tmp_path, "new.xml", mutated)
    code, report = diff_json(capsys, old, new)
    assert code == 0
    assert {change["field"] for change in report["field_changes"]} == {"title", "pubDate"}
    assert main(["feed", "diff", str(old), str(new)]) == 0
    table = capsys.readouterr().out
    assert "Renamed" in table
    assert "nothing disturbs subscribers" in table


def test_unusable_input_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = write(tmp_path, "feed.xml", reference_feed())
    html = tmp_path / "page.xml"
    html.write_text("<html><body>not a feed</body></html>")
    broken = tmp_path / "broken.xml"
    broken.write_text("<rss><channel>")
    assert main(["feed", "diff", str(feed), str(tmp_path / "missing.xml")]) == 2
    assert main(["feed", "diff", str(html), str(feed)]) == 2
    assert main(["feed", "diff", str(feed), str(broken)]) == 2
    assert "not RSS" in capsys.readouterr().err
