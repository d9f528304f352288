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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from podcast_pipeline.audio import AudioFacts
from podcast_pipeline.config import SiteConfig
from podcast_pipeline.decision import (
    AudioSource,
    Decision,
    DeletedAudio,
    DeletedPost,
    MeasuredAudio,
    ParsedPost,
    PostSource,
    UnusableAudio,
    UnusablePost,
    decide,
)
from podcast_pipeline.episode import (
    Episode,
    ObjectChange,
    ObjectKind,
    SourceRecord,
    SourceRef,
    StoredEpisode,
)
from podcast_pipeline.feed.entry import entry_digest, feed_entry
from podcast_pipeline.feed.notes import ShowNotes
from podcast_pipeline.posts import Post, parse_post, post_identity
from podcast_pipeline.problems import Problem, ProblemError
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
        self,
        episode: Episode,
        expected_revision: int,
        outbox: list[dict[str, Any]],
        *,
        entry_digest: str,
        entry_pending: bool = False,
        owner: str | None = None,
        lease_seconds: int = 0,
    ) -> int | None: ...
    def claim_episode(self, episode_id: str, revision: int, owner: str, seconds: int) -> bool: ...
    def release_episode(
        self, episode_id: str, revision: int, owner: str, outbox: list[dict[str, Any]]
    ) -> None: ...
    def put_feed_entry(self, entry: Episode) -> None: ...
    def delete_feed_entry(self, category: str, episode_id: str) -> None: ...
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
            if stored is None or stored.owes_work:
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

        A decision that owes work (events, its feed entry) is written together with this invocation's claim
        on the episode, and the work is done before the claim is given up: two invocations that both found
        an episode's events owed (the same S3 event delivered twice, or a post and its MP3 arriving
        together) would otherwise each send them. Another invocation's live claim is waited out.
        """
        owner = uuid.uuid4().hex
        deadline = self._clock() + EPISODE_LOCK_WAIT_SECONDS
        backoff = EPISODE_LOCK_FIRST_BACKOFF_SECONDS
        conflicts = 0
        while True:
            source = self._store.get_source(post_key)
            if source is None:
                return None, []
            if parsed is None or (not isinstance(parsed, ProblemError) and parsed.key != post_key):
                parsed = None if source.deleted else self._read_post(source.ref)
            episode_id = self._episode_id(post_key, parsed, source)
            stored = self._store.get_episode(episode_id)
            if stored is not None and stored.held_by_another(owner, time.time()):
                if self._clock() >= deadline:
                    raise IngestConflict(f"episode {episode_id} stayed claimed by another invocation")
                self._sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            settled = self._write(source, parsed, stored, owner)
            if settled is not None:
                return settled
            conflicts += 1
            if conflicts >= MAX_DECIDE_ATTEMPTS:
                raise IngestConflict(f"episode of {post_key} kept changing during {conflicts} attempts")
            parsed = None  # someone else wrote first: read everything again

    def _write(
        self,
        source: SourceRecord,
        parsed: Post | ProblemError | None,
        stored: StoredEpisode | None,
        owner: str,
    ) -> tuple[Episode | None, list[str]] | None:
        """Decide, write and announce the episode; None when another writer got in first."""
        previous = stored.episode if stored else None
        decision = self._decide(source, parsed, previous)
        episode = decision.episode
        entry = feed_entry(episode)
        digest = entry_digest(entry)
        if (
            stored is not None
            and stored.episode.record() == episode.record()
            and stored.entry_digest == digest
        ):
            if stored.owes_work:  # left by a crash, or by a send that failed
                if not self._store.claim_episode(episode.id, stored.revision, owner, EPISODE_LOCK_SECONDS):
                    return None
                self._owed(episode, entry, stored.revision, stored.outbox, stored.entry_pending, owner)
            return episode, []
        events = decision.events
        revision = (stored.revision if stored else 0) + 1
        # An event owed at this revision is rebuilt from the episode when sent: it carries the revision
        # it is decided at, so a re-send keeps its idempotency key and a later decision gets a new one.
        # One still owed from an earlier revision keeps the detail it was decided with.
        outbox = [
            *_carried(stored),
            *({"detail_type": t.value, "revision": revision} for t in events),
        ]
        entry_pending = digest != (stored.entry_digest if stored else "") or bool(
            stored and stored.entry_pending
        )
        owes = bool(outbox) or entry_pending
        saved = self._store.save_episode(
            episode,
            revision - 1,
            outbox,
            entry_digest=digest,
            entry_pending=entry_pending,
            owner=owner if owes else None,
            lease_seconds=EPISODE_LOCK_SECONDS,
        )
        if saved is None:
            return None
        if owes:
            self._owed(episode, entry, saved, outbox, entry_pending, owner)
        return episode, [t.value for t in events]

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
    ) -> Decision:
        """The decision on the episode from the stored sources of its post and MP3, with notes rendered."""
        post_source = self._post_source(source, post)
        audio = (
            self._audio_source(post_source.post, previous) if isinstance(post_source, ParsedPost) else None
        )
        return decide(
            post_source,
            audio,
            self._config,
            previous,
            notes=self._notes.notes_of,
            oversize=self._store.oversize,
        )

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
        """Link the post to its MP3, written only when it changes: the previous decision linked its own."""
        if previous is not None and previous.audio_key == audio_key:
            return
        if previous and previous.audio_key:
            self._store.unlink_audio(previous.audio_key, post.key)
        self._store.link_audio(audio_key, post.key)

    def _owed(
        self,
        episode: Episode,
        entry: Episode | None,
        revision: int,
        outbox: list[dict[str, Any]],
        entry_pending: bool,
        owner: str,
    ) -> None:
        """Do the work the decision at `revision` owes, then give the episode up: the feed entry first (the
        events trigger rebuilds that read it), then the events.

        When only some events went out, the outbox keeps just the others before the PublishError fails the
        record: the redelivery sends those, and not again the ones the bus already accepted.
        """
        if entry_pending:
            if entry is None:
                self._store.delete_feed_entry(episode.category, episode.id)
            else:
                self._store.put_feed_entry(entry)
        try:
            self._bus.publish_all([_event(owed, episode) for owed in outbox])
        except PublishError as err:
            unsent = [{"detail_type": detail_type, "detail": detail} for detail_type, detail in err.unsent]
            self._store.release_episode(episode.id, revision, owner, unsent)
            raise
        self._store.release_episode(episode.id, revision, owner, [])


def _event(owed: dict[str, Any], episode: Episode) -> Event:
    detail_type: str = owed["detail_type"]
    if "detail" in owed:
        return detail_type, owed["detail"]
    return detail_type, episode.event_detail(detail_type=detail_type, revision=owed["revision"])


def _carried(stored: StoredEpisode | None) -> list[dict[str, Any]]:
    """The events still owed by earlier decisions, with the details they were decided with."""
    if stored is None:
        return []
    return [
        {"detail_type": event[0], "detail": event[1]}
        for event in (_event(o, stored.episode) for o in stored.outbox)
    ]
