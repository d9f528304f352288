"""The `podcast-pipeline` command: check and fix one post against its MP3 on a laptop.

Exit codes are a stable interface: 0 verified (warnings allowed), 1 verification failed, 2 unusable input.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from rich.console import Console
from rich.table import Table
from rich.text import Text

from podcast_pipeline.audio import AudioFacts, measure_file
from podcast_pipeline.config import ConfigError, SiteConfig, load_config
from podcast_pipeline.decision import (
    AudioSource,
    MeasuredAudio,
    MissingAudio,
    ParsedPost,
    UnusableAudio,
    UnusablePost,
    decide,
)
from podcast_pipeline.durations import format_duration
from podcast_pipeline.episode import Episode, State
from podcast_pipeline.posts import Post, parse_post
from podcast_pipeline.problems import Code, Problem, ProblemError, error
from podcast_pipeline.verify import audio_key_of, fix_values
from podcast_pipeline_tools.backfill import site_posts
from podcast_pipeline_tools.backfill_cli import add_backfill_parser
from podcast_pipeline_tools.feed.cli import add_feed_parser
from podcast_pipeline_tools.local.cli import add_invoke_parser, add_local_parser
from podcast_pipeline_tools.local.sample import SAMPLE_CONFIG
from podcast_pipeline_tools.migrate import add_migrate_parser
from podcast_pipeline_tools.rewrite import rewrite_fields

EXIT_VERIFIED = 0
EXIT_FAILED = 1
EXIT_UNUSABLE = 2

Command = Callable[[argparse.Namespace], int]


class Unusable(Exception):
    """Input the command cannot work with; `episode` is what is known about it, for the report."""

    def __init__(self, episode: Episode) -> None:
        super().__init__(episode.problems[-1].message)
        self.episode = episode


@dataclass(frozen=True)
class Inputs:
    config: SiteConfig
    path: Path
    text: str  # the post as written (BOM and line endings included)
    post: Post
    audio: AudioFacts | None
    audio_path: Path | None  # where the audio was looked for


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="podcast-pipeline", description="Verify podcast episode posts against their MP3 files."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "check",
        help="verify a post's mp3_bytes/mp3_duration against its MP3",
        epilog="exit codes: 0 verified, 1 verification failed (the findings say why and how to fix it), "
        "2 unusable: the post, its MP3 or the config cannot be read, or no MP3 was found",
    )
    check.add_argument("post", type=Path, metavar="POST.md")
    check.add_argument(
        "--audio", type=Path, metavar="FILE.mp3", help="default: the config's audio key in the site"
    )
    check.add_argument(
        "--config", type=Path, metavar="FILE", help="site configuration (default: the sample show)"
    )
    check.add_argument("--json", action="store_true", help="print the episode as one JSON object")
    check.set_defaults(func=run_check)

    fix = commands.add_parser(
        "fix",
        help="rewrite a post's mp3_bytes/mp3_duration lines to the measured values",
        epilog="exit codes: 0 fixed, or nothing to fix, 2 unusable: a post, an MP3 or the config cannot be "
        "read (with --all: any of the posts)",
    )
    fix.add_argument("post", type=Path, metavar="POST.md", nargs="?")
    fix.add_argument(
        "--audio", type=Path, metavar="FILE.mp3", help="default: the config's audio key in the site"
    )
    fix.add_argument("--all", type=Path, metavar="SITE_DIR", help="fix every post of a site instead of one")
    fix.add_argument(
        "--audio-dir",
        type=Path,
        metavar="DIR",
        help="with --all: where the MP3s are, at their audio key or by file name",
    )
    fix.add_argument(
        "--config", type=Path, metavar="FILE", help="site configuration (default: the sample show)"
    )
    fix.add_argument(
        "--dry-run", action="store_true", help="print the change as a unified diff, write nothing"
    )
    fix.set_defaults(func=run_fix)
    add_local_parser(commands)
    add_invoke_parser(commands)
    add_backfill_parser(commands)
    add_feed_parser(commands)
    add_migrate_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, or a usage error argparse has already explained
        return exit_.code if isinstance(exit_.code, int) else EXIT_UNUSABLE
    command: Command = args.func
    return command(args)


# -- check -------------------------------------------------------------------------------------------


def run_check(args: argparse.Namespace) -> int:
    try:
        inputs = _load(args.post, args.audio, args.config)
    except Unusable as unusable:
        _report(unusable.episode, as_json=args.json)
        return EXIT_UNUSABLE
    if inputs.audio is not None:
        audio: AudioSource = MeasuredAudio(inputs.audio)
    else:
        looked = f" (nothing at {inputs.audio_path})" if inputs.audio_path else ""
        audio = MissingAudio(f"the post has mp3_* fields: pass --audio FILE.mp3{looked}")
    episode = decide(ParsedPost(inputs.post), audio, inputs.config, None).episode
    if episode.state is State.AWAITING_AUDIO:
        _report(episode, as_json=args.json)
        return EXIT_UNUSABLE
    _report(episode, as_json=args.json, readiness=feed_readiness_of(inputs, episode))
    return EXIT_FAILED if episode.state is State.FAILED else EXIT_VERIFIED


def feed_readiness_of(inputs: Inputs, episode: Episode) -> tuple[Problem, ...]:
    """What Apple or PSP-1 would reject or flag in the config's feeds and in this post's item; artwork in
    the site folder is read too (its header). Findings, never the verdict: the exit code is the post's."""
    # Here, not at the top: the feed modules (lxml, Liquid) would slow every command's start, --help too.
    from podcast_pipeline.feed.readiness import (
        IMAGE_HEAD_BYTES,
        image_key,
        image_readiness,
        item_readiness,
        site_readiness,
    )
    from podcast_pipeline.feed.render import item_description, item_title

    config = inputs.config
    found = list(site_readiness(config))
    _, site_root = post_location(inputs.path, config.posts_prefix)
    for feed in config.feeds.values():
        key = image_key(feed, config)
        if key and site_root is not None and (site_root / key).is_file():
            with (site_root / key).open("rb") as image:
                found += image_readiness(image.read(IMAGE_HEAD_BYTES), key=key)
    found += item_readiness(item_title(episode), item_description(episode), key=inputs.post.key)
    return tuple(found)


# -- fix ---------------------------------------------------------------------------------------------


class _Fixed(StrEnum):
    """What fixing one post came to."""

    REWRITTEN = "rewritten"
    ALREADY_RIGHT = "already right"
    TEXT_ONLY = "text-only (no mp3_* fields)"
    UNUSABLE = "unusable"


def run_fix(args: argparse.Namespace) -> int:
    if args.all is not None:
        return _fix_site(args)
    if args.post is None or args.audio_dir is not None:
        Console(stderr=True).print(
            "error: fix takes POST.md [--audio FILE.mp3], or --all SITE_DIR --audio-dir DIR"
        )
        return EXIT_UNUSABLE
    inputs = _load_for_fix(args.post, args.audio, args.config)
    fixed = _fix(inputs, dry_run=args.dry_run) if inputs else _Fixed.UNUSABLE
    return EXIT_UNUSABLE if fixed is _Fixed.UNUSABLE else EXIT_VERIFIED


def _fix_site(args: argparse.Namespace) -> int:
    """`fix --all SITE_DIR --audio-dir DIR`: every post with mp3_* fields, measured against its MP3 in DIR."""
    err = Console(stderr=True, highlight=False)
    if args.post is not None or args.audio is not None or args.audio_dir is None:
        err.print("error: fix --all SITE_DIR takes --audio-dir DIR, and no POST.md or --audio")
        return EXIT_UNUSABLE
    try:
        config = load_config(args.config, default=SAMPLE_CONFIG)
        posts = site_posts(args.all, config) if args.all.is_dir() else []
    except ConfigError as problem:
        err.print(Text(f"error: {problem}"))
        return EXIT_UNUSABLE
    if not posts:
        err.print(Text(f"error: no posts in {args.all}"))
        return EXIT_UNUSABLE
    outcomes: Counter[_Fixed] = Counter()
    for post in posts:
        inputs = _load_for_fix(post.path, None, args.config, audio_dir=args.audio_dir)
        if inputs is None:
            outcomes[_Fixed.UNUSABLE] += 1
        elif not inputs.post.has_audio:
            outcomes[_Fixed.TEXT_ONLY] += 1
        else:
            outcomes[_fix(inputs, dry_run=args.dry_run)] += 1
    counts = ", ".join(f"{outcomes[fixed]} {fixed.value}" for fixed in _Fixed)
    Console(highlight=False).print(Text(f"{len(posts)} posts: {counts}"))
    return EXIT_UNUSABLE if outcomes[_Fixed.UNUSABLE] else EXIT_VERIFIED


def _load_for_fix(
    post_path: Path, audio_path: Path | None, config_path: Path | None, *, audio_dir: Path | None = None
) -> Inputs | None:
    """The inputs, or None once their problems are printed."""
    try:
        return _load(post_path, audio_path, config_path, audio_dir=audio_dir)
    except Unusable as unusable:
        _print_problems(Console(stderr=True, highlight=False), unusable.episode.problems)
        return None


def _fix(inputs: Inputs, *, dry_run: bool) -> _Fixed:
    """Rewrite (or, dry, print the diff of) the post's mp3_* lines to what its measured audio says."""
    err = Console(stderr=True, highlight=False)
    if inputs.audio is None:
        looked = f" (nothing at {inputs.audio_path})" if inputs.audio_path else ""
        err.print(Text(f"{inputs.path}: pass --audio FILE.mp3 to measure{looked}"))
        return _Fixed.UNUSABLE
    values = fix_values(inputs.audio.bytes, inputs.audio.duration_seconds)
    try:
        fixed = rewrite_fields(inputs.text, values)
    except ProblemError as problem:
        _print_problems(err, (problem.problem,))
        return _Fixed.UNUSABLE
    out = Console(highlight=False)
    if fixed == inputs.text:
        out.print(Text(f"{inputs.path}: already right"))
        return _Fixed.ALREADY_RIGHT
    if dry_run:
        diff = difflib.unified_diff(
            inputs.text.splitlines(keepends=True),
            fixed.splitlines(keepends=True),
            fromfile=str(inputs.path),
            tofile=str(inputs.path),
        )
        sys.stdout.write("".join(diff))
        return _Fixed.REWRITTEN
    try:
        _replace_file(inputs.path, fixed.encode("utf-8"))
    except OSError as problem:
        err.print(Text(f"{inputs.path}: cannot write: {problem.strerror}"))
        return _Fixed.UNUSABLE
    written = ", ".join(f"{name}: {json.dumps(value)}" for name, value in values.items())
    out.print(Text(f"{inputs.path}: wrote {written}"))
    return _Fixed.REWRITTEN


def _replace_file(path: Path, data: bytes) -> None:
    """Write all or nothing: a crash mid-write must not leave half a post."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        Path(temporary).chmod(path.stat().st_mode & 0o7777)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# -- inputs ------------------------------------------------------------------------------------------


def _load(
    post_path: Path, audio_path: Path | None, config_path: Path | None, *, audio_dir: Path | None = None
) -> Inputs:
    """Config, post and measured audio; Unusable with what is known when any of them cannot be used."""
    try:
        config = load_config(config_path, default=SAMPLE_CONFIG)
    except ConfigError as problem:
        raise _unusable_post(post_path, None, error(Code.INVALID_CONFIG, str(problem))) from problem
    key, site_root = post_location(post_path, config.posts_prefix)
    try:
        data = post_path.read_bytes()
    except OSError as problem:
        missing = error(Code.POST_MISSING, f"cannot read {post_path}: {problem.strerror}")
        raise _unusable_post(post_path, config, missing) from problem
    try:
        post = parse_post(key, data, posts_prefix=config.posts_prefix)
    except ProblemError as problem:
        raise _unusable_post(post_path, config, problem.problem) from problem
    if audio_path is None:
        audio_path = _default_audio_path(post, config, site_root, audio_dir)
        if audio_path is not None and not audio_path.is_file():
            return Inputs(config, post_path, data.decode("utf-8"), post, None, audio_path)
    audio = _measure(audio_path, post, config) if audio_path is not None else None
    return Inputs(config, post_path, data.decode("utf-8"), post, audio, audio_path)


def _measure(path: Path, post: Post, config: SiteConfig) -> AudioFacts:
    try:
        return measure_file(path, key=str(path))
    except ProblemError as problem:
        raise _unusable_audio(path, config, post, problem.problem) from problem


def _unusable_post(post_path: Path, config: SiteConfig | None, problem: Problem) -> Unusable:
    """The episode of a post that cannot be used, known by its key (no config: the default layout's)."""
    layout = config or SiteConfig(site={})
    key, _ = post_location(post_path, layout.posts_prefix)
    return Unusable(decide(UnusablePost(key, problem), None, layout, None).episode)


def _unusable_audio(audio_path: Path, config: SiteConfig, post: Post, problem: Problem) -> Unusable:
    """The episode of `post` with an MP3 that cannot be used."""
    audio = UnusableAudio(str(audio_path), problem)
    return Unusable(decide(ParsedPost(post), audio, config, None).episode)


def post_location(path: Path, posts_prefix: str) -> tuple[str, Path | None]:
    """The bucket key a post file would have, and its site root (the folder that holds the posts folder).

    A post outside any posts folder is treated as one directly under it (its category then comes from the
    front-matter).
    """
    prefix = PurePosixPath(posts_prefix).parts
    parts = path.absolute().parts
    for start in range(len(parts) - len(prefix) - 1, 0, -1):
        if prefix and parts[start : start + len(prefix)] == prefix:
            return "/".join(parts[start:]), Path(*parts[:start])
    return posts_prefix + path.name, None


def _default_audio_path(
    post: Post, config: SiteConfig, site_root: Path | None, audio_dir: Path | None
) -> Path | None:
    """The MP3 at its audio key in the site; with `audio_dir`, at its key there, else by its file name."""
    key = audio_key_of(post, config)
    if key is None:
        return None
    if audio_dir is not None:
        at_key = audio_dir / key
        return at_key if at_key.is_file() else audio_dir / PurePosixPath(key).name
    return site_root / key if site_root is not None else None


# -- output ------------------------------------------------------------------------------------------


def _report(episode: Episode, *, as_json: bool, readiness: Sequence[Problem] = ()) -> None:
    if as_json:
        summary = episode.summary() | {"feed_readiness": [problem.to_dict() for problem in readiness]}
        sys.stdout.write(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
        return
    console = Console(highlight=False)
    number = f"  #{episode.number}" if episode.number is not None else ""
    console.print(Text.assemble((episode.id, "bold"), number, "  ", episode.title or "(no title)"))
    if episode.claimed.get("mp3_bytes") is not None or episode.claimed.get("mp3_duration") is not None:
        console.print(_claims_table(episode))
    _print_problems(console, episode.problems)
    if readiness:
        console.print(Text("feed readiness", style="bold"))
        _print_problems(console, readiness)
    verdict = {
        State.PUBLISHED: ("verified", "green"),
        State.FAILED: ("verification failed", "red"),
    }.get(episode.state, (episode.state.value.replace("_", " "), "yellow"))
    console.print(Text(verdict[0], style=f"bold {verdict[1]}"))


def _claims_table(episode: Episode) -> Table:
    table = Table(show_edge=False)
    table.add_column("field")
    table.add_column("claimed")
    table.add_column("measured")
    measured = episode.measured or {}
    seconds = measured.get("duration_seconds")
    duration = f"{format_duration(int(seconds))} ({seconds:.2f} s)" if seconds is not None else "-"
    size = str(measured["bytes"]) if "bytes" in measured else "-"
    for name, truth in (("mp3_bytes", size), ("mp3_duration", duration)):
        table.add_row(name, Text(str(episode.claimed.get(name) or "-")), truth)
    return table


def _print_problems(console: Console, problems: Sequence[Problem]) -> None:
    for problem in problems:
        style = "red" if problem.is_error else "yellow"
        console.print(
            Text.assemble(
                (f"{problem.severity.value:<8}", style), (f"{problem.code.value}  ", "bold"), problem.message
            )
        )
        for name, value in (problem.fix or {}).items():
            console.print(Text(f"    fix  {name}: {json.dumps(value)}", style="green"))
