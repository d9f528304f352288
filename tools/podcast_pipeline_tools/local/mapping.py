"""`local run`'s default driver: each function fed from its queue as Lambda's SQS event source mapping does.

Per route, as many pollers as the mapping's concurrency allows (`max_concurrency`, or Lambda's initial five
when the route sets none; both capped by `--concurrency`), each with its own execution environment (a
process: `podcast_pipeline_tools.local.environments`), so invocations of one function and of different
functions run at the same time, as on Lambda. Each poller:

- gathers a batch over several receives until `batch_size` or the route's batching window (real seconds)
  has passed, and closes it early when no upstream function has anything left to send it, since waiting
  longer could not change the batch (upstream: the functions whose events the route consumes);
- keeps its messages hidden while the invocation runs, deletes the successes, and leaves the failures
  hidden for the rest of the queue's visibility timeout, scaled by `time_scale` (a run stays short; the
  ratio is reported), so they come back later and SQS's receive count climbs toward the redrive to the
  dead-letter queue, which moto applies on receive;
- hands each batch over in no particular order.

Only the visibility timeouts are scaled, not the functions' time: the leases and locks a handler takes
last as on AWS (its timeout plus a margin). On AWS a crashed invocation's records come back after those
have expired; here, after an environment is killed past its timeout, they come back first and wait out
the lease (the feed coalesces onto it, ingest retries until the episode's lock expires).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from podcast_pipeline.routes import ROUTES, Route
from podcast_pipeline_tools.local.chaos import Deliveries
from podcast_pipeline_tools.local.emulation import Emulation
from podcast_pipeline_tools.local.environments import EnvironmentSpec, ExecutionEnvironment
from podcast_pipeline_tools.local.poller import (
    DEFAULT_TIMEOUT_SECONDS,
    IDLE_SLEEP_SECONDS,
    Correction,
    DrainTimeout,
    FunctionStats,
    batch_outcome,
    queue_depth,
    sqs_record,
)
from podcast_pipeline_tools.local.sqs import delete, hide, receive
from podcast_pipeline_tools.local.timing import DEFAULT_CONCURRENCY, DEFAULT_TIME_SCALE, QUIET_CHECKS, Timing

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# Pollers long-poll, as Lambda's do (for 20 s there); a second here keeps a stopping drain prompt.
LONG_POLL_SECONDS = 1


def concurrency_of(route: Route, cap: int) -> int:
    return min(route.max_concurrency or cap, cap)


def upstream_of(route: Route, routes: Sequence[Route]) -> tuple[Route, ...]:
    """The routes whose functions emit events this route consumes."""
    return tuple(r for r in routes if r is not route and set(r.emits) & set(route.detail_types))


class EventSourceMappings:
    def __init__(
        self,
        emulation: Emulation,
        environments: EnvironmentSpec,
        *,
        corrections: Mapping[str, Correction] | None = None,
        routes: Sequence[Route] = ROUTES,
        concurrency: int = DEFAULT_CONCURRENCY,
        time_scale: float = DEFAULT_TIME_SCALE,
        deliveries: Deliveries | None = None,
        seed: int | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        if not 0 < time_scale <= 1:
            raise ValueError(f"time scale must be in (0, 1], not {time_scale}")
        self._emulation = emulation
        self._spec = environments
        self._corrections = dict(corrections or {})
        self._routes = tuple(routes)
        self._deliveries = deliveries
        self._random = random.Random(seed)
        self.timing = Timing(time_scale, {r.function: concurrency_of(r, concurrency) for r in self._routes})
        self.stats = {route.function: FunctionStats() for route in self._routes}
        self.failure_reasons: dict[str, str] = {}  # message id -> why its last delivery failed
        self.faults: dict[str, int] = {}  # API faults injected in the environments, by kind
        self._lock = threading.Lock()
        self._busy = dict.fromkeys((r.function for r in self._routes), 0)  # invocations running now
        self._stop = threading.Event()
        self._errors: list[BaseException] = []

    # -- the drain -------------------------------------------------------------------------------

    def drain(
        self, timeout: float = DEFAULT_TIMEOUT_SECONDS, on_batch: Callable[[str, int], None] | None = None
    ) -> None:
        """Run every function's pollers until all queues are empty and nothing runs, QUIET_CHECKS in a row."""
        self._stop.clear()
        threads = [
            threading.Thread(
                target=self._poll_forever,
                args=(route, index, on_batch),
                name=f"{route.function}-poller-{index}",
                daemon=True,
            )
            for route in self._routes
            for index in range(self.timing.concurrency[route.function])
        ]
        for thread in threads:
            thread.start()
        try:
            self._wait_until_drained(time.monotonic() + timeout, timeout)
        finally:
            self._stop.set()
            for thread in threads:
                thread.join()
        if self._errors:
            raise self._errors[0]

    def _wait_until_drained(self, deadline: float, timeout: float) -> None:
        quiet = 0
        while quiet < QUIET_CHECKS:
            if self._errors:
                return
            if time.monotonic() > deadline:
                depths = {r.function: queue_depth(self._emulation, r.function) for r in self._routes}
                raise DrainTimeout(f"queues not drained after {timeout:.0f}s: {depths}")
            time.sleep(IDLE_SLEEP_SECONDS * 5)
            quiet = quiet + 1 if self._idle(self._routes) else 0

    def _idle(self, routes: Sequence[Route]) -> bool:
        """Nothing queued, hidden or running for any of `routes`."""
        with self._lock:
            if any(self._busy[r.function] for r in routes):
                return False
        return all(queue_depth(self._emulation, r.function) == 0 for r in routes)

    # -- one poller ------------------------------------------------------------------------------

    def _poll_forever(self, route: Route, index: int, on_batch: Callable[[str, int], None] | None) -> None:
        environment: ExecutionEnvironment | None = None
        upstream = upstream_of(route, self._routes)
        try:
            while not self._stop.is_set():
                batch, received_at = self._gather(route, upstream)
                if not batch:
                    continue
                if environment is None or not environment.alive:
                    environment = ExecutionEnvironment(
                        self._spec, route.function, f"{route.function}-{index}", route.timeout_seconds
                    )
                    self.stats[route.function].cold_starts += 1
                self._invoke(route, environment, batch, received_at)
                if on_batch is not None:
                    on_batch(route.function, len(batch))
        except BaseException as err:  # a fault of the runner itself: stop the drain and say so
            self._errors.append(err)
            self._stop.set()
        finally:
            if environment is not None:
                environment.close()

    def _gather(self, route: Route, upstream: Sequence[Route]) -> tuple[list[MessageTypeDef], float]:
        """One batch: up to batch_size messages, within the batching window."""
        url, sqs = self._emulation.queues[route.function].url, self._emulation.sqs
        batch: list[MessageTypeDef] = []
        first_at = 0.0
        while not self._stop.is_set():
            # Hidden for the full timeout while gathered and running; a failure's rest is scaled below.
            received = receive(
                sqs, url, route.batch_size - len(batch), route.visibility_timeout_seconds, LONG_POLL_SECONDS
            )
            if received and self._deliveries is not None:
                received = self._deliveries.copies(sqs, url, received)
            if received and not batch:
                first_at = time.monotonic()
            batch.extend(received)
            if len(batch) >= route.batch_size or (batch and not route.batching_window_seconds):
                break
            if not batch:
                if not received:
                    break
                continue
            if time.monotonic() - first_at >= route.batching_window_seconds or self._idle(upstream):
                break
        with self._lock:
            self._random.shuffle(batch)
        return batch, first_at

    def _invoke(
        self, route: Route, environment: ExecutionEnvironment, batch: list[MessageTypeDef], received_at: float
    ) -> None:
        stats = self.stats[route.function]
        correct = self._corrections.get(route.function)
        event = {"Records": [sqs_record(self._emulation, route, m, correct) for m in batch]}
        with self._lock:
            self._busy[route.function] += 1
            stats.concurrent_peak = max(stats.concurrent_peak, self._busy[route.function])
            stats.invocations += 1
            stats.delivered(batch)
        started = time.monotonic()
        try:
            invocation = environment.invoke(event)
            result, reasons = batch_outcome(route, {m["MessageId"] for m in batch}, invocation)
            url, sqs = self._emulation.queues[route.function].url, self._emulation.sqs
            delete(sqs, url, [m for m in batch if m["MessageId"] not in result.failed])
            # The rest of the visibility timeout, counted from the receive, as SQS does.
            rest = self.timing.visibility_seconds(route) - (time.monotonic() - received_at)
            hide(sqs, url, [m for m in batch if m["MessageId"] in result.failed], max(0, math.ceil(rest)))
        finally:
            with self._lock:
                self._busy[route.function] -= 1
        with self._lock:
            stats.seconds += time.monotonic() - started
            stats.errors += invocation.error is not None
            stats.failed_records += len(result.failed)
            self.failure_reasons.update(reasons)
            for kind, count in invocation.faults.items():
                self.faults[kind] = self.faults.get(kind, 0) + count
