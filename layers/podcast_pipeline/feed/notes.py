"""Show notes: Liquid (Jekyll's `page`, `site` and includes) → markdown → HTML that podcast apps render.

A post's notes never fail its episode: tags of site plugins the pipeline cannot know are dropped, a missing
include is dropped, and a template that Liquid cannot render falls back to its markdown without the Liquid.
Each of these is reported as a warning on the post's key.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TextIO

import nh3
from liquid import BoundTemplate, Environment, Mode, Tag, Undefined
from liquid.ast import IllegalNode, Node
from liquid.exceptions import LiquidError, LiquidSyntaxError
from liquid.token import TOKEN_EXPRESSION, TOKEN_ILLEGAL, TOKEN_TAG, Token
from markdown_it import MarkdownIt

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


@dataclass(frozen=True)
class Notes:
    html: str  # sanitised
    summary: str  # the first paragraph as plain text, for <description> when the post has none
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class _Dropped:
    code: Code
    message: str


class _NotesEnvironment(Environment):
    # Bounds for a runaway template: one post must not stall the rebuild of its whole feed.
    loop_iteration_limit: ClassVar[int | None] = 10_000
    output_stream_limit: ClassVar[int | None] = 5_000_000

    def __init__(self, includes: Mapping[str, str]) -> None:
        super().__init__(tolerance=Mode.STRICT, undefined=Undefined, strict_filters=True)
        self.includes = dict(includes)
        # Filled while one template is parsed; `parse_notes` hands them to its caller.
        self.dropped: list[_Dropped] = []
        self._parsed_includes: dict[str, tuple[BoundTemplate | None, tuple[_Dropped, ...]]] = {}
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
        cached = self._parsed_includes.get(name)
        if cached is None:
            cached = self._parse_include(name)
            self._parsed_includes[name] = cached
        self.dropped.extend(cached[1])
        return cached[0]

    def _parse_include(self, name: str) -> tuple[BoundTemplate | None, tuple[_Dropped, ...]]:
        if name not in self.includes:
            return None, (_Dropped(Code.MISSING_INCLUDE, f"include {name!r} not found; dropped"),)
        if name in self._parsing:
            return None, (_Dropped(Code.LIQUID_ERROR, f"include {name!r} includes itself; dropped"),)
        outer, self.dropped = self.dropped, []
        self._parsing.add(name)
        try:
            template: BoundTemplate | None = self.from_string(self.includes[name], name=name)
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


class NotesCache:
    """Rendered notes by a digest of everything they depend on, least recently used dropped first.

    Markdown is most of a feed's render time; kept across rebuilds in a warm function, a rebuild renders
    only the notes of posts (or includes, or site settings) that changed.
    """

    def __init__(self, max_entries: int = 20_000) -> None:
        self._entries: OrderedDict[str, Notes] = OrderedDict()
        self._max_entries = max_entries

    def get(self, digest: str) -> Notes | None:
        notes = self._entries.get(digest)
        if notes is not None:
            self._entries.move_to_end(digest)
        return notes

    def clear(self) -> None:
        self._entries.clear()

    def put(self, digest: str, notes: Notes) -> None:
        self._entries[digest] = notes
        self._entries.move_to_end(digest)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


class ShowNotes:
    """Renders the notes of many posts of one site; build one per feed rebuild (includes are cached)."""

    def __init__(
        self,
        site: Mapping[str, Any],
        includes: Mapping[str, str] | None = None,
        *,
        cache: NotesCache | None = None,
    ) -> None:
        self._site = dict(site)
        self._env = _NotesEnvironment(includes or {})
        self._cache = cache
        self._context_digest = _digest([self._site, dict(includes or {})])
        self._markdown = MarkdownIt("commonmark", {"html": True}).enable("table")
        self._cleaner = nh3.Cleaner(
            tags=set(ALLOWED_TAGS),
            clean_content_tags={"script", "style"},
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes=set(URL_SCHEMES),
            # Root-relative links of a Jekyll site (`/podcast/...`) must still work inside a podcast app.
            url_relative=("rewrite_with_base", str(site.get("url", "")).rstrip("/") + "/")
            if site.get("url")
            else "deny",
        )

    def render(self, body: str, page: Mapping[str, Any], *, key: str | None = None) -> Notes:
        """Notes of one post; `page` is Liquid's `page` (front-matter plus title, date, slug, url, ...)."""
        if self._cache is None:
            return self._render(body, page, key)
        digest = _digest([self._context_digest, body, dict(page), key])
        notes = self._cache.get(digest)
        if notes is None:
            notes = self._render(body, page, key)
            self._cache.put(digest, notes)
        return notes

    def _render(self, body: str, page: Mapping[str, Any], key: str | None) -> Notes:
        text, problems = self._liquid(body, page, key)
        tokens = self._markdown.parse(text)
        html = self._markdown.renderer.render(tokens, self._markdown.options, {})
        return Notes(html=self._cleaner.clean(html), summary=_first_paragraph(tokens), problems=problems)

    def _liquid(self, body: str, page: Mapping[str, Any], key: str | None) -> tuple[str, tuple[Problem, ...]]:
        template, dropped, error = self._env.parse_notes(body)
        problems = [warning(d.code, f"show notes: {d.message}", key=key) for d in dict.fromkeys(dropped)]
        if template is not None:
            try:
                return template.render(page=dict(page), site=self._site), tuple(problems)
            except LiquidError as err:
                error = _first_line(err)
        problems.append(
            warning(Code.LIQUID_ERROR, f"show notes: Liquid failed ({error}); used without Liquid", key=key)
        )
        return _LIQUID_MARKUP.sub("", body), tuple(problems)


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _first_paragraph(tokens: list[MarkdownToken]) -> str:
    """The text of the first non-empty paragraph, markup removed."""
    for index, token in enumerate(tokens[:-1]):
        if token.type != "paragraph_open":
            continue
        parts = [
            " " if child.type in ("softbreak", "hardbreak") else child.content
            for child in tokens[index + 1].children or ()
            if child.type in ("text", "code_inline", "softbreak", "hardbreak")
        ]
        text = " ".join("".join(parts).split())
        if text:
            return text
    return ""
