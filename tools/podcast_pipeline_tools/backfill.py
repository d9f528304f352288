"""Backfill: bring an existing site's posts and MP3s into the content bucket, verified first, safe to repeat.

A site folder is laid out like the bucket (DESIGN.md): posts under the posts prefix, each post's MP3 at the
key the config's audio template (or the post's `mp3_key`) gives, and Liquid includes under the includes
prefix. Every post is checked against its MP3 locally with the pipeline's own verification before anything
is sent, so a mistake is reported here rather than published as a failed episode.

Uploads go in phases: MP3s and includes first, posts last, so the pipeline never sees a post before its
audio (no transient `awaiting_audio`) and renders show notes with their includes. A phase that fails stops
the run before the next one: a post is never uploaded over an MP3 that did not arrive.

Sameness is decided by SHA-256 of the content, never by size alone. Multipart uploads make S3's ETag and
its SHA-256 checksum composite (a hash of part hashes, which depends on the part size the uploading tool
chose), so each upload also records the whole file's SHA-256 in the object's metadata; a full-object
checksum is used only for objects that lack it. An object whose sameness cannot be shown is uploaded again.

This module does no AWS I/O: the bucket is an `ObjectStore` (see `backfill_s3` for S3's).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from podcast_pipeline.audio import measure_file
from podcast_pipeline.config import SiteConfig
from podcast_pipeline.decision import (
    AudioSource,
    MeasuredAudio,
    MissingAudio,
    ParsedPost,
    UnusableAudio,
    UnusablePost,
    decide,
)
from podcast_pipeline.episode import ObjectKind, State
from podcast_pipeline.posts import parse_post
from podcast_pipeline.problems import Problem, ProblemError
from podcast_pipeline.verify import audio_key_of

# The order of the upload phases (see the module docstring).
UPLOAD_PHASES: tuple[tuple[ObjectKind, ...], ...] = (
    (ObjectKind.AUDIO, ObjectKind.INCLUDE),
    (ObjectKind.POST,),
)


class SiteError(Exception):
    """The site folder cannot be backfilled at all (missing, or without posts)."""


class StoreError(Exception):
    """The bucket cannot be read or written; the message says why."""


@dataclass(frozen=True)
class SiteFile:
    kind: ObjectKind
    key: str  # the bucket key
    path: Path
    size: int


class Verdict(StrEnum):
    """What backfill makes of a decision: an episode that would not publish (failed, or awaiting an MP3
    that is missing) blocks the upload and is reported failed."""

    VERIFIED = "published"
    FAILED = "failed"


@dataclass(frozen=True)
class EpisodeCheck:
    """One post checked against its MP3, as the pipeline would check it."""

    episode_id: str
    post: SiteFile
    audio: SiteFile | None
    state: State  # the pipeline's decision
    problems: tuple[Problem, ...]

    @property
    def verified(self) -> bool:
        return self.verdict is Verdict.VERIFIED

    @property
    def verdict(self) -> Verdict:
        """Backfill's reading of the decision: only an episode the pipeline would publish goes up."""
        return Verdict.VERIFIED if self.state is State.PUBLISHED else Verdict.FAILED


@dataclass(frozen=True)
class Site:
    checks: tuple[EpisodeCheck, ...]
    includes: tuple[SiteFile, ...]

    @property
    def failed(self) -> tuple[EpisodeCheck, ...]:
        return tuple(check for check in self.checks if not check.verified)

    @property
    def files(self) -> list[SiteFile]:
        """Every file to bring over, once each (posts may share an MP3), in upload-phase order."""
        audio = {check.audio.key: check.audio for check in self.checks if check.audio is not None}
        found = [*audio.values(), *self.includes, *(check.post for check in self.checks)]
        order = [kind for phase in UPLOAD_PHASES for kind in phase]
        return sorted(found, key=lambda file: (order.index(file.kind), file.key))


def scan_site(site_dir: Path, config: SiteConfig) -> Site:
    """Find and check every post of `site_dir`, with its MP3, and the includes the show notes use."""
    if not site_dir.is_dir():
        raise SiteError(f"site folder {site_dir} does not exist or is not a folder")
    posts = site_posts(site_dir, config)
    if not posts:
        raise SiteError(f"no posts (*.md) under {site_dir / config.posts_prefix}")
    includes = _files_under(site_dir, config.includes_prefix, ObjectKind.INCLUDE)
    return Site(tuple(check_post(site_dir, post, config) for post in posts), tuple(includes))


def site_posts(site_dir: Path, config: SiteConfig) -> list[SiteFile]:
    """The posts (`*.md` under the posts prefix, any depth) of a site folder, in key order."""
    return _files_under(site_dir, config.posts_prefix, ObjectKind.POST, suffix=".md")


def _files_under(site_dir: Path, prefix: str, kind: ObjectKind, *, suffix: str = "") -> list[SiteFile]:
    folder = site_dir / prefix
    if not folder.is_dir():
        return []
    return [
        _site_file(site_dir, path, kind)
        for path in sorted(folder.rglob(f"*{suffix}"))
        # dot-files are editor and OS litter (.DS_Store, .#post.md), never site content
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    ]


def _site_file(site_dir: Path, path: Path, kind: ObjectKind) -> SiteFile:
    return SiteFile(kind, path.relative_to(site_dir).as_posix(), path, path.stat().st_size)


def check_post(site_dir: Path, post_file: SiteFile, config: SiteConfig) -> EpisodeCheck:
    """The decision on the episode `post_file` and its MP3 in `site_dir` make, as the pipeline would."""
    try:
        post = parse_post(post_file.key, post_file.path.read_bytes(), posts_prefix=config.posts_prefix)
    except ProblemError as problem:
        decision = decide(UnusablePost(post_file.key, problem.problem), None, config, None)
        return EpisodeCheck(decision.episode.id, post_file, None, decision.state, decision.episode.problems)
    audio_key = audio_key_of(post, config)
    audio_file: SiteFile | None = None
    audio: AudioSource | None = None
    if audio_key is not None:
        audio_path = site_dir / audio_key
        if audio_path.is_file():
            audio_file = _site_file(site_dir, audio_path, ObjectKind.AUDIO)
            try:
                audio = MeasuredAudio(measure_file(audio_path, audio_key))
            except ProblemError as problem:
                audio = UnusableAudio(audio_key, problem.problem)
        else:
            audio = MissingAudio(f"no MP3 at {audio_path}", key=audio_key)
    decision = decide(ParsedPost(post), audio, config, None)
    return EpisodeCheck(decision.episode.id, post_file, audio_file, decision.state, decision.episode.problems)


def file_sha256(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


# -- the bucket --------------------------------------------------------------------------------------


class ObjectStore(Protocol):
    def sizes(self, prefixes: Iterable[str]) -> dict[str, int]:
        """Key → size of every object under `prefixes`."""
        ...

    def sha256(self, key: str) -> str | None:
        """The object's whole-content SHA-256 (hex), None when the bucket cannot tell it."""
        ...

    def upload(self, file: SiteFile, sha256: str, on_bytes: Callable[[int], None]) -> None:
        """Store `file` at its key, recording `sha256`; `on_bytes` is called as bytes go out."""
        ...


class Action(StrEnum):
    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class PlannedFile:
    file: SiteFile
    sha256: str
    action: Action

    @property
    def uploads(self) -> bool:
        return self.action is not Action.UNCHANGED


def plan_uploads(
    files: Sequence[SiteFile],
    store: ObjectStore,
    *,
    workers: int,
    on_planned: Callable[[PlannedFile], None] = lambda _: None,
) -> list[PlannedFile]:
    """What each file needs, in `files` order: NEW (not in the bucket), CHANGED (other content), UNCHANGED."""
    # one listing per folder, not per key: a folder of a thousand MP3s is a page or two
    folders = {file.key[: file.key.rfind("/") + 1] for file in files}
    remote_sizes = store.sizes(sorted(folders))

    def plan_one(file: SiteFile) -> PlannedFile:
        digest = file_sha256(file.path)
        remote_size = remote_sizes.get(file.key)
        if remote_size is None:
            action = Action.NEW
        elif remote_size == file.size and store.sha256(file.key) == digest:
            action = Action.UNCHANGED
        else:
            action = Action.CHANGED
        planned = PlannedFile(file, digest, action)
        on_planned(planned)
        return planned

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(plan_one, files))


@dataclass(frozen=True)
class FailedUpload:
    key: str
    reason: str


class UploadError(Exception):
    def __init__(self, failures: Sequence[FailedUpload], uploaded: Sequence[PlannedFile]) -> None:
        super().__init__(f"{len(failures)} upload(s) failed")
        self.failures = tuple(failures)
        self.uploaded = tuple(uploaded)  # what did arrive before the run stopped


def upload_planned(
    planned: Sequence[PlannedFile],
    store: ObjectStore,
    *,
    workers: int,
    on_bytes: Callable[[int], None] = lambda _: None,
    on_uploaded: Callable[[PlannedFile], None] = lambda _: None,
) -> list[PlannedFile]:
    """Upload what needs it, phase by phase; UploadError (after the phase) if any upload of a phase fails."""
    uploaded: list[PlannedFile] = []
    for phase in UPLOAD_PHASES:
        batch = [item for item in planned if item.uploads and item.file.kind in phase]
        failures: list[FailedUpload] = []
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures: dict[Future[None], PlannedFile] = {
                pool.submit(store.upload, item.file, item.sha256, on_bytes): item for item in batch
            }
            for future in as_completed(futures):
                item = futures[future]
                try:
                    future.result()
                except StoreError as problem:
                    failures.append(FailedUpload(item.file.key, str(problem)))
                    continue
                uploaded.append(item)
                on_uploaded(item)
        if failures:
            raise UploadError(sorted(failures, key=lambda failure: failure.key), uploaded)
    return uploaded
