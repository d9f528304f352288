"""The local runner's clock and concurrency against Lambda's: defaults, and how a run reports them.

Kept apart from the runner so the command line can show the defaults without loading the emulation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from podcast_pipeline.routes import LAMBDA_INITIAL_CONCURRENCY, ROUTES, Route

# A run's seconds per second on AWS, for visibility timeouts: 720 s on AWS is 7.2 s here.
DEFAULT_TIME_SCALE = 0.01
DEFAULT_CONCURRENCY = LAMBDA_INITIAL_CONCURRENCY
# Quiet checks in a row, IDLE_SLEEP_SECONDS apart, before the queues count as drained.
QUIET_CHECKS = 3


@dataclass(frozen=True)
class Timing:
    """How the run's clock relates to AWS's, for the report."""

    time_scale: float
    concurrency: Mapping[str, int]

    def visibility_seconds(self, route: Route) -> float:
        return route.visibility_timeout_seconds * self.time_scale

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": "lambda",
            "time_scale": self.time_scale,
            "concurrency": dict(self.concurrency),
            "visibility_timeout_seconds": {
                route.function: {
                    "aws": route.visibility_timeout_seconds,
                    "local": round(self.visibility_seconds(route), 3),
                }
                for route in ROUTES
                if route.function in self.concurrency
            },
            "batching_window_seconds": {
                route.function: route.batching_window_seconds
                for route in ROUTES
                if route.function in self.concurrency
            },
        }
