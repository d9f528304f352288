"""Feed readiness: what in a feed's config or an episode makes Apple Podcasts reject the feed, or flags it
against PSP-1 (the Podcast Standards Project's RSS standard), with a stable code each.

The feed is rendered regardless; these findings are for the producer (the CLI at config load, the feed
function's logs and its `Feed Updated` event). Errors are what Apple refuses (no artwork, a category not in
its list, a language that is no ISO 639 code, artwork of the wrong kind or size); warnings what it or other
apps cut or flag (a missing owner e-mail, descriptions over 4,000 bytes, titles over 255 characters).

Artwork is checked only when it is in the bucket (its URL is under the site's): `image_readiness` reads the
header of the image's first `IMAGE_HEAD_BYTES` with imagesize, a small pure-Python library that parses
dimensions from headers without decoding the image (Pillow would add a compiled imaging library to the
layer to read two numbers).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from urllib.parse import unquote

from podcast_pipeline.config import FeedConfig, SiteConfig
from podcast_pipeline.feed.apple_categories import group_categories
from podcast_pipeline.feed.render import plain_text
from podcast_pipeline.problems import Code, Problem, error, warning

MAX_DESCRIPTION_BYTES = 4000  # Apple: `description` / `itunes:summary`
MAX_TITLE_CHARACTERS = 255
MIN_IMAGE_PX, MAX_IMAGE_PX = 1400, 3000  # Apple's artwork: square, 1400 to 3000 pixels a side
# Enough for the header of any JPEG or PNG whose metadata (EXIF, ICC profile) comes before its size.
IMAGE_HEAD_BYTES = 64 * 1024
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"

# ISO 639-1, the two-letter codes RSS `<language>` takes (optionally with a region: `en-us`).
ISO_639_1 = frozenset(
    """
    aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de
    dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id
    ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu
    lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu
    rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw ta te tg th ti tk tl tn to tr
    ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
    """.split()  # noqa: SIM905 (a word list reads best as words)
)


def site_readiness(config: SiteConfig) -> tuple[Problem, ...]:
    """The findings of every feed of the config (each keyed by the feed's bucket key)."""
    return tuple(problem for feed in config.feeds.values() for problem in feed_readiness(feed))


def feed_readiness(feed: FeedConfig) -> tuple[Problem, ...]:
    """The findings of one feed's channel, from its config alone."""
    return tuple(_channel(feed))


def _channel(feed: FeedConfig) -> Iterator[Problem]:
    where, key = f"feed {feed.category}", feed.key
    if not feed.image:
        yield error(
            Code.MISSING_IMAGE, f"{where} has no `image`: Apple requires artwork (itunes:image)", key=key
        )
    if not feed.categories:
        yield error(Code.UNKNOWN_CATEGORY, f"{where} names no `categories`: Apple requires one", key=key)
    try:
        group_categories(feed.categories)
    except ValueError as err:
        yield error(Code.UNKNOWN_CATEGORY, f"{where}: {err} (Apple's list only)", key=key)
    if not feed.owner_email:
        message = (
            f"{where} has no `owner_email`: Apple verifies ownership by it, and podcast:locked names it as"
            " the owner"
        )
        yield warning(Code.MISSING_OWNER_EMAIL, message, key=key)
    primary = feed.language.partition("-")[0].lower()
    if primary not in ISO_639_1:
        message = f"{where}: `language` {feed.language!r} is not an ISO 639-1 code (such as en or en-us)"
        yield error(Code.INVALID_LANGUAGE, message, key=key)
    yield from item_readiness(plain_text(feed.title), plain_text(feed.description), key=key, where=where)


def item_readiness(
    title: str, description: str, *, key: str | None = None, where: str = ""
) -> tuple[Problem, ...]:
    """The findings of a title and description as the feed carries them (an item's, or the channel's)."""
    where = where or (f"episode {key}" if key else "episode")
    found = []
    if len(title) > MAX_TITLE_CHARACTERS:
        message = f"{where}: the title has {len(title)} characters, more than {MAX_TITLE_CHARACTERS}"
        found.append(warning(Code.TITLE_TOO_LONG, message, key=key))
    size = len(description.encode("utf-8"))
    if size > MAX_DESCRIPTION_BYTES:
        message = (
            f"{where}: the description is {size} bytes, more than {MAX_DESCRIPTION_BYTES} (Apple cuts it)"
        )
        found.append(warning(Code.DESCRIPTION_TOO_LONG, message, key=key))
    return tuple(found)


def image_key(feed: FeedConfig, config: SiteConfig) -> str | None:
    """The bucket key of the feed's artwork when its URL is under the site's, else None (not ours to read)."""
    prefix = config.site_url + "/"
    if not feed.image.startswith(prefix):
        return None
    key = unquote(feed.image[len(prefix) :].partition("?")[0].partition("#")[0])
    return key or None


def artwork_keys(config: SiteConfig) -> list[str]:
    """The bucket keys of every feed's artwork that is in the bucket."""
    return sorted({key for feed in config.feeds.values() if (key := image_key(feed, config))})


def image_readiness(head: bytes, *, key: str) -> tuple[Problem, ...]:
    """The findings of the artwork whose first bytes (`IMAGE_HEAD_BYTES` suffice) are `head`."""
    import imagesize  # on first use: only the feed function reads artwork

    if not head.startswith((_PNG, _JPEG)):
        return (error(Code.IMAGE_NOT_JPEG_OR_PNG, f"artwork {key} is not a JPEG or PNG image", key=key),)
    width, height = imagesize.get(io.BytesIO(head))
    if width < 0 or height < 0:
        message = f"artwork {key}: its size is not in its first {len(head)} bytes; Apple needs {_SIZES}"
        return (warning(Code.IMAGE_WRONG_SIZE, message, key=key),)
    if width != height or not MIN_IMAGE_PX <= width <= MAX_IMAGE_PX:
        message = f"artwork {key} is {width}x{height} px; Apple needs {_SIZES}"
        return (error(Code.IMAGE_WRONG_SIZE, message, key=key),)
    return ()


_SIZES = f"a square of {MIN_IMAGE_PX} to {MAX_IMAGE_PX} px"
