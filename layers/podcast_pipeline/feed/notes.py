"""Show notes: Liquid (Jekyll's `page`, `site` and includes) → markdown → HTML that podcast apps render.

Rendered once per post at ingest and stored with the episode, so a feed rebuild only assembles XML.
A post's notes never fail its episode: tags of site plugins the pipeline cannot know are dropped, a missing
include is dropped, and a template that Liquid cannot render falls back to its markdown without the Liquid.
Each of these is reported as a warning on the post's key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

import nh3
from liquid import BoundTemplate, Environment, Mode, Tag, Undefined
from liquid.ast import IllegalNode, Node
from liquid.exceptions import LiquidError, LiquidSyntaxError
from liquid.token import TOKEN_EXPRESSION, TOKEN_ILLEGAL, TOKEN_TAG, Token
from markdown_it import MarkdownIt

from podcast_pipeline.episode import Episode
from podcast_pipeline.problems import Code, Problem, warning

if TYPE_CHECKING:
    from liquid import RenderContext
    from liquid.stream import TokenStream
    from markdown_it.token import Token as MarkdownToken

# What podcast apps render in show notes (Apple Podcasts, Overcast, Pocket Casts, ...); everything else
# is unwrapped to its text. Images are kept: most apps other than Apple's show them.
ALLOWED_TAGS = frozenset(
    {"p", "br", "hr", "a", "ul", "ol", "li", "strong", "em", "b", "i", "del", "s", "code", "pre"}
    | {"blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "img"}
    | {"table", "thead", "tbody", "tr", "th", "td"},
)
ALLOWED_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})

# Jekyll's `{% include name.html key="value" other=page.var %}`: the name is a bare path, not an expression.
_INCLUDE_ARG = re.compile(r"""([\w-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s"']+)""")
_LIQUID_MARKUP = re.compile(r"\{%.*?%\}|\{\{.*?\}\}", re.DOTALL)
# Tags a Liquid block ends on; outside their block they are syntax errors, not plugin tags.
_BLOCK_INNER_TAGS = frozenset({"else", "elsif", "when"})

MAX_NOTES_WARNINGS = 20

IncludeLoader = Callable[[str], "str | None"]  # include name → its text, None when there is none


@dataclass(frozen=True)
class Notes:
    html: str  # sanitised
    summary: str  # the first paragraph as plain text, for <description> when the post has none
    problems: tuple[Problem, ...]
    markdown: str = ""  # the Liquid-rendered markdown the HTML was made from (chapters read its topics)


def markdown_parser() -> MarkdownIt:
    """The markdown dialect of show notes: CommonMark with tables and inline HTML (sanitised later)."""
    return MarkdownIt("commonmark", {"html": True}).enable("table")


@dataclass(frozen=True)
class _Dropped:
    code: Code
    message: str


class _NotesEnvironment(Environment):
    # Bounds for a runaway template: one post must not stall the rebuild of its whole feed.
    loop_iteration_limit: ClassVar[int | None] = 10_000
    output_stream_limit: ClassVar[int | None] = 5_000_000

    def __init__(self, load_include: IncludeLoader) -> None:
        super().__init__(tolerance=Mode.STRICT, undefined=Undefined, strict_filters=True)
        self._load_include = load_include
        # Filled while one template is parsed; `parse_notes` hands them to its caller.
        self.dropped: list[_Dropped] = []
        # Name → (the text it was parsed from, template, what it dropped): re-parsed when its text changes.
        self._parsed_includes: dict[str, tuple[str | None, BoundTemplate | None, tuple[_Dropped, ...]]] = {}
        self._parsing: set[str] = set()

    def setup_tags_and_filters(self, *, extra: bool = False) -> None:
        super().setup_tags_and_filters(extra=extra)
        self.add_tag(_PluginTag)
        self.add_tag(_JekyllInclude)

    def parse_notes(self, source: str) -> tuple[BoundTemplate | None, tuple[_Dropped, ...], str | None]:
        """The template (None when it cannot be parsed), what was dropped, and the syntax error if any."""
        self.dropped = []
        try:
            template: BoundTemplate | None = self.from_string(source)
            error = None
        except LiquidError as err:
            template, error = None, _first_line(err)
        return template, tuple(self.dropped), error

    def include(self, name: str) -> BoundTemplate | None:
        """The parsed include `name`, None when there is none; what it drops is reported for every user."""
        if name in self._parsing:
            self.dropped.append(_Dropped(Code.LIQUID_ERROR, f"include {name!r} includes itself; dropped"))
            return None
        text = self._load_include(name)
        cached = self._parsed_includes.get(name)
        if cached is None or cached[0] != text:
            cached = (text, *self._parse_include(name, text))
            self._parsed_includes[name] = cached
        self.dropped.extend(cached[2])
        return cached[1]

    def _parse_include(
        self, name: str, text: str | None
    ) -> tuple[BoundTemplate | None, tuple[_Dropped, ...]]:
        if text is None:
            return None, (_Dropped(Code.MISSING_INCLUDE, f"include {name!r} not found; dropped"),)
        outer, self.dropped = self.dropped, []
        self._parsing.add(name)
        try:
            template: BoundTemplate | None = self.from_string(text, name=name)
        except LiquidError as err:
            template = None
            self.dropped.append(_Dropped(Code.LIQUID_ERROR, f"include {name!r}: {_first_line(err)}; dropped"))
        finally:
            self._parsing.discard(name)
            inner, self.dropped = tuple(self.dropped), outer
        return template, inner


class _PluginTag(Tag):
    """Stands in for Liquid's handler of unregistered tags: a site plugin's tag is dropped, not an error."""

    name = TOKEN_ILLEGAL
    block = False

    def parse(self, stream: TokenStream) -> Node:
        token = stream.expect(TOKEN_TAG)
        if stream.peek.kind == TOKEN_EXPRESSION:
            next(stream)
        if not token.value or self._is_misplaced_block_tag(token.value):
            raise LiquidSyntaxError(f"unexpected tag '{token.value}'", token=token)
        assert isinstance(self.env, _NotesEnvironment)
        self.env.dropped.append(
            _Dropped(
                Code.UNKNOWN_LIQUID_TAG, f"unknown Liquid tag {{% {token.value} %}} (site plugin?); dropped"
            )
        )
        return IllegalNode(token)

    def _is_misplaced_block_tag(self, name: str) -> bool:
        return name in _BLOCK_INNER_TAGS or (name.startswith("end") and name[3:] in self.env.tags)


class _JekyllInclude(Tag):
    """Jekyll's include: a bare file name from the site's includes, with `include.*` parameters."""

    name = "include"
    block = False

    def parse(self, stream: TokenStream) -> Node:
        token = stream.expect(TOKEN_TAG)
        expression = ""
        if stream.peek.kind == TOKEN_EXPRESSION:
            next(stream)
            expression = stream.current.value.strip()
        if not expression:
            raise LiquidSyntaxError("include needs a file name", token=token)
        name, _, arguments = expression.partition(" ")
        assert isinstance(self.env, _NotesEnvironment)
        template = self.env.include(name.strip("\"'"))
        if template is None:
            return IllegalNode(token)
        return _IncludeNode(token, template, dict(_INCLUDE_ARG.findall(arguments)))


class _IncludeNode(Node):
    __slots__ = ("arguments", "template")

    def __init__(self, token: Token, template: BoundTemplate, arguments: dict[str, str]) -> None:
        super().__init__(token)
        self.template = template
        self.arguments = arguments
        self.blank = False

    def render_to_output(self, context: RenderContext, buffer: TextIO) -> int:
        # Quoted values are strings; bare ones are variables, as in Jekyll.
        values = {
            key: value[1:-1] if value[:1] in "\"'" else context.get([*value.split(".")], token=self.token)
            for key, value in self.arguments.items()
        }
        with context.extend({"include": values}, template=self.template):
            self.template.render_with_context(context, buffer, partial=True)
        return 1


def _first_line(err: LiquidError) -> str:
    """Liquid's messages carry a source excerpt on further lines; a warning needs the first."""
    text = str(err.message or err) or type(err).__name__
    return text.splitlines()[0]


def no_includes(_name: str) -> str | None:
    return None


def page_variables(episode: Episode, site_url: str) -> dict[str, Any]:
    """Liquid's `page`: the front-matter plus what Jekyll derives from the post (url is site-relative)."""
    return {
        **episode.front_matter,
        "title": episode.title or episode.front_matter.get("title", ""),
        "date": episode.date,
        "slug": episode.slug,
        "category": episode.category,
        "url": (episode.permalink or "").removeprefix(site_url),
    }


class ShowNotes:
    """Renders the notes of many posts of one site; includes are loaded when a post first uses them."""

    def __init__(self, site: Mapping[str, Any], load_include: IncludeLoader = no_includes) -> None:
        self._site = dict(site)
        self._site_url = str(site.get("url", "")).rstrip("/")
        self._env = _NotesEnvironment(load_include)
        self._markdown = markdown_parser()
        self._cleaner = nh3.Cleaner(
            tags=set(ALLOWED_TAGS),
            clean_content_tags={"script", "style"},
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes=set(URL_SCHEMES),
            # Root-relative links of a Jekyll site (`/podcast/...`) must still work inside a podcast app.
            url_relative=("rewrite_with_base", self._site_url + "/") if self._site_url else "deny",
        )

    def notes_of(self, episode: Episode) -> Notes:
        """The notes of `episode` as decided, rendered from its body and front-matter."""
        key = episode.post.key if episode.post else episode.id
        return self.render(episode.body, page_variables(episode, self._site_url), key=key)

    def render(self, body: str, page: Mapping[str, Any], *, key: str | None = None) -> Notes:
        """Notes of one post; `page` is Liquid's `page` (front-matter plus title, date, slug, url, ...)."""
        text, problems = self._liquid(body, page, key)
        tokens = self._markdown.parse(text)
        html = self._markdown.renderer.render(tokens, self._markdown.options, {})
        return Notes(
            html=self._cleaner.clean(html), summary=_first_paragraph(tokens), problems=problems, markdown=text
        )

    def _liquid(self, body: str, page: Mapping[str, Any], key: str | None) -> tuple[str, tuple[Problem, ...]]:
        template, dropped, error = self._env.parse_notes(body)
        distinct = list(dict.fromkeys(dropped))
        shown = distinct[:MAX_NOTES_WARNINGS]
        problems = [warning(d.code, f"show notes: {d.message}", key=key) for d in shown]
        if len(distinct) > len(shown):
            # Thousands of findings would outgrow the stored episode and the events that carry them.
            rest = len(distinct) - len(shown)
            more = f"show notes: {rest} more dropped like these"
            problems.append(warning(distinct[-1].code, more, key=key))
        if template is not None:
            try:
                return template.render(page=dict(page), site=self._site), tuple(problems)
            except LiquidError as err:
                error = _first_line(err)
        problems.append(
            warning(Code.LIQUID_ERROR, f"show notes: Liquid failed ({error}); used without Liquid", key=key)
        )
        return _LIQUID_MARKUP.sub("", body), tuple(problems)


def _first_paragraph(tokens: list[MarkdownToken]) -> str:
    """The text of the first non-empty paragraph, markup removed."""
    for index, token in enumerate(tokens[:-1]):
        if token.type != "paragraph_open":
            continue
        text = inline_text(tokens[index + 1])
        if text:
            return text
    return ""


def inline_text(inline: MarkdownToken) -> str:
    """The plain text of an inline token: links reduced to their text, markup and inline HTML dropped, each
    run of whitespace (line breaks too) one space."""
    parts = [
        " " if child.type in ("softbreak", "hardbreak") else child.content
        for child in inline.children or ()
        if child.type in ("text", "code_inline", "softbreak", "hardbreak")
    ]
    return " ".join("".join(parts).split())
