"""A loopback HTTP endpoint that stands in for a Slack incoming webhook.

The local runner points SLACK_WEBHOOK_URL at it, so messages really travel over HTTP, and copies
`records()` into report.json `notifications`. Tests script its answers (429 with Retry-After, 500, 400,
a reply slower than the client's timeout) with `Reply`.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from podcast_pipeline.notify.messages import METADATA_EVENT_TYPE

_MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: str = "ok"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0  # wait before answering (to make a client time out)


@dataclass(frozen=True)
class Request:
    path: str
    content_type: str
    body: bytes
    reply: Reply

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookSink:
    """Answers POSTs with the scripted replies in order, then with `default`; records every request."""

    def __init__(self, replies: Iterable[Reply] = (), *, default: Reply | None = None) -> None:
        self._replies: deque[Reply] = deque(replies)
        self._default = default or Reply()
        self._requests: list[Request] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        # A random path, like a real webhook's secret part, so tests can look for it in logs.
        team, bot = secrets.token_hex(4).upper(), secrets.token_hex(4).upper()
        self._path = f"/services/T{team}/B{bot}/{secrets.token_urlsafe(18)}"
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._server is None:
            self._stopping.clear()
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
            self._server.daemon_threads = True
            # A short poll interval: stop() waits for one poll, and tests stop many sinks.
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="webhook-sink",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._stopping.set()  # cuts short any reply that is still waiting out its delay
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sink is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self._path}"

    def script(self, *replies: Reply) -> None:
        """Queue more replies, answered before the default one."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    @property
    def received(self) -> list[Any]:
        """The JSON payloads that were accepted (answered 2xx), in arrival order."""
        return [r.json() for r in self.requests if 200 <= r.reply.status < 300]

    def records(self, channel: str = "slack") -> list[dict[str, Any]]:
        """One report.json `notifications` entry per accepted message."""
        return [notification_record(payload, channel) for payload in self.received]

    def _take(self, request_path: str, content_type: str, body: bytes) -> Reply:
        with self._lock:
            reply = self._replies.popleft() if self._replies else self._default
            self._requests.append(Request(request_path, content_type, body, reply))
        return reply


def notification_record(payload: Mapping[str, Any], channel: str = "slack") -> dict[str, Any]:
    """channel, detail-type, episode id and number, text and the raw payload of one Slack message."""
    metadata = payload.get("metadata") or {}
    facts = metadata.get("event_payload") or {} if metadata.get("event_type") == METADATA_EVENT_TYPE else {}
    return {
        "channel": channel,
        "detail-type": facts.get("detail_type"),
        "event_id": facts.get("event_id"),
        "episode_id": facts.get("episode_id"),
        "number": facts.get("number"),
        "text": payload.get("text"),
        "payload": dict(payload),
    }


def _handler_for(sink: WebhookSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = min(int(self.headers.get("Content-Length") or 0), _MAX_BODY)
            body = self.rfile.read(length)
            reply = sink._take(self.path, self.headers.get("Content-Type", ""), body)
            if reply.delay_seconds and sink._stopping.wait(reply.delay_seconds):
                return
            payload = reply.body.encode("utf-8")
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the client gave up (timed out) before the answer

        def log_message(self, format: str, *args: Any) -> None:
            # BaseHTTPRequestHandler logs the request line, and the path is the webhook's secret.
            return

    return Handler
