"""Make moto's S3 EventBridge events look like AWS's, so the handlers run their production code path.

moto 5.2.5 differs from AWS (DESIGN.md, "Emulation facts"): keys arrive raw where AWS URL-encodes them,
every event has the same `id` and `sequencer`, the object's `eTag` is spelt `etag` by AWS, `reason` says
`ObjectCreated` where AWS says `PutObject`, and a delete on a versioned bucket emits no event at all.
The poller passes every ingest message through `correct_body`; `delete_object` stands in for S3's own
`Object Deleted` notification.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus

from moto.s3.models import FakeDeleteMarker, s3_backends

from podcast_pipeline.routes import S3_SOURCE, S3DetailType
from podcast_pipeline_tools.local import ACCOUNT_ID

if TYPE_CHECKING:
    from podcast_pipeline_tools.local.emulation import Emulation

DELETE_MARKER_CREATED = "Delete Marker Created"
SEQUENCER_DIGITS = 18  # as long as AWS's, e.g. "0055AED6DCD90281E5"
# A delete marker has no content; AWS reports the MD5 of nothing as its etag.
EMPTY_ETAG = hashlib.md5(b"", usedforsecurity=False).hexdigest()
_EVENT_ID_NAMESPACE = uuid.UUID("8d0a6a3e-4f7c-4b8e-9d51-3c2b1f0e7a64")


def encode_key(key: str) -> str:
    """The object key as AWS writes it in notifications: form-encoded, `/` left as it is."""
    return quote_plus(key, safe="/")


def _version_history(bucket: str, key: str) -> list[Any]:
    # The S3 API cannot order versions against delete markers (LastModified has whole seconds and
    # ListObjectVersions returns the two apart), so read the emulation's own, ordered, history. The
    # server runs in this process: its backend is this module's state.
    return list(s3_backends[ACCOUNT_ID]["aws"].get_bucket(bucket).keys.getlist(key, []))


def sequencer(bucket: str, key: str, version_id: str | None) -> str:
    """A per-key sequencer that grows with each version (or delete marker) of the key.

    Every delivery of one version gets the same value, so a duplicate compares equal. A version that no
    longer exists gets the smallest value: it can never override what the handler recorded later.
    """
    versions = [str(entry.version_id) for entry in _version_history(bucket, key)]
    position = versions.index(str(version_id)) + 1 if str(version_id) in versions else 0
    return f"{position:0{SEQUENCER_DIGITS}X}"


def _is_delete_marker(bucket: str, key: str, version_id: str | None) -> bool:
    return any(
        isinstance(entry, FakeDeleteMarker) and str(entry.version_id) == str(version_id)
        for entry in _version_history(bucket, key)
    )


def _reason(detail_type: str, etag: str | None) -> str:
    if detail_type == S3DetailType.OBJECT_DELETED:
        return "DeleteObject"
    # Only a multipart upload's etag has a `-<parts>` suffix; moto's reason cannot tell the two apart.
    return "CompleteMultipartUpload" if etag and "-" in etag else "PutObject"


def correct_event(event: dict[str, Any]) -> dict[str, Any]:
    """An AWS-shaped copy of one S3 EventBridge event as moto (or `delete_object`) delivered it."""
    if event.get("source") != S3_SOURCE or event.get("detail-type") not in tuple(S3DetailType):
        return event
    fixed = copy.deepcopy(event)
    detail = fixed["detail"]
    bucket, obj = detail["bucket"]["name"], detail["object"]
    key, version_id, detail_type = obj["key"], obj.get("version-id"), fixed["detail-type"]
    if "eTag" in obj:
        obj["etag"] = obj.pop("eTag")
    obj["sequencer"] = sequencer(bucket, key, version_id)
    obj["key"] = encode_key(key)
    detail["reason"] = _reason(detail_type, obj.get("etag"))
    if detail_type == S3DetailType.OBJECT_DELETED:
        marker = _is_delete_marker(bucket, key, version_id)
        detail["deletion-type"] = DELETE_MARKER_CREATED if marker else "Permanently Deleted"
        obj.pop("size", None)
        if marker:
            obj["etag"] = EMPTY_ETAG
    # moto gives every S3 event one constant id; AWS gives each event its own, and a duplicate delivery
    # of an event keeps it: derive it from what identifies the change.
    fixed["id"] = str(uuid.uuid5(_EVENT_ID_NAMESPACE, f"{bucket}\n{key}\n{version_id}\n{detail_type}"))
    fixed.setdefault("account", ACCOUNT_ID)
    return fixed


def correct_body(body: str) -> str:
    """`correct_event` for one SQS message body (the poller's hook for the ingest queue)."""
    return json.dumps(correct_event(json.loads(body)))


def delete_object(emulation: Emulation, key: str) -> str:
    """Delete `key` (a delete marker on the versioned bucket) and announce it as S3 would.

    moto emits no `Object Deleted` for a versioned bucket, so the event goes onto the default bus here
    (moto, unlike AWS, accepts the `aws.s3` source), where the ingest rule routes it like S3's own.
    Returns the delete marker's version id.
    """
    deleted = emulation.s3.delete_object(Bucket=emulation.bucket, Key=key)
    marker_version = deleted.get("VersionId")
    detail = {
        "version": "0",
        "bucket": {"name": emulation.bucket},
        "object": {"key": key, "version-id": marker_version},
        "request-id": uuid.uuid4().hex[:16].upper(),
        "requester": ACCOUNT_ID,
        "source-ip-address": "127.0.0.1",
    }
    result = emulation.events.put_events(
        Entries=[
            {
                "Source": S3_SOURCE,
                "DetailType": S3DetailType.OBJECT_DELETED,
                "Resources": [f"arn:aws:s3:::{emulation.bucket}"],
                "Detail": json.dumps(detail),
            }
        ]
    )
    if result["FailedEntryCount"]:
        raise RuntimeError(f"the emulation refused the Object Deleted event for {key}: {result['Entries']}")
    return str(marker_version)
