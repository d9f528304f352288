"""`podcast-pipeline backfill SITE_DIR --bucket NAME`: verify a whole site, then upload what the bucket lacks.

Exit codes: 0 done (or planned, with --dry-run), 1 verification failed (nothing uploaded unless --force) or
an upload failed, 2 unusable input (no site, no posts, bad config, bucket unreachable).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich import filesize
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from podcast_pipeline.config import ConfigError, load_config
from podcast_pipeline.episode import ObjectKind
from podcast_pipeline_tools.backfill import (
    ObjectStore,
    PlannedFile,
    Site,
    SiteError,
    StoreError,
    UploadError,
    plan_uploads,
    scan_site,
    upload_planned,
)
from podcast_pipeline_tools.local.sample import SAMPLE_CONFIG

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_UNUSABLE = 2
DEFAULT_CONCURRENCY = 4


def add_backfill_parser(subparsers: Any) -> None:
    """Register `backfill` on a parser's subparsers (argparse's _SubParsersAction)."""
    backfill = subparsers.add_parser(
        "backfill",
        help="verify a site's posts and MP3s, then upload them to the content bucket",
        epilog="exit codes: 0 uploaded (or, with --dry-run, planned), 1 episodes failed verification "
        "(nothing uploaded unless --force) or an upload failed, 2 the site, config or bucket is unusable",
    )
    backfill.add_argument(
        "site_dir", type=Path, metavar="SITE_DIR", help="the site, laid out like the bucket"
    )
    backfill.add_argument("--bucket", required=True, metavar="NAME", help="the content bucket")
    backfill.add_argument("--endpoint-url", metavar="URL", help="an S3-compatible endpoint instead of AWS")
    backfill.add_argument(
        "--config", type=Path, metavar="FILE", help="site configuration (default: the sample show)"
    )
    backfill.add_argument(
        "--dry-run", action="store_true", help="print what would be uploaded, upload nothing"
    )
    backfill.add_argument(
        "--concurrency",
        type=_positive,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"files in flight at once (default: {DEFAULT_CONCURRENCY})",
    )
    backfill.add_argument("--force", action="store_true", help="upload even when episodes fail verification")
    backfill.set_defaults(func=run_backfill)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return value


def run_backfill(args: argparse.Namespace) -> int:
    from podcast_pipeline_tools.backfill_s3 import S3Bucket

    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    try:
        config = load_config(args.config, default=SAMPLE_CONFIG)
        site = scan_site(args.site_dir, config)
    except (ConfigError, SiteError) as problem:
        err.print(Text(f"error: {problem}"))
        return EXIT_UNUSABLE
    _print_problems(out, site)
    if site.failed and not args.force:
        out.print(
            Text(
                f"{len(site.failed)} of {len(site.checks)} episodes failed verification: nothing uploaded "
                "(fix them, or pass --force to upload anyway)",
                style="bold red",
            )
        )
        return EXIT_FAILED
    files = site.files
    store = S3Bucket.connect(args.bucket, endpoint_url=args.endpoint_url, concurrency=args.concurrency)
    try:
        with _progress(err) as progress:
            checking = progress.add_task("Comparing", total=len(files))
            planned = plan_uploads(
                files, store, workers=args.concurrency, on_planned=lambda _: progress.advance(checking)
            )
            if args.dry_run:
                _print_plan(out, planned)
                out.print(_summary(planned, [], dry_run=True))
                return EXIT_OK
            uploaded = _upload(progress, planned, store, args.concurrency)
    except StoreError as problem:
        err.print(Text(f"error: {problem}"))
        return EXIT_UNUSABLE
    except UploadError as failed:
        out.print(_summary(planned, failed.uploaded, dry_run=False))
        for failure in failed.failures:
            err.print(Text(f"error: {failure.reason}"))
        err.print(Text("the run stopped before uploading posts; run it again to finish", style="red"))
        return EXIT_FAILED
    out.print(_summary(planned, uploaded, dry_run=False))
    return EXIT_OK


def _upload(
    progress: Progress, planned: Sequence[PlannedFile], store: ObjectStore, workers: int
) -> list[PlannedFile]:
    pending = [item for item in planned if item.uploads]
    files_task = progress.add_task("Uploading files", total=len(pending))
    total_bytes = sum(item.file.size for item in pending)
    bytes_task = progress.add_task("Uploading bytes", total=total_bytes, unit="bytes")
    return upload_planned(
        planned,
        store,
        workers=workers,
        on_bytes=lambda sent: progress.advance(bytes_task, sent),
        on_uploaded=lambda _: progress.advance(files_task),
    )


@contextmanager
def _progress(console: Console) -> Iterator[Progress]:
    progress = Progress(
        TextColumn("{task.description:<16}"),
        BarColumn(),
        _AmountColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    with progress:
        yield progress


class _AmountColumn(ProgressColumn):
    """`12/60` for counts, `1.2 GB/3.1 GB` for tasks added with `unit="bytes"`."""

    def render(self, task: Task) -> Text:
        done, total = int(task.completed), int(task.total or 0)
        if task.fields.get("unit") == "bytes":
            return Text(f"{filesize.decimal(done)}/{filesize.decimal(total)}", style="progress.download")
        return Text(f"{done}/{total}", style="progress.download")


def _print_problems(console: Console, site: Site) -> None:
    """Every episode with a finding, errors first; verified episodes without findings are counted only."""
    with_problems = sorted(
        (check for check in site.checks if check.problems),
        key=lambda check: (check.verified, check.episode_id),
    )
    if with_problems:
        table = Table(title="Verification findings", show_edge=False)
        table.add_column("episode")
        table.add_column("state")
        table.add_column("finding")
        for check in with_problems:
            state = Text(check.verdict.value, style="green" if check.verified else "red")
            for index, problem in enumerate(check.problems):
                fix = "".join(f"\n  fix {name}: {value!r}" for name, value in (problem.fix or {}).items())
                table.add_row(
                    check.episode_id if index == 0 else "",
                    state if index == 0 else "",
                    Text(f"{problem.code.value}: {problem.message}{fix}"),
                )
        console.print(table)
    verified = len(site.checks) - len(site.failed)
    console.print(Text(f"{verified} of {len(site.checks)} episodes verified"))


def _print_plan(console: Console, planned: Sequence[PlannedFile]) -> None:
    """One line per upload, in upload order, never wrapped: keys stay whole for grep and copy."""
    for item in planned:
        if item.uploads:
            line = f"would upload  {item.action.value:<7}  {item.file.size:>13,}  {item.file.key}"
            console.print(Text(line), soft_wrap=True)


def _summary(planned: Sequence[PlannedFile], uploaded: Sequence[PlannedFile], *, dry_run: bool) -> Table:
    sent = "would upload" if dry_run else "uploaded"
    table = Table(title="Backfill" + (" (dry run)" if dry_run else ""), show_edge=False)
    table.add_column("files")
    table.add_column("found", justify="right")
    table.add_column(sent, justify="right")
    table.add_column("unchanged", justify="right")
    table.add_column(f"bytes {sent}", justify="right")
    labels = {ObjectKind.AUDIO: "MP3s", ObjectKind.INCLUDE: "includes", ObjectKind.POST: "posts"}
    moved = planned if dry_run else uploaded
    for kind, label in labels.items():
        of_kind = [item for item in planned if item.file.kind is kind]
        moved_of_kind = [item for item in moved if item.file.kind is kind and item.uploads]
        table.add_row(
            label,
            str(len(of_kind)),
            str(len(moved_of_kind)),
            str(sum(1 for item in of_kind if not item.uploads)),
            f"{sum(item.file.size for item in moved_of_kind):,}",
        )
    return table
