"""Chapters from the topic list of a post: forms, checks against the audio, the JSON file, and the corpus."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from corpus import CORPUS_CONFIG, HAS_FULL_CORPUS, corpus_posts, duration_seconds
from lxml import etree, html

from podcast_pipeline.chapters import CONTENT_TYPE, Chapter, parse_chapters
from podcast_pipeline.config import load_config, parse_config
from podcast_pipeline.decision import ParsedPost, decide
from podcast_pipeline.feed.notes import ShowNotes, page_variables
from podcast_pipeline.posts import parse_post
from podcast_pipeline.problems import CHAPTER_CODES, Code, Problem, Severity

whole_corpus = pytest.mark.skipif(
    not HAS_FULL_CORPUS, reason="figures of the whole corpus, beside the checkout"
)


def chapters_of(topics: str, **options: object) -> list[tuple[int, str]]:
    found = parse_chapters(f"Intro.\n\n## Topics Include\n\n{topics}\n\n## Links\n\n- x\n", **options)  # type: ignore[arg-type]
    return [(c.start_seconds, c.title) for c in found.chapters]


def codes(markdown: str, duration: float | None = None) -> list[Code]:
    return [p.code for p in parse_chapters(markdown, duration_seconds=duration).problems]


def test_the_show_form_becomes_chapters_with_an_introduction_at_0() -> None:
    topics = "- 2:54 -- You can upload your cover letter\n- 1:03:52 -- Hosting\n"
    assert chapters_of(topics) == [
        (0, "Introduction"),
        (174, "You can upload your cover letter"),
        (3832, "Hosting"),
    ]


@pytest.mark.parametrize(
    "line",
    [
        "- 1:05 -- Title",
        "* 1:05 -- Title",
        "+ 1:05 -- Title",
        "- 1:05 \u2014 Title",  # em dash
        "- 1:05 \u2013 Title",  # en dash
        "- 1:05 - Title",
        "- 01:05 -- Title",
        "- 0:01:05 -- Title",
    ],
)
def test_accepted_bullets_separators_and_stamps(line: str) -> None:
    assert chapters_of(line) == [(0, "Introduction"), (65, "Title")]


def test_a_first_topic_at_0_needs_no_introduction_and_the_intro_title_is_configurable() -> None:
    assert chapters_of("- 0:00 -- Hello\n- 0:30 -- Then") == [(0, "Hello"), (30, "Then")]
    assert chapters_of("- 0:30 -- Then", intro_title="Cold open") == [(0, "Cold open"), (30, "Then")]


def test_titles_are_plain_text_links_reduced_to_their_text_and_lines_joined() -> None:
    topics = (
        "- 1:03:52 -- [snapt](https://www.snapt.net/?a=1&b=2) is *their* `parent`\n"
        "             company, see <https://nova-adc.com>\n"
        "- 1:04:00 -- AT&amp;T \\*escaped\\* <b>bold</b>"
    )
    assert chapters_of(topics)[1:] == [
        (3832, "snapt is their parent company, see https://nova-adc.com"),
        (3840, "AT&T *escaped* bold"),
    ]


def test_mixed_bullets_still_make_one_topic_list_and_other_sections_are_not_topics() -> None:
    markdown = "## Topics\n\n- 0:10 -- A\n* 0:20 -- B\n\n## Links\n\n- 0:30 -- not a topic\n"
    assert [c.title for c in parse_chapters(markdown).chapters] == ["Introduction", "A", "B"]


def test_no_topic_list_gives_no_chapters_and_no_problems() -> None:
    for markdown in (
        "Just notes.",
        "## Links\n\n- <https://x.test>\n",
        "- 0:10 -- a list under no heading\n",
    ):
        found = parse_chapters(markdown, duration_seconds=5)
        assert not found and found.chapters == () and found.problems == ()


def test_a_bad_timestamp_is_left_out_and_named_by_its_line() -> None:
    found = parse_chapters(
        "## Topics\n\n- 1:10 -- Good\n- 1:11-20 -- You can find Nick\n- 1:75 -- Bad seconds\n"
    )
    assert [c.start_seconds for c in found.chapters] == [0, 70]
    assert [(p.code, p.severity) for p in found.problems] == [
        (Code.CHAPTER_BAD_TIMESTAMP, Severity.WARNING)
    ] * 2
    assert "'- 1:11-20 -- You can find Nick'" in found.problems[0].message
    assert "'- 1:75 -- Bad seconds'" in found.problems[1].message


def test_a_topic_without_the_form_is_a_bad_timestamp_too() -> None:
    problems = parse_chapters("## Topics\n\n- 1:10 -- Good\n- Bonus: no time\n", key="k.md").problems
    assert [(p.code, p.key) for p in problems] == [(Code.CHAPTER_BAD_TIMESTAMP, "k.md")]
    assert "'- Bonus: no time'" in problems[0].message


def test_out_of_order_topics_are_kept_where_the_notes_put_them_with_a_warning() -> None:
    found = parse_chapters("## Topics\n\n- 0:10 -- A\n- 0:30 -- B\n- 0:20 -- C\n- 0:20 -- D\n")
    assert [c.title for c in found.chapters] == ["Introduction", "A", "B", "C", "D"]
    assert [p.code for p in found.problems] == [Code.CHAPTERS_OUT_OF_ORDER] * 2
    assert "'C' at 0:20 starts before the topic above it ('B' at 0:30)" in found.problems[0].message
    assert "at the same time as" in found.problems[1].message


def test_a_topic_at_or_after_the_end_of_the_audio_is_past_the_end() -> None:
    markdown = "## Topics\n\n- 1:02:03 -- Last words\n- 1:04:10 -- Another cut\n"
    assert codes(markdown, None) == []
    assert codes(markdown, 3724.9) == [Code.CHAPTER_PAST_END]  # 1:02:04.9: 1:04:10 is past it
    problems = parse_chapters(markdown, duration_seconds=3724.9, key="p.md").problems
    message = problems[0].message
    assert "'Another cut'" in message and "1:04:10" in message and "1:02:04" in message
    assert problems[0].severity is Severity.WARNING and problems[0].key == "p.md"
    assert codes(markdown, 3850.0) == [Code.CHAPTER_PAST_END]  # exactly at the end: at or after
    assert codes(markdown, 3850.5) == []


def test_the_json_file_is_podcast_index_chapters_1_2_0_and_stable() -> None:
    found = parse_chapters("## Topics\n\n- 0:05 -- Ünïcode & <markup>\n- 0:09 -- B\n")
    document = json.loads(found.to_json())
    assert document == {
        "version": "1.2.0",
        "chapters": [
            {"startTime": 0, "title": "Introduction"},
            {"startTime": 5, "title": "Ünïcode &"},
            {"startTime": 9, "title": "B"},
        ],
    }
    assert (
        found.to_json()
        == parse_chapters("## Topics\n\n- 0:05 -- Ünïcode & <markup>\n- 0:09 -- B\n").to_json()
    )
    assert CONTENT_TYPE == "application/json+chapters"
    assert all(isinstance(c["startTime"], int) and isinstance(c["title"], str) for c in document["chapters"])


def test_problem_codes_are_the_chapter_codes() -> None:
    assert {Code.CHAPTER_PAST_END, Code.CHAPTERS_OUT_OF_ORDER, Code.CHAPTER_BAD_TIMESTAMP} == CHAPTER_CODES


def test_chapters_config_keys() -> None:
    base = {"site": {"url": "https://example.com"}}
    config = parse_config(base)
    assert config.chapters_key(category="podcast", slug="1-x") == "chapters/podcast/1-x.json"
    assert (
        config.chapters_url(category="podcast", slug="1-x") == "https://example.com/chapters/podcast/1-x.json"
    )
    assert config.chapters_prefix == "chapters/"
    assert config.chapters_intro_title == "Introduction"
    custom = parse_config(
        {
            **base,
            "chapters": {
                "key_template": "assets/chapters/ep-{number}.json",
                "url_template": "https://cdn.example.com/ch/{number}.json",
                "intro_title": "Cold open",
            },
        }
    )
    assert custom.chapters_key(number=7) == "assets/chapters/ep-7.json"
    assert custom.chapters_url(number=7) == "https://cdn.example.com/ch/7.json"
    assert custom.chapters_prefix == "assets/chapters/ep-"
    assert custom.chapters_intro_title == "Cold open"


@pytest.mark.parametrize(
    ("chapters", "message"),
    [
        ({"key_template": "{slug}.json"}, "fixed folder"),
        ({"key_template": "chapters/{slug}.txt"}, "end in .json"),
        ({"key_template": "_posts/chapters/{slug}.json"}, "posts.prefix"),
        ({"key_template": "_includes/{slug}.json"}, "includes_prefix"),
        ({"intro_title": "  "}, "intro_title"),
        ({"colour": "red"}, "chapters.colour"),
    ],
)
def test_bad_chapters_config_names_the_key(chapters: dict[str, str], message: str) -> None:
    from podcast_pipeline.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        parse_config({"site": {"url": "https://example.com"}, "chapters": chapters})


def test_liquid_rendered_notes_give_the_titles_a_listener_reads() -> None:
    notes = ShowNotes({"url": "https://example.com", "author": {"name": "Nick"}})
    rendered = notes.render(
        "## Topics Include\n\n- 1:00 -- {{ page.guest }} meets {{ site.author.name }} {% image x.png %}\n",
        {"guest": "Saad"},
    )
    assert [c.title for c in parse_chapters(rendered.markdown).chapters] == [
        "Introduction",
        "Saad meets Nick",
    ]


# --- the corpus -------------------------------------------------------------------------------------

# The three topic lines of the corpus whose timestamps cannot be read (a dash for the second colon).
PODCAST = "_posts/podcast/"
CORPUS_BAD_LINES = {
    f"{PODCAST}2020-03-02-20-a-weather-analysis-service-for-regular-people-and-meteorologists.md": "1:11-20",
    f"{PODCAST}2020-06-01-33-zego-lets-you-easily-buy-insurance-by-the-hour.md": "1:04-22",
    f"{PODCAST}2020-06-22-36-passiv-is-a-portfolio-management-and-automation-platform.md": "1:19-27",
}


def _clock(written: str) -> int:
    seconds = 0
    for part in written.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds


def _text(element: etree._Element) -> str:
    return "".join(str(part) for part in element.itertext())


def listed_topics(notes_html: str) -> list[tuple[str, str]]:
    """(stamp, title) of each item of the list after the Topics heading, as the published notes show it:
    read from the sanitised HTML with lxml, independently of the markdown the chapters are parsed from."""
    document = html.fromstring(f"<div>{notes_html}</div>")
    heading = next(h for h in document.iter("h2") if _text(h).strip() == "Topics Include")
    items = heading.getnext()
    assert items is not None and items.tag == "ul"
    topics = []
    for item in items.findall("li"):
        text = " ".join(_text(item).split())
        stamp, _, title = text.partition(" -- ")
        topics.append((stamp, title))
    return topics


@whole_corpus
def test_every_corpus_episode_has_its_topic_list_as_chapters() -> None:
    config = load_config(CORPUS_CONFIG)
    notes = ShowNotes(config.site)
    posts = corpus_posts("podcast")
    assert len(posts) == 60
    total, bad = 0, dict[Code, list[Problem]]()
    for source in posts:
        episode = decide(ParsedPost(parse_post(source.key, source.data)), None, config, None).episode
        rendered = notes.render(episode.body, page_variables(episode, config.site_url), key=source.key)
        assert source.mp3_duration
        found = parse_chapters(
            rendered.markdown, duration_seconds=duration_seconds(source.mp3_duration) + 0.5, key=source.key
        )
        listed = listed_topics(rendered.html)
        readable = [(stamp, title) for stamp, title in listed if stamp not in CORPUS_BAD_LINES.values()]
        expected = [Chapter(_clock(stamp), title, stamp) for stamp, title in readable]
        if expected[0].start_seconds > 0:
            expected.insert(0, Chapter(0, "Introduction"))
        assert list(found.chapters) == expected, source.key
        total += len(found.chapters)
        for problem in found.problems:
            assert problem.code is not Code.CHAPTER_PAST_END, problem.message
            bad.setdefault(problem.code, []).append(problem)
    # Every topic of the corpus, and the 0:00 chapter each episode needs: its first topic starts later.
    assert total == 2114
    bad_lines = {(p.key, p.message.split("'")[1]) for p in bad.pop(Code.CHAPTER_BAD_TIMESTAMP)}
    assert {(key, line.split()[1]) for key, line in bad_lines} == set(CORPUS_BAD_LINES.items())
    # Episode 26 lists two topics at 59:20.
    (same_time,) = bad.pop(Code.CHAPTERS_OUT_OF_ORDER)
    assert same_time.key and "-26-" in same_time.key and "59:20" in same_time.message
    assert bad == {}


@whole_corpus
def test_an_episode_of_the_corpus_with_a_shorter_cut_gets_past_end() -> None:
    config = load_config(CORPUS_CONFIG)
    source = corpus_posts("podcast")[29]  # episode 29: its last topic is at 44:28, the audio 45:10
    episode = decide(ParsedPost(parse_post(source.key, source.data)), None, config, None).episode
    rendered = ShowNotes(config.site).render(episode.body, page_variables(episode, config.site_url))
    found = parse_chapters(rendered.markdown, duration_seconds=44 * 60 + 20.0)
    assert [p.code for p in found.problems] == [Code.CHAPTER_PAST_END]
    assert "44:28" in found.problems[0].message and "44:20" in found.problems[0].message
    assert found.chapters[-1] == replace(found.chapters[-1], start_seconds=44 * 60 + 28)
