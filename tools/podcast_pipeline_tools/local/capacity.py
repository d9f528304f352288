"""DynamoDB capacity as AWS bills it, metered on the emulation's side of the wire.

moto answers ReturnConsumedCapacity with a fixed figure per operation, so the units are computed here from
item sizes by DynamoDB's rules: a write costs 1 WRU per KB of the larger of the item before and after it
(read on the side with a consistent GetItem; the table has no index, which would bill each write again); a
read costs 1 RRU per 4 KB of what it returned, rounded up per request (halved when eventually
consistent). A conditional write that is refused still costs its units. Metering the server sees every
request, whichever process or thread of the runner made it.
"""

from __future__ import annotations

import base64
import io
import json
import math
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

KB = 1024
READ_UNIT_BYTES = 4 * KB
WRITE_UNIT_BYTES = KB
TARGET_PREFIX = "DynamoDB_20120810."
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
READS = frozenset({"GetItem", "Query", "Scan"})
FEED_PARTITION = "FEED"  # the feed entries' partitions (`FEED#<category>`), what a rebuild reads
Item = Mapping[str, Any]  # DynamoDB's wire format: {"name": {"S": "..."}}
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for one attribute value (its documented item-size rules)."""
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(str(data).encode("utf-8"))
    if kind == "N":
        digits = str(data).lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(data)  # base64 on the wire: decoded by the caller
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "BS"):
        return sum(value_size({kind[0]: item}) for item in data)
    if kind == "NS":
        return sum(value_size({"N": n}) for n in data)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + 1 + value_size(v) for k, v in data.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(before: Item | None, after: Item | None) -> int:
    return max(1, math.ceil(max(item_size(before), item_size(after)) / WRITE_UNIT_BYTES))


def read_units(returned_bytes: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(returned_bytes / READ_UNIT_BYTES))
    return float(units if consistent else units / 2)


def _decoded(item: Item | None) -> Item | None:
    """`item` with binary values as bytes (the wire carries them in base64)."""
    if not item:
        return item
    return {name: {"B": base64.b64decode(v["B"])} if "B" in v else v for name, v in item.items()}


def _kind(key: Item) -> str:
    """What an item is, by its partition key's prefix: EPISODE, SOURCE, FEED, LEASE, AUDIO, ..."""
    partition: Mapping[str, Any] = next(iter(key.values()), {})
    return str(partition.get("S", "")).split("#", 1)[0] or "?"


@dataclass
class TableCapacity:
    """Units billed to one table, by the kind of item they were spent on."""

    write_units: Counter[str] = field(default_factory=Counter)
    read_units: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    feed_entries_read: int = 0  # items the feed partitions' Queries returned

    def to_dict(self, episodes: int) -> dict[str, Any]:
        writes, reads = sum(self.write_units.values()), sum(self.read_units.values())
        feed_reads = self.read_units[FEED_PARTITION]
        return {
            "write_units": writes,
            "read_units": reads,
            "write_units_per_episode": round(writes / episodes, 2) if episodes else None,
            # Per entry a rebuild reads: what each episode costs every rebuild of its feed.
            "read_units_per_feed_entry": round(feed_reads / self.feed_entries_read, 3)
            if self.feed_entries_read
            else None,
            "write_units_by_item": dict(sorted(self.write_units.items())),
            "read_units_by_item": dict(sorted(self.read_units.items())),
        }


class CapacityMeter:
    """WSGI middleware in front of moto's server: meters every DynamoDB request, by table."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app
        self._tables: dict[str, TableCapacity] = {}
        self._lock = threading.Lock()

    def table(self, name: str) -> TableCapacity:
        with self._lock:
            return self._tables.setdefault(name, TableCapacity())

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        operation = target.removeprefix(TARGET_PREFIX)
        if not target.startswith(TARGET_PREFIX) or operation not in WRITES | READS:
            return self._app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        request = json.loads(body or b"{}")
        table = str(request.get("TableName", ""))
        key = request.get("Key") or {
            name: request["Item"][name] for name in ("pk", "sk") if name in request.get("Item", {})
        }
        before = self._get(environ, table, key) if operation in WRITES else None
        status: list[str] = []

        def capture(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(code)
            return start_response(code, headers, exc_info)

        response = b"".join(self._app(environ, capture))
        if status and status[0].startswith("200"):
            self._meter(environ, operation, request, table, key, before, json.loads(response or b"{}"))
        elif operation in WRITES and b"ConditionalCheckFailed" in response:
            # A refused conditional write is billed too, by the size of the item it was checked against.
            capacity = self.table(table)
            with self._lock:
                capacity.write_units[_kind(key)] += write_units(before, None)
        return [response]

    def _meter(
        self,
        environ: dict[str, Any],
        operation: str,
        request: Mapping[str, Any],
        table: str,
        key: Item,
        before: Item | None,
        response: Mapping[str, Any],
    ) -> None:
        capacity = self.table(table)
        consistent = bool(request.get("ConsistentRead"))
        if operation in WRITES:
            with self._lock:
                capacity.write_units[_kind(key)] += write_units(before, self._get(environ, table, key))
            return
        units: float
        if operation == "GetItem":
            units = read_units(item_size(_decoded(response.get("Item"))), consistent=consistent)
            kind = _kind(key)
        else:
            items = response.get("Items", [])
            units = read_units(sum(item_size(_decoded(i)) for i in items), consistent=consistent)
            values = request.get("ExpressionAttributeValues") or {}
            kind = _kind({"pk": next(iter(values.values()), {})}) if operation == "Query" else "scan"
            if kind == FEED_PARTITION:
                with self._lock:
                    capacity.feed_entries_read += len(items)
        with self._lock:
            capacity.read_units[kind] += units

    def _get(self, environ: dict[str, Any], table: str, key: Item) -> Item | None:
        """The item at `key` now, asked of the server itself (a consistent GetItem, not metered)."""
        payload = json.dumps({"TableName": table, "Key": key, "ConsistentRead": True}).encode()
        probe = {
            **environ,
            "HTTP_X_AMZ_TARGET": f"{TARGET_PREFIX}GetItem",
            "CONTENT_LENGTH": str(len(payload)),
            "wsgi.input": io.BytesIO(payload),
        }
        answer = b"".join(self._app(probe, lambda *_: None))
        item: Item | None = json.loads(answer or b"{}").get("Item")
        return _decoded(item)
