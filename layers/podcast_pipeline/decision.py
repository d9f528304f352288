"""The one decision: an episode's state, problems and owed events from what its sources are now.

Every caller (ingest, `check`, `fix`, backfill) says what it found of the post and of its MP3 as a source
below, and takes the decision as it is: no caller changes the state or adds a problem to the episode it
gets. What a caller does with the decision (an exit code, an upload or not) is its own mapping of it.

The post is parsed, unusable (the problem that keeps it from parsing) or deleted. The MP3 is measured,
unusable (no usable MP3), deleted, missing (a caller looked and found nothing, with the message saying
where), or unknown yet (None: no version of it has been seen). Text-only posts have no MP3: any audio
source offered for them is ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from podcast_pipeline.audio import AudioFacts
from podcast_pipeline.config import SiteConfig
from podcast_pipeline.episode import Episode, SourceRef, State
from podcast_pipeline.posts import Post, post_identity
from podcast_pipeline.problems import Code, Problem, error
from podcast_pipeline.routes import DetailType
from podcast_pipeline.verify import audio_key_of, audio_url_of, measured_facts, template_values, verify

if TYPE_CHECKING:  # the notes renderer loads Liquid and markdown: not for check or backfill
    from podcast_pipeline.feed.notes import Notes

# -- what the post is ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedPost:
    """The post parsed."""

    post: Post
    ref: SourceRef | None = None

    @property
    def key(self) -> str:
        return self.post.key


@dataclass(frozen=True)
class UnusablePost:
    """A post that cannot be read at all: `problem` says why; the episode is known by its key alone."""

    key: str
    problem: Problem
    ref: SourceRef | None = None


@dataclass(frozen=True)
class DeletedPost:
    """The post was deleted."""

    key: str
    ref: SourceRef | None = None


PostSource = ParsedPost | UnusablePost | DeletedPost


# -- what its MP3 is ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasuredAudio:
    """The MP3 measured."""

    facts: AudioFacts
    ref: SourceRef | None = None


@dataclass(frozen=True)
class UnusableAudio:
    """A file at the MP3's key that is no usable MP3: `problem` says why."""

    key: str
    problem: Problem
    ref: SourceRef | None = None


@dataclass(frozen=True)
class DeletedAudio:
    """The MP3 was deleted."""

    key: str
    ref: SourceRef | None = None


@dataclass(frozen=True)
class MissingAudio:
    """The MP3 was looked for and is not there; `message` says what to do about it (and where it was
    looked for). `key` keys the problem (None: the problem names no key)."""

    message: str
    key: str | None = None
    ref: SourceRef | None = None


AudioSource = MeasuredAudio | UnusableAudio | DeletedAudio | MissingAudio


# -- the decision -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """The episode the sources make, and the events its change from the previous episode owes."""

    episode: Episode
    events: tuple[DetailType, ...] = ()

    @property
    def state(self) -> State:
        return self.episode.state


# The show notes of a post's episode as decided (feed.notes.ShowNotes.notes_of): their HTML goes to the
# feed, their findings are warnings of the episode.
NotesOf = Callable[[Episode], "Notes"]
# The store's size check (store.EpisodeStore.oversize): (bytes it would take, bytes that fit) when an
# episode is too large to store, else None.
Oversize = Callable[[Episode], "tuple[int, int] | None"]


def decide(
    post: PostSource,
    audio: AudioSource | None,
    config: SiteConfig,
    previous: Episode | None,
    *,
    notes: NotesOf | None = None,
    oversize: Oversize | None = None,
) -> Decision:
    """The episode of `post` and its `audio` (None: not seen yet), after `previous` (None: the first).

    - A deleted post unpublishes the episode, which keeps what was decided before it (one never decided
      is known by its key alone).
    - A post that cannot be read fails, known by its key alone.
    - A post that parsed fails on any error of its own or of its claims against its MP3; an unusable MP3
      fails it whatever the post says. A deleted MP3 unpublishes an episode that was published and leaves
      any other awaiting its audio, whatever the post says. A missing or not yet seen MP3 leaves a post
      without errors awaiting its audio (a missing one with its finding). Otherwise it is published.

    A post that parsed gets its show notes from `notes`, and an episode larger than the store takes
    (`oversize`) fails with TOO_LARGE, without its notes: a write DynamoDB refuses would fail the record
    on every delivery. Without them (check, backfill), the episode has no notes and no size limit.
    """
    episode = _episode(post, audio, config, previous)
    if notes is not None and isinstance(post, ParsedPost):
        episode = with_notes(episode, notes(episode))
    too_large = oversize(episode) if oversize is not None else None
    if too_large is not None:
        episode = _too_large(episode, *too_large)
    return Decision(episode, tuple(owed_events(previous, episode)))


def with_notes(episode: Episode, notes: Notes) -> Episode:
    """`episode` with its show notes; their findings are warnings, after the episode's own."""
    return replace(
        episode,
        notes_html=notes.html,
        notes_summary=notes.summary,
        problems=(*episode.problems, *notes.problems),
    )


def _too_large(episode: Episode, size: int, limit: int) -> Episode:
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


def owed_events(previous: Episode | None, current: Episode) -> list[DetailType]:
    """The events `current` owes after `previous`: none for an episode whose key names no category or
    date, as events carry `<category>/<slug>` and a date."""
    if not (current.category and current.date):
        return []
    return transition_events(previous, current)


def transition_events(previous: Episode | None, current: Episode) -> list[DetailType]:
    """The events a change of episode announces; nothing when nothing a subscriber sees has changed."""
    before = previous.state if previous else None
    events: list[DetailType] = []
    if current.state is State.PUBLISHED:
        first = before is not State.PUBLISHED
        return [DetailType.EPISODE_PUBLISHED if first else DetailType.EPISODE_UPDATED]
    if before is State.PUBLISHED:
        events.append(DetailType.EPISODE_UNPUBLISHED)
    if current.state is State.FAILED:
        events.append(DetailType.EPISODE_VERIFICATION_FAILED)
    return events


def _episode(
    post: PostSource, audio: AudioSource | None, config: SiteConfig, previous: Episode | None
) -> Episode:
    if isinstance(post, DeletedPost):
        if previous is None:
            # Deleted before any version was read (events arrive in any order): the same end state,
            # unpublished, as when the post's versions were processed first.
            return _episode_of_key(post.key, config, State.UNPUBLISHED, post_ref=post.ref)
        return replace(previous, state=State.UNPUBLISHED, post=post.ref)
    if isinstance(post, UnusablePost):
        problem = replace(post.problem, key=post.key)
        return _episode_of_key(post.key, config, State.FAILED, (problem,), post.ref)
    return _episode_of_post(post, audio if post.post.has_audio else None, config, previous)


def _episode_of_post(
    source: ParsedPost, audio: AudioSource | None, config: SiteConfig, previous: Episode | None
) -> Episode:
    post = source.post
    facts = audio.facts if isinstance(audio, MeasuredAudio) else None
    claims = verify(post, facts, config)
    if isinstance(audio, UnusableAudio):
        state = State.FAILED
    elif isinstance(audio, DeletedAudio):
        # Whatever the post's claims say: the episode is no longer live, or never was.
        was_published = previous is not None and previous.state is State.PUBLISHED
        state = State.UNPUBLISHED if was_published else State.AWAITING_AUDIO
    elif any(problem.is_error for problem in claims):
        state = State.FAILED
    elif facts is None and post.has_audio:
        state = State.AWAITING_AUDIO  # a missing MP3 too: its finding says what to do
    else:
        state = State.PUBLISHED
    audio_problem = _audio_problem(audio)
    problems = (*claims, audio_problem) if audio_problem is not None else tuple(claims)
    return Episode(
        id=post.episode_id,
        category=post.category,
        slug=post.slug,
        date=post.date.isoformat(),
        state=state,
        number=post.number,
        title=post.title,
        permalink=config.permalink(**template_values(post)),
        audio_key=audio_key_of(post, config),
        audio_url=audio_url_of(post, config),
        claimed={"mp3_bytes": post.claimed_bytes, "mp3_duration": post.claimed_duration},
        measured=measured_facts(facts) if facts else None,
        problems=problems,
        post=source.ref,
        audio=audio.ref if audio is not None else None,
        front_matter=post.front_matter,
        body=post.body,
    )


def _audio_problem(audio: AudioSource | None) -> Problem | None:
    """The finding the MP3 itself makes, after those of the post's claims."""
    if isinstance(audio, UnusableAudio):
        return replace(audio.problem, key=audio.key)
    if isinstance(audio, DeletedAudio):
        return error(Code.AUDIO_MISSING, f"the MP3 {audio.key} was deleted", key=audio.key)
    if isinstance(audio, MissingAudio):
        return error(Code.AUDIO_MISSING, audio.message, key=audio.key)
    return None


def _episode_of_key(
    key: str,
    config: SiteConfig,
    state: State,
    problems: tuple[Problem, ...] = (),
    post_ref: SourceRef | None = None,
) -> Episode:
    """An episode known only by its post's key (the post is unreadable, or deleted before it was read)."""
    identity = post_identity(key, config)
    return Episode(
        id=identity.id,
        category=identity.category,
        slug=identity.slug,
        date=identity.date,
        number=identity.number,
        state=state,
        problems=problems,
        post=post_ref,
    )
