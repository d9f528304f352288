"""What people are told about an event: a Slack Block Kit payload and an e-mail, built from the event alone.

Pure functions of the EventBridge event (`detail-type` + `detail`, see `Episode.event_detail()`) and,
optionally, the site config for the show's name and feed URLs.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podcast_pipeline.config import SiteConfig
from podcast_pipeline.durations import format_clock
from podcast_pipeline.routes import DetailType

# Slack's limits (Block Kit reference): a section's text, a header, and what a message should stay under.
SECTION_TEXT_LIMIT = 3000
HEADER_LIMIT = 150
TEXT_LIMIT = 3900
SUBJECT_LIMIT = 99  # SNS: "must be less than 100 characters"
METADATA_EVENT_TYPE = "podcast_pipeline_notification"
FIX_ORDER = ("mp3_bytes", "mp3_duration")


@dataclass(frozen=True)
class Email:
    subject: str
    body: str


@dataclass(frozen=True)
class Message:
    """Everything one event says; `slack`/`email` are None when that channel has nothing to say."""

    event_id: str
    detail_type: str
    episode_id: str | None
    number: int | None
    slack: dict[str, Any] | None
    email: Email | None


def format_size(size: int) -> str:
    return f"{size:,} bytes ({size / 1_000_000:.1f} MB)"


def fix_lines(problems: Iterable[Mapping[str, Any]]) -> list[str]:
    """Front-matter lines that fix the problems, quoted as the posts quote them: `mp3_bytes: "91085568"`."""
    fixes: dict[str, str] = {}
    for problem in problems:
        for name, value in (problem.get("fix") or {}).items():
            fixes.setdefault(str(name), str(value))
    names = [n for n in FIX_ORDER if n in fixes] + sorted(n for n in fixes if n not in FIX_ORDER)
    # A YAML double-quoted scalar accepts JSON's escapes, so json.dumps quotes any value safely.
    return [f"{name}: {json.dumps(fixes[name], ensure_ascii=False)}" for name in names]


def ascii_subject(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """An SNS e-mail subject: ASCII, one line, no control characters, under the length limit."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    line = " ".join("".join(c if c.isprintable() else " " for c in folded).split())
    return line if len(line) <= limit else line[: limit - 3].rstrip() + "..."


def compose(event: Mapping[str, Any], config: SiteConfig | None = None) -> Message:
    """The message for one event; raises ValueError for an event that is not one of ours."""
    detail_type, detail = event.get("detail-type"), event.get("detail")
    if not isinstance(detail_type, str) or not isinstance(detail, Mapping) or not event.get("id"):
        raise ValueError("not an EventBridge event: `id`, `detail-type` and `detail` are required")
    event_id = str(event["id"])
    if detail_type == DetailType.FEED_UPDATED:
        return _feed_message(event_id, detail, config)
    if detail_type not in _EPISODE_VERBS:  # e.g. Episode Updated, should a rule ever route it here
        return Message(event_id, detail_type, None, None, None, None)
    return _episode_message(event_id, detail_type, detail, config)


_EPISODE_VERBS = {
    DetailType.EPISODE_PUBLISHED.value: (":white_check_mark:", "published"),
    DetailType.EPISODE_VERIFICATION_FAILED.value: (":x:", "failed verification"),
    DetailType.EPISODE_UNPUBLISHED.value: (":wastebasket:", "unpublished"),
}


@dataclass(frozen=True)
class _Episode:
    """The facts of an Episode event that any message about it shows."""

    detail_type: str
    event_id: str
    emoji: str
    name: str  # "Episode 54", or the id of an unnumbered post
    verb: str
    title: str
    headline: str
    permalink: str | None
    removed: str | None  # which source a deletion removed
    facts: list[tuple[str, str]]
    problems: list[Mapping[str, Any]]
    fixes: list[str]
    post_key: str | None

    @property
    def problem_lines(self) -> list[str]:
        return [
            f"[{p.get('severity', 'error')}] {p.get('code', '?')}: {p.get('message', '')}"
            for p in self.problems
        ]

    @property
    def paste_intro(self) -> str:
        where = f"the front-matter of {self.post_key}" if self.post_key else "the post's front-matter"
        return f"Paste into {where}:"


def _episode_message(
    event_id: str, detail_type: str, detail: Mapping[str, Any], config: SiteConfig | None
) -> Message:
    emoji, verb = _EPISODE_VERBS[detail_type]
    number = detail.get("number") if isinstance(detail.get("number"), int) else None
    episode_id = str(detail.get("id") or "")
    name = f"Episode {number}" if number is not None else episode_id
    title = str(detail.get("title") or detail.get("slug") or episode_id)
    removed = _removed_source(detail) if detail_type == DetailType.EPISODE_UNPUBLISHED else None
    problems = [p for p in detail.get("problems") or () if isinstance(p, Mapping)]
    episode = _Episode(
        detail_type=detail_type,
        event_id=event_id,
        emoji=emoji,
        name=name,
        verb=verb,
        title=title,
        headline=f"{name} {verb}: {title}" + (f" ({removed} was removed)" if removed else ""),
        permalink=str(detail["permalink"]) if detail.get("permalink") else None,
        removed=removed,
        facts=_facts(detail),
        problems=problems,
        fixes=fix_lines(problems),
        post_key=_source_key(detail, "post"),
    )
    return Message(
        event_id=event_id,
        detail_type=detail_type,
        episode_id=episode_id or None,
        number=number,
        slack=_payload(
            _clip(_episode_text(episode), TEXT_LIMIT),
            _episode_blocks(episode),
            detail_type,
            event_id,
            episode_id,
            number,
        ),
        email=Email(
            subject=ascii_subject(f"{_show(config)}{episode.headline}"), body=_episode_email_body(episode)
        ),
    )


def _episode_text(episode: _Episode) -> str:
    """Slack's plain-text fallback (notifications, screen readers): everything, fix lines included."""
    lines = [f"{episode.emoji} {episode.headline}", *(f"{label}: {value}" for label, value in episode.facts)]
    if episode.permalink:
        lines.append(f"Link: {episode.permalink}")
    if episode.problems:
        lines += ["Problems:", *(f"• {line}" for line in episode.problem_lines)]
    if episode.fixes:
        lines += [episode.paste_intro, *episode.fixes]
    return "\n".join(lines)


def _episode_blocks(episode: _Episode) -> list[dict[str, Any]]:
    title = (
        f"*<{episode.permalink}|{_escape(episode.title)}>*"
        if episode.permalink
        else f"*{_escape(episode.title)}*"
    )
    if episode.removed:
        title += f"\n{_escape(episode.removed[0].upper() + episode.removed[1:])} was removed."
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(_clip(f"{episode.name} {episode.verb}", HEADER_LIMIT))},
        {"type": "section", "text": _mrkdwn(_clip(title, SECTION_TEXT_LIMIT))},
        {
            "type": "section",
            "fields": [_mrkdwn(f"*{label}*\n{_escape(value)}") for label, value in episode.facts],
        },
    ]
    if episode.problems:
        items = [
            f"• `{_escape(str(p.get('code', '?')))}` {_escape(str(p.get('message', '')))}"
            for p in episode.problems
        ]
        blocks.append(
            {"type": "section", "text": _mrkdwn(_join_within(["*Problems*", *items], SECTION_TEXT_LIMIT))}
        )
    if episode.fixes:
        where = f"`{_escape(episode.post_key)}`" if episode.post_key else "the post"
        code = "```\n" + _escape("\n".join(episode.fixes)) + "\n```"
        text = f"*Paste into the front-matter of* {where}\n{code}"
        blocks.append({"type": "section", "text": _mrkdwn(_clip(text, SECTION_TEXT_LIMIT))})
    blocks.append(_context(episode.detail_type, episode.event_id))
    return blocks


def _episode_email_body(episode: _Episode) -> str:
    lines = [episode.headline, "", *(f"{label}: {value}" for label, value in episode.facts)]
    if episode.permalink:
        lines.append(f"Link: {episode.permalink}")
    if episode.problems:
        lines += ["", "Problems:", *(f"- {line}" for line in episode.problem_lines)]
    if episode.fixes:
        lines += ["", episode.paste_intro, "", *(f"    {line}" for line in episode.fixes)]
    lines += ["", f"Event {episode.event_id} ({episode.detail_type})"]
    return "\n".join(lines) + "\n"


def _feed_message(event_id: str, detail: Mapping[str, Any], config: SiteConfig | None) -> Message:
    detail_type = DetailType.FEED_UPDATED.value
    category = str(detail.get("category") or "")
    counts = {name: _count(detail, name) for name in ("added", "removed", "changed")}
    items = detail.get("item_count")
    url = feed_url(detail, config)
    changes = ", ".join(f"{n} {name}" for name, n in counts.items())
    summary = f"{items} item{'' if items == 1 else 's'} ({changes})" if isinstance(items, int) else changes
    headline = f"Feed {category} updated: {summary}"
    slack = None
    if any(counts.values()):  # a rebuild that changed no item is not news
        link = f"<{url}|{_escape(category)} feed>" if url else f"{_escape(category)} feed"
        blocks = [
            {"type": "section", "text": _mrkdwn(f":satellite_antenna: {link} updated: {_escape(summary)}")},
            _context(detail_type, event_id),
        ]
        text = f":satellite_antenna: {headline}" + (f"\n{url}" if url else "")
        slack = _payload(text, blocks, detail_type, event_id, None, None)
    return Message(event_id, detail_type, None, None, slack, None)


def feed_url(detail: Mapping[str, Any], config: SiteConfig | None) -> str | None:
    """The public URL of the feed a Feed Updated event is about: the event's, else the config's."""
    category = str(detail.get("category") or "")
    if detail.get("url"):
        return str(detail["url"])
    return config.feed_url(category) if config is not None and category in config.feeds else None


def _count(detail: Mapping[str, Any], name: str) -> int:
    guids = detail.get(f"guids_{name}")
    return len(guids) if isinstance(guids, Sequence) and not isinstance(guids, str) else 0


def _facts(detail: Mapping[str, Any]) -> list[tuple[str, str]]:
    facts = [("State", str(detail.get("state") or "unknown"))]
    if detail.get("id"):
        facts.append(("Episode", str(detail["id"])))
    measured = detail.get("measured") or {}
    if isinstance(measured.get("bytes"), int):
        facts.append(("Size", format_size(measured["bytes"])))
    if isinstance(measured.get("duration_seconds"), int | float):
        facts.append(("Duration", format_clock(measured["duration_seconds"])))
    return facts


def _source_key(detail: Mapping[str, Any], name: str) -> str | None:
    source = (detail.get("sources") or {}).get(name)
    return str(source["key"]) if isinstance(source, Mapping) and source.get("key") else None


def _removed_source(detail: Mapping[str, Any]) -> str:
    # A deleted source is recorded with its delete marker, whose size is null.
    sources = detail.get("sources") or {}
    for name, label in (("post", "the post"), ("audio", "the MP3")):
        source = sources.get(name)
        if isinstance(source, Mapping) and source.get("size") is None:
            return f"{label} {source['key']}" if source.get("key") else label
    codes = {p.get("code") for p in detail.get("problems") or () if isinstance(p, Mapping)}
    return "the MP3" if "audio_missing" in codes else "the post" if "post_missing" in codes else "a source"


def _show(config: SiteConfig | None) -> str:
    title = config.site.get("title") if config is not None else None
    return f"[{title}] " if title else ""


def _payload(
    text: str,
    blocks: list[dict[str, Any]],
    detail_type: str,
    event_id: str,
    episode_id: str | None,
    number: int | None,
) -> dict[str, Any]:
    # Message metadata lets a reader of the channel (and the local sink) tell which event a message is for.
    facts = {"detail_type": detail_type, "event_id": event_id, "episode_id": episode_id, "number": number}
    return {
        "text": text,
        "blocks": blocks,
        "metadata": {
            "event_type": METADATA_EVENT_TYPE,
            "event_payload": {k: v for k, v in facts.items() if v is not None},
        },
    }


def _context(detail_type: str, event_id: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(_escape(f"{detail_type} · event {event_id}"))]}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _escape(text: str) -> str:
    """Slack mrkdwn control characters; everything else is shown as written."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _join_within(lines: list[str], limit: int) -> str:
    """Join lines, dropping whole lines past `limit` and saying how many were left out."""
    kept: list[str] = []
    for index, line in enumerate(lines):
        more = f"\n… and {len(lines) - index} more"
        if len("\n".join([*kept, line])) + len(more) > limit:
            return _clip("\n".join(kept) + more, limit)
        kept.append(line)
    return "\n".join(kept)
