"""Who hears about an event, each of them exactly once: the orchestration, against small ports.

Once by meaning, not by delivery: the ingest outbox re-sends an event under a new EventBridge `id`, so the
key is the event's `detail.idempotency_key` (`<episode id>#<revision>#<detail-type>`, or
`<category>#<sha256>` for Feed Updated; see events/README.md). Every delivery (Slack, e-mail, each WebSub
hub) has its own key, `<event key>#<channel>[#<hub>]`, so when one channel fails and the event comes back,
the channels that already succeeded stay quiet. A channel that is not configured is skipped and leaves
no mark, so the same event still reaches it once it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from podcast_pipeline.config import SiteConfig
from podcast_pipeline.notify.messages import Message, compose, feed_url
from podcast_pipeline.notify.transport import DeliveryError, NotConfiguredError
from podcast_pipeline.routes import EVENT_SOURCE, DetailType


class SlackSender(Protocol):
    def configured(self) -> bool:
        """False while there is no endpoint to send to (a placeholder secret): the message is skipped."""
        ...

    def send(self, payload: Mapping[str, Any]) -> None:
        """Deliver `payload`; NotConfiguredError when the endpoint went away since `configured()`."""
        ...


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
    key: str  # what makes two deliveries the same event (`event_key`)
    sent: list[str] = field(default_factory=list)  # channels delivered by this call
    duplicates: list[str] = field(default_factory=list)  # channels an earlier delivery of the event reached
    skipped: list[str] = field(default_factory=list)  # channels with something to say but not configured
    failures: list[Failure] = field(default_factory=list)


@dataclass(frozen=True)
class _Delivery:
    channel: str
    action: Callable[[], None] | None  # None: the channel is off in this deployment
    configured: Callable[[], bool] = lambda: True


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
        outcome = Outcome(message, event_key(event))
        for delivery in self._deliveries(message, event):
            channel = delivery.channel
            try:
                if delivery.action is None or not delivery.configured():
                    outcome.skipped.append(channel)
                    continue
                ran = self._guard.once(f"{outcome.key}#{channel}", delivery.action)
            except NotConfiguredError:  # the endpoint went away between the check and the send
                outcome.skipped.append(channel)
            except DeliveryError as err:
                outcome.failures.append(Failure(channel, str(err), err.retryable))
            except Exception as err:  # an SDK or store error must not keep the other channels from trying
                outcome.failures.append(Failure(channel, f"{type(err).__name__}: {err}", retryable=True))
            else:
                (outcome.sent if ran else outcome.duplicates).append(channel)
        if outcome.failures:
            raise NotificationError(outcome)
        return outcome

    def _deliveries(self, message: Message, event: Mapping[str, Any]) -> list[_Delivery]:
        deliveries: list[_Delivery] = []
        slack, email, websub = self._slack, self._email, self._websub
        if message.slack is not None:
            payload = message.slack
            deliveries.append(
                _Delivery("slack", None)
                if slack is None
                else _Delivery("slack", lambda: slack.send(payload), slack.configured)
            )
        if message.email is not None:
            mail = message.email
            deliveries.append(
                _Delivery("email", None if email is None else lambda: email.send(mail.subject, mail.body))
            )
        if websub is not None and message.detail_type == DetailType.FEED_UPDATED:
            hubs = self._hubs(event["detail"])
            deliveries += [_Delivery(f"websub#{hub}", _ping(websub, hub, url)) for hub, url in hubs]
        return deliveries

    def _hubs(self, detail: Mapping[str, Any]) -> list[tuple[str, str]]:
        category = str(detail.get("category") or "")
        if self._config is None or category not in self._config.feeds:
            return []
        url = feed_url(detail, self._config)
        return [(hub, url) for hub in self._config.feeds[category].websub_hubs] if url else []


def event_key(event: Mapping[str, Any]) -> str:
    """What makes two deliveries the same event: `detail.idempotency_key`, which the pipeline keeps when it
    sends an event again. An event from before that field existed falls back to its EventBridge `id`, the
    key such events were delivered under."""
    detail = event.get("detail")
    key = detail.get("idempotency_key") if isinstance(detail, Mapping) else None
    return key if isinstance(key, str) and key else str(event["id"])


def _ping(websub: WebSubPinger, hub: str, url: str) -> Callable[[], None]:
    return lambda: websub.ping(hub, url)


def channel_name(channel: str) -> str:
    """The metric dimension of a delivery channel: `websub#<hub>` counts as `websub`."""
    return channel.split("#", 1)[0]
