"""Publishing our events to the custom EventBridge bus, losing none."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from podcast_pipeline.publishing import Event, PublishError
from podcast_pipeline.routes import EVENT_SOURCE

if TYPE_CHECKING:
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

MAX_ENTRIES_PER_CALL = 10  # PutEvents' limit
ATTEMPTS = 4


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

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.publish_all([(detail_type, detail)])

    def publish_all(self, events: Sequence[Event]) -> None:
        """Put every event, ten per call at most, retrying failed entries (FailedEntryCount) with backoff.

        A call that raises counts as all of its entries failed, so the chunks sent before it are not
        reported unsent: PublishError names exactly the events that may not have gone out.
        """
        # Here, not at the top: botocore is for publishing, importing the bus for its type needs none of it.
        from botocore.exceptions import BotoCoreError, ClientError

        pending = list(events)
        for attempt in range(ATTEMPTS):
            failed: list[Event] = []
            errors: list[str] = []
            for start in range(0, len(pending), MAX_ENTRIES_PER_CALL):
                chunk = pending[start : start + MAX_ENTRIES_PER_CALL]
                try:
                    response = self._client.put_events(Entries=[self._entry(*event) for event in chunk])
                except (BotoCoreError, ClientError) as err:
                    failed.extend(chunk)
                    errors.append(f"{type(err).__name__}: {err}")
                    continue
                if not response.get("FailedEntryCount"):
                    continue
                for event, result in zip(chunk, response["Entries"], strict=True):
                    if result.get("ErrorCode"):
                        failed.append(event)
                        errors.append(f"{result['ErrorCode']}: {result.get('ErrorMessage', '')}")
            if not failed:
                return
            pending = failed
            if attempt + 1 < ATTEMPTS:
                self._sleep(0.1 * 2**attempt)
        reasons = "; ".join(errors[:3])
        raise PublishError(f"{len(pending)} event(s) not accepted by bus {self._bus}: {reasons}", pending)

    def _entry(self, detail_type: str, detail: dict[str, Any]) -> PutEventsRequestEntryTypeDef:
        return {
            "Source": EVENT_SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
            "EventBusName": self._bus,
        }
