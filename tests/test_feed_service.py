"""Feed rebuilds against in-memory fakes, the S3 adapter on moto's server, and the handler's batch mapping."""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from event_contracts import validate_detail

from podcast_pipeline.config import SiteConfig, parse_config
from podcast_pipeline.episode import Episode, State
from podcast_pipeline.feed.s3_objects import S3FeedObjects
from podcast_pipeline.feed.service import CACHE_CONTROL, CONTENT_TYPE, LeaseBusy, rebuild_feeds
from podcast_pipeline.problems import Code, warning
from podcast_pipeline.routes import DetailType

CONFIG = parse_config(
    {
        "site": {"url": "https://example.com"},
        "audio": {"url_template": "https://example.com/{number}.mp3"},
        "feeds": {
            name: {
                "key": f"{name}/feed.xml",
                "title": name,
                "description": "d",
                "link": "https://example.com/",
            }
            for name in ("podcast", "interviews")
        },
    }
)


def episode(number: int, title: str = "Title", category: str = "podcast") -> Episode:
    return Episode(
        id=f"{category}/{number}-x",
        category=category,
        slug=f"{number}-x",
        date=f"2024-01-{number:02d}",
        state=State.PUBLISHED,
        number=number,
        title=title,
        permalink=f"https://example.com/{category}/{number}-x",
        audio_key=f"{number}.mp3",
        audio_url=f"https://example.com/{number}.mp3",
        measured={"bytes": 1000, "duration_seconds": 60.0},
        problems=(warning(Code.MISSING_INCLUDE, "show notes: include 'sponsor.html' not found; dropped"),),
        body="Notes: {% include sponsor.html %}",
        notes_html="<p>Notes:</p>\n",
    )


@dataclass
class FakeStore:
    episodes: dict[str, list[Episode]] = field(default_factory=dict)
    leases: set[str] = field(default_factory=set)
    queried: list[str] = field(default_factory=list)

    def published_episodes(self, category: str) -> list[Episode]:
        self.queried.append(category)
        return list(self.episodes.get(category, []))

    def acquire_lease(self, name: str, seconds: int) -> bool:
        assert seconds > 0
        if name in self.leases:
            return False
        self.leases.add(name)
        return True

    def release_lease(self, name: str) -> None:
        self.leases.discard(name)


@dataclass
class FakeObjects:
    objects: dict[str, bytes] = field(default_factory=dict)
    writes: list[tuple[str, str, str]] = field(default_factory=list)

    def read(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def write(self, key: str, data: bytes, content_type: str, cache_control: str) -> None:
        self.objects[key] = data
        self.writes.append((key, content_type, cache_control))


@dataclass
class FakePublisher:
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.events.append((detail_type, detail))


@dataclass
class World:
    store: FakeStore = field(default_factory=FakeStore)
    objects: FakeObjects = field(default_factory=FakeObjects)
    publisher: FakePublisher = field(default_factory=FakePublisher)

    def rebuild(self, *categories: str, config: SiteConfig = CONFIG, lease: bool = False) -> list[Any]:
        return rebuild_feeds(
            categories,
            config=config,
            store=self.store,
            objects=self.objects,
            publisher=self.publisher,
            lease=self.store if lease else None,
        )


def test_first_build_writes_the_feed_and_announces_every_guid() -> None:
    world = World()
    world.store.episodes["podcast"] = [episode(1), episode(2)]
    (result,) = world.rebuild("podcast")
    assert result.written and result.item_count == 2
    assert world.objects.writes == [("podcast/feed.xml", CONTENT_TYPE, CACHE_CONTROL)]
    assert CONTENT_TYPE == "application/rss+xml; charset=utf-8"
    (detail_type, detail), *_ = world.publisher.events
    assert detail_type == DetailType.FEED_UPDATED
    validate_detail(DetailType.FEED_UPDATED, detail)
    assert detail["guids_added"] == ["https://example.com/podcast/2-x", "https://example.com/podcast/1-x"]
    assert detail["guids_removed"] == detail["guids_changed"] == []
    assert detail["item_count"] == 2
    assert detail["url"] == "https://example.com/podcast/feed.xml"
    assert detail["sha256"] == result.sha256
    assert detail["warning_count"] == 2  # sponsor.html is missing for both
    assert not detail["guids_truncated"]


def test_unchanged_bytes_are_neither_written_nor_announced() -> None:
    world = World()
    world.store.episodes["podcast"] = [episode(1)]
    world.rebuild("podcast")
    (again,) = world.rebuild("podcast", "podcast")  # named twice, rebuilt once
    assert not again.written
    assert len(world.objects.writes) == 1
    assert len(world.publisher.events) == 1
    assert world.store.queried == ["podcast", "podcast"]


def test_changes_are_announced_by_guid() -> None:
    world = World()
    world.store.episodes["podcast"] = [episode(1), episode(2), episode(3)]
    world.rebuild("podcast")
    world.store.episodes["podcast"] = [episode(1), replace(episode(2), title="Better title"), episode(4)]
    (result,) = world.rebuild("podcast")
    detail = world.publisher.events[-1][1]
    validate_detail(DetailType.FEED_UPDATED, detail)
    assert detail["guids_added"] == ["https://example.com/podcast/4-x"]
    assert detail["guids_removed"] == ["https://example.com/podcast/3-x"]
    assert detail["guids_changed"] == ["https://example.com/podcast/2-x"]
    assert result.diff.changed == ("https://example.com/podcast/2-x",)


def test_notes_rendered_anew_rewrite_their_item() -> None:
    world = World()
    world.store.episodes["podcast"] = [episode(1), episode(2)]
    world.rebuild("podcast")
    sponsored = replace(episode(1), notes_html="<p>Notes: <b>Sponsor</b></p>\n", problems=())
    world.store.episodes["podcast"] = [sponsored, episode(2)]
    (result,) = world.rebuild("podcast")
    assert result.written and result.diff.changed == ("https://example.com/podcast/1-x",)
    assert b"<b>Sponsor</b>" in world.objects.objects["podcast/feed.xml"]
    assert world.publisher.events[-1][1]["warning_count"] == 1


def test_categories_without_a_feed_are_skipped(caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    caplog.set_level("INFO")
    assert world.rebuild("blog") == []
    assert world.store.queried == [] and world.objects.writes == []
    assert "no feed configured for category 'blog'" in caplog.text


def test_a_held_lease_stops_the_rebuild_and_a_finished_one_is_released() -> None:
    world = World()
    world.store.episodes["podcast"] = [episode(1)]
    world.store.leases.add("feed#podcast")
    with pytest.raises(LeaseBusy):
        world.rebuild("podcast", lease=True)
    assert world.store.queried == [] and world.objects.writes == []
    world.store.leases.clear()
    world.rebuild("podcast", lease=True)
    assert world.objects.writes and world.store.leases == set()


def test_guid_lists_of_huge_first_builds_are_cut_to_fit_an_event() -> None:
    world = World()
    world.store.episodes["podcast"] = [
        replace(
            episode(n % 28 + 1), id=f"podcast/{n}", slug=f"{n}", permalink=f"https://example.com/p/{n:0100d}"
        )
        for n in range(3000)
    ]
    world.rebuild("podcast")
    detail = world.publisher.events[-1][1]
    validate_detail(DetailType.FEED_UPDATED, detail)
    assert detail["guids_truncated"] is True
    assert detail["counts"]["added"] == 3000
    assert len(json.dumps(detail)) < 256_000


# --- the S3 adapter, over HTTP against moto's server -----------------------------------------------


@pytest.fixture
def s3_objects(moto_endpoint: str, aws_env: None) -> S3FeedObjects:
    import boto3

    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="feeds-test")
    return S3FeedObjects(client, "feeds-test")


def test_s3_feed_objects_round_trip(s3_objects: S3FeedObjects) -> None:
    assert s3_objects.read("podcast/feed.xml") is None
    s3_objects.write("podcast/feed.xml", b"<rss/>", CONTENT_TYPE, CACHE_CONTROL)
    assert s3_objects.read("podcast/feed.xml") == b"<rss/>"
    head = s3_objects._s3.head_object(Bucket="feeds-test", Key="podcast/feed.xml")
    assert head["ContentType"] == CONTENT_TYPE
    assert head["CacheControl"] == CACHE_CONTROL


# --- the handler: one rebuild per category per batch, failures mapped back to records ------------


@pytest.fixture
def feed_handler(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "PodcastPipeline")
    path = Path(__file__).resolve().parents[1] / "functions" / "feed" / "handler.py"
    spec = importlib.util.spec_from_file_location("feed_handler_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


class Context:
    function_name = "feed"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:feed"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def sqs_event(*bodies: Any) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": "r",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:feed",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def episode_event(event_id: str, category: str) -> dict[str, Any]:
    return {"id": event_id, "detail-type": "Episode Published", "detail": {"category": category}}


def test_handler_rebuilds_each_category_once_and_fails_only_its_records(
    feed_handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World()
    world.store.episodes = {"podcast": [episode(1)], "interviews": [episode(2, category="interviews")]}
    world.store.leases.add("feed#interviews")  # another invocation is rebuilding it
    deps = feed_handler._Dependencies(CONFIG, world.store, world.objects, world.publisher)
    monkeypatch.setattr(feed_handler, "_dependencies", lambda: deps)
    event = sqs_event(
        episode_event("e1", "podcast"),
        episode_event("e2", "interviews"),
        episode_event("e3", "podcast"),
        "not json",
        episode_event("e4", "blog"),
    )
    response = feed_handler.handler(event, Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert world.store.queried == ["podcast"]
    assert [key for key, _, _ in world.objects.writes] == ["podcast/feed.xml"]
    assert world.store.leases == {"feed#interviews"}
