"""Hostile and broken uploads through the real pipeline on the emulation.

Every case is uploaded to the bucket in one session and settled once; each then ends with a specific
problem code that names the object's key (or, for the few positive cases, publishes), and nothing is
executed, crashes, loops through redeliveries, reaches a dead-letter queue or is published that should
not be. Files the pipeline does not own (outside the posts prefix, not `.md`/`.mp3`) are ignored silently:
a site synced as it is holds plenty of them.
"""

from __future__ import annotations

import random
import struct
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from lxml import etree
from mp3_fixtures import cbr_frames, cbr_mp3, id3v2_tag, matching_mp3
from pipeline_harness import Pipeline, pipeline

from podcast_pipeline.feed.render import CONTENT_NS
from podcast_pipeline.routes import INGEST
from podcast_pipeline_tools.local.report import collect_episodes
from podcast_pipeline_tools.local.runner import run_local

SITE = "https://sample.example"
FEED_KEY = "podcast/feed.xml"
DATE = "2024-02-03"
# Created only if a YAML tag ever constructs a Python object.
MARKER = Path(tempfile.gettempdir()) / f"hostile-yaml-{uuid.uuid4().hex}"

AUDIO = matching_mp3(50_000, 3)  # 3.5 s, Info header: claims "50000" and "0:03" match it
GOOD_CLAIMS = 'mp3_bytes: "50000"\nmp3_duration: "0:03"\n'
JUNK = bytes(b for b in random.Random(3).randbytes(70_000) if b != 0xFF)[:65536]  # no false frame syncs


@dataclass(frozen=True)
class Case:
    name: str
    uploads: tuple[tuple[str, bytes], ...]
    key: str  # the object the finding must name
    code: str | None  # expected problem code; None: no problem expected (ignored or clean)
    episode: str | None = None  # episode id; None: an MP3 no post names, or an ignored object
    published: bool = False
    ignored: bool = False  # not the pipeline's object: no record, no episode, no event
    absent: tuple[bytes, ...] = ()  # must not occur anywhere in the feed
    title: str | None = None  # published: the item's title as a feed reader parses it
    measured_seconds: int | None = None  # published: the whole seconds measured
    extra: dict[str, Any] = field(default_factory=dict)


CASES: list[Case] = []
_numbers = iter(range(100, 1000))


def post_key(slug: str) -> str:
    return f"_posts/podcast/{DATE}-{slug}.md"


def audio_key(number: int) -> str:
    return f"assets/podcast/sample-show-{number}.mp3"


def front(fm: str, body: str = "Notes.") -> bytes:
    return f"---\n{fm}---\n\n{body}\n".encode()


def post_case(
    name: str,
    data: bytes | str,
    code: str | None,
    *,
    audio: bytes | None = AUDIO,
    published: bool = False,
    key: str | None = None,
    episode: str | None = None,
    **kwargs: Any,
) -> None:
    """A post (with a matching MP3 unless `audio` is None); the finding names the post's key."""
    number = next(_numbers)
    slug = f"{number}-{name}"
    key = key or post_key(slug)
    uploads = [(key, data.encode() if isinstance(data, str) else data)]
    if audio is not None:
        uploads.append((audio_key(number), audio))
    CASES.append(
        Case(name, tuple(uploads), key, code, episode or f"podcast/{slug}", published=published, **kwargs)
    )


def audio_case(
    name: str, audio: bytes, code: str | None, *, claims: str | None = None, **kwargs: Any
) -> None:
    """An MP3 with a post whose claims match it (or `claims`); the finding names the MP3's key."""
    number = next(_numbers)
    slug = f"{number}-{name}"
    fm = f'title: "{name}"\n' + (claims or f'mp3_bytes: "{len(audio)}"\nmp3_duration: "0:03"\n')
    uploads = ((post_key(slug), front(fm)), (audio_key(number), audio))
    target = audio_key(number) if code else post_key(slug)
    CASES.append(Case(name, uploads, target, code, f"podcast/{slug}", **kwargs))


def orphan_case(name: str, audio: bytes, code: str) -> None:
    """An MP3 that no post names: listed as awaiting_post, with its own finding."""
    key = audio_key(next(_numbers))
    CASES.append(Case(name, ((key, audio),), key, code))


def ignored_case(name: str, key: str, data: bytes) -> None:
    CASES.append(Case(name, ((key, data),), key, None, ignored=True))


def claims(name: str, mp3_bytes: str, mp3_duration: str, code: str) -> None:
    post_case(name, front(f'title: "{name}"\nmp3_bytes: {mp3_bytes}\nmp3_duration: {mp3_duration}\n'), code)


def ok(name: str) -> str:
    return f'title: "{name}"\n{GOOD_CLAIMS}'


# -- YAML that attacks the parser ----------------------------------------------------------------------

_laughs = ["a0: &a0 lol"] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
post_case("billion-laughs", front(ok("laughs") + "\n".join(_laughs) + "\n"), "invalid_front_matter")
_wide = "w: &w [" + ", ".join(["x"] * 1000) + "]\nbomb: [" + ", ".join(["*w"] * 1000) + "]\n"
post_case("quadratic-aliases", front(ok("quadratic") + _wide), "invalid_front_matter")
post_case("recursive-alias", front(ok("recursive") + "loop: &l [*l]\n"), "invalid_front_matter")
post_case(
    "python-apply-os-system",
    front(ok("apply") + f'evil: !!python/object/apply:os.system ["touch {MARKER}"]\n'),
    "invalid_front_matter",
)
post_case(
    "python-apply-open",
    front(ok("open") + f'evil: !!python/object/apply:builtins.open ["{MARKER}", "w"]\n'),
    "invalid_front_matter",
)
post_case(
    "python-new-in-title",
    front(f'title: !!python/object/new:os.system ["touch {MARKER}"]\n{GOOD_CLAIMS}'),
    "invalid_front_matter",
)
post_case("python-name", front(ok("name") + "evil: !!python/name:os.system\n"), "invalid_front_matter")
post_case(
    "python-tag-in-mp3-bytes",
    front(
        f'title: "t"\nmp3_bytes: !!python/object/apply:os.system ["touch {MARKER}"]\nmp3_duration: "0:03"\n'
    ),
    "invalid_front_matter",
)
post_case(
    "deep-flow-nesting", front(ok("deep") + "x: " + "[" * 5000 + "]" * 5000 + "\n"), "invalid_front_matter"
)
_block = "".join(f"{'  ' * i}k{i}:\n" for i in range(100)) + "  " * 100 + "v\n"
post_case("deep-block-nesting", front(ok("block") + _block), "invalid_front_matter")
post_case(
    "duplicate-mp3-bytes",
    front('title: "dup"\nmp3_bytes: "50000"\nmp3_duration: "0:03"\nmp3_bytes: "1"\n'),
    "invalid_front_matter",
)
post_case("duplicate-title", front(f'title: "one"\ntitle: "two"\n{GOOD_CLAIMS}'), "invalid_front_matter")
post_case("front-matter-is-list", front("- title\n- mp3_bytes\n"), "invalid_front_matter")
post_case("front-matter-is-scalar", front("just a sentence\n"), "invalid_front_matter")
post_case("invalid-date-in-front-matter", front(ok("date") + "date: 2020-13-45\n"), "invalid_front_matter")
post_case("raw-control-character", front(ok("ctl") + "guest: a\x07b\n"), "invalid_front_matter")
post_case("complex-key", front(ok("complex") + "? [1, 2]\n: x\n"), "invalid_front_matter")
post_case("huge-integer", front(ok("int") + "x: " + "9" * 5000 + "\n"), "invalid_front_matter")
post_case(
    "category-traversal",
    front(ok("cat") + 'category: "../../etc"\n'),
    "invalid_front_matter",
    key=f"_posts/{DATE}-0-category-traversal.md",
    episode="/0-category-traversal",
)

# -- posts too large, empty, without front-matter ------------------------------------------------------

post_case("over-size-cap", front(ok("big"), "x" * (1024 * 1024)), "too_large")
post_case("100000-line-front-matter", front(ok("lines") + "x:\n" + "- 1\n" * 100_000), "too_large")
post_case("front-matter-over-cap", front(ok("fat") + f'guest: "{"g" * 70_000}"\n'), "too_large")
# 600 KB that zlib cannot shrink: under the post cap, over what a DynamoDB item holds.
_noise = random.Random(11).randbytes(300_000).hex()
post_case("notes-too-large-to-store", front(ok("noise"), _noise), "too_large")
post_case("zero-byte-post", b"", "no_front_matter")  # an empty post has no front-matter
post_case("no-front-matter", "# Episode\n\nJust markdown.\n", "no_front_matter")
post_case("unclosed-front-matter", f"---\n{ok('open')}\nNotes.\n", "no_front_matter")
post_case("empty-front-matter", front(""), "missing_title")
post_case("missing-title", front(GOOD_CLAIMS), "missing_title")
post_case("title-is-a-list", front(f"title: [a, b]\n{GOOD_CLAIMS}"), "missing_title")
post_case(
    "mp3-key-longer-than-s3-allows",
    front(ok("key") + f'mp3_key: "{"k" * 3000}.mp3"\n'),
    "invalid_front_matter",
)

# -- encodings -----------------------------------------------------------------------------------------

post_case("nul-bytes", front(ok("nul")) + b"\x00\x00binary", "bad_encoding")
post_case("random-bytes", random.Random(1).randbytes(4096), "bad_encoding")
post_case("random-bytes-without-nul", bytes(b or 1 for b in random.Random(2).randbytes(4096)), "bad_encoding")
post_case("latin-1", front(ok("Café")).replace(b"Caf\xc3\xa9", b"Caf\xe9"), "bad_encoding")
post_case(
    "utf-16-le-bom",
    "\ufeff".encode("utf-16-le") + front(ok("utf16")).decode().encode("utf-16-le"),
    "bad_encoding",
)
post_case(
    "utf-16-be-bom",
    "\ufeff".encode("utf-16-be") + front(ok("be")).decode().encode("utf-16-be"),
    "bad_encoding",
)
post_case("utf-32", front(ok("utf32")).decode().encode("utf-32"), "bad_encoding")
post_case("utf-8-encoded-surrogate", front(ok("sur")) + b"\xed\xa0\x80", "bad_encoding")
post_case("utf-8-with-bom", b"\xef\xbb\xbf" + front(ok("bom")), None, published=True, title="bom")

# -- keys ----------------------------------------------------------------------------------------------

post_case(
    "dot-dot-category",
    front(ok("dots")),
    "bad_key",
    key=f"_posts/../{DATE}-1-dot-dot-category.md",
    episode=f"../{DATE}-1-dot-dot-category",
)
post_case(
    "dot-dot-inside",
    front(ok("dots")),
    "bad_key",
    key=f"_posts/podcast/../../{DATE}-2-dot-dot-inside.md",
    episode=f"podcast/../../{DATE}-2-dot-dot-inside",
)
post_case(
    "no-date", front(ok("nodate")), "bad_key", key="_posts/podcast/no-date.md", episode="podcast/no-date"
)
post_case(
    "impossible-date",
    front(ok("baddate")),
    "bad_key",
    key="_posts/podcast/2020-13-45-3-impossible-date.md",
    episode="podcast/2020-13-45-3-impossible-date",
)
post_case(
    "no-category",
    front(ok("nocat")),
    "bad_key",
    key=f"_posts/{DATE}-4-no-category.md",
    episode="/4-no-category",
)
_long_slug = "x" * (1024 - len(post_key("")))
post_case(
    "key-of-1024-bytes",
    front(ok("long")),
    "bad_key",
    key=f"_posts/podcast/{DATE}-{_long_slug}.md",
    episode=f"podcast/{DATE}-{_long_slug}",
)
for _name, _slug in (
    ("unicode-key", "épisode-日本語-🎙"),
    ("key-with-spaces", "a show  about spaces"),
    ("key-with-plus", "c++ and a+b"),
    ("key-with-percent", "100% and %2B and %20"),
    ("key-of-1000-bytes", "y" * (1000 - len(post_key("")) - 4)),
):
    _n = next(_numbers)
    CASES.append(
        Case(
            _name,
            ((post_key(f"{_n}-{_slug}"), front(ok(_name))), (audio_key(_n), AUDIO)),
            post_key(f"{_n}-{_slug}"),
            None,
            f"podcast/{_n}-{_slug}",
            published=True,
            title=_name,
        )
    )

# -- claims --------------------------------------------------------------------------------------------

claims("bytes-2-to-the-70", str(2**70), '"0:03"', "invalid_mp3_bytes")
claims("bytes-negative", '"-50000"', '"0:03"', "invalid_mp3_bytes")
claims("bytes-fractional", "50000.5", '"0:03"', "invalid_mp3_bytes")
claims("bytes-not-a-number", "fifty thousand", '"0:03"', "invalid_mp3_bytes")
claims("bytes-hex", "0xC350", '"0:03"', "invalid_mp3_bytes")
claims("bytes-exponent", "5e4", '"0:03"', "invalid_mp3_bytes")
claims("bytes-infinity", ".inf", '"0:03"', "invalid_mp3_bytes")
claims("bytes-a-list", "[50000]", '"0:03"', "invalid_mp3_bytes")
claims("bytes-empty", "", '"0:03"', "missing_mp3_bytes")
claims("bytes-60000-digits", '"' + "9" * 60_000 + '"', '"0:03"', "invalid_mp3_bytes")
claims("duration-99-minutes", '"50000"', '"1:99:00"', "invalid_mp3_duration")
claims("duration-negative", '"50000"', '"-5"', "invalid_mp3_duration")
claims("duration-empty-string", '"50000"', '""', "invalid_mp3_duration")
claims("duration-fraction", '"50000"', '"3.5"', "invalid_mp3_duration")
claims("duration-words", '"50000"', '"three seconds"', "invalid_mp3_duration")
claims("duration-nan", '"50000"', ".nan", "invalid_mp3_duration")
claims("duration-absurd", '"50000"', '"999999:00:00"', "duration_mismatch")

# -- MP3s that are not what they claim ---------------------------------------------------------------

_tagged = cbr_mp3(3.5, id3v2=id3v2_tag(4 * 1024 * 1024), info_header=True)
audio_case("id3-tag-of-4-mb", _tagged, None, published=True, measured_seconds=3)
_half = cbr_frames(100)
audio_case(
    "garbage-between-frames",
    _half + JUNK + _half,  # no Xing header: the frames are walked and the junk skipped
    None,
    claims=f'mp3_bytes: "{2 * len(_half) + len(JUNK)}"\nmp3_duration: "0:05"\n',
    published=True,
    measured_seconds=5,
)
audio_case(
    "garbage-after-info-header",
    AUDIO[:30_000] + JUNK + AUDIO[30_000:],
    None,
    published=True,
    measured_seconds=3,
)
audio_case("truncated-mid-frame", AUDIO[:-200], "truncated_mp3", claims=GOOD_CLAIMS)
audio_case("headerless-truncated-mid-frame", cbr_frames(150)[:-100], "truncated_mp3")
audio_case("id3-tag-only", id3v2_tag(1000), "truncated_mp3")
audio_case("zero-byte-mp3", b"", "empty_file", claims=GOOD_CLAIMS)
_png = b"\x89PNG\r\n\x1a\n" + bytes(50_000 - 8)
audio_case("png-named-mp3", _png, "not_mp3", claims=GOOD_CLAIMS)
_wav = b"RIFF" + struct.pack("<I", 50_000 - 8) + b"WAVEfmt " + bytes(50_000 - 16)
audio_case("wav-named-mp3", _wav, "not_mp3", claims=GOOD_CLAIMS)
audio_case("text-named-mp3", b"<html>not audio</html>\n" * 2000, "not_mp3")
audio_case("random-bytes-mp3", random.Random(5).randbytes(50_000), "not_mp3")
orphan_case("orphan-mp3", AUDIO, "post_missing")
orphan_case("orphan-zero-byte-mp3", b"", "empty_file")
orphan_case("orphan-png-mp3", _png, "not_mp3")

# -- show notes and titles that attack feed readers (these publish; the feed must stay clean) ----------

# Markup that runs code in a reader. `javascript:alert(1)` left as plain text (no link) is harmless.
_XSS = (b"<script", b"<iframe", b"<svg", b"<body", b"onerror=", b"onload=", b"onclick=", b'="javascript:')
post_case(
    "notes-script",
    front(ok("script"), "Hi <script>alert(1)</script> there.\n\n<SCRIPT SRC=//x.example/a.js></SCRIPT>"),
    None,
    published=True,
    absent=_XSS,
)
post_case(
    "notes-javascript-links",
    front(ok("links"), "[a](javascript:alert(1)) [b](JaVaScRiPt:alert(2)) [c](java&#09;script:alert(3))"),
    None,
    published=True,
    absent=_XSS,
)
post_case(
    "notes-event-handlers",
    front(
        ok("handlers"),
        '<img src=x onerror=alert(1)> <a href="https://ok.example" onclick="alert(2)">x</a>\n\n'
        '<svg onload=alert(3)></svg> <body onload=alert(4)> <iframe src="javascript:alert(5)"></iframe>',
    ),
    None,
    published=True,
    absent=_XSS,
)
post_case(
    "notes-raw-html-links",
    front(
        ok("rawlinks"),
        '<a href="javascript:alert(1)">x</a> <a href="vbscript:msgbox(1)">y</a> '
        '<a href="data:text/html,x">z</a>',
    ),
    None,
    published=True,
    absent=(*_XSS, b'="vbscript:', b'="data:'),
)
post_case(
    "notes-liquid-loop-bomb",
    front(ok("loop"), "{% for i in (1..100000000) %}{{ i }}{% endfor %}"),
    "liquid_error",
    published=True,
)
post_case(
    "notes-many-unknown-tags",
    front(ok("tags"), " ".join(f"{{% plugin{i} %}}" for i in range(5000))),
    "unknown_liquid_tag",
    published=True,
)
post_case("notes-cdata-end", front(ok("cdata"), "a ]]> b ]]]]>> <![CDATA[ c"), None, published=True)
post_case(
    "title-with-cdata-end",
    front(f'title: "Ends ]]> here <b>&amp;"\n{GOOD_CLAIMS}'),
    None,
    published=True,
    title="Ends ]]> here <b>&amp;",
)
post_case(
    "title-with-control-characters",
    front(f'title: "Bell\\a esc\\e nul\\0 del\\x7f ok"\n{GOOD_CLAIMS}', "Body \x01\x02 with controls \x1b."),
    None,
    published=True,
    title="Bell esc nul del\x7f ok",
)

# -- files that are not the pipeline's: ignored --------------------------------------------------------

ignored_case("text-file-under-posts", "_posts/podcast/2024-02-03-notes.txt", b"not a post")
ignored_case("folder-marker-under-posts", "_posts/podcast/", b"")
ignored_case("md-outside-posts", f"../_posts/podcast/{DATE}-9-outside.md", front(ok("outside")))
ignored_case("image-under-assets", "assets/podcast/cover.png", _png)


# -- the session -------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    run: Pipeline
    entries: list[dict[str, Any]]
    feed: bytes
    dead_letters: list[str]


@pytest.fixture(scope="module")
def outcome() -> Iterator[Outcome]:
    with pipeline() as run:
        for case in CASES:
            for key, data in case.uploads:
                run.put(key, data)
        run.settle()
        entries = collect_episodes(run.emulation)
        yield Outcome(run, entries, run.feed(FEED_KEY) or b"", run.dead_letters())
    MARKER.unlink(missing_ok=True)


def test_enough_distinct_cases() -> None:
    assert len(CASES) >= 60
    assert len({case.name for case in CASES}) == len(CASES)


def test_nothing_dead_lettered_retried_or_executed(outcome: Outcome) -> None:
    assert outcome.dead_letters == []
    stats = outcome.run.poller.stats[INGEST.function]
    # Bad input is a finding, never a failed record: no redelivery, so no poison-message loop.
    assert (stats.errors, stats.failed_records) == (0, 0), outcome.run.poller.failure_reasons
    assert not MARKER.exists()


def test_feed_is_well_formed(outcome: Outcome) -> None:
    root = etree.fromstring(outcome.feed)
    assert root.tag == "rss"


def _entry(outcome: Outcome, case: Case) -> dict[str, Any] | None:
    if case.episode is not None:
        return next((e for e in outcome.entries if e["id"] == case.episode), None)
    return next((e for e in outcome.entries if (e.get("audio") or {}).get("key") == case.key), None)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case(outcome: Outcome, case: Case) -> None:
    entry = _entry(outcome, case)
    if case.ignored:
        assert entry is None
        assert outcome.run.store.get_source(case.key) is None
        assert case.key.encode() not in outcome.feed
        return
    assert entry is not None, f"no report entry for {case.key}"
    if case.episode is None:
        assert entry["state"] == "awaiting_post"
    codes = [problem["code"] for problem in entry["problems"]]
    if case.code is None:
        assert [p for p in entry["problems"] if p["severity"] == "error"] == []
    else:
        assert case.code in codes, entry["problems"]
        found = next(p for p in entry["problems"] if p["code"] == case.code)
        assert found["key"] == case.key
    if case.episode is not None:
        stored = outcome.run.episode(case.episode)
        assert stored.post is not None and stored.post.key == next(
            k for k, _ in case.uploads if k.endswith(".md")
        )
    guid = f"{SITE}/{case.episode}".encode()
    if not case.published:
        assert entry["state"] != "published"
        assert f'<guid isPermaLink="false">{SITE}/{case.episode}<'.encode() not in outcome.feed
        published = [e for e in outcome.run.events if e["detail-type"] == "Episode Published"]
        assert case.episode not in {e["detail"]["id"] for e in published}
        return
    assert entry["state"] == "published"
    item = _feed_item(outcome.feed, guid.decode())
    assert item is not None, f"{guid!r} not in the feed"
    raw = _item_bytes(outcome.feed, guid).lower()
    for needle in case.absent:
        assert needle.lower() not in raw
    notes = item.findtext(f"{{{CONTENT_NS}}}encoded") or ""
    for link in lxml.html.fragment_fromstring(notes or "<p></p>", create_parent="div").iter("a", "img"):
        target = link.get("href") or link.get("src")
        assert target is None or target.startswith(("https://", "http://", "mailto:")), target
    if case.title is not None:
        assert item.findtext("title") == case.title
    if case.measured_seconds is not None:
        assert int(entry["measured"]["duration_seconds"]) == case.measured_seconds


def _item_bytes(feed: bytes, guid: bytes) -> bytes:
    """The item of `guid` as written in the feed, CDATA and all."""
    at = feed.index(b">" + guid + b"</guid>")
    return feed[feed.rindex(b"<item>", 0, at) : feed.index(b"</item>", at)]


def _feed_item(feed: bytes, guid: str) -> Any:
    root = etree.fromstring(feed)
    return next((item for item in root.iter("item") if item.findtext("guid") == guid), None)


def test_local_run_report_names_codes_and_keys(tmp_path: Path) -> None:
    chosen = {"billion-laughs", "latin-1", "bytes-negative", "png-named-mp3", "orphan-mp3", "key-with-plus"}
    site = tmp_path / "site"
    for case in (c for c in CASES if c.name in chosen):
        for key, data in case.uploads:
            path = site / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    report = run_local(site, tmp_path / "out", None, progress=False)
    assert report["dead_letters"] == []
    problems = {(p["code"], p.get("key")) for e in report["episodes"] for p in e["problems"]}
    for case in (c for c in CASES if c.name in chosen and c.code):
        assert (case.code, case.key) in problems
    states = {e["id"] or e["audio"]["key"]: e["state"] for e in report["episodes"]}
    plus = next(c for c in CASES if c.name == "key-with-plus")
    assert states[plus.episode] == "published"
