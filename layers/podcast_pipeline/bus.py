"""Publishing our events to the custom EventBridge bus, losing none."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from podcast_pipeline.routes import EVENT_SOURCE

if TYPE_CHECKING:
    from mypy_boto3_events.client import EventBridgeClient

MAX_ENTRIES_PER_CALL = 10  # PutEvents' limit
ATTEMPTS = 4


class PublishError(RuntimeError):
    """Some events could not be put after retries: the caller fails the record so SQS delivers it again."""


class EventBus:
    def __init__(
        self,
        client: EventBridgeClient,
        bus_name: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._bus = bus_name
        self._sleep = sleep
        self.calls = 0

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.publish_all([(detail_type, detail)])

    def publish_all(self, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Put every event, ten per call at most, retrying failed entries (FailedEntryCount) with backoff."""
        pending = [self._entry(detail_type, detail) for detail_type, detail in events]
        for attempt in range(ATTEMPTS):
            failed: list[dict[str, Any]] = []
            errors: list[str] = []
            for start in range(0, len(pending), MAX_ENTRIES_PER_CALL):
                chunk = pending[start : start + MAX_ENTRIES_PER_CALL]
                self.calls += 1
                response = self._client.put_events(Entries=chunk)  # type: ignore[arg-type]
                if not response.get("FailedEntryCount"):
                    continue
                for entry, result in zip(chunk, response["Entries"], strict=True):
                    if result.get("ErrorCode"):
                        failed.append(entry)
                        errors.append(f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}")
            if not failed:
                return
            pending = failed
            if attempt + 1 < ATTEMPTS:
                self._sleep(0.1 * 2**attempt)
        reasons = "; ".join(errors[:3])
        raise PublishError(f"{len(pending)} event(s) not accepted by bus {self._bus}: {reasons}")

    def _entry(self, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
        return {
            "Source": EVENT_SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
            "EventBusName": self._bus,
        }
