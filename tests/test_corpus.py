"""The real show: its posts check clean against matching MP3s, and the mistakes it really made are caught."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from corpus import (
    CORPUS_CONFIG,
    CORPUS_COUNTS,
    EXCERPT,
    FULL_CORPUS,
    HAS_FULL_CORPUS,
    CorpusPost,
    corpus_posts,
    duration_seconds,
)
from mp3_fixtures import matching_mp3, padding_id3v2

from podcast_pipeline.posts import MAX_POST_BYTES
from podcast_pipeline_tools.cli import main

PODCAST = corpus_posts("podcast")
INTERVIEWS = corpus_posts("interviews")


def check(capsys: pytest.CaptureFixture[str], post: Path, audio: Path | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    args = ["check", str(post), "--config", str(CORPUS_CONFIG), "--json"]
    code = main([*args, "--audio", str(audio)] if audio else args)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, json.loads(captured.out)


def by_number(number: int) -> CorpusPost:
    [found] = [p for p in PODCAST if p.path.name.split("-")[3] == str(number)]
    return found


def test_the_corpus_is_all_there() -> None:
    assert {"podcast": len(PODCAST), "interviews": len(INTERVIEWS)} == CORPUS_COUNTS


EXCERPT_FILES = sorted(
    path.relative_to(EXCERPT).as_posix()
    for path in EXCERPT.rglob("*")
    if path.is_file() and path.name != "README.md"  # the README is the excerpt's own
)


def test_the_excerpt_keeps_the_shows_licence() -> None:
    licence = (EXCERPT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("The MIT License (MIT)")
    assert "Copyright (c) 2019 Nick Janetakis" in licence
    assert {"LICENSE", "_config.yml"} <= set(EXCERPT_FILES)


if HAS_FULL_CORPUS:  # beside the whole corpus, the excerpt must be its files byte for byte

    @pytest.mark.parametrize("name", EXCERPT_FILES)
    def test_the_excerpt_is_the_corpus_own_files(name: str) -> None:
        assert (EXCERPT / name).read_bytes() == (FULL_CORPUS / name).read_bytes()


@pytest.mark.parametrize("corpus_post", PODCAST, ids=lambda p: p.path.name[:16])
def test_each_podcast_post_checks_clean_against_a_matching_mp3(
    corpus_post: CorpusPost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert corpus_post.mp3_bytes and corpus_post.mp3_duration
    audio = tmp_path / "episode.mp3"
    audio.write_bytes(matching_mp3(int(corpus_post.mp3_bytes), duration_seconds(corpus_post.mp3_duration)))
    code, episode = check(capsys, corpus_post.path, audio)
    assert code == 0, episode["problems"]
    assert episode["state"] == "published"
    assert episode["problems"] == []
    assert episode["claimed"] == {
        "mp3_bytes": corpus_post.mp3_bytes,
        "mp3_duration": corpus_post.mp3_duration,
    }
    assert episode["measured"]["bytes"] == int(corpus_post.mp3_bytes)


@pytest.mark.parametrize("corpus_post", INTERVIEWS, ids=lambda p: p.path.name[:16])
def test_each_interview_checks_clean_without_audio(
    corpus_post: CorpusPost, capsys: pytest.CaptureFixture[str]
) -> None:
    code, episode = check(capsys, corpus_post.path)
    assert code == 0
    assert (episode["state"], episode["category"], episode["problems"], episode["measured"]) == (
        "published",
        "interviews",
        [],
        None,
    )


def test_console_script_checks_a_corpus_post(tmp_path: Path) -> None:
    corpus_post = by_number(0)
    audio = tmp_path / "0.mp3"
    audio.write_bytes(
        matching_mp3(int(corpus_post.mp3_bytes or 0), duration_seconds(corpus_post.mp3_duration or ""))
    )
    script = Path(sys.executable).parent / "podcast-pipeline"
    done = subprocess.run(
        [str(script), "check", str(corpus_post.path), "--config", str(CORPUS_CONFIG), "--audio", str(audio)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verified" in done.stdout


# -- the mistakes the show really made ---------------------------------------------------------------

Truth = tuple[int, int]  # bytes, whole seconds of the real file
Mistake = Callable[
    [int, int], tuple[str, str, Truth]
]  # (true bytes, true seconds) -> claimed fields and file


def _hms(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


MISTAKES: dict[str, tuple[int, Mistake, list[str]]] = {
    # name: (episode, mistake, expected codes)
    "size on disk": (54, lambda b, s: (str(math.ceil(b / 4096) * 4096), _hms(s), (b, s)), ["size_on_disk"]),
    "off-by-one rounding": (54, lambda b, s: (str(b), _hms(s + 1), (b, s)), ["duration_rounding"]),
    "a few seconds off": (12, lambda b, s: (str(b), _hms(s + 4), (b, s)), ["duration_mismatch"]),
    "minutes typo 1:24:55 for 1:22:55": (
        55,
        lambda b, s: (str(b), "1:24:55", (b, s)),
        ["duration_mismatch"],
    ),
    "swapped fields": (51, lambda b, s: (_hms(s), str(b), (b, s)), ["fields_swapped"]),
    "zero-padded duration": (0, lambda b, s: (str(b), "02:50", (b, s)), ["non_canonical_duration"]),
    "values of an earlier cut": (
        30,
        lambda b, s: (str(b), _hms(s), (b - 1_234_567, s - 77)),
        ["bytes_mismatch", "duration_mismatch"],
    ),
    "mp3 replaced by a new cut": (
        40,
        lambda b, s: (str(b), _hms(s), (b + 401_234, s + 25)),
        ["bytes_mismatch", "duration_mismatch"],
    ),
}


def with_fields(text: str, mp3_bytes: str, mp3_duration: str) -> str:
    lines = [
        f'mp3_bytes: "{mp3_bytes}"' if line.startswith("mp3_bytes:") else line for line in text.split("\n")
    ]
    return "\n".join(
        f'mp3_duration: "{mp3_duration}"' if line.startswith("mp3_duration:") else line for line in lines
    )


@pytest.mark.parametrize("name", MISTAKES)
def test_each_real_mistake_gets_its_code_and_the_true_values(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    number, mistake, expected = MISTAKES[name]
    original = by_number(number)
    claimed_bytes, claimed_duration, (true_bytes, true_seconds) = mistake(
        int(original.mp3_bytes or 0), duration_seconds(original.mp3_duration or "")
    )
    post = tmp_path / "_posts" / "podcast" / original.path.name
    post.parent.mkdir(parents=True)
    post.write_text(with_fields(original.path.read_text("utf-8"), claimed_bytes, claimed_duration), "utf-8")
    audio = tmp_path / "episode.mp3"
    audio.write_bytes(matching_mp3(true_bytes, true_seconds))

    code, episode = check(capsys, post, audio)
    assert [p["code"] for p in episode["problems"]] == expected
    truth = {"mp3_bytes": str(true_bytes), "mp3_duration": _hms(true_seconds)}
    assert all(p["fix"] == truth for p in episode["problems"])
    warnings_only = all(p["severity"] == "warning" for p in episode["problems"])
    assert code == (0 if warnings_only else 1)

    assert main(["fix", str(post), "--audio", str(audio)]) == 0
    capsys.readouterr()
    code, episode = check(capsys, post, audio)
    assert (code, episode["problems"]) == (0, [])


def test_the_minutes_typo_is_the_corpus_value_of_episode_55() -> None:
    assert by_number(55).mp3_duration == "1:22:55"


# -- malformed posts and MP3s: a specific code, never a traceback ------------------------------------

GOOD_NAME = "2020-10-26-54-paparazzi.md"
GOOD_FRONT = 'title: "t"\nmp3_bytes: "{bytes}"\nmp3_duration: "{duration}"\n'
SMALL_BYTES, SMALL_SECONDS = 200_000, 12


def front(body: str = GOOD_FRONT, **fields: str) -> bytes:
    values = {"bytes": str(SMALL_BYTES), "duration": _hms(SMALL_SECONDS)} | fields
    return ("---\n" + body.format(**values) + "---\nnotes\n").encode()


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(9)
)
# name: (post file name, post bytes, MP3 bytes or None for the matching one, exit code, code)
MALFORMED: dict[str, tuple[str, bytes, bytes | None, int, str]] = {
    "binary post": (GOOD_NAME, b"\x00\x01\x02PK\x03\x04" * 50, None, 2, "bad_encoding"),
    "utf-16 post": (GOOD_NAME, front().decode().encode("utf-16"), None, 2, "bad_encoding"),
    "latin-1 post": (GOOD_NAME, front('title: "café"\n').decode().encode("latin-1"), None, 2, "bad_encoding"),
    "huge post": (GOOD_NAME, front() + b"x" * MAX_POST_BYTES, None, 2, "too_large"),
    "alias bomb": (GOOD_NAME, front(GOOD_FRONT + BOMB), None, 2, "invalid_front_matter"),
    "python tag": (
        GOOD_NAME,
        front("x: !!python/object/apply:os.system ['true']\n"),
        None,
        2,
        "invalid_front_matter",
    ),
    "recursive alias": (GOOD_NAME, front(GOOD_FRONT + "a: &a [*a]\n"), None, 2, "invalid_front_matter"),
    "yaml syntax error": (GOOD_NAME, front("title: [oops\n"), None, 2, "invalid_front_matter"),
    "list front matter": (GOOD_NAME, front("- a\n- b\n"), None, 2, "invalid_front_matter"),
    "invalid date in front matter": (
        GOOD_NAME,
        front(GOOD_FRONT + "date: 2020-13-45\n"),
        None,
        2,
        "invalid_front_matter",
    ),
    "missing front matter": (GOOD_NAME, b"# Episode 54\n\nnotes\n", None, 2, "no_front_matter"),
    "unclosed front matter": (GOOD_NAME, b"---\ntitle: t\n\nnotes\n", None, 2, "no_front_matter"),
    "empty post": (GOOD_NAME, b"", None, 2, "no_front_matter"),
    "bad date in file name": ("2020-13-45-54-paparazzi.md", front(), None, 2, "bad_key"),
    "no date in file name": ("54-paparazzi.md", front(), None, 2, "bad_key"),
    "2^70 bytes": (GOOD_NAME, front(bytes=str(2**70)), None, 1, "invalid_mp3_bytes"),
    "fractional bytes": (GOOD_NAME, front(bytes="12.5"), None, 1, "invalid_mp3_bytes"),
    "negative bytes": (GOOD_NAME, front(bytes="-3"), None, 1, "invalid_mp3_bytes"),
    "words for bytes": (GOOD_NAME, front(bytes="about 200 KB"), None, 1, "invalid_mp3_bytes"),
    "minutes out of range": (GOOD_NAME, front(duration="1:99:00"), None, 1, "invalid_mp3_duration"),
    "fractional minutes": (GOOD_NAME, front(duration="0.2"), None, 1, "invalid_mp3_duration"),
    "missing duration": (
        GOOD_NAME,
        front('title: "t"\nmp3_bytes: "{bytes}"\n'),
        None,
        1,
        "missing_mp3_duration",
    ),
    "missing bytes": (
        GOOD_NAME,
        front('title: "t"\nmp3_duration: "{duration}"\n'),
        None,
        1,
        "missing_mp3_bytes",
    ),
    "missing title": (
        GOOD_NAME,
        front('mp3_bytes: "{bytes}"\nmp3_duration: "{duration}"\n'),
        None,
        1,
        "missing_title",
    ),
    "png renamed .mp3": (GOOD_NAME, front(), b"\x89PNG\r\n\x1a\n" + bytes(3000), 2, "not_mp3"),
    "wav renamed .mp3": (GOOD_NAME, front(), b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(3000), 2, "not_mp3"),
    "text renamed .mp3": (GOOD_NAME, front(), b"not audio at all\n" * 20, 2, "not_mp3"),
    "empty mp3": (GOOD_NAME, front(), b"", 2, "empty_file"),
    "truncated mp3": (
        GOOD_NAME,
        front(),
        matching_mp3(SMALL_BYTES, SMALL_SECONDS)[:50_000],
        2,
        "truncated_mp3",
    ),
    "id3 tag and no audio": (GOOD_NAME, front(), padding_id3v2(20), 2, "truncated_mp3"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_inputs_end_with_a_specific_code(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file_name, post_data, mp3_data, exit_code, problem_code = MALFORMED[name]
    post = tmp_path / "_posts" / "podcast" / file_name
    post.parent.mkdir(parents=True)
    post.write_bytes(post_data)
    audio = tmp_path / "episode.mp3"
    audio.write_bytes(matching_mp3(SMALL_BYTES, SMALL_SECONDS) if mp3_data is None else mp3_data)
    code, episode = check(capsys, post, audio)
    assert code == exit_code
    assert episode["state"] == "failed"
    assert problem_code in [p["code"] for p in episode["problems"]]
    assert all(p["message"] for p in episode["problems"])


def test_enough_malformed_cases() -> None:
    assert len(MALFORMED) >= 25
