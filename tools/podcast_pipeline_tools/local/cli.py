"""`podcast-pipeline local run` and `podcast-pipeline invoke`: argument parsing and the end-of-run summary."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from podcast_pipeline.config import ConfigError
from podcast_pipeline.episode import State
from podcast_pipeline.problems import Problem
from podcast_pipeline.routes import ROUTES
from podcast_pipeline_tools.local.timing import DEFAULT_CONCURRENCY, DEFAULT_TIME_SCALE

EXIT_OK = 0
EXIT_FAILED = 1  # the run did not complete, or the invoked handler reported failed records
EXIT_UNUSABLE = 2
_SUMMARY_STATES = (
    State.PUBLISHED,
    State.FAILED,
    State.AWAITING_AUDIO,
    State.AWAITING_POST,
    State.UNPUBLISHED,
)


def add_local_parser(subparsers: Any) -> None:
    """Register `local run` on a parser's subparsers (argparse's _SubParsersAction)."""
    local = subparsers.add_parser("local", help="run the pipeline on the embedded AWS emulation")
    actions = local.add_subparsers(dest="local_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run",
        help="upload a folder (or the sample show) and process it end to end",
        epilog="exit codes: 0 the run completed (with --strict: and no episode failed, no record was "
        "dead-lettered), 1 the run did not complete, or --strict found a failed episode or a dead letter, "
        "2 unusable input or configuration",
    )
    run.add_argument(
        "--input", type=Path, metavar="DIR", help="folder laid out like the bucket (default: sample)"
    )
    run.add_argument("--out", type=Path, default=Path("out"), metavar="DIR", help="feeds and report.json")
    run.add_argument("--config", type=Path, metavar="FILE", help="site configuration")
    run.add_argument("--json", action="store_true", help="print report.json to stdout")
    run.add_argument("--slack-webhook-url", metavar="URL", help="a real webhook instead of the local sink")
    run.add_argument(
        "--chaos",
        metavar="SPEC",
        help="inject faults, e.g. duplicates=3,shuffle,put-events-failure=0.3,ddb-throttle=0.2,"
        "s3-errors=0.1,seed=7",
    )
    run.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help="concurrent invocations per function, at most; a route may set fewer (default: %(default)s, "
        "Lambda's initial scaling)",
    )
    run.add_argument(
        "--time-scale",
        type=_time_scale,
        default=DEFAULT_TIME_SCALE,
        metavar="F",
        help="local seconds per second of SQS visibility timeout, so retries come back sooner "
        "(default: %(default)s)",
    )
    run.add_argument(
        "--serial",
        action="store_true",
        help="one invocation at a time in this process, failures retried at once (quick, deterministic)",
    )
    run.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when an episode failed verification or a record was dead-lettered (for CI)",
    )
    run.set_defaults(func=run_command)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive whole number")
    return value


def _time_scale(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{value} is not in (0, 1]")
    return value


def add_invoke_parser(subparsers: Any) -> None:
    """Register `invoke FUNCTION --event FILE` on a parser's subparsers."""
    invoke_parser = subparsers.add_parser(
        "invoke",
        help="run one handler on one event on a fresh emulation",
        epilog="exit codes: 0 the handler succeeded, 1 it reported failed records, 2 the event file or the "
        "config is unusable",
    )
    invoke_parser.add_argument("function", choices=[route.function for route in ROUTES])
    invoke_parser.add_argument("--event", type=Path, required=True, metavar="FILE", help="event JSON")
    invoke_parser.add_argument("--config", type=Path, metavar="FILE", help="site configuration")
    invoke_parser.set_defaults(func=invoke_command)


def _error(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)


def _no_emulation(missing: ModuleNotFoundError) -> int:
    _error(f"the embedded AWS emulation needs {missing.name}: pip install 'podcast-pipeline[cli]'")
    return EXIT_UNUSABLE


def run_command(args: argparse.Namespace) -> int:
    # The emulation (moto) loads only for the commands that use it: `check` stays quick, and works
    # without the `cli` extra.
    try:
        from podcast_pipeline.feed.readiness import site_readiness
        from podcast_pipeline_tools.local.chaos import parse_spec
        from podcast_pipeline_tools.local.poller import DrainTimeout
        from podcast_pipeline_tools.local.report import REPORT_NAME
        from podcast_pipeline_tools.local.runner import Driving, InputError, resolve_config, run_local
    except ModuleNotFoundError as missing:
        return _no_emulation(missing)

    try:
        chaos = parse_spec(args.chaos) if args.chaos is not None else None
    except ValueError as err:
        _error(str(err))
        return EXIT_UNUSABLE
    try:
        report = run_local(
            args.input,
            args.out,
            args.config,
            slack_webhook_url=args.slack_webhook_url,
            chaos=chaos,
            driving=Driving(args.serial, args.concurrency, args.time_scale),
        )
    except (ConfigError, InputError) as err:
        _error(str(err))
        return EXIT_UNUSABLE
    except DrainTimeout as err:
        _error(str(err))
        return EXIT_FAILED
    if args.json:
        sys.stdout.write(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    _, config = resolve_config(args.config)  # the file the run read, found by the run's own rule
    readiness = site_readiness(config)
    print_summary(report, args.out / REPORT_NAME, Console(stderr=args.json), readiness=readiness)
    failed = [e["id"] for e in report["episodes"] if e["state"] == State.FAILED.value]
    if args.strict and (failed or report["dead_letters"]):
        _error(
            f"--strict: {len(failed)} episode(s) failed ({', '.join(map(str, failed[:5]))}"
            f"{', ...' if len(failed) > 5 else ''}), {len(report['dead_letters'])} record(s) dead-lettered"
        )
        return EXIT_FAILED
    return EXIT_OK


def invoke_command(args: argparse.Namespace) -> int:
    try:
        from podcast_pipeline_tools.local.runner import invoke
    except ModuleNotFoundError as missing:
        return _no_emulation(missing)

    try:
        event = json.loads(args.event.read_text(encoding="utf-8"))
        response = invoke(args.function, event, args.config)
    except OSError as err:
        _error(f"cannot read {args.event}: {err.strerror}")
        return EXIT_UNUSABLE
    except ValueError as err:  # bad JSON, ConfigError, InputError
        _error(str(err))
        return EXIT_UNUSABLE
    sys.stdout.write(json.dumps(response, indent=2, default=str) + "\n")
    failed = isinstance(response, Mapping) and bool(
        response.get("batchItemFailures") or "errorType" in response
    )
    return EXIT_FAILED if failed else EXIT_OK


def print_summary(
    report: Mapping[str, Any], report_path: Path, console: Console, *, readiness: Sequence[Problem] = ()
) -> None:
    counts = Counter((entry["category"] or "(audio only)", entry["state"]) for entry in report["episodes"])
    episodes = Table(title="Episodes", title_justify="left")
    episodes.add_column("category")
    for state in _SUMMARY_STATES:
        episodes.add_column(state.value.replace("_", " "), justify="right")
    for category in sorted({category for category, _ in counts}):
        episodes.add_row(category, *(str(counts[category, state.value]) for state in _SUMMARY_STATES))
    console.print(episodes)

    from podcast_pipeline_tools.local.report import problems_of

    found = problems_of(report["episodes"])
    if found:
        problems = Table(title="Problems", title_justify="left")
        for column in ("episode", "code", "message", "fix"):
            problems.add_column(column, overflow="fold")
        for where, problem in found:
            fix = "\n".join(f'{name}: "{value}"' for name, value in (problem.get("fix") or {}).items())
            style = "red" if problem["severity"] == "error" else "yellow"
            problems.add_row(where, f"[{style}]{problem['code']}[/]", problem["message"], fix)
        console.print(problems)

    if readiness:
        feed_findings = Table(title="Feed readiness", title_justify="left")
        for column in ("feed", "code", "message"):
            feed_findings.add_column(column, overflow="fold")
        for finding in readiness:
            style = "red" if finding.is_error else "yellow"
            feed_findings.add_row(finding.key or "", f"[{style}]{finding.code.value}[/]", finding.message)
        console.print(feed_findings)
    for category, path in report["feeds"].items():
        console.print(f"feed [bold]{category}[/]: {path}", highlight=False)
    if report["dead_letters"]:
        console.print(f"[bold red]{len(report['dead_letters'])} message(s) in dead-letter queues[/]")
    console.print(f"report: {report_path}", highlight=False)
