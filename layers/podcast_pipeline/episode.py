"""The episode aggregate (what the store keeps, the report lists, events carry and feeds render) and the
source objects it is built from."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from podcast_pipeline.problems import Problem

SCHEMA_VERSION = "1"
# What the episode item leaves to the feed entry (the notes, as written and rendered, and the front-matter
# they are rendered with): the item holds what ingest and the status page read, small and often written.
NOTES_FIELDS = ("front_matter", "body", "notes_html", "notes_summary")


class State(StrEnum):
    AWAITING_AUDIO = "awaiting_audio"
    AWAITING_POST = "awaiting_post"
    PUBLISHED = "published"
    FAILED = "failed"
    UNPUBLISHED = "unpublished"


class ObjectKind(StrEnum):
    """What an object of the content bucket is to the pipeline."""

    POST = "post"
    AUDIO = "audio"
    INCLUDE = "include"  # a Liquid include of show notes
    OTHER = "other"


@dataclass(frozen=True)
class SourceRef:
    """One S3 object version an episode was built from."""

    key: str
    version_id: str | None = None
    etag: str | None = None
    sequencer: str | None = None
    size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "version_id": self.version_id,
            "etag": self.etag,
            "sequencer": self.sequencer,
            "size": self.size,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceRef:
        return cls(
            data["key"], data.get("version_id"), data.get("etag"), data.get("sequencer"), data.get("size")
        )


@dataclass(frozen=True)
class ObjectChange:
    """One object version created or deleted, as S3 announced it."""

    event_id: str
    bucket: str
    key: str  # decoded: AWS URL-encodes keys in notifications
    deleted: bool
    version_id: str | None
    etag: str | None
    sequencer: str | None  # zero-padded to one width, so later versions sort later as strings
    size: int | None

    @property
    def ref(self) -> SourceRef:
        return SourceRef(self.key, self.version_id, self.etag, self.sequencer, self.size)


@dataclass(frozen=True)
class SourceRecord:
    """What the store keeps of one S3 object: its latest version and the facts or problem read from it."""

    ref: SourceRef
    kind: str  # "post" | "audio"
    deleted: bool = False
    facts: dict[str, Any] | None = None  # audio: the measured facts
    problem: dict[str, Any] | None = None  # the object is unusable (Problem.to_dict())
    episode_id: str | None = None  # posts: the episode they stand for (kept when the post is deleted)


@dataclass(frozen=True)
class Episode:
    id: str  # "<category>/<slug>"
    category: str
    slug: str
    date: str  # ISO date from the post's file name
    state: State
    number: int | None = None
    title: str | None = None
    permalink: str | None = None  # also the feed guid
    audio_key: str | None = None
    audio_url: str | None = None
    claimed: dict[str, str | None] = field(default_factory=dict)  # {"mp3_bytes": ..., "mp3_duration": ...}
    measured: dict[str, Any] | None = None  # {"bytes": int, "duration_seconds": float, ...}
    problems: tuple[Problem, ...] = ()
    post: SourceRef | None = None
    audio: SourceRef | None = None
    front_matter: dict[str, Any] = field(default_factory=dict)  # Liquid's `page` for show notes
    body: str = ""  # show notes (markdown with Liquid), as written
    notes_html: str = ""  # the show notes rendered and sanitised at ingest, as the feed carries them
    notes_summary: str = ""  # their first paragraph as plain text, the feed's <description> fallback

    @property
    def has_audio(self) -> bool:
        return self.audio_key is not None

    @property
    def duration_seconds(self) -> int | None:
        """Whole seconds, truncated, as players and the feed show it."""
        return int(self.measured["duration_seconds"]) if self.measured else None

    @property
    def audio_bytes(self) -> int | None:
        return int(self.measured["bytes"]) if self.measured else None

    def summary(self) -> dict[str, Any]:
        """The report/`check --json` shape of DESIGN.md."""
        return {
            "id": self.id,
            "category": self.category,
            "number": self.number,
            "slug": self.slug,
            "title": self.title,
            "date": self.date,
            "state": self.state.value,
            "claimed": {"mp3_bytes": None, "mp3_duration": None, **self.claimed},
            "measured": dict(self.measured) if self.measured else None,
            "problems": [p.to_dict() for p in self.problems],
        }

    def event_detail(self, *, detail_type: str | None = None, revision: int | None = None) -> dict[str, Any]:
        """The `detail` of an Episode * event (events/schemas/), decided at store `revision`.

        `revision` and `detail_type` make the event's `idempotency_key` (`<id>#<revision>#<detail-type>`):
        a re-sent event carries the same key, a later decision a new one. Without them (report.json's
        view of an episode, which is no event) the detail has neither field.
        """
        if (detail_type is None) != (revision is None):
            raise ValueError("an event's detail needs its detail-type and the revision it is decided at")
        event = (
            {}
            if revision is None
            else {"revision": revision, "idempotency_key": f"{self.id}#{revision}#{detail_type}"}
        )
        return {
            "schema_version": SCHEMA_VERSION,
            **self.summary(),
            "permalink": self.permalink,
            "audio": None
            if not self.has_audio
            else {
                "key": self.audio_key,
                "url": self.audio_url,
                "bytes": self.audio_bytes,
                "duration_seconds": self.measured["duration_seconds"] if self.measured else None,
            },
            "sources": {
                "post": self.post.to_dict() if self.post else None,
                "audio": self.audio.to_dict() if self.audio else None,
            },
            **event,
        }

    def record(self) -> dict[str, Any]:
        """What the episode item keeps: everything but the NOTES_FIELDS, which the feed entry keeps."""
        return {name: value for name, value in self.to_dict().items() if name not in NOTES_FIELDS}

    def to_dict(self) -> dict[str, Any]:
        """Everything: `from_dict(to_dict())` round-trips."""
        return {
            **self.summary(),
            "permalink": self.permalink,
            "audio_key": self.audio_key,
            "audio_url": self.audio_url,
            "post": self.post.to_dict() if self.post else None,
            "audio": self.audio.to_dict() if self.audio else None,
            "front_matter": self.front_matter,
            "body": self.body,
            "notes_html": self.notes_html,
            "notes_summary": self.notes_summary,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Episode:
        return cls(
            id=data["id"],
            category=data["category"],
            slug=data["slug"],
            date=data["date"],
            state=State(data["state"]),
            number=data.get("number"),
            title=data.get("title"),
            permalink=data.get("permalink"),
            audio_key=data.get("audio_key"),
            audio_url=data.get("audio_url"),
            claimed=dict(data.get("claimed") or {}),
            measured=dict(data["measured"]) if data.get("measured") else None,
            problems=tuple(Problem.from_dict(p) for p in data.get("problems") or ()),
            post=SourceRef.from_dict(data["post"]) if data.get("post") else None,
            audio=SourceRef.from_dict(data["audio"]) if data.get("audio") else None,
            front_matter=dict(data.get("front_matter") or {}),
            body=data.get("body") or "",
            notes_html=data.get("notes_html") or "",
            notes_summary=data.get("notes_summary") or "",
        )


@dataclass(frozen=True)
class StoredEpisode:
    """An episode as stored: its revision, the work its decision still owes (events in `outbox`, the feed
    entry when `entry_pending`) and who is doing that work (`owner`, until `lease_expires`, epoch seconds).
    """

    episode: Episode
    revision: int
    outbox: list[dict[str, Any]] = field(default_factory=list)
    entry_digest: str = ""  # of the feed entry the episode makes ("": none, it is not published)
    entry_pending: bool = False
    owner: str | None = None
    lease_expires: int = 0

    @property
    def owes_work(self) -> bool:
        return bool(self.outbox) or self.entry_pending

    def held_by_another(self, owner: str, now: float) -> bool:
        return self.owner is not None and self.owner != owner and self.lease_expires >= now
