"""The notifier's decisions without AWS: which key makes two deliveries one event, and which channels are
skipped rather than marked sent."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from podcast_pipeline.notify.service import Notifier, event_key
from podcast_pipeline.notify.transport import NotConfiguredError

EVENTS = Path(__file__).resolve().parent.parent / "events"


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    return event


def resent(event: dict[str, Any]) -> dict[str, Any]:
    """The same event put on the bus again: EventBridge gives it a new `id`."""
    return copy.deepcopy(event) | {"id": str(uuid.uuid4())}


class MemoryGuard:
    """An IdempotencyGuard that keeps its marks in a set, as the Powertools one keeps them in DynamoDB."""

    def __init__(self) -> None:
        self.done: set[str] = set()
        self.asked: list[str] = []

    def once(self, key: str, action: Callable[[], None]) -> bool:
        self.asked.append(key)
        if key in self.done:
            return False
        action()  # raising leaves no mark
        self.done.add(key)
        return True


class Slack:
    def __init__(self, url: str = "https://hooks.slack.example/services/T/B/x") -> None:
        self.url = url
        self.sent: list[Mapping[str, Any]] = []

    def configured(self) -> bool:
        return self.url.startswith("https://")

    def send(self, payload: Mapping[str, Any]) -> None:
        self.sent.append(payload)


class Email:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, subject: str, body: str) -> None:
        self.sent.append(subject)


def test_the_key_is_the_meaning_of_the_event_not_its_envelope_id() -> None:
    published, feed = sample("episode-published"), sample("feed-updated")
    assert event_key(published) == published["detail"]["idempotency_key"]
    assert event_key(published) == event_key(resent(published))
    assert event_key(feed) == f"podcast#{feed['detail']['sha256']}"
    # An event from before the field existed keeps the key it was delivered under: its EventBridge id.
    old = copy.deepcopy(published)
    del old["detail"]["idempotency_key"]
    assert event_key(old) == old["id"]


def test_a_resent_event_is_told_once_per_channel_and_a_new_revision_again() -> None:
    guard, slack, email = MemoryGuard(), Slack(), Email()
    notifier = Notifier(guard=guard, slack=slack, email=email)
    first = sample("episode-published")
    again = resent(first)
    later = resent(first)
    later["detail"]["revision"] = 4
    later["detail"]["idempotency_key"] = f"{first['detail']['id']}#4#Episode Published"

    outcomes = [notifier.notify(event) for event in (first, again, later)]

    assert [(o.sent, o.duplicates) for o in outcomes] == [
        (["slack", "email"], []),
        ([], ["slack", "email"]),
        (["slack", "email"], []),
    ]
    assert len(slack.sent) == len(email.sent) == 2
    key = first["detail"]["idempotency_key"]
    assert guard.asked[:2] == [f"{key}#slack", f"{key}#email"]


@pytest.mark.parametrize("slack", [None, Slack("not-configured")], ids=["no webhook", "placeholder"])
def test_an_unconfigured_channel_is_skipped_and_leaves_no_mark(slack: Slack | None) -> None:
    guard, email = MemoryGuard(), Email()
    event = sample("episode-verification-failed")

    outcome = Notifier(guard=guard, slack=slack, email=email).notify(event)

    assert (outcome.sent, outcome.skipped, outcome.duplicates) == (["email"], ["slack"], [])
    assert guard.done == {f"{event['detail']['idempotency_key']}#email"}


def test_the_same_event_reaches_slack_once_it_is_configured() -> None:
    guard, slack = MemoryGuard(), Slack("not-configured")
    notifier = Notifier(guard=guard, slack=slack, email=Email())
    event = sample("episode-published")
    assert notifier.notify(event).skipped == ["slack"]

    slack.url = "https://hooks.slack.example/services/T/B/x"
    outcome = notifier.notify(resent(event))

    assert (outcome.sent, outcome.duplicates, outcome.skipped) == (["slack"], ["email"], [])
    assert len(slack.sent) == 1


def test_a_webhook_that_goes_away_between_the_check_and_the_send_is_skipped() -> None:
    class Flapping(Slack):
        def send(self, payload: Mapping[str, Any]) -> None:
            raise NotConfiguredError("Slack webhook not configured")

    guard = MemoryGuard()
    event = sample("episode-published")

    outcome = Notifier(guard=guard, slack=Flapping(), email=Email()).notify(event)

    assert (outcome.sent, outcome.skipped, outcome.failures) == (["email"], ["slack"], [])
    assert guard.done == {f"{event['detail']['idempotency_key']}#email"}


def test_a_channel_with_nothing_to_say_is_not_skipped() -> None:
    unchanged = sample("feed-updated")
    unchanged["detail"]["guids_added"] = []  # a rebuild that changed no item: no Slack message, no e-mail

    outcome = Notifier(guard=MemoryGuard(), slack=None, email=None).notify(unchanged)

    assert (outcome.sent, outcome.skipped) == ([], [])
