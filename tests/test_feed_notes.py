"""Show notes: Liquid from page/site/includes, markdown, sanitising, and warnings that never fail a post."""

from __future__ import annotations

import lxml.html
import pytest

from podcast_pipeline.decision import with_notes
from podcast_pipeline.episode import Episode, SourceRef, State
from podcast_pipeline.feed.notes import ShowNotes
from podcast_pipeline.problems import Code, warning

SITE = {"url": "https://example.com", "author": {"links": {"website": "https://author.example"}}}
PAGE = {"guest": "Dan Purcell", "title": "An Episode"}


def render(body: str, includes: dict[str, str] | None = None) -> tuple[str, list[tuple[str, str]]]:
    notes = ShowNotes(SITE, (includes or {}).get).render(body, PAGE, key="_posts/podcast/2020-01-01-1-a.md")
    assert all(p.key == "_posts/podcast/2020-01-01-1-a.md" for p in notes.problems)
    assert all(p.severity.value == "warning" for p in notes.problems)
    return notes.html, [(p.code.value, p.message) for p in notes.problems]


def test_page_and_site_variables_are_rendered() -> None:
    html, problems = render("With {{ page.guest }}, see {{ site.author.links.website }}. {{ page.nothing }}!")
    assert html == "<p>With Dan Purcell, see https://author.example. !</p>\n"
    assert problems == []


@pytest.mark.parametrize(
    "dangerous",
    [
        "<script>alert(1)</script>",
        '<a href="javascript:alert(1)">x</a>',
        "[x](javascript:alert(1))",
        '<img src="https://example.com/a.png" onerror="alert(1)">',
        '<p onclick="alert(1)">x</p>',
        '<iframe src="https://evil.example"></iframe>',
        "<style>body{}</style>",
    ],
)
def test_nothing_executable_survives(dangerous: str) -> None:
    html, _ = render(f"Before.\n\n{dangerous}\n\nAfter.")
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    assert not root.xpath("//script | //style | //iframe"), html
    for element in root.iter():
        assert not [name for name in element.attrib if name.lower().startswith("on")], html
        for name in ("href", "src"):
            assert not element.get(name, "").strip().lower().startswith("javascript:"), html
    assert "alert(1)</" not in html and "body{}" not in html
    assert "After." in html


def test_plugin_tags_are_dropped_with_a_warning() -> None:
    html, problems = render("Look:\n\n{% image interviews/1/metrics.jpg %}\n\nDone.")
    assert html == "<p>Look:</p>\n<p>Done.</p>\n"
    assert problems == [
        ("unknown_liquid_tag", "show notes: unknown Liquid tag {% image %} (site plugin?); dropped"),
    ]


def test_emoji_headings_are_preserved() -> None:
    html, _ = render("###### 📄 References\n\n- <https://www.starlette.io/>\n")
    assert html.startswith('<h6>📄 References</h6>\n<ul>\n<li><a href="https://www.starlette.io/"')


def test_includes_are_rendered_from_the_bucket_with_jekyll_parameters() -> None:
    includes = {"services-used.html": "<ul><li>{{ page.guest }}</li><li>{{ include.label }}</li></ul>"}
    html, problems = render('{% include services-used.html label="Tech" %}', includes)
    assert html == "<ul><li>Dan Purcell</li><li>Tech</li></ul>"
    assert problems == []


def test_a_missing_include_is_dropped_with_a_warning() -> None:
    html, problems = render("Stack:\n\n{% include services-used.html %}\n")
    assert html == "<p>Stack:</p>\n"
    assert problems == [("missing_include", "show notes: include 'services-used.html' not found; dropped")]


def test_a_self_including_include_is_dropped() -> None:
    html, problems = render("a {% include loop.html %} b", {"loop.html": "x{% include loop.html %}"})
    assert html == "<p>a x b</p>\n"
    assert [code for code, _ in problems] == ["liquid_error"]


def test_syntax_errors_fall_back_to_the_markdown_without_liquid() -> None:
    html, problems = render("Hi {{ page.guest }}. {% if %}**bold**{% endif %}")
    assert html == "<p>Hi . <strong>bold</strong></p>\n"
    assert [code for code, _ in problems] == ["liquid_error"]


def test_runaway_loops_are_stopped() -> None:
    html, problems = render("{% for i in (1..1000000) %}x{% endfor %}")
    assert html == "<p>x</p>\n"
    assert [code for code, _ in problems] == ["liquid_error"]


def test_site_relative_links_become_absolute() -> None:
    html, _ = render("[previous episode](/podcast/1-a)")
    assert 'href="https://example.com/podcast/1-a"' in html


def test_summary_is_the_first_paragraph_as_text() -> None:
    notes = ShowNotes(SITE).render(
        "## Title\n\nIn **this** [episode](https://x.example),\n`code` here.\n\nMore.", PAGE
    )
    assert notes.summary == "In this episode, code here."


def test_includes_are_loaded_when_used_and_reparsed_when_their_text_changes() -> None:
    includes = {"sponsor.html": "<b>{{ include.name }}</b>", "unused.html": "x"}
    loaded: list[str] = []

    def load(name: str) -> str | None:
        loaded.append(name)
        return includes.get(name)

    notes = ShowNotes(SITE, load)
    assert notes.render('{% include sponsor.html name="A" %}', PAGE).html == "<p><b>A</b></p>\n"
    assert notes.render('{% include sponsor.html name="B" %}', PAGE).html == "<p><b>B</b></p>\n"
    includes["sponsor.html"] = "<i>{{ include.name }}</i>"
    assert notes.render('{% include sponsor.html name="C" %}', PAGE).html == "<p><i>C</i></p>\n"
    assert loaded == ["sponsor.html"] * 3  # asked each time (the loader caches), never for unused.html


def test_an_episode_gets_its_notes_and_their_findings_as_warnings() -> None:
    verified = warning(Code.DURATION_ROUNDING, "rounded", key="_posts/podcast/2020-01-01-1-a.md")
    episode = Episode(
        id="podcast/1-a",
        category="podcast",
        slug="1-a",
        date="2020-01-01",
        state=State.PUBLISHED,
        title="An Episode",
        permalink="https://example.com/podcast/1-a",
        problems=(verified,),
        post=SourceRef(key="_posts/podcast/2020-01-01-1-a.md"),
        front_matter={"guest": "Dan"},
        body="{{ page.guest }} on {{ page.url }}.\n\n{% image a.jpg %}\n\n{% include gone.html %}",
    )
    noted = with_notes(episode, ShowNotes(SITE).notes_of(episode))
    assert noted.notes_html == "<p>Dan on /podcast/1-a.</p>\n"
    assert noted.notes_summary == "Dan on /podcast/1-a."
    assert noted.state is State.PUBLISHED
    assert [(p.code, p.key) for p in noted.problems] == [
        (Code.DURATION_ROUNDING, "_posts/podcast/2020-01-01-1-a.md"),
        (Code.UNKNOWN_LIQUID_TAG, "_posts/podcast/2020-01-01-1-a.md"),
        (Code.MISSING_INCLUDE, "_posts/podcast/2020-01-01-1-a.md"),
    ]
