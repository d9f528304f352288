"""The Slack incoming-webhook client. The webhook URL is a credential: never logged, never in an error."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from podcast_pipeline.notify.transport import HttpPoster, NotConfiguredError

_log = logging.getLogger(__name__)


class SlackWebhook:
    """Posts Block Kit payloads to one incoming webhook.

    `url` may be a callable so the secret is read (from a cache) at send time, not at cold start. Until
    it holds an http(s) URL (the deployed secret starts as a placeholder), Slack is not configured: the
    notifier skips it, and `send` raises NotConfiguredError rather than pretend the message went out.
    """

    def __init__(self, url: str | Callable[[], str], poster: HttpPoster | None = None) -> None:
        self._url = url
        self._poster = poster or HttpPoster()
        self._warned = False

    def configured(self) -> bool:
        """True when there is a URL to post to; warns once, not per message, while there is none."""
        if _is_url(self._current_url()):
            self._warned = False  # should the secret go back to a placeholder, that is said again
            return True
        if not self._warned:
            # The value itself is not logged: it may be a mistyped URL.
            _log.warning(
                "Slack webhook not configured (the secret holds no URL): Slack messages are skipped, "
                "and none is marked sent, until it does"
            )
            self._warned = True
        return False

    def send(self, payload: Mapping[str, Any]) -> None:
        url = self._current_url()
        if not _is_url(url):
            raise NotConfiguredError("Slack webhook not configured (the secret holds no URL)")
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._poster.post(url, body, content_type="application/json; charset=utf-8", label="Slack webhook")

    def _current_url(self) -> str:
        return self._url() if callable(self._url) else self._url

    def __repr__(self) -> str:
        return "SlackWebhook(url=[redacted])"


def _is_url(value: str) -> bool:
    return value.startswith(("https://", "http://"))
