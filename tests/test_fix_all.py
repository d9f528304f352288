"""`fix --all SITE_DIR --audio-dir DIR`: the fix command over every post of a site."""

from __future__ import annotations

from pathlib import Path

import pytest
from mp3_fixtures import matching_mp3

from podcast_pipeline_tools.cli import main

CONFIG = Path(__file__).parent / "data" / "runninginproduction.yaml"
POST = (
    '---\nlayout: "podcast-or-interview"\nmp3_bytes: "{bytes}"\nmp3_duration: "{duration}"\n'
    'category: "podcast"\ntitle: "Episode {number}"\n---\n\nShow notes.\n'
)
INTERVIEW = '---\ncategory: "interviews"\ntitle: "An interview"\n---\n\nText only.\n'
# number → (bytes, seconds) of the real file, and what the post claims
EPISODES = {
    1: ((120_000, 7), ("120000", "0:07")),  # right
    2: ((130_000, 8), ("133120", "0:08")),  # size on disk
    3: ((140_000, 9), ("140000", "0:10")),  # rounded duration
}


def post_path(site: Path, number: int) -> Path:
    return site / "_posts" / "podcast" / f"2020-01-0{number}-{number}-episode.md"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    for number, (_, (claimed_bytes, claimed_duration)) in EPISODES.items():
        path = post_path(root, number)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(POST.format(bytes=claimed_bytes, duration=claimed_duration, number=number))
    interview = root / "_posts" / "interviews" / "2020-01-05-1-an-interview.md"
    interview.parent.mkdir(parents=True)
    interview.write_text(INTERVIEW)
    return root


@pytest.fixture
def audio_dir(tmp_path: Path) -> Path:
    """Episodes 1 and 2 by file name, episode 3 at its bucket key: both layouts are found."""
    root = tmp_path / "audio"
    for number, ((size, seconds), _) in EPISODES.items():
        name = f"running-in-production-{number}.mp3"
        path = root / "assets" / "podcast" / name if number == 3 else root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(matching_mp3(size, seconds))
    return root


def fix_all(site: Path, audio_dir: Path, *extra: str) -> int:
    return main(["fix", "--all", str(site), "--audio-dir", str(audio_dir), "--config", str(CONFIG), *extra])


def check(site: Path, number: int, audio_dir: Path) -> int:
    audio = next(audio_dir.rglob(f"running-in-production-{number}.mp3"))
    return main(["check", str(post_path(site, number)), "--audio", str(audio), "--config", str(CONFIG)])


def test_every_post_is_fixed_and_then_verifies(
    site: Path, audio_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {number: post_path(site, number).read_text() for number in EPISODES}
    assert fix_all(site, audio_dir) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert "4 posts: 2 rewritten, 1 already right, 1 text-only (no mp3_* fields), 0 unusable" in out
    assert post_path(site, 1).read_text() == before[1]
    assert 'mp3_bytes: "130000"' in post_path(site, 2).read_text()
    assert 'mp3_duration: "0:09"' in post_path(site, 3).read_text()
    assert (site / "_posts" / "interviews" / "2020-01-05-1-an-interview.md").read_text() == INTERVIEW
    for number in EPISODES:
        assert check(site, number, audio_dir) == 0
    assert fix_all(site, audio_dir) == 0
    assert "3 already right" in capsys.readouterr().out


def test_dry_run_prints_the_diffs_and_writes_nothing(
    site: Path, audio_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {path: path.read_bytes() for path in site.rglob("*.md")}
    assert fix_all(site, audio_dir, "--dry-run") == 0
    out = capsys.readouterr().out
    assert '-mp3_bytes: "133120"' in out
    assert '+mp3_bytes: "130000"' in out
    assert '+mp3_duration: "0:09"' in out
    assert {path: path.read_bytes() for path in site.rglob("*.md")} == before


def test_a_missing_mp3_is_unusable_and_the_others_are_still_fixed(
    site: Path, audio_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (audio_dir / "running-in-production-2.mp3").unlink()
    assert fix_all(site, audio_dir) == 2
    captured = capsys.readouterr()
    assert "running-in-production-2.mp3" in captured.err.replace("\n", "")  # rich wraps long paths
    assert "1 unusable" in " ".join(captured.out.split())
    assert 'mp3_duration: "0:09"' in post_path(site, 3).read_text()


def test_usage_errors_are_exit_2(site: Path, audio_dir: Path, tmp_path: Path) -> None:
    assert main(["fix", "--all", str(site)]) == 2
    assert main(["fix", str(post_path(site, 1)), "--all", str(site), "--audio-dir", str(audio_dir)]) == 2
    assert main(["fix", str(post_path(site, 1)), "--audio-dir", str(audio_dir)]) == 2
    assert main(["fix"]) == 2
    (tmp_path / "empty").mkdir()
    assert fix_all(tmp_path / "empty", audio_dir) == 2
