from __future__ import annotations

import io
import math
import random
import re
import shutil
import subprocess
import wave
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mp3_fixtures import (
    apev2_tag,
    cbr_frames,
    cbr_mp3,
    duration_of,
    headerless_vbr_mp3,
    id3v1_tag,
    id3v2_tag,
    matching_mp3,
    vbri_mp3,
    xing_vbr_mp3,
)
from mutagen.mp3 import MPEGInfo

from podcast_pipeline.audio import MAX_AUDIO_BYTES, AudioFacts, measure
from podcast_pipeline.problems import Code, ProblemError

FFMPEG = shutil.which("ffmpeg")
LAME = shutil.which("lame")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed (apt-get install ffmpeg)")
needs_lame = pytest.mark.skipif(LAME is None or FFMPEG is None, reason="lame and ffmpeg are not installed")


def facts_of(data: bytes) -> AudioFacts:
    return measure(io.BytesIO(data))


def problem_of(data: bytes) -> ProblemError:
    with pytest.raises(ProblemError) as caught:
        facts_of(data)
    return caught.value


def ffmpeg_decoded_seconds(path: Path) -> float:
    """Duration of ffmpeg's full decode of the audio stream (samples out of the decoder)."""
    assert FFMPEG is not None
    run = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:a", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    hours, minutes, seconds = re.findall(r"time=(\d+):(\d+):([\d.]+)", run.stderr)[-1]
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


# --- kinds of file -------------------------------------------------------------------------------------


def test_headerless_cbr_duration_is_audio_bytes_over_byte_rate() -> None:
    audio = cbr_frames(383)
    facts = facts_of(audio)
    assert (facts.header, facts.bitrate_mode, facts.bitrate) == ("none", "cbr", 128000)
    assert facts.duration_seconds == pytest.approx(len(audio) * 8 / 128000)
    assert facts.duration_seconds == pytest.approx(383 * 1152 / 44100, abs=1e-3)
    assert (facts.sample_rate, facts.channels, facts.frames_walked) == (44100, 2, False)


def test_tags_at_both_ends_are_not_counted_as_audio() -> None:
    tag = id3v2_tag(title="x", padding=500)
    data = cbr_mp3(20.0, id3v2=tag, id3v1=True, apev2=True)
    facts = facts_of(data)
    audio_bytes = len(data) - len(tag) - len(apev2_tag()) - len(id3v1_tag())
    assert facts.audio_start == len(tag)
    assert facts.duration_seconds == pytest.approx(audio_bytes * 8 / 128000)
    assert facts.bytes == len(data)


def test_info_header_gives_frames_times_samples() -> None:
    facts = facts_of(cbr_mp3(30.0, info_header=True))
    frames = round(30.0 * 44100 / 1152)
    assert (facts.header, facts.bitrate_mode) == ("info", "cbr")
    assert facts.duration_seconds == pytest.approx(frames * 1152 / 44100)


def test_xing_vbr() -> None:
    segments = ((64, 5.0), (192, 10.0), (96, 5.0))
    facts = facts_of(xing_vbr_mp3(segments))
    assert (facts.header, facts.bitrate_mode, facts.frames_walked) == ("xing", "vbr", False)
    assert facts.duration_seconds == pytest.approx(duration_of(segments))
    assert 64000 < facts.bitrate < 192000


def test_vbri_vbr() -> None:
    segments = ((64, 5.0), (192, 10.0))
    facts = facts_of(vbri_mp3(segments))
    assert (facts.header, facts.bitrate_mode) == ("vbri", "vbr")
    assert facts.duration_seconds == pytest.approx(duration_of(segments))


def test_headerless_vbr_walks_every_frame_where_mutagen_is_far_off() -> None:
    segments = ((32, 10.0), (320, 50.0))
    data = headerless_vbr_mp3(segments)
    facts = facts_of(data)
    assert (facts.header, facts.bitrate_mode, facts.frames_walked) == ("none", "vbr", True)
    assert facts.duration_seconds == pytest.approx(duration_of(segments), abs=1e-6)
    estimate = MPEGInfo(io.BytesIO(data)).length
    assert abs(estimate - facts.duration_seconds) > 0.1 * facts.duration_seconds


def test_headerless_vbr_whose_bitrate_changes_only_midway_is_found_by_the_frame_grid() -> None:
    # the head and the end are 128 kbit/s: only the end's frames falling off the head's grid show the change
    segments = ((128, 100.0), (320, 100.0), (128, 100.0))
    facts = facts_of(headerless_vbr_mp3(segments))
    assert facts.frames_walked
    assert facts.duration_seconds == pytest.approx(duration_of(segments), abs=1e-6)


def test_mono_and_other_sample_rates() -> None:
    facts = facts_of(cbr_mp3(12.0, bitrate_kbps=64, sample_rate=48000, channels=1, info_header=True))
    assert (facts.sample_rate, facts.channels) == (48000, 1)
    assert facts.duration_seconds == pytest.approx(round(12.0 * 48000 / 1152) * 1152 / 48000)


def test_to_dict_has_every_field() -> None:
    facts = facts_of(cbr_mp3(2.0))
    out = facts.to_dict()
    assert out["header"] == "none" and out["bytes"] == facts.bytes
    assert set(out) == {
        "bytes", "duration_seconds", "header", "bitrate_mode", "bitrate", "sample_rate", "channels",
        "audio_start", "bytes_read", "requests", "frames_walked",
    }  # fmt: skip


# --- read budget ---------------------------------------------------------------------------------------


def test_measuring_100_mb_cbr_reads_at_most_64_kib() -> None:
    for info_header in (False, True):
        data = cbr_mp3(exact_bytes=100_000_000, info_header=info_header, id3v2=id3v2_tag(padding=2000))
        facts = facts_of(data)
        assert facts.bytes == 100_000_000
        assert facts.bytes_read <= 65536, info_header
        assert facts.bitrate_mode == "cbr"
        assert facts.duration_seconds == pytest.approx(6249.9, abs=0.2)


@pytest.mark.parametrize("megabytes", [1, 100])
def test_headerless_cbr_is_proven_from_the_head_and_the_end(megabytes: int) -> None:
    data = cbr_mp3(exact_bytes=megabytes * 1_000_000, id3v2=id3v2_tag(padding=2000), id3v1=True)
    facts = facts_of(data)
    assert (facts.bitrate_mode, facts.frames_walked, facts.requests) == ("cbr", False, 2)
    assert facts.bytes_read <= 65536
    assert facts.duration_seconds == pytest.approx((len(data) - 128 - facts.audio_start) * 8 / 128000)


@settings(max_examples=40, deadline=None)
@given(
    bitrate=st.sampled_from([32, 64, 96, 128, 192, 320]),
    sample_rate=st.sampled_from([32000, 44100, 48000]),
    channels=st.sampled_from([1, 2]),
    frames=st.integers(2000, 9000),
    id3v2_padding=st.integers(0, 40_000),
    id3v1=st.booleans(),
    apev2=st.booleans(),
)
def test_any_headerless_cbr_file_is_proven_in_two_reads(
    bitrate: int, sample_rate: int, channels: int, frames: int, id3v2_padding: int, id3v1: bool, apev2: bool
) -> None:
    seconds = frames * 1152 / sample_rate
    data = cbr_mp3(
        seconds,
        bitrate_kbps=bitrate,
        sample_rate=sample_rate,
        channels=channels,
        id3v2=id3v2_tag(padding=id3v2_padding),
        id3v1=id3v1,
        apev2=apev2,
    )
    facts = facts_of(data)
    assert (facts.bitrate_mode, facts.frames_walked, facts.requests) == ("cbr", False, 2)
    assert facts.bytes_read <= 65536
    # audio bytes / byte rate is within one byte of the frames' duration
    assert facts.duration_seconds == pytest.approx(seconds, abs=8 / (bitrate * 1000))


def test_an_encoder_that_never_pads_costs_a_walk_not_a_wrong_duration() -> None:
    # 417-byte frames at 44.1 kHz fall behind the 417.96-byte grid, so audio bytes / byte rate would be short
    data = cbr_frames(1) * 3000
    facts = facts_of(data)
    assert facts.frames_walked
    assert facts.duration_seconds == pytest.approx(3000 * 1152 / 44100, abs=1e-9)


def test_frames_after_garbage_near_the_end_are_walked_and_trailing_garbage_is_not_audio() -> None:
    garbage = random.Random(9).randbytes(3000).replace(b"\xff", b"\x00")
    resumed = facts_of(cbr_frames(2000) + garbage + cbr_frames(20))
    assert resumed.frames_walked
    assert resumed.duration_seconds == pytest.approx(2020 * 1152 / 44100, abs=1e-9)
    trailing = facts_of(cbr_frames(2000) + garbage)
    assert (trailing.frames_walked, trailing.requests) == (False, 2)
    assert trailing.duration_seconds == pytest.approx(2000 * 1152 / 44100, abs=1e-3)


def test_info_header_file_needs_one_read() -> None:
    facts = facts_of(cbr_mp3(600.0, info_header=True, id3v2=id3v2_tag(padding=4000)))
    assert facts.requests == 1
    assert facts.bytes_read <= 65536


def test_a_2_mb_cover_picture_is_skipped_not_read() -> None:
    tag = id3v2_tag(picture_bytes=2_000_000)
    facts = facts_of(cbr_mp3(300.0, id3v2=tag, info_header=True))
    assert facts.audio_start == len(tag)
    assert facts.bytes_read <= 2 * 48 * 1024
    assert facts.requests <= 2


def test_stacked_tags_and_v24_footer_are_skipped() -> None:
    tags = id3v2_tag(stacked=3, padding=100) + id3v2_tag(footer=True)
    facts = facts_of(tags + cbr_frames(100))
    assert facts.audio_start == len(tags)
    assert facts.duration_seconds == pytest.approx(100 * 1152 / 44100)


def test_walking_60_mb_is_quick() -> None:
    import time

    data = headerless_vbr_mp3(((32, 60.0), (320, 1500.0)))
    assert len(data) > 60_000_000
    started = time.perf_counter()
    facts = facts_of(data)
    assert facts.frames_walked
    assert time.perf_counter() - started < 5.0


# --- matching the corpus ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mp3_bytes", "seconds"), [(51253916, 3203), (58985856, 3686), (1_000_000, 62), (2000, 0)]
)
def test_matching_mp3_has_the_exact_size_and_a_duration_that_truncates_to_the_claim(
    mp3_bytes: int, seconds: int
) -> None:
    data = matching_mp3(mp3_bytes, seconds)
    facts = facts_of(data)
    assert len(data) == mp3_bytes == facts.bytes
    assert math.floor(facts.duration_seconds) == seconds


# --- malformed input -------------------------------------------------------------------------------------


def _wav_bytes(seconds: float = 0.5) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(int(8000 * seconds) * 2))
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (b"", Code.EMPTY_FILE, "empty file (0 bytes)"),
        (b"\x89PNG\r\n\x1a\n" + bytes(5000), Code.NOT_MP3, "PNG signature"),
        (_wav_bytes(), Code.NOT_MP3, "WAV (RIFF)"),
        (b"---\ntitle: Episode 54\nmp3_bytes: '123'\n---\nHello\n" * 20, Code.NOT_MP3, "is text"),
        (id3v2_tag() + b"\x89PNG\r\n\x1a\n" + bytes(100), Code.NOT_MP3, "after the ID3v2 tag"),
        (
            random.Random(3).randbytes(100_000).replace(b"\xff", b"\x00"),
            Code.NOT_MP3,
            "no MPEG audio frame header",
        ),
        (
            bytes(3000) + b"\xff\xfb\x90\x64" + bytes(3000),
            Code.NOT_MP3,
            "frame header at byte 3,000 is not followed",
        ),
        (id3v2_tag(padding=50), Code.TRUNCATED_MP3, "ends right after its ID3v2 tag"),
        (id3v2_tag(padding=5000)[:3000], Code.TRUNCATED_MP3, "ID3v2 tag at byte 0 needs"),
        (cbr_frames(1)[:100], Code.TRUNCATED_MP3, "first frame needs 417 bytes but only 100 remain"),
    ],
)
def test_unusable_input_raises_a_specific_problem(data: bytes, code: Code, words: str) -> None:
    problem = problem_of(data).problem
    assert problem.code == code
    assert words in problem.message


def test_file_cut_in_its_last_frame_is_truncated() -> None:
    for data in (cbr_frames(2000), headerless_vbr_mp3(((32, 5.0), (320, 20.0)))):
        problem = problem_of(data[:-300]).problem
        assert problem.code == Code.TRUNCATED_MP3
        assert re.search(r"the last frame needs \d+ bytes but only \d+ remain", problem.message)


def test_file_shorter_than_its_xing_header_says_is_truncated() -> None:
    data = xing_vbr_mp3()
    problem = problem_of(data[: len(data) // 2]).problem
    assert problem.code == Code.TRUNCATED_MP3
    assert "Xing header announces" in problem.message


def test_garbage_between_frames_is_skipped() -> None:
    garbage = random.Random(5).randbytes(5000)
    data = cbr_frames(1000, 128) + garbage + cbr_frames(3000, 320) + garbage + cbr_frames(500, 128)
    facts = facts_of(data)
    assert facts.frames_walked
    assert facts.duration_seconds == pytest.approx(4500 * 1152 / 44100, abs=1e-6)


def test_too_large_is_refused_without_reading() -> None:
    class Unreadable(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise AssertionError("read")

    with pytest.raises(ProblemError) as caught:
        measure(Unreadable(), MAX_AUDIO_BYTES + 1, key="a.mp3")
    assert caught.value.problem.code == Code.TOO_LARGE
    assert caught.value.problem.key == "a.mp3"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=20_000))
def test_arbitrary_bytes_give_facts_or_a_problem(data: bytes) -> None:
    try:
        facts = facts_of(data)
    except ProblemError as exc:
        assert exc.problem.code in {Code.NOT_MP3, Code.EMPTY_FILE, Code.TRUNCATED_MP3}
    else:
        assert facts.bytes == len(data)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_mangled_mp3s_give_facts_or_a_problem(data: st.DataObject) -> None:
    mp3 = bytearray(data.draw(st.sampled_from([cbr_frames(50), xing_vbr_mp3(((64, 1.0), (128, 1.0)))])))
    for _ in range(data.draw(st.integers(0, 20))):
        mp3[data.draw(st.integers(0, len(mp3) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mp3)))
    try:
        facts = facts_of(bytes(mp3[:cut]))
    except ProblemError:
        return
    assert facts.duration_seconds >= 0


# --- against ffmpeg -------------------------------------------------------------------------------------


@needs_ffmpeg
@pytest.mark.parametrize(
    "data",
    [
        pytest.param(
            cbr_mp3(61.3, id3v2=id3v2_tag(picture_bytes=3000), id3v1=True, apev2=True), id="cbr-tags"
        ),
        pytest.param(cbr_mp3(45.0, info_header=True), id="info"),
        pytest.param(xing_vbr_mp3(), id="xing"),
        pytest.param(vbri_mp3(), id="vbri"),
        pytest.param(headerless_vbr_mp3(), id="headerless-vbr"),
        pytest.param(cbr_mp3(20.0, bitrate_kbps=64, sample_rate=32000, channels=1), id="mono-32k"),
    ],
)
def test_duration_agrees_with_ffmpeg_full_decode(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "a.mp3"
    path.write_bytes(data)
    assert facts_of(data).duration_seconds == pytest.approx(ffmpeg_decoded_seconds(path), abs=0.05)


def _noise_wav(path: Path, samples: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(random.Random(2).randbytes(samples * 4))
    return path


@needs_lame
@pytest.mark.parametrize("options", [["-b", "128"], ["-V", "4"], ["--abr", "96"], ["-b", "64", "-t"]])
def test_lame_encoded_file_agrees_with_ffmpeg(tmp_path: Path, options: list[str]) -> None:
    samples = 44100 * 7 + 1234
    wav = _noise_wav(tmp_path / "a.wav", samples)
    mp3 = tmp_path / "a.mp3"
    assert LAME is not None
    subprocess.run([LAME, "--quiet", *options, str(wav), str(mp3)], check=True)
    facts = measure(mp3.open("rb"))
    # LAME's encoder delay and padding are not part of the duration: exactly the WAV's samples
    # (unless LAME resampled, as it does for a low ABR target)
    if "-t" not in options and facts.sample_rate == 44100:
        assert facts.duration_seconds == pytest.approx(samples / 44100, abs=1e-6)
    assert facts.duration_seconds == pytest.approx(ffmpeg_decoded_seconds(mp3), abs=0.05)
    expected_header = "none" if "-t" in options else ("info" if "-b" in options else "xing")
    assert facts.header == expected_header
    if "--abr" in options:
        assert facts.bitrate_mode == "abr"


@needs_lame
@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["lame", "--quiet", "-t", "-b", "128", "{wav}", "{out}"], id="lame-mpeg1"),
        pytest.param(
            ["lame", "--quiet", "-t", "-b", "64", "-m", "m", "--resample", "22.05", "{wav}", "{out}"],
            id="lame-mpeg2-mono",
        ),
        pytest.param(
            ["ffmpeg", "-v", "error", "-i", "{wav}", "-ar", "48000", "-c:a", "libmp3lame", "-b:a", "160k",
             "-write_xing", "0", "{out}"],
            id="ffmpeg-libmp3lame-48k",
        ),
        pytest.param(
            ["ffmpeg", "-v", "error", "-i", "{wav}", "-c:a", "mp2", "-b:a", "192k", "-f", "mp2", "{out}"],
            id="ffmpeg-layer2",
        ),
    ],
)  # fmt: skip
def test_real_encoders_headerless_cbr_is_proven_in_two_reads(tmp_path: Path, command: list[str]) -> None:
    wav, out = _noise_wav(tmp_path / "a.wav", 44100 * 20), tmp_path / "a.mp3"
    subprocess.run([arg.format(wav=wav, out=out) for arg in command], check=True)
    facts = measure(out.open("rb"))
    assert (facts.header, facts.bitrate_mode, facts.frames_walked, facts.requests) == (
        "none",
        "cbr",
        False,
        2,
    )
    assert facts.duration_seconds == pytest.approx(ffmpeg_decoded_seconds(out), abs=0.05)
