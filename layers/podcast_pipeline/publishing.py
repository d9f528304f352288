"""What publishing means to the domain: an event, and the failure a publisher reports (see `bus` for
the EventBridge publisher)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Event = tuple[str, dict[str, Any]]  # (detail-type, detail)


class PublishError(RuntimeError):
    """Some events could not be put after retries: the caller fails the record so SQS delivers it again.

    `unsent` are the events the bus did not accept, in their original order; the others went out, so a
    caller that keeps events for a retry keeps only these (re-sending the rest would duplicate them).
    """

    def __init__(self, message: str, unsent: Sequence[Event]) -> None:
        super().__init__(message)
        self.unsent = list(unsent)
