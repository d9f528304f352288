"""Jekyll-style episode posts: the object key gives category, date and slug; the front-matter the rest.

Parsing is defensive because posts arrive from anyone with write access to the bucket: size is checked
before anything is decoded, YAML is loaded with a safe loader that also bounds alias expansion and
nesting, and every unusable input becomes a ProblemError with a specific code.

Category: the folder under the posts prefix wins over the front-matter's `category:`, because an
episode's id must follow from its object key alone (a delete event carries nothing else). The
front-matter's category is used only for posts directly under the prefix.
"""

from __future__ import annotations

import base64
import codecs
import datetime as dt
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import yaml
from frontmatter.default_handlers import YAMLHandler

from podcast_pipeline.config import SiteConfig
from podcast_pipeline.problems import Code, ProblemError, error

MAX_POST_BYTES = 1024 * 1024
CLAIM_FIELDS = ("mp3_bytes", "mp3_duration")
AUDIO_KEY_FIELD = "mp3_key"
# Far beyond any real front-matter, far below what hurts: bounds "billion laughs" alias expansion.
MAX_EXPANDED_NODES = 100_000
MAX_NESTING = 64
# Real front-matter is a few KiB; the cap bounds YAML parsing time and what every stored episode carries.
MAX_FRONT_MATTER_BYTES = 64 * 1024
# A post key is stored behind a prefix in DynamoDB sort keys, which hold at most 1024 bytes.
MAX_POST_KEY_BYTES = 1000
S3_MAX_KEY_BYTES = 1024
# A claim longer than this is no byte count or duration; it would only bloat messages and events.
MAX_CLAIM_CHARS = 64

_FILE_NAME = re.compile(r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})-(?P<slug>.+)\.md")
_LEADING_NUMBER = re.compile(r"([0-9]+)(?:-|$)")
_CATEGORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class PostKey:
    """What an object key says about its post."""

    key: str
    category: str | None  # the folder under the posts prefix, if any
    date: dt.date
    slug: str

    @property
    def number(self) -> int | None:
        """A leading number in the slug is the episode number (`54-paparazzi-...` is 54)."""
        match = _LEADING_NUMBER.match(self.slug)
        return int(match[1]) if match else None


@dataclass(frozen=True)
class Post:
    key: str
    category: str
    date: dt.date
    slug: str
    number: int | None
    title: str | None
    front_matter: dict[str, Any]  # JSON-safe: dates are ISO strings; mp3_* claims as written
    body: str  # as written, Liquid included
    claimed_bytes: str | None
    claimed_duration: str | None
    audio_key: str | None  # the front-matter's explicit `mp3_key`, if any

    @property
    def has_audio(self) -> bool:
        return any(name.startswith("mp3_") for name in self.front_matter)

    @property
    def episode_id(self) -> str:
        return f"{self.category}/{self.slug}"


def parse_key(key: str, *, posts_prefix: str = "_posts/") -> PostKey:
    """Split `<prefix>[<category>/]<YYYY-MM-DD>-<slug>.md`; ProblemError(BAD_KEY) if it is not one."""
    expected = f"expected {posts_prefix}<category>/<YYYY-MM-DD>-<slug>.md"
    size = len(key.encode("utf-8"))
    if size > MAX_POST_KEY_BYTES:
        raise _bad_key(key, f"post key is {size} bytes (UTF-8); the limit is {MAX_POST_KEY_BYTES}")
    if not key.startswith(posts_prefix):
        raise _bad_key(key, f"post key {key!r} is not under {posts_prefix!r} ({expected})")
    *folders, name = key[len(posts_prefix) :].split("/")
    if len(folders) > 1 or (folders and not _CATEGORY.fullmatch(folders[0])):
        raise _bad_key(key, f"post key {key!r} has folders {'/'.join(folders)!r}; {expected}")
    match = _FILE_NAME.fullmatch(name)
    if match is None:
        raise _bad_key(key, f"post file name {name!r} is not <YYYY-MM-DD>-<slug>.md ({expected})")
    try:
        date = dt.date.fromisoformat(match["date"])
    except ValueError as err:
        raise _bad_key(key, f"post file name {name!r} has an invalid date {match['date']}: {err}") from err
    return PostKey(key=key, category=folders[0] if folders else None, date=date, slug=match["slug"])


@dataclass(frozen=True)
class PostIdentity:
    """The episode a post key stands for, known without reading the post (a deleted one included)."""

    id: str
    category: str
    slug: str
    date: str  # ISO date, "" when the key has none
    number: int | None


def post_identity(key: str, config: SiteConfig) -> PostIdentity:
    """Best effort for any key: a key that parse_key rejects still names a stable episode id.

    A post directly under the prefix takes its category from its front-matter, which the key does not
    know: its identity here has category "".
    """
    try:
        where = parse_key(key, posts_prefix=config.posts_prefix)
    except ProblemError:
        relative = key.removeprefix(config.posts_prefix)
        folder, _, name = relative.rpartition("/")
        slug = name.removesuffix(".md") or relative
        return PostIdentity(id=f"{folder}/{slug}", category=folder, slug=slug, date="", number=None)
    category = where.category or ""
    return PostIdentity(
        id=f"{category}/{where.slug}",
        category=category,
        slug=where.slug,
        date=where.date.isoformat(),
        number=where.number,
    )


def check_post_size(key: str, size: int) -> None:
    """ProblemError(TOO_LARGE) for a post of `size` bytes over the cap, before it is read or decoded."""
    if size > MAX_POST_BYTES:
        message = f"post is {size} bytes; the limit is {MAX_POST_BYTES} bytes"
        raise ProblemError(error(Code.TOO_LARGE, message, key=key))


def parse_post(key: str, data: bytes, *, posts_prefix: str = "_posts/") -> Post:
    """Parse one post object; ProblemError for anything that cannot be used as a post."""
    check_post_size(key, len(data))
    where = parse_key(key, posts_prefix=posts_prefix)
    text = _decode(key, data)
    metadata, body = _split(key, text)
    category = where.category or _category_from_front_matter(key, metadata)
    explicit_audio_key = metadata.get(AUDIO_KEY_FIELD)
    _check_bounds(key, metadata)
    front_matter = {str(name): _json_safe(value) for name, value in metadata.items()}
    return Post(
        key=key,
        category=category,
        date=where.date,
        slug=where.slug,
        number=where.number,
        title=_title(metadata.get("title")),
        front_matter=front_matter,
        body=body,
        claimed_bytes=_claim(metadata.get("mp3_bytes")),
        claimed_duration=_claim(metadata.get("mp3_duration")),
        audio_key=str(explicit_audio_key).lstrip("/") if explicit_audio_key else None,
    )


def _check_bounds(key: str, metadata: Mapping[Any, Any]) -> None:
    """Values that no real post has and that would break what stores or announces the episode."""
    codes = {"mp3_bytes": Code.INVALID_MP3_BYTES, "mp3_duration": Code.INVALID_MP3_DURATION}
    for name, code in codes.items():
        value = metadata.get(name)
        if value is not None and len(str(value)) > MAX_CLAIM_CHARS:
            length = len(str(value))
            message = f"{name} is {length:,} characters long; no {name} is more than {MAX_CLAIM_CHARS}"
            raise ProblemError(error(code, message, key=key))
    audio_key = metadata.get(AUDIO_KEY_FIELD)
    if audio_key is not None and len(str(audio_key).encode("utf-8")) > S3_MAX_KEY_BYTES:
        raise _invalid(key, f"`{AUDIO_KEY_FIELD}` is longer than any S3 key ({S3_MAX_KEY_BYTES} bytes)")


def _bad_key(key: str, message: str) -> ProblemError:
    return ProblemError(error(Code.BAD_KEY, message, key=key))


def _bad_encoding(key: str, message: str) -> ProblemError:
    return ProblemError(error(Code.BAD_ENCODING, message, key=key))


def _invalid(key: str, message: str) -> ProblemError:
    return ProblemError(error(Code.INVALID_FRONT_MATTER, message, key=key))


def _decode(key: str, data: bytes) -> str:
    for bom, name in (
        (codecs.BOM_UTF32_LE, "UTF-32"),
        (codecs.BOM_UTF32_BE, "UTF-32"),
        (codecs.BOM_UTF16_LE, "UTF-16"),
        (codecs.BOM_UTF16_BE, "UTF-16"),
    ):
        if data.startswith(bom):
            raise _bad_encoding(key, f"post is {name} text; save it as UTF-8")
    if b"\x00" in data:
        raise _bad_encoding(key, f"post contains NUL bytes at offset {data.index(0)}: binary, not UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _bad_encoding(key, f"post is not UTF-8: byte {err.start} is {data[err.start]:#04x}") from err


class _FrontMatterLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents whose aliases expand beyond MAX_EXPANDED_NODES, or nest too deep.

    Constructing an alias bomb is cheap (PyYAML shares the anchored object); walking the result is
    what explodes, so the expanded size of every node is tracked while composing.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._expanded: dict[int, int] = {}
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            target = super().compose_node(parent, index)
            if id(target) not in self._expanded:
                raise yaml.YAMLError("an alias refers to a node that contains it")
            return target
        self._depth += 1
        if self._depth > MAX_NESTING:
            raise yaml.YAMLError(f"front-matter nests deeper than {MAX_NESTING} levels")
        node = super().compose_node(parent, index)
        self._depth -= 1
        if isinstance(node, yaml.MappingNode):
            _refuse_duplicates(node)
        if node is not None:
            size = 1 + sum(self._expanded[id(child)] for child in _children(node))
            if size > MAX_EXPANDED_NODES:
                raise yaml.YAMLError(f"front-matter aliases expand to more than {MAX_EXPANDED_NODES} values")
            self._expanded[id(node)] = size
        return node


def _refuse_duplicates(node: yaml.MappingNode) -> None:
    """PyYAML (and Jekyll) silently keep the last of two equal keys: a reader sees the first. Refuse both."""
    seen: dict[str, yaml.Node] = {}
    for name, _ in node.value:
        if not isinstance(name, yaml.ScalarNode) or name.tag == _MERGE_TAG:
            continue
        if name.value in seen:
            lines = f"{seen[name.value].start_mark.line + 1} and {name.start_mark.line + 1}"
            raise yaml.YAMLError(f"key {name.value!r} appears twice (front-matter lines {lines})")
        seen[name.value] = name


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class SafeYAMLHandler(YAMLHandler):
    """python-frontmatter's YAML handler on the bounded safe loader; never constructs Python objects."""

    def load(self, fm: str, **kwargs: object) -> dict[Any, Any]:
        """The front-matter mapping, with the mp3_* claims as written (str, or None when empty).

        Written text matters: PyYAML reads an unquoted `1:01:43` as the base-60 integer 3703.
        """
        loader = _FrontMatterLoader(fm)
        try:
            node = loader.get_single_node()
            if node is None:
                return {}
            if not isinstance(node, yaml.MappingNode):
                shape = "list" if isinstance(node, yaml.SequenceNode) else "single value"
                raise yaml.YAMLError(f"front-matter must be a mapping of names to values, not a {shape}")
            data = loader.construct_document(node)
        finally:
            loader.dispose()
        claims = {
            name.value: _written(fm, value)
            for name, value in node.value
            if isinstance(name, yaml.ScalarNode) and name.value in CLAIM_FIELDS
        }
        return {**data, **claims}


def _written(source: str, node: yaml.Node) -> str | None:
    if isinstance(node, yaml.ScalarNode):
        return None if node.tag == _NULL_TAG else str(node.value)
    return source[node.start_mark.index : node.end_mark.index]


class FrontMatterBounds(NamedTuple):
    """Offsets in a post's text of its front-matter's opening and closing `---` lines."""

    opening_start: int
    opening_end: int
    closing_start: int
    closing_end: int


# python-frontmatter's boundary line: three or more dashes (its `\s*` also takes blank lines after them).
_BOUNDARY: re.Pattern[str] = SafeYAMLHandler.FM_BOUNDARY


def front_matter_bounds(text: str, key: str | None = None) -> FrontMatterBounds:
    """Where the front-matter block of `text` is, found as python-frontmatter's split finds it: the text,
    stripped of white space around it, starts with a `---` line, and the next such line closes the block.
    """
    stripped = text.strip()
    lead = len(text) - len(text.lstrip())
    boundaries = _BOUNDARY.finditer(stripped)
    opening = next(boundaries, None)
    if opening is None or opening.start() != 0:
        message = "post does not start with a `---` front-matter block"
        raise ProblemError(error(Code.NO_FRONT_MATTER, message, key=key))
    closing = next(boundaries, None)
    if closing is None:
        message = "post opens a front-matter block with `---` but never closes it"
        raise ProblemError(error(Code.NO_FRONT_MATTER, message, key=key))
    return FrontMatterBounds(
        lead + opening.start(), lead + opening.end(), lead + closing.start(), lead + closing.end()
    )


def _split(key: str, text: str) -> tuple[dict[Any, Any], str]:
    bounds = front_matter_bounds(text, key)
    fm, body = text[bounds.opening_end : bounds.closing_start], text[bounds.closing_end :]
    size = len(fm.encode("utf-8"))
    if size > MAX_FRONT_MATTER_BYTES:
        message = f"front-matter is {size:,} bytes; front-matter may be at most {MAX_FRONT_MATTER_BYTES:,}"
        raise ProblemError(error(Code.TOO_LARGE, message, key=key))
    try:
        metadata = SafeYAMLHandler().load(fm)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError) as err:
        # ValueError: e.g. `date: 2020-13-45` passes the timestamp pattern, then fails datetime.date.
        raise _invalid(key, f"front-matter is not valid YAML: {_one_line(err)}") from err
    return metadata, body.strip()


def _one_line(err: Exception) -> str:
    return " ".join(str(err).split())


def _category_from_front_matter(key: str, metadata: Mapping[Any, Any]) -> str:
    category = metadata.get("category")
    if category is None and isinstance(metadata.get("categories"), list) and metadata["categories"]:
        category = metadata["categories"][0]
    if category is None:
        raise _bad_key(key, f"post key {key!r} has no category folder and the front-matter no `category:`")
    if not isinstance(category, str) or not _CATEGORY.fullmatch(category):
        raise _invalid(key, f"`category: {category}` is not a category name (letters, digits, _ . -)")
    return category


def _claim(value: object) -> str | None:
    return None if value is None else str(value)


def _title(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).strip() or None


def _json_safe(value: object) -> Any:
    """YAML's extra types as JSON ones: Liquid's `page`, DynamoDB and events all take JSON."""
    if isinstance(value, Mapping):
        return {_json_key(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, set):
        return sorted((_json_safe(item) for item in value), key=json.dumps)
    if isinstance(value, dt.date):  # datetime is a date too
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _json_key(key: object) -> str:
    return key.isoformat() if isinstance(key, dt.date) else str(key)
