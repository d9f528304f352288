"""The emulation bills DynamoDB requests as AWS does (local/capacity.py), seen over HTTP."""

from __future__ import annotations

import contextlib
import os

from podcast_pipeline_tools.local.capacity import item_size, value_size
from podcast_pipeline_tools.local.emulation import Emulation, table_capacity


def test_item_sizes_follow_dynamodb_rules() -> None:
    assert value_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert value_size({"N": "12345"}) == 4  # 1 byte per two significant digits, plus one
    assert value_size({"B": b"\x00" * 10}) == 10
    assert item_size({"pk": {"S": "A#1"}, "flag": {"BOOL": True}}) == 2 + 3 + 4 + 1


def test_writes_cost_the_larger_item_per_kb_and_reads_per_4_kb(emulation: Emulation) -> None:
    dynamodb, table = emulation.dynamodb, emulation.names.table
    key = {"pk": {"S": "METER#1"}, "sk": {"S": "X"}}
    capacity = table_capacity(emulation)
    assert capacity is not None
    dynamodb.put_item(TableName=table, Item={**key, "blob": {"B": os.urandom(5000)}})
    assert capacity.write_units["METER"] == 5  # 5,000 B of value + names and keys: 5 KB, rounded up
    dynamodb.put_item(TableName=table, Item=key)  # shrinking is billed at the larger size
    assert capacity.write_units["METER"] == 10
    dynamodb.update_item(
        TableName=table, Key=key, UpdateExpression="SET n = :n", ExpressionAttributeValues={":n": {"N": "1"}}
    )
    assert capacity.write_units["METER"] == 11
    dynamodb.put_item(TableName=table, Item={**key, "blob": {"B": os.urandom(9000)}})
    reads_before = capacity.read_units["METER"]
    dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
    assert capacity.read_units["METER"] - reads_before == 3  # 9 KB: three 4 KB units
    dynamodb.get_item(TableName=table, Key=key)
    assert capacity.read_units["METER"] - reads_before == 4.5  # eventually consistent: half
    refused = capacity.write_units["METER"]
    with contextlib.suppress(dynamodb.exceptions.ConditionalCheckFailedException):
        dynamodb.put_item(TableName=table, Item=key, ConditionExpression="attribute_not_exists(pk)")
    assert capacity.write_units["METER"] == refused + 9  # a refused write is billed as well
