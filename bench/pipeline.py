"""The pipeline end to end in the local runner: throughput, and every AWS request the functions make.

    python -m bench.pipeline [--limit N] [--out bench/results/pipeline.json]

Input: the corpus (../shared/corpus/runninginproduction) with full-size generated MP3s (`--limit` of them;
the other podcast posts then wait for their audio), else the built-in sample show. Every botocore client
made in this process is metered through its event hooks. Clients of the emulation's own session (set-up,
uploads, the queue poller, the report) count as the harness; the rest are the functions'. The harness's
SQS calls on the functions' queues are what Lambda's event source mapping would make.

DynamoDB units: each request asks for ReturnConsumedCapacity=TOTAL, and moto's answer is kept as
`moto_reported`, but moto 5.2.5 returns a fixed figure per operation (1 for a PutItem of any size, 0.5 for
a GetItem, nothing for transactions), so the units the cost model uses are computed from item sizes by
DynamoDB's rules: a write costs 1 WRU per KB of the larger of the item before and after (read on the side
with a strongly consistent GetItem), plus the same on the GSI when the item is in it (two when its index
key changes); a read costs 1 RRU per 4 KB of what it returned (rounded up per request, halved when
eventually consistent), at least one.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers"), str(ROOT / "tests")]

from bench import run_over_input  # noqa: E402
from podcast_pipeline import table  # noqa: E402
from podcast_pipeline.routes import ROUTES  # noqa: E402
from podcast_pipeline_tools.local import REGION, emulation  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "pipeline.json"
KB = 1024
READ_UNIT_BYTES = 4 * KB
WRITE_UNIT_BYTES = KB
TABLE_KEYS = (table.PARTITION_KEY, table.SORT_KEY)
INDEX_KEYS = (table.PUBLISHED_PARTITION_KEY, table.PUBLISHED_SORT_KEY)
WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
FUNCTIONS = {route.function for route in ROUTES}
# What Lambda's event source mapping calls on a function's queue (the local poller also asks for the depth).
ESM_OPERATIONS = {"ReceiveMessage", "DeleteMessageBatch", "ChangeMessageVisibilityBatch"}
Item = Mapping[str, Any]  # DynamoDB's wire format: {"name": {"S": "..."}}


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value (its documented item-size rules)."""
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(str(data).encode("utf-8"))
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode("utf-8")) for s in data)
    if kind == "NS":
        return sum(value_size({"N": n}) for n in data)
    if kind == "BS":
        return sum(len(b) for b in data)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + 1 + value_size(v) for k, v in data.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(before: Item | None, after: Item | None) -> float:
    """WRUs of one standard write to the table and its GSI (projection ALL)."""
    units = float(max(1, math.ceil(max(item_size(before), item_size(after)) / WRITE_UNIT_BYTES)))
    indexed_before = bool(before) and all(k in before for k in INDEX_KEYS)  # type: ignore[operator]
    indexed_after = bool(after) and all(k in after for k in INDEX_KEYS)  # type: ignore[operator]
    if indexed_after:
        units += math.ceil(max(1, item_size(after)) / WRITE_UNIT_BYTES)
    if indexed_before and (
        not indexed_after or any(before[k] != after[k] for k in INDEX_KEYS)  # type: ignore[index]
    ):
        units += math.ceil(max(1, item_size(before)) / WRITE_UNIT_BYTES)
    return units


def read_units(returned_bytes: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(returned_bytes / READ_UNIT_BYTES))
    return float(units if consistent else units / 2)


@dataclass
class Meter:
    """Requests and units, by who made them (the functions or the harness)."""

    requests: Counter[str] = field(default_factory=Counter)  # "service.Operation"
    errors: Counter[str] = field(default_factory=Counter)
    s3_get_bytes: int = 0
    put_events_entries: int = 0
    read_units: float = 0.0
    write_units: float = 0.0
    moto_reported_units: float = 0.0
    esm: Counter[str] = field(default_factory=Counter)  # the event source mapping's SQS requests
    esm_messages: int = 0
    harness_requests: Counter[str] = field(default_factory=Counter)
    # Time the side reads took inside each function's invocations, taken off its duration.
    metering_seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(sorted(self.requests.items())),
            "errors": dict(sorted(self.errors.items())),
            "s3_get_bytes": self.s3_get_bytes,
            "put_events_entries": self.put_events_entries,
            "dynamodb_units": {
                "read": self.read_units,
                "write": self.write_units,
                "moto_reported": self.moto_reported_units,
            },
            "event_source_mapping_sqs": dict(sorted(self.esm.items())),
            "event_source_mapping_messages": self.esm_messages,
            "harness_requests": dict(sorted(self.harness_requests.items())),
            "metering_seconds": {name: round(s, 3) for name, s in sorted(self.metering_seconds.items())},
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
        self._shadows: dict[str, Any] = {}
        # The poller invokes a function right after receiving its batch: the function running now.
        self._running = ""

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

    def _shadow(self, endpoint_url: str) -> Any:
        """An unmetered DynamoDB client that reads items as they are before and after a write."""
        if endpoint_url not in self._shadows:
            self._shadows[endpoint_url] = self._original(
                self._harness, "dynamodb", endpoint_url=endpoint_url, region_name=REGION
            )
        return self._shadows[endpoint_url]

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
        endpoint = client.meta.endpoint_url
        events.register(
            "before-parameter-build.dynamodb", lambda **kw: self._dynamodb_before(endpoint=endpoint, **kw)
        )
        events.register("after-call.dynamodb", self._dynamodb_after)

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
            if received:
                self._running = context["bench_esm"]
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

    def _dynamodb_before(
        self, endpoint: str, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")
        context["bench_endpoint"] = endpoint
        context["bench_consistent"] = bool(params.get("ConsistentRead"))
        if model.name in WRITES:
            key = params.get("Key") or {k: params["Item"][k] for k in TABLE_KEYS}
            context["bench_key"] = (params["TableName"], key)
            context["bench_before"] = self._read(context, params["TableName"], key)

    def _read(self, context: Mapping[str, Any], table_name: str, key: Item) -> Item | None:
        started = time.perf_counter()
        item: Item | None = (
            self._shadow(context["bench_endpoint"])
            .get_item(TableName=table_name, Key=key, ConsistentRead=True)
            .get("Item")
        )
        self.meter.metering_seconds[self._running] += time.perf_counter() - started
        return item

    def _dynamodb_after(
        self, http_response: Any, parsed: Mapping[str, Any], model: Any, context: Mapping[str, Any], **_: Any
    ) -> None:
        reported = parsed.get("ConsumedCapacity")
        for capacity in reported if isinstance(reported, list) else [reported] if reported else []:
            self.meter.moto_reported_units += float(capacity.get("CapacityUnits", 0))
        if model.name in WRITES:
            table_name, key = context["bench_key"]
            before = context["bench_before"]
            after = self._read(context, table_name, key) if http_response.status_code < 300 else before
            self.meter.write_units += write_units(before, after)
        elif model.name == "GetItem":
            self.meter.read_units += read_units(
                item_size(parsed.get("Item")), consistent=bool(context.get("bench_consistent"))
            )
        elif model.name in ("Query", "Scan"):
            returned = sum(item_size(item) for item in parsed.get("Items", []))
            count, scanned = parsed.get("Count", 0), parsed.get("ScannedCount", 0)
            if count and scanned > count:  # a filter dropped items it still read: scale up
                returned = returned * scanned // count
            self.meter.read_units += read_units(returned, consistent=bool(context.get("bench_consistent")))
        elif model.name in ("TransactWriteItems", "TransactGetItems", "BatchWriteItem", "BatchGetItem"):
            raise NotImplementedError(f"units of {model.name} are not modelled")


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
    episodes = [e for e in report["episodes"] if e["id"]]
    functions = {}
    for name, figures in stats["functions"].items():
        if figures["invocations"]:
            handler_seconds = figures["seconds"] - meter.metering_seconds[name]
            functions[name] = {
                **figures,
                "seconds": round(handler_seconds, 3),
                "metering_seconds": round(meter.metering_seconds[name], 3),
                "ms_per_invocation": round(1000 * handler_seconds / figures["invocations"], 1),
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
        f"DynamoDB units: {units['read']:g} read, {units['write']:g} write (computed from item sizes; "
        f"moto reported {units['moto_reported']:g} in all)"
    )
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
