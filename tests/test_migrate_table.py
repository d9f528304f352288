"""`migrate-table` over HTTP: episode items of the format before the lean table get their feed entries."""

from __future__ import annotations

import json
import zlib
from typing import Any

from podcast_pipeline.episode import Episode, State
from podcast_pipeline.store import EpisodeStore
from podcast_pipeline_tools.cli import main
from podcast_pipeline_tools.local.emulation import Emulation
from podcast_pipeline_tools.migrate import migrate


def _episode(n: int, state: State) -> Episode:
    return Episode(
        id=f"podcast/{n}-show",
        category="podcast",
        slug=f"{n}-show",
        date=f"2024-01-0{n}",
        state=state,
        number=n,
        title=f"Show {n}",
        permalink=f"https://example.com/podcast/{n}-show",
        audio_key=f"{n}.mp3",
        audio_url=f"https://example.com/{n}.mp3",
        claimed={"mp3_bytes": "1000", "mp3_duration": "1:00"},
        measured={"bytes": 1000, "duration_seconds": 60.0},
        front_matter={"title": f"Show {n}", "guest": "Grace", "mp3_bytes": "1000"},
        body="Notes <b>as written</b>",
        notes_html=f"<p>Notes of show {n}</p>",
        notes_summary=f"Notes of show {n}",
    )


def _put_legacy(emulation: Emulation, episode: Episode) -> None:
    """The item as the functions wrote it before the lean table: JSON text, notes compressed beside it."""
    doc = episode.to_dict()
    compressed = {name: {"B": zlib.compress(doc.pop(name).encode(), 6)} for name in ("body", "notes_html")}
    item: dict[str, Any] = {
        "pk": {"S": f"EPISODE#{episode.id}"},
        "sk": {"S": "EPISODE"},
        "doc": {"S": json.dumps(doc, sort_keys=True)},
        **compressed,
        "state": {"S": episode.state.value},
        "category": {"S": episode.category},
        "revision": {"N": "3"},
    }
    if episode.state is State.PUBLISHED:
        item |= {"feed_pk": {"S": "FEED#podcast"}, "feed_sk": {"S": f"{episode.date}#{episode.id}"}}
    emulation.dynamodb.put_item(TableName=emulation.names.table, Item=item)


def test_legacy_items_get_their_feed_entries_once(emulation: Emulation) -> None:
    store = EpisodeStore(emulation.dynamodb, emulation.names.table)
    published, failed = _episode(1, State.PUBLISHED), _episode(2, State.FAILED)
    for episode in (published, failed):
        _put_legacy(emulation, episode)
    legacy = store.get_episode(published.id)
    assert legacy is not None and legacy.episode == published  # read as it is, notes and all
    assert store.published_episodes("podcast") == []  # what a rebuild would see before the migration

    done = migrate(store)

    assert (done.rewritten, done.entries, done.moved_on) == (2, 1, 0)
    (entry,) = store.published_episodes("podcast")
    assert entry.id == published.id and entry.notes_html == published.notes_html
    assert entry.front_matter == {"guest": "Grace"}
    rewritten = store.get_episode(published.id)
    assert rewritten is not None and rewritten.revision == 4 and rewritten.entry_digest
    assert rewritten.episode.record() == published.record()
    assert migrate(store).rewritten == 0  # safe to repeat


def test_the_command_reports_what_it_did(emulation: Emulation, capsys: object) -> None:
    _put_legacy(emulation, _episode(1, State.PUBLISHED))
    args = ["migrate-table", "--table", emulation.names.table, "--endpoint-url", emulation.endpoint_url]
    assert main(args) == 0
    assert main(args) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "1 episode items rewritten, 1 feed entries written" in out
    assert "0 episode items rewritten" in out
    assert main(["migrate-table", "--table", "no-such-table", "--endpoint-url", emulation.endpoint_url]) == 1
