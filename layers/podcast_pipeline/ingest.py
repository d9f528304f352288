"""Ingest: one S3 object change in, the episode's new state and its events out.

The state of an episode is a function of the latest version of each of its sources (post and MP3),
never of arrival order: each change is recorded as its source's latest version (older ones are
ignored), then the episode is decided again from whatever the store holds now. A version that no longer
exists when it is read (SourceGone: deleted, or expired before a redelivery) is, like an older one, not
recorded: what replaced it has its own event. A post that parses has its show notes rendered here, once, so
feed rebuilds only assemble what the store holds.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Protocol

from podcast_pipeline.audio import AudioFacts
from podcast_pipeline.config import SiteConfig
from podcast_pipeline.decision import (
    AudioSource,
    DeletedAudio,
    DeletedPost,
    MeasuredAudio,
    ParsedPost,
    PostSource,
    UnusableAudio,
    UnusablePost,
    decide,
    transition_events,
)
from podcast_pipeline.episode import (
    Episode,
    ObjectChange,
    ObjectKind,
    SourceRecord,
    SourceRef,
    State,
    StoredEpisode,
)
from podcast_pipeline.feed.notes import ShowNotes
from podcast_pipeline.posts import Post, parse_post, post_identity
from podcast_pipeline.problems import Code, Problem, ProblemError, error
from podcast_pipeline.publishing import Event, PublishError
from podcast_pipeline.verify import audio_key_of

MAX_DECIDE_ATTEMPTS = 8  # concurrent writers of one episode are rare; each conflict means progress elsewhere
# An episode is decided, written and announced under its lock. The lock outlives the longest invocation
# (ingest's timeout) by a margin, so a crashed holder frees it before SQS delivers its record again.
EPISODE_LOCK_SECONDS = 130
# How long a change waits for another invocation to finish with the same episode (an MP3 and its post
# uploaded together) before its record is retried later instead.
EPISODE_LOCK_WAIT_SECONDS = 10.0
EPISODE_LOCK_FIRST_BACKOFF_SECONDS = 0.05


class SourceGone(Exception):
    """The object version a change names no longer exists: deleted, or expired before a redelivery.

    An outcome, not a fault: a newer version of the key or its delete exists or is on its way, and that
    event settles the episode. Retrying cannot bring the version back, so nothing is recorded for it.
    """

    def __init__(self, ref: SourceRef) -> None:
        super().__init__(f"{ref.key} version {ref.version_id or '(current)'} no longer exists")
        self.ref = ref


class ObjectReader(Protocol):
    def read_post(self, ref: SourceRef) -> bytes:
        """The bytes of that version of the post; SourceGone when it no longer exists."""
        ...

    def probe_audio(self, ref: SourceRef) -> AudioFacts:
        """That version of the MP3 measured; ProblemError when it is no usable MP3, SourceGone when gone."""
        ...

    def read_include(self, name: str) -> str | None:
        """The text of the Liquid include `name` (under the config's includes prefix); None: there is none."""
        ...


class Store(Protocol):
    def record_source(self, record: SourceRecord) -> bool: ...
    def get_source(self, key: str) -> SourceRecord | None: ...
    def link_audio(self, audio_key: str, post_key: str) -> None: ...
    def unlink_audio(self, audio_key: str, post_key: str) -> None: ...
    def posts_of_audio(self, audio_key: str) -> list[str]: ...
    def get_episode(self, episode_id: str) -> StoredEpisode | None: ...
    def save_episode(
        self, episode: Episode, expected_revision: int, outbox: list[dict[str, Any]]
    ) -> int | None: ...
    def save_outbox(self, episode_id: str, revision: int, outbox: list[dict[str, Any]]) -> None: ...
    def lock_episode(self, episode_id: str, owner: str, seconds: int) -> bool: ...
    def unlock_episode(self, episode_id: str, owner: str) -> None: ...
    def oversize(self, episode: Episode) -> tuple[int, int] | None:
        """(bytes it would take, bytes that fit) when `episode` is too large to store; None: it fits."""
        ...


class Publisher(Protocol):
    def publish_all(self, events: Sequence[Event]) -> None:
        """Put every event; PublishError (with the unsent ones) when some could not be put."""
        ...


@dataclass(frozen=True)
class Outcome:
    """What one change did, for logs, metrics and the local report."""

    key: str
    kind: ObjectKind
    stale: bool = False  # an older version than the one already recorded: ignored
    gone: bool = False  # the version no longer exists (SourceGone): nothing recorded, nothing decided
    repeated: bool = False  # a delivery of a change whose effects are all stored already: nothing to do
    episodes: tuple[Episode, ...] = ()
    events: tuple[str, ...] = ()  # detail-types emitted
    bytes_read: int = 0
    # Posts of this change whose recorded version is gone: each episode stays as it was decided until the
    # post's own next event (its newer version or its delete) settles it, with what this change recorded.
    unsettled: tuple[str, ...] = ()


class IngestConflict(RuntimeError):
    """The episode kept changing under us, or stayed locked by another invocation; SQS retries the record."""


def classify(key: str, config: SiteConfig) -> ObjectKind:
    """POST, AUDIO or OTHER: an include is OTHER here, as ingest does not react to one changing."""
    lowered = key.lower()
    if key.startswith(config.posts_prefix) and lowered.endswith((".md", ".markdown")):
        return ObjectKind.POST
    if lowered.endswith(".mp3"):
        return ObjectKind.AUDIO
    return ObjectKind.OTHER


def _storable(episode: Episode, store: Store) -> Episode:
    """`episode`, or when its store item would be over DynamoDB's limit, its failure without notes.

    A post under the size cap can still be too large stored (incompressible notes, their HTML besides):
    a put that DynamoDB refuses would fail the record on every delivery, so it becomes a finding instead.
    """
    oversize = store.oversize(episode)
    if oversize is None:
        return episode
    size, limit = oversize
    problem = error(
        Code.TOO_LARGE,
        f"the post's front-matter and show notes take {size:,} bytes stored; {limit:,} fit",
        key=episode.post.key if episode.post else None,
    )
    return replace(
        episode,
        state=State.FAILED,
        front_matter={},
        body="",
        notes_html="",
        notes_summary="",
        problems=(*episode.problems, problem),
    )


class Ingest:
    def __init__(
        self,
        config: SiteConfig,
        store: Store,
        objects: ObjectReader,
        bus: Publisher,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._config = config
        self._store = store
        self._objects = objects
        self._bus = bus
        self._clock, self._sleep = clock, sleep
        self._notes = ShowNotes(config.site, objects.read_include)

    def handle(self, change: ObjectChange) -> Outcome:
        kind = classify(change.key, self._config)
        if kind is ObjectKind.OTHER:
            return Outcome(change.key, kind)
        known = self._store.get_source(change.key)  # what is recorded of the key so far
        if self._already_settled(change, kind, known):
            return Outcome(change.key, kind, repeated=True)
        if kind is ObjectKind.POST:
            return self._post_changed(change, known)
        return self._audio_changed(change)

    def _already_settled(self, change: ObjectChange, kind: ObjectKind, known: SourceRecord | None) -> bool:
        """This exact change is recorded, and every episode it touches was decided from it with nothing
        left to send: a repeated delivery (EventBridge and SQS deliver at least once; a multipart upload
        announces itself twice), settled in a few reads instead of reading and deciding it all again.

        A delivery after a crash finds the episode not yet decided from this version, or events still in
        its outbox, and goes the whole way.
        """
        if (
            known is None
            or not change.version_id
            or (known.ref.version_id, known.ref.sequencer, known.deleted)
            != (change.version_id, change.sequencer, change.deleted)
        ):
            return False
        posts = (
            [known]
            if kind is ObjectKind.POST
            else [self._store.get_source(key) for key in self._store.posts_of_audio(change.key)]
        )
        for source in posts:
            if source is None:
                return False
            stored = self._store.get_episode(self._episode_id(source.ref.key, None, source))
            if stored is None or stored.outbox:
                return False
            used = stored.episode.post if kind is ObjectKind.POST else stored.episode.audio
            if used is None or used.version_id != change.version_id:
                return False
        return True

    # -- a post changed --------------------------------------------------------------------------

    def _post_changed(self, change: ObjectChange, known: SourceRecord | None) -> Outcome:
        post: Post | ProblemError | None = None
        if change.deleted:
            # The key alone cannot name the episode of a post whose category came from its front-matter.
            episode_id = known.episode_id if known else None
        else:
            try:
                post = self._read_post(change.ref)
            except SourceGone:
                # Recording it would make a version nobody can read the key's latest; the version or delete
                # that replaced it has its own event, as stale ones do.
                return Outcome(change.key, ObjectKind.POST, gone=True)
            episode_id = self._episode_id(change.key, post, None)
        problem = post.problem.to_dict() if isinstance(post, ProblemError) else None
        record = SourceRecord(
            change.ref, ObjectKind.POST.value, deleted=change.deleted, problem=problem, episode_id=episode_id
        )
        if not self._store.record_source(record):
            return Outcome(change.key, ObjectKind.POST, stale=True)
        return self._settle_posts(change.key, ObjectKind.POST, [change.key], post)

    def _read_post(self, ref: SourceRef) -> Post | ProblemError:
        """The post at `ref` parsed, or the problem that keeps it from parsing; raises SourceGone."""
        try:
            return parse_post(ref.key, self._objects.read_post(ref), posts_prefix=self._config.posts_prefix)
        except ProblemError as err:
            return err

    # -- an MP3 changed --------------------------------------------------------------------------

    def _audio_changed(self, change: ObjectChange) -> Outcome:
        facts: AudioFacts | None = None
        problem: dict[str, Any] | None = None
        if not change.deleted:
            try:
                facts = self._objects.probe_audio(change.ref)
            except ProblemError as err:
                problem = err.problem.to_dict()
            except SourceGone:
                return Outcome(change.key, ObjectKind.AUDIO, gone=True)  # as for a post: nothing to record
        record = SourceRecord(
            change.ref,
            ObjectKind.AUDIO.value,
            deleted=change.deleted,
            facts=facts.to_dict() if facts else None,
            problem=problem,
        )
        if not self._store.record_source(record):
            return Outcome(change.key, ObjectKind.AUDIO, stale=True)
        read = facts.bytes_read if facts else 0
        return self._settle_posts(
            change.key, ObjectKind.AUDIO, self._store.posts_of_audio(change.key), None, read
        )

    # -- deciding an episode from its sources ----------------------------------------------------

    def _settle_posts(
        self,
        key: str,
        kind: ObjectKind,
        post_keys: Sequence[str],
        parsed: Post | ProblemError | None,
        read: int = 0,
    ) -> Outcome:
        """The outcome of a recorded change of `key`: the episodes of `post_keys` settled."""
        episodes: list[Episode] = []
        events: list[str] = []
        unsettled: list[str] = []
        for post_key in post_keys:
            try:
                episode, emitted = self._settle(post_key, parsed)
            except SourceGone:
                # The post's recorded version went after it was decided: its episode keeps that decision
                # until the post's next event, which reads the sources again, this change's among them.
                unsettled.append(post_key)
                continue
            if episode:
                episodes.append(episode)
            events.extend(emitted)
        return Outcome(
            key,
            kind,
            episodes=tuple(episodes),
            events=tuple(events),
            bytes_read=read,
            unsettled=tuple(unsettled),
        )

    def _settle(self, post_key: str, parsed: Post | ProblemError | None) -> tuple[Episode | None, list[str]]:
        """Decide the episode of `post_key` from the stored sources, write it, send its events.

        Under the episode's lock: two invocations that both found an episode's events in its outbox (the
        same S3 event delivered twice, or a post and its MP3 arriving together) would each send them.
        """
        for _ in range(MAX_DECIDE_ATTEMPTS):
            source = self._store.get_source(post_key)
            if source is None:
                return None, []
            if parsed is None or (not isinstance(parsed, ProblemError) and parsed.key != post_key):
                parsed = None if source.deleted else self._read_post(source.ref)
            episode_id = self._episode_id(post_key, parsed, source)
            with self._locked(episode_id):
                settled = self._write(source, parsed, episode_id)
            if settled is not None:
                return settled
            parsed = None  # someone else wrote first: read everything again
        raise IngestConflict(f"episode of {post_key} kept changing during {MAX_DECIDE_ATTEMPTS} attempts")

    @contextmanager
    def _locked(self, episode_id: str) -> Iterator[None]:
        owner = uuid.uuid4().hex
        deadline = self._clock() + EPISODE_LOCK_WAIT_SECONDS
        backoff = EPISODE_LOCK_FIRST_BACKOFF_SECONDS
        while not self._store.lock_episode(episode_id, owner, EPISODE_LOCK_SECONDS):
            if self._clock() >= deadline:
                raise IngestConflict(f"episode {episode_id} stayed locked by another invocation")
            self._sleep(backoff)
            backoff = min(backoff * 2, 1.0)
        try:
            yield
        finally:
            self._store.unlock_episode(episode_id, owner)

    def _write(
        self, source: SourceRecord, parsed: Post | ProblemError | None, episode_id: str
    ) -> tuple[Episode | None, list[str]] | None:
        """Decide, write and announce the episode; None when another writer got in first."""
        stored = self._store.get_episode(episode_id)
        previous = stored.episode if stored else None
        episode = self._decide(source, parsed, previous)
        if episode is None:
            return None, []
        episode = _storable(episode, self._store)
        if previous is not None and previous.to_dict() == episode.to_dict():
            self._flush(stored)  # a redelivery may find events that a crash left unsent
            return episode, []
        # Events carry `<category>/<slug>` and a date: an object whose key yields neither (a post
        # key that is no post key) is recorded and reported, but names no episode to announce.
        named = bool(episode.category and episode.date)
        detail_types = transition_events(previous, episode) if named else []
        # Each event carries the revision it is decided at (the one save_episode writes), so an event
        # re-sent from the outbox keeps its idempotency key and a later decision gets a new one.
        new_events = [
            {
                "detail_type": t.value,
                "detail": episode.event_detail(
                    detail_type=t.value, revision=(stored.revision if stored else 0) + 1
                ),
            }
            for t in detail_types
        ]
        outbox = (stored.outbox if stored else []) + new_events
        revision = self._store.save_episode(episode, stored.revision if stored else 0, outbox)
        if revision is None:
            return None
        self._flush(StoredEpisode(episode, revision, outbox))
        return episode, [t.value for t in detail_types]

    def _episode_id(
        self, post_key: str, post: Post | ProblemError | None, source: SourceRecord | None
    ) -> str:
        if isinstance(post, Post):
            return post.episode_id
        if source is not None and source.episode_id:
            return source.episode_id
        return post_identity(post_key, self._config).id

    def _decide(
        self, source: SourceRecord, post: Post | ProblemError | None, previous: Episode | None
    ) -> Episode:
        """The decision on the episode from the stored sources of its post and MP3, with notes rendered."""
        post_source = self._post_source(source, post)
        if not isinstance(post_source, ParsedPost):
            return decide(post_source, None, self._config, previous).episode
        audio = self._audio_source(post_source.post, previous)
        return self._notes.add_to(decide(post_source, audio, self._config, previous).episode)

    @staticmethod
    def _post_source(source: SourceRecord, post: Post | ProblemError | None) -> PostSource:
        if source.deleted or post is None:
            return DeletedPost(source.ref.key, source.ref)
        if isinstance(post, ProblemError):
            return UnusablePost(source.ref.key, post.problem, source.ref)
        return ParsedPost(post, source.ref)

    def _audio_source(self, post: Post, previous: Episode | None) -> AudioSource | None:
        """What the store holds of the post's MP3; None: nothing yet, or a text-only post."""
        audio_key = audio_key_of(post, self._config)
        if audio_key is None:
            return None
        # Link before reading the audio source: of two concurrent writers (post, MP3), at least one sees both.
        self._link(post, audio_key, previous)
        audio = self._store.get_source(audio_key)
        if audio is None:
            return None
        if audio.deleted:
            return DeletedAudio(audio_key, audio.ref)
        if audio.problem is not None:
            return UnusableAudio(audio_key, Problem.from_dict(audio.problem), audio.ref)
        # A recorded MP3 is measured, unusable or deleted: one with neither facts nor a problem is not known.
        return MeasuredAudio(AudioFacts(**audio.facts), audio.ref) if audio.facts else None

    def _link(self, post: Post, audio_key: str, previous: Episode | None) -> None:
        if previous and previous.audio_key and previous.audio_key != audio_key:
            self._store.unlink_audio(previous.audio_key, post.key)
        self._store.link_audio(audio_key, post.key)

    def _flush(self, stored: StoredEpisode | None) -> None:
        """Send the events in the episode's outbox, then clear it.

        When only some went out, the outbox keeps just the others before the PublishError fails the record:
        the redelivery sends those, and not again the ones the bus already accepted.
        """
        if not stored or not stored.outbox:
            return
        try:
            self._bus.publish_all([(event["detail_type"], event["detail"]) for event in stored.outbox])
        except PublishError as err:
            unsent = [{"detail_type": detail_type, "detail": detail} for detail_type, detail in err.unsent]
            if len(unsent) < len(stored.outbox):
                self._store.save_outbox(stored.episode.id, stored.revision, unsent)
            raise
        self._store.save_outbox(stored.episode.id, stored.revision, [])
