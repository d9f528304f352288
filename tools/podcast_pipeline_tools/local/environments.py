"""Lambda execution environments for the local runner: one process each, one invocation at a time.

Lambda runs a function's invocations in execution environments that each handle one event at a time and
are reused while warm, so module state (cached clients, Powertools' logger keys and metric set, the
handlers' caches) belongs to one environment and is never shared by concurrent invocations. Locally each
environment is a process forked from a server that has already imported the heavy modules, so a cold
start costs milliseconds instead of the two seconds a fresh interpreter takes. An invocation that outlives
the function's timeout, or whose process dies, fails its whole batch, as on Lambda, and the environment
is replaced on the next batch.

This module stays free of moto and the emulation: it is what every environment process imports.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import multiprocessing
import multiprocessing.forkserver
import os
import sys
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podcast_pipeline_tools.local import ACCOUNT_ID, REGION
from podcast_pipeline_tools.local.chaos import ChaosSpec, Faults

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import ForkServerContext

Handler = Callable[[dict[str, Any], Any], Any]
# Imported once by the fork server, so an environment's cold start only loads the handler module itself.
PRELOAD = (
    "__main__",  # imported once in the server, so each environment does not import the main script again
    "boto3",
    "botocore.client",
    "aws_lambda_powertools",
    "aws_lambda_powertools.tracing",
    "aws_xray_sdk.core",
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.idempotency",
    "aws_lambda_powertools.utilities.parameters",
    "podcast_pipeline_tools.local.environments",
    "podcast_pipeline.ingest",
    "podcast_pipeline.verify",
    "podcast_pipeline.store",
    "podcast_pipeline.bus",
    "podcast_pipeline.s3_objects",
    "podcast_pipeline.s3_events",
    "podcast_pipeline.feed.service",
    "podcast_pipeline.feed.s3_objects",
    "podcast_pipeline.notify.service",
    "podcast_pipeline.notify.slack",
    "podcast_pipeline.notify.websub",
)
# How long past the function's timeout the runner waits for an answer before it kills the environment.
KILL_GRACE_SECONDS = 5.0
# Powertools warns on every invocation that flushes no metric; Lambda would log it, not show it.
NO_METRICS_WARNING = "No application metrics to publish"


@dataclass(frozen=True)
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    timeout_seconds: float = 60.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        left = self.timeout_seconds - (time.monotonic() - self.started)
        return max(0, int(left * 1000))


def load_handler(path: Path, module_name: str) -> Handler:
    """Import `handler` from a handler file as a fresh module.

    Handlers cache their boto3 clients on first use, so each run loads its own copy under a unique name
    rather than reusing one bound to another run's endpoint.
    """
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load a handler from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses (and pickling) look a class's module up by name
    spec.loader.exec_module(module)
    handler: Handler = module.handler
    return handler


def load_handlers(functions_dir: Path, functions: Iterable[str], run_id: str) -> dict[str, Handler]:
    """`<functions_dir>/<function>/handler.py` for each function, loaded fresh for the run `run_id`."""
    return {
        name: load_handler(functions_dir / name / "handler.py", f"podcast_pipeline_fn_{name}_{run_id}")
        for name in functions
    }


@dataclass(frozen=True)
class Invocation:
    """What one invocation gave back: the handler's response, or the error that ended it."""

    response: Any
    error: str | None = None  # "<type>: <message>" when the handler raised, timed out or its process died
    faults: Mapping[str, int] = field(default_factory=dict)  # API faults injected during the call
    cold_start: bool = False


@dataclass(frozen=True)
class EnvironmentSpec:
    """What every environment of a run is started with."""

    functions_dir: Path
    environ: Mapping[str, str]
    log_path: Path  # the run's functions.log: every environment appends its output to it
    chaos: ChaosSpec | None = None


def _context() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


def warm_up() -> None:
    """Start the fork server now, so its imports overlap other work instead of delaying the first start."""
    _context()
    multiprocessing.forkserver.ensure_running()


class ExecutionEnvironment:
    """One execution environment of `function`: a process that runs its handler, one batch at a time."""

    def __init__(self, spec: EnvironmentSpec, function: str, name: str, timeout_seconds: float) -> None:
        self.function = function
        self._timeout = timeout_seconds
        context = _context()
        self._connection, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, spec, function, name, timeout_seconds), name=name, daemon=True
        )
        self._process.start()
        child.close()
        self._warm = False

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    def invoke(self, event: dict[str, Any]) -> Invocation:
        cold = not self._warm
        self._warm = True
        try:
            self._connection.send(event)
            if not self._connection.poll(self._timeout + KILL_GRACE_SECONDS):
                self.kill()
                return Invocation(None, f"TimeoutError: Task timed out after {self._timeout:.0f} seconds")
            result: Invocation = self._connection.recv()
        except (EOFError, OSError) as err:
            self.kill()
            code = self._process.exitcode
            return Invocation(None, f"RuntimeExited: the environment's process ended ({code}): {err}")
        return Invocation(result.response, result.error, result.faults, cold_start=cold)

    def kill(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join(timeout=5)
        self._connection.close()

    def close(self) -> None:
        """Stop the environment: its process ends when its end of the pipe closes."""
        self._connection.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self.kill()


def _serve(
    connection: Connection, spec: EnvironmentSpec, function: str, name: str, timeout_seconds: float
) -> None:
    """The environment's process: load the handler once (the cold start), then run one event at a time."""
    os.environ.clear()
    os.environ.update(spec.environ)
    log = spec.log_path.open("a", encoding="utf-8", buffering=1)
    sys.stdout = sys.stderr = log  # as on Lambda, everything a function prints is its log
    warnings.filterwarnings("ignore", message=NO_METRICS_WARNING)
    handler = load_handler(spec.functions_dir / function / "handler.py", f"podcast_pipeline_fn_{function}")
    faults = Faults(spec.chaos, stream=name) if spec.chaos else None
    while True:
        try:
            event = connection.recv()
        except EOFError:
            return
        connection.send(_run(handler, event, LambdaContext(function, timeout_seconds), faults))


def _run(
    handler: Handler, event: dict[str, Any], context: LambdaContext, faults: Faults | None
) -> Invocation:
    try:
        with faults.active() if faults else contextlib.nullcontext():
            response = handler(event, context)
        error = None
    except Exception as err:  # Lambda's runtime logs what ended the invocation, then fails it
        response, error = None, f"{type(err).__name__}: {err}"
        print(json.dumps(_runtime_error(err, context)), flush=True)
    injected = dict(faults.counts) if faults else {}
    if faults:
        faults.counts.clear()
    return Invocation(response, error, injected)


def _runtime_error(err: Exception, context: LambdaContext) -> dict[str, Any]:
    """The line Lambda's Python runtime logs for an unhandled exception."""
    return {
        "level": "ERROR",
        "message": "unhandled exception: the invocation failed",
        "errorType": type(err).__name__,
        "errorMessage": str(err),
        "requestId": context.aws_request_id,
        "stackTrace": traceback.format_exception(err),
    }
