"""The Slack incoming-webhook client. The webhook URL is a credential: never logged, never in an error."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from podcast_pipeline.notify.transport import HttpPoster


class SlackWebhook:
    """Posts Block Kit payloads to one incoming webhook.

    `url` may be a callable so the secret is read (from a cache) at send time, not at cold start.
    """

    def __init__(self, url: str | Callable[[], str], poster: HttpPoster | None = None) -> None:
        self._url = url
        self._poster = poster or HttpPoster()

    def send(self, payload: Mapping[str, Any]) -> None:
        url = self._url() if callable(self._url) else self._url
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._poster.post(url, body, content_type="application/json; charset=utf-8", label="Slack webhook")

    def __repr__(self) -> str:
        return "SlackWebhook(url=[redacted])"
