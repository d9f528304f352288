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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podcast_pipeline import settings as _settings

CONFIG_ENV = _settings.ENV_CONFIG
LAMBDA_TASK_ROOT_ENV = _settings.ENV_LAMBDA_TASK_ROOT
TEMPLATE_FIELDS = ("number", "slug", "category", "date")


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

    @property
    def site_url(self) -> str:
        return str(self.site["url"]).rstrip("/")

    def audio_key(self, **values: object) -> str:
        return _fill(self.audio_key_template, values)

    def audio_url(self, **values: object) -> str:
        template = self.audio_url_template or self.site_url + "/" + self.audio_key_template
        return _fill(template, values)

    def permalink(self, **values: object) -> str:
        return self.site_url + _fill(self.permalink_template, values)

    def feed_url(self, category: str) -> str:
        return f"{self.site_url}/{self.feeds[category].key}"


def _fill(template: str, values: Mapping[str, object]) -> str:
    try:
        return template.format(**{name: values.get(name, "") for name in TEMPLATE_FIELDS})
    except (KeyError, IndexError, ValueError) as err:
        raise ConfigError(f"template {template!r} is invalid: {err}") from err


_SECTIONS = {"site", "posts", "audio", "feeds", "verification", "notifications"}
_POSTS_KEYS = {
    "prefix": "posts_prefix",
    "includes_prefix": "includes_prefix",
    "permalink": "permalink_template",
}
_AUDIO_KEYS = {"key_template": "audio_key_template", "url_template": "audio_url_template"}
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
    return FeedConfig(category=category, **values)


def parse_config(raw: Any) -> SiteConfig:
    """Validate a parsed YAML document into a SiteConfig."""
    if not isinstance(raw, Mapping):
        raise ConfigError("the configuration must be a mapping of sections")
    _reject_unknown("", set(raw), _SECTIONS)
    site = _section(raw, "site")
    if not site.get("url"):
        raise ConfigError("`site.url` is required")
    posts, audio = _section(raw, "posts"), _section(raw, "audio")
    verification, notifications = _section(raw, "verification"), _section(raw, "notifications")
    _reject_unknown("posts.", set(posts), set(_POSTS_KEYS))
    _reject_unknown("audio.", set(audio), set(_AUDIO_KEYS))
    _reject_unknown("verification.", set(verification), {"duration_tolerance_seconds"})
    _reject_unknown("notifications.", set(notifications), {"emails"})
    tolerance = verification.get("duration_tolerance_seconds", 1)
    if not isinstance(tolerance, int) or isinstance(tolerance, bool) or tolerance < 0:
        raise ConfigError("`verification.duration_tolerance_seconds` must be a whole number >= 0")
    options: dict[str, Any] = {_POSTS_KEYS[k]: str(v) for k, v in posts.items()}
    options |= {_AUDIO_KEYS[k]: str(v) for k, v in audio.items()}
    config = SiteConfig(
        site=dict(site),
        feeds={str(name): _feed(str(name), value) for name, value in _section(raw, "feeds").items()},
        duration_tolerance_seconds=tolerance,
        notification_emails=tuple(str(e) for e in notifications.get("emails") or ()),
        **options,
    )
    for template in (config.audio_key_template, config.audio_url_template, config.permalink_template):
        _fill(template, {})
    return config


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
