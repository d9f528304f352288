"""What the Slack messages and e-mails say, built from the sample events of events/."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from podcast_pipeline.config import load_config
from podcast_pipeline.notify.messages import (
    SECTION_TEXT_LIMIT,
    SUBJECT_LIMIT,
    ascii_subject,
    compose,
    fix_lines,
    format_size,
)
from podcast_pipeline_tools.sink import notification_record

EVENTS = Path(__file__).resolve().parent.parent / "events"
CONFIG = load_config(Path(__file__).resolve().parent / "data" / "runninginproduction.yaml")


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    return event


def block_texts(payload: dict[str, Any]) -> str:
    """Every piece of text of a Block Kit payload, as Slack would show it."""
    parts: list[str] = []
    for block in payload["blocks"]:
        if "text" in block:
            parts.append(block["text"]["text"])
        parts += [field["text"] for field in block.get("fields", [])]
        parts += [element["text"] for element in block.get("elements", [])]
    return "\n".join(parts)


def test_format_size_gives_bytes_and_megabytes() -> None:
    assert format_size(91085568) == "91,085,568 bytes (91.1 MB)"


def test_fix_lines_are_quoted_like_the_posts_and_ordered() -> None:
    problems: list[dict[str, Any]] = [
        {"code": "duration_mismatch", "fix": {"mp3_duration": "1:01:43"}},
        {"code": "bytes_mismatch", "fix": {"mp3_bytes": "91085568"}},
        {"code": "missing_title"},
    ]
    assert fix_lines(problems) == ['mp3_bytes: "91085568"', 'mp3_duration: "1:01:43"']


def test_verification_failed_carries_every_problem_and_the_lines_to_paste() -> None:
    event = sample("episode-verification-failed")
    message = compose(event, CONFIG)
    assert message.slack is not None and message.email is not None
    shown = block_texts(message.slack)

    for problem in event["detail"]["problems"]:
        assert problem["message"] in shown
        assert problem["message"] in message.slack["text"]
        assert problem["message"] in message.email.body
    fix_block = next(
        b["text"]["text"] for b in message.slack["blocks"] if "```" in b.get("text", {}).get("text", "")
    )
    assert '```\nmp3_bytes: "59259264"\nmp3_duration: "1:01:43"\n```' in fix_block
    assert event["detail"]["sources"]["post"]["key"] in fix_block
    assert 'mp3_bytes: "59259264"\nmp3_duration: "1:01:43"' in message.slack["text"]
    assert '    mp3_bytes: "59259264"\n    mp3_duration: "1:01:43"' in message.email.body
    assert message.email.subject.startswith("[Running in Production] Episode 54 failed verification:")


def test_published_shows_number_title_state_size_duration_and_link() -> None:
    event = sample("episode-published")
    message = compose(event, CONFIG)
    assert message.slack is not None
    shown = block_texts(message.slack)

    assert message.slack["blocks"][0]["text"]["text"] == "Episode 54 published"
    detail = event["detail"]
    for fact in (detail["title"], "published", "59,259,264 bytes (59.3 MB)", "1:01:43", detail["permalink"]):
        assert fact in shown
        assert fact in message.slack["text"]
    assert (message.number, message.episode_id, message.detail_type) == (
        54,
        detail["id"],
        "Episode Published",
    )


def test_unpublished_says_which_source_was_removed() -> None:
    event = sample("episode-unpublished")
    message = compose(event, CONFIG)
    assert message.slack is not None and message.email is not None

    post_key = event["detail"]["sources"]["post"]["key"]
    assert f"the post {post_key} was removed" in message.slack["text"]
    assert f"The post {post_key} was removed." in block_texts(message.slack)

    audio_removed = copy.deepcopy(event)
    audio_removed["detail"]["sources"]["post"]["size"] = 2798
    audio_removed["detail"]["sources"]["audio"]["size"] = None
    assert "the MP3 assets/podcast/running-in-production-54.mp3 was removed" in str(
        compose(audio_removed).slack
    )


def test_feed_updated_speaks_only_when_items_changed_and_never_by_mail() -> None:
    event = sample("feed-updated")
    message = compose(event, CONFIG)
    assert message.email is None
    assert message.slack is not None
    assert "55 items (1 added, 0 removed, 0 changed)" in message.slack["text"]
    assert "https://runninginproduction.com/podcast/feed.xml" in block_texts(message.slack)

    unchanged = copy.deepcopy(event)
    unchanged["detail"]["guids_added"] = []
    assert compose(unchanged, CONFIG).slack is None


def test_titles_cannot_inject_slack_markup() -> None:
    event = sample("episode-published")
    event["detail"]["title"] = "<!channel> & <https://evil.example|click>"
    message = compose(event)
    assert message.slack is not None
    shown = block_texts(message.slack)
    assert "<!channel>" not in shown
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in shown


def test_many_problems_stay_within_slacks_section_limit() -> None:
    event = sample("episode-verification-failed")
    event["detail"]["problems"] = [
        {"code": "bytes_mismatch", "severity": "error", "message": f"problem {i} " + "x" * 80}
        for i in range(200)
    ]
    message = compose(event)
    assert message.slack is not None
    problems = next(
        b for b in message.slack["blocks"] if b.get("text", {}).get("text", "").startswith("*Problems*")
    )
    assert len(problems["text"]["text"]) <= SECTION_TEXT_LIMIT
    assert "more" in problems["text"]["text"].splitlines()[-1]


@pytest.mark.parametrize(
    "title",
    ["Ünïcödé “quotes” — and emoji 🎙️", "line\nbreak\tand\x07control", "x" * 300],
)
def test_email_subjects_are_ascii_one_line_and_short(title: str) -> None:
    event = sample("episode-published")
    event["detail"]["title"] = title
    message = compose(event, CONFIG)
    assert message.email is not None
    subject = message.email.subject
    assert len(subject) <= SUBJECT_LIMIT < 100
    assert subject.isascii() and subject.isprintable()
    assert subject[0].isalnum() or subject[0] in "[("


def test_ascii_subject_folds_accents() -> None:
    assert ascii_subject("Épisode été") == "Episode ete"


def test_slack_metadata_lets_the_sink_recover_the_event() -> None:
    event = sample("episode-verification-failed")
    message = compose(event, CONFIG)
    assert message.slack is not None
    record = notification_record(message.slack)
    assert record == {
        "channel": "slack",
        "detail-type": "Episode Verification Failed",
        "event_id": event["id"],
        "episode_id": event["detail"]["id"],
        "number": 54,
        "text": message.slack["text"],
        "payload": message.slack,
    }


def test_events_without_a_message_and_malformed_events() -> None:
    updated = sample("episode-updated")
    message = compose(updated)
    assert message.slack is None and message.email is None
    with pytest.raises(ValueError, match="detail-type"):
        compose({"id": "x", "detail": {}})
