"""Event contracts: the schemas in events/schemas/, the samples in events/ and the code that emits details."""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import string
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import pytest
from event_contracts import (
    SCHEMA_DIR,
    SCHEMA_FILES,
    envelope,
    load_schema,
    validate_detail,
    validate_event,
    validator,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator, Draft202012Validator, ValidationError

from podcast_pipeline.audio.measure import AudioFacts
from podcast_pipeline.config import load_config
from podcast_pipeline.decision import MeasuredAudio, ParsedPost, decide
from podcast_pipeline.episode import SCHEMA_VERSION, Episode, SourceRef, State
from podcast_pipeline.feed.changes import FeedDiff
from podcast_pipeline.feed.render import RenderedFeed
from podcast_pipeline.feed.service import feed_updated_detail
from podcast_pipeline.posts import parse_post
from podcast_pipeline.problems import Code, Problem, Severity, error, warning
from podcast_pipeline.routes import EVENT_SOURCE, INGEST, DetailType

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
CONFIG = load_config(ROOT / "tests" / "data" / "runninginproduction.yaml")
BUCKET = "podcast-pipeline-content"
EPISODE_TYPES = [
    DetailType.EPISODE_PUBLISHED,
    DetailType.EPISODE_UPDATED,
    DetailType.EPISODE_UNPUBLISHED,
    DetailType.EPISODE_VERIFICATION_FAILED,
]
POST_KEY = re.compile(r"^_posts/(?P<category>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})-(?P<slug>[^/]+)\.md$")
MULTIPART_CHUNK = 8 * 1024 * 1024  # boto3's default multipart_chunksize


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return data


SAMPLES = sorted(p.name for p in EVENTS.glob("*.json"))
OUR_SAMPLES = [name for name in SAMPLES if load(name).get("source") == EVENT_SOURCE]
S3_SAMPLES = [name for name in SAMPLES if load(name).get("source") == "aws.s3"]


def schema_nodes(node: Any) -> list[dict[str, Any]]:
    """Every object inside a schema document."""
    if isinstance(node, dict):
        return [node, *(n for value in node.values() for n in schema_nodes(value))]
    if isinstance(node, list):
        return [n for value in node for n in schema_nodes(value)]
    return []


def seq_key(sequencer: str) -> str:
    return sequencer.upper().rjust(32, "0")


# --- the schemas themselves ----------------------------------------------------------------------------


def test_every_detail_type_has_exactly_one_schema_file() -> None:
    assert set(SCHEMA_FILES) == {str(t) for t in DetailType}
    assert sorted(SCHEMA_FILES.values()) == sorted(p.name for p in SCHEMA_DIR.glob("*.json"))


@pytest.mark.parametrize("detail_type", list(DetailType))
def test_schema_is_valid_draft4_and_valid_2020_12(detail_type: DetailType) -> None:
    schema = load_schema(detail_type)
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"
    Draft4Validator.check_schema(schema)
    Draft202012Validator.check_schema(schema)
    assert type(validator(detail_type)) is Draft4Validator


@pytest.mark.parametrize("detail_type", list(DetailType))
def test_schema_uses_only_keywords_that_mean_the_same_in_draft4_and_2020_12(detail_type: DetailType) -> None:
    newer = {
        "const", "$defs", "$id", "$anchor", "$dynamicRef", "if", "then", "else", "prefixItems", "contains",
        "propertyNames", "dependentRequired", "dependentSchemas", "unevaluatedProperties", "unevaluatedItems",
        "exclusiveMinimum", "exclusiveMaximum", "examples", "format",
    }  # fmt: skip
    nodes = schema_nodes(load_schema(detail_type))
    used = {key for node in nodes for key in node}
    assert not used & newer
    refs = [node["$ref"] for node in nodes if "$ref" in node]
    assert refs and all(
        ref.startswith("#/definitions/") for ref in refs
    )  # self-contained: no cross-file refs
    assert all(len(node) == 1 for node in nodes if "$ref" in node)  # draft-04 ignores a $ref's siblings


@pytest.mark.parametrize("detail_type", list(DetailType))
def test_envelope_pins_detail_type_and_source(detail_type: DetailType) -> None:
    schema = load_schema(detail_type)
    assert schema["title"] == detail_type
    assert schema["properties"]["detail-type"]["enum"] == [detail_type]
    assert schema["properties"]["source"]["enum"] == [EVENT_SOURCE]
    assert set(schema["required"]) == {
        "version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail",
    }  # fmt: skip


def test_episode_detail_definition_is_identical_in_the_four_episode_schemas() -> None:
    schemas = [load_schema(t) for t in EPISODE_TYPES]
    first = schemas[0]
    assert set(first["definitions"]) == {"EpisodeDetail", "SourceRef"}
    for schema in schemas:
        assert schema["definitions"] == first["definitions"]
        assert schema["properties"]["detail"] == {"$ref": "#/definitions/EpisodeDetail"}
        without_titles = {k: v for k, v in schema.items() if k not in ("title", "description", "properties")}
        assert without_titles == {
            k: v for k, v in first.items() if k not in ("title", "description", "properties")
        }


def episode_detail_schema() -> dict[str, Any]:
    definition: dict[str, Any] = load_schema(DetailType.EPISODE_PUBLISHED)["definitions"]["EpisodeDetail"]
    return definition


def test_episode_schema_enums_follow_the_code() -> None:
    props = episode_detail_schema()["properties"]
    assert props["schema_version"]["enum"] == [SCHEMA_VERSION]
    assert set(props["state"]["enum"]) == {s.value for s in State}
    problem = props["problems"]["items"]["properties"]
    assert set(problem["severity"]["enum"]) == {s.value for s in Severity}


@pytest.mark.parametrize("code", list(Code))
def test_every_problem_code_is_allowed(code: Code) -> None:
    schema = episode_detail_schema()["properties"]["problems"]["items"]["properties"]["code"]
    Draft4Validator(schema).validate(code.value)


def sample_episode() -> Episode:
    return Episode(
        id="podcast/1-x", category="podcast", slug="1-x", date="2020-01-01", state=State.PUBLISHED,
        audio_key="a.mp3", audio_url="https://e.test/a.mp3", post=SourceRef("p.md"), audio=SourceRef("a.mp3"),
    )  # fmt: skip


def test_schema_describes_exactly_the_fields_the_code_emits() -> None:
    schema = episode_detail_schema()
    detail = sample_episode().event_detail(detail_type=DetailType.EPISODE_PUBLISHED, revision=1)
    assert set(schema["required"]) == set(schema["properties"]) == set(detail)
    source_ref = load_schema(DetailType.EPISODE_PUBLISHED)["definitions"]["SourceRef"]
    assert set(source_ref["required"]) == set(source_ref["properties"]) == set(SourceRef("k").to_dict())


# --- samples -------------------------------------------------------------------------------------------


def test_there_is_one_sample_per_detail_type() -> None:
    assert sorted(load(name)["detail-type"] for name in OUR_SAMPLES) == sorted(str(t) for t in DetailType)


@pytest.mark.parametrize("name", OUR_SAMPLES)
def test_our_sample_validates(name: str) -> None:
    event = load(name)
    validate_event(event)
    Draft202012Validator(load_schema(event["detail-type"])).validate(event)  # same verdict under 2020-12


@pytest.mark.parametrize("name", OUR_SAMPLES)
def test_our_sample_is_rejected_by_the_other_schemas(name: str) -> None:
    event = load(name)
    for other in DetailType:
        if other != event["detail-type"]:
            with pytest.raises(ValidationError):
                validator(other).validate(event)


def episode_from_detail(detail: dict[str, Any]) -> Episode:
    audio = detail["audio"]
    return Episode(
        id=detail["id"],
        category=detail["category"],
        slug=detail["slug"],
        date=detail["date"],
        state=State(detail["state"]),
        number=detail["number"],
        title=detail["title"],
        permalink=detail["permalink"],
        audio_key=audio["key"] if audio else None,
        audio_url=audio["url"] if audio else None,
        claimed=detail["claimed"],
        measured=detail["measured"],
        problems=tuple(Problem.from_dict(p) for p in detail["problems"]),
        post=SourceRef.from_dict(detail["sources"]["post"]) if detail["sources"]["post"] else None,
        audio=SourceRef.from_dict(detail["sources"]["audio"]) if detail["sources"]["audio"] else None,
    )


@pytest.mark.parametrize("name", [n for n in OUR_SAMPLES if n.startswith("episode-")])
def test_episode_sample_is_exactly_what_the_code_emits(name: str) -> None:
    event = load(name)
    detail = event["detail"]
    emitted = episode_from_detail(detail).event_detail(
        detail_type=event["detail-type"], revision=detail["revision"]
    )
    assert emitted == detail


def test_samples_carry_the_idempotency_key_of_what_they_mean() -> None:
    keys = {}
    for name in OUR_SAMPLES:
        event = load(name)
        detail = event["detail"]
        if event["detail-type"] == DetailType.FEED_UPDATED:
            assert detail["idempotency_key"] == f"{detail['category']}#{detail['sha256']}"
        else:
            assert detail["idempotency_key"] == f"{detail['id']}#{detail['revision']}#{event['detail-type']}"
        keys[name] = detail["idempotency_key"]
    assert len(set(keys.values())) == len(keys)
    # One history: published at the post's first version, updated at its second, unpublished by its delete.
    revisions = [
        load(f"episode-{n}.json")["detail"]["revision"] for n in ("published", "updated", "unpublished")
    ]
    assert revisions == sorted(set(revisions))


def test_episode_samples_follow_the_corpus_conventions() -> None:
    for name in OUR_SAMPLES:
        detail = load(name)["detail"]
        if "slug" not in detail:
            continue
        match = POST_KEY.fullmatch(detail["sources"]["post"]["key"])
        assert match and match["slug"] == detail["slug"] and match["date"] == detail["date"]
        assert detail["id"] == f"{detail['category']}/{detail['slug']}"
        assert detail["permalink"] == CONFIG.permalink(category=detail["category"], slug=detail["slug"])
        assert detail["audio"]["key"] == CONFIG.audio_key(number=detail["number"])
        assert detail["audio"]["url"] == CONFIG.audio_url(number=detail["number"])


def source_ref_of(s3_event: dict[str, Any]) -> dict[str, Any]:
    obj = s3_event["detail"]["object"]
    return {
        "key": unquote_plus(obj["key"]),
        "version_id": obj.get("version-id"),
        "etag": obj.get("etag"),
        "sequencer": obj.get("sequencer"),
        "size": obj.get("size"),
    }


def test_episode_samples_point_at_the_s3_samples() -> None:
    created_post = source_ref_of(load("s3-object-created-post.json"))
    created_mp3 = source_ref_of(load("s3-object-created-mp3.json"))
    deleted_post = source_ref_of(load("s3-object-deleted-post.json"))
    for name in ("episode-published.json", "episode-verification-failed.json"):
        assert load(name)["detail"]["sources"] == {"post": created_post, "audio": created_mp3}
    assert load("episode-unpublished.json")["detail"]["sources"] == {
        "post": deleted_post,
        "audio": created_mp3,
    }
    updated = load("episode-updated.json")["detail"]["sources"]
    assert updated["post"]["key"] == created_post["key"]
    assert updated["post"]["version_id"] != created_post["version_id"]
    assert seq_key(updated["post"]["sequencer"]) > seq_key(created_post["sequencer"])


def test_verification_failed_sample_says_how_to_fix_the_bytes() -> None:
    event = load("episode-verification-failed.json")
    detail = event["detail"]
    assert detail["state"] == State.FAILED
    mismatch = next(p for p in detail["problems"] if p["code"] == Code.BYTES_MISMATCH)
    assert mismatch["severity"] == Severity.ERROR
    assert mismatch["fix"] == {"mp3_bytes": str(detail["measured"]["bytes"])}
    assert detail["claimed"]["mp3_bytes"] != mismatch["fix"]["mp3_bytes"]


def test_feed_sample_follows_the_site_configuration() -> None:
    detail = load("feed-updated.json")["detail"]
    assert detail["key"] == CONFIG.feeds[detail["category"]].key
    assert detail["url"] == CONFIG.feed_url(detail["category"])
    published = load("episode-published.json")["detail"]
    assert detail["guids_added"] == [published["permalink"]]


# --- the schema is strict where it matters and open where it may grow ---------------------------------


def published() -> dict[str, Any]:
    return load("episode-published.json")


@pytest.mark.parametrize("field", episode_detail_schema()["required"])
def test_every_episode_field_is_required(field: str) -> None:
    event = published()
    del event["detail"][field]
    with pytest.raises(ValidationError):
        validate_event(event)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("schema_version",), "2"),
        (("schema_version",), 1),
        (("id",), "54-paparazzi"),
        (("number",), "54"),
        (("number",), -1),
        (("date",), "26/10/2020"),
        (("date",), "2020-10-26T00:00:00Z"),
        (("state",), "live"),
        (("claimed",), {"mp3_bytes": "59259264"}),
        (("claimed", "mp3_bytes"), 59259264),
        (("measured", "bytes"), "59259264"),
        (("measured", "bytes"), 1.5),
        (("measured", "duration_seconds"), "1:01:43"),
        (("measured", "sample_rate"), "44.1 kHz"),
        (("problems",), {}),
        (("problems",), [{"code": "bytes_mismatch", "severity": "fatal", "message": "m"}]),
        (("problems",), [{"code": "Bytes Mismatch", "severity": "error", "message": "m"}]),
        (("problems",), [{"code": "bytes_mismatch", "severity": "error", "message": ""}]),
        (("problems",), [{"code": "bytes_mismatch", "severity": "error"}]),
        (("problems",), [{"code": "bytes_mismatch", "severity": "error", "message": "m", "fix": {}}]),
        (
            ("problems",),
            [{"code": "bytes_mismatch", "severity": "error", "message": "m", "fix": {"mp3_bytes": 1}}],
        ),
        (("permalink",), "/podcast/54"),
        (("audio", "url"), None),
        (("audio", "bytes"), "59259264"),
        (("audio",), {"key": "a.mp3"}),
        (("sources",), {"post": None}),
        (("sources", "post", "size"), "2798"),
        (("sources", "post", "sequencer"), "not-hex"),
        (("sources", "audio"), {"key": ""}),
        (("revision",), 0),
        (("revision",), "1"),
        (("revision",), 1.5),
        (("idempotency_key",), ""),
        (("idempotency_key",), "bd0fe5ac-983c-419c-9d4c-89381f742ba5"),  # an envelope id is no key
        (("idempotency_key",), "podcast/54-x#0#Episode Published"),
        (("idempotency_key",), "podcast/54-x#1#Feed Updated"),
        (("idempotency_key",), "podcast/54-x#1"),
    ],
)
def test_wrong_episode_values_are_rejected(path: tuple[str, ...], value: Any) -> None:
    event = published()
    target = event["detail"]
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    with pytest.raises(ValidationError):
        validate_event(event)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", "1"),
        ("id", "not-a-uuid"),
        ("source", "aws.s3"),
        ("account", "1234"),
        ("time", "2020-10-26 11:58:05"),
        ("region", "US East"),
        ("resources", "arn:aws:s3:::podcast-pipeline-content"),
        ("detail", None),
    ],
)
def test_wrong_envelopes_are_rejected(field: str, value: Any) -> None:
    event = published()
    event[field] = value
    with pytest.raises(ValidationError):
        validate_event(event)


def test_unknown_detail_type_is_rejected() -> None:
    event = published()
    event["detail-type"] = "Episode Deleted"
    with pytest.raises(ValidationError, match="no schema"):
        validate_event(event)


def test_the_contract_only_grows_new_fields_are_accepted_everywhere() -> None:
    event = published()
    event["replay-name"] = "replay-1"
    detail = event["detail"]
    detail["guest"] = "Dan Purcell"
    detail["claimed"]["explicit"] = "no"
    detail["measured"]["requests"] = 1
    detail["audio"]["mime_type"] = "audio/mpeg"
    detail["sources"]["post"]["storage_class"] = "STANDARD"
    detail["sources"]["transcript"] = None
    detail["problems"] = [
        {
            "code": "a_code_from_next_year",
            "severity": "warning",
            "message": "m",
            "fix": {"summary": "s"},
            "hint": "h",
        }
    ]
    validate_event(event)


def test_feed_updated_rejects_a_bad_digest_and_duplicate_guids() -> None:
    event = load("feed-updated.json")
    bad_digest = copy.deepcopy(event)
    bad_digest["detail"]["sha256"] = "A1" * 32
    with pytest.raises(ValidationError):
        validate_event(bad_digest)
    duplicates = copy.deepcopy(event)
    duplicates["detail"]["guids_changed"] = ["g", "g"]
    with pytest.raises(ValidationError):
        validate_event(duplicates)
    for key in ("", event["id"], event["detail"]["sha256"], "podcast#" + "A1" * 32):
        bad_key = copy.deepcopy(event)
        bad_key["detail"]["idempotency_key"] = key
        with pytest.raises(ValidationError):
            validate_event(bad_key)
    for field in load_schema(DetailType.FEED_UPDATED)["definitions"]["FeedDetail"]["required"]:
        missing = copy.deepcopy(event)
        del missing["detail"][field]
        with pytest.raises(ValidationError):
            validate_event(missing)


def test_feed_service_emits_a_valid_detail() -> None:
    guids = tuple(CONFIG.permalink(category="podcast", slug=f"{n}-episode") for n in range(3))
    xml = b"<rss/>"
    rendered = RenderedFeed(xml, hashlib.sha256(xml).hexdigest(), guids, ())
    detail = feed_updated_detail(
        "podcast",
        "podcast/feed.xml",
        CONFIG.feed_url("podcast"),
        rendered,
        FeedDiff(guids[:1], (), guids[1:]),
    )
    validate_detail(DetailType.FEED_UPDATED, detail)
    assert detail["guids_added"] == [guids[0]] and detail["counts"] == {
        "added": 1,
        "removed": 0,
        "changed": 2,
    }
    assert detail["idempotency_key"] == f"podcast#{hashlib.sha256(xml).hexdigest()}"


def test_feed_service_detail_with_cut_short_guid_lists_is_valid() -> None:
    guids = tuple(f"https://runninginproduction.com/podcast/{n}-{'x' * 200}" for n in range(5000))
    rendered = RenderedFeed(b"", hashlib.sha256(b"").hexdigest(), guids, ())
    detail = feed_updated_detail(
        "podcast", "podcast/feed.xml", CONFIG.feed_url("podcast"), rendered, FeedDiff(guids, (), ())
    )
    validate_detail(DetailType.FEED_UPDATED, detail)
    assert detail["guids_truncated"] is True
    assert len(detail["guids_added"]) < detail["counts"]["added"] == detail["item_count"] == 5000


def test_validate_detail_wraps_a_detail_in_an_envelope() -> None:
    detail = published()["detail"]
    validate_detail(DetailType.EPISODE_UPDATED, detail)
    assert envelope(DetailType.EPISODE_UPDATED, detail)["source"] == EVENT_SOURCE
    with pytest.raises(ValidationError):
        validate_detail(DetailType.FEED_UPDATED, detail)


# --- Episode.event_detail() keeps the contract ---------------------------------------------------------

POST = "_posts/podcast/2020-10-26-54-paparazzi-accessories-is-an-e-commerce-store-that-sells-jewelry.md"
SLUG = "54-paparazzi-accessories-is-an-e-commerce-store-that-sells-jewelry"
MP3 = "assets/podcast/running-in-production-54.mp3"
MEASURED = {
    "bytes": 59259264,
    "duration_seconds": 3703.704,
    "header": "info",
    "bitrate_mode": "cbr",
    "bitrate": 128000,
}


def podcast_episode(state: State, **changes: Any) -> Episode:
    fields: dict[str, Any] = {
        "id": f"podcast/{SLUG}",
        "category": "podcast",
        "slug": SLUG,
        "date": "2020-10-26",
        "state": state,
        "number": 54,
        "title": "Paparazzi Accessories Is an E-commerce Store That Sells Jewelry",
        "permalink": CONFIG.permalink(category="podcast", slug=SLUG),
        "audio_key": MP3,
        "audio_url": CONFIG.audio_url(number=54),
        "claimed": {"mp3_bytes": "59259264", "mp3_duration": "1:01:43"},
        "measured": dict(MEASURED),
        "post": SourceRef(POST, "v1", "5943feb4bc250cbdeb991d7890456800", "005F96B52B7E0D1A33", 2798),
        "audio": SourceRef(MP3, "v2", "7f125d4bc68f1d50efdc99901a248323-8", "005F96B3D9A1C2E4F0", 59259264),
        "front_matter": {"guest": "Dan Purcell"},
        "body": "Show notes with {{ page.guest }}",
    }
    fields.update(changes)
    return Episode(**fields)


TEXT_ONLY = Episode(
    id="interviews/1-100k-page-views",
    category="interviews",
    slug="1-100k-page-views",
    date="2019-10-13",
    state=State.PUBLISHED,
    number=1,
    title="100k+ Page Views a Month for $5 with a Self Hosted Static Site",
    permalink="https://runninginproduction.com/interviews/1-100k-page-views",
    claimed={"mp3_bytes": None, "mp3_duration": None},
    post=SourceRef(
        "_posts/interviews/2019-10-13-1-100k-page-views.md", None, "6ffc296f", "005DA2F1C0B7E4A963", 17086
    ),
)

EPISODES: dict[str, tuple[Episode, DetailType]] = {
    "published": (podcast_episode(State.PUBLISHED), DetailType.EPISODE_PUBLISHED),
    "updated": (podcast_episode(State.PUBLISHED, title="A new title"), DetailType.EPISODE_UPDATED),
    "failed": (
        podcast_episode(
            State.FAILED,
            claimed={"mp3_bytes": "59143212", "mp3_duration": "1:01:44"},
            problems=(
                error(
                    Code.BYTES_MISMATCH,
                    "mp3_bytes is 59143212 but the MP3 is 59259264 bytes",
                    fix={"mp3_bytes": "59259264"},
                    key=POST,
                ),
                warning(Code.DURATION_ROUNDING, "truncate, do not round", fix={"mp3_duration": "1:01:43"}),
            ),
        ),
        DetailType.EPISODE_VERIFICATION_FAILED,
    ),
    "text-only": (TEXT_ONLY, DetailType.EPISODE_PUBLISHED),
    "unpublished": (
        podcast_episode(State.UNPUBLISHED, post=SourceRef(POST, "v3", None, "0060A1C3F2D5E69B40", None)),
        DetailType.EPISODE_UNPUBLISHED,
    ),
    "awaiting-audio": (
        podcast_episode(
            State.AWAITING_AUDIO, measured=None, audio=None, problems=(error(Code.AUDIO_MISSING, "no MP3"),)
        ),
        DetailType.EPISODE_UPDATED,
    ),
    "awaiting-post": (
        podcast_episode(
            State.AWAITING_POST, title=None, claimed={"mp3_bytes": None, "mp3_duration": None}, post=None
        ),
        DetailType.EPISODE_UPDATED,
    ),
}


@pytest.mark.parametrize("case", list(EPISODES))
def test_episode_event_detail_validates(case: str) -> None:
    episode, detail_type = EPISODES[case]
    detail = episode.event_detail(detail_type=detail_type, revision=3)
    validate_detail(detail_type, detail)
    assert "front_matter" not in detail and "body" not in detail  # show notes stay out of events
    assert detail["revision"] == 3
    assert detail["idempotency_key"] == f"{episode.id}#3#{detail_type}"


def test_the_idempotency_key_names_the_episode_the_revision_and_the_detail_type() -> None:
    episode = EPISODES["failed"][0]
    keys = {
        (revision, detail_type): episode.event_detail(detail_type=detail_type, revision=revision)[
            "idempotency_key"
        ]
        for revision in (1, 2)
        for detail_type in (DetailType.EPISODE_UNPUBLISHED, DetailType.EPISODE_VERIFICATION_FAILED)
    }
    assert len(set(keys.values())) == 4  # one revision can emit two events: the detail-type tells them apart
    again = episode.event_detail(detail_type=DetailType.EPISODE_UNPUBLISHED, revision=1)["idempotency_key"]
    assert again == keys[1, DetailType.EPISODE_UNPUBLISHED]  # the same decision, the same key


def test_an_episode_outside_an_event_has_no_key_and_a_key_needs_both_parts() -> None:
    detail = EPISODES["published"][0].event_detail()  # report.json's view of an episode
    assert "revision" not in detail and "idempotency_key" not in detail
    with pytest.raises(ValueError, match="detail-type and the revision"):
        EPISODES["published"][0].event_detail(revision=1)
    with pytest.raises(ValueError, match="detail-type and the revision"):
        EPISODES["published"][0].event_detail(detail_type=DetailType.EPISODE_PUBLISHED)


def test_failed_episode_detail_carries_its_fixes() -> None:
    detail = EPISODES["failed"][0].event_detail()
    assert [p["code"] for p in detail["problems"]] == ["bytes_mismatch", "duration_rounding"]
    assert detail["problems"][0]["fix"] == {"mp3_bytes": "59259264"}
    assert detail["problems"][0]["key"] == POST


def test_text_only_episode_detail_has_no_audio() -> None:
    detail = EPISODES["text-only"][0].event_detail()
    assert detail["audio"] is None and detail["measured"] is None and detail["sources"]["audio"] is None
    assert detail["sources"]["post"]["version_id"] is None


def test_published_episode_detail_carries_the_verified_audio_facts() -> None:
    detail = EPISODES["published"][0].event_detail()
    assert detail["audio"] == {
        "key": MP3,
        "url": "https://runninginproduction.com/assets/podcast/running-in-production-54.mp3",
        "bytes": 59259264,
        "duration_seconds": 3703.704,
    }


POST_TEXT = """---
title: "Paparazzi Accessories Is an E-commerce Store That Sells Jewelry"
category: "podcast"
mp3_bytes: "{mp3_bytes}"
mp3_duration: "1:01:43"
---
Show notes with {{{{ page.guest }}}}.
"""


@pytest.mark.parametrize(
    ("mp3_bytes", "measured", "detail_type"),
    [
        ("59259264", True, DetailType.EPISODE_PUBLISHED),
        ("59143212", True, DetailType.EPISODE_VERIFICATION_FAILED),
        ("59259264", False, DetailType.EPISODE_UPDATED),
    ],
)
def test_verified_episode_detail_validates(mp3_bytes: str, measured: bool, detail_type: DetailType) -> None:
    post = parse_post(POST, POST_TEXT.format(mp3_bytes=mp3_bytes).encode())
    facts = AudioFacts(59259264, 3703.704, "info", "cbr", 128000, 44100, 2, 0, 65536, 1, False)
    post_ref = SourceRef(POST, "v1", "5943feb4bc250cbdeb991d7890456800", "005F96B52B7E0D1A33", 2798)
    audio_ref = SourceRef(MP3, "v2", "7f125d4bc68f1d50efdc99901a248323-8", "005F96B3D9A1C2E4F0", 59259264)
    audio = MeasuredAudio(facts, audio_ref) if measured else None
    episode = decide(ParsedPost(post, post_ref), audio, CONFIG, None).episode
    detail = episode.event_detail(detail_type=detail_type, revision=1)
    validate_detail(detail_type, detail)
    assert (
        detail["state"]
        == {
            DetailType.EPISODE_PUBLISHED: State.PUBLISHED,
            DetailType.EPISODE_VERIFICATION_FAILED: State.FAILED,
            DetailType.EPISODE_UPDATED: State.AWAITING_AUDIO,
        }[detail_type]
    )


def test_episode_of_an_unreadable_post_emits_a_valid_detail() -> None:
    episode = Episode(
        id=f"podcast/{SLUG}",
        category="podcast",
        slug=SLUG,
        date="2020-10-26",
        number=54,
        state=State.FAILED,
        problems=(error(Code.INVALID_FRONT_MATTER, "the front-matter is not valid YAML", key=POST),),
        post=SourceRef(POST, "v1", "5943feb4bc250cbdeb991d7890456800", "005F96B52B7E0D1A33", 2798),
    )
    detail_type = DetailType.EPISODE_VERIFICATION_FAILED
    validate_detail(detail_type, episode.event_detail(detail_type=detail_type, revision=1))


segments = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="/"), min_size=1, max_size=30)
maybe_text = st.none() | st.text(max_size=30)
sizes = st.integers(min_value=0, max_value=2**40)
source_refs = st.builds(
    SourceRef,
    key=segments,
    version_id=st.none() | st.text(min_size=1, max_size=32),
    etag=maybe_text,
    sequencer=st.none() | st.text(alphabet=string.hexdigits, min_size=1, max_size=20),
    size=st.none() | sizes,
)
problems = st.builds(
    Problem,
    code=st.sampled_from(Code),
    severity=st.sampled_from(Severity),
    message=st.text(min_size=1, max_size=60),
    fix=st.none() | st.dictionaries(st.sampled_from(["mp3_bytes", "mp3_duration"]), st.text(max_size=10)),
    key=st.none() | segments,
)
measured = st.none() | st.fixed_dictionaries(
    {"bytes": sizes, "duration_seconds": st.floats(min_value=0, max_value=1e6, allow_nan=False)},
    optional={
        "header": st.none() | st.sampled_from(["xing", "info", "vbri", "none"]),
        "bitrate_mode": st.none() | st.sampled_from(["cbr", "abr", "vbr", "unknown"]),
        "bitrate": st.none() | st.integers(min_value=8000, max_value=320000),
        "sample_rate": st.none() | st.sampled_from([22050, 32000, 44100, 48000]),
        "channels": st.none() | st.sampled_from([1, 2]),
    },
)


@st.composite
def episodes(draw: st.DrawFn) -> Episode:
    """Any Episode the domain builds: ids `<category>/<slug>`, absolute urls, claims strings or null."""
    category, slug = draw(segments), draw(segments)
    has_audio = draw(st.booleans())
    return Episode(
        id=f"{category}/{slug}",
        category=category,
        slug=slug,
        date=draw(st.dates()).isoformat(),
        state=draw(st.sampled_from(State)),
        number=draw(st.none() | st.integers(min_value=0, max_value=10**6)),
        title=draw(maybe_text),
        permalink=draw(st.none() | st.builds(lambda s: f"https://example.com/{category}/{s}", segments)),
        audio_key=draw(segments) if has_audio else None,
        audio_url=f"https://example.com/{draw(segments)}.mp3" if has_audio else None,
        claimed={"mp3_bytes": draw(maybe_text), "mp3_duration": draw(maybe_text)},
        measured=draw(measured),
        problems=tuple(draw(st.lists(problems, max_size=4))),
        post=draw(st.none() | source_refs),
        audio=draw(st.none() | source_refs),
        front_matter=draw(st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3)),
        body=draw(st.text(max_size=20)),
    )


@settings(max_examples=200)
@given(
    episode=episodes(),
    detail_type=st.sampled_from(EPISODE_TYPES),
    revision=st.integers(min_value=1, max_value=2**53),
)
def test_any_valid_episode_emits_a_valid_detail(
    episode: Episode, detail_type: DetailType, revision: int
) -> None:
    detail = episode.event_detail(detail_type=detail_type, revision=revision)
    validate_detail(detail_type, detail)
    assert json.loads(json.dumps(detail)) == detail  # PutEvents sends JSON: nothing is lost on the way


# --- S3 notification samples (real AWS shapes) ---------------------------------------------------------


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge matching for the exact-value patterns of routes.py."""
    for field, wanted in pattern.items():
        if field not in event:
            return False
        if isinstance(wanted, dict):
            if not isinstance(event[field], dict) or not matches(wanted, event[field]):
                return False
        elif event[field] not in wanted:
            return False
    return True


def test_s3_samples_cover_create_delete_unversioned_and_encoded_keys() -> None:
    assert set(S3_SAMPLES) == {
        "s3-object-created-post.json",
        "s3-object-created-mp3.json",
        "s3-object-created-no-version-id.json",
        "s3-object-created-special-key.json",
        "s3-object-deleted-post.json",
        "s3-object-deleted-mp3.json",
    }


@pytest.mark.parametrize("name", S3_SAMPLES)
def test_s3_sample_has_the_aws_eventbridge_shape(name: str) -> None:
    event = load(name)
    assert event["version"] == "0"
    assert event["detail-type"] in ("Object Created", "Object Deleted")
    assert matches(INGEST.pattern(BUCKET), event)
    assert event["resources"] == [f"arn:aws:s3:::{BUCKET}"]
    assert re.fullmatch(r"\d{12}", event["account"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    detail = event["detail"]
    assert detail["version"] == "0"
    assert detail["bucket"] == {"name": BUCKET}
    for field in ("request-id", "requester", "source-ip-address", "reason"):
        assert isinstance(detail[field], str) and detail[field]
    obj = detail["object"]
    assert obj["key"] and " " not in obj["key"]
    assert re.fullmatch(r"[0-9A-Fa-f]+", obj["sequencer"])
    assert re.fullmatch(r"[0-9a-f]{32}(-\d+)?", obj["etag"])
    assert "eTag" not in obj  # moto's spelling, not AWS's


@pytest.mark.parametrize("name", [n for n in S3_SAMPLES if n.startswith("s3-object-created-")])
def test_s3_created_sample(name: str) -> None:
    detail = load(name)["detail"]
    obj = detail["object"]
    assert detail["reason"] in ("PutObject", "POST Object", "CopyObject", "CompleteMultipartUpload")
    assert "deletion-type" not in detail
    assert isinstance(obj["size"], int) and obj["size"] > 0
    if detail["reason"] == "CompleteMultipartUpload":
        assert obj["etag"].endswith(f"-{math.ceil(obj['size'] / MULTIPART_CHUNK)}")
    else:
        assert "-" not in obj["etag"]


@pytest.mark.parametrize("name", [n for n in S3_SAMPLES if n.startswith("s3-object-deleted-")])
def test_s3_deleted_sample_is_a_delete_marker_in_a_versioned_bucket(name: str) -> None:
    detail = load(name)["detail"]
    obj = detail["object"]
    assert detail["reason"] == "DeleteObject"
    assert detail["deletion-type"] == "Delete Marker Created"
    assert "size" not in obj
    assert obj["version-id"]
    assert obj["etag"] == "d41d8cd98f00b204e9800998ecf8427e"  # a delete marker has no content


def test_only_the_unversioned_sample_lacks_a_version_id() -> None:
    without = [name for name in S3_SAMPLES if "version-id" not in load(name)["detail"]["object"]]
    assert without == ["s3-object-created-no-version-id.json"]


def test_s3_sample_keys_follow_the_corpus_conventions() -> None:
    for name in S3_SAMPLES:
        key = unquote_plus(load(name)["detail"]["object"]["key"])
        assert POST_KEY.fullmatch(key) or key == CONFIG.audio_key(number=54), key
    assert unquote_plus(load("s3-object-created-mp3.json")["detail"]["object"]["key"]) == MP3


def test_special_key_is_url_encoded_the_way_aws_encodes_it() -> None:
    raw = load("s3-object-created-special-key.json")["detail"]["object"]["key"]
    key = unquote_plus(raw)
    assert " " in key and "+" in key and "%" in key
    assert any(ord(c) > 127 for c in key)
    assert raw.isascii() and " " not in raw
    assert quote_plus(key, safe="/") == raw
    assert POST_KEY.fullmatch(key)


@pytest.mark.parametrize("what", ["post", "mp3"])
def test_delete_sequencer_orders_after_the_create_of_the_same_key(what: str) -> None:
    created = load(f"s3-object-created-{what}.json")["detail"]["object"]
    deleted = load(f"s3-object-deleted-{what}.json")["detail"]["object"]
    assert created["key"] == deleted["key"]
    assert seq_key(deleted["sequencer"]) > seq_key(created["sequencer"])
