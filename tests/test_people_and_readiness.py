"""Guests and hosts for podcast:person, and the feed-readiness findings of a config, an item and artwork."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import pytest

from podcast_pipeline.config import ConfigError, SiteConfig, parse_config
from podcast_pipeline.feed.readiness import (
    IMAGE_HEAD_BYTES,
    image_key,
    image_readiness,
    item_readiness,
    site_readiness,
)
from podcast_pipeline.people import GUEST, HOST, Person, guests
from podcast_pipeline.problems import READINESS_CODES, Code, Severity

TEMPLATE = "https://example.com/assets/guests/{avatar_stem}.jpg"


def test_guests_in_order_with_website_avatar_and_twitter_fallback() -> None:
    front_matter = {
        "guest": "Clemens Wolff",
        "guest_avatar": "clemens-wolff",
        "guest_website": "https://ascoderu.ca/",
        "guest_2": "Shaun Bathgate",
        "guest_2_avatar": "shaun-bathgate.jpg",
        "guest_2_twitter": "@shaunb",
        "guest_4": "Not listed: guest_3 is missing",
    }
    assert guests(front_matter, image_template=TEMPLATE) == (
        Person(
            "Clemens Wolff",
            GUEST,
            "https://ascoderu.ca/",
            "https://example.com/assets/guests/clemens-wolff.jpg",
        ),
        Person(
            "Shaun Bathgate",
            GUEST,
            "https://twitter.com/shaunb",
            "https://example.com/assets/guests/shaun-bathgate.jpg",
        ),
    )
    assert guests({"guest": "Ann"}) == (Person("Ann", GUEST),)
    assert guests({}) == ()


@pytest.mark.parametrize(
    ("front_matter", "expected"),
    [
        ({"guest": "  Ann \n Lee  ", "guest_website": "http://insecure.test"}, Person("Ann Lee", GUEST)),
        ({"guest": "Ann", "guest_website": "javascript:alert(1)"}, Person("Ann", GUEST)),
        ({"guest": "Ann", "guest_twitter": "not a handle!"}, Person("Ann", GUEST)),
        (
            {"guest": "Ann", "guest_avatar": "../../etc/passwd?x=1"},
            Person("Ann", GUEST, img="https://example.com/assets/guests/..%2F..%2Fetc%2Fpasswd%3Fx%3D1.jpg"),
        ),
        ({"guest": "x" * 300}, Person("x" * 128, GUEST)),
        ({"guest": ["a", "list"]}, None),
        ({"guest": "   "}, None),
    ],
)
def test_hostile_guest_values(front_matter: dict[str, Any], expected: Person | None) -> None:
    template = "https://example.com/assets/guests/{avatar}.jpg"
    assert guests(front_matter, image_template=template) == ((expected,) if expected else ())


def test_hosts_come_from_the_feed_config() -> None:
    config = site(hosts=[{"name": "Nick", "href": "https://nick.test"}, {"name": "Co", "role": "Co-Host"}])
    assert config.feeds["podcast"].hosts == (
        Person("Nick", HOST, "https://nick.test"),
        Person("Co", "co-host"),
    )
    for hosts, message in (
        ({"name": "x"}, "must be a list"),
        ([{"href": "https://x.test"}], r"hosts\[0\].*name"),
        ([{"name": "x", "img": "http://x.test/a.jpg"}], "https://"),
        ([{"name": "x", "twitter": "x"}], "twitter"),
    ):
        with pytest.raises(ConfigError, match=message):
            site(hosts=hosts)
    with pytest.raises(ConfigError, match="guest_image_template"):
        parse_config({"site": {"url": "https://e.test"}, "people": {"guest_image_template": "{nope}"}})


def site(**feed: Any) -> SiteConfig:
    return parse_config(
        {
            "site": {"url": "https://example.com"},
            "feeds": {
                "podcast": {
                    "key": "podcast/feed.xml",
                    "title": "Show",
                    "description": "About things.",
                    "link": "https://example.com/podcast/",
                    "owner_email": "ann@example.com",
                    "image": "https://example.com/assets/cover%20art.png?v=2",
                    "categories": ["Technology"],
                    **feed,
                }
            },
        }
    )


def test_a_ready_feed_has_no_findings() -> None:
    assert site_readiness(site()) == ()


@pytest.mark.parametrize(
    ("feed", "code", "severity"),
    [
        ({"image": ""}, Code.MISSING_IMAGE, Severity.ERROR),
        ({"categories": []}, Code.UNKNOWN_CATEGORY, Severity.ERROR),
        ({"categories": ["Technology/Gadgets"]}, Code.UNKNOWN_CATEGORY, Severity.ERROR),
        ({"owner_email": ""}, Code.MISSING_OWNER_EMAIL, Severity.WARNING),
        ({"language": "english"}, Code.INVALID_LANGUAGE, Severity.ERROR),
        ({"language": "xx-us"}, Code.INVALID_LANGUAGE, Severity.ERROR),
        ({"description": "é" * 2001}, Code.DESCRIPTION_TOO_LONG, Severity.WARNING),
        ({"title": "t" * 256}, Code.TITLE_TOO_LONG, Severity.WARNING),
    ],
)
def test_each_channel_finding_has_its_code(feed: dict[str, Any], code: Code, severity: Severity) -> None:
    problems = site_readiness(site(**feed))
    assert [(p.code, p.severity, p.key) for p in problems] == [(code, severity, "podcast/feed.xml")]
    assert code in READINESS_CODES


def test_language_with_a_region_and_limits_at_the_edge_are_ready() -> None:
    assert site_readiness(site(language="en-us", description="é" * 2000, title="t" * 255)) == ()


def test_item_findings() -> None:
    assert item_readiness("t" * 255, "d" * 4000, key="p.md") == ()
    problems = item_readiness("t" * 256, "d" * 4001, key="p.md")
    assert [(p.code, p.key) for p in problems] == [
        (Code.TITLE_TOO_LONG, "p.md"),
        (Code.DESCRIPTION_TOO_LONG, "p.md"),
    ]
    assert "256 characters" in problems[0].message and "4001 bytes" in problems[1].message


def test_artwork_in_the_bucket_has_a_key() -> None:
    config = site()
    assert image_key(config.feeds["podcast"], config) == "assets/cover art.png"
    elsewhere = site(image="https://cdn.other.test/cover.png")
    assert image_key(elsewhere.feeds["podcast"], elsewhere) is None


def png(width: int, height: int) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + header
    return (
        b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(header)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    )


def jpeg(width: int, height: int, padding: int = 0) -> bytes:
    app1 = b"\xff\xe1" + struct.pack(">H", padding + 2) + bytes(padding)  # an EXIF-sized segment first
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app1 + sof0 + b"\xff\xd9"


@pytest.mark.parametrize("image", [png(1400, 1400), png(3000, 3000), jpeg(2048, 2048, padding=30_000)])
def test_square_artwork_of_1400_to_3000_px_is_ready(image: bytes) -> None:
    assert image_readiness(image[:IMAGE_HEAD_BYTES], key="cover") == ()


@pytest.mark.parametrize(
    ("image", "code", "what"),
    [
        (png(1399, 1399), Code.IMAGE_WRONG_SIZE, "1399x1399"),
        (png(3001, 3001), Code.IMAGE_WRONG_SIZE, "3001x3001"),
        (jpeg(3000, 1500), Code.IMAGE_WRONG_SIZE, "3000x1500"),
        (b"GIF89a" + bytes(20), Code.IMAGE_NOT_JPEG_OR_PNG, "not a JPEG or PNG"),
        (b"<svg/>", Code.IMAGE_NOT_JPEG_OR_PNG, "not a JPEG or PNG"),
    ],
)
def test_artwork_of_the_wrong_kind_or_size_is_flagged(image: bytes, code: Code, what: str) -> None:
    (problem,) = image_readiness(image, key="cover.png")
    assert problem.code is code and problem.severity is Severity.ERROR and what in problem.message


def test_artwork_whose_size_is_past_the_bytes_read_says_so() -> None:
    (problem,) = image_readiness(jpeg(2000, 2000, padding=60_000)[:1024], key="cover.jpg")
    assert problem.code is Code.IMAGE_WRONG_SIZE and problem.severity is Severity.WARNING
    assert "first 1024 bytes" in problem.message
