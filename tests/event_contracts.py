"""Validate events we emit against their JSON Schemas in events/schemas/.

    from event_contracts import validate_event, validate_detail

    validate_event(event)                            # a whole EventBridge event, as subscribers receive it
    validate_detail("Episode Published", detail)     # just a `detail`, wrapped in a synthetic envelope

Both raise `jsonschema.ValidationError` (the most relevant error) when the event breaks its contract.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

from podcast_pipeline.routes import EVENT_SOURCE, DetailType

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "events" / "schemas"

SCHEMA_FILES: dict[str, str] = {
    DetailType.EPISODE_PUBLISHED: "EpisodePublished.json",
    DetailType.EPISODE_UPDATED: "EpisodeUpdated.json",
    DetailType.EPISODE_UNPUBLISHED: "EpisodeUnpublished.json",
    DetailType.EPISODE_VERIFICATION_FAILED: "EpisodeVerificationFailed.json",
    DetailType.FEED_UPDATED: "FeedUpdated.json",
}

__all__ = [
    "SCHEMA_DIR",
    "SCHEMA_FILES",
    "envelope",
    "load_schema",
    "validate_detail",
    "validate_event",
    "validator",
]


def load_schema(detail_type: str) -> dict[str, Any]:
    """The JSON Schema of one detail-type, as stored."""
    try:
        name = SCHEMA_FILES[detail_type]
    except KeyError:
        raise ValidationError(f"no schema for detail-type {detail_type!r}") from None
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return schema


@functools.cache
def validator(detail_type: str) -> Validator:
    """A checked, compiled validator for one detail-type (the draft its `$schema` names)."""
    schema = load_schema(detail_type)
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_event(event: dict[str, Any]) -> None:
    """Raise `ValidationError` unless `event` is a valid event of its `detail-type`."""
    validator(str(event.get("detail-type"))).validate(event)


def envelope(detail_type: str, detail: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """An EventBridge event around `detail`, as the bus delivers it; `fields` override envelope fields."""
    return {
        "version": "0",
        "id": "00000000-0000-4000-8000-000000000000",
        "detail-type": detail_type,
        "source": EVENT_SOURCE,
        "account": "123456789012",
        "time": "2020-10-26T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
        **fields,
    }


def validate_detail(detail_type: str, detail: dict[str, Any]) -> None:
    """Raise `ValidationError` unless `detail` is a valid detail of `detail_type`."""
    validate_event(envelope(detail_type, detail))
