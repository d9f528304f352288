"""The feed entry: what a feed rebuild reads of one published episode, decided and stored at ingest.

A rebuild renders every item of its feed, so it reads one compact entry per episode instead of the whole
episode: the notes as rendered (not as written), and of the front-matter only what an item shows (its
description, season and guests). Ingest writes an entry when its digest changes and deletes it when the
episode leaves the feed, so an unchanged episode costs a rebuild one small read and ingest no write.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

from podcast_pipeline.episode import Episode, State

# The front-matter an item reads (render's description, podcasting's season and people's guests).
ITEM_FRONT_MATTER = ("description", "season")
GUEST_PREFIX = "guest"  # guest, guest_website, guest_2_avatar, ...


def feed_entry(episode: Episode) -> Episode | None:
    """`episode` as its feed reads it; None when it is in no feed (not published)."""
    if episode.state is not State.PUBLISHED:
        return None
    shown = {
        name: value
        for name, value in episode.front_matter.items()
        if name in ITEM_FRONT_MATTER or name.startswith(GUEST_PREFIX)
    }
    return replace(episode, front_matter=shown, body="", claimed={}, post=None, audio=None)


def entry_digest(entry: Episode | None) -> str:
    """A digest of what the entry holds ("" for none): equal digests, nothing to write."""
    if entry is None:
        return ""
    canonical = json.dumps(entry.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
