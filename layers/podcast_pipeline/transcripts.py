"""Transcripts next to an episode's MP3 (`.vtt` or `.srt`): validated, and the facts the feed links.

A transcript is checked as a listener's app would use it: it parses, its cues run in order, and its last
cue ends within the measured audio (plus the config's duration tolerance). What is wrong is a warning: an
unreadable file (`invalid_transcript`) is not linked, one that runs past the audio (`transcript_past_end`)
still is, as the producer uploaded it, with the warning saying by how much.

Both formats are read by webvtt-py, the maintained PyPI parser of WebVTT that reads SubRip as well. WebVTT
is read strictly (a malformed cue block is an error). Its SubRip reader is lenient as players are: a cue whose
timing it cannot read is skipped without a word, so every `-->` line must have given a cue here, or the file
is invalid (the `srt` package is strict, but ships no wheel, and the Lambda layer installs wheels only).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from podcast_pipeline.durations import format_clock
from podcast_pipeline.problems import Code, Problem, warning

VTT, SRT = "vtt", "srt"
CONTENT_TYPES = {VTT: "text/vtt", SRT: "application/x-subrip"}
FORMATS = tuple(CONTENT_TYPES)
# A transcript of a three-hour episode is a few hundred KiB; anything far larger is not one.
MAX_TRANSCRIPT_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class TranscriptFacts:
    """What the feed needs of a valid transcript, and what reports show."""

    key: str
    url: str
    format: str  # vtt | srt
    content_type: str
    cue_count: int
    last_cue_end_seconds: float

    @property
    def is_captions(self) -> bool:
        """SubRip files are captions: the feed marks them `rel="captions"`."""
        return self.format == SRT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TranscriptFacts:
        return cls(
            key=str(data["key"]),
            url=str(data["url"]),
            format=str(data["format"]),
            content_type=str(data["content_type"]),
            cue_count=int(data["cue_count"]),
            last_cue_end_seconds=float(data["last_cue_end_seconds"]),
        )


@dataclass(frozen=True)
class _Cue:
    start: float
    end: float


def transcript_format(key: str) -> str | None:
    """`vtt` or `srt` from the key's extension; None for any other key."""
    stem, dot, extension = key.rpartition(".")
    return extension.lower() if dot and stem and extension.lower() in CONTENT_TYPES else None


def validate_transcript(
    key: str,
    data: bytes,
    *,
    url: str,
    duration_seconds: float | None,
    tolerance_seconds: float,
) -> tuple[TranscriptFacts | None, tuple[Problem, ...]]:
    """The facts of the transcript at `key` (None when it cannot be used) and its warnings.

    `duration_seconds` is the measured audio's (None while there is none: only the file is checked).
    """
    format_ = transcript_format(key)
    if format_ is None:
        return None, (_invalid(key, "is neither .vtt nor .srt"),)
    if len(data) > MAX_TRANSCRIPT_BYTES:
        return None, (_invalid(key, f"is {len(data)} bytes, more than {MAX_TRANSCRIPT_BYTES}"),)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return None, (_invalid(key, f"is not UTF-8 ({err.reason} at byte {err.start})"),)
    try:
        cues = _parse(text, format_)
    except ValueError as err:
        return None, (_invalid(key, f"does not parse as {format_.upper()}: {_first_line(err)}"),)
    problem = _order_problem(cues)
    if problem:
        return None, (_invalid(key, problem),)
    facts = TranscriptFacts(
        key=key,
        url=url,
        format=format_,
        content_type=CONTENT_TYPES[format_],
        cue_count=len(cues),
        last_cue_end_seconds=max(cue.end for cue in cues),
    )
    return facts, check_transcript(facts, duration_seconds, tolerance_seconds)


def check_transcript(
    facts: TranscriptFacts, duration_seconds: float | None, tolerance_seconds: float
) -> tuple[Problem, ...]:
    """`transcript_past_end` when the last cue ends after the audio (and its tolerance); the check to run
    again when the MP3 changes and the transcript does not."""
    if duration_seconds is None or facts.last_cue_end_seconds <= duration_seconds + tolerance_seconds:
        return ()
    message = (
        f"transcript {facts.key}: its last cue ends at {format_clock(facts.last_cue_end_seconds)}, after the"
        f" end of the audio ({format_clock(duration_seconds)}): is it the transcript of another cut?"
    )
    return (warning(Code.TRANSCRIPT_PAST_END, message, key=facts.key),)


def _parse(text: str, format_: str) -> list[_Cue]:
    import webvtt  # on first use: most ingest records carry no transcript
    from webvtt.errors import MalformedCaptionError, MalformedFileError

    try:
        captions = webvtt.from_buffer(io.StringIO(text), format=format_, strict=True).captions
    except (MalformedFileError, MalformedCaptionError) as err:
        raise ValueError(str(err) or type(err).__name__) from err
    if format_ == SRT:
        timings = sum("-->" in line for line in text.splitlines())
        if timings != len(captions):
            raise ValueError(f"{timings - len(captions)} of its {timings} cues have a bad timing or no text")
    return [
        _Cue(c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000) for c in captions
    ]


def _order_problem(cues: list[_Cue]) -> str | None:
    if not cues:
        return "has no cues"
    for number, cue in enumerate(cues, start=1):
        if cue.end < cue.start:
            return f"cue {number} ends ({format_clock(cue.end)}) before it starts ({format_clock(cue.start)})"
    for number, (before, cue) in enumerate(itertools.pairwise(cues), start=2):
        if cue.start < before.start:
            return (
                f"cue {number} starts at {format_clock(cue.start)}, before cue {number - 1}"
                f" ({format_clock(before.start)}): cues must be in order"
            )
    return None


def _invalid(key: str, what: str) -> Problem:
    return warning(
        Code.INVALID_TRANSCRIPT, f"transcript {key} {what}; it is not linked from the feed", key=key
    )


def _first_line(err: Exception) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0][:200]
