"""`local run` and `invoke` from the command line: exit codes, a clean stdout, and the sample show."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podcast_pipeline_tools.cli import main
from podcast_pipeline_tools.local.cli import EXIT_FAILED, EXIT_OK, EXIT_UNUSABLE

EVENTS = Path(__file__).resolve().parents[1] / "events"


def test_a_missing_input_folder_is_unusable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["local", "run", "--input", str(tmp_path / "nope"), "--out", str(tmp_path / "out")])
    assert code == EXIT_UNUSABLE
    captured = capsys.readouterr()
    assert "does not exist" in captured.err and "Traceback" not in captured.err
    assert captured.out == ""


def test_a_bad_config_is_unusable_and_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "site.yaml"
    config.write_text("site:\n  url: https://x.example\nfeedz: {}\n")
    code = main(["local", "run", "--config", str(config), "--out", str(tmp_path / "out")])
    assert code == EXIT_UNUSABLE
    assert "feedz" in capsys.readouterr().err


def test_the_sample_show_runs_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["local", "run", "--out", str(out), "--json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)  # stdout holds the report and nothing else
    assert report == json.loads((out / "report.json").read_text())

    states = {e["id"]: e["state"] for e in report["episodes"]}
    assert states["podcast/3-the-wrong-byte-count"] == "failed"
    assert states["notes/release-notes"] == "published"
    assert sorted(states.values()).count("published") == 4
    assert report["dead_letters"] == []
    assert set(report["feeds"]) == {"podcast", "notes"}
    assert all(Path(path).is_file() for path in report["feeds"].values())
    published = [e for e in report["events"] if e["detail-type"] == "Episode Published"]
    assert len(published) == 4
    # One Slack message per published and per failed episode, the failed one with its fix lines.
    episode_messages = [n for n in report["notifications"] if n["detail-type"] != "Feed Updated"]
    assert len(episode_messages) == 5
    (failed,) = [n for n in episode_messages if n["detail-type"] == "Episode Verification Failed"]
    assert "mp3_bytes" in json.dumps(failed["payload"])
    assert report["stats"]["functions"]["ingest"]["records"] >= 9

    # Show notes rendered at ingest reach the feed, Liquid and markdown done.
    feed = Path(report["feeds"]["podcast"]).read_text(encoding="utf-8")
    assert "<content:encoded><![CDATA[<p>In episode 1 of" in feed and "Ada Producer talks about" in feed
    assert "{{" not in feed

    # The functions' EMF metrics, summed as CloudWatch would: every feed rendered at least once.
    assert set(report["stats"]["feed_renders"]) == {"podcast", "notes"}
    assert all(count >= 1 for count in report["stats"]["feed_renders"].values())
    ingest = {m["name"]: m["value"] for m in report["metrics"] if m["dimensions"] == {"service": "ingest"}}
    assert ingest["EpisodesPublished"] >= 4


def test_strict_fails_the_run_when_an_episode_failed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["local", "run", "--serial", "--strict", "--out", str(tmp_path / "out")])
    assert code == EXIT_FAILED  # the sample show's third episode claims the wrong byte count
    assert (
        "1 episode(s) failed (podcast/3-the-wrong-byte-count), 0 record(s) dead-lettered"
        in capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("function", "event"), [("notify", "episode-published.json"), ("ingest", "s3-object-created-post.json")]
)
def test_invoke_runs_one_handler_on_one_event(
    function: str, event: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["invoke", function, "--event", str(EVENTS / event)])
    response = json.loads(capsys.readouterr().out)  # stdout holds the handler's response only
    # The README's examples work as they stand: the ingest sample names a version the seeded sample show
    # does not have, which is a logged no-op; the notify sample goes to the local Slack sink.
    assert code == EXIT_OK
    assert response["batchItemFailures"] == []


def test_invoke_rejects_an_unreadable_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "event.json"
    bad.write_text("{not json")
    assert main(["invoke", "notify", "--event", str(bad)]) == EXIT_UNUSABLE
    assert capsys.readouterr().out == ""
