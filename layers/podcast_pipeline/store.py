"""The episode store: one DynamoDB table holding sources, audio links, episodes and feed rebuilds.

Items (pk / sk):
- `SOURCE#<key>` / `SOURCE`: the latest version of one S3 object (post or audio) and what was learnt from it.
- `AUDIO#<audio key>` / `POST#<post key>`: this post names this MP3 (so an MP3 upload finds its posts).
- `EPISODE#<id>` / `EPISODE`: the episode's record (compressed; no notes), its revision, the work its
  decision still owes (`outbox` events, a pending feed entry) and, while one invocation does that work,
  its `owner` token and `lease_expires`: concurrent changes of one episode never send its events twice.
- `FEED#<category>` / `<episode id>`: a published episode's feed entry (feed/entry.py), compressed: all a
  rebuild reads, in one Query of the feed's partition. No index: the base table's partition is the feed.
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

from podcast_pipeline.episode import Episode, SourceRecord, SourceRef, StoredEpisode
from podcast_pipeline.table import PARTITION_KEY, SORT_KEY

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
REBUILD = "REBUILD"
# Key prefixes, each spelt only here.
SOURCE_PREFIX = "SOURCE#"
EPISODE_PREFIX = "EPISODE#"
AUDIO_PREFIX = "AUDIO#"  # an audio file's links to the posts that name it: `AUDIO#<key>` / `POST#<key>`
POST_PREFIX = "POST#"
FEED_PREFIX = "FEED#"  # a feed's entries: `FEED#<category>` / `<episode id>`
LEASE_PREFIX = "LEASE#"  # the feed rebuild items, the only items the feed function writes
# The attributes of a feed rebuild item.
REQUESTED = "requested"
RENDERED = "rendered"
OWNER = "owner"
LEASE_EXPIRES = "lease_expires"
# The episode item's attributes besides its record (`doc`) and revision.
OUTBOX = "outbox"  # the events its decisions owe, not yet sent
ENTRY_DIGEST = "entry_digest"
ENTRY_PENDING = "entry_pending"  # the feed entry is still to be written (or deleted) by the owner
# Nobody else holds the item: no owner, an expired lease, or `:owner` itself.
_FREE = "attribute_not_exists(#owner) OR #expires < :now OR #owner = :owner"
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


# DynamoDB refuses items over 400 KB; a feed entry may take this much, leaving room for keys.
MAX_ENTRY_BYTES = 350 * 1024
COMPRESSION_LEVEL = 9  # items are written once or twice and read by every rebuild: the smallest is cheapest


def _packed(doc: dict[str, Any]) -> AttributeMap:
    """`doc` as zlib-compressed JSON: DynamoDB bills by the byte, and episode JSON compresses to a third."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return {"B": zlib.compress(text.encode("utf-8"), COMPRESSION_LEVEL)}


def _unpacked(value: AttributeMap) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(zlib.decompress(value["B"]).decode("utf-8"))
    return loaded


# Before the lean table, an episode item held its whole document as JSON text and its notes compressed
# beside it. Such items are read as they are until `podcast-pipeline migrate-table` rewrites them.
LEGACY_COMPRESSED_FIELDS = ("body", "notes_html")


def _is_legacy(item: AttributeMap) -> bool:
    return "S" in item["doc"]


def _legacy_document(item: AttributeMap) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(item["doc"]["S"])
    for name in LEGACY_COMPRESSED_FIELDS:
        if name in item:
            doc[name] = zlib.decompress(item[name]["B"]).decode("utf-8")
    return doc


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

    # -- episodes ----------------------------------------------------------------------------------

    def get_episode(self, episode_id: str) -> StoredEpisode | None:
        item = self._get(f"{EPISODE_PREFIX}{episode_id}", EPISODE)
        return self._stored_episode(item) if item else None

    def save_episode(
        self,
        episode: Episode,
        expected_revision: int,
        outbox: list[dict[str, Any]],
        *,
        entry_digest: str,
        entry_pending: bool = False,
        owner: str | None = None,
        lease_seconds: int = 0,
    ) -> int | None:
        """Write the episode if its stored revision is still `expected_revision` (0: absent) and no other
        live owner holds it. With `owner`, the write also takes the episode for that owner for
        `lease_seconds`: its decision owes work (the events in `outbox`, the feed entry if `entry_pending`).

        Returns the new revision, or None when someone else wrote or holds it (re-read and decide again).
        """
        revision = expected_revision + 1
        now = int(time.time())
        item: AttributeMap = {
            **_key(f"{EPISODE_PREFIX}{episode.id}", EPISODE),
            "doc": _packed(episode.record()),
            "state": _s(episode.state.value),
            "revision": {"N": str(revision)},
        }
        if entry_digest:
            item[ENTRY_DIGEST] = _s(entry_digest)
        if outbox:
            item[OUTBOX] = _s(json.dumps(outbox))
        if owner is not None:
            item[OWNER] = _s(owner)
            item[LEASE_EXPIRES] = {"N": str(now + lease_seconds)}
        if entry_pending:
            item[ENTRY_PENDING] = {"BOOL": True}
        values: AttributeMap = {":now": {"N": str(now)}, ":owner": _s(owner or "")}
        if expected_revision:
            current = "revision = :expected"
            values[":expected"] = {"N": str(expected_revision)}
        else:
            current = f"attribute_not_exists({PARTITION_KEY})"
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression=f"{current} AND ({_FREE})",
                ExpressionAttributeNames={"#owner": OWNER, "#expires": LEASE_EXPIRES},
                ExpressionAttributeValues=values,
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return None
        return revision

    def claim_episode(self, episode_id: str, revision: int, owner: str, seconds: int) -> bool:
        """Take over the work a decision at `revision` still owes (its owner crashed, or failed to send),
        unless another live owner holds the episode or it has moved on."""
        now = int(time.time())
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(f"{EPISODE_PREFIX}{episode_id}", EPISODE),
                UpdateExpression="SET #owner = :owner, #expires = :expires",
                ConditionExpression=f"revision = :revision AND ({_FREE})",
                ExpressionAttributeNames={"#owner": OWNER, "#expires": LEASE_EXPIRES},
                ExpressionAttributeValues={
                    ":owner": _s(owner),
                    ":expires": {"N": str(now + seconds)},
                    ":now": {"N": str(now)},
                    ":revision": {"N": str(revision)},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release_episode(
        self, episode_id: str, revision: int, owner: str, outbox: list[dict[str, Any]]
    ) -> None:
        """The owed work is done, but for `outbox` (empty: every event sent): give the episode up.

        This write is all that stands between an event the bus accepted and its duplicate on the next
        delivery, and it is idempotent, so a throttle gets a few more attempts than the SDK's own. A
        release refused (the lease expired and another owner took over) leaves the work to that owner.
        """
        values: AttributeMap = {":revision": {"N": str(revision)}, ":owner": _s(owner)}
        update = f"REMOVE #owner, #expires, {ENTRY_PENDING}"
        if outbox:
            update = f"SET {OUTBOX} = :outbox {update}"
            values[":outbox"] = _s(json.dumps(outbox))
        else:
            update += f", {OUTBOX}"
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._patiently(
                lambda: self._client.update_item(
                    TableName=self._table,
                    Key=_key(f"{EPISODE_PREFIX}{episode_id}", EPISODE),
                    UpdateExpression=update,
                    ConditionExpression="revision = :revision AND #owner = :owner",
                    ExpressionAttributeNames={"#owner": OWNER, "#expires": LEASE_EXPIRES},
                    ExpressionAttributeValues=values,
                )
            )

    def oversize(self, episode: Episode) -> tuple[int, int] | None:
        """(bytes it would take, bytes that fit) when `episode`'s feed entry is too large to store."""
        size = len(_packed(episode.to_dict())["B"])
        return (size, MAX_ENTRY_BYTES) if size > MAX_ENTRY_BYTES else None

    # -- feed entries (see feed/entry.py) ---------------------------------------------------------

    def put_feed_entry(self, entry: Episode) -> None:
        item = {**_key(f"{FEED_PREFIX}{entry.category}", entry.id), "doc": _packed(entry.to_dict())}
        self._patiently(lambda: self._client.put_item(TableName=self._table, Item=item))

    def delete_feed_entry(self, category: str, episode_id: str) -> None:
        key = _key(f"{FEED_PREFIX}{category}", episode_id)
        self._patiently(lambda: self._client.delete_item(TableName=self._table, Key=key))

    def published_episodes(self, category: str) -> list[Episode]:
        """The feed entries of a category: one strongly consistent Query of its partition, never a Scan
        (a rebuild that follows an episode's event must see its entry)."""
        items = self._query(
            KeyConditionExpression=f"{PARTITION_KEY} = :feed",
            ExpressionAttributeValues={":feed": _s(f"{FEED_PREFIX}{category}")},
            ConsistentRead=True,
        )
        return [Episode.from_dict(_unpacked(item["doc"])) for item in items]

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

    def legacy_episodes(self) -> list[StoredEpisode]:
        """Episodes still in the item format before the lean table (a Scan, for the table's migration)."""
        items = self._scan("begins_with(pk, :p)", EPISODE_PREFIX)
        return [self._stored_episode(item) for item in items if _is_legacy(item)]

    @staticmethod
    def _stored_episode(item: AttributeMap) -> StoredEpisode:
        return StoredEpisode(
            episode=Episode.from_dict(_legacy_document(item) if _is_legacy(item) else _unpacked(item["doc"])),
            revision=int(item["revision"]["N"]),
            outbox=json.loads(item[OUTBOX]["S"]) if OUTBOX in item else [],
            entry_digest=item[ENTRY_DIGEST]["S"] if ENTRY_DIGEST in item else "",
            entry_pending=ENTRY_PENDING in item,
            owner=item[OWNER]["S"] if OWNER in item else None,
            lease_expires=int(item[LEASE_EXPIRES]["N"]) if LEASE_EXPIRES in item else 0,
        )
