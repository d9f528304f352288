"""The Lambda-like driver of `local run`: concurrent execution environments, visibility timeouts, redrive.

Handlers here are small files laid out as `functions/<name>/handler.py`, run in their own environment
processes against the emulation over HTTP, exactly as `local run` runs the real ones.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from podcast_pipeline.routes import FEED, INGEST, NOTIFY, ROUTES, Route
from podcast_pipeline_tools.local.emulation import Emulation, patched_environ
from podcast_pipeline_tools.local.environments import EnvironmentSpec, ExecutionEnvironment
from podcast_pipeline_tools.local.mapping import EventSourceMappings, upstream_of
from podcast_pipeline_tools.local.poller import receive_all

# Sleeps a while per batch and notes when it ran, so overlapping invocations show in the log.
SLOW = """
import json, os, time
def handler(event, context):
    started = time.time()
    time.sleep(0.3)
    print(json.dumps({"pid": os.getpid(), "start": started, "end": time.time(),
                      "bodies": [r["body"] for r in event["Records"]]}), flush=True)
"""

# Fails every record whose body starts with "bad" and logs each delivery's receive count.
FAIL_BAD = """
import json
def handler(event, context):
    for r in event["Records"]:
        count = r["attributes"]["ApproximateReceiveCount"]
        print(json.dumps({"body": r["body"], "count": count}), flush=True)
    return {"batchItemFailures": [
        {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"].startswith("bad")
    ]}
"""

# Its process dies on the first delivery of "die" and survives the second.
DIE_ONCE = """
import os
def handler(event, context):
    for r in event["Records"]:
        if r["body"] == "die" and r["attributes"]["ApproximateReceiveCount"] == "1":
            os._exit(3)
"""

HANGS = """
import time
def handler(event, context):
    time.sleep(60)
"""

# A route of its own for these tests: the ingest queue, no batching window, one record per batch.
ONE_AT_A_TIME = Route(
    function=INGEST.function,
    bus=INGEST.bus,
    detail_types=INGEST.detail_types,
    batch_size=1,
    memory_mb=INGEST.memory_mb,
    timeout_seconds=INGEST.timeout_seconds,
)


def _functions(tmp_path: Path, source: str) -> Path:
    folder = tmp_path / "functions" / INGEST.function
    folder.mkdir(parents=True)
    (folder / "handler.py").write_text(source)
    return tmp_path / "functions"


def _spec(tmp_path: Path, emulation: Emulation, source: str) -> EnvironmentSpec:
    environ = {**os.environ, **emulation.handler_env()}
    return EnvironmentSpec(_functions(tmp_path, source), environ, tmp_path / "functions.log")


def _send(emulation: Emulation, *bodies: str) -> None:
    for body in bodies:
        emulation.sqs.send_message(QueueUrl=emulation.queues[INGEST.function].url, MessageBody=body)


def _log(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "functions.log").read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_invocations_of_one_function_run_at_once_in_separate_environments(
    tmp_path: Path, emulation: Emulation
) -> None:
    _send(emulation, *(f"m{i}" for i in range(8)))
    mappings = EventSourceMappings(
        emulation, _spec(tmp_path, emulation, SLOW), routes=[ONE_AT_A_TIME], concurrency=4
    )
    mappings.drain(60)
    runs = _log(tmp_path)
    assert sorted(body for run in runs for body in run["bodies"]) == sorted(f"m{i}" for i in range(8))
    overlapping = any(
        a["start"] < b["end"] and b["start"] < a["end"] and a["pid"] != b["pid"]
        for a in runs
        for b in runs
        if a is not b
    )
    assert overlapping, "no two invocations overlapped"
    stats = mappings.stats[INGEST.function]
    assert stats.concurrent_peak > 1
    assert stats.invocations == 8
    assert 1 < stats.cold_starts <= 4  # one environment per poller, reused while warm
    assert len({run["pid"] for run in runs}) == stats.cold_starts


def test_a_failed_record_comes_back_after_the_scaled_visibility_timeout_then_goes_to_the_dlq(
    tmp_path: Path, emulation: Emulation
) -> None:
    _send(emulation, "good", "bad")
    time_scale = 0.002  # 720 s -> 1.44 s
    mappings = EventSourceMappings(
        emulation,
        _spec(tmp_path, emulation, FAIL_BAD),
        routes=[ONE_AT_A_TIME],
        concurrency=2,
        time_scale=time_scale,
    )
    started = time.monotonic()
    mappings.drain(60)
    deliveries = [line for line in _log(tmp_path) if line["body"] == "bad"]
    assert [d["count"] for d in deliveries] == [str(n) for n in range(1, INGEST.max_receive_count + 1)]
    # Four waits of the scaled timeout between five deliveries: not retried at once.
    assert time.monotonic() - started >= (INGEST.max_receive_count - 1) * 720 * time_scale * 0.9
    dead = receive_all(emulation.sqs, emulation.queues[INGEST.function].dlq_url, delete=False)
    assert [m["Body"] for m in dead] == ["bad"]
    stats = mappings.stats[INGEST.function].to_dict()
    assert stats["records_retried"] == INGEST.max_receive_count - 1
    assert stats["receive_counts"] == {"1": 1, str(INGEST.max_receive_count): 1}
    assert mappings.failure_reasons[dead[0]["MessageId"]] == "ingest reported the record as failed"


def test_a_dead_environment_fails_its_batch_and_a_fresh_one_takes_the_retry(
    tmp_path: Path, emulation: Emulation
) -> None:
    _send(emulation, "die")
    mappings = EventSourceMappings(
        emulation,
        _spec(tmp_path, emulation, DIE_ONCE),
        routes=[ONE_AT_A_TIME],
        concurrency=1,
        time_scale=0.001,
    )
    mappings.drain(60)
    stats = mappings.stats[INGEST.function]
    assert (stats.invocations, stats.errors, stats.cold_starts) == (2, 1, 2)
    assert receive_all(emulation.sqs, emulation.queues[INGEST.function].dlq_url, delete=False) == []


def test_an_invocation_past_its_timeout_is_killed_and_fails(tmp_path: Path, emulation: Emulation) -> None:
    spec = _spec(tmp_path, emulation, HANGS)
    with patched_environ({}):
        environment = ExecutionEnvironment(spec, INGEST.function, "ingest-0", timeout_seconds=0.2)
        started = time.monotonic()
        invocation = environment.invoke({"Records": []})
    assert invocation.error is not None and invocation.error.startswith("TimeoutError: Task timed out")
    assert time.monotonic() - started < 30
    assert not environment.alive


def test_upstream_is_who_emits_what_a_route_consumes() -> None:
    assert upstream_of(INGEST, ROUTES) == ()
    assert upstream_of(FEED, ROUTES) == (INGEST,)
    assert upstream_of(NOTIFY, ROUTES) == (INGEST, FEED)


@pytest.mark.parametrize("bad", [0, -1])
def test_concurrency_below_one_is_refused(emulation: Emulation, tmp_path: Path, bad: int) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        EventSourceMappings(emulation, _spec(tmp_path, emulation, SLOW), concurrency=bad)
