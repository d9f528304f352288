"""Who hears about an event, each of them exactly once: the orchestration, against small ports.

Every delivery (Slack, e-mail, each WebSub hub) has its own idempotency key, `<event id>#<channel>[#<hub>]`,
so when one channel fails and the event comes back, the channels that already succeeded stay quiet.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from podcast_pipeline.config import SiteConfig
from podcast_pipeline.notify.messages import Message, compose, feed_url
from podcast_pipeline.notify.transport import DeliveryError
from podcast_pipeline.routes import EVENT_SOURCE, DetailType


class SlackSender(Protocol):
    def send(self, payload: Mapping[str, Any]) -> None: ...


class EmailSender(Protocol):
    def send(self, subject: str, body: str) -> None: ...


class WebSubPinger(Protocol):
    def ping(self, hub: str, feed_url: str) -> None: ...


class IdempotencyGuard(Protocol):
    def once(self, key: str, action: Callable[[], None]) -> bool:
        """Run `action` unless `key` already completed; True when it ran now.

        An action that raises leaves no mark, so the next delivery of the event tries again.
        """
        ...


@dataclass(frozen=True)
class Failure:
    channel: str
    reason: str
    retryable: bool


@dataclass
class Outcome:
    message: Message
    sent: list[str] = field(default_factory=list)  # channels delivered by this call
    duplicates: list[str] = field(default_factory=list)  # channels an earlier delivery of the event reached
    failures: list[Failure] = field(default_factory=list)


class NotificationError(Exception):
    """At least one channel failed; the record must fail so SQS delivers it again (or to the DLQ)."""

    def __init__(self, outcome: Outcome) -> None:
        reasons = "; ".join(f"{f.channel}: {f.reason}" for f in outcome.failures)
        super().__init__(f"event {outcome.message.event_id}: {reasons}")
        self.outcome = outcome


class InvalidEventError(ValueError):
    """The record is not an event this function handles; no retry can change that."""


class Notifier:
    def __init__(
        self,
        *,
        guard: IdempotencyGuard,
        config: SiteConfig | None = None,
        slack: SlackSender | None = None,
        email: EmailSender | None = None,
        websub: WebSubPinger | None = None,
    ) -> None:
        self._guard, self._config = guard, config
        self._slack, self._email, self._websub = slack, email, websub

    def notify(self, event: Mapping[str, Any]) -> Outcome:
        """Deliver every message of `event`; raises NotificationError when a channel failed."""
        if event.get("source") != EVENT_SOURCE:
            raise InvalidEventError(f"source {event.get('source')!r} is not {EVENT_SOURCE!r}")
        try:
            message = compose(event, self._config)
        except ValueError as err:
            raise InvalidEventError(str(err)) from err
        outcome = Outcome(message)
        for channel, action in self._deliveries(message, event):
            try:
                ran = self._guard.once(f"{message.event_id}#{channel}", action)
            except DeliveryError as err:
                outcome.failures.append(Failure(channel, str(err), err.retryable))
            except Exception as err:  # an SDK or store error must not keep the other channels from trying
                outcome.failures.append(Failure(channel, f"{type(err).__name__}: {err}", retryable=True))
            else:
                (outcome.sent if ran else outcome.duplicates).append(channel)
        if outcome.failures:
            raise NotificationError(outcome)
        return outcome

    def _deliveries(self, message: Message, event: Mapping[str, Any]) -> list[tuple[str, Callable[[], None]]]:
        deliveries: list[tuple[str, Callable[[], None]]] = []
        slack, email, websub = self._slack, self._email, self._websub
        if slack is not None and message.slack is not None:
            payload = message.slack
            deliveries.append(("slack", lambda: slack.send(payload)))
        if email is not None and message.email is not None:
            mail = message.email
            deliveries.append(("email", lambda: email.send(mail.subject, mail.body)))
        if websub is not None and message.detail_type == DetailType.FEED_UPDATED:
            deliveries += [
                (f"websub#{hub}", _ping(websub, hub, url)) for hub, url in self._hubs(event["detail"])
            ]
        return deliveries

    def _hubs(self, detail: Mapping[str, Any]) -> list[tuple[str, str]]:
        category = str(detail.get("category") or "")
        if self._config is None or category not in self._config.feeds:
            return []
        url = feed_url(detail, self._config)
        return [(hub, url) for hub in self._config.feeds[category].websub_hubs] if url else []


def _ping(websub: WebSubPinger, hub: str, url: str) -> Callable[[], None]:
    return lambda: websub.ping(hub, url)


def channel_name(channel: str) -> str:
    """The metric dimension of a delivery channel: `websub#<hub>` counts as `websub`."""
    return channel.split("#", 1)[0]
