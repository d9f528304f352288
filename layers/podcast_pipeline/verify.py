"""Claimed vs measured: what a post says about its MP3 against what the MP3 is (the episode that follows is
`decision.decide`'s).

Each finding names the mistake people really make (size on disk, rounded durations, swapped fields, ...)
and, when the audio is known, carries the exact front-matter values that fix it, in the show's style.
Text-only posts (no `mp3_*` fields) have no audio to verify, so any audio offered for them is ignored.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from podcast_pipeline.audio import MAX_AUDIO_BYTES, AudioFacts
from podcast_pipeline.config import SiteConfig
from podcast_pipeline.durations import format_duration, is_canonical, parse_duration
from podcast_pipeline.posts import Post
from podcast_pipeline.problems import Code, Problem, error, warning

DISK_BLOCK_BYTES = 4096  # what file managers' "size on disk" rounds up to
# 8 kbit/s is the lowest MP3 bitrate: fewer bytes per second of audio cannot be a byte count of it.
MIN_MP3_BYTES_PER_SECOND = 1000
MEASURED_FACTS = ("bytes", "duration_seconds", "header", "bitrate_mode", "bitrate", "sample_rate", "channels")

_DIGITS = re.compile(r"[0-9]+")


def parse_byte_count(text: str) -> int:
    """A whole, non-negative number of bytes no larger than an MP3 we accept; ValueError saying why not."""
    written = text.strip()
    if not written:
        raise ValueError("is empty")
    if written.startswith("-"):
        raise ValueError("is negative")
    if ":" in written:
        raise ValueError("looks like a duration, not a number of bytes")
    if not _DIGITS.fullmatch(written):
        reason = "a fraction" if re.fullmatch(r"[0-9]*[.,][0-9]*", written) else "not a number"
        raise ValueError(f"is {reason}, not a whole number of bytes")
    if len(written) > len(str(MAX_AUDIO_BYTES)) or int(written) > MAX_AUDIO_BYTES:
        raise ValueError(f"is more than the largest MP3 accepted ({MAX_AUDIO_BYTES} bytes)")
    return int(written)


def fix_values(size: int, seconds: float) -> dict[str, str]:
    """The front-matter values of an MP3 of `size` bytes and `seconds` long, in the show's style (the
    duration truncated to whole seconds): what a finding's fix, and `fix`, write."""
    return {"mp3_bytes": str(size), "mp3_duration": format_duration(math.floor(seconds))}


@dataclass(frozen=True)
class _Truth:
    """What the measured file says the two fields should be."""

    size: int
    exact_seconds: float

    @property
    def seconds(self) -> int:
        return math.floor(self.exact_seconds)

    @property
    def fix(self) -> dict[str, str]:
        return fix_values(self.size, self.exact_seconds)

    @property
    def length(self) -> str:
        """The exact length as people read it: `53:23.64`."""
        fraction = f"{self.exact_seconds - self.seconds:.2f}".lstrip("0")
        return format_duration(self.seconds) + ("" if fraction == ".00" else fraction)


def verify(post: Post, audio: AudioFacts | None, config: SiteConfig) -> list[Problem]:
    """Every finding about `post` and, for a post with `mp3_*` fields, its measured `audio`."""
    problems: list[Problem] = []
    if post.title is None:
        problems.append(error(Code.MISSING_TITLE, "the front-matter has no `title:`", key=post.key))
    if post.has_audio:
        truth = _Truth(audio.bytes, audio.duration_seconds) if audio else None
        findings = _check_claims(
            post.claimed_bytes, post.claimed_duration, truth, config.duration_tolerance_seconds
        )
        problems.extend(Problem(p.code, p.severity, p.message, p.fix, key=post.key) for p in findings)
    return problems


def _check_claims(
    raw_bytes: str | None, raw_duration: str | None, truth: _Truth | None, tolerance: int
) -> list[Problem]:
    swapped = _swapped(raw_bytes, raw_duration, truth, tolerance)
    if swapped:
        return [swapped]
    fix = truth.fix if truth else None
    problems: list[Problem] = []
    claimed_bytes = _read_bytes(raw_bytes, raw_duration, fix, problems)
    claimed_seconds = _read_duration(raw_duration, raw_bytes, fix, problems)
    if truth is None:
        if claimed_seconds is not None and raw_duration is not None and not is_canonical(raw_duration):
            canonical = format_duration(claimed_seconds)
            problems.append(_non_canonical(raw_duration, {"mp3_duration": canonical}))
        return problems
    duration_problem = (
        None
        if claimed_seconds is None
        else _compare_duration(raw_duration or "", claimed_seconds, truth, tolerance)
    )
    if claimed_bytes is not None and claimed_bytes != truth.size:
        another_cut = duration_problem is not None and duration_problem.is_error
        problems.append(_compare_bytes(claimed_bytes, truth, another_cut))
    if duration_problem is not None:
        problems.append(duration_problem)
    return problems


def _swapped(
    raw_bytes: str | None, raw_duration: str | None, truth: _Truth | None, tolerance: int
) -> Problem | None:
    """FIELDS_SWAPPED when each field holds what the other should: a duration in mp3_bytes, a byte count in
    mp3_duration (told from seconds by being implausibly many for that duration, or by matching the file).
    """
    if raw_bytes is None or raw_duration is None:
        return None
    try:
        seconds = parse_duration(raw_bytes)
        count = parse_byte_count(raw_duration)
    except ValueError:
        return None
    plausible = ":" in raw_bytes and count >= MIN_MP3_BYTES_PER_SECOND * max(seconds, 1)
    matches_file = truth is not None and count == truth.size and abs(seconds - truth.seconds) <= tolerance
    if not (plausible or matches_file):
        return None
    message = (
        f"mp3_bytes and mp3_duration are swapped: mp3_bytes says {raw_bytes!r} (a duration) "
        f"and mp3_duration says {raw_duration!r} (a byte count)"
    )
    if truth is None:
        return error(Code.FIELDS_SWAPPED, message, fix_values(count, seconds))
    return error(
        Code.FIELDS_SWAPPED, f"{message}; the file is {truth.size} bytes and {truth.length} long", truth.fix
    )


def _read_bytes(
    raw: str | None, other: str | None, fix: dict[str, str] | None, out: list[Problem]
) -> int | None:
    if raw is None:
        present = " (mp3_duration is there)" if other is not None else ""
        out.append(error(Code.MISSING_MP3_BYTES, f"mp3_bytes is missing{present}", fix))
        return None
    try:
        return parse_byte_count(raw)
    except ValueError as err:
        out.append(error(Code.INVALID_MP3_BYTES, f"mp3_bytes {raw!r} {err}", fix))
        return None


def _read_duration(
    raw: str | None, other: str | None, fix: dict[str, str] | None, out: list[Problem]
) -> int | None:
    if raw is None:
        present = " (mp3_bytes is there)" if other is not None else ""
        out.append(error(Code.MISSING_MP3_DURATION, f"mp3_duration is missing{present}", fix))
        return None
    try:
        return parse_duration(raw)
    except ValueError as err:
        out.append(error(Code.INVALID_MP3_DURATION, f"mp3_duration is invalid: {err}", fix))
        return None


def _compare_bytes(claimed: int, truth: _Truth, another_cut: bool) -> Problem:
    said = f"mp3_bytes says {claimed} but the file is {truth.size} bytes"
    if claimed == math.ceil(truth.size / DISK_BLOCK_BYTES) * DISK_BLOCK_BYTES:
        return error(
            Code.SIZE_ON_DISK, f"{said}: {claimed} is its size on disk (rounded up to 4 KiB)", truth.fix
        )
    difference = claimed - truth.size
    count = abs(difference)
    unit = "byte" if count == 1 else "bytes"
    detail = f"{count:,} {unit} {'more' if difference > 0 else 'fewer'} than the file"
    hint = "; size and duration both differ: the values of another cut of the audio?" if another_cut else ""
    return error(Code.BYTES_MISMATCH, f"{said} ({detail}){hint}", truth.fix)


def _compare_duration(raw: str, claimed: int, truth: _Truth, tolerance: int) -> Problem | None:
    difference = claimed - truth.seconds
    if difference == 0:
        return None if is_canonical(raw) else _non_canonical(raw, truth.fix)
    said = f"mp3_duration says {raw} but the audio is {truth.length} long"
    if abs(difference) <= tolerance:
        rounded = difference == 1 and truth.exact_seconds - truth.seconds >= 0.5
        why = (
            "it was rounded; durations are truncated to whole seconds"
            if rounded
            else f"{abs(difference)} s {'more' if difference > 0 else 'less'}, within the tolerance"
        )
        return warning(Code.DURATION_ROUNDING, f"{said}: {why}", truth.fix)
    direction = "longer" if difference > 0 else "shorter"
    typo = "; the seconds agree: a typo in the minutes or hours?" if difference % 60 == 0 else ""
    return error(
        Code.DURATION_MISMATCH,
        f"{said} ({format_duration(abs(difference))} {direction} than the audio){typo}",
        truth.fix,
    )


def _non_canonical(raw: str, fix: dict[str, str]) -> Problem:
    canonical = fix["mp3_duration"]
    return warning(
        Code.NON_CANONICAL_DURATION,
        f"mp3_duration {raw!r} is the right length but is written {canonical!r} in the show's style",
        fix,
    )


def template_values(post: Post) -> dict[str, object]:
    """The `{number}`, `{slug}`, `{category}`, `{date}` of the config's templates (no number: empty)."""
    values: dict[str, object] = {"slug": post.slug, "category": post.category, "date": post.date.isoformat()}
    if post.number is not None:
        values["number"] = post.number
    return values


def audio_key_of(post: Post, config: SiteConfig) -> str | None:
    """The bucket key of the post's MP3: its `mp3_key`, else the config's template; None if text-only."""
    if not post.has_audio:
        return None
    return post.audio_key or config.audio_key(**template_values(post))


def audio_url_of(post: Post, config: SiteConfig) -> str | None:
    """The URL of the post's MP3: the site's URL of its `mp3_key`, else the config's; None if text-only."""
    if not post.has_audio:
        return None
    if post.audio_key:
        return f"{config.site_url}/{post.audio_key}"
    return config.audio_url(**template_values(post))


def measured_facts(audio: AudioFacts) -> dict[str, Any]:
    """The `measured` of reports and events."""
    return {name: getattr(audio, name) for name in MEASURED_FACTS}
