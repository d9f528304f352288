"""report.json of `local run` (DESIGN.md): episodes, events, feeds, notifications, dead letters, stats."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podcast_pipeline.episode import Episode, State
from podcast_pipeline.problems import Code, warning
from podcast_pipeline.routes import ROUTES, DetailType
from podcast_pipeline.store import EpisodeStore
from podcast_pipeline_tools.local.capacity import TableCapacity
from podcast_pipeline_tools.local.mapping import EventSourceMappings
from podcast_pipeline_tools.local.metrics import feed_renders
from podcast_pipeline_tools.local.poller import Poller, receive_all
from podcast_pipeline_tools.local.sqs import receive_count

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

    from podcast_pipeline.episode import SourceRecord
    from podcast_pipeline_tools.local.emulation import Emulation

REPORT_NAME = "report.json"


def episode_entry(episode: Episode) -> dict[str, Any]:
    detail = episode.event_detail()
    return {**episode.summary(), "permalink": episode.permalink, "audio": detail["audio"]}


def awaiting_post_entry(source: SourceRecord) -> dict[str, Any]:
    """An MP3 no post names yet: listed like an episode, with only what the audio tells."""
    return {
        "id": None,
        "category": None,
        "number": None,
        "slug": None,
        "title": None,
        "date": None,
        "state": State.AWAITING_POST.value,
        "claimed": {},
        "measured": source.facts,
        # Waiting is a finding too: the report names the MP3 nobody claims, even when the file is sound.
        "problems": [source.problem or _post_missing(source.ref.key)],
        "permalink": None,
        "audio": {"key": source.ref.key, "url": None, "bytes": source.ref.size, "duration_seconds": None},
    }


def _post_missing(audio_key: str) -> dict[str, Any]:
    message = f"no post names the MP3 {audio_key} (yet); it is published once one does"
    return warning(Code.POST_MISSING, message, key=audio_key).to_dict()


def event_entry(message: MessageTypeDef) -> dict[str, Any]:
    event = json.loads(message["Body"])
    return {"detail-type": event.get("detail-type"), "time": event.get("time"), "detail": event.get("detail")}


def _body(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def dead_letter_entry(function: str, message: MessageTypeDef, reasons: Mapping[str, str]) -> dict[str, Any]:
    return {
        "queue": function,
        "message_id": message["MessageId"],
        # The receive count moves with the message; reading it from the dead-letter queue added one.
        "deliveries": receive_count(message) - 1,
        "reason": reasons.get(message["MessageId"]),
        "body": _body(message["Body"]),
    }


def collect_episodes(emulation: Emulation) -> list[dict[str, Any]]:
    store = EpisodeStore(emulation.dynamodb, emulation.names.table)
    episodes = sorted(store.all_episodes(), key=lambda e: (e.category, e.date, e.id))
    waiting = sorted(store.unlinked_audio(), key=lambda s: s.ref.key)
    return [episode_entry(e) for e in episodes] + [awaiting_post_entry(s) for s in waiting]


def build_report(
    *,
    episodes: list[dict[str, Any]],
    events: list[dict[str, Any]],
    feeds: Mapping[str, str],
    notifications: list[dict[str, Any]],
    dead_letters: list[dict[str, Any]],
    driver: Poller | EventSourceMappings,
    uploads: int,
    duration_seconds: float,
    metrics: list[dict[str, Any]],
    capacity: TableCapacity | None = None,
) -> dict[str, Any]:
    dead = Counter(entry["queue"] for entry in dead_letters)
    functions = {
        name: {**stats.to_dict(), "dead_lettered": dead[name]} for name, stats in driver.stats.items()
    }
    feed_updates = Counter(
        str((e["detail"] or {}).get("category"))
        for e in events
        if e["detail-type"] == DetailType.FEED_UPDATED
    )
    return {
        "episodes": episodes,
        "events": events,
        "feeds": dict(feeds),
        "notifications": notifications,
        "dead_letters": dead_letters,
        "metrics": metrics,  # the functions' CloudWatch metrics, summed over the run
        "stats": {
            "uploads": uploads,
            "runner": driver.timing.to_dict()
            if isinstance(driver, EventSourceMappings)
            else {"mode": "serial"},
            "functions": functions,
            # A feed is written (and announced) only when its bytes change.
            "feed_updates": dict(sorted(feed_updates.items())),
            # Every rebuild renders, whether or not the bytes changed; batching keeps this to a few per feed.
            "feed_renders": feed_renders(metrics),
            "states": dict(sorted(Counter(e["state"] for e in episodes).items())),
            # DynamoDB units as AWS bills them (local/capacity.py); none against another endpoint.
            "dynamodb": capacity.to_dict(sum(1 for e in episodes if e["id"])) if capacity else None,
            "duration_seconds": round(duration_seconds, 3),
        },
    }


def dead_letters(emulation: Emulation, driver: Poller | EventSourceMappings) -> list[dict[str, Any]]:
    return [
        dead_letter_entry(route.function, message, driver.failure_reasons)
        for route in ROUTES
        for message in receive_all(emulation.sqs, emulation.queues[route.function].dlq_url, delete=False)
    ]


def write_report(report: Mapping[str, Any], out_dir: Path) -> Path:
    path = out_dir / REPORT_NAME
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path


def problems_of(entries: Iterable[Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    """(episode id or audio key, problem) for every problem in the report's episodes."""
    return [
        (str(entry["id"] or (entry.get("audio") or {}).get("key")), problem)
        for entry in entries
        for problem in entry["problems"]
    ]
