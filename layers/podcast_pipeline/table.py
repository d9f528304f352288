"""The one DynamoDB table's key schema, shared by the CDK stack, the store and the local runner."""

from __future__ import annotations

PARTITION_KEY = "pk"
SORT_KEY = "sk"
TTL_ATTRIBUTE = "expiration"  # epoch seconds; idempotency records and leases expire through it
