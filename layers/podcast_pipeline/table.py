"""The one DynamoDB table's key schema, shared by the CDK stack, the store and the local runner."""

from __future__ import annotations

PARTITION_KEY = "pk"
SORT_KEY = "sk"
# Sparse index of published episodes: only published episode items carry these two attributes.
PUBLISHED_INDEX = "published"
PUBLISHED_PARTITION_KEY = "feed_pk"  # "FEED#<category>"
PUBLISHED_SORT_KEY = "feed_sk"  # "<date>#<episode id>": newest first when scanned backwards
TTL_ATTRIBUTE = "expiration"  # epoch seconds; idempotency records and leases expire through it
