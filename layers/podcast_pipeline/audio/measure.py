"""Measure an MP3 (size, exact duration, bitrate) from any seekable reader with few, small reads.

Reads, in order: the head of the file (ID3v2 tags and the first frames), then only what the file demands:

- a Xing/Info/VBRI header in the first frame gives the duration; nothing more is read;
- without one, one read at the end of the file proves a constant bitrate (duration = audio bytes / byte
  rate) or shows a variable one, whose frames are then all walked.

The reader may be a plain file or the ranged S3 reader; `measure` does no I/O of its own (`measure_file`
opens a local file for it).

Truncation: encoders write whole frames, so a last frame cut short, or less audio than a Xing/Info/VBRI
header announces, means an incomplete copy and is TRUNCATED_MP3 however few bytes are missing. Bytes after
the last frame that are no frame and no known tag are tolerated and not counted as audio.

Constant bitrate proof for a header-less file: the head is one unbroken run of frames of one bitrate, and
so are the last frames, which start and end on the frame grid that bitrate lays from the first frame (an
encoder pads frames so the audio is always within one padding slot of whole frames at the nominal size).
A file that varies its bitrate only between its head and its last frames, yet lands on that grid by chance
(3 in the frame length in bytes: 1 in 140 at 128 kbit/s), is taken for CBR; encoders that vary the bitrate
write a Xing/VBRI header or vary it everywhere, which the head shows. An encoder that pads otherwise costs
a walk, never a wrong duration.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import mutagen
from mutagen.mp3 import BitrateMode, MPEGInfo

from podcast_pipeline.problems import Code, ProblemError, error

MAX_AUDIO_BYTES = 2 * 1024**3
# The first read: ID3v2 tag, first frame and its Xing/Info/VBRI header. A header-less file takes one more
# read, of its end, and both stay within 64 KiB.
HEAD_BYTES = 48 * 1024
TAIL_BYTES = 16 * 1024
READ_BUDGET = HEAD_BYTES + TAIL_BYTES
WALK_BLOCK = 1024 * 1024
# How far to look for the first frame when the head holds none (mutagen's own limit).
SYNC_WINDOW = 1024 * 1024

ID3V1_SIZE = 128
APE_FOOTER_SIZE = 32


@dataclass(frozen=True)
class AudioFacts:
    bytes: int
    duration_seconds: float
    header: str
    bitrate_mode: str
    bitrate: int
    sample_rate: int
    channels: int
    audio_start: int
    bytes_read: int
    requests: int
    frames_walked: bool

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class _Frame(NamedTuple):
    length: int
    samples: int
    sample_rate: int
    bitrate: int
    stream: int  # version, layer and sample rate: frames of one stream share it


def _frame_table() -> list[_Frame | None]:
    """Frame facts indexed by the two header bytes after the 0xFF sync byte (ignoring mode bits)."""
    bitrates = {
        (1, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
        (1, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
        (1, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
        (2, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
        (2, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
        (2, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    }
    rates = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
    table: list[_Frame | None] = [None] * 65536
    for byte1 in range(0xE0, 0x100):
        version_bits, layer_bits = (byte1 >> 3) & 3, (byte1 >> 1) & 3
        if version_bits == 1 or layer_bits == 0:
            continue
        layer = 4 - layer_bits
        mpeg1 = version_bits == 3
        for byte2 in range(256):
            bitrate_index, rate_index, padding = byte2 >> 4, (byte2 >> 2) & 3, (byte2 >> 1) & 1
            if bitrate_index in (0, 15) or rate_index == 3:  # free format and reserved values
                continue
            bitrate = bitrates[(1 if mpeg1 else 2, layer)][bitrate_index] * 1000
            rate = rates[version_bits][rate_index]
            if layer == 1:
                samples, length = 384, (12 * bitrate // rate + padding) * 4
            elif layer == 3 and not mpeg1:
                samples, length = 576, 72 * bitrate // rate + padding
            else:
                samples, length = 1152, 144 * bitrate // rate + padding
            stream = (byte1 & 0x1E) << 2 | rate_index
            table[byte1 << 8 | byte2] = _Frame(length, samples, rate, bitrate, stream)
    return table


_FRAMES = _frame_table()
_MAX_FRAME = 2884  # Layer II at 384 kbit/s, 32 kHz, padded: the longest frame there is
_LOOKAHEAD = 2 * _MAX_FRAME + 4  # enough to see a frame and the header after it


def _frame_at(data: bytes, i: int) -> _Frame | None:
    if i + 4 > len(data) or data[i] != 0xFF:
        return None
    return _FRAMES[data[i + 1] << 8 | data[i + 2]]


def _find_frame(data: bytes, start: int, stream: int | None, data_end: int) -> int:
    """Index of the first frame header at or after `start` that is followed by another of the same stream.

    A frame that ends exactly at `data_end` (the end of the audio) needs no follower. -1 when none is found.
    """
    i = data.find(b"\xff", start)
    while 0 <= i <= len(data) - 4:
        frame = _frame_at(data, i)
        if frame is not None and stream in (None, frame.stream):
            after = i + frame.length
            if after == data_end:
                return i
            follower = _frame_at(data, after)
            if follower is not None and follower.stream == frame.stream:
                return i
        i = data.find(b"\xff", i + 1)
    return -1


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def read_fully(stream: Readable, n: int) -> tuple[bytes, int]:
    """Up to `n` bytes of `stream`, read until there are `n` or the stream ends, and the read calls made."""
    chunks: list[bytes] = []
    remaining, calls = n, 0
    while remaining > 0:
        chunk = stream.read(remaining)
        calls += 1
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks), calls


class KeptRanges:
    """Byte ranges of one file kept as they were read, so that reading them again costs no read."""

    def __init__(self) -> None:
        self._ranges: list[tuple[int, bytes]] = []  # (offset, data), in the order they were kept

    @property
    def size(self) -> int:
        """The bytes kept."""
        return sum(len(data) for _, data in self._ranges)

    def keep(self, offset: int, data: bytes) -> None:
        self._ranges.append((offset, data))

    def holding(self, offset: int) -> tuple[int, bytes] | None:
        """The first kept range that holds byte `offset`, as (its offset, its data)."""
        return next(
            ((start, data) for start, data in self._ranges if start <= offset < start + len(data)), None
        )

    def covering(self, offset: int, n: int) -> bytes | None:
        """The `n` bytes from `offset` when one kept range holds them all."""
        for start, data in self._ranges:
            if start <= offset and offset + n <= start + len(data):
                return data[offset - start : offset - start + n]
        return None

    def next_start(self, offset: int, limit: int) -> int:
        """Where the first kept range after `offset` starts; `limit` when none starts before it."""
        return min([limit, *(start for start, _ in self._ranges if start > offset)])


class _Source:
    """Reads ranges of the reader, keeps what it read, and counts read calls and bytes."""

    def __init__(self, reader: SeekableReader) -> None:
        self._reader = reader
        self._kept = KeptRanges()
        self.requests = 0
        self.bytes_read = 0

    def cached_from(self, offset: int) -> bytes:
        """What was kept from `offset` on, up to the end of the read that holds it."""
        hit = self._kept.holding(offset)
        return b"" if hit is None else hit[1][offset - hit[0] :]

    def read_at(self, offset: int, n: int, *, keep: bool = True) -> bytes:
        kept = self._kept.covering(offset, n)
        if kept is not None:
            return kept
        self._reader.seek(offset)
        data, calls = read_fully(self._reader, n)
        self.requests += calls
        self.bytes_read += len(data)
        if keep:
            self._kept.keep(offset, data)
        return data


def _fail(code: Code, message: str, key: str | None) -> ProblemError:
    return ProblemError(error(code, message, key=key))


def _last_frame_cut(frame: _Frame, remaining: int, key: str | None) -> ProblemError:
    return _fail(
        Code.TRUNCATED_MP3,
        f"truncated MP3: the last frame needs {frame.length} bytes but only {remaining} remain",
        key,
    )


_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "a PNG signature"),
    (0, b"\xff\xd8\xff", "a JPEG signature"),
    (0, b"GIF8", "a GIF signature"),
    (0, b"%PDF", "a PDF signature"),
    (0, b"PK\x03\x04", "a ZIP signature"),
    (0, b"fLaC", "a FLAC signature"),
    (0, b"OggS", "an Ogg signature"),
    (0, b"\x1aE\xdf\xa3", "a Matroska/WebM signature"),
    (4, b"ftyp", "an MP4/M4A signature"),
    (0, b"#!AMR", "an AMR signature"),
    (0, b"\x1f\x8b", "a gzip signature"),
)


def _container(data: bytes) -> str | None:
    """What a non-MP3 file is, from its first bytes."""
    if data[:4] in (b"RIFF", b"RIFX") and data[8:12] == b"WAVE":
        return "a WAV (RIFF) header"
    if data[:4] == b"RIFF":
        return "a RIFF header"
    if data[:4] == b"FORM" and data[8:12] in (b"AIFF", b"AIFC"):
        return "an AIFF header"
    for offset, magic, name in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return name
    return None


def _as_text(data: bytes) -> str | None:
    """The start of `data` when it reads as text (UTF-8 without control characters)."""
    try:
        text = data[:4096].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < 4090:  # a multi-byte character cut at the end is still text
            return None
        text = data[: exc.start].decode("utf-8")
    if not text or any(ord(c) < 32 and c not in "\t\r\n\f" for c in text):
        return None
    return text[:40]


def _skip_id3v2(src: _Source, size: int, key: str | None) -> int:
    """Offset after the ID3v2 tag(s) at the start: stacked tags and the v2.4 footer included."""
    pos = 0
    while pos + 10 <= size:
        header = src.read_at(pos, 10)
        if (
            header[:3] != b"ID3"
            or header[3] == 0xFF
            or header[4] == 0xFF
            or any(b & 0x80 for b in header[6:10])
        ):
            break
        body = header[6] << 21 | header[7] << 14 | header[8] << 7 | header[9]
        tag = 10 + body + (10 if header[3] >= 4 and header[5] & 0x10 else 0)
        if pos + tag > size:
            raise _fail(
                Code.TRUNCATED_MP3,
                f"truncated MP3: the ID3v2 tag at byte {pos} needs {tag:,} bytes "
                f"but only {size - pos:,} remain",
                key,
            )
        pos += tag
        if pos < size and len(src.cached_from(pos)) < 8192:
            # a big tag (cover art) ends past the head: one read for the region after it
            src.read_at(pos, min(HEAD_BYTES, size - pos))
    return pos


def _trailing_tags(src: _Source, size: int, floor: int) -> int:
    """End of the audio: the file size less an ID3v1 tag and an APEv2 tag at the end."""
    end = size
    if end - ID3V1_SIZE >= floor and src.read_at(end - ID3V1_SIZE, 3) == b"TAG":
        end -= ID3V1_SIZE
    if end - APE_FOOTER_SIZE >= floor:
        footer = src.read_at(end - APE_FOOTER_SIZE, APE_FOOTER_SIZE)
        if footer[:8] == b"APETAGEX":
            tag_size = int.from_bytes(footer[12:16], "little")
            has_header = footer[20:24] != b"\x00\x00\x00\x00" and footer[23] & 0x80
            tag_size += APE_FOOTER_SIZE if has_header else 0
            if floor <= end - tag_size:
                end -= tag_size
    return end


class _Walk(NamedTuple):
    samples: int
    frames: int
    audio_bytes: int
    bitrates: frozenset[int]


def _walk(src: _Source, start: int, end: int, stream: int, key: str | None) -> _Walk:
    """Every frame from `start` to `end`, resyncing over garbage; raises when the last frame is cut short."""
    table = _FRAMES
    pos, base, buf = start, start, b""
    samples = frames = audio_bytes = 0
    bitrates: set[int] = set()
    while pos < end:
        i = pos - base
        if i + _LOOKAHEAD > len(buf) and base + len(buf) < end:
            loaded = base + len(buf)
            buf = buf[i:] + src.read_at(loaded, min(WALK_BLOCK, end - loaded), keep=False)
            base, i = pos, 0
        if i + 4 > len(buf):
            break
        frame = table[buf[i + 1] << 8 | buf[i + 2]] if buf[i] == 0xFF else None
        if frame is not None and frame.stream == stream:
            if pos + frame.length > end:
                raise _last_frame_cut(frame, end - pos, key)
            samples += frame.samples
            frames += 1
            audio_bytes += frame.length
            bitrates.add(frame.bitrate)
            pos += frame.length
            continue
        found = _find_frame(buf, i + 1, stream, end - base)
        if found < 0:
            if base + len(buf) >= end:
                break  # trailing bytes that are no frame (an unknown tag): not audio
            pos = base + max(i + 1, len(buf) - _LOOKAHEAD)
            continue
        pos = base + found
    return _Walk(samples, frames, audio_bytes, frozenset(bitrates))


def _vbr_header(data: bytes, frame_at: int, info: Any) -> tuple[str, int, int]:
    """Kind of VBR header in the first frame ("xing", "info", "vbri" or "none"), its frame and byte counts.

    mutagen parses these headers too, but MPEGInfo keeps only what it derives from them (length, bitrate,
    mode, encoder); the frame and byte counts the truncation check needs are on its XingHeader and
    VBRIHeader classes, which live in the private `mutagen.mp3._util` and are not in `mutagen.mp3.__all__`.
    The layer's lock pins mutagen, but pyproject asks only for mutagen>=1.47 and the tests run on whatever
    that installs, so no test pins those private classes and a release may change them without notice:
    the offsets are read here, after the header layouts mutagen and LAME use.
    """
    mono = info.mode == 3
    # where LAME and Xing put the header: after the side information, whose size depends on version and mode
    xing_at = frame_at + ((21 if mono else 36) if info.version == 1 else (13 if mono else 21))
    tag = data[xing_at : xing_at + 4]
    if tag in (b"Xing", b"Info"):
        flags = int.from_bytes(data[xing_at + 4 : xing_at + 8], "big")
        pos, frames, size = xing_at + 8, -1, -1
        if flags & 1:
            frames = int.from_bytes(data[pos : pos + 4], "big")
            pos += 4
        if flags & 2:
            size = int.from_bytes(data[pos : pos + 4], "big")
        return ("info" if tag == b"Info" else "xing"), frames, size
    vbri_at = frame_at + 36
    if data[vbri_at : vbri_at + 4] == b"VBRI" and info.encoder_info == "FhG":
        size = int.from_bytes(data[vbri_at + 10 : vbri_at + 14], "big")
        frames = int.from_bytes(data[vbri_at + 14 : vbri_at + 18], "big")
        return "vbri", frames, size
    return "none", -1, -1


def _diagnose(data: bytes, audio_start: int, size: int, key: str | None) -> ProblemError:
    """The most specific reason why no MPEG audio was found in `data` (which starts at `audio_start`)."""
    first = _frame_at(data, 0)
    if first is not None and audio_start + first.length > size:
        return _fail(
            Code.TRUNCATED_MP3,
            f"truncated MP3: the first frame needs {first.length} bytes but only {size - audio_start} remain",
            key,
        )
    if first is not None and audio_start + first.length == size:
        return _fail(Code.TRUNCATED_MP3, "truncated MP3: the file ends after its first frame", key)
    where = f" after the ID3v2 tag (byte {audio_start})" if audio_start else ""
    found = _container(data)
    if found:
        return _fail(Code.NOT_MP3, f"not an MP3: the file starts{where} with {found}", key)
    text = _as_text(data)
    if text is not None:
        return _fail(Code.NOT_MP3, f"not an MP3: the file{where} is text, starting {text!r}", key)
    lone = next((i for i in range(len(data) - 3) if _frame_at(data, i) is not None), -1)
    if lone >= 0:
        return _fail(
            Code.NOT_MP3,
            f"not an MP3: no run of MPEG audio frames in the first {len(data):,} bytes{where}; "
            f"the frame header at byte {audio_start + lone:,} is not followed by another",
            key,
        )
    return _fail(
        Code.NOT_MP3, f"not an MP3: no MPEG audio frame header in the first {len(data):,} bytes{where}", key
    )


def _mpeg_info(src: _Source, audio_start: int, size: int, key: str | None) -> tuple[Any, bytes]:
    """mutagen's view of the stream from the bytes after the tags; reads further only when they hold no frame.

    The MPEGInfo is typed Any: mutagen sets its attributes (frame_offset, version, mode...) dynamically.
    """
    window = min(size - audio_start, max(HEAD_BYTES - audio_start, 8192))
    while True:
        data = src.read_at(audio_start, window)
        found = _container(data)
        if found:
            raise _diagnose(data, audio_start, size, key)
        try:
            return MPEGInfo(io.BytesIO(data), offset=0), data
        except mutagen.MutagenError:
            if window >= min(SYNC_WINDOW, size - audio_start):
                raise _diagnose(data, audio_start, size, key) from None
            window = min(SYNC_WINDOW, size - audio_start)


_HEADER_NAMES = {"xing": "Xing", "info": "Info", "vbri": "VBRI"}


def _mode_name(mode: object, header: str) -> str:
    if mode == BitrateMode.CBR:
        return "cbr"
    if mode == BitrateMode.ABR:
        return "abr"
    if mode == BitrateMode.VBR or header in ("xing", "vbri"):
        return "vbr"  # a Xing or VBRI header is written for variable bitrates
    return "unknown"


class SeekableReader(Protocol):
    """What `measure` needs of a reader: an open binary file, BytesIO or the S3 reader all qualify."""

    def read(self, size: int = -1, /) -> bytes: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...


def measure(reader: SeekableReader, size: int | None = None, *, key: str | None = None) -> AudioFacts:
    """Size, duration, bitrate and layout of the MP3 in `reader`; ProblemError when it is not a usable MP3.

    `size` saves a seek to the end when known (an S3 event carries it).
    """
    if size is None:
        size = reader.seek(0, io.SEEK_END)
    if size == 0:
        raise _fail(Code.EMPTY_FILE, "empty file (0 bytes)", key)
    if size > MAX_AUDIO_BYTES:
        raise _fail(
            Code.TOO_LARGE, f"too large: {size:,} bytes, more than the {MAX_AUDIO_BYTES:,} accepted", key
        )
    src = _Source(reader)
    src.read_at(0, size if size <= READ_BUDGET else HEAD_BYTES)
    audio_start = _skip_id3v2(src, size, key)
    if audio_start == size:
        raise _fail(
            Code.TRUNCATED_MP3,
            f"truncated MP3: the file ends right after its ID3v2 tag ({audio_start:,} bytes), "
            "before any audio",
            key,
        )
    info, data = _mpeg_info(src, audio_start, size, key)
    first = audio_start + info.frame_offset
    header, header_frames, header_bytes = _vbr_header(data, info.frame_offset, info)

    def facts(duration: float, bitrate: int, mode: str, walked: bool) -> AudioFacts:
        return AudioFacts(
            bytes=size,
            duration_seconds=duration,
            header=header,
            bitrate_mode=mode,
            bitrate=bitrate,
            sample_rate=info.sample_rate,
            channels=info.channels,
            audio_start=first,
            bytes_read=src.bytes_read,
            requests=src.requests,
            frames_walked=walked,
        )

    if header != "none" and header_frames >= 0:
        if header_bytes > 0 and size - first < header_bytes:
            raise _fail(
                Code.TRUNCATED_MP3,
                f"truncated MP3: the {_HEADER_NAMES[header]} header announces {header_bytes:,} bytes "
                f"of audio but only {size - first:,} remain",
                key,
            )
        # mutagen counts frames x samples per frame less LAME's encoder delay and padding when the Info/Xing
        # tag records them: the length a decoder outputs (ffmpeg decodes exactly that many samples).
        return facts(info.length, info.bitrate, _mode_name(info.bitrate_mode, header), False)

    frame = _frame_at(data, info.frame_offset)
    assert frame is not None  # mutagen parsed a frame there
    return _headerless(src, size, first, frame, facts, key)


def measure_file(path: Path, key: str | None = None) -> AudioFacts:
    """`measure` of a local file; ProblemError(AUDIO_MISSING) when it cannot be read."""
    try:
        with path.open("rb") as reader:
            return measure(reader, key=key)
    except OSError as problem:
        raise _fail(Code.AUDIO_MISSING, f"cannot read {path}: {problem.strerror}", key) from problem


_Facts = Callable[[float, int, str, bool], AudioFacts]


def _headerless(
    src: _Source, size: int, first: int, frame: _Frame, facts: _Facts, key: str | None
) -> AudioFacts:
    """No usable Xing/Info/VBRI header: prove a constant bitrate from the head and the end, walk otherwise."""
    resident = src.cached_from(first)
    tail = max(first + len(resident), size - TAIL_BYTES)
    if tail < size:
        # one read for the end: ID3v1 and APEv2 footers and the last frames
        src.read_at(tail, size - tail)
    end = _trailing_tags(src, size, first)
    resident = resident[: end - first]
    if first + len(resident) < end and _one_run(resident, frame):
        start = max(first + len(resident), min(tail, end - _LOOKAHEAD))
        audio_end = _cbr_end(src, first, start, end, frame, key)
        if audio_end is not None:
            return facts((audio_end - first) * 8 / frame.bitrate, frame.bitrate, "cbr", False)
    return _walked(_walk(src, first, end, frame.stream, key), frame.sample_rate, facts)


def _one_run(data: bytes, first: _Frame) -> bool:
    """Whether the head `data` is frames of one stream and bitrate back to back (the last one may be cut)."""
    stop, _ = _run_of(data, 0, first)
    cut = _frame_at(data, stop)
    return stop + 4 > len(data) or (
        cut is not None
        and (cut.stream, cut.bitrate) == (first.stream, first.bitrate)
        and stop + cut.length > len(data)
    )


def _cbr_end(src: _Source, first: int, start: int, end: int, frame: _Frame, key: str | None) -> int | None:
    """End of the audio when the frames from `start` to `end` continue the constant bitrate of `frame`.

    None when they do not: no frame of that bitrate on the grid, another bitrate, frames after garbage, or
    an end off the grid. Raises when the last frame of the run is cut short.
    """
    nominal = Fraction(frame.samples * frame.bitrate, 8 * frame.sample_rate)
    slot = 4 if frame.samples == 384 else 1  # Layer I pads by a 4-byte slot
    data = src.read_at(start, end - start)
    grid = first + math.ceil((start + slot - first) / nominal) * nominal
    candidates = sorted(
        range(math.ceil(grid - slot), math.floor(grid + slot) + 1), key=lambda p: abs(p - grid)
    )
    runs = (_run_of(data, candidate - start, frame) for candidate in candidates)
    stop = next((stop for stop, frames in runs if frames), None)
    if stop is None:
        return None
    after = _frame_at(data, stop)
    if after is not None and after.stream == frame.stream:
        if after.bitrate != frame.bitrate:
            return None
        raise _last_frame_cut(after, len(data) - stop, key)
    if _find_frame(data, stop + 1, frame.stream, len(data)) >= 0:
        return None  # more frames after bytes that are none: the walk resyncs over them
    audio_end = start + stop
    off_grid = abs(audio_end - first - round((audio_end - first) / nominal) * nominal)
    return audio_end if off_grid <= slot else None


def _run_of(data: bytes, pos: int, like: _Frame) -> tuple[int, int]:
    """Where the back-to-back whole frames of `like`'s stream and bitrate from `pos` stop, and how many."""
    frames = 0
    while (
        (current := _frame_at(data, pos)) is not None
        and (current.stream, current.bitrate) == (like.stream, like.bitrate)
        and pos + current.length <= len(data)
    ):
        pos += current.length
        frames += 1
    return pos, frames


def _walked(walk: _Walk, sample_rate: int, facts: _Facts) -> AudioFacts:
    duration = walk.samples / sample_rate
    bitrate = round(walk.audio_bytes * 8 / duration) if duration else 0
    return facts(duration, bitrate, "cbr" if len(walk.bitrates) == 1 else "vbr", True)
