"""Random interleavings of uploads, edits, MP3 replacements and deletions, delivered with duplicates and out
of order, end as a calm run of just the final versions does.

The chaotic run applies the generated operations to the bucket and, wherever the example says so, lets the
pipeline process what is pending with every S3 event delivered 1-3 times in a random order. The reference
run is calm and sequential: for every object the example touched, its final version is uploaded (and then
deleted, when its last operation deletes it), each change processed before the next.

What must agree, and why only this:

- The feeds' items (guid, enclosure, duration, title): the public outcome, a function of final versions.
- For each episode whose post exists at the end: its state, title, measured facts and problems. `unpublished`
  and `awaiting_audio` are one class here: both say "not live, its MP3 is missing"; which of the two depends
  on whether the episode was live in between, and that legitimately depends on how uploads interleaved.
- An episode whose post is deleted at the end is not live in either run (what it keeps is what was decided
  before the deletion, which is history).
- Events: intermediate events legitimately differ by interleaving (an edit processed before or after the MP3
  arrives), so each episode's *last* Episode event must agree with its final state, as the reference's does:
  live episodes end on Published/Updated carrying the final title and audio facts, failed ones on
  Verification Failed, others that were ever announced on Unpublished. And no episode ever gets the same
  event twice in a row (detail-type and detail equal): that would be a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from end_state import episodes_of, feed_items
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mp3_fixtures import matching_mp3
from pipeline_harness import Pipeline, pipeline

from podcast_pipeline.durations import format_duration
from podcast_pipeline.routes import INGEST
from podcast_pipeline_tools.local.chaos import ChaosSpec, Faults
from podcast_pipeline_tools.local.corrections import correct_body
from podcast_pipeline_tools.local.poller import ChaosPoller
from podcast_pipeline_tools.local.report import collect_episodes

NUMBERS = (1, 2, 3)
CUTS = (0, 1)
TITLES = ("First title", "Second title")
LIVE = {"Episode Published", "Episode Updated"}
NOT_LIVE_WAITING = {"unpublished", "awaiting_audio"}


def _audio(number: int, cut: int) -> bytes:
    return matching_mp3(120_000 + number * 1_111 + cut * 40_000, 7 + cut * 3)


AUDIO = {(n, c): _audio(n, c) for n in NUMBERS for c in CUTS}


def post_key(number: int) -> str:
    return f"_posts/podcast/2024-03-0{number}-{number}-episode-{number}.md"


def audio_key(number: int) -> str:
    return f"assets/podcast/sample-show-{number}.mp3"


def post_body(number: int, title: int, claimed_cut: int) -> bytes:
    audio = AUDIO[number, claimed_cut]
    seconds = 7 + claimed_cut * 3
    return (
        f'---\ntitle: "{TITLES[title]} {number}"\nmp3_bytes: "{len(audio)}"\n'
        f'mp3_duration: "{format_duration(seconds)}"\n---\n\nShow notes of {number}.\n'
    ).encode()


@dataclass(frozen=True)
class Op:
    kind: str  # "post" | "audio" | "delete-post" | "delete-audio" | "process"
    number: int = 0
    title: int = 0
    cut: int = 0
    duplicates: int = 1
    seed: int = 0

    @property
    def key(self) -> str:
        return post_key(self.number) if self.kind in ("post", "delete-post") else audio_key(self.number)


numbers = st.sampled_from(NUMBERS)
operations = st.one_of(
    st.builds(
        Op, kind=st.just("post"), number=numbers, title=st.sampled_from((0, 1)), cut=st.sampled_from(CUTS)
    ),
    st.builds(Op, kind=st.just("audio"), number=numbers, cut=st.sampled_from(CUTS)),
    st.builds(Op, kind=st.sampled_from(("delete-post", "delete-audio")), number=numbers),
    st.builds(Op, kind=st.just("process"), duplicates=st.integers(1, 3), seed=st.integers(0, 2**16)),
)


def apply(run: Pipeline, op: Op) -> None:
    if op.kind == "post":
        run.put(op.key, post_body(op.number, op.title, op.cut))
    elif op.kind == "audio":
        run.put(op.key, AUDIO[op.number, op.cut])
    else:
        run.delete(op.key)


def process_chaotically(run: Pipeline, duplicates: int, seed: int) -> None:
    faults = Faults(ChaosSpec(duplicates=duplicates, shuffle=True, seed=seed))
    poller = ChaosPoller(
        run.emulation, run.session.handlers, faults, corrections={INGEST.function: correct_body}
    )
    poller.drain()
    run.settle()  # collects the events emitted meanwhile (the queues are already drained)


def final_operations(ops: list[Op]) -> list[Op]:
    """For each object, its last put, then its delete when the object's last operation deletes it."""
    final: list[Op] = []
    for key in dict.fromkeys(op.key for op in ops if op.kind != "process"):
        of_key = [op for op in ops if op.kind != "process" and op.key == key]
        puts = [op for op in of_key if not op.kind.startswith("delete")]
        final += puts[-1:] + ([of_key[-1]] if of_key[-1].kind.startswith("delete") else [])
    return sorted(final, key=lambda op: op.key.startswith("_posts"))  # MP3s first, as a sync would


def _feed(run: Pipeline) -> list[Any]:
    data = run.feed("podcast/feed.xml")
    return feed_items(data) if data else []


def _comparable(run: Pipeline, ops: list[Op]) -> dict[str, Any]:
    deleted_posts = {post_key(n) for n in NUMBERS if _last_post_op(ops, n) == "delete-post"}
    view: dict[str, Any] = {}
    for key, (state, title, measured, problems) in episodes_of(collect_episodes(run.emulation)).items():
        if any(key == f"podcast/{n}-episode-{n}" and post_key(n) in deleted_posts for n in NUMBERS):
            view[key] = state == "published"
        else:
            view[key] = ("waiting" if state in NOT_LIVE_WAITING else state, title, measured, problems)
    return view


def _last_post_op(ops: list[Op], number: int) -> str | None:
    kinds = [op.kind for op in ops if op.number == number and op.kind in ("post", "delete-post")]
    return kinds[-1] if kinds else None


def last_events(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    last: dict[str, dict[str, Any]] = {}
    for event in events:
        if event["detail-type"].startswith("Episode"):
            last[event["detail"]["id"]] = event
    return last


def assert_no_event_twice_in_a_row(events: list[dict[str, Any]]) -> None:
    previous: dict[str, tuple[str, Any]] = {}
    for event in events:
        if not event["detail-type"].startswith("Episode"):
            continue
        this = (event["detail-type"], event["detail"])
        assert previous.get(event["detail"]["id"]) != this, f"duplicate event {this}"
        previous[event["detail"]["id"]] = this


def assert_last_events_agree_with_the_table(run: Pipeline) -> dict[str, str]:
    """Each episode's last event against its final state; returns the last detail-type by episode."""
    episodes = {e["id"]: e for e in collect_episodes(run.emulation) if e["id"]}
    last = last_events(run.events)
    for episode_id, event in last.items():
        entry = episodes[episode_id]
        detail_type = event["detail-type"]
        if entry["state"] == "published":
            assert detail_type in LIVE
            assert event["detail"]["title"] == entry["title"]
            assert event["detail"]["audio"]["bytes"] == entry["audio"]["bytes"]
        elif entry["state"] == "failed":
            assert detail_type == "Episode Verification Failed"
        else:
            assert detail_type in ("Episode Unpublished", "Episode Verification Failed")
    for episode_id, entry in episodes.items():
        if entry["state"] == "published":
            assert episode_id in last, f"{episode_id} is live but was never announced"
    return {episode_id: event["detail-type"] for episode_id, event in last.items()}


def _outcome(run: Pipeline, ops: list[Op]) -> tuple[dict[str, Any], list[Any], set[str]]:
    assert run.dead_letters() == []
    assert_no_event_twice_in_a_row(run.events)
    last = assert_last_events_agree_with_the_table(run)
    return _comparable(run, ops), _feed(run), {i for i, detail_type in last.items() if detail_type in LIVE}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operations, min_size=1, max_size=8))
def test_any_interleaving_ends_as_the_final_versions_applied_in_order(ops: list[Op]) -> None:
    with pipeline() as chaotic:
        for op in ops:
            if op.kind == "process":
                process_chaotically(chaotic, op.duplicates, op.seed)
            else:
                apply(chaotic, op)
        process_chaotically(chaotic, 3, len(ops))
        result = _outcome(chaotic, ops)
    with pipeline() as calm:
        for op in final_operations(ops):
            apply(calm, op)
            calm.settle()
        expected = _outcome(calm, ops)
    assert result == expected
