"""The people of an episode, as `podcast:person` names them: the show's hosts (config) and its guests (post).

A post names its guests in front-matter, as the Jekyll show does: `guest`, `guest_avatar`, `guest_website`,
`guest_twitter`, and for a second guest the same keys with `guest_2` (`guest_2`, `guest_2_avatar`, ...),
then `guest_3`, and so on. Post values are hostile: names become one line of plain text, and a link or an
image is kept only as an `https:` URL (the namespace requires https for every URL it carries).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote, urlsplit

HOST = "host"
GUEST = "guest"
# The namespace asks for at most 128 characters of name; aggregators truncate longer ones.
MAX_NAME = 128
_HANDLE = re.compile(r"^@?([A-Za-z0-9_]{1,15})$")  # what Twitter allows in a handle


@dataclass(frozen=True)
class Person:
    name: str
    role: str = HOST  # a role of the Podcast Taxonomy Project, lower-case
    href: str = ""
    img: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Person:
        return cls(
            str(data["name"]), str(data.get("role") or HOST), data.get("href") or "", data.get("img") or ""
        )


def _one_line(value: object) -> str:
    return " ".join(str(value).split())[:MAX_NAME]


def https_url(value: object) -> str:
    """`value` if it is an absolute https URL with a host, else ""."""
    if not isinstance(value, str):
        return ""
    text = value.strip()
    parts = urlsplit(text)
    return (
        text
        if parts.scheme.lower() == "https" and parts.netloc and not any(c.isspace() for c in text)
        else ""
    )


def person_from_config(raw: Any) -> Person:
    """A host of the site config (`{name, href, img, role}`); ValueError says what is wrong."""
    if not isinstance(raw, Mapping):
        raise ValueError("a person is a mapping with `name` and optional `href`, `img`, `role`")
    unknown = sorted(set(raw) - {"name", "href", "img", "role"})
    if unknown:
        raise ValueError(f"unknown key `{unknown[0]}` (allowed: href, img, name, role)")
    name = _one_line(raw.get("name") or "")
    if not name:
        raise ValueError("`name` is required")
    for link in ("href", "img"):
        if raw.get(link) and not https_url(raw[link]):
            raise ValueError(f"`{link}` must be an https:// URL")
    role = _one_line(raw.get("role") or HOST).lower()
    return Person(name=name, role=role, href=https_url(raw.get("href")), img=https_url(raw.get("img")))


def guests(front_matter: Mapping[str, Any], *, image_template: str = "") -> tuple[Person, ...]:
    """The post's guests in order (`guest`, `guest_2`, ...); the first missing `guest_N` ends the list.

    `href` is the guest's website, else their Twitter profile; `img` is `image_template` filled with the
    avatar (`{avatar}` as written, `{avatar_stem}` without its extension), when both are there.
    """
    found = []
    prefix, number = "guest", 1
    while True:
        name = front_matter.get(prefix)
        if name is None or isinstance(name, (Mapping, list)) or not _one_line(name):
            break
        found.append(
            Person(
                name=_one_line(name),
                role=GUEST,
                href=https_url(front_matter.get(f"{prefix}_website")) or _twitter(front_matter, prefix),
                img=_avatar(front_matter.get(f"{prefix}_avatar"), image_template),
            )
        )
        number += 1
        prefix = f"guest_{number}"
    return tuple(found)


def _twitter(front_matter: Mapping[str, Any], prefix: str) -> str:
    handle = _HANDLE.match(str(front_matter.get(f"{prefix}_twitter") or "").strip())
    return f"https://twitter.com/{handle[1]}" if handle else ""


def _avatar(value: object, template: str) -> str:
    if not template or not isinstance(value, str) or not value.strip():
        return ""
    avatar = value.strip()
    # Quoted as one path segment: a `../` or a `?` in a post cannot reach outside the template's folder.
    url = template.format(
        avatar=quote(avatar, safe=""), avatar_stem=quote(PurePosixPath(avatar).stem, safe="")
    )
    return https_url(url)
