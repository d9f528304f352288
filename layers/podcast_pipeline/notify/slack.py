"""The Slack incoming-webhook client. The webhook URL is a credential: never logged, never in an error."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from podcast_pipeline.notify.transport import HttpPoster

_log = logging.getLogger(__name__)


class SlackWebhook:
    """Posts Block Kit payloads to one incoming webhook.

    `url` may be a callable so the secret is read (from a cache) at send time, not at cold start.
    """

    def __init__(self, url: str | Callable[[], str], poster: HttpPoster | None = None) -> None:
        self._url = url
        self._poster = poster or HttpPoster()

    def send(self, payload: Mapping[str, Any]) -> None:
        url = self._url() if callable(self._url) else self._url
        if not url.startswith(("https://", "http://")):
            # The deployed secret still holds its placeholder: Slack is not set up, which is not an error
            # worth a dead letter per message. The value itself is not logged: it may be a mistyped URL.
            _log.warning("Slack webhook not configured (the secret holds no URL): message not sent")
            return
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._poster.post(url, body, content_type="application/json; charset=utf-8", label="Slack webhook")

    def __repr__(self) -> str:
        return "SlackWebhook(url=[redacted])"
