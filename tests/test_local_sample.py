"""The built-in sample show: self-consistent MP3s, and posts that exercise every outcome."""

from __future__ import annotations

import io
from pathlib import Path

import frontmatter
import pytest

from podcast_pipeline.audio.measure import measure
from podcast_pipeline.durations import parse_duration
from podcast_pipeline_tools.local.sample import SAMPLE_RATE, SAMPLES_PER_FRAME, silent_mp3, write_sample_show


@pytest.mark.parametrize("seconds", [1, 7, 59, 61])
def test_generated_mp3s_measure_as_generated(seconds: int) -> None:
    mp3 = silent_mp3(seconds)
    facts = measure(io.BytesIO(mp3.data))
    assert facts.bytes == len(mp3.data)
    assert facts.bitrate == pytest.approx(128_000, rel=1e-3)  # walked: bytes over duration
    assert facts.sample_rate == SAMPLE_RATE
    assert facts.duration_seconds == pytest.approx(mp3.frames * SAMPLES_PER_FRAME / SAMPLE_RATE, abs=1e-3)
    assert int(facts.duration_seconds) == seconds == parse_duration(mp3.mp3_duration)


def test_the_sample_show_has_one_wrong_claim_and_one_text_only_post(tmp_path: Path) -> None:
    write_sample_show(tmp_path)
    podcast = sorted((tmp_path / "_posts" / "podcast").glob("*.md"))
    notes = list((tmp_path / "_posts" / "notes").glob("*.md"))
    assert len(podcast) == 4 and len(notes) == 1

    wrong = []
    for post in podcast:
        meta = frontmatter.load(str(post)).metadata
        number = post.name.split("-")[3]
        audio = tmp_path / "assets" / "podcast" / f"sample-show-{number}.mp3"
        facts = measure(io.BytesIO(audio.read_bytes()))
        assert parse_duration(str(meta["mp3_duration"])) == int(facts.duration_seconds)
        if int(str(meta["mp3_bytes"])) != facts.bytes:
            wrong.append(post.name)
        assert "{{ page.guest }}" in post.read_text()
    assert wrong == ["2024-01-22-3-the-wrong-byte-count.md"]
    assert not {"mp3_bytes", "mp3_duration"} & set(frontmatter.load(str(notes[0])).metadata)
