"""The built-in sample show of `local run` without --input: five posts and their MP3s, made on the fly.

Three podcast episodes verify, one claims a wrong `mp3_bytes` (so the run shows a failure and its fix),
and one text-only post in `notes` publishes without audio. The MP3s are silent constant-bitrate streams:
MPEG-1 Layer III, 128 kbps, 44.1 kHz, mono, a few seconds to under a minute long.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from podcast_pipeline.config import load_config
from podcast_pipeline.durations import format_duration

# The sample show's site configuration: the command line's default, and the stack's (infra.constants).
SAMPLE_CONFIG = Path(__file__).resolve().parents[1] / "sample" / "site.yaml"

SAMPLE_RATE = 44_100
BITRATE = 128_000
SAMPLES_PER_FRAME = 1152
# Bytes per frame are 144 * bitrate / sample rate = 417.96: 417-byte frames, with one padding byte added
# whenever the running remainder reaches a whole byte, as an encoder does.
_FRAME_BYTES, _REMAINDER = divmod(144 * BITRATE, SAMPLE_RATE)
# Sync word, MPEG-1, Layer III, no CRC | 128 kbps, 44.1 kHz, padding bit (0x02) | mono, original.
_HEADER = bytes((0xFF, 0xFB, 0x90, 0xC4))
_PADDING_BIT = 0x02


@dataclass(frozen=True)
class Mp3:
    data: bytes
    frames: int

    @property
    def duration_seconds(self) -> float:
        return self.frames * SAMPLES_PER_FRAME / SAMPLE_RATE

    @property
    def mp3_duration(self) -> str:
        """What the front-matter should claim: whole seconds, truncated."""
        return format_duration(int(self.duration_seconds))


def silent_mp3(seconds: int) -> Mp3:
    """A silent CBR MP3 lasting `seconds` and half a second more (far from any whole-second boundary)."""
    frames = int((seconds + 0.5) * SAMPLE_RATE / SAMPLES_PER_FRAME)
    out = bytearray()
    carry = 0
    for _ in range(frames):
        carry += _REMAINDER
        padded = carry >= SAMPLE_RATE
        carry -= SAMPLE_RATE if padded else 0
        header = bytearray(_HEADER)
        header[2] |= _PADDING_BIT if padded else 0
        # All-zero side information and main data: a valid frame that decodes to silence.
        out += header + bytes(_FRAME_BYTES + padded - len(header))
    return Mp3(bytes(out), frames)


@dataclass(frozen=True)
class _Episode:
    number: int
    date: str
    slug: str
    title: str
    guest: str
    seconds: int
    bytes_error: int = 0  # added to the true size in the post's claim
    late_topic: bool = False  # a topic past the end of the audio: the notes of a longer cut
    transcript: bool = False  # a WebVTT transcript next to the MP3


_EPISODES = (
    _Episode(
        1,
        "2024-01-08",
        "welcome-to-the-sample-show",
        "Welcome to the Sample Show",
        "Ada Producer",
        7,
        transcript=True,
    ),
    _Episode(
        2, "2024-01-15", "shipping-on-a-tuesday", "Shipping on a Tuesday", "Grace Ops", 19, late_topic=True
    ),
    _Episode(3, "2024-01-22", "the-wrong-byte-count", "The Wrong Byte Count", "Linus Typo", 31, 1024),
    _Episode(4, "2024-01-29", "backups-you-can-restore", "Backups You Can Restore", "Barbara Restore", 45),
)

_NOTES_POST = """\
---
title: "Release notes: the pipeline verifies every episode"
category: "notes"
---

Every episode of {{ site.title }} is now checked before it reaches the feed: its `mp3_bytes` and
`mp3_duration` must match the MP3 itself.
"""


def _podcast_post(episode: _Episode, mp3: Mp3) -> str:
    return f"""\
---
title: "{episode.title}"
mp3_bytes: "{len(mp3.data) + episode.bytes_error}"
mp3_duration: "{mp3.mp3_duration}"
guest: "{episode.guest}"
guest_avatar: "{episode.guest.lower().replace(" ", "-")}.jpg"
guest_website: "https://sample.example/guests/{episode.guest.lower().replace(" ", "-")}"
category: "podcast"
---

In episode {episode.number} of {{{{ site.title }}}}, {{{{ page.guest }}}} talks about
*{episode.title.lower()}*.

## Topics Include

- 0:01 -- Introductions
- 0:05 -- What went right, and [what did not](https://sample.example/postmortem)
{f"- 0:{episode.seconds + 5:02d} -- A topic of a longer cut{chr(10)}" if episode.late_topic else ""}"""


def _transcript(mp3: Mp3) -> str:
    end = min(mp3.duration_seconds, 6.0)
    return f"""\
WEBVTT

00:00:01.000 --> 00:00:04.000
Welcome to the sample show.

00:00:04.000 --> 00:00:{end:06.3f}
Let us begin.
"""


def write_sample_show(root: Path) -> Path:
    """Write the sample show under `root`, laid out like the bucket; returns `root`."""
    config = load_config(SAMPLE_CONFIG)
    for episode in _EPISODES:
        mp3 = silent_mp3(episode.seconds)
        post = root / config.posts_prefix / "podcast" / f"{episode.date}-{episode.number}-{episode.slug}.md"
        audio = root / config.audio_key(number=episode.number, slug=episode.slug, category="podcast")
        files = [(post, _podcast_post(episode, mp3).encode("utf-8")), (audio, mp3.data)]
        if episode.transcript:
            key = config.transcript_key("vtt", number=episode.number, slug=episode.slug, category="podcast")
            files.append((root / key, _transcript(mp3).encode("utf-8")))
        for path, data in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    notes = root / config.posts_prefix / "notes" / "2024-02-01-release-notes.md"
    notes.parent.mkdir(parents=True, exist_ok=True)
    notes.write_text(_NOTES_POST, encoding="utf-8")
    return root
