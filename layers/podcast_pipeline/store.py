"""The episode store: one DynamoDB table holding sources, audio links, episodes and feed rebuilds.

Items (pk / sk):
- `SOURCE#<key>` / `SOURCE`: the latest version of one S3 object (post or audio) and what was learnt from it.
- `AUDIO#<audio key>` / `POST#<post key>`: this post names this MP3 (so an MP3 upload finds its posts).
- `EPISODE#<id>` / `EPISODE`: the episode aggregate, its revision and the events not yet sent (outbox).
  Published episodes also carry `feed_pk`/`feed_sk`, the keys of the sparse `published` index.
- `EPISODE#<id>` / `LOCK`: held while one invocation decides, writes and announces the episode (its
  `owner` token and `lease_expires`), so concurrent changes of one episode never send its events twice.
- `LEASE#feed#<category>` / `REBUILD`: a feed's rebuild requests and its lease (see feed/service.py): the
  `requested` and `rendered` generations and, while a rebuild runs, its `owner` token and `lease_expires`
  (epoch seconds; not the TTL attribute: the generations must outlive every lease). The feed function may
  write only `LEASE#` items.

Writes are conditional: a source only moves forward in S3 `sequencer` order, and an episode only on the
revision it was computed from, so repeated or concurrent deliveries can never move state backwards.
"""

from __future__ import annotations

import contextlib
import json
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from podcast_pipeline.episode import Episode, SourceRecord, SourceRef, State, StoredEpisode
from podcast_pipeline.table import (
    PARTITION_KEY,
    PUBLISHED_INDEX,
    PUBLISHED_PARTITION_KEY,
    PUBLISHED_SORT_KEY,
    SORT_KEY,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

AttributeMap = dict[str, Any]
T = TypeVar("T")

# Writes that must not be left undone (see `_patiently`): attempts, on top of the SDK's, and first backoff.
PATIENT_ATTEMPTS = 5
PATIENT_BACKOFF_SECONDS = 0.05
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
    }
)

SOURCE = "SOURCE"
EPISODE = "EPISODE"
EPISODE_LOCK = "LOCK"
REBUILD = "REBUILD"
# Key prefixes, each spelt only here.
SOURCE_PREFIX = "SOURCE#"
EPISODE_PREFIX = "EPISODE#"
AUDIO_PREFIX = "AUDIO#"  # an audio file's links to the posts that name it: `AUDIO#<key>` / `POST#<key>`
POST_PREFIX = "POST#"
FEED_PREFIX = "FEED#"  # the published index's partitions
LEASE_PREFIX = "LEASE#"  # the feed rebuild items, the only items the feed function writes
# The attributes of a feed rebuild item.
REQUESTED = "requested"
RENDERED = "rendered"
OWNER = "owner"
LEASE_EXPIRES = "lease_expires"
_REBUILD_NAMES = {"#requested": REQUESTED, "#rendered": RENDERED, "#owner": OWNER, "#expires": LEASE_EXPIRES}


@dataclass(frozen=True)
class RebuildStatus:
    """A feed's rebuild item: generations requested and rendered, and the lease if one is held."""

    requested: int = 0
    rendered: int = 0
    owner: str | None = None
    lease_expires: int | None = None

    @property
    def generations(self) -> tuple[int, int]:
        return self.requested, self.rendered

    @classmethod
    def from_item(cls, item: AttributeMap) -> RebuildStatus:
        def number(name: str) -> int | None:
            return int(item[name]["N"]) if name in item else None

        return cls(
            requested=number(REQUESTED) or 0,
            rendered=number(RENDERED) or 0,
            owner=item[OWNER]["S"] if OWNER in item else None,
            lease_expires=number(LEASE_EXPIRES),
        )


def _s(value: str) -> AttributeMap:
    return {"S": value}


def _key(pk: str, sk: str) -> AttributeMap:
    return {PARTITION_KEY: _s(pk), SORT_KEY: _s(sk)}


def _rebuild_pk(category: str) -> str:
    return f"{LEASE_PREFIX}feed#{category}"


# Episode fields kept zlib-compressed in binary attributes of their own, outside `doc`: show notes (as
# written and as rendered) can be long; compressed they stay far below DynamoDB's 400 KB item limit.
COMPRESSED_FIELDS = ("body", "notes_html")


def _compressed(doc: dict[str, Any]) -> AttributeMap:
    """Takes the COMPRESSED_FIELDS out of `doc`, as binary attributes."""
    return {name: {"B": zlib.compress(doc.pop(name).encode("utf-8"), 6)} for name in COMPRESSED_FIELDS}


# DynamoDB refuses items over 400 KB; an episode may take this much, leaving room for keys and the outbox.
MAX_EPISODE_BYTES = 350 * 1024


def _stored_bytes(episode: Episode) -> int:
    """What `save_episode` writes for `episode`: its JSON document plus its compressed fields."""
    doc = episode.to_dict()
    compressed = _compressed(doc)
    document = len(json.dumps(doc, sort_keys=True).encode("utf-8"))
    return document + sum(len(value["B"]) for value in compressed.values())


def _decompressed(item: AttributeMap) -> dict[str, str]:
    """The COMPRESSED_FIELDS of an item; an item written before a field existed lacks it."""
    return {
        name: zlib.decompress(item[name]["B"]).decode("utf-8") for name in COMPRESSED_FIELDS if name in item
    }


class EpisodeStore:
    def __init__(
        self, client: DynamoDBClient, table_name: str, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client = client
        self._table = table_name
        self._sleep = sleep

    # -- sources ---------------------------------------------------------------------------------

    def record_source(self, record: SourceRecord) -> bool:
        """Store the latest version of an object; False when a newer one (higher sequencer) is already stored.

        An equal sequencer is the same S3 event delivered again: it is accepted, so a retry after a crash
        completes the work the first delivery started.
        """
        item: AttributeMap = {
            **_key(f"{SOURCE_PREFIX}{record.ref.key}", SOURCE),
            "kind": _s(record.kind),
            "ref": _s(json.dumps(record.ref.to_dict())),
            "deleted": {"BOOL": record.deleted},
        }
        if record.ref.sequencer:
            item["sequencer"] = _s(record.ref.sequencer)
        if record.facts is not None:
            item["facts"] = _s(json.dumps(record.facts))
        if record.problem is not None:
            item["problem"] = _s(json.dumps(record.problem))
        if record.episode_id is not None:
            item["episode_id"] = _s(record.episode_id)
        condition: dict[str, Any] = {}
        if record.ref.sequencer:
            condition = {
                "ConditionExpression": "attribute_not_exists(sequencer) OR sequencer <= :seq",
                "ExpressionAttributeValues": {":seq": _s(record.ref.sequencer)},
            }
        try:
            self._client.put_item(TableName=self._table, Item=item, **condition)
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def get_source(self, key: str) -> SourceRecord | None:
        item = self._get(f"{SOURCE_PREFIX}{key}", SOURCE)
        if item is None:
            return None
        return SourceRecord(
            ref=SourceRef.from_dict(json.loads(item["ref"]["S"])),
            kind=item["kind"]["S"],
            deleted=item["deleted"]["BOOL"],
            facts=json.loads(item["facts"]["S"]) if "facts" in item else None,
            problem=json.loads(item["problem"]["S"]) if "problem" in item else None,
            episode_id=item["episode_id"]["S"] if "episode_id" in item else None,
        )

    # -- audio links -----------------------------------------------------------------------------

    def link_audio(self, audio_key: str, post_key: str) -> None:
        self._client.put_item(
            TableName=self._table, Item=_key(f"{AUDIO_PREFIX}{audio_key}", f"{POST_PREFIX}{post_key}")
        )

    def unlink_audio(self, audio_key: str, post_key: str) -> None:
        self._client.delete_item(
            TableName=self._table, Key=_key(f"{AUDIO_PREFIX}{audio_key}", f"{POST_PREFIX}{post_key}")
        )

    def posts_of_audio(self, audio_key: str) -> list[str]:
        """Keys of the posts that name this MP3 (strongly consistent: a post linked a moment ago is seen)."""
        items = self._query(
            KeyConditionExpression=f"{PARTITION_KEY} = :pk AND begins_with({SORT_KEY}, :post)",
            ExpressionAttributeValues={":pk": _s(f"{AUDIO_PREFIX}{audio_key}"), ":post": _s(POST_PREFIX)},
            ConsistentRead=True,
        )
        return [item[SORT_KEY]["S"].removeprefix(POST_PREFIX) for item in items]

    # -- episodes --------------------------------------------------------------------------------

    def get_episode(self, episode_id: str) -> StoredEpisode | None:
        item = self._get(f"{EPISODE_PREFIX}{episode_id}", EPISODE)
        return self._stored_episode(item) if item else None

    def save_episode(
        self, episode: Episode, expected_revision: int, outbox: list[dict[str, Any]]
    ) -> int | None:
        """Write the episode if its stored revision is still `expected_revision` (0: absent).

        Returns the new revision, or None when someone else wrote first (re-read and decide again).
        """
        revision = expected_revision + 1
        doc = episode.to_dict()
        compressed = _compressed(doc)
        item: AttributeMap = {
            **_key(f"{EPISODE_PREFIX}{episode.id}", EPISODE),
            "doc": _s(json.dumps(doc, sort_keys=True)),
            **compressed,
            "state": _s(episode.state.value),
            "category": _s(episode.category),
            "revision": {"N": str(revision)},
        }
        if outbox:
            item["outbox"] = _s(json.dumps(outbox))
        if episode.state is State.PUBLISHED:
            item[PUBLISHED_PARTITION_KEY] = _s(f"{FEED_PREFIX}{episode.category}")
            item[PUBLISHED_SORT_KEY] = _s(f"{episode.date}#{episode.id}")
        if expected_revision:
            condition = {
                "ConditionExpression": "revision = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(expected_revision)}},
            }
        else:
            condition = {"ConditionExpression": f"attribute_not_exists({PARTITION_KEY})"}
        try:
            self._client.put_item(TableName=self._table, Item=item, **condition)  # type: ignore[arg-type]
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return revision

    def save_outbox(self, episode_id: str, revision: int, outbox: list[dict[str, Any]]) -> None:
        """Keep only `outbox` (empty: forget every sent event), unless a newer revision, which carries the
        events on, replaced the item meanwhile.

        This write is all that stands between an event the bus accepted and its duplicate on the next
        delivery, and it is idempotent, so a throttle gets a few more attempts than the SDK's own.
        """
        values: AttributeMap = {":revision": {"N": str(revision)}}
        update = "REMOVE outbox"
        if outbox:
            update, values[":outbox"] = "SET outbox = :outbox", _s(json.dumps(outbox))
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._patiently(
                lambda: self._client.update_item(
                    TableName=self._table,
                    Key=_key(f"{EPISODE_PREFIX}{episode_id}", EPISODE),
                    UpdateExpression=update,
                    ConditionExpression="revision = :revision",
                    ExpressionAttributeValues=values,
                )
            )

    def oversize(self, episode: Episode) -> tuple[int, int] | None:
        """(bytes it would take, bytes that fit) when `episode` is too large to store; None: it fits."""
        size = _stored_bytes(episode)
        return (size, MAX_EPISODE_BYTES) if size > MAX_EPISODE_BYTES else None

    def lock_episode(self, episode_id: str, owner: str, seconds: int) -> bool:
        """Take the episode's lock for `owner` unless another owner holds it and it has not expired."""
        now = int(time.time())
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **_key(f"{EPISODE_PREFIX}{episode_id}", EPISODE_LOCK),
                    OWNER: _s(owner),
                    LEASE_EXPIRES: {"N": str(now + seconds)},
                },
                ConditionExpression=f"attribute_not_exists({PARTITION_KEY}) OR {LEASE_EXPIRES} < :now",
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def unlock_episode(self, episode_id: str, owner: str) -> None:
        """Release the lock if `owner` still holds it; a lock taken over after expiry is its new owner's."""
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._patiently(
                lambda: self._client.delete_item(
                    TableName=self._table,
                    Key=_key(f"{EPISODE_PREFIX}{episode_id}", EPISODE_LOCK),
                    ConditionExpression="#owner = :owner",
                    ExpressionAttributeNames={"#owner": OWNER},  # a reserved word
                    ExpressionAttributeValues={":owner": _s(owner)},
                )
            )

    def published_episodes(self, category: str) -> list[Episode]:
        """Published episodes of a category, newest first: one Query of the sparse index, never a Scan."""
        items = self._query(
            IndexName=PUBLISHED_INDEX,
            KeyConditionExpression=f"{PUBLISHED_PARTITION_KEY} = :feed",
            ExpressionAttributeValues={":feed": _s(f"{FEED_PREFIX}{category}")},
            ScanIndexForward=False,
        )
        return [self._stored_episode(item).episode for item in items]

    def all_episodes(self) -> list[Episode]:
        """Every episode, for reports of the local runner (a Scan: never on a production path)."""
        return [
            self._stored_episode(item).episode for item in self._scan("begins_with(pk, :p)", EPISODE_PREFIX)
        ]

    def unlinked_audio(self) -> list[SourceRecord]:
        """MP3s that no post names (yet), for reports of the local runner (a Scan).

        A deleted post names nothing: its link stays (its episode keeps what it was decided from), but the
        MP3 waits for a post again, as it would had the post's versions never been read.
        """
        records = [
            self.get_source(item["pk"]["S"].removeprefix(SOURCE_PREFIX)) for item in self._audio_sources()
        ]
        return [r for r in records if r is not None and not r.deleted and not self._named(r.ref.key)]

    def _named(self, audio_key: str) -> bool:
        posts = (self.get_source(post_key) for post_key in self.posts_of_audio(audio_key))
        return any(post is not None and not post.deleted for post in posts)

    # -- feed rebuilds: the RebuildLedger of podcast_pipeline.feed.service -------------------------
    #
    # Every write here is retried on throttles (`_patiently`): the conditional ones are idempotent for
    # their owner, and a repeated ADD only asks for one render more than needed, never for one less.

    def request_rebuild(self, category: str) -> int:
        """Bump the feed's request generation (an atomic ADD); the generation now requested."""
        response = self._patiently(
            lambda: self._client.update_item(
                TableName=self._table,
                Key=_key(_rebuild_pk(category), REBUILD),
                UpdateExpression="ADD #requested :one",
                ExpressionAttributeNames={"#requested": REQUESTED},
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="UPDATED_NEW",
            )
        )
        return int(response["Attributes"][REQUESTED]["N"])

    def take_rebuild_lease(self, category: str, owner: str, expires: int) -> tuple[int, int] | None:
        """Hold the feed's lease as `owner` until `expires` (epoch seconds) when no one holds it, its holder's
        lease has expired, or `owner` already holds it; (requested, rendered) as of the take, or None when
        another live owner holds it.
        """
        now = int(time.time())
        return self._rebuild_update(
            category,
            "SET #owner = :owner, #expires = :expires",
            "attribute_not_exists(#owner) OR #expires < :now OR #owner = :owner",
            {":owner": _s(owner), ":expires": {"N": str(expires)}, ":now": {"N": str(now)}},
        )

    def mark_rendered(self, category: str, owner: str, generation: int) -> tuple[int, int] | None:
        """Record `generation` as rendered if `owner` still holds the lease; (requested, rendered) after,
        or None when the lease has passed to another owner.
        """
        return self._rebuild_update(
            category,
            "SET #rendered = :generation",
            "#owner = :owner",
            {":owner": _s(owner), ":generation": {"N": str(generation)}},
        )

    def release_rebuild_lease(self, category: str, owner: str) -> tuple[int, int]:
        """Give the lease up if `owner` holds it; (requested, rendered) as they stand after."""
        released = self._rebuild_update(
            category, "REMOVE #owner, #expires", "#owner = :owner", {":owner": _s(owner)}
        )
        return released if released is not None else self.rebuild_status(category).generations

    def rebuild_status(self, category: str) -> RebuildStatus:
        """The feed's rebuild item, read strongly consistent (all zeros before its first trigger)."""
        item = self._get(_rebuild_pk(category), REBUILD)
        return RebuildStatus.from_item(item) if item else RebuildStatus()

    def _rebuild_update(
        self, category: str, update: str, condition: str, values: AttributeMap
    ) -> tuple[int, int] | None:
        """A conditional update of the feed's rebuild item: (requested, rendered) after, None if refused."""
        # DynamoDB refuses a name the expressions do not use.
        names = {name: value for name, value in _REBUILD_NAMES.items() if name in f"{update} {condition}"}
        try:
            response = self._patiently(
                lambda: self._client.update_item(
                    TableName=self._table,
                    Key=_key(_rebuild_pk(category), REBUILD),
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                )
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return RebuildStatus.from_item(response["Attributes"]).generations

    # -- plumbing --------------------------------------------------------------------------------

    def _patiently(self, write: Callable[[], T]) -> T:
        """Run an idempotent write, retrying throttles and server errors with backoff a few times."""
        for attempt in range(PATIENT_ATTEMPTS - 1):
            try:
                return write()
            except ClientError as err:
                if err.response.get("Error", {}).get("Code", "") not in RETRYABLE_CODES:
                    raise
            self._sleep(PATIENT_BACKOFF_SECONDS * 2**attempt)
        return write()

    def _get(self, pk: str, sk: str) -> AttributeMap | None:
        response = self._client.get_item(TableName=self._table, Key=_key(pk, sk), ConsistentRead=True)
        return response.get("Item")

    def _query(self, **kwargs: Any) -> Iterator[AttributeMap]:
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(TableName=self._table, **kwargs):
            yield from page.get("Items", [])

    def _scan(self, condition: str, prefix: str) -> Iterator[AttributeMap]:
        paginator = self._client.get_paginator("scan")
        pages = paginator.paginate(
            TableName=self._table,
            FilterExpression=condition,
            ExpressionAttributeValues={":p": _s(prefix)},
            ConsistentRead=True,
        )
        for page in pages:
            yield from page.get("Items", [])

    def _audio_sources(self) -> Iterator[AttributeMap]:
        return (
            item for item in self._scan("begins_with(pk, :p)", SOURCE_PREFIX) if item["kind"]["S"] == "audio"
        )

    @staticmethod
    def _stored_episode(item: AttributeMap) -> StoredEpisode:
        doc = json.loads(item["doc"]["S"])
        return StoredEpisode(
            episode=Episode.from_dict({**doc, **_decompressed(item)}),
            revision=int(item["revision"]["N"]),
            outbox=json.loads(item["outbox"]["S"]) if "outbox" in item else [],
        )
