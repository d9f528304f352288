"""The emulated stack: resources from the shared definitions, and S3 events corrected to AWS's shape."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig

from podcast_pipeline import table
from podcast_pipeline.routes import EVENT_SOURCE, ROUTES, DetailType
from podcast_pipeline.s3_events import parse_s3_event
from podcast_pipeline_tools.local.corrections import correct_body, delete_object, encode_key
from podcast_pipeline_tools.local.emulation import Emulation
from podcast_pipeline_tools.local.poller import receive_all

KEY = "_posts/podcast/2024-01-08-1-a b+c.md"


def _ingest_events(emulation: Emulation) -> list[dict[str, Any]]:
    messages = receive_all(emulation.sqs, emulation.queues["ingest"].url, delete=True)
    return [json.loads(correct_body(m["Body"])) for m in messages]


def test_resources_follow_the_shared_definitions(emulation: Emulation) -> None:
    s3, sqs, events = emulation.s3, emulation.sqs, emulation.events
    assert s3.get_bucket_versioning(Bucket=emulation.bucket)["Status"] == "Enabled"
    # (moto omits EventBridgeConfiguration from GetBucketNotificationConfiguration; the upload test below
    # shows that notifications are on.)
    described = emulation.dynamodb.describe_table(TableName=emulation.names.table)["Table"]
    assert {k["AttributeName"] for k in described["KeySchema"]} == {table.PARTITION_KEY, table.SORT_KEY}
    assert not described.get("GlobalSecondaryIndexes")  # moto lists an empty one
    ttl = emulation.dynamodb.describe_time_to_live(TableName=emulation.names.table)
    assert ttl["TimeToLiveDescription"]["AttributeName"] == table.TTL_ATTRIBUTE
    for route in ROUTES:
        queue = emulation.queues[route.function]
        attributes = sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["RedrivePolicy"])
        redrive = json.loads(attributes["Attributes"]["RedrivePolicy"])
        assert redrive["maxReceiveCount"] == route.max_receive_count
        assert redrive["deadLetterTargetArn"].endswith(emulation.names.dead_letter_queue(route.function))
        bus = "default" if route.bus == "default" else emulation.names.event_bus
        rule = events.describe_rule(Name=emulation.names.rule(route.function), EventBusName=bus)
        assert json.loads(rule["EventPattern"]) == route.pattern(emulation.bucket)
    assert emulation.topic_arn.endswith(emulation.names.topic)


def test_an_upload_reaches_the_ingest_queue_in_aws_shape(emulation: Emulation) -> None:
    first = emulation.s3.put_object(Bucket=emulation.bucket, Key=KEY, Body=b"one")
    second = emulation.s3.put_object(Bucket=emulation.bucket, Key=KEY, Body=b"two!")
    older, newer = _ingest_events(emulation)

    for event, put in ((older, first), (newer, second)):
        obj = event["detail"]["object"]
        assert obj["key"] == "_posts/podcast/2024-01-08-1-a+b%2Bc.md"
        assert "eTag" not in obj
        assert obj["etag"] == put["ETag"].strip('"')
        assert obj["version-id"] == put["VersionId"]
        assert event["detail"]["reason"] == "PutObject"
        assert event["account"]
    assert older["id"] != newer["id"]
    # The handler's own parser reads the key back and orders the two versions.
    parsed_older, parsed_newer = parse_s3_event(older), parse_s3_event(newer)
    assert parsed_older.key == parsed_newer.key == KEY
    assert parsed_older.sequencer is not None and parsed_newer.sequencer is not None
    assert parsed_older.sequencer < parsed_newer.sequencer


def test_a_duplicate_delivery_keeps_its_id_and_sequencer(emulation: Emulation) -> None:
    # moto announces a multipart upload twice: the same version, so the same event for the handler.
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    data = io.BytesIO(b"\0" * (6 * 1024 * 1024))
    emulation.s3.upload_fileobj(data, emulation.bucket, "assets/podcast/big.mp3", Config=config)
    first, second = _ingest_events(emulation)
    assert first["id"] == second["id"]
    assert first["detail"]["object"]["sequencer"] == second["detail"]["object"]["sequencer"]
    assert first["detail"]["reason"] == "CompleteMultipartUpload"


def test_delete_object_announces_the_delete_marker(emulation: Emulation) -> None:
    emulation.s3.put_object(Bucket=emulation.bucket, Key=KEY, Body=b"one")
    marker = delete_object(emulation, KEY)
    created, deleted = _ingest_events(emulation)
    assert deleted["detail-type"] == "Object Deleted"
    detail = deleted["detail"]
    assert detail["object"]["version-id"] == marker
    assert detail["object"]["key"] == encode_key(KEY)
    assert "size" not in detail["object"]
    assert detail["deletion-type"] == "Delete Marker Created"
    assert detail["reason"] == "DeleteObject"
    change = parse_s3_event(deleted)
    assert change.deleted and change.key == KEY
    assert change.sequencer is not None
    assert change.sequencer > str(parse_s3_event(created).sequencer)


@pytest.mark.parametrize(
    ("key", "encoded"),
    [
        ("a b+c.md", "a+b%2Bc.md"),
        ("_posts/podcast/x.md", "_posts/podcast/x.md"),
        ("100%/é.mp3", "100%25/%C3%A9.mp3"),
    ],
)
def test_keys_are_encoded_as_aws_encodes_them(key: str, encoded: str) -> None:
    assert encode_key(key) == encoded


def test_pipeline_events_reach_their_queues_and_the_audit(emulation: Emulation) -> None:
    emulation.events.put_events(
        Entries=[
            {
                "Source": EVENT_SOURCE,
                "DetailType": DetailType.EPISODE_VERIFICATION_FAILED,
                "Detail": json.dumps({"id": "podcast/1-x"}),
                "EventBusName": emulation.names.event_bus,
            }
        ]
    )
    depth = {
        route.function: len(receive_all(emulation.sqs, emulation.queues[route.function].url, delete=True))
        for route in ROUTES
    }
    # Verification failures tell people; they do not change any feed.
    assert depth == {"ingest": 0, "feed": 0, "notify": 1}
    assert len(receive_all(emulation.sqs, emulation.audit_queue_url, delete=True)) == 1
