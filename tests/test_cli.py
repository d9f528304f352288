from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mp3_fixtures import matching_mp3

from podcast_pipeline_tools.cli import main, post_location

CONFIG = Path(__file__).parent / "data" / "runninginproduction.yaml"
NAME = "2020-10-26-54-paparazzi-accessories.md"
SIZE, SECONDS = 200_000, 12
POST = (
    '---\nlayout: "podcast-or-interview"\n\nmp3_bytes: "{bytes}"\nmp3_duration: "{duration}"\n\n'
    'category: "podcast"\ntitle: "Paparazzi [Accessories]"\n---\n\n'
    "###### 📄 References\n{{{{ page.guest }}}}\n"
)


def write_site(
    root: Path, mp3_bytes: str = str(SIZE), mp3_duration: str = "0:12", newline: str = "\n"
) -> Path:
    """A site with one post and, at the config's audio key, its matching MP3."""
    post = root / "_posts" / "podcast" / NAME
    post.parent.mkdir(parents=True)
    post.write_bytes(POST.format(bytes=mp3_bytes, duration=mp3_duration).replace("\n", newline).encode())
    audio = root / "assets" / "podcast" / "running-in-production-54.mp3"
    audio.parent.mkdir(parents=True)
    audio.write_bytes(matching_mp3(SIZE, SECONDS))
    return post


def check_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    code = main(["check", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_check_verified_finds_the_audio_in_the_site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    post = write_site(tmp_path)
    code, episode = check_json(capsys, str(post), "--config", str(CONFIG))
    assert code == 0
    assert episode["state"] == "published"
    assert episode["problems"] == []
    assert episode["id"] == "podcast/54-paparazzi-accessories"
    assert episode["measured"]["bytes"] == SIZE
    assert int(episode["measured"]["duration_seconds"]) == SECONDS
    assert set(episode) == {
        "id",
        "category",
        "number",
        "slug",
        "title",
        "date",
        "state",
        "claimed",
        "measured",
        "problems",
        "feed_readiness",  # the contract only grows: what Apple or PSP-1 would flag in the site's feeds
    }


def test_check_failed_shows_codes_and_fix_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    post = write_site(tmp_path, mp3_bytes="200704", mp3_duration="0:13")  # 200704: 49 blocks of 4 KiB
    assert main(["check", str(post), "--config", str(CONFIG)]) == 1
    out = capsys.readouterr().out
    assert "Paparazzi [Accessories]" in out  # user text is not taken for rich markup
    assert "size_on_disk" in out
    assert "duration_rounding" in out or "duration_mismatch" in out
    assert 'mp3_bytes: "200000"' in out
    assert 'mp3_duration: "0:12"' in out
    assert "verification failed" in out


def test_check_warning_still_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    post = write_site(tmp_path, mp3_duration="00:12")
    code, episode = check_json(capsys, str(post), "--config", str(CONFIG))
    assert code == 0
    assert [(p["code"], p["severity"]) for p in episode["problems"]] == [
        ("non_canonical_duration", "warning")
    ]


def test_check_without_audio_says_audio_is_needed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    post = write_site(tmp_path)
    (tmp_path / "assets" / "podcast" / "running-in-production-54.mp3").unlink()
    code, episode = check_json(capsys, str(post), "--config", str(CONFIG))
    assert code == 2
    assert episode["state"] == "awaiting_audio"
    assert [p["code"] for p in episode["problems"]] == ["audio_missing"]
    assert "--audio" in episode["problems"][0]["message"]


def test_check_of_a_failing_post_without_audio_fails_and_says_audio_is_needed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    post = write_site(tmp_path, mp3_bytes="many")
    (tmp_path / "assets" / "podcast" / "running-in-production-54.mp3").unlink()
    code, episode = check_json(capsys, str(post), "--config", str(CONFIG))
    assert code == 1
    assert episode["state"] == "failed"
    assert [p["code"] for p in episode["problems"]] == ["invalid_mp3_bytes", "audio_missing"]
    assert "pass --audio FILE.mp3 (nothing at " in episode["problems"][-1]["message"]


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        (["{post}", "--audio", "{tmp}/missing.mp3"], "audio_missing"),
        (["{tmp}/missing.md"], "post_missing"),
        (["{post}", "--config", "{tmp}/missing.yaml"], "invalid_config"),
        (["{post}", "--audio", "{tmp}"], "audio_missing"),
    ],
)
def test_unusable_input_is_exit_2_with_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], code: str
) -> None:
    post = write_site(tmp_path)
    args = [a.format(post=post, tmp=tmp_path) for a in arguments]
    exit_code, episode = check_json(capsys, *args)
    assert exit_code == 2
    assert episode["state"] == "failed"
    assert episode["problems"][-1]["code"] == code


def test_unusable_input_without_json_prints_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    post = write_site(tmp_path)
    (tmp_path / "empty.mp3").write_bytes(b"")
    assert main(["check", str(post), "--audio", str(tmp_path / "empty.mp3")]) == 2
    assert "empty_file" in capsys.readouterr().out


def test_usage_errors_and_help_return_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["check"]) == 2
    assert main(["--help"]) == 0
    assert "check" in capsys.readouterr().out


def test_post_location_finds_the_site_root(tmp_path: Path) -> None:
    post = tmp_path / "site" / "_posts" / "podcast" / NAME
    assert post_location(post, "_posts/") == (f"_posts/podcast/{NAME}", tmp_path / "site")
    assert post_location(tmp_path / NAME, "_posts/") == (f"_posts/{NAME}", None)


# -- fix ---------------------------------------------------------------------------------------------


def fix(post: Path, *extra: str) -> int:
    audio = post.parents[2] / "assets" / "podcast" / "running-in-production-54.mp3"
    return main(["fix", str(post), "--audio", str(audio), *extra])


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_fix_rewrites_only_the_two_lines(
    tmp_path: Path, newline: str, capsys: pytest.CaptureFixture[str]
) -> None:
    post = write_site(tmp_path, mp3_bytes="204800", mp3_duration="0:13", newline=newline)
    before = post.read_bytes()
    assert fix(post) == 0
    after = post.read_bytes()
    nl = newline.encode()
    changed = [(a, b) for a, b in zip(before.split(nl), after.split(nl), strict=True) if a != b]
    assert changed == [
        (b'mp3_bytes: "204800"', b'mp3_bytes: "200000"'),
        (b'mp3_duration: "0:13"', b'mp3_duration: "0:12"'),
    ]
    assert after.count(nl) == before.count(nl)
    if newline == "\r\n":
        assert after.count(b"\n") == after.count(b"\r\n")
    assert main(["check", str(post), "--config", str(CONFIG)]) == 0
    assert fix(post) == 0
    assert "already right" in capsys.readouterr().out


def test_fix_keeps_a_bom(tmp_path: Path) -> None:
    post = write_site(tmp_path, mp3_bytes="1")
    post.write_bytes(b"\xef\xbb\xbf" + post.read_bytes())
    assert fix(post) == 0
    assert post.read_bytes().startswith(
        b'\xef\xbb\xbf---\nlayout: "podcast-or-interview"\n\nmp3_bytes: "200000"\n'
    )


def test_fix_dry_run_prints_a_diff_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    post = write_site(tmp_path, mp3_bytes="204800")
    before = post.read_bytes()
    mode = post.stat().st_mode
    assert fix(post, "--dry-run") == 0
    out = capsys.readouterr().out
    assert '-mp3_bytes: "204800"' in out
    assert '+mp3_bytes: "200000"' in out
    assert post.read_bytes() == before
    assert post.stat().st_mode == mode
    assert [p.name for p in post.parent.iterdir()] == [NAME]


def test_fix_with_unusable_audio_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    post = write_site(tmp_path, mp3_bytes="204800")
    before = post.read_bytes()
    png = tmp_path / "cover.mp3"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    assert main(["fix", str(post), "--audio", str(png)]) == 2
    assert "not_mp3" in capsys.readouterr().err
    assert post.read_bytes() == before


def test_fix_without_audio_is_unusable(tmp_path: Path) -> None:
    post = write_site(tmp_path, mp3_bytes="204800")
    assert main(["fix", str(post)]) == 2  # the sample config's audio key does not exist in this site


def test_console_script_entry_point(tmp_path: Path) -> None:
    post = write_site(tmp_path)
    script = Path(sys.executable).parent / "podcast-pipeline"
    done = subprocess.run(
        [str(script), "check", str(post), "--config", str(CONFIG), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["state"] == "published"


@pytest.mark.parametrize("command", [["--help"], ["check", "--help"], ["local", "run", "--help"]])
def test_the_command_line_runs_without_the_cli_extra(command: list[str]) -> None:
    # A plain `pip install` has no moto: the commands that need no emulation, and every --help, still work.
    probe = (
        "import sys\n"
        "sys.modules['moto'] = None\n"
        "from podcast_pipeline_tools.cli import main\n"
        f"sys.exit(main({command!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "usage: podcast-pipeline" in done.stdout
