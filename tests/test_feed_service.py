"""Feed rebuilds against in-memory fakes, the S3 adapter on moto's server, and the handler's batch mapping."""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from event_contracts import validate_detail

from podcast_pipeline.config import SiteConfig, parse_config
from podcast_pipeline.episode import Episode, State
from podcast_pipeline.feed.s3_objects import S3FeedObjects
from podcast_pipeline.feed.service import (
    CACHE_CONTROL,
    CONTENT_TYPE,
    FeedRebuild,
    FeedResult,
    FeedStillBehind,
    rebuild_feeds,
)
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
            for name in ("podcast", "interviews", "news")
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
    """Episodes and a RebuildLedger in memory; `while_rendering` and `while_releasing` run in the middle."""

    episodes: dict[str, list[Episode]] = field(default_factory=dict)
    queried: list[str] = field(default_factory=list)
    requested: dict[str, int] = field(default_factory=dict)
    rendered: dict[str, int] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # category -> lease owner
    while_rendering: Any = None  # called with the category in each published_episodes, after the read
    while_releasing: Any = None  # called with the category just before each release

    def published_episodes(self, category: str) -> list[Episode]:
        self.queried.append(category)
        episodes = list(self.episodes.get(category, []))
        if self.while_rendering is not None:  # the render has read the episodes and goes on
            self.while_rendering(category)
        return episodes

    def request_rebuild(self, category: str) -> int:
        self.requested[category] = self.requested.get(category, 0) + 1
        return self.requested[category]

    def take_rebuild_lease(self, category: str, owner: str, expires: int) -> tuple[int, int] | None:
        assert expires > time.time()
        if self.owners.setdefault(category, owner) != owner:
            return None
        return self._generations(category)

    def mark_rendered(self, category: str, owner: str, generation: int) -> tuple[int, int] | None:
        if self.owners.get(category) != owner:
            return None
        self.rendered[category] = generation
        return self._generations(category)

    def release_rebuild_lease(self, category: str, owner: str) -> tuple[int, int]:
        if self.while_releasing is not None:
            self.while_releasing(category)
        if self.owners.get(category) == owner:
            del self.owners[category]
        return self._generations(category)

    def _generations(self, category: str) -> tuple[int, int]:
        return self.requested.get(category, 0), self.rendered.get(category, 0)


@dataclass
class FakeObjects:
    objects: dict[str, bytes] = field(default_factory=dict)
    writes: list[tuple[str, str, str]] = field(default_factory=list)

    def read(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def read_head(self, key: str, length: int) -> bytes | None:
        data = self.objects.get(key)
        return None if data is None else data[:length]

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

    def rebuild(self, *categories: str, config: SiteConfig = CONFIG) -> list[FeedResult]:
        """Render each feed once, without a ledger."""
        rebuilds = rebuild_feeds(
            categories, config=config, store=self.store, objects=self.objects, publisher=self.publisher
        )
        return [result for rebuild in rebuilds for result in rebuild.renders]

    def coalescing(self, category: str, **options: Any) -> FeedRebuild:
        """Ask for a rebuild of one feed through the store's ledger."""
        (rebuild,) = rebuild_feeds(
            [category],
            config=CONFIG,
            store=self.store,
            objects=self.objects,
            publisher=self.publisher,
            ledger=self.store,
            **options,
        )
        return rebuild


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


def test_a_free_lease_is_taken_rendered_under_and_released() -> None:
    world = World()
    world.store.episodes["podcast"] = [episode(1)]
    rebuild = world.coalescing("podcast")
    assert not rebuild.coalesced and len(rebuild.renders) == 1 and rebuild.renders[0].written
    assert world.store.requested == world.store.rendered == {"podcast": 1}
    assert world.store.owners == {}


def test_a_held_lease_coalesces_the_request_without_rendering(caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    caplog.set_level("INFO")
    world.store.episodes["podcast"] = [episode(1)]
    world.store.owners["podcast"] = "another invocation"
    rebuild = world.coalescing("podcast")
    assert rebuild.coalesced and rebuild.renders == ()
    assert world.store.queried == [] and world.objects.writes == []
    assert world.store.requested == {"podcast": 1} and world.store.rendered == {}
    assert world.store.owners == {"podcast": "another invocation"}
    (record,) = [r for r in caplog.records if "rebuild lease" in r.getMessage()]
    assert record.levelname == "INFO"


@pytest.mark.parametrize(
    "moment",
    [
        "while_rendering",  # the holder sees the request when it marks its render
        "while_releasing",  # after the holder's last mark, and the lease still held: its release shows it
    ],
)
def test_a_request_made_while_the_lease_is_held_is_rendered_in_another_round(moment: str) -> None:
    world = World()
    world.store.episodes["podcast"] = [episode(1)]
    triggered: list[str] = []

    def another_trigger(category: str) -> None:
        if not triggered:
            triggered.append(category)
            world.store.episodes["podcast"] = [episode(2), episode(1)]
            world.store.request_rebuild(category)

    setattr(world.store, moment, another_trigger)
    rebuild = world.coalescing("podcast")
    assert [result.item_count for result in rebuild.renders] == [1, 2]
    assert world.store.requested == world.store.rendered == {"podcast": 2}
    assert world.store.owners == {}
    assert b"2-x" in world.objects.objects["podcast/feed.xml"]


def test_a_holder_that_lost_its_lease_marks_nothing_and_asks_for_another_render(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World()
    world.store.episodes["podcast"] = [episode(1)]
    world.store.while_rendering = lambda category: world.store.owners.update({category: "took over"})
    rebuild = world.coalescing("podcast")
    assert len(rebuild.renders) == 1 and not rebuild.coalesced
    assert world.store.rendered == {}  # its render is not recorded as the new owner's
    assert world.store.requested == {"podcast": 2}  # the new owner renders again after this write
    assert world.store.owners == {"podcast": "took over"}
    assert "taken over" in caplog.text


def test_requests_that_outpace_the_renders_release_the_lease_and_raise() -> None:
    world = World()
    world.store.episodes["podcast"] = [episode(1)]
    world.store.while_rendering = world.store.request_rebuild  # a new request during every render
    with pytest.raises(FeedStillBehind) as raised:
        world.coalescing("podcast", max_rounds=3)
    assert len(raised.value.rebuild.renders) == 3
    assert world.store.owners == {}
    assert world.store.requested["podcast"] > world.store.rendered["podcast"]


def test_a_failed_render_releases_the_lease_and_raises() -> None:
    world = World()

    def broken(category: str) -> None:
        raise RuntimeError("the index is unreachable")

    world.store.while_rendering = broken
    with pytest.raises(RuntimeError, match="unreachable"):
        world.coalescing("podcast")
    assert world.store.owners == {}
    assert world.store.requested == {"podcast": 1} and world.store.rendered == {}


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


def test_s3_feed_objects_read_only_the_head_asked_for(s3_objects: S3FeedObjects) -> None:
    assert s3_objects.read_head("art/cover.png", 16) is None
    s3_objects.write("art/cover.png", bytes(range(256)) * 400, "image/png", CACHE_CONTROL)
    assert s3_objects.read_head("art/cover.png", 16) == bytes(range(16))
    s3_objects.write("art/tiny.png", b"abc", "image/png", CACHE_CONTROL)
    assert s3_objects.read_head("art/tiny.png", 16) == b"abc"


# --- the handler: one rebuild per category per batch, failures mapped back to records ------------


@pytest.fixture
def feed_handler(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    return load_feed_handler(monkeypatch)


def load_feed_handler(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """functions/feed/handler.py as a fresh module, its tracing off, until `monkeypatch` undoes it."""
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


def test_handler_rebuilds_each_category_once_and_fails_only_its_faults(
    feed_handler: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world = World()
    world.store.episodes = {"podcast": [episode(1)], "interviews": [episode(2, category="interviews")]}
    world.store.owners["interviews"] = "another invocation"  # which renders the interviews feed

    def news_is_broken(category: str) -> None:
        if category == "news":
            raise RuntimeError("the index is unreachable")

    world.store.while_rendering = news_is_broken
    deps = feed_handler._Dependencies(CONFIG, world.store, world.objects, world.publisher)
    monkeypatch.setattr(feed_handler, "_dependencies", lambda: deps)
    event = sqs_event(
        episode_event("e1", "podcast"),
        episode_event("e2", "interviews"),
        episode_event("e3", "podcast"),
        "not json",
        episode_event("e4", "blog"),
        episode_event("e5", "news"),
    )
    response = feed_handler.handler(event, Context())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m5"}]}
    assert world.store.queried == ["podcast", "news"]
    assert [key for key, _, _ in world.objects.writes] == ["podcast/feed.xml"]
    assert world.store.requested == {"podcast": 1, "interviews": 1, "news": 1}
    assert world.store.owners == {"interviews": "another invocation"}
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    counted = {
        (m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], m.get("category"))
        for m in metrics
        if "category" in m and "_aws" in m
    }
    assert counted == {("FeedRenders", "podcast"), ("FeedRebuildsCoalesced", "interviews")}


def test_feed_updated_carries_what_apple_would_reject_and_each_finding_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World()
    world.store.episodes["podcast"] = [episode(1)]
    with caplog.at_level("WARNING"):
        world.rebuild("podcast")
    detail = world.publisher.events[-1][1]
    validate_detail(DetailType.FEED_UPDATED, detail)
    codes = {finding["code"] for finding in detail["readiness"]}
    assert {Code.MISSING_IMAGE.value, Code.MISSING_OWNER_EMAIL.value} <= codes
    logged = [r for r in caplog.records if "feed readiness" in r.getMessage()]
    assert len(logged) == len(detail["readiness"])
    levels = {f["code"]: "ERROR" if f["severity"] == "error" else "WARNING" for f in detail["readiness"]}
    assert [r.levelname for r in logged] == [levels[f["code"]] for f in detail["readiness"]]
    assert all(r.getMessage().startswith("podcast/feed.xml: feed readiness: ") for r in logged)


def test_artwork_in_the_bucket_is_checked_from_its_header() -> None:
    from test_people_and_readiness import png

    config = parse_config(
        {
            "site": {"url": "https://example.com"},
            "audio": {"url_template": "https://example.com/{number}.mp3"},
            "feeds": {
                "podcast": {
                    "key": "podcast/feed.xml",
                    "title": "podcast",
                    "description": "d",
                    "link": "https://example.com/",
                    "image": "https://example.com/art/cover.png",
                }
            },
        }
    )
    world = World()
    world.store.episodes["podcast"] = [episode(1)]
    world.objects.objects["art/cover.png"] = png(600, 600) + bytes(100_000)
    world.rebuild("podcast", config=config)
    findings = world.publisher.events[-1][1]["readiness"]
    (size,) = [f for f in findings if f["code"] == Code.IMAGE_WRONG_SIZE.value]
    assert "600x600" in size["message"]
    assert Code.MISSING_IMAGE.value not in {f["code"] for f in findings}
