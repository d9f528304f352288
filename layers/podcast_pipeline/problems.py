"""Findings about an episode's sources: a stable code, a severity, a human message and, where known, a fix.

Codes are a public contract (reports, events, notifications): add codes, never rename one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Code(StrEnum):
    # claimed vs measured
    BYTES_MISMATCH = "bytes_mismatch"
    SIZE_ON_DISK = "size_on_disk"
    DURATION_MISMATCH = "duration_mismatch"
    DURATION_ROUNDING = "duration_rounding"
    FIELDS_SWAPPED = "fields_swapped"
    NON_CANONICAL_DURATION = "non_canonical_duration"
    MISSING_MP3_BYTES = "missing_mp3_bytes"
    MISSING_MP3_DURATION = "missing_mp3_duration"
    INVALID_MP3_BYTES = "invalid_mp3_bytes"
    INVALID_MP3_DURATION = "invalid_mp3_duration"
    # the post itself
    NO_FRONT_MATTER = "no_front_matter"
    INVALID_FRONT_MATTER = "invalid_front_matter"
    MISSING_TITLE = "missing_title"
    BAD_ENCODING = "bad_encoding"
    BAD_KEY = "bad_key"
    # the audio file itself
    NOT_MP3 = "not_mp3"
    EMPTY_FILE = "empty_file"
    TRUNCATED_MP3 = "truncated_mp3"
    TOO_LARGE = "too_large"
    # pairing
    AUDIO_MISSING = "audio_missing"
    POST_MISSING = "post_missing"
    # show notes
    UNKNOWN_LIQUID_TAG = "unknown_liquid_tag"
    LIQUID_ERROR = "liquid_error"
    MISSING_INCLUDE = "missing_include"
    # the command line
    INVALID_CONFIG = "invalid_config"
    # chapters, from the post's timestamped topic list
    CHAPTER_PAST_END = "chapter_past_end"
    CHAPTERS_OUT_OF_ORDER = "chapters_out_of_order"
    CHAPTER_BAD_TIMESTAMP = "chapter_bad_timestamp"
    # a transcript next to the MP3
    INVALID_TRANSCRIPT = "invalid_transcript"
    TRANSCRIPT_PAST_END = "transcript_past_end"
    # feed readiness: what Apple Podcasts or PSP-1 reject or flag
    MISSING_IMAGE = "missing_image"
    UNKNOWN_CATEGORY = "unknown_category"
    MISSING_OWNER_EMAIL = "missing_owner_email"
    INVALID_LANGUAGE = "invalid_language"
    DESCRIPTION_TOO_LONG = "description_too_long"
    TITLE_TOO_LONG = "title_too_long"
    IMAGE_NOT_JPEG_OR_PNG = "image_not_jpeg_or_png"
    IMAGE_WRONG_SIZE = "image_wrong_size"


# Findings of show notes: always warnings, never failing an episode.
NOTES_CODES = frozenset({Code.UNKNOWN_LIQUID_TAG, Code.LIQUID_ERROR, Code.MISSING_INCLUDE})
# Findings of chapters and transcripts: warnings too; the episode publishes, with what could be read.
CHAPTER_CODES = frozenset({Code.CHAPTER_PAST_END, Code.CHAPTERS_OUT_OF_ORDER, Code.CHAPTER_BAD_TIMESTAMP})
TRANSCRIPT_CODES = frozenset({Code.INVALID_TRANSCRIPT, Code.TRANSCRIPT_PAST_END})
# Findings about a feed or its items (feed/readiness.py): the feed is still written.
READINESS_CODES = frozenset(
    {
        Code.MISSING_IMAGE,
        Code.UNKNOWN_CATEGORY,
        Code.MISSING_OWNER_EMAIL,
        Code.INVALID_LANGUAGE,
        Code.DESCRIPTION_TOO_LONG,
        Code.TITLE_TOO_LONG,
        Code.IMAGE_NOT_JPEG_OR_PNG,
        Code.IMAGE_WRONG_SIZE,
    }
)


@dataclass(frozen=True)
class Problem:
    code: Code
    severity: Severity
    message: str
    fix: dict[str, str] | None = None
    key: str | None = field(default=None, compare=False)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code.value,
            "severity": self.severity.value,
            "message": self.message,
        }
        if self.fix:
            out["fix"] = dict(self.fix)
        if self.key:
            out["key"] = self.key
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Problem:
        return cls(
            code=Code(data["code"]),
            severity=Severity(data["severity"]),
            message=data["message"],
            fix=data.get("fix"),
            key=data.get("key"),
        )


def error(code: Code, message: str, fix: dict[str, str] | None = None, key: str | None = None) -> Problem:
    return Problem(code, Severity.ERROR, message, fix, key)


def warning(code: Code, message: str, fix: dict[str, str] | None = None, key: str | None = None) -> Problem:
    return Problem(code, Severity.WARNING, message, fix, key)


class ProblemError(ValueError):
    """Input that cannot be used at all (an unreadable post, a file that is not an MP3)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(f"{problem.code}: {problem.message}")
        self.problem = problem
