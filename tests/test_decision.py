"""The one decision: an episode's state, problems and events from its sources, and no caller overriding it."""

from __future__ import annotations

import ast
from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import pytest

from podcast_pipeline.audio import AudioFacts
from podcast_pipeline.config import load_config
from podcast_pipeline.decision import (
    AudioSource,
    Decision,
    DeletedAudio,
    DeletedPost,
    MeasuredAudio,
    MissingAudio,
    ParsedPost,
    PostSource,
    UnusableAudio,
    UnusablePost,
    decide,
)
from podcast_pipeline.episode import Episode, SourceRef, State
from podcast_pipeline.feed.notes import Notes
from podcast_pipeline.posts import Post, parse_post
from podcast_pipeline.problems import Code, Severity, error, warning
from podcast_pipeline.routes import DetailType

ROOT = Path(__file__).resolve().parents[1]
CONFIG = load_config(ROOT / "tests" / "data" / "runninginproduction.yaml")
POST_KEY = "_posts/podcast/2020-10-26-54-paparazzi-accessories.md"
AUDIO_KEY = "assets/podcast/running-in-production-54.mp3"
POST_REF = SourceRef(POST_KEY, version_id="p2")
AUDIO_REF = SourceRef(AUDIO_KEY, version_id="a2", size=59259264)
FACTS = AudioFacts(59259264, 3703.5, "info", "cbr", 128000, 44100, 2, 417, 65536, 1, False)

PUBLISHED = DetailType.EPISODE_PUBLISHED
UPDATED = DetailType.EPISODE_UPDATED
UNPUBLISHED = DetailType.EPISODE_UNPUBLISHED
VERIFICATION_FAILED = DetailType.EPISODE_VERIFICATION_FAILED


def post(mp3_bytes: str = "59259264", *, key: str = POST_KEY) -> Post:
    text = f'---\ntitle: Paparazzi\nmp3_bytes: "{mp3_bytes}"\nmp3_duration: "1:01:43"\n---\nnotes\n'
    return parse_post(key, text.encode())


def published() -> Episode:
    """The episode as a first, good pair of post and MP3 published it."""
    first = decide(ParsedPost(post(), SourceRef(POST_KEY, "p1")), MeasuredAudio(FACTS), CONFIG, None)
    assert first.state is State.PUBLISHED
    return first.episode


POSTS: dict[str, PostSource] = {
    "parsed": ParsedPost(post(), POST_REF),
    "unusable": UnusablePost(POST_KEY, error(Code.NO_FRONT_MATTER, "no front-matter"), POST_REF),
    "deleted": DeletedPost(POST_KEY, POST_REF),
}
AUDIOS: dict[str, AudioSource | None] = {
    "measured": MeasuredAudio(FACTS, AUDIO_REF),
    "unusable": UnusableAudio(AUDIO_KEY, error(Code.NOT_MP3, "not an MP3"), AUDIO_REF),
    "deleted": DeletedAudio(AUDIO_KEY, AUDIO_REF),
    "missing": MissingAudio("pass --audio FILE.mp3", AUDIO_KEY),
    "none": None,
}

# (post, audio, previous) -> (state, problem codes, events)
EXPECTED: dict[tuple[str, str, str], tuple[State, list[Code], list[DetailType]]] = {
    ("parsed", "measured", "none"): (State.PUBLISHED, [], [PUBLISHED]),
    ("parsed", "measured", "published"): (State.PUBLISHED, [], [UPDATED]),
    ("parsed", "unusable", "none"): (State.FAILED, [Code.NOT_MP3], [VERIFICATION_FAILED]),
    ("parsed", "unusable", "published"): (State.FAILED, [Code.NOT_MP3], [UNPUBLISHED, VERIFICATION_FAILED]),
    ("parsed", "deleted", "none"): (State.AWAITING_AUDIO, [Code.AUDIO_MISSING], []),
    ("parsed", "deleted", "published"): (State.UNPUBLISHED, [Code.AUDIO_MISSING], [UNPUBLISHED]),
    ("parsed", "missing", "none"): (State.AWAITING_AUDIO, [Code.AUDIO_MISSING], []),
    ("parsed", "missing", "published"): (State.AWAITING_AUDIO, [Code.AUDIO_MISSING], [UNPUBLISHED]),
    ("parsed", "none", "none"): (State.AWAITING_AUDIO, [], []),
    ("parsed", "none", "published"): (State.AWAITING_AUDIO, [], [UNPUBLISHED]),
    **{
        ("unusable", audio, "none"): (State.FAILED, [Code.NO_FRONT_MATTER], [VERIFICATION_FAILED])
        for audio in AUDIOS
    },
    **{
        ("unusable", audio, "published"): (
            State.FAILED,
            [Code.NO_FRONT_MATTER],
            [UNPUBLISHED, VERIFICATION_FAILED],
        )
        for audio in AUDIOS
    },
    **{("deleted", audio, "none"): (State.UNPUBLISHED, [], []) for audio in AUDIOS},
    # A deleted post keeps what was decided before it: the published episode had no findings.
    **{("deleted", audio, "published"): (State.UNPUBLISHED, [], [UNPUBLISHED]) for audio in AUDIOS},
}


@pytest.mark.parametrize(("post_name", "audio_name", "previous_name"), sorted(EXPECTED))
def test_each_combination_of_sources(post_name: str, audio_name: str, previous_name: str) -> None:
    previous = published() if previous_name == "published" else None
    decision = decide(POSTS[post_name], AUDIOS[audio_name], CONFIG, previous)
    state, codes, events = EXPECTED[post_name, audio_name, previous_name]
    assert decision.state is decision.episode.state is state
    assert [problem.code for problem in decision.episode.problems] == codes
    assert list(decision.events) == events
    assert decision.episode.id == "podcast/54-paparazzi-accessories"
    assert decision.episode.post == POST_REF


def test_every_combination_is_expected() -> None:
    assert len(EXPECTED) == len(POSTS) * len(AUDIOS) * 2


def test_a_parsed_post_carries_its_audio_source() -> None:
    measured = decide(POSTS["parsed"], AUDIOS["measured"], CONFIG, None).episode
    assert (measured.audio, measured.audio_key, measured.measured and measured.measured["bytes"]) == (
        AUDIO_REF,
        AUDIO_KEY,
        59259264,
    )
    for name in ("unusable", "deleted"):
        episode = decide(POSTS["parsed"], AUDIOS[name], CONFIG, None).episode
        assert (episode.audio, episode.measured) == (AUDIO_REF, None)
    not_seen = decide(POSTS["parsed"], None, CONFIG, None).episode
    assert (not_seen.audio, not_seen.audio_key) == (None, AUDIO_KEY)


def test_the_audio_findings_follow_the_claims_with_their_keys_and_messages() -> None:
    wrong = ParsedPost(post("12345"), POST_REF)
    unusable = decide(wrong, AUDIOS["unusable"], CONFIG, None).episode
    assert [(p.code, p.key) for p in unusable.problems][-1] == (Code.NOT_MP3, AUDIO_KEY)
    deleted = decide(wrong, AUDIOS["deleted"], CONFIG, None).episode
    assert deleted.problems[-1] == error(Code.AUDIO_MISSING, f"the MP3 {AUDIO_KEY} was deleted")
    assert deleted.problems[-1].key == AUDIO_KEY
    missing = decide(POSTS["parsed"], MissingAudio("pass --audio FILE.mp3 (nothing at x)"), CONFIG, None)
    (needed,) = missing.episode.problems
    assert (needed.message, needed.severity, needed.key) == (
        "pass --audio FILE.mp3 (nothing at x)",
        Severity.ERROR,
        None,
    )


def test_a_failing_post_fails_without_its_mp3_but_awaits_a_deleted_one() -> None:
    wrong = ParsedPost(post("not a number"), POST_REF)
    assert decide(wrong, None, CONFIG, None).state is State.FAILED
    missing = decide(wrong, AUDIOS["missing"], CONFIG, None)
    assert missing.state is State.FAILED
    assert [p.code for p in missing.episode.problems] == [Code.INVALID_MP3_BYTES, Code.AUDIO_MISSING]
    # A deleted MP3 settles the state whatever the claims say: the episode is no longer, or not yet, live.
    assert decide(wrong, AUDIOS["deleted"], CONFIG, None).state is State.AWAITING_AUDIO
    assert decide(wrong, AUDIOS["deleted"], CONFIG, published()).state is State.UNPUBLISHED
    wrong_claims = decide(ParsedPost(post("12345")), AUDIOS["measured"], CONFIG, published())
    assert wrong_claims.state is State.FAILED
    assert [p.code for p in wrong_claims.episode.problems] == [Code.BYTES_MISMATCH]


def test_a_deleted_post_keeps_what_was_decided_before_it() -> None:
    previous = decide(ParsedPost(post("12345")), MeasuredAudio(FACTS, AUDIO_REF), CONFIG, None).episode
    decision = decide(DeletedPost(POST_KEY, POST_REF), None, CONFIG, previous)
    assert decision.episode == replace(previous, state=State.UNPUBLISHED, post=POST_REF)
    assert decision.events == ()  # it was never live
    never_read = decide(DeletedPost(POST_KEY, POST_REF), None, CONFIG, None).episode
    assert (never_read.id, never_read.date, never_read.number) == (
        "podcast/54-paparazzi-accessories",
        "2020-10-26",
        54,
    )


def test_an_unusable_post_is_known_by_its_key_and_keys_its_problem() -> None:
    problem = error(Code.BAD_ENCODING, "not UTF-8")
    episode = decide(UnusablePost(POST_KEY, problem, POST_REF), AUDIOS["measured"], CONFIG, None).episode
    assert (episode.slug, episode.title, episode.audio, episode.measured) == (
        "54-paparazzi-accessories",
        None,
        None,
        None,
    )
    assert [(p.code, p.key) for p in episode.problems] == [(Code.BAD_ENCODING, POST_KEY)]


def test_an_episode_whose_key_names_no_date_owes_no_events() -> None:
    decision = decide(UnusablePost("_posts/notes.md", error(Code.BAD_KEY, "bad key")), None, CONFIG, None)
    assert (decision.state, decision.episode.date, decision.events) == (State.FAILED, "", ())


def test_a_text_only_post_ignores_any_audio_offered() -> None:
    text_only = ParsedPost(
        parse_post("_posts/interviews/2019-10-13-1-static-site.md", b"---\ntitle: t\n---\nx\n")
    )
    for audio in AUDIOS.values():
        decision = decide(text_only, audio, CONFIG, None)
        assert (decision.state, decision.episode.problems, decision.events) == (
            State.PUBLISHED,
            (),
            (PUBLISHED,),
        )
        assert (decision.episode.audio, decision.episode.audio_key, decision.episode.measured) == (
            None,
            None,
            None,
        )


def test_the_decision_is_pure_and_frozen() -> None:
    previous = published()
    for source in POSTS.values():
        for audio in AUDIOS.values():
            assert decide(source, audio, CONFIG, previous) == decide(source, audio, CONFIG, previous)
    assert previous == published()
    decision = decide(POSTS["parsed"], None, CONFIG, None)
    assert isinstance(decision, Decision)
    with pytest.raises(FrozenInstanceError):
        decision.episode = previous  # type: ignore[misc]


# -- no caller overrides the decision ----------------------------------------------------------------


def _notes(episode: Episode) -> Notes:
    return Notes(
        f"<p>{episode.title}</p>",
        str(episode.title),
        (warning(Code.MISSING_INCLUDE, "gone.html", key=POST_KEY),),
    )


def test_notes_come_with_the_decision_and_their_findings_follow_the_episode_s() -> None:
    decision = decide(
        ParsedPost(post("59259265"), POST_REF), MeasuredAudio(FACTS, AUDIO_REF), CONFIG, None, notes=_notes
    )
    assert decision.episode.notes_html == f"<p>{decision.episode.title}</p>"
    assert [p.code for p in decision.episode.problems] == [Code.BYTES_MISMATCH, Code.MISSING_INCLUDE]
    deleted = decide(DeletedPost(POST_KEY, POST_REF), None, CONFIG, published(), notes=_notes)
    assert deleted.episode.notes_html == ""  # a deleted post has no notes to render


def test_an_episode_too_large_to_store_fails_without_its_notes() -> None:
    decision = decide(
        ParsedPost(post(), POST_REF),
        MeasuredAudio(FACTS, AUDIO_REF),
        CONFIG,
        published(),
        notes=_notes,
        oversize=lambda episode: (400_000, 358_400) if episode.notes_html else None,
    )
    assert decision.state is State.FAILED
    assert decision.episode.notes_html == "" and decision.episode.front_matter == {}
    assert decision.episode.problems[-1].code is Code.TOO_LARGE
    assert "400,000 bytes stored; 358,400 fit" in decision.episode.problems[-1].message
    assert decision.events == (UNPUBLISHED, VERIFICATION_FAILED)
    fits = decide(
        ParsedPost(post(), POST_REF), MeasuredAudio(FACTS, AUDIO_REF), CONFIG, None, oversize=lambda _: None
    )
    assert fits.state is State.PUBLISHED


SOURCES = sorted([*(ROOT / "layers").rglob("*.py"), *(ROOT / "tools").rglob("*.py")])
DECISION = ROOT / "layers" / "podcast_pipeline" / "decision.py"
EPISODE = ROOT / "layers" / "podcast_pipeline" / "episode.py"  # Episode.from_dict reads what was decided


def _overrides(code: str) -> list[tuple[str, int, str]]:
    """(enclosing function, line, what) of each replace(..., state=/problems=) and Episode(...) in `code`."""
    found: list[tuple[str, int, str]] = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) else function
            if isinstance(child, ast.Call):
                called = (
                    child.func.attr
                    if isinstance(child.func, ast.Attribute)
                    else getattr(child.func, "id", "")
                )
                if called == "replace":
                    found.extend(
                        (function, child.lineno, keyword.arg)
                        for keyword in child.keywords
                        if keyword.arg in {"state", "problems"}
                    )
                elif called == "Episode":
                    found.append((function, child.lineno, "Episode("))
            visit(child, name)

    visit(ast.parse(code), "")
    return found


def test_only_the_decision_sets_an_episode_s_state_or_problems() -> None:
    wrong = []
    for path in SOURCES:
        if path in (DECISION, EPISODE):
            continue
        relative = path.relative_to(ROOT).as_posix()
        wrong += [
            f"{relative}:{line} ({function}): {what}"
            for function, line, what in _overrides(path.read_text(encoding="utf-8"))
        ]
    assert not wrong, f"callers override the decision: {wrong}"


def test_the_override_check_finds_overrides() -> None:
    assert ("_decide", 2, "state") in _overrides("def _decide(e):\n    return replace(e, state=1)\n")
    assert ("f", 2, "problems") in _overrides("def f(e):\n    return dataclasses.replace(e, problems=())\n")
    assert ("", 1, "Episode(") in _overrides("Episode(id='x')\n")
    assert _overrides("def f(p):\n    return p.replace('a', 'b') or replace(p, key='k')\n") == []
