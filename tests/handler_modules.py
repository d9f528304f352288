"""Handler modules imported fresh, invoked in process with SQS events, their JSON log lines captured."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from podcast_pipeline_tools.local.runner import FUNCTION_OUTPUT

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
FUNCTIONS = ("ingest", "feed", "notify")


def fresh_handler(function: str) -> ModuleType:
    """functions/<function>/handler.py imported as a new module: its caches are its own."""
    name = f"fresh_{function}_handler_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / function / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    try:
        # Powertools binds a service's logger to the stdout of its first import, for the whole process:
        # the local runner's, so that local sessions later in this process still get the functions' lines.
        with redirect_stdout(FUNCTION_OUTPUT):
            spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    return event


@dataclass
class Context:
    """What Powertools and the handlers read of Lambda's context object."""

    function_name: str = "podcast-pipeline-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:podcast-pipeline-test"
    aws_request_id: str = "request-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def sqs_event(bodies: list[str], *, receive_count: int = 1) -> tuple[dict[str, Any], list[str]]:
    """An SQS event source mapping's event of `bodies`, and the message ids it gave them."""
    ids = [str(uuid.uuid4()) for _ in bodies]
    records = [
        {
            "messageId": message_id,
            "receiptHandle": "handle",
            "body": body,
            "attributes": {"ApproximateReceiveCount": str(receive_count)},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:podcast-pipeline-test",
            "awsRegion": "us-east-1",
        }
        for message_id, body in zip(ids, bodies, strict=True)
    ]
    return {"Records": records}, ids


@contextmanager
def log_lines(module: ModuleType) -> Iterator[list[dict[str, Any]]]:
    """The JSON lines the handler's Logger writes inside the block, in the list yielded (filled at exit)."""
    stream = io.StringIO()
    handler = module.logger.registered_handler
    previous = handler.setStream(stream)
    lines: list[dict[str, Any]] = []
    try:
        yield lines
    finally:
        handler.setStream(previous)
        lines.extend(json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{"))
