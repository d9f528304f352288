"""Chapters from a post's timestamped topic list, as the Podcast Index JSON chapters file (version 1.2.0).

The show writes its topics as a list under a heading of the notes:

    ## Topics Include

    - 2:54 -- You can upload your cover letter and get back an analysis without an account
    - 1:03:52 -- [snapt](https://www.snapt.net/) is their parent company

Each item is a timestamp (`H:MM:SS` or `M:SS`), a separator (`--`, an em or en dash, or `-`, with
spaces around it) and a title. The topic list is the section of the first heading that holds a bullet list
(`-`, `*` or `+`) with such an item; every item of that section's top-level bullet lists is a topic. The
notes are read as markdown from their Liquid rendering (`Notes.markdown`), with the parser the show notes
use, so a title is what a listener reads in the notes: links reduced to their text, markup dropped, a
continued line joined.

Nothing is guessed: an item whose timestamp cannot be read (`1:11-20`) is left out with a
`chapter_bad_timestamp` warning quoting the line, topics out of order stay where the notes put them with
`chapters_out_of_order`, and a topic at or after the end of the measured audio stays with
`chapter_past_end`. The episode publishes either way; the warnings say which line to fix.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podcast_pipeline.config import DEFAULT_INTRO_TITLE
from podcast_pipeline.durations import format_duration, parse_duration
from podcast_pipeline.problems import Code, Problem, warning

if TYPE_CHECKING:
    from markdown_it.token import Token

CONTENT_TYPE = "application/json+chapters"
VERSION = "1.2.0"

# `<stamp> <separator> <title>`: the separator needs white space on both sides, so `1:11-20 -- x` is a bad
# stamp `1:11-20`, never the stamp `1:11` of a title `20 -- x`.
_TOPIC = re.compile("(?P<stamp>\\S+)\\s+(?:--|\u2014|\u2013|-)\\s+(?P<title>\\S.*)")
_CLOCK = re.compile(r"[0-9]{1,2}(?::[0-9]{1,2}){1,2}")  # looks like a clock; parse_duration decides
_FORMS = "H:MM:SS or M:SS"
_QUOTED_LINE = 100  # characters of a line quoted in a message


@dataclass(frozen=True)
class Chapter:
    start_seconds: int
    title: str
    written: str = ""  # the timestamp as the notes wrote it ("" for the added 0:00 chapter)


@dataclass(frozen=True)
class Chapters:
    """The chapters of one episode, 0:00 first, and what the notes got wrong (warnings)."""

    chapters: tuple[Chapter, ...]
    problems: tuple[Problem, ...]

    def __bool__(self) -> bool:
        return bool(self.chapters)

    def to_json(self) -> bytes:
        """The chapters file: equal chapters give equal bytes, so an unchanged file need not be written."""
        document = {
            "version": VERSION,
            "chapters": [{"startTime": c.start_seconds, "title": c.title} for c in self.chapters],
        }
        return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


@dataclass(frozen=True)
class _Item:
    line: str  # the item's first line in the markdown, for messages
    text: str  # its plain text


def parse_chapters(
    markdown: str,
    *,
    duration_seconds: float | None = None,
    intro_title: str = DEFAULT_INTRO_TITLE,
    key: str | None = None,
) -> Chapters:
    """The chapters of the topic list in `markdown` (Liquid already rendered), checked against the measured
    `duration_seconds` when known. No topic list: no chapters and no problems."""
    chapters: list[Chapter] = []
    problems: list[Problem] = []
    for item in _topic_items(markdown):
        chapter = _chapter(item, key)
        if isinstance(chapter, Problem):
            problems.append(chapter)
        else:
            chapters.append(chapter)
    problems += _check(chapters, duration_seconds, key)
    if chapters and chapters[0].start_seconds > 0:
        chapters.insert(0, Chapter(0, intro_title))
    return Chapters(tuple(chapters), tuple(problems))


def _chapter(item: _Item, key: str | None) -> Chapter | Problem:
    topic = _TOPIC.fullmatch(item.text)
    if topic is None:
        message = f"topic line {_quote(item.line)} is not `{_FORMS} -- title`; left out of the chapters"
        return warning(Code.CHAPTER_BAD_TIMESTAMP, message, key=key)
    stamp = topic["stamp"]
    try:
        if not _CLOCK.fullmatch(stamp):
            raise ValueError(f"{stamp!r} is not {_FORMS}")
        seconds = parse_duration(stamp)
    except ValueError as err:
        message = f"topic line {_quote(item.line)}: {err}; left out of the chapters"
        return warning(Code.CHAPTER_BAD_TIMESTAMP, message, key=key)
    return Chapter(seconds, topic["title"], stamp)


def _check(chapters: Sequence[Chapter], duration_seconds: float | None, key: str | None) -> Iterator[Problem]:
    for before, chapter in itertools.pairwise(chapters):
        if chapter.start_seconds <= before.start_seconds:
            # Equal times count too: a chapter of no length cannot be played or chosen in an app.
            where = "at the same time as" if chapter.start_seconds == before.start_seconds else "before"
            yield warning(
                Code.CHAPTERS_OUT_OF_ORDER,
                f"topic {_quote(chapter.title)} at {chapter.written} starts {where} the topic above it"
                f" ({_quote(before.title)} at {before.written}); chapters must start in ascending order",
                key=key,
            )
    if duration_seconds is None:
        return
    for chapter in chapters:
        if chapter.start_seconds >= duration_seconds:
            yield warning(
                Code.CHAPTER_PAST_END,
                f"topic {_quote(chapter.title)} starts at {chapter.written}, at or after the end of the audio"
                f" ({format_duration(int(duration_seconds))}): do the notes describe another cut?",
                key=key,
            )


def _quote(text: str) -> str:
    return repr(text if len(text) <= _QUOTED_LINE else text[: _QUOTED_LINE - 1] + "…")


def _topic_items(markdown: str) -> list[_Item]:
    """The items of the topic list: the top-level bullet lists of the first heading's section that has a
    timestamped item (a list interrupted, or its bullet changed from `-` to `*`, is still one topic list)."""
    # Imported here: the feed renders this module's chapter links and needs none of the notes' Liquid and
    # markdown, which would weigh on the feed function's cold start and on every command's start.
    from podcast_pipeline.feed.notes import markdown_parser

    tokens = markdown_parser().parse(markdown)
    lines = markdown.splitlines()
    section: list[_Item] | None = None  # None: before the first heading
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            if section and any(_looks_timestamped(item) for item in section):
                return section
            section = []
        elif token.type == "bullet_list_open" and token.level == 0 and section is not None:
            section.extend(_list_items(tokens, index, lines))
    return section if section and any(_looks_timestamped(item) for item in section) else []


def _looks_timestamped(item: _Item) -> bool:
    topic = _TOPIC.fullmatch(item.text)
    return topic is not None and _CLOCK.fullmatch(topic["stamp"]) is not None


def _list_items(tokens: Sequence[Token], start: int, lines: Sequence[str]) -> Iterator[_Item]:
    """The items of the bullet list opening at `start`: each one's first line and first paragraph's text."""
    from podcast_pipeline.feed.notes import inline_text  # as in _topic_items

    depth = tokens[start].level + 1
    for index in range(start + 1, len(tokens)):
        token = tokens[index]
        if token.type == "bullet_list_close" and token.level == depth - 1:
            return
        if token.type != "list_item_open" or token.level != depth:
            continue
        first = token.map[0] if token.map else None
        line = lines[first].strip() if first is not None and first < len(lines) else ""
        inline = next(
            (t for t in tokens[index + 1 :] if t.type in ("inline", "list_item_close") and t.level >= depth),
            None,
        )
        text = inline_text(inline) if inline is not None and inline.type == "inline" else ""
        yield _Item(line=line or text, text=text)
