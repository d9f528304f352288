"""The real show for any test: its whole corpus when it is beside the checkout, else the excerpt here.

The excerpt (`tests/data/runninginproduction/`, a few posts of the show, its LICENSE and README) travels with
the repository, so a plain clone runs every real-show test; the whole corpus
(`../shared/corpus/runninginproduction`, 60 episodes and 5 interviews) makes the same tests the long runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
FULL_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "runninginproduction"
EXCERPT = DATA / "runninginproduction"
HAS_FULL_CORPUS = FULL_CORPUS.is_dir()
CORPUS = FULL_CORPUS if HAS_FULL_CORPUS else EXCERPT
CORPUS_CONFIG = DATA / "runninginproduction.yaml"
# How many posts of each category the corpus in use holds (counted by hand, not by the code under test).
CORPUS_COUNTS = {"podcast": 60, "interviews": 5} if HAS_FULL_CORPUS else {"podcast": 8, "interviews": 2}


@dataclass(frozen=True)
class CorpusPost:
    path: Path
    key: str  # the bucket key: `_posts/<category>/<file>`
    mp3_bytes: str | None  # as quoted in the post
    mp3_duration: str | None

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


def corpus_posts(category: str | None = None) -> list[CorpusPost]:
    """The corpus posts (of one category), in file-name order."""
    found = []
    for path in sorted((CORPUS / "_posts").glob(f"{category or '*'}/*.md")):
        fields = dict(
            line.split(": ", 1) for line in path.read_text("utf-8").splitlines() if line.startswith("mp3_")
        )
        found.append(
            CorpusPost(
                path=path,
                key=path.relative_to(CORPUS).as_posix(),
                mp3_bytes=fields["mp3_bytes"].strip('"') if "mp3_bytes" in fields else None,
                mp3_duration=fields["mp3_duration"].strip('"') if "mp3_duration" in fields else None,
            )
        )
    return found


def duration_seconds(written: str) -> int:
    """`1:01:43` → 3703, computed independently of the code under test."""
    total = 0
    for part in written.split(":"):
        total = total * 60 + int(part)
    return total


def write_corpus_site(root: Path, audio_key_template: str, *, limit: int | None = None) -> Path:
    """The corpus laid out like its bucket under `root`: every post, and for each podcast post a generated
    MP3 of exactly its `mp3_bytes` whose duration floors to its `mp3_duration` (at most `limit` episodes)."""
    from mp3_fixtures import matching_mp3

    for post in corpus_posts():
        target = root / post.key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(post.data)
    for post in corpus_posts("podcast")[:limit]:
        assert post.mp3_bytes and post.mp3_duration
        number = post.path.name[len("YYYY-MM-DD-") :].split("-", 1)[0]
        audio = root / audio_key_template.format(number=number)
        audio.parent.mkdir(parents=True, exist_ok=True)
        audio.write_bytes(matching_mp3(int(post.mp3_bytes), duration_seconds(post.mp3_duration)))
    return root
