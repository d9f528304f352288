"""`backfill`: the corpus into an emulated versioned bucket: verified first, uploaded once, MP3s first."""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from corpus import CORPUS_CONFIG, CORPUS_COUNTS, corpus_posts

from podcast_pipeline.config import load_config
from podcast_pipeline.episode import ObjectKind
from podcast_pipeline_tools.backfill import (
    Action,
    SiteFile,
    StoreError,
    UploadError,
    plan_uploads,
    scan_site,
    upload_planned,
)
from podcast_pipeline_tools.cli import main

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client

pytestmark = pytest.mark.xdist_group("corpus")
SMALL_EPISODES = 3


def copy_site(source: Path, target: Path, *, episodes: int | None = None) -> Path:
    """A private copy of a corpus site to edit: posts copied, MP3s hard-linked (never edited here).

    With `episodes`, only that many podcast episodes (and every text-only interview).
    """
    podcast = corpus_posts("podcast")[:episodes]
    keys = {post.key for post in podcast} | {post.key for post in corpus_posts("interviews")}
    numbers = {post.path.name[len("YYYY-MM-DD-") :].split("-", 1)[0] for post in podcast}
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if not path.is_file():
            continue
        if relative.suffix == ".md" and relative.as_posix() not in keys:
            continue
        if relative.suffix == ".mp3" and relative.stem.rsplit("-", 1)[1] not in numbers:
            continue
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        if relative.suffix == ".mp3":
            os.link(path, target / relative)
        else:
            shutil.copyfile(path, target / relative)
    return target


@pytest.fixture
def s3(moto_endpoint: str, aws_env: None) -> S3Client:
    return boto3.client("s3", endpoint_url=moto_endpoint)


@pytest.fixture
def bucket(s3: S3Client) -> str:
    """A fresh versioned bucket: every upload leaves a version behind, so uploads can be counted."""
    name = f"backfill-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def small_site(corpus_site: Path, tmp_path: Path) -> Path:
    return copy_site(corpus_site, tmp_path / "site", episodes=SMALL_EPISODES)


def snapshot(s3: S3Client, bucket: str) -> dict[str, str]:
    """Key → its current version id: any upload changes it.

    (Not ListObjectVersions: moto reads every stored byte to answer it, a minute for the corpus.)
    """
    keys = [
        entry["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for entry in page.get("Contents", ())
    ]
    return {key: s3.head_object(Bucket=bucket, Key=key)["VersionId"] for key in keys}


def site_keys(site: Path) -> set[str]:
    return {path.relative_to(site).as_posix() for path in site.rglob("*") if path.is_file()}


def backfill(site: Path, bucket: str, endpoint: str, *extra: str) -> int:
    return main(
        [
            "backfill",
            str(site),
            "--bucket",
            bucket,
            "--endpoint-url",
            endpoint,
            "--config",
            str(CORPUS_CONFIG),
            *extra,
        ]
    )


def set_mp3_bytes(post: Path, value: str) -> None:
    text = post.read_text(encoding="utf-8")
    start = text.index('mp3_bytes: "') + len('mp3_bytes: "')
    post.write_text(text[:start] + value + text[text.index('"', start) :], encoding="utf-8")


def test_the_whole_corpus_goes_up_once_and_a_changed_post_alone_goes_again(
    corpus_site: Path,
    tmp_path: Path,
    s3: S3Client,
    bucket: str,
    moto_endpoint: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    site = copy_site(corpus_site, tmp_path / "site")
    expected = site_keys(site)
    assert sum(key.endswith(".mp3") for key in expected) == CORPUS_COUNTS["podcast"]
    assert sum(key.endswith(".md") for key in expected) == len(corpus_posts())

    started = time.monotonic()
    assert backfill(site, bucket, moto_endpoint, "--concurrency", "4") == 0
    first_run = time.monotonic() - started
    uploaded = snapshot(s3, bucket)
    assert set(uploaded) == expected

    started = time.monotonic()
    assert backfill(site, bucket, moto_endpoint) == 0
    second_run = time.monotonic() - started
    assert snapshot(s3, bucket) == uploaded

    edited = corpus_posts("podcast")[-1].key
    changed = site / edited
    changed.write_text(changed.read_text(encoding="utf-8") + "\nOne more note.\n", encoding="utf-8")
    capsys.readouterr()
    assert backfill(site, bucket, moto_endpoint) == 0
    after = snapshot(s3, bucket)
    assert {key for key in expected if after[key] != uploaded[key]} == {edited}
    summary = capsys.readouterr().out
    assert "uploaded" in summary
    body = s3.get_object(Bucket=bucket, Key=edited)["Body"].read()
    assert body == changed.read_bytes()
    with capsys.disabled():
        print(f"\nbackfill of the corpus: first run {first_run:.1f} s, second run {second_run:.1f} s")


def test_uploads_record_the_whole_file_sha256_and_a_content_type(
    small_site: Path, s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    assert backfill(small_site, bucket, moto_endpoint) == 0
    mp3 = max(small_site.glob("assets/podcast/*.mp3"), key=lambda path: path.stat().st_size)
    key = mp3.relative_to(small_site).as_posix()
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ETag"].strip('"').endswith(tuple(f"-{n}" for n in range(2, 100)))  # went up in parts
    assert head["Metadata"]["sha256"] == hashlib.sha256(mp3.read_bytes()).hexdigest()
    assert head["ContentType"] == "audio/mpeg"
    post = s3.head_object(Bucket=bucket, Key=corpus_posts("interviews")[0].key)
    assert post["ContentType"].startswith("text/markdown")


def test_an_object_of_the_same_size_but_other_content_is_uploaded_again(
    small_site: Path, s3: S3Client, bucket: str, moto_endpoint: str
) -> None:
    post = corpus_posts("interviews")[0]
    data = (small_site / post.key).read_bytes()
    s3.put_object(Bucket=bucket, Key=post.key, Body=data[:-1] + b"?")  # same size, other bytes
    stale = snapshot(s3, bucket)[post.key]
    assert backfill(small_site, bucket, moto_endpoint) == 0
    assert snapshot(s3, bucket)[post.key] != stale
    assert s3.get_object(Bucket=bucket, Key=post.key)["Body"].read() == data


def test_a_wrong_mp3_bytes_uploads_nothing_unless_forced(
    small_site: Path,
    s3: S3Client,
    bucket: str,
    moto_endpoint: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = small_site / corpus_posts("podcast")[1].key
    set_mp3_bytes(wrong, "12345")
    assert backfill(small_site, bucket, moto_endpoint) == 1
    out = capsys.readouterr().out
    assert "bytes_mismatch" in out
    assert "1 of" in out
    assert snapshot(s3, bucket) == {}

    assert backfill(small_site, bucket, moto_endpoint, "--force") == 0
    assert set(snapshot(s3, bucket)) == site_keys(small_site)


def test_dry_run_prints_the_plan_and_uploads_nothing(
    small_site: Path,
    s3: S3Client,
    bucket: str,
    moto_endpoint: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    already = corpus_posts("interviews")[0].key
    s3.upload_file(str(small_site / already), bucket, already)  # no recorded sha256: shown as changed
    before = snapshot(s3, bucket)
    assert backfill(small_site, bucket, moto_endpoint, "--dry-run") == 0
    out = capsys.readouterr().out
    assert snapshot(s3, bucket) == before
    planned = [line.split() for line in out.splitlines() if line.startswith("would upload")]
    assert {line[-1] for line in planned} == site_keys(small_site)
    assert [line[2] for line in planned if line[-1] == already] == ["changed"]


def test_unusable_input_is_exit_2(
    small_site: Path, tmp_path: Path, moto_endpoint: str, bucket: str, aws_env: None
) -> None:
    assert backfill(tmp_path / "nowhere", bucket, moto_endpoint) == 2
    (tmp_path / "empty").mkdir()
    assert backfill(tmp_path / "empty", bucket, moto_endpoint) == 2
    assert backfill(small_site, "no-such-bucket-here", moto_endpoint) == 2
    assert main(["backfill", str(small_site), "--bucket", bucket, "--concurrency", "0"]) == 2


# -- the upload order, on a bucket that records what it is asked ------------------------------------


class RecordingStore:
    """An empty bucket that records upload calls; uploads of `failing` keys fail."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.uploaded: list[SiteFile] = []
        self.failing = failing

    def sizes(self, prefixes: object) -> dict[str, int]:
        return {}

    def sha256(self, key: str) -> str | None:
        raise AssertionError("an object not in the bucket has no checksum to read")

    def upload(self, file: SiteFile, sha256: str, on_bytes: Callable[[int], None]) -> None:
        if file.key in self.failing:
            raise StoreError(f"cannot upload {file.key}")
        on_bytes(file.size)
        self.uploaded.append(file)


@pytest.fixture
def small_site_files(small_site: Path) -> Iterator[list[SiteFile]]:
    yield scan_site(small_site, load_config(CORPUS_CONFIG)).files


def test_every_mp3_goes_up_before_any_post(small_site_files: list[SiteFile]) -> None:
    store = RecordingStore()
    planned = plan_uploads(small_site_files, store, workers=4)
    assert {item.action for item in planned} == {Action.NEW}
    sent: list[int] = []
    upload_planned(planned, store, workers=4, on_bytes=sent.append)
    kinds = [file.kind for file in store.uploaded]
    assert kinds.count(ObjectKind.AUDIO) == SMALL_EPISODES
    assert max(i for i, kind in enumerate(kinds) if kind is ObjectKind.AUDIO) < kinds.index(ObjectKind.POST)
    assert sum(sent) == sum(file.size for file in small_site_files)


def test_a_failed_mp3_upload_stops_before_the_posts(small_site_files: list[SiteFile]) -> None:
    mp3 = next(file for file in small_site_files if file.kind is ObjectKind.AUDIO)
    store = RecordingStore(failing=frozenset({mp3.key}))
    planned = plan_uploads(small_site_files, store, workers=2)
    with pytest.raises(UploadError) as failed:
        upload_planned(planned, store, workers=2)
    assert [failure.key for failure in failed.value.failures] == [mp3.key]
    assert {file.kind for file in store.uploaded} == {ObjectKind.AUDIO}
    assert len(failed.value.uploaded) == SMALL_EPISODES - 1
