from __future__ import annotations

import io
import math
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from mp3_fixtures import (
    apev2_tag,
    cbr_frames,
    cbr_mp3,
    frames_bytes,
    headerless_vbr_mp3,
    id3v1_tag,
    id3v2_tag,
    matching_mp3,
    padding_id3v2,
    write_mp3,
    xing_vbr_mp3,
)
from mutagen.id3 import ID3 as _ID3

# mutagen's ID3 class is untyped
ID3: Any = _ID3
FFPROBE = shutil.which("ffprobe")
MP3VAL = shutil.which("mp3val")


def test_frames_follow_the_encoder_padding_rule() -> None:
    # 128 kbit/s at 44.1 kHz: 417 47/49 bytes a frame on average
    assert len(cbr_frames(49)) == 49 * 417 + 47
    assert len(cbr_frames(1000)) == frames_bytes(1000, 128) == math.floor(1000 * 18432000 / 44100)
    frames = cbr_frames(3)
    assert frames[:4] == b"\xff\xfb\x90\x44"  # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, joint stereo
    assert frames[417:421] == b"\xff\xfb\x92\x44"  # the second frame carries the padding byte


def test_exact_bytes_is_exact() -> None:
    for size in (10_000, 123_457, 1_000_003):
        assert len(cbr_mp3(exact_bytes=size)) == size
        assert len(cbr_mp3(exact_bytes=size, id3v1=True, apev2=True, info_header=True)) == size


def test_exact_bytes_with_a_duration_pads_the_given_tag() -> None:
    tag = id3v2_tag(picture_bytes=1000)
    data = cbr_mp3(10.0, exact_bytes=200_000, id3v2=tag)
    assert len(data) == 200_000
    assert data[:3] == b"ID3" and len(ID3(fileobj=io.BytesIO(data)).getall("APIC")[0].data) == 1000
    with pytest.raises(ValueError, match="needs more than"):
        cbr_mp3(10.0, exact_bytes=100_000)


def test_100_mb_is_built_quickly() -> None:
    started = time.perf_counter()
    data = cbr_mp3(exact_bytes=100_000_000)
    assert len(data) == 100_000_000
    assert time.perf_counter() - started < 3.0


def test_matching_mp3_raises_when_impossible() -> None:
    with pytest.raises(ValueError, match="no MP3 of 500 bytes can last 60 s"):
        matching_mp3(500, 60)


def test_tags_are_well_formed() -> None:
    assert len(id3v1_tag()) == 128 and id3v1_tag().startswith(b"TAG")
    ape = apev2_tag()
    assert ape[:8] == b"APETAGEX" and ape[-32:-24] == b"APETAGEX"
    assert len(padding_id3v2(10)) == 10 and len(padding_id3v2(5000)) == 5000
    tag = id3v2_tag(picture_bytes=2_000_000)
    assert 2_000_000 < len(tag) < 2_001_000
    parsed = ID3(fileobj=io.BytesIO(tag + cbr_frames(10)))
    assert str(parsed["TIT2"]) == "Episode 0"
    stacked = id3v2_tag(stacked=2)
    assert stacked.count(b"ID3\x04") == 2


@pytest.mark.skipif(FFPROBE is None, reason="ffprobe is not installed (apt-get install ffmpeg)")
def test_ffmpeg_decodes_the_fixtures_without_errors(tmp_path: Path) -> None:
    assert FFPROBE is not None
    for name, data in {
        "cbr": cbr_mp3(5.0, id3v1=True, apev2=True),
        "info": cbr_mp3(5.0, info_header=True),
        "xing": xing_vbr_mp3(),
        "headerless": headerless_vbr_mp3(((32, 2.0), (320, 3.0))),
    }.items():
        path = write_mp3(tmp_path / f"{name}.mp3", data)
        run = subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a", "-f", "null", "-"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert run.stderr == "", name
        codec = subprocess.run(
            [
                FFPROBE,
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,sample_rate",
                "-of",
                "csv=p=0",
                str(path),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert codec.stdout.strip() == "mp3,44100", name


@pytest.mark.skipif(MP3VAL is None, reason="mp3val is not installed")
def test_mp3val_finds_no_problem(tmp_path: Path) -> None:
    assert MP3VAL is not None
    path = write_mp3(tmp_path / "a.mp3", cbr_mp3(5.0, info_header=True, id3v2=id3v2_tag(), id3v1=True))
    out = subprocess.run([MP3VAL, str(path)], capture_output=True, text=True, check=False).stdout
    assert "MPEG frames (MPEG 1 Layer III)" in out
    assert "WARNING" not in out
