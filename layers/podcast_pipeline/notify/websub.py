"""WebSub publish pings: tell each hub of a feed that the feed changed, so subscribers fetch it now."""

from __future__ import annotations

from urllib.parse import urlencode

from podcast_pipeline.notify.transport import HttpPoster


class WebSubPublisher:
    def __init__(self, poster: HttpPoster | None = None) -> None:
        self._poster = poster or HttpPoster()

    def ping(self, hub: str, feed_url: str) -> None:
        body = urlencode({"hub.mode": "publish", "hub.url": feed_url}).encode("ascii")
        self._poster.post(
            hub, body, content_type="application/x-www-form-urlencoded", label=f"WebSub hub {hub}"
        )
