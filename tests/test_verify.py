from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from podcast_pipeline.audio import MAX_AUDIO_BYTES, AudioFacts
from podcast_pipeline.config import load_config
from podcast_pipeline.decision import MeasuredAudio, ParsedPost, decide
from podcast_pipeline.episode import Episode, SourceRef, State
from podcast_pipeline.posts import Post, parse_post
from podcast_pipeline.problems import Code, Severity
from podcast_pipeline.verify import parse_byte_count, verify

CONFIG = load_config(Path(__file__).parent / "data" / "runninginproduction.yaml")
KEY = "_posts/podcast/2020-10-26-54-paparazzi-accessories.md"


def decided(
    post: Post,
    audio: AudioFacts | None,
    *,
    post_ref: SourceRef | None = None,
    audio_ref: SourceRef | None = None,
) -> Episode:
    """The episode of a first version of `post` with its MP3 measured as `audio` (None: not seen yet)."""
    measured = MeasuredAudio(audio, audio_ref) if audio else None
    return decide(ParsedPost(post, post_ref), measured, CONFIG, None).episode


def facts(size: int, seconds: float) -> AudioFacts:
    return AudioFacts(
        bytes=size,
        duration_seconds=seconds,
        header="info",
        bitrate_mode="cbr",
        bitrate=128000,
        sample_rate=44100,
        channels=2,
        audio_start=417,
        bytes_read=65536,
        requests=1,
        frames_walked=False,
    )


def post(
    mp3_bytes: str | None = '"59259264"', mp3_duration: str | None = '"1:01:43"', extra: str = ""
) -> Post:
    lines = ["title: Paparazzi"]
    if mp3_bytes is not None:
        lines.append(f"mp3_bytes: {mp3_bytes}")
    if mp3_duration is not None:
        lines.append(f"mp3_duration: {mp3_duration}")
    return parse_post(KEY, ("---\n" + "\n".join(lines) + f"\n{extra}---\nnotes\n").encode())


TRUE = facts(59259264, 3703.5)
TRUE_FIX = {"mp3_bytes": "59259264", "mp3_duration": "1:01:43"}


def codes(problems: list) -> list[tuple[Code, Severity]]:  # type: ignore[type-arg]
    return [(p.code, p.severity) for p in problems]


def test_matching_claims_have_no_problems() -> None:
    assert verify(post(), TRUE, CONFIG) == []
    assert verify(post("59259264", "1:01:43"), TRUE, CONFIG) == []  # unquoted YAML: base-60 must not bite


def test_size_on_disk() -> None:
    [problem] = verify(post('"59260928"'), TRUE, CONFIG)
    assert (problem.code, problem.severity) == (Code.SIZE_ON_DISK, Severity.ERROR)
    assert problem.message == (
        "mp3_bytes says 59260928 but the file is 59259264 bytes: "
        "59260928 is its size on disk (rounded up to 4 KiB)"
    )
    assert problem.fix == TRUE_FIX
    assert problem.key == KEY


def test_other_byte_mismatch() -> None:
    [problem] = verify(post('"59259265"'), TRUE, CONFIG)
    assert problem.code is Code.BYTES_MISMATCH
    assert "(1 byte more than the file)" in problem.message
    assert problem.fix == TRUE_FIX


def test_rounded_duration_is_a_warning_with_the_truncated_value() -> None:
    [problem] = verify(post(mp3_duration='"1:01:44"'), TRUE, CONFIG)
    assert (problem.code, problem.severity) == (Code.DURATION_ROUNDING, Severity.WARNING)
    assert "rounded" in problem.message
    assert problem.fix == TRUE_FIX
    assert decided(post(mp3_duration='"1:01:44"'), TRUE).state is State.PUBLISHED


def test_one_second_short_is_within_tolerance_too() -> None:
    [problem] = verify(post(mp3_duration='"1:01:42"'), TRUE, CONFIG)
    assert problem.code is Code.DURATION_ROUNDING
    assert "1 s less" in problem.message


def test_tolerance_comes_from_the_config() -> None:
    strict = replace(CONFIG, duration_tolerance_seconds=0)
    assert codes(verify(post(mp3_duration='"1:01:44"'), TRUE, strict)) == [
        (Code.DURATION_MISMATCH, Severity.ERROR)
    ]


def test_a_few_seconds_off() -> None:
    [problem] = verify(post(mp3_duration='"1:01:47"'), TRUE, CONFIG)
    assert (problem.code, problem.severity) == (Code.DURATION_MISMATCH, Severity.ERROR)
    assert (
        problem.message
        == "mp3_duration says 1:01:47 but the audio is 1:01:43.50 long (0:04 longer than the audio)"
    )
    assert problem.fix == TRUE_FIX


def test_minutes_typo_is_named() -> None:
    audio = facts(79_640_000, 4975.2)  # 1:22:55
    [problem] = verify(post('"79640000"', '"1:24:55"'), audio, CONFIG)
    assert problem.code is Code.DURATION_MISMATCH
    assert "typo in the minutes" in problem.message
    assert problem.fix == {"mp3_bytes": "79640000", "mp3_duration": "1:22:55"}


def test_swapped_fields() -> None:
    audio = facts(58985856, 3686.4)
    [problem] = verify(post('"1:01:26"', '"58985856"'), audio, CONFIG)
    assert (problem.code, problem.severity) == (Code.FIELDS_SWAPPED, Severity.ERROR)
    assert problem.fix == {"mp3_bytes": "58985856", "mp3_duration": "1:01:26"}
    assert "swapped" in problem.message


def test_swapped_fields_are_recognised_without_audio() -> None:
    [problem] = verify(post('"1:01:26"', '"58985856"'), None, CONFIG)
    assert problem.code is Code.FIELDS_SWAPPED
    assert problem.fix == {"mp3_bytes": "58985856", "mp3_duration": "1:01:26"}


def test_swapped_plain_numbers_are_recognised_when_they_match_the_file() -> None:
    audio = facts(58985856, 3686.4)
    assert codes(verify(post('"3686"', '"58985856"'), audio, CONFIG)) == [
        (Code.FIELDS_SWAPPED, Severity.ERROR)
    ]


def test_a_duration_in_mp3_bytes_with_seconds_in_mp3_duration_is_not_a_swap() -> None:
    problems = verify(post('"1:01:26"', '"3686"'), facts(58985856, 3686.4), CONFIG)
    assert codes(problems) == [
        (Code.INVALID_MP3_BYTES, Severity.ERROR),
        (Code.NON_CANONICAL_DURATION, Severity.WARNING),
    ]
    assert "looks like a duration" in problems[0].message


@pytest.mark.parametrize(
    ("written", "audio"), [('"01:03"', facts(1_000_000, 63.4)), ('"3723"', facts(59_000_000, 3723.9))]
)
def test_non_canonical_duration(written: str, audio: AudioFacts) -> None:
    [problem] = verify(post(f'"{audio.bytes}"', written), audio, CONFIG)
    assert (problem.code, problem.severity) == (Code.NON_CANONICAL_DURATION, Severity.WARNING)
    assert problem.fix is not None
    assert problem.fix["mp3_duration"] in ("1:03", "1:02:03")


def test_non_canonical_duration_without_audio_offers_the_canonical_spelling() -> None:
    [problem] = verify(post(mp3_duration='"01:03"'), None, CONFIG)
    assert problem.fix == {"mp3_duration": "1:03"}


def test_an_earlier_cut_differs_in_both() -> None:
    problems = verify(post(), facts(51253916, 3203.7), CONFIG)
    assert codes(problems) == [
        (Code.BYTES_MISMATCH, Severity.ERROR),
        (Code.DURATION_MISMATCH, Severity.ERROR),
    ]
    assert "another cut" in problems[0].message
    assert all(p.fix == {"mp3_bytes": "51253916", "mp3_duration": "53:23"} for p in problems)


@pytest.mark.parametrize(
    ("mp3_bytes", "mp3_duration", "expected"),
    [
        (None, '"1:01:43"', [Code.MISSING_MP3_BYTES]),
        ('"59259264"', None, [Code.MISSING_MP3_DURATION]),
        ("", '"1:01:43"', [Code.MISSING_MP3_BYTES]),
        ('"12.5"', '"1:01:43"', [Code.INVALID_MP3_BYTES]),
        ('"-3"', '"1:01:43"', [Code.INVALID_MP3_BYTES]),
        (f'"{2**70}"', '"1:01:43"', [Code.INVALID_MP3_BYTES]),
        ('"abc"', '"1:01:43"', [Code.INVALID_MP3_BYTES]),
        ('"59259264"', '"1:99:00"', [Code.INVALID_MP3_DURATION]),
        ('"59259264"', '"61.7"', [Code.INVALID_MP3_DURATION]),
        ('"59259264"', '"-1:00"', [Code.INVALID_MP3_DURATION]),
        ("[1]", "{a: 1}", [Code.INVALID_MP3_BYTES, Code.INVALID_MP3_DURATION]),
    ],
)
def test_missing_and_invalid_claims_are_errors_fixed_by_the_true_values(
    mp3_bytes: str | None, mp3_duration: str | None, expected: list[Code]
) -> None:
    problems = verify(post(mp3_bytes, mp3_duration), TRUE, CONFIG)
    assert [p.code for p in problems] == expected
    assert all(p.is_error and p.fix == TRUE_FIX for p in problems)


def test_only_an_explicit_key_makes_both_claims_missing() -> None:
    problems = verify(post(None, None, "mp3_key: a.mp3\n"), TRUE, CONFIG)
    assert [p.code for p in problems] == [Code.MISSING_MP3_BYTES, Code.MISSING_MP3_DURATION]


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("12.5", "a fraction"),
        ("-3", "negative"),
        (str(2**70), "largest MP3"),
        ("abc", "not a number"),
        (" ", "empty"),
    ],
)
def test_parse_byte_count_says_why(written: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_byte_count(written)
    assert parse_byte_count(str(MAX_AUDIO_BYTES)) == MAX_AUDIO_BYTES


def test_missing_title_fails_the_episode() -> None:
    text_only = parse_post(KEY, b"---\nlayout: x\n---\nnotes\n")
    assert codes(verify(text_only, None, CONFIG)) == [(Code.MISSING_TITLE, Severity.ERROR)]
    assert decided(text_only, None).state is State.FAILED


def test_decide_builds_the_episode() -> None:
    post_ref, audio_ref = SourceRef(KEY, version_id="v1"), SourceRef("assets/podcast/x.mp3", size=59259264)
    episode = decided(post(), TRUE, post_ref=post_ref, audio_ref=audio_ref)
    assert episode.state is State.PUBLISHED
    assert episode.id == "podcast/54-paparazzi-accessories"
    assert (episode.number, episode.title, episode.date) == (54, "Paparazzi", "2020-10-26")
    assert episode.permalink == "https://runninginproduction.com/podcast/54-paparazzi-accessories"
    assert episode.audio_key == "assets/podcast/running-in-production-54.mp3"
    assert episode.audio_url == "https://runninginproduction.com/assets/podcast/running-in-production-54.mp3"
    assert episode.claimed == {"mp3_bytes": "59259264", "mp3_duration": "1:01:43"}
    assert episode.measured == {
        "bytes": 59259264,
        "duration_seconds": 3703.5,
        "header": "info",
        "bitrate_mode": "cbr",
        "bitrate": 128000,
        "sample_rate": 44100,
        "channels": 2,
    }
    assert (episode.post, episode.audio) == (post_ref, audio_ref)
    assert episode.body == "notes"
    assert episode.front_matter["title"] == "Paparazzi"
    assert episode.duration_seconds == 3703


def test_decide_states() -> None:
    assert decided(post(), None).state is State.AWAITING_AUDIO
    assert decided(post('"59260928"'), TRUE).state is State.FAILED
    assert decided(post(mp3_bytes='"1:00"', mp3_duration=None), None).state is State.FAILED


def test_text_only_posts_publish_without_audio_and_ignore_any_offered() -> None:
    text_only = parse_post("_posts/interviews/2019-10-13-1-static-site.md", b"---\ntitle: t\n---\nbody\n")
    for audio in (None, TRUE):
        episode = decided(text_only, audio)
        assert episode.state is State.PUBLISHED
        assert (episode.audio_key, episode.audio_url, episode.measured) == (None, None, None)
        assert episode.problems == ()


def test_an_explicit_audio_key_wins_over_the_template() -> None:
    episode = decided(post(extra="mp3_key: media/final.mp3\n"), TRUE)
    assert episode.audio_key == "media/final.mp3"
    assert episode.audio_url == "https://runninginproduction.com/media/final.mp3"
