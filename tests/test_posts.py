from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from corpus import corpus_posts
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podcast_pipeline.config import SiteConfig
from podcast_pipeline.posts import (
    MAX_POST_BYTES,
    parse_key,
    parse_post,
    post_identity,
)
from podcast_pipeline.problems import Code, ProblemError
from podcast_pipeline_tools.rewrite import rewrite_fields

KEY = "_posts/podcast/2020-10-26-54-paparazzi-accessories.md"


def post_bytes(front_matter: str, body: str = "Show notes with {{ page.guest }}.\n") -> bytes:
    return f"---\n{front_matter}---\n\n{body}".encode()


def code_of(key: str, data: bytes) -> Code:
    with pytest.raises(ProblemError) as caught:
        parse_post(key, data)
    assert caught.value.problem.key == key
    return caught.value.problem.code


GOOD = 'title: "Paparazzi"\nmp3_bytes: "59259264"\nmp3_duration: "1:01:43"\n'


def test_a_post_gives_identity_claims_and_untouched_body() -> None:
    post = parse_post(
        KEY, post_bytes(GOOD + "date: 2020-10-26\n", "###### 📄 References\n{% include x.html %}\n")
    )
    assert (post.category, post.date, post.slug, post.number) == (
        "podcast",
        dt.date(2020, 10, 26),
        "54-paparazzi-accessories",
        54,
    )
    assert post.episode_id == "podcast/54-paparazzi-accessories"
    assert post.title == "Paparazzi"
    assert (post.claimed_bytes, post.claimed_duration) == ("59259264", "1:01:43")
    assert post.has_audio
    assert post.audio_key is None
    assert post.body == "###### 📄 References\n{% include x.html %}"
    assert post.front_matter["date"] == "2020-10-26"
    json.dumps(post.front_matter)


@pytest.mark.parametrize("corpus_post", corpus_posts(), ids=lambda p: p.path.name)
def test_every_corpus_post_parses(corpus_post) -> None:  # type: ignore[no-untyped-def]
    post = parse_post(corpus_post.key, corpus_post.data)
    assert post.category == corpus_post.key.split("/")[1]
    assert post.title
    assert (post.claimed_bytes, post.claimed_duration) == (corpus_post.mp3_bytes, corpus_post.mp3_duration)
    assert post.has_audio is (post.category == "podcast")
    assert post.number == int(post.slug.split("-")[0])
    json.dumps(post.front_matter)


def test_unquoted_values_are_read_as_written_not_as_yaml_numbers() -> None:
    # PyYAML's YAML 1.1 rules make `1:01:43` the base-60 integer 3703 and `0123` the octal 83.
    post = parse_post(KEY, post_bytes("title: t\nmp3_bytes: 0123\nmp3_duration: 1:01:43\n"))
    assert (post.claimed_bytes, post.claimed_duration) == ("0123", "1:01:43")
    assert post.front_matter["mp3_duration"] == "1:01:43"
    unquoted_int = parse_post(KEY, post_bytes("title: t\nmp3_bytes: 59259264\nmp3_duration: '1:01:43'\n"))
    assert unquoted_int.claimed_bytes == "59259264"


def test_empty_claims_are_none_but_still_mark_an_audio_post() -> None:
    post = parse_post(KEY, post_bytes("title: t\nmp3_bytes:\nmp3_duration: ~\n"))
    assert (post.claimed_bytes, post.claimed_duration) == (None, None)
    assert post.has_audio


def test_non_scalar_claim_is_kept_as_written() -> None:
    post = parse_post(KEY, post_bytes("title: t\nmp3_bytes: [1, 2]\nmp3_duration: '1:00'\n"))
    assert post.claimed_bytes == "[1, 2]"


def test_text_only_post_has_no_audio_and_explicit_key_is_kept() -> None:
    assert not parse_post(KEY, post_bytes("title: t\n")).has_audio
    post = parse_post(KEY, post_bytes("title: t\nmp3_key: /audio/54.mp3\n"))
    assert post.has_audio
    assert post.audio_key == "audio/54.mp3"


@pytest.mark.parametrize("title", ["", "   ", "[1, 2]", "~"])
def test_missing_or_unusable_title_is_none_not_an_exception(title: str) -> None:
    assert parse_post(KEY, post_bytes(f"title: {title}\n")).title is None
    assert parse_post(KEY, post_bytes("layout: x\n")).title is None


def test_utf8_bom_and_crlf_are_tolerated() -> None:
    post = parse_post(KEY, b"\xef\xbb\xbf" + post_bytes(GOOD).replace(b"\n", b"\r\n"))
    assert post.title == "Paparazzi"
    assert post.claimed_duration == "1:01:43"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("---\ntitle: t\n---\n".encode("utf-16"), "UTF-16"),
        ("---\ntitle: t\n---\n".encode("utf-32"), "UTF-32"),
        (b"---\ntitle: t\n---\n\x00\x01", "NUL"),
        ("---\ntitle: café\n---\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_bad_encodings(data: bytes, message: str) -> None:
    with pytest.raises(ProblemError, match=message) as caught:
        parse_post(KEY, data)
    assert caught.value.problem.code is Code.BAD_ENCODING


def test_size_is_checked_before_decoding() -> None:
    assert code_of(KEY, b"\xff" * (MAX_POST_BYTES + 1)) is Code.TOO_LARGE
    assert parse_post(KEY, post_bytes("title: t\n", "x" * (MAX_POST_BYTES - 100))).title == "t"


BILLION_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(8)
)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"just markdown\n", Code.NO_FRONT_MATTER),
        (b"", Code.NO_FRONT_MATTER),
        (b"---\ntitle: never closed\n", Code.NO_FRONT_MATTER),
        (post_bytes("title: [unclosed\n"), Code.INVALID_FRONT_MATTER),
        (post_bytes("- a\n- b\n"), Code.INVALID_FRONT_MATTER),
        (post_bytes("just a string\n"), Code.INVALID_FRONT_MATTER),
        (post_bytes("x: !!python/object/apply:os.system ['echo pwned']\n"), Code.INVALID_FRONT_MATTER),
        (post_bytes("x: !!python/name:os.system\n"), Code.INVALID_FRONT_MATTER),
        (post_bytes("x: !custom 1\n"), Code.INVALID_FRONT_MATTER),
        (post_bytes(BILLION_LAUGHS), Code.INVALID_FRONT_MATTER),
        (post_bytes("a: &a [*a]\n"), Code.INVALID_FRONT_MATTER),
        (post_bytes("a: " + "[" * 200 + "]" * 200 + "\n"), Code.INVALID_FRONT_MATTER),
        (post_bytes("date: 2020-13-45\n"), Code.INVALID_FRONT_MATTER),
        (post_bytes("title: t\ntitle2: \x07bell\n"), Code.INVALID_FRONT_MATTER),
    ],
    ids=[
        "no-front-matter",
        "empty",
        "unclosed",
        "yaml-error",
        "list",
        "scalar",
        "python-apply",
        "python-name",
        "unknown-tag",
        "alias-bomb",
        "recursive-alias",
        "deep-nesting",
        "invalid-date",
        "control-char",
    ],
)
def test_unusable_front_matter(data: bytes, code: Code) -> None:
    assert code_of(KEY, data) is code


def test_python_tags_never_execute(tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "pwned"
    data = post_bytes(f"x: !!python/object/apply:os.system ['touch {marker}']\n")
    assert code_of(KEY, data) is Code.INVALID_FRONT_MATTER
    assert not marker.exists()


def test_small_aliases_are_fine() -> None:
    post = parse_post(KEY, post_bytes("title: t\nbase: &base {a: 1}\nother:\n  <<: *base\n  b: 2\n"))
    assert post.front_matter["other"] == {"a": 1, "b": 2}


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("posts/podcast/2020-10-26-54-x.md", "is not under"),
        ("_posts/podcast/2020-13-45-54-x.md", "invalid date 2020-13-45"),
        ("_posts/podcast/2020-02-30-54-x.md", "invalid date"),
        ("_posts/podcast/54-x.md", "is not <YYYY-MM-DD>-<slug>.md"),
        ("_posts/podcast/2020-10-26-.md", "is not <YYYY-MM-DD>-<slug>.md"),
        ("_posts/podcast/2020-10-26-54-x.txt", "is not <YYYY-MM-DD>-<slug>.md"),
        ("_posts/a/b/2020-10-26-54-x.md", "has folders 'a/b'"),
        ("_posts/../2020-10-26-54-x.md", "has folders '..'"),
    ],
)
def test_bad_keys(key: str, message: str) -> None:
    with pytest.raises(ProblemError, match=re.escape(message)) as caught:
        parse_post(key, post_bytes(GOOD))
    assert caught.value.problem.code is Code.BAD_KEY


def test_category_comes_from_the_folder_else_the_front_matter() -> None:
    folder_wins = parse_post(KEY, post_bytes(GOOD + "category: interviews\n"))
    assert folder_wins.category == "podcast"
    flat = "_posts/2020-10-26-54-x.md"
    assert parse_post(flat, post_bytes(GOOD + "category: interviews\n")).category == "interviews"
    assert parse_post(flat, post_bytes(GOOD + "categories: [notes, misc]\n")).category == "notes"
    assert code_of(flat, post_bytes(GOOD)) is Code.BAD_KEY
    assert code_of(flat, post_bytes(GOOD + "category: a/b\n")) is Code.INVALID_FRONT_MATTER


def test_custom_prefix_and_no_number() -> None:
    where = parse_key("content/posts/notes/2021-01-02-hello.md", posts_prefix="content/posts/")
    assert (where.category, where.slug, where.number) == ("notes", "hello", None)


def test_post_identity_from_the_key_alone() -> None:
    config = SiteConfig(site={"url": "https://x.example"})
    identity = post_identity(KEY, config)
    assert (identity.id, identity.date, identity.number) == (
        "podcast/54-paparazzi-accessories",
        "2020-10-26",
        54,
    )
    broken = post_identity("_posts/podcast/not-a-post.md", config)
    assert (broken.id, broken.date, broken.number) == ("podcast/not-a-post", "", None)


def test_front_matter_is_json_safe() -> None:
    post = parse_post(
        KEY,
        post_bytes(
            "title: t\nwhen: 2020-10-26 10:00:00\n2020-01-01: new year\n"
            "set: !!set {b, a}\nn: .nan\nbin: !!binary aGk=\n"
        ),
    )
    assert post.front_matter == {
        "title": "t",
        "when": "2020-10-26T10:00:00",
        "2020-01-01": "new year",
        "set": ["a", "b"],
        "n": "nan",
        "bin": "aGk=",
    }


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_parse_post_raises_only_problem_errors_on_bytes(data: bytes) -> None:
    try:
        post = parse_post(KEY, data)
    except ProblemError as problem:
        assert problem.problem.message
        return
    assert post.key == KEY


YAMLISH = st.text(
    alphabet=st.sampled_from(list("-:[]{}&*!|>'\"#%@`?,.~ \n\tabc019mp3_bytesduration\x00\ufeff")),
    max_size=300,
)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(YAMLISH, st.text(max_size=200))
def test_parse_post_raises_only_problem_errors_on_front_matter(front_matter: str, any_text: str) -> None:
    for data in (
        f"---\n{front_matter}\n---\n".encode(),
        f"---\n{any_text}\n---\n".encode(),
        any_text.encode(),
    ):
        try:
            post = parse_post(KEY, data)
        except ProblemError:
            continue
        json.dumps(post.front_matter)
        assert post.claimed_bytes is None or isinstance(post.claimed_bytes, str)


# -- rewrite_fields ----------------------------------------------------------------------------------

FIXED = {"mp3_bytes": "51253916", "mp3_duration": "53:23"}


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.split("\n"), after.split("\n")
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


def test_rewrite_changes_only_the_two_lines_keeping_quotes_and_comments() -> None:
    text = (
        "---\nlayout: x\nmp3_bytes: \"59260928\"  # from Finder\nmp3_duration: '53:24'\n"
        'title: t\n---\nmp3_bytes: "1" in the body stays\n'
    )
    after = rewrite_fields(text, FIXED)
    assert changed_lines(text, after) == [
        ('mp3_bytes: "59260928"  # from Finder', 'mp3_bytes: "51253916"  # from Finder'),
        ("mp3_duration: '53:24'", "mp3_duration: '53:23'"),
    ]


def test_rewrite_keeps_crlf_and_bom() -> None:
    text = '\ufeff---\r\ntitle: t\r\nmp3_bytes: "1"\r\nmp3_duration: "0:01"\r\n---\r\nbody\r\n'
    after = rewrite_fields(text, FIXED)
    assert (
        after == '\ufeff---\r\ntitle: t\r\nmp3_bytes: "51253916"\r\nmp3_duration: "53:23"\r\n---\r\nbody\r\n'
    )


def test_plain_values_stay_plain_unless_yaml_would_misread_them() -> None:
    text = "---\nmp3_bytes: 1\nmp3_duration: 3203\n---\n"
    assert rewrite_fields(text, FIXED) == '---\nmp3_bytes: 51253916\nmp3_duration: "53:23"\n---\n'


def test_a_missing_line_is_added_after_the_other_field() -> None:
    text = '---\ntitle: t\nmp3_bytes: "1"\nlayout: x\n---\nbody\n'
    assert (
        rewrite_fields(text, FIXED)
        == '---\ntitle: t\nmp3_bytes: "51253916"\nmp3_duration: "53:23"\nlayout: x\n---\nbody\n'
    )


def test_both_missing_are_added_at_the_front_matter_end() -> None:
    text = "---\r\ntitle: t\r\n---\r\nbody\r\n"
    assert (
        rewrite_fields(text, FIXED)
        == '---\r\ntitle: t\r\nmp3_bytes: "51253916"\r\nmp3_duration: "53:23"\r\n---\r\nbody\r\n'
    )


def test_a_value_continued_on_indented_lines_is_replaced_whole() -> None:
    text = "---\nmp3_bytes: >\n  59260928\nmp3_duration: '1:00'\n---\n"
    assert rewrite_fields(text, FIXED) == "---\nmp3_bytes: 51253916\nmp3_duration: '53:23'\n---\n"


def test_rewritten_post_parses_to_the_new_values() -> None:
    text = "---\ntitle: t\nmp3_bytes: 5\nmp3_duration: 1:01:43\n---\nbody\n"
    post = parse_post(KEY, rewrite_fields(text, FIXED).encode())
    assert (post.claimed_bytes, post.claimed_duration) == ("51253916", "53:23")


def test_rewrite_without_front_matter_is_a_problem() -> None:
    with pytest.raises(ProblemError) as caught:
        rewrite_fields("no front matter\n", FIXED)
    assert caught.value.problem.code is Code.NO_FRONT_MATTER
