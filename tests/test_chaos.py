"""`local run --chaos`: the spec, the faults it injects, and runs under them that end as calm runs do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError
from corpus import CORPUS_CONFIG, corpus_posts, write_corpus_site
from end_state import episode_event_counts, episodes_of, feeds_of
from pipeline_harness import Pipeline, pipeline

from podcast_pipeline.bus import EventBus
from podcast_pipeline.config import load_config
from podcast_pipeline.publishing import PublishError
from podcast_pipeline.routes import INGEST, ROUTES, Route
from podcast_pipeline.settings import NOTIFY_IDEMPOTENCY_PARTITION
from podcast_pipeline_tools.cli import main
from podcast_pipeline_tools.local.chaos import ChaosSpec, Faults, parse_spec
from podcast_pipeline_tools.local.cli import EXIT_UNUSABLE
from podcast_pipeline_tools.local.corrections import correct_body
from podcast_pipeline_tools.local.emulation import Emulation
from podcast_pipeline_tools.local.poller import ChaosPoller, receive_all
from podcast_pipeline_tools.local.report import collect_episodes
from podcast_pipeline_tools.local.runner import input_files, run_local
from podcast_pipeline_tools.local.sample import write_sample_show

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

# Enough of the corpus to exercise every path (published, awaiting audio, text-only interviews) while a
# calm and a chaos run of it stay well under a minute each; all 60 full-size MP3s take ~2 minutes a run.
# The last two episodes always lack their MP3, so some wait for their audio in the excerpt too.
CORPUS_EPISODES_WITH_AUDIO = min(20, len(corpus_posts("podcast")) - 2)
IDEMPOTENCY_PARTITION = NOTIFY_IDEMPOTENCY_PARTITION  # where the notify function keeps its markers


# -- the spec --------------------------------------------------------------------------------------


def test_a_full_spec_is_parsed() -> None:
    spec = parse_spec("duplicates=3,shuffle,put-events-failure=0.3,ddb-throttle=0.2,s3-errors=0.1,seed=7")
    assert spec == ChaosSpec(
        duplicates=3, shuffle=True, put_events_failure=0.3, ddb_throttle=0.2, s3_errors=0.1, seed=7
    )
    assert parse_spec(str(spec)) == spec  # the report's spec repeats the drill


def test_without_a_seed_one_is_chosen_and_reported() -> None:
    spec = parse_spec("duplicates=2")
    assert (spec.duplicates, spec.shuffle, spec.ddb_throttle) == (2, False, 0.0)
    assert f"seed={spec.seed}" in str(spec)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("bogus=1", "bogus"),
        ("duplicates=0", "duplicates"),
        ("duplicates=two", "duplicates"),
        ("duplicates", "duplicates"),
        ("ddb-throttle=1.5", "ddb-throttle"),
        ("s3-errors=-0.1", "s3-errors"),
        ("put-events-failure=often", "put-events-failure"),
        ("shuffle=yes", "shuffle"),
        ("seed=x", "seed"),
        ("seed=1,seed=2", "seed"),
        ("shuffle,,seed=1", "empty"),
    ],
)
def test_a_bad_spec_names_the_key(text: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        parse_spec(text)


def test_the_cli_refuses_a_bad_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["local", "run", "--out", str(tmp_path), "--chaos", "ddb-throttle=2"])
    assert code == EXIT_UNUSABLE
    err = capsys.readouterr().err
    assert "ddb-throttle" in err and "Traceback" not in err


# -- the faults ------------------------------------------------------------------------------------


def _events(n: int) -> list[tuple[str, dict[str, Any]]]:
    return [("Episode Published", {"id": f"podcast/{i}"}) for i in range(n)]


def test_failed_put_events_entries_are_reported_and_not_sent(emulation: Emulation) -> None:
    faults = Faults(ChaosSpec(put_events_failure=0.5, seed=1))
    entries = [
        {"Source": "podcast.pipeline", "DetailType": t, "Detail": f'{{"id": "{d["id"]}"}}'}
        for t, d in _events(10)
    ]
    for entry in entries:
        entry["EventBusName"] = emulation.names.event_bus
    with faults.active():
        response = emulation.events.put_events(Entries=entries)  # type: ignore[arg-type]
    failed = [i for i, result in enumerate(response["Entries"]) if result.get("ErrorCode")]
    assert 0 < len(failed) < 10
    assert response["FailedEntryCount"] == len(failed) == faults.counts["put-events-failure"]
    assert {response["Entries"][i]["ErrorCode"] for i in failed} == {"InternalFailure"}
    delivered = receive_all(emulation.sqs, emulation.audit_queue_url, delete=True)
    assert len(delivered) == 10 - len(failed)


def test_clients_are_calm_again_once_the_handler_returns(emulation: Emulation) -> None:
    faults = Faults(ChaosSpec(s3_errors=1.0))
    handler = faults.wrap({"f": lambda event, context: emulation.s3.head_object(**event)})["f"]
    emulation.s3.put_object(Bucket=emulation.bucket, Key="x", Body=b"x")
    with pytest.raises(ClientError):
        handler({"Bucket": emulation.bucket, "Key": "x"}, None)
    assert emulation.s3.head_object(Bucket=emulation.bucket, Key="x")["ContentLength"] == 1
    assert faults.counts["s3-errors"] == 1


def test_throttles_and_s3_errors_raise_modelled_client_errors(emulation: Emulation) -> None:
    faults = Faults(ChaosSpec(ddb_throttle=1.0, s3_errors=1.0))
    with faults.active():
        with pytest.raises(emulation.dynamodb.exceptions.ProvisionedThroughputExceededException):
            emulation.dynamodb.describe_table(TableName=emulation.names.table)
        with pytest.raises(ClientError, match=r"InternalError|SlowDown"):
            emulation.s3.head_object(Bucket=emulation.bucket, Key="anything")
    assert (faults.counts["ddb-throttle"], faults.counts["s3-errors"]) == (1, 1)


class _FlakyEvents:
    """A PutEvents client that fails the entries whose detail id is in `failing` and raises on `raise_on`."""

    def __init__(self, failing: set[str], raise_on: int | None = None) -> None:
        self.failing, self.raise_on, self.calls = failing, raise_on, 0
        self.accepted: list[str] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        if self.calls == self.raise_on:
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
        results = [
            {"ErrorCode": "InternalFailure"} if any(f'"{i}"' in e["Detail"] for i in self.failing) else {}
            for e in Entries
        ]
        self.accepted += [e["Detail"] for e, r in zip(Entries, results, strict=True) if not r]
        return {"FailedEntryCount": sum(1 for r in results if r), "Entries": results}


def test_publish_error_names_exactly_the_unsent_events() -> None:
    bus = EventBus(_FlakyEvents({"podcast/3"}), "bus", sleep=lambda _: None)  # type: ignore[arg-type]
    with pytest.raises(PublishError) as raised:
        bus.publish_all(_events(12))
    assert raised.value.unsent == [("Episode Published", {"id": "podcast/3"})]


def test_a_call_that_raises_fails_only_its_own_chunk() -> None:
    # 12 events: the first chunk of 10 goes out, the call carrying the last 2 raises every time after it.
    client = _FlakyEvents(set(), raise_on=2)
    bus = EventBus(client, "bus", sleep=lambda _: None)  # type: ignore[arg-type]
    bus.publish_all(_events(12))  # the retry of the second chunk (call 3) succeeds
    assert client.calls == 3
    assert sorted(client.accepted) == sorted(f'{{"id": "podcast/{i}"}}' for i in range(12))


# -- runs under chaos ------------------------------------------------------------------------------


def _corpus_subset(root: Path) -> Path:
    return write_corpus_site(
        root, load_config(CORPUS_CONFIG).audio_key_template, limit=CORPUS_EPISODES_WITH_AUDIO
    )


@pytest.fixture(scope="module")
def corpus_subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _corpus_subset(tmp_path_factory.mktemp("corpus-subset"))


@pytest.fixture(scope="module")
def calm_report(corpus_subset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_local(corpus_subset, tmp_path_factory.mktemp("calm"), CORPUS_CONFIG, progress=False)


@pytest.mark.slow
def test_duplicated_shuffled_deliveries_and_lost_events_end_as_a_calm_run(
    corpus_subset: Path, calm_report: dict[str, Any], tmp_path: Path
) -> None:
    spec = parse_spec("duplicates=3,shuffle,put-events-failure=0.3,seed=7")
    report = run_local(corpus_subset, tmp_path, CORPUS_CONFIG, progress=False, chaos=spec)

    injected = report["chaos"]["injected"]
    assert report["chaos"]["spec"] == str(spec)
    assert injected["duplicates"] >= 2 * report["stats"]["uploads"]  # every upload's event three times
    assert injected["put-events-failure"] > 0
    assert report["dead_letters"] == []
    assert episodes_of(report["episodes"]) == episodes_of(calm_report["episodes"])
    assert feeds_of(report["feeds"]) == feeds_of(calm_report["feeds"])
    assert episode_event_counts(report["events"]) == episode_event_counts(calm_report["events"])
    assert set(episode_event_counts(report["events"]).values()) == {1}  # no duplicate episode event


@pytest.fixture
def sample_show(tmp_path: Path) -> Path:
    return write_sample_show(tmp_path / "show")


def _upload(run: Pipeline, folder: Path) -> None:
    for path in input_files(folder):
        run.put(path.relative_to(folder).as_posix(), path.read_bytes())


def _redrive(emulation: Emulation) -> list[tuple[Route, MessageTypeDef]]:
    """Move every dead letter back to its queue, as an operator does once the fault is over."""
    moved = []
    for route in ROUTES:
        queues = emulation.queues[route.function]
        for message in receive_all(emulation.sqs, queues.dlq_url, delete=True):
            emulation.sqs.send_message(QueueUrl=queues.url, MessageBody=message["Body"])
            moved.append((route, message))
    return moved


def _let_in_progress_markers_expire(emulation: Emulation) -> None:
    """What the minutes before a redrive do: notify's idempotency markers of interrupted deliveries expire.

    Lambda redelivers after the visibility timeout, by which time they have; the local poller retries at
    once, so without this a delivery whose completion write was throttled is "already in progress" for
    every retry.
    """
    pages = emulation.dynamodb.get_paginator("query").paginate(
        TableName=emulation.names.table,
        KeyConditionExpression="pk = :pk",
        FilterExpression="#status = :status",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":pk": {"S": IDEMPOTENCY_PARTITION}, ":status": {"S": "INPROGRESS"}},
    )
    for page in pages:
        for item in page.get("Items", []):
            emulation.dynamodb.update_item(
                TableName=emulation.names.table,
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="SET in_progress_expiration = :past",
                ExpressionAttributeValues={":past": {"N": "0"}},
            )


def _end_state(run: Pipeline) -> tuple[dict[str, tuple[Any, ...]], dict[str, bytes | None]]:
    feeds = {c: run.feed(f.key) for c, f in run.session.config.feeds.items()}
    return episodes_of(collect_episodes(run.emulation)), feeds


@pytest.fixture
def calm_sample(sample_show: Path) -> Iterator[tuple[dict[str, tuple[Any, ...]], dict[str, bytes | None]]]:
    with pipeline() as run:
        _upload(run, sample_show)
        run.settle()
        yield _end_state(run)


def test_throttles_and_s3_errors_end_as_a_calm_run_once_dead_letters_are_redriven(
    sample_show: Path, calm_sample: tuple[dict[str, tuple[Any, ...]], dict[str, bytes | None]]
) -> None:
    """Faults are injected above botocore's retries, so 0.2 of DynamoDB calls failing is what a handler
    sees in a severe outage: a record that makes a dozen calls can fail all of its five deliveries. Such a
    record goes to its dead-letter queue only after the full budget, nothing is half-done, and redriving it
    once the outage is over completes the run."""
    with pipeline() as run:
        _upload(run, sample_show)
        faults = Faults(parse_spec("ddb-throttle=0.2,s3-errors=0.1,seed=11"))
        corrections = {INGEST.function: correct_body}
        ChaosPoller(run.emulation, run.session.handlers, faults, corrections=corrections).drain()
        assert faults.counts["ddb-throttle"] > 0 and faults.counts["s3-errors"] > 0
        _let_in_progress_markers_expire(run.emulation)
        for route, message in _redrive(run.emulation):
            # The receive that read it from the dead-letter queue counts too.
            assert int(message["Attributes"]["ApproximateReceiveCount"]) > route.max_receive_count
        run.settle()
        assert run.dead_letters() == []
        assert _end_state(run) == calm_sample
