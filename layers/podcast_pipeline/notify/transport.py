"""POST with timeouts and bounded retries: the one HTTP path of the Slack webhook and the WebSub pings.

429 and 5xx, timeouts and connection errors are retried with exponential backoff and full jitter,
honouring `Retry-After` (seconds); any other non-2xx answer is final. The URL appears in no error
message and no log line (a webhook URL is a credential); callers name the endpoint with a `label`.
"""

from __future__ import annotations

import http.client
import logging
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

SNIPPET_CHARS = 200  # of a response body, in error messages
_READ_LIMIT = 64 * 1024  # webhook answers are tiny; never buffer more than this


class DeliveryError(Exception):
    """A message was not delivered. The message is safe to log: it names no URL and no secret."""

    retryable = True


class NotConfiguredError(Exception):
    """The channel has no endpoint yet (its secret holds a placeholder): nothing was sent, nothing failed."""


class TransientDeliveryError(DeliveryError):
    """The endpoint kept failing (429, 5xx, timeouts) until the retry budget ran out; try again later."""


class PermanentDeliveryError(DeliveryError):
    """The endpoint refused the request (a 4xx other than 429): sending it again cannot succeed."""

    retryable = False

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    timeout_seconds: float = 4.0  # per socket operation (connect, each read)
    total_seconds: float = 10.0  # the whole delivery, sleeps included; SQS redelivery retries beyond it
    base_delay_seconds: float = 0.5
    max_delay_seconds: float = 4.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.timeout_seconds <= 0 or self.total_seconds <= 0:
            raise ValueError("a retry policy needs at least one attempt and positive time limits")


@dataclass(frozen=True)
class _Answer:
    status: int
    body: bytes
    retry_after: float | None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a GET or carry the payload elsewhere: it is an answer."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _retry_after(value: str | None) -> float | None:
    # Only the delay-seconds form: Slack and the hubs we know send nothing else.
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and seconds >= 0 else None


class HttpPoster:
    """One POST per call, retried within `policy`; `sleep`, `clock` and `jitter` are injectable."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._sleep, self._clock, self._jitter = sleep, clock, jitter
        self._opener = urllib.request.build_opener(_NoRedirects())

    def post(
        self,
        url: str,
        body: bytes,
        *,
        content_type: str,
        label: str,
    ) -> int:
        """POST `body` to `url`; the 2xx status, or a DeliveryError that names `label`, never `url`."""
        if urlsplit(url).scheme not in ("https", "http"):
            raise PermanentDeliveryError(f"{label}: the endpoint is not an http(s) URL", status=0)
        hidden = [s for s in (url, urlsplit(url).path) if len(s) > 1]
        policy, started = self.policy, self._clock()
        reason = "no attempt made"
        for attempt in range(1, policy.max_attempts + 1):
            remaining = policy.total_seconds - (self._clock() - started)
            if remaining <= 0:
                break
            answer, reason = self._attempt(url, body, content_type, min(policy.timeout_seconds, remaining))
            if answer is not None:
                if 200 <= answer.status < 300:
                    return answer.status
                reason = f"HTTP {answer.status} {_snippet(answer.body, hidden)}".rstrip()
                if answer.status != 429 and not 500 <= answer.status < 600:
                    raise PermanentDeliveryError(f"{label} refused the message: {reason}", answer.status)
            if attempt == policy.max_attempts:
                break
            backoff = self._jitter() * min(
                policy.max_delay_seconds, policy.base_delay_seconds * 2 ** (attempt - 1)
            )
            delay = max(answer.retry_after or 0.0, backoff) if answer else backoff
            if self._clock() - started + delay >= policy.total_seconds:
                reason += f" (next attempt due in {delay:.1f}s, beyond the retry budget)"
                break
            logger.warning(
                "%s: %s; attempt %d of %d, retrying in %.2fs",
                label,
                reason,
                attempt,
                policy.max_attempts,
                delay,
            )
            self._sleep(delay)
        raise TransientDeliveryError(f"{label} failed after {attempt} attempt(s): {_redact(reason, hidden)}")

    def _attempt(
        self, url: str, body: bytes, content_type: str, timeout: float
    ) -> tuple[_Answer | None, str]:
        # The scheme was checked in post(): http(s) only, never file: or custom handlers.
        request = urllib.request.Request(  # noqa: S310
            url, data=body, method="POST", headers={"Content-Type": content_type}
        )
        try:
            try:
                with self._opener.open(request, timeout=timeout) as response:
                    return _Answer(response.status, response.read(_READ_LIMIT), None), ""
            except urllib.error.HTTPError as err:
                # HTTPError carries the URL in `.url`/`.filename`: keep only status, Retry-After and body.
                with err:
                    retry_after = _retry_after(err.headers.get("Retry-After"))
                    return _Answer(err.code, err.read(_READ_LIMIT), retry_after), ""
        except urllib.error.URLError as err:
            return None, f"connection failed: {_describe(err.reason)}"
        except (TimeoutError, OSError, http.client.HTTPException) as err:
            return None, f"connection failed: {_describe(err)}"


def _describe(err: object) -> str:
    if isinstance(err, TimeoutError):
        return "timed out"
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return type(err).__name__ if isinstance(err, BaseException) else str(err)


def _redact(text: str, hidden: Iterable[str]) -> str:
    for secret in sorted(hidden, key=len, reverse=True):
        text = text.replace(secret, "[redacted]")
    return text


def _snippet(body: bytes, hidden: Iterable[str]) -> str:
    text = " ".join(body.decode("utf-8", "replace").split())
    text = _redact(text, hidden)
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"
