"""The site configuration: one YAML file serves the CDK app, the functions and the local runner.

Key names are a public contract (people write this file): add keys, never rename them. Outside `site`,
an unknown key is an error that names it.

A deployed function reads the file named by $PODCAST_PIPELINE_CONFIG, and only that: without it (or with a
path it cannot read) the handler module fails its import, an init error that names the variable, instead of
running with another show's settings. The built-in sample show (`podcast_pipeline_tools.local.sample`) is
the command line's default, passed in explicitly. YAML is parsed on first use, not at import: the handlers
import this module to check the variable at cold start.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podcast_pipeline import settings as _settings
from podcast_pipeline.people import Person, person_from_config

CONFIG_ENV = _settings.ENV_CONFIG
LAMBDA_TASK_ROOT_ENV = _settings.ENV_LAMBDA_TASK_ROOT
TEMPLATE_FIELDS = ("number", "slug", "category", "date")
# Transcript templates also take `{format}`: `vtt` or `srt`, the file's extension.
TRANSCRIPT_FIELDS = (*TEMPLATE_FIELDS, "format")
DEFAULT_CHAPTERS_KEY_TEMPLATE = "chapters/{category}/{slug}.json"
DEFAULT_INTRO_TITLE = "Introduction"
_MP3_SUFFIX = re.compile(r"\.mp3$", re.IGNORECASE)


class ConfigError(ValueError):
    """The configuration file is unusable; the message names the offending key."""


@dataclass(frozen=True)
class FeedConfig:
    category: str
    key: str
    title: str
    description: str
    link: str
    language: str = "en"
    author: str = ""
    owner_name: str = ""
    owner_email: str = ""
    image: str = ""
    explicit: bool = False
    categories: tuple[str, ...] = ()
    type: str = "episodic"
    copyright: str = ""
    locked: bool = False
    funding_url: str = ""
    websub_hubs: tuple[str, ...] = ()
    guid: str = ""  # podcast:guid override; derived from the feed url when empty
    hosts: tuple[Person, ...] = ()  # podcast:person of the channel and of every item
    season: int | None = None  # podcast:season of the items whose post names none
    # An analytics prefix (OP3's `https://op3.dev/e/`, Podtrac's, ...) put before every enclosure URL.
    # Enclosures only: guids, events and the chapters/transcript links keep the plain URLs.
    enclosure_prefix: str = ""


@dataclass(frozen=True)
class SiteConfig:
    site: Mapping[str, Any]
    posts_prefix: str = "_posts/"
    includes_prefix: str = "_includes/"
    permalink_template: str = "/{category}/{slug}"
    audio_key_template: str = "assets/podcast/{slug}.mp3"
    audio_url_template: str = ""
    feeds: Mapping[str, FeedConfig] = field(default_factory=dict)
    duration_tolerance_seconds: int = 1
    notification_emails: tuple[str, ...] = ()
    chapters_key_template: str = DEFAULT_CHAPTERS_KEY_TEMPLATE
    chapters_url_template: str = ""
    chapters_intro_title: str = DEFAULT_INTRO_TITLE
    transcript_key_template: str = ""  # default: the MP3's key with `.{format}` for `.mp3`
    transcript_url_template: str = ""  # default: the MP3's URL likewise
    guest_image_template: str = ""  # `{avatar}` / `{avatar_stem}` of the post's `guest_avatar`

    @property
    def site_url(self) -> str:
        return str(self.site["url"]).rstrip("/")

    def audio_key(self, **values: object) -> str:
        return _fill(self.audio_key_template, values)

    def audio_url(self, **values: object) -> str:
        return _fill(self._audio_url_template, values)

    @property
    def _audio_url_template(self) -> str:
        return self.audio_url_template or self.site_url + "/" + self.audio_key_template

    @property
    def chapters_prefix(self) -> str:
        """The fixed start of every chapters key: ingest may write there and nowhere else."""
        return self.chapters_key_template.partition("{")[0]

    @property
    def transcripts_prefix(self) -> str:
        """The fixed start of every transcript key (by default the MP3s' folder)."""
        return (self.transcript_key_template or _beside_mp3(self.audio_key_template)).partition("{")[0]

    def chapters_key(self, **values: object) -> str:
        return _fill(self.chapters_key_template, values)

    def chapters_url(self, **values: object) -> str:
        template = self.chapters_url_template or self.site_url + "/" + self.chapters_key_template
        return _fill(template, values)

    def transcript_key(self, format: str, **values: object) -> str:
        template = self.transcript_key_template or _beside_mp3(self.audio_key_template)
        return _fill(template, {**values, "format": format}, TRANSCRIPT_FIELDS)

    def transcript_url(self, format: str, **values: object) -> str:
        template = self.transcript_url_template or _beside_mp3(self._audio_url_template)
        return _fill(template, {**values, "format": format}, TRANSCRIPT_FIELDS)

    def permalink(self, **values: object) -> str:
        return self.site_url + _fill(self.permalink_template, values)

    def feed_url(self, category: str) -> str:
        return f"{self.site_url}/{self.feeds[category].key}"


def _fill(template: str, values: Mapping[str, object], fields: tuple[str, ...] = TEMPLATE_FIELDS) -> str:
    try:
        return template.format(**{name: values.get(name, "") for name in fields})
    except (KeyError, IndexError, ValueError) as err:
        raise ConfigError(f"template {template!r} is invalid: {err}") from err


def _beside_mp3(template: str) -> str:
    """The template of a file next to the MP3: same name, `.{format}` for `.mp3`."""
    return _MP3_SUFFIX.sub("", template) + ".{format}"


_SECTIONS = {"site", "posts", "audio", "feeds", "verification", "notifications"}
_SECTIONS |= {"chapters", "transcripts", "people"}
_POSTS_KEYS = {
    "prefix": "posts_prefix",
    "includes_prefix": "includes_prefix",
    "permalink": "permalink_template",
}
_AUDIO_KEYS = {"key_template": "audio_key_template", "url_template": "audio_url_template"}
# chapters:    key_template (default chapters/{category}/{slug}.json), url_template (default: site url + key),
#              intro_title (the 0:00 chapter added when the first topic starts later; default Introduction)
# transcripts: key_template, url_template (`{format}` is vtt or srt; default: the MP3's, `.mp3` replaced)
# people:      guest_image_template (podcast:person img of a guest: `{avatar}` is the post's guest_avatar
#              as written, `{avatar_stem}` without its extension; no template, no img)
_CHAPTERS_KEYS = {
    "key_template": "chapters_key_template",
    "url_template": "chapters_url_template",
    "intro_title": "chapters_intro_title",
}
_TRANSCRIPT_KEYS = {"key_template": "transcript_key_template", "url_template": "transcript_url_template"}
_PEOPLE_KEYS = {"guest_image_template": "guest_image_template"}
_FEED_REQUIRED = ("key", "title", "description", "link")
_FEED_FIELDS = set(FeedConfig.__dataclass_fields__) - {"category"}


def _section(raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = raw.get(name) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"`{name}` must be a mapping")
    return value


def _reject_unknown(where: str, keys: set[str], allowed: set[str]) -> None:
    unknown = sorted(keys - allowed)
    if unknown:
        raise ConfigError(f"unknown key `{where}{unknown[0]}` (allowed: {', '.join(sorted(allowed))})")


def _feed(category: str, raw: Any) -> FeedConfig:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"`feeds.{category}` must be a mapping")
    _reject_unknown(f"feeds.{category}.", set(raw), _FEED_FIELDS)
    missing = [name for name in _FEED_REQUIRED if not raw.get(name)]
    if missing:
        raise ConfigError(f"`feeds.{category}.{missing[0]}` is required")
    values = dict(raw)
    for name in ("categories", "websub_hubs"):
        values[name] = tuple(str(item) for item in values.get(name) or ())
    for name in ("explicit", "locked"):
        if name in values and not isinstance(values[name], bool):
            raise ConfigError(f"`feeds.{category}.{name}` must be true or false")
    values["hosts"] = _hosts(f"feeds.{category}.hosts", values.get("hosts"))
    season = values.get("season")
    if season is not None and (not isinstance(season, int) or isinstance(season, bool) or season < 1):
        raise ConfigError(f"`feeds.{category}.season` must be a whole number >= 1")
    prefix = values.get("enclosure_prefix")
    if prefix is not None and not str(prefix).startswith("https://"):
        raise ConfigError(f"`feeds.{category}.enclosure_prefix` must be an https:// URL prefix")
    return FeedConfig(category=category, **values)


def _hosts(where: str, raw: Any) -> tuple[Person, ...]:
    """`hosts: [{name: ..., href: ..., img: ..., role: ...}]`: name required, the rest optional."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError(f"`{where}` must be a list of people")
    hosts = []
    for index, entry in enumerate(raw):
        try:
            hosts.append(person_from_config(entry))
        except ValueError as err:
            raise ConfigError(f"`{where}[{index}]`: {err}") from err
    return tuple(hosts)


def _options(raw: Mapping[str, Any], name: str, keys: Mapping[str, str]) -> dict[str, str]:
    """A section of plain string settings, as SiteConfig fields."""
    section = _section(raw, name)
    _reject_unknown(f"{name}.", set(section), set(keys))
    return {keys[k]: str(v) for k, v in section.items()}


def parse_config(raw: Any) -> SiteConfig:
    """Validate a parsed YAML document into a SiteConfig."""
    if not isinstance(raw, Mapping):
        raise ConfigError("the configuration must be a mapping of sections")
    _reject_unknown("", set(raw), _SECTIONS)
    site = _section(raw, "site")
    if not site.get("url"):
        raise ConfigError("`site.url` is required")
    verification, notifications = _section(raw, "verification"), _section(raw, "notifications")
    _reject_unknown("verification.", set(verification), {"duration_tolerance_seconds"})
    _reject_unknown("notifications.", set(notifications), {"emails"})
    tolerance = verification.get("duration_tolerance_seconds", 1)
    if not isinstance(tolerance, int) or isinstance(tolerance, bool) or tolerance < 0:
        raise ConfigError("`verification.duration_tolerance_seconds` must be a whole number >= 0")
    options: dict[str, Any] = _options(raw, "posts", _POSTS_KEYS) | _options(raw, "audio", _AUDIO_KEYS)
    options |= _options(raw, "chapters", _CHAPTERS_KEYS) | _options(raw, "transcripts", _TRANSCRIPT_KEYS)
    options |= _options(raw, "people", _PEOPLE_KEYS)
    config = SiteConfig(
        site=dict(site),
        feeds={str(name): _feed(str(name), value) for name, value in _section(raw, "feeds").items()},
        duration_tolerance_seconds=tolerance,
        notification_emails=tuple(str(e) for e in notifications.get("emails") or ()),
        **options,
    )
    for template in (config.audio_key_template, config.audio_url_template, config.permalink_template):
        _fill(template, {})
    _check_chapters(config)
    try:
        config.guest_image_template.format(avatar="a.jpg", avatar_stem="a")
    except (KeyError, IndexError, ValueError) as err:
        raise ConfigError(
            f"`people.guest_image_template` is invalid ({{avatar}}, {{avatar_stem}}): {err}"
        ) from err
    for name, template in (
        ("key_template", config.transcript_key_template),
        ("url_template", config.transcript_url_template),
    ):
        if template and "{format}" not in template:
            raise ConfigError(f"`transcripts.{name}` must contain {{format}} (vtt or srt)")
        _fill(template, {}, TRANSCRIPT_FIELDS)
    return config


def _check_chapters(config: SiteConfig) -> None:
    config.chapters_url()
    if not config.chapters_intro_title.strip():
        raise ConfigError("`chapters.intro_title` must not be empty")
    prefix = config.chapters_prefix
    # Ingest may write chapters files under this fixed start of their keys and nowhere else: it must not be
    # where posts or includes live (a write there would be read back as the show's input).
    if not prefix or not config.chapters_key(slug="x", category="x", number=1).endswith(".json"):
        raise ConfigError(
            "`chapters.key_template` must start with a fixed folder (such as `chapters/`) and end in .json"
        )
    for name, taken in (
        ("posts.prefix", config.posts_prefix),
        ("posts.includes_prefix", config.includes_prefix),
    ):
        if prefix.startswith(taken) or taken.startswith(prefix):
            raise ConfigError(f"`chapters.key_template` must not share its folder with `{name}` ({taken})")


def load_config(path: str | Path | None = None, *, default: str | Path | None = None) -> SiteConfig:
    """Load the config file at `path`, else $PODCAST_PIPELINE_CONFIG, else `default` (the CLI's: the sample
    show); ConfigError naming the variable when none is given."""
    import yaml  # on first use: parsing is not part of a handler's cold start

    chosen = path or os.environ.get(CONFIG_ENV) or default
    if not chosen:
        raise ConfigError(f"no configuration: {CONFIG_ENV} is not set and no config file was given")
    chosen = Path(chosen)
    try:
        text = chosen.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read configuration {chosen}: {err.strerror}") from err
    try:
        return parse_config(yaml.safe_load(text))
    except yaml.YAMLError as err:
        raise ConfigError(f"{chosen} is not valid YAML: {err}") from err


def require_lambda_config() -> None:
    """In Lambda, fail now unless $PODCAST_PIPELINE_CONFIG names a readable file; elsewhere, do nothing.

    Called at import by each handler module, so a function deployed without its configuration fails its
    init (the error names the variable) rather than its first record. Only the file's presence and
    readability are checked: parsing waits for the first record, out of the cold start.
    """
    if not os.environ.get(LAMBDA_TASK_ROOT_ENV):
        return
    value = os.environ.get(CONFIG_ENV)
    if not value:
        raise ConfigError(f"{CONFIG_ENV} is not set: it must name the site configuration file")
    try:
        with Path(value).open("rb"):
            pass
    except OSError as err:
        raise ConfigError(f"{CONFIG_ENV}={value} cannot be read: {err.strerror}") from err
