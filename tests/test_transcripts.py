"""Transcripts next to the MP3: WebVTT and SubRip parsed, checked against the audio, and their config."""

from __future__ import annotations

import pytest

from podcast_pipeline.config import ConfigError, parse_config
from podcast_pipeline.problems import Code, Severity
from podcast_pipeline.transcripts import (
    MAX_TRANSCRIPT_BYTES,
    TranscriptFacts,
    check_transcript,
    transcript_format,
    validate_transcript,
)

VTT = b"""WEBVTT

00:00:01.000 --> 00:00:04.500
Hello and welcome.

00:00:04.500 --> 00:01:02.250
<v Nick>Today: production.
"""

SRT = b"""1
00:00:01,000 --> 00:00:04,500
Hello and welcome.

2
00:00:04,500 --> 00:01:02,250
Today: production.
"""


def validate(
    key: str, data: bytes, duration: float | None = 62.5
) -> tuple[TranscriptFacts | None, list[Code]]:
    facts, problems = validate_transcript(
        key, data, url=f"https://example.com/{key}", duration_seconds=duration, tolerance_seconds=1
    )
    assert all(p.severity is Severity.WARNING and p.key == key for p in problems)
    return facts, [p.code for p in problems]


def test_a_vtt_transcript_gives_its_facts() -> None:
    facts, codes = validate("a/ep-1.vtt", VTT)
    assert codes == []
    assert facts == TranscriptFacts(
        key="a/ep-1.vtt",
        url="https://example.com/a/ep-1.vtt",
        format="vtt",
        content_type="text/vtt",
        cue_count=2,
        last_cue_end_seconds=62.25,
    )
    assert not facts.is_captions
    assert TranscriptFacts.from_dict(facts.to_dict()) == facts


def test_an_srt_transcript_gives_its_facts_and_is_captions() -> None:
    facts, codes = validate("a/ep-1.srt", b"\xef\xbb\xbf" + SRT.replace(b"\n", b"\r\n"))
    assert codes == [] and facts is not None
    assert (facts.format, facts.content_type, facts.cue_count, facts.last_cue_end_seconds) == (
        "srt",
        "application/x-subrip",
        2,
        62.25,
    )
    assert facts.is_captions


@pytest.mark.parametrize(
    ("key", "data", "why"),
    [
        ("t.vtt", b"no header\n\n00:00:01.000 --> 00:00:02.000\nx\n", "does not parse as VTT"),
        ("t.vtt", b"WEBVTT\n\n00:00:01.000 --> soon\nx\n", "does not parse as VTT"),
        ("t.vtt", b"WEBVTT\n", "has no cues"),
        ("t.srt", b"garbage\n", "does not parse as SRT"),
        ("t.srt", SRT.replace(b"00:00:04,500 -->", b"00:00:0x,500 -->"), "1 of its 2 cues"),
        ("t.vtt", VTT.replace(b"00:00:04.500 --> 00:01:02.250", b"00:00:00.500 --> 00:01:02.250"), "cue 2"),
        (
            "t.vtt",
            VTT.replace(b"00:00:01.000 --> 00:00:04.500", b"00:00:05.000 --> 00:00:04.500"),
            "cue 1 ends",
        ),
        ("t.vtt", b"WEBVTT\n\n\xff\xfe", "is not UTF-8"),
        ("t.txt", VTT, "neither .vtt nor .srt"),
        ("t.vtt", b"WEBVTT\n" + b" " * MAX_TRANSCRIPT_BYTES, "more than"),
    ],
)
def test_an_unusable_transcript_is_invalid_and_not_linked(key: str, data: bytes, why: str) -> None:
    facts, problems = validate_transcript(
        key, data, url="https://x.test/t", duration_seconds=60, tolerance_seconds=1
    )
    assert facts is None
    assert [p.code for p in problems] == [Code.INVALID_TRANSCRIPT]
    assert why in problems[0].message and key in problems[0].message


def test_a_transcript_longer_than_the_audio_is_past_the_end_but_still_linked() -> None:
    assert validate("t.vtt", VTT, duration=61.25)[1] == []  # 62.25 is within 61.25 + 1
    facts, codes = validate("t.vtt", VTT, duration=61.0)
    assert codes == [Code.TRANSCRIPT_PAST_END] and facts is not None
    _, problems = validate_transcript("t.vtt", VTT, url="u", duration_seconds=61.0, tolerance_seconds=1)
    assert "0:01:02" in problems[0].message and "0:01:01" in problems[0].message
    assert validate("t.vtt", VTT, duration=None)[1] == []  # no audio yet: the file alone
    assert check_transcript(facts, 30.0, 0) and not check_transcript(facts, 62.25, 0)


def test_transcript_formats_by_extension() -> None:
    assert [transcript_format(k) for k in ("a.vtt", "b.SRT", "c.mp3", "vtt")] == ["vtt", "srt", None, None]


def test_transcript_keys_sit_next_to_the_mp3_unless_configured() -> None:
    config = parse_config(
        {
            "site": {"url": "https://example.com"},
            "audio": {
                "key_template": "assets/podcast/show-{number}.mp3",
                "url_template": "https://cdn.example.com/show-{number}.mp3",
            },
        }
    )
    assert config.transcript_key("vtt", number=5) == "assets/podcast/show-5.vtt"
    assert config.transcript_url("srt", number=5) == "https://cdn.example.com/show-5.srt"
    configured = parse_config(
        {
            "site": {"url": "https://example.com"},
            "transcripts": {"key_template": "transcripts/{slug}.{format}"},
        }
    )
    assert configured.transcript_key("srt", slug="x") == "transcripts/x.srt"
    assert configured.transcript_url("srt", slug="x") == "https://example.com/assets/podcast/x.srt"
    with pytest.raises(ConfigError, match=r"transcripts.key_template.*\{format\}"):
        parse_config({"site": {"url": "https://e.test"}, "transcripts": {"key_template": "t/{slug}.vtt"}})
    with pytest.raises(ConfigError, match=r"transcripts\.language"):
        parse_config({"site": {"url": "https://e.test"}, "transcripts": {"language": "en"}})
