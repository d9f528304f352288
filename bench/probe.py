"""Cost and accuracy of measuring MP3s in S3: ours vs Powertools' S3Object + mutagen vs a whole download.

    python -m bench.probe [--sizes 1,60,110] [--kinds cbr,info,...] [--out bench/results/probe.json]

Runs against moto's server on a loopback port. Requests are counted on the HTTP wire (botocore's
before-send event); bytes are what S3 was asked to send (the Content-Length of each GET).
"""

from __future__ import annotations

import argparse
import io
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers"), str(ROOT / "tests")]

from mp3_fixtures import cbr_mp3, headerless_vbr_mp3, id3v2_tag, xing_vbr_mp3  # noqa: E402
from mutagen.mp3 import MPEGInfo  # noqa: E402

from bench import write_results  # noqa: E402
from podcast_pipeline.audio.s3_reader import probe_s3_object  # noqa: E402

BUCKET = "bench"
MB = 1_000_000
KINDS = ("cbr", "info", "xing-vbr", "headerless-vbr", "id3-2mb-picture")


def make(kind: str, size: int) -> bytes:
    """A file of about `size` bytes of the given kind."""
    if kind == "cbr":
        return cbr_mp3(exact_bytes=size)
    if kind == "info":
        return cbr_mp3(exact_bytes=size, info_header=True)
    if kind == "id3-2mb-picture":
        return cbr_mp3(exact_bytes=size + 2 * MB, id3v2=id3v2_tag(picture_bytes=2 * MB), info_header=True)
    # 64 and 256 kbit/s halves: 8 and 32 kB a second
    seconds = size / 40_000
    segments = ((64, seconds), (256, seconds))
    return (
        xing_vbr_mp3(segments)
        if kind == "xing-vbr"
        else headerless_vbr_mp3(((32, 20.0), (256, size / 32_000)))
    )


@dataclass
class Run:
    kind: str
    size: int
    method: str
    requests: int
    bytes: int
    seconds: float
    duration: float


class WireCounter:
    def __init__(self, client: Any) -> None:
        self.requests = 0
        self.bytes = 0
        client.meta.events.register("before-send.s3", self._sent)
        client.meta.events.register("after-call.s3.GetObject", self._got)

    def _sent(self, **_: Any) -> None:
        self.requests += 1

    def _got(self, parsed: dict[str, Any], **_: Any) -> None:
        self.bytes += int(parsed.get("ContentLength", 0))

    def reset(self) -> None:
        self.requests = self.bytes = 0


def ours(client: Any, key: str, size: int) -> float:
    return probe_s3_object(client, BUCKET, key, size=size).duration_seconds


def powertools(client: Any, key: str, size: int) -> float:
    from aws_lambda_powertools.utilities.streaming import S3Object

    length: float = MPEGInfo(S3Object(BUCKET, key, boto3_client=client)).length
    return length


def download(client: Any, key: str, size: int) -> float:
    body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    length: float = MPEGInfo(io.BytesIO(body)).length
    return length


METHODS: dict[str, Callable[[Any, str, int], float]] = {
    "ours": ours,
    "powertools+mutagen": powertools,
    "download+mutagen": download,
}


def ffmpeg_seconds(path: Path) -> float | None:
    """Duration of the audio stream's packets as ffmpeg demuxes them all (no Xing/VBRI shortcut).

    Not ffprobe's format duration: for a header-less file it is estimated from the bitrate, as mutagen's is.
    """
    if shutil.which("ffmpeg") is None:
        return None
    run = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostdin",
            "-i",
            str(path),
            "-map",
            "0:a",
            "-c",
            "copy",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.findall(r"time=(\d+):(\d+):([\d.]+)", run.stderr)
    if not found:
        return None
    hours, minutes, seconds = found[-1]
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def bench(
    sizes: Sequence[int], kinds: Sequence[str]
) -> tuple[list[Run], dict[tuple[str, int], float | None]]:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{host}:{port}",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    client.create_bucket(Bucket=BUCKET)
    counter = WireCounter(client)
    runs: list[Run] = []
    reference: dict[tuple[str, int], float | None] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for size in sizes:
                for kind in kinds:
                    data = make(kind, size)
                    key = f"{kind}-{size}.mp3"
                    client.put_object(Bucket=BUCKET, Key=key, Body=data)
                    local = Path(tmp) / key
                    local.write_bytes(data)
                    reference[(kind, len(data))] = ffmpeg_seconds(local)
                    local.unlink()
                    repeats = 3 if size <= 10 * MB else 1
                    for method, measure in METHODS.items():
                        best: Run | None = None
                        for _ in range(repeats):
                            counter.reset()
                            started = time.perf_counter()
                            duration = measure(client, key, len(data))
                            elapsed = time.perf_counter() - started
                            run = Run(
                                kind, len(data), method, counter.requests, counter.bytes, elapsed, duration
                            )
                            best = run if best is None or run.seconds < best.seconds else best
                        assert best is not None
                        runs.append(best)
                    client.delete_object(Bucket=BUCKET, Key=key)
    finally:
        server.stop()
    return runs, reference


def report(runs: list[Run], reference: dict[tuple[str, int], float | None]) -> list[dict[str, Any]]:
    baseline = {(r.kind, r.size): r for r in runs if r.method == "download+mutagen"}
    rows = []
    for r in runs:
        base = baseline[(r.kind, r.size)]
        truth = reference.get((r.kind, r.size))
        rows.append(
            {
                **asdict(r),
                "bytes_vs_download": r.bytes / base.bytes if base.bytes else None,
                "time_vs_download": r.seconds / base.seconds if base.seconds else None,
                "ffmpeg_duration": truth,
                "error_seconds": None if truth is None else r.duration - truth,
            }
        )
    return rows


def show(rows: list[dict[str, Any]]) -> None:
    headers = [
        "kind",
        "MB",
        "method",
        "requests",
        "bytes",
        "x download",
        "ms",
        "x time",
        "duration",
        "error s",
    ]
    lines = [
        [
            row["kind"],
            f"{row['size'] / MB:.0f}",
            row["method"],
            str(row["requests"]),
            f"{row['bytes']:,}",
            f"{row['bytes_vs_download']:.5f}",
            f"{row['seconds'] * 1000:.1f}",
            f"{row['time_vs_download']:.3f}",
            f"{row['duration']:.3f}",
            "n/a" if row["error_seconds"] is None else f"{row['error_seconds']:+.3f}",
        ]
        for row in rows
    ]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print("  ".join(headers))
        for line in lines:
            print("  ".join(line))
        return
    table = Table(title="Measuring MP3s in S3 (moto on loopback)")
    for header in headers:
        table.add_column(header, justify="left" if header in ("kind", "method") else "right")
    for line in lines:
        table.add_row(*line)
    Console(width=160).print(table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.probe", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,60,110", help="file sizes in MB, comma-separated")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "probe.json")
    args = parser.parse_args(argv)
    sizes = [int(float(s) * MB) for s in args.sizes.split(",")]
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds: {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    runs, reference = bench(sizes, kinds)
    rows = report(runs, reference)
    show(rows)
    write_results(args.out, {"runs": rows, "seconds": time.perf_counter() - started})
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
