"""MP3 files built in plain Python for tests: valid MPEG-1 Layer III frames that decode as silence.

Every frame carries all-zero side information (no Huffman data), so decoders output silence and ignore the
rest of the frame as ancillary bytes. Sizes are exact: frame lengths follow the encoder's padding rule, so
`n` frames at 128 kbit/s, 44.1 kHz occupy exactly `floor(n * 417 47/49)` bytes and last `n * 1152 / 44100` s.

Large files are cheap: one period of frames (at most 49 at 44.1 kHz) is built once and repeated.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

SAMPLES_PER_FRAME = 1152
_BITRATES_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_SAMPLE_RATES = (44100, 48000, 32000)
_MAX_ID3V2_BODY = (1 << 28) - 1


def _frame_size(bitrate_kbps: int, sample_rate: int) -> Fraction:
    return Fraction(144_000 * bitrate_kbps, sample_rate)


def frame_header(bitrate_kbps: int, sample_rate: int, channels: int, padding: bool) -> bytes:
    """The 4-byte header of an MPEG-1 Layer III frame without CRC."""
    if bitrate_kbps not in _BITRATES_KBPS[1:]:
        raise ValueError(f"no MPEG-1 Layer III bitrate of {bitrate_kbps} kbit/s")
    if sample_rate not in _SAMPLE_RATES:
        raise ValueError(f"no MPEG-1 sample rate of {sample_rate} Hz")
    if channels not in (1, 2):
        raise ValueError("channels must be 1 or 2")
    mode = 0b11 if channels == 1 else 0b01  # mono or joint stereo (what LAME writes)
    byte2 = (
        (_BITRATES_KBPS.index(bitrate_kbps) << 4) | (_SAMPLE_RATES.index(sample_rate) << 2) | (padding << 1)
    )
    return bytes((0xFF, 0xFB, byte2, mode << 6 | 0x04))


def _side_info_size(channels: int) -> int:
    return 17 if channels == 1 else 32


def _frame(bitrate_kbps: int, sample_rate: int, channels: int, padding: bool, filler: bytes = b"") -> bytes:
    length = int(_frame_size(bitrate_kbps, sample_rate)) + padding
    head = frame_header(bitrate_kbps, sample_rate, channels, padding) + bytes(_side_info_size(channels))
    body = (filler * (length // max(len(filler), 1) + 1))[: length - len(head)] if filler else b""
    return (head + body).ljust(length, b"\x00")


def frames_bytes(n: int, bitrate_kbps: int, sample_rate: int = 44100, channels: int = 2) -> int:
    """Bytes taken by `n` consecutive frames at one bitrate."""
    return math.floor(n * _frame_size(bitrate_kbps, sample_rate))


def cbr_frames(
    n: int, bitrate_kbps: int = 128, sample_rate: int = 44100, channels: int = 2, *, filler: bytes = b""
) -> bytes:
    """`n` frames at one bitrate, padded like an encoder so the average frame size is exact."""
    if n <= 0:
        return b""
    size = _frame_size(bitrate_kbps, sample_rate)
    period = size.denominator
    plain = _frame(bitrate_kbps, sample_rate, channels, False, filler)
    padded = _frame(bitrate_kbps, sample_rate, channels, True, filler)
    # frame i is padded when floor((i+1)*size) - floor(i*size) exceeds the plain length
    pattern = [math.floor((i + 1) * size) - math.floor(i * size) > len(plain) for i in range(period)]
    block = b"".join(padded if pad else plain for pad in pattern)
    whole, rest = divmod(n, period)
    return block * whole + b"".join(padded if pad else plain for pad in pattern[:rest])


def _vbr_header_frame(
    kind: str, frames: int, audio_bytes: int, toc: bytes, sample_rate: int, channels: int
) -> bytes:
    """A silent first frame carrying a Xing/Info or VBRI header; 128 kbit/s leaves room for the TOC."""
    frame = bytearray(_frame(128, sample_rate, channels, False))
    total = audio_bytes + len(frame)
    if kind in ("Xing", "Info"):
        # flags: frames, bytes, TOC and VBR scale present
        payload = kind.encode() + struct.pack(">III", 0x0F, frames, total) + toc + struct.pack(">I", 0)
        offset = 4 + _side_info_size(channels)
    else:
        # version 1, delay, quality, bytes, frames, then an empty seek table (entry size 2)
        payload = b"VBRI" + struct.pack(">HHHIIHHHH", 1, 0, 75, total, frames, 0, 1, 2, 1)
        offset = 36  # VBRI sits 32 bytes after the header whatever the channel mode
    frame[offset : offset + len(payload)] = payload
    return bytes(frame)


def _toc(frame_sizes: Sequence[int]) -> bytes:
    """Xing TOC: for each percent of play time, the byte position in 1/256 of the audio size."""
    total = sum(frame_sizes)
    offsets = [0]
    for size in frame_sizes:
        offsets.append(offsets[-1] + size)
    n = len(frame_sizes)
    return bytes(min(255, offsets[min(n, i * n // 100)] * 256 // max(total, 1)) for i in range(100))


def _segments_audio(
    segments: Sequence[tuple[int, float]], sample_rate: int, channels: int, filler: bytes
) -> tuple[bytes, list[int]]:
    parts: list[bytes] = []
    sizes: list[int] = []
    for kbps, seconds in segments:
        n = round(seconds * sample_rate / SAMPLES_PER_FRAME)
        data = cbr_frames(n, kbps, sample_rate, channels, filler=filler)
        parts.append(data)
        # sizes only feed the TOC, so a per-segment average is precise enough
        if n:
            sizes.extend([len(data) // n] * n)
    return b"".join(parts), sizes


def id3v2_tag(
    picture_bytes: int = 0,
    *,
    title: str = "Episode",
    padding: int = 0,
    footer: bool = False,
    stacked: int = 1,
    seed: int = 1,
) -> bytes:
    """An ID3v2.4 tag with a title and optionally an APIC picture of random bytes (with false frame syncs).

    `stacked` > 1 returns that many tags back to back, as some players write them.
    """

    def syncsafe(value: int) -> bytes:
        return bytes(((value >> shift) & 0x7F) for shift in (21, 14, 7, 0))

    def frame(frame_id: bytes, body: bytes) -> bytes:
        return frame_id + syncsafe(len(body)) + b"\x00\x00" + body

    tags = []
    for index in range(stacked):
        body = frame(b"TIT2", b"\x03" + f"{title} {index}".encode())
        if picture_bytes and index == 0:
            picture = random.Random(seed).randbytes(picture_bytes)
            body += frame(b"APIC", b"\x00image/png\x00\x03\x00" + picture)
        body += bytes(padding if not footer else 0)
        if len(body) > _MAX_ID3V2_BODY:
            raise ValueError("an ID3v2 tag holds at most 256 MB")
        flags = 0x10 if footer else 0
        tag = b"ID3\x04\x00" + bytes((flags,)) + syncsafe(len(body)) + body
        if footer:
            tag += b"3DI\x04\x00" + bytes((flags,)) + syncsafe(len(body))
        tags.append(tag)
    return b"".join(tags)


def padding_id3v2(total_bytes: int) -> bytes:
    """An empty ID3v2 tag of exactly `total_bytes` bytes (header plus zero padding); needs 10 or more."""
    if total_bytes < 10:
        raise ValueError("an ID3v2 tag takes at least 10 bytes")
    return _grow_id3v2(b"ID3\x04\x00\x00" + bytes(4), total_bytes - 10)


def _grow_id3v2(tag: bytes, extra: int) -> bytes:
    """The same tag with `extra` more bytes of padding (its size field rewritten)."""
    if not extra:
        return tag
    if tag[5] & 0x10:
        raise ValueError("cannot pad an ID3v2 tag that has a footer")
    size = sum((b & 0x7F) << shift for b, shift in zip(tag[6:10], (21, 14, 7, 0), strict=True))
    new = size + extra
    if new > _MAX_ID3V2_BODY:
        raise ValueError("an ID3v2 tag holds at most 256 MB")
    header = tag[:6] + bytes(((new >> shift) & 0x7F) for shift in (21, 14, 7, 0))
    return header + tag[10 : 10 + size] + bytes(extra) + tag[10 + size :]


def id3v1_tag(title: str = "Episode") -> bytes:
    """A 128-byte ID3v1.1 tag."""
    return b"TAG" + title.encode()[:30].ljust(30, b"\x00") + bytes(30 + 30 + 4 + 30) + b"\xff"


def apev2_tag(items: dict[str, str] | None = None) -> bytes:
    """An APEv2 tag with header and footer, as foobar2000 or mp3gain leave at the end of a file."""
    items = items or {"Title": "Episode", "MP3GAIN_MINMAX": "080,210"}
    body = b"".join(
        struct.pack("<II", len(value.encode()), 0) + key.encode() + b"\x00" + value.encode()
        for key, value in items.items()
    )
    size = len(body) + 32

    def block(is_header: bool) -> bytes:
        flags = 0x80000000 | (0x20000000 if is_header else 0)
        return b"APETAGEX" + struct.pack("<IIII", 2000, size, len(items), flags) + bytes(8)

    return block(True) + body + block(False)


def _assemble(id3v2: bytes | None, audio: bytes, id3v1: bool, apev2: bool) -> bytes:
    return (id3v2 or b"") + audio + (apev2_tag() if apev2 else b"") + (id3v1_tag() if id3v1 else b"")


def cbr_mp3(
    duration_seconds: float | None = None,
    *,
    exact_bytes: int | None = None,
    bitrate_kbps: int = 128,
    sample_rate: int = 44100,
    channels: int = 2,
    id3v2: bytes | None = None,
    id3v1: bool = False,
    apev2: bool = False,
    info_header: bool = False,
    filler: bytes = b"",
) -> bytes:
    """A constant-bitrate MP3.

    With `duration_seconds` the audio lasts that long to the nearest frame (26 ms at 44.1 kHz). With
    `exact_bytes` the file has exactly that many bytes: the audio fills what the tags leave, and the bytes
    left over (less than one frame) become ID3v2 padding. With both, the audio follows the duration and the
    ID3v2 padding makes up the size; ValueError when that is impossible.
    """
    tags = (0 if id3v2 is None else len(id3v2)) + (128 if id3v1 else 0) + (len(apev2_tag()) if apev2 else 0)
    info_len = int(_frame_size(128, sample_rate)) if info_header else 0
    if duration_seconds is not None:
        n = round(duration_seconds * sample_rate / SAMPLES_PER_FRAME)
    elif exact_bytes is not None:
        room = exact_bytes - tags - info_len
        n = max(0, math.floor(room / _frame_size(bitrate_kbps, sample_rate)))
        if room - frames_bytes(n, bitrate_kbps, sample_rate) not in (0,) and id3v2 is None:
            # what is left must host an ID3v2 tag of 10 or more bytes
            while n and 0 < room - frames_bytes(n, bitrate_kbps, sample_rate) < 10:
                n -= 1
    else:
        raise ValueError("give duration_seconds, exact_bytes or both")
    audio = cbr_frames(n, bitrate_kbps, sample_rate, channels, filler=filler)
    if info_header:
        toc = _toc([len(audio) // max(n, 1)] * n)
        audio = _vbr_header_frame("Info", n, len(audio), toc, sample_rate, channels) + audio
    if exact_bytes is not None:
        extra = exact_bytes - tags - len(audio)
        if extra < 0:
            raise ValueError(
                f"{duration_seconds} s at {bitrate_kbps} kbit/s needs more than {exact_bytes} bytes"
            )
        if id3v2 is not None:
            id3v2 = _grow_id3v2(id3v2, extra)
        elif extra:
            id3v2 = padding_id3v2(extra)
    return _assemble(id3v2, audio, id3v1, apev2)


def matching_mp3(
    mp3_bytes: int,
    duration_seconds: int,
    *,
    bitrate_kbps: int = 128,
    sample_rate: int = 44100,
    channels: int = 2,
    info_header: bool = True,
) -> bytes:
    """A file of exactly `mp3_bytes` bytes whose duration truncates to `duration_seconds`.

    Like the show's real files: CBR (128 kbit/s by default, lower when the size demands it), an Info header
    as LAME writes one, and an ID3v2 tag taking up the bytes the audio does not. The duration is kept at
    least 0.1 s away from whole seconds so any measuring convention truncates to the same value.
    Raises ValueError when no such file exists (a size too small for the duration).
    """
    if mp3_bytes <= 0 or duration_seconds < 0:
        raise ValueError("need a positive size and a non-negative duration")
    frame_seconds = SAMPLES_PER_FRAME / sample_rate
    low = math.ceil((duration_seconds + 0.1) / frame_seconds)
    high = math.floor((duration_seconds + 0.9) / frame_seconds)
    middle = round((duration_seconds + 0.5) / frame_seconds)
    candidates = sorted(range(low, high + 1), key=lambda n: abs(n - middle))
    rates = [kbps for kbps in _BITRATES_KBPS[1:] if kbps <= bitrate_kbps][::-1]
    info_len = int(_frame_size(128, sample_rate)) if info_header else 0
    for kbps in rates:
        for n in candidates:
            rest = mp3_bytes - info_len - frames_bytes(n, kbps, sample_rate)
            if rest == 0 or 10 <= rest <= _MAX_ID3V2_BODY + 10:
                return cbr_mp3(
                    n * frame_seconds,
                    exact_bytes=mp3_bytes,
                    bitrate_kbps=kbps,
                    sample_rate=sample_rate,
                    channels=channels,
                    info_header=info_header,
                )
    raise ValueError(f"no MP3 of {mp3_bytes} bytes can last {duration_seconds} s")


def xing_vbr_mp3(
    segments: Sequence[tuple[int, float]] = ((64, 5.0), (192, 10.0), (96, 5.0)),
    *,
    sample_rate: int = 44100,
    channels: int = 2,
    id3v2: bytes | None = None,
    id3v1: bool = False,
    apev2: bool = False,
    vbri: bool = False,
) -> bytes:
    """A variable-bitrate MP3 from stretches of (kbps, seconds); its first frame holds a Xing/VBRI header."""
    audio, sizes = _segments_audio(segments, sample_rate, channels, b"")
    toc = _toc(sizes)
    head = _vbr_header_frame("VBRI" if vbri else "Xing", len(sizes), len(audio), toc, sample_rate, channels)
    return _assemble(id3v2, head + audio, id3v1, apev2)


def vbri_mp3(segments: Sequence[tuple[int, float]] = ((64, 5.0), (192, 10.0)), **kwargs: object) -> bytes:
    """A variable-bitrate MP3 with a Fraunhofer VBRI header."""
    return xing_vbr_mp3(segments, vbri=True, **kwargs)  # type: ignore[arg-type]


def headerless_vbr_mp3(
    segments: Sequence[tuple[int, float]] = ((32, 10.0), (320, 50.0)),
    *,
    sample_rate: int = 44100,
    channels: int = 2,
    id3v2: bytes | None = None,
    id3v1: bool = False,
    apev2: bool = False,
    noisy: bool = True,
) -> bytes:
    """A variable-bitrate MP3 with no Xing/VBRI header.

    By default a 32 kbit/s stretch comes first, so estimating from the first frame's bitrate is off by far.
    `noisy` fills the ancillary bytes with random data, false frame syncs included.
    """
    filler = random.Random(7).randbytes(1500) if noisy else b""
    audio, _ = _segments_audio(segments, sample_rate, channels, filler)
    return _assemble(id3v2, audio, id3v1, apev2)


def duration_of(segments: Sequence[tuple[int, float]], sample_rate: int = 44100) -> float:
    """The exact duration of audio built from `segments` (whole frames)."""
    frames = sum(round(seconds * sample_rate / SAMPLES_PER_FRAME) for _, seconds in segments)
    return frames * SAMPLES_PER_FRAME / sample_rate


def write_mp3(path: Path | str, data: bytes) -> Path:
    target = Path(path)
    target.write_bytes(data)
    return target
