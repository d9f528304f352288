"""`local run`: the whole pipeline on one machine, on the embedded emulation, with the real handlers.

Starts moto's server and a loopback Slack sink, creates the stack's resources, uploads an input folder
(laid out like the bucket) or the built-in sample show, drives the handlers from their queues until
everything has settled, and writes the feeds and report.json.
"""

from __future__ import annotations

import copy
import io
import json
import os
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from botocore.exceptions import ClientError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from podcast_pipeline.config import CONFIG_ENV, SiteConfig, load_config
from podcast_pipeline.routes import INGEST, ROUTES
from podcast_pipeline.settings import ENV_SLACK_WEBHOOK_URL
from podcast_pipeline_tools.local.chaos import ChaosSpec, Deliveries, Faults, chaos_report
from podcast_pipeline_tools.local.corrections import correct_body
from podcast_pipeline_tools.local.emulation import Emulation, emulation, patched_environ, table_capacity
from podcast_pipeline_tools.local.environments import (
    NO_METRICS_WARNING,
    EnvironmentSpec,
    Handler,
    LambdaContext,
    load_handlers,
    warm_up,
)
from podcast_pipeline_tools.local.mapping import EventSourceMappings
from podcast_pipeline_tools.local.metrics import aggregate_emf
from podcast_pipeline_tools.local.poller import DEFAULT_TIMEOUT_SECONDS, ChaosPoller, Poller, receive_all
from podcast_pipeline_tools.local.report import (
    build_report,
    collect_episodes,
    dead_letters,
    event_entry,
    write_report,
)
from podcast_pipeline_tools.local.sample import SAMPLE_CONFIG, write_sample_show
from podcast_pipeline_tools.local.timing import DEFAULT_CONCURRENCY, DEFAULT_TIME_SCALE
from podcast_pipeline_tools.sink import WebhookSink

FUNCTION_LOG = "functions.log"
# Names the project checkout whose functions/ the runner drives, when the tools are not run from it.
PROJECT_ROOT_ENV = "PODCAST_PIPELINE_PROJECT_ROOT"


class InputError(ValueError):
    """The input cannot be used (a missing folder, an unreadable event); the message says why."""


def _has_functions(root: Path) -> bool:
    return all((root / "functions" / route.function / "handler.py").is_file() for route in ROUTES)


def functions_dir(project_root: Path | None = None) -> Path:
    """The `functions/` folder of the handlers the runner drives: of `project_root`, else of
    $PODCAST_PIPELINE_PROJECT_ROOT, else of the checkout the tools package sits in.

    The handlers are not part of any package, so an installed (non-editable) copy of the tools has none
    to find: it needs the project root named.
    """
    named = project_root or (Path(os.environ[PROJECT_ROOT_ENV]) if os.environ.get(PROJECT_ROOT_ENV) else None)
    if named is not None:
        if not _has_functions(named):
            raise InputError(f"{named} is not a podcast-pipeline checkout: no functions/<name>/handler.py")
        return (named / "functions").resolve()
    package = Path(__file__).resolve().parent.parent
    for root in package.parents:
        if _has_functions(root) and (root / "pyproject.toml").is_file():
            return root / "functions"
    raise InputError(
        f"no functions/ folder found above {package}: run from a podcast-pipeline checkout, or set "
        f"{PROJECT_ROOT_ENV} to one"
    )


class _FunctionOutput(io.TextIOBase):
    """The handlers' stdout (Powertools logs, EMF metrics): the current run's log file, else stderr.

    Powertools binds a service's logger to the stream current when that logger is first configured and
    reuses it for every later Logger of the service, so this one object must stay their stdout across runs.
    """

    def __init__(self) -> None:
        self.target: TextIO | None = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return (self.target or sys.stderr).write(text)

    def flush(self) -> None:
        (self.target or sys.stderr).flush()


FUNCTION_OUTPUT = _FunctionOutput()


@contextmanager
def _function_output(target: TextIO) -> Iterator[None]:
    FUNCTION_OUTPUT.target = target
    try:
        with redirect_stdout(FUNCTION_OUTPUT):
            yield
    finally:
        FUNCTION_OUTPUT.target = None


@dataclass(frozen=True)
class LocalSession:
    emulation: Emulation
    config: SiteConfig
    handlers: Mapping[str, Handler]
    sink: WebhookSink | None  # the stand-in Slack webhook, unless a real URL was given
    functions_dir: Path  # where the handlers were loaded from


def resolve_config(config_path: Path | None) -> tuple[Path, SiteConfig]:
    """The config file the handlers will read, validated now (ConfigError names what is wrong)."""
    path = Path(config_path or os.environ.get(CONFIG_ENV) or SAMPLE_CONFIG).resolve()
    return path, load_config(path)


@contextmanager
def local_session(
    config_path: Path | None, *, slack_webhook_url: str | None = None, output: TextIO | None = None
) -> Iterator[LocalSession]:
    """A fresh emulation with the handlers loaded against it; their stdout goes to `output` (or stderr)."""
    path, config = resolve_config(config_path)
    functions = functions_dir()
    with ExitStack() as stack:
        emulated = stack.enter_context(emulation())
        sink = None if slack_webhook_url else stack.enter_context(WebhookSink())
        env = {
            **emulated.handler_env(),
            CONFIG_ENV: str(path),
            ENV_SLACK_WEBHOOK_URL: sink.url if sink else str(slack_webhook_url),
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
        }
        stack.enter_context(patched_environ(env))
        stack.enter_context(_function_output(output or sys.stderr))
        stack.enter_context(warnings.catch_warnings())
        # Powertools warns on every invocation that flushes no metric; Lambda would log it, not show it.
        warnings.filterwarnings("ignore", message=NO_METRICS_WARNING)
        handlers = load_handlers(functions, [route.function for route in ROUTES], uuid.uuid4().hex[:12])
        yield LocalSession(emulated, config, handlers, sink, functions)


def input_files(root: Path) -> list[Path]:
    """Every file under `root` as it would be synced to the bucket; dot-files and dot-folders stay out."""
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(root).parts)
    )


def _upload(
    emulated: Emulation,
    root: Path,
    files: list[Path] | None = None,
    on_upload: Callable[[], None] | None = None,
) -> None:
    """Upload `files` (default: every input file under `root`) at their paths relative to `root`."""
    for path in input_files(root) if files is None else files:
        # upload_file switches to a multipart upload above 8 MB, as `aws s3 sync` does.
        emulated.s3.upload_file(str(path), emulated.bucket, path.relative_to(root).as_posix())
        if on_upload is not None:
            on_upload()


def _download_feeds(session: LocalSession, out_dir: Path) -> dict[str, str]:
    written: dict[str, str] = {}
    s3, bucket = session.emulation.s3, session.emulation.bucket
    for category, feed in session.config.feeds.items():
        try:
            body = s3.get_object(Bucket=bucket, Key=feed.key)["Body"].read()
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                continue  # nothing published in this category
            raise
        target = out_dir / feed.key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        written[category] = str(target)
    return written


class _Display:
    """A progress bar on stderr: uploads, then batches per function. Invisible when disabled."""

    def __init__(self, enabled: bool) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not enabled,
            # Handler output is redirected to a log file; rich must not capture stdout (--json uses it).
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._counts = {route.function: 0 for route in ROUTES}
        self._uploads = self._progress.add_task("Uploading", total=None, visible=False)
        self._processing = self._progress.add_task("Processing", total=None, visible=False)

    def __enter__(self) -> _Display:
        self._progress.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._progress.stop()

    def uploads(self, total: int) -> None:
        self._progress.update(self._uploads, total=total, visible=True)

    def uploaded(self) -> None:
        self._progress.advance(self._uploads)

    def processed(self, function: str, messages: int) -> None:
        self._counts[function] += messages
        counts = " · ".join(f"{name} {count}" for name, count in self._counts.items())
        self._progress.update(self._processing, visible=True, description=f"Processing ({counts})")

    def done(self) -> None:
        self._progress.update(self._processing, visible=True, total=1, completed=1)


@dataclass(frozen=True)
class Driving:
    """How `local run` drives the handlers: like Lambda (the default), or one batch at a time in-process."""

    serial: bool = False
    concurrency: int = DEFAULT_CONCURRENCY  # pollers per function, at most (a route may set fewer)
    time_scale: float = DEFAULT_TIME_SCALE  # local seconds per second of visibility timeout on AWS


def run_local(
    input_dir: Path | None,
    out_dir: Path,
    config_path: Path | None,
    *,
    slack_webhook_url: str | None = None,
    progress: bool = True,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    chaos: ChaosSpec | None = None,
    driving: Driving = Driving(),
) -> dict[str, Any]:
    """Run the pipeline over `input_dir` (None: the sample show); writes and returns out_dir/report.json.

    With `chaos`, the handlers run under its faults and the report says what was injected.
    """
    started = time.monotonic()
    if input_dir is not None and not input_dir.is_dir():
        raise InputError(f"input folder {input_dir} does not exist or is not a folder")
    if input_dir is None and config_path is None:
        config_path = SAMPLE_CONFIG
    resolve_config(config_path)  # fail on a bad config before starting anything
    out_dir.mkdir(parents=True, exist_ok=True)
    if not driving.serial:
        warm_up()
    with ExitStack() as stack:
        if input_dir is None:
            input_dir = write_sample_show(Path(stack.enter_context(tempfile.TemporaryDirectory())))
        (out_dir / FUNCTION_LOG).write_text("", encoding="utf-8")
        # Appended to, as every execution environment's process appends its own lines.
        log = stack.enter_context((out_dir / FUNCTION_LOG).open("a", encoding="utf-8"))
        session = stack.enter_context(
            local_session(config_path, slack_webhook_url=slack_webhook_url, output=log)
        )
        display = stack.enter_context(_Display(progress))
        files = input_files(input_dir)
        display.uploads(len(files))
        _upload(session.emulation, input_dir, files, display.uploaded)
        corrections = {INGEST.function: correct_body}
        driver: Poller | EventSourceMappings
        faults = Faults(chaos) if chaos is not None else None
        if driving.serial:
            driver = (
                Poller(session.emulation, session.handlers, corrections=corrections)
                if faults is None
                else ChaosPoller(session.emulation, session.handlers, faults, corrections=corrections)
            )
        else:
            driver = EventSourceMappings(
                session.emulation,
                EnvironmentSpec(session.functions_dir, dict(os.environ), out_dir / FUNCTION_LOG, chaos),
                corrections=corrections,
                concurrency=driving.concurrency,
                time_scale=driving.time_scale,
                deliveries=Deliveries(faults) if faults is not None else None,
                seed=chaos.seed if chaos is not None else None,
            )
        driver.drain(timeout, on_batch=display.processed)
        display.done()
        log.flush()
        # Read back as CloudWatch Logs would: the EMF documents among the functions' output are metrics.
        with (out_dir / FUNCTION_LOG).open(encoding="utf-8") as lines:
            metrics = aggregate_emf(lines)
        # Taken before the report's own reads of the table.
        capacity = copy.deepcopy(table_capacity(session.emulation))
        report = build_report(
            episodes=collect_episodes(session.emulation),
            events=[
                event_entry(m)
                for m in receive_all(session.emulation.sqs, session.emulation.audit_queue_url, delete=True)
            ],
            feeds=_download_feeds(session, out_dir),
            notifications=session.sink.records() if session.sink else [],
            dead_letters=dead_letters(session.emulation, driver),
            driver=driver,
            uploads=len(files),
            duration_seconds=time.monotonic() - started,
            metrics=metrics,
            capacity=capacity,
        )
        if faults is not None:
            if isinstance(driver, EventSourceMappings):
                faults.counts.update(driver.faults)
            report["chaos"] = chaos_report(faults)
    write_report(report, out_dir)
    return report


def _lambda_error(err: Exception) -> dict[str, str]:
    return {"errorType": type(err).__name__, "errorMessage": str(err)}


def invoke(function: str, event: Mapping[str, Any], config_path: Path | None = None) -> Any:
    """Run one handler on one event against a fresh emulation; returns the handler's response.

    With the sample show's configuration (no `config_path`), the bucket first holds the sample show, as
    the samples in events/ describe it (their object versions are not these uploads': a version that is
    gone is an outcome the handler logs). An EventBridge event travels as SQS would carry it: sent to the
    function's queue and received in a batch of one. An event that already is an SQS batch (`Records`)
    goes to the handler as it is. When the handler raises, the result is Lambda's error shape,
    `{"errorType": ..., "errorMessage": ...}`.
    """
    route = next((r for r in ROUTES if r.function == function), None)
    if route is None:
        raise InputError(f"unknown function {function!r} (one of: {', '.join(r.function for r in ROUTES)})")
    with local_session(config_path) as session, tempfile.TemporaryDirectory() as scratch:
        if config_path is None:
            _upload(session.emulation, write_sample_show(Path(scratch)))
            for queues in session.emulation.queues.values():  # only the given event is delivered
                receive_all(session.emulation.sqs, queues.url, delete=True)
        handler = session.handlers[function]
        if "Records" in event:
            try:
                return handler(dict(event), LambdaContext(function))
            except Exception as err:
                return _lambda_error(err)
        queue_url = session.emulation.queues[function].url
        session.emulation.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(event))
        batch = Poller(session.emulation, {function: handler}).poll(route)
        if batch is None:
            raise InputError(f"the {function} queue did not deliver the event")
        return (
            batch.response
            if batch.error is None
            else {"errorType": "HandlerError", "errorMessage": batch.error}
        )
