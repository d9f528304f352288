"""The pipeline end to end in the local runner: throughput, and every AWS request the functions make.

    python -m bench.pipeline [--limit N] [--out bench/results/pipeline.json]

Input: the corpus (../shared/corpus/runninginproduction) with full-size generated MP3s (`--limit` of them;
the other podcast posts then wait for their audio), else the built-in sample show. Every botocore client
made in this process is metered through its event hooks. Clients of the emulation's own session (set-up,
uploads, the queue poller, the report) count as the harness; the rest are the functions'. The harness's
SQS calls on the functions' queues are what Lambda's event source mapping would make.

DynamoDB units are the run's report's (`stats.dynamodb`): the emulation meters them as AWS bills them, by
item size (tools/podcast_pipeline_tools/local/capacity.py).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers"), str(ROOT / "tests")]

from bench import run_over_input  # noqa: E402
from podcast_pipeline.routes import ROUTES  # noqa: E402
from podcast_pipeline_tools.local import emulation  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "pipeline.json"
FUNCTIONS = {route.function for route in ROUTES}
# What Lambda's event source mapping calls on a function's queue (the local poller also asks for the depth).
ESM_OPERATIONS = {"ReceiveMessage", "DeleteMessageBatch", "ChangeMessageVisibilityBatch"}


@dataclass
class Meter:
    """Requests and units, by who made them (the functions or the harness)."""

    requests: Counter[str] = field(default_factory=Counter)  # "service.Operation"
    errors: Counter[str] = field(default_factory=Counter)
    s3_get_bytes: int = 0
    put_events_entries: int = 0
    esm: Counter[str] = field(default_factory=Counter)  # the event source mapping's SQS requests
    esm_messages: int = 0
    harness_requests: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(sorted(self.requests.items())),
            "errors": dict(sorted(self.errors.items())),
            "s3_get_bytes": self.s3_get_bytes,
            "put_events_entries": self.put_events_entries,
            "event_source_mapping_sqs": dict(sorted(self.esm.items())),
            "event_source_mapping_messages": self.esm_messages,
            "harness_requests": dict(sorted(self.harness_requests.items())),
        }


def _function_of_queue(params: Mapping[str, Any]) -> str | None:
    """The function reading the queue (None for a dead-letter queue, or the local run's audit queue)."""
    name = str(params.get("QueueUrl", "")).rsplit("/", 1)[-1].rsplit("-", 1)[-1]
    return name if name in FUNCTIONS else None


class Metering:
    """Hooks on every botocore client created while installed."""

    def __init__(self) -> None:
        self.meter = Meter()
        self._harness = emulation._session()._session  # the emulation's botocore session
        self._original = botocore.session.Session.create_client
        # The poller invokes a function right after receiving its batch: the function running now.

    @contextmanager
    def installed(self) -> Iterator[Meter]:
        original, attach = self._original, self._attach

        def create_client(session: botocore.session.Session, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            attach(client, harness=session is self._harness)
            return client

        botocore.session.Session.create_client = create_client  # type: ignore[method-assign, assignment]
        try:
            yield self.meter
        finally:
            botocore.session.Session.create_client = original  # type: ignore[method-assign]

    def _attach(self, client: Any, *, harness: bool) -> None:
        events = client.meta.events
        if harness:
            events.register("before-parameter-build.sqs", self._harness_sqs)
            events.register("after-call.sqs.ReceiveMessage", self._harness_received)
            events.register("after-call", self._harness_call)
            return
        events.register("after-call", self._call)
        events.register("after-call.s3.GetObject", self._s3_get)
        events.register("before-parameter-build.eventbridge.PutEvents", self._put_events)

    def _harness_call(self, model: Any, context: Mapping[str, Any], **_: Any) -> None:
        name = f"{model.service_model.service_id.hyphenize()}.{model.name}"
        self.meter.harness_requests[name] += 1
        if context.get("bench_esm"):
            self.meter.esm[name] += 1

    def _harness_sqs(self, params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        function = _function_of_queue(params)
        if function and model.name in ESM_OPERATIONS:
            context["bench_esm"] = function

    def _harness_received(self, parsed: Mapping[str, Any], context: Mapping[str, Any], **_: Any) -> None:
        if context.get("bench_esm"):
            received = len(parsed.get("Messages", []))
            self.meter.esm_messages += received
            self.meter.esm["sqs.ReceiveMessage (empty)"] += not received

    def _call(self, http_response: Any, model: Any, context: Mapping[str, Any], **_: Any) -> None:
        name = f"{model.service_model.service_id.hyphenize()}.{model.name}"
        self.meter.requests[name] += 1
        if http_response.status_code >= 300:
            self.meter.errors[name] += 1

    def _s3_get(self, parsed: Mapping[str, Any], **_: Any) -> None:
        self.meter.s3_get_bytes += int(parsed.get("ContentLength", 0))

    def _put_events(self, params: Mapping[str, Any], **_: Any) -> None:
        self.meter.put_events_entries += len(params.get("Entries", []))


def build_input(root: Path, limit: int | None) -> tuple[Path | None, Path | None, str]:
    """(input folder, config) for the corpus with generated MP3s, or (None, None) for the sample show."""
    from corpus import CORPUS, CORPUS_CONFIG, write_corpus_site

    from podcast_pipeline.config import load_config

    if not CORPUS.is_dir():
        return None, None, "sample show"
    template = load_config(CORPUS_CONFIG).audio_key_template
    return write_corpus_site(root, template, limit=limit), CORPUS_CONFIG, f"corpus {CORPUS.name}"


def run(limit: int | None) -> dict[str, Any]:
    from podcast_pipeline_tools.local.runner import Driving, run_local

    metering = Metering()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        input_dir, config, source = build_input(Path(tmp) / "site", limit)
        generated = time.perf_counter() - started
        mp3s = sorted(input_dir.rglob("*.mp3")) if input_dir else []
        mp3_bytes = sum(p.stat().st_size for p in mp3s)
        with metering.installed() as meter:
            started = time.perf_counter()
            # Serially, in this process: the metering hooks see every call the handlers make.
            report = run_local(
                input_dir, Path(tmp) / "out", config, progress=False, driving=Driving(serial=True)
            )
            seconds = time.perf_counter() - started
    stats = report["stats"]
    units = stats["dynamodb"]
    episodes = [e for e in report["episodes"] if e["id"]]
    functions = {}
    for name, figures in stats["functions"].items():
        if figures["invocations"]:
            functions[name] = {
                **figures,
                "ms_per_invocation": round(1000 * figures["seconds"] / figures["invocations"], 1),
            }
    return {
        "benchmark": "pipeline",
        "input": source,
        "input_seconds": round(generated, 1),
        "uploads": stats["uploads"],
        "mp3_files": len(mp3s),
        "mp3_bytes": mp3_bytes,
        "episodes": len(episodes),
        "states": stats["states"],
        "seconds": round(seconds, 1),
        "episodes_per_second": round(len(episodes) / seconds, 2),
        "feed_invocations": stats["functions"].get("feed", {}).get("invocations", 0),
        "feed_updates": stats["feed_updates"],
        "dead_letters": len(report["dead_letters"]),
        "functions": functions,
        **meter.to_dict(),
        "dynamodb_units": {"read": units["read_units"], "write": units["write_units"], **units},
    }


def show(result: Mapping[str, Any]) -> None:
    print(
        f"{result['input']}: {result['episodes']} episodes ({result['states']}), {result['uploads']} uploads "
        f"({result['mp3_files']} MP3s, {result['mp3_bytes'] / 1e6:,.0f} MB) in {result['seconds']} s: "
        f"{result['episodes_per_second']} episodes/s"
    )
    print(f"feed invocations {result['feed_invocations']}, feeds written {result['feed_updates']}")
    print(f"{'function':>8} | {'invocations':>11} | {'records':>7} | {'seconds':>8} | {'ms/invocation':>13}")
    for name, f in result["functions"].items():
        print(
            f"{name:>8} | {f['invocations']:>11} | {f['records']:>7} | {f['seconds']:>8} | "
            f"{f['ms_per_invocation']:>13}"
        )
    units = result["dynamodb_units"]
    print(
        f"DynamoDB units: {units['read']:g} read, {units['write']:g} write; "
        f"{units['write_units_per_episode']} write units per episode, "
        f"{units['read_units_per_feed_entry']} read units per episode per feed rebuild"
    )
    print(f"  write units by item: {units['write_units_by_item']}")
    print(f"  read units by item: {units['read_units_by_item']}")
    print(
        f"PutEvents entries {result['put_events_entries']}; S3 GET bytes {result['s3_get_bytes']:,}; "
        f"event source mapping: {result['event_source_mapping_messages']} messages, "
        f"{dict(result['event_source_mapping_sqs'])}"
    )
    print("function requests: " + ", ".join(f"{k} {v}" for k, v in result["requests"].items()))


def main(argv: Sequence[str] | None = None) -> int:
    return run_over_input(
        argv, prog="python -m bench.pipeline", doc=__doc__ or "", run=run, show=show, results=RESULTS
    )


if __name__ == "__main__":
    raise SystemExit(main())
