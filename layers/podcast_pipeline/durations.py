"""Episode durations as people write them in front-matter: `H:MM:SS`, `M:SS` or whole seconds.

The show's canonical spelling has no leading zero on the first field (`1:02:04`, `2:50`, `0:45`) and
always two digits after a colon. Durations are whole seconds: a fraction is rejected, not rounded.
Messages to people show a length as a player does instead, always with hours (`format_clock`).
"""

from __future__ import annotations

import re

# ASCII digits only: `\d` would also accept Arabic-Indic and other Unicode digits.
_PLAIN_SECONDS = re.compile(r"[0-9]{1,9}")
_CLOCK = re.compile(r"(?:(?P<hours>[0-9]{1,6}):)?(?P<minutes>[0-9]{1,6}):(?P<seconds>[0-9]{1,2})")
_FORMS = "H:MM:SS, M:SS or whole seconds"


def parse_duration(text: str | int) -> int:
    """Whole seconds of a written duration; ValueError with a message that says what is wrong."""
    if isinstance(text, bool):
        raise ValueError(f"duration {text!r} is not a duration ({_FORMS})")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"duration {text} is negative")
        return text
    written = text.strip()
    if not written:
        raise ValueError(f"duration is empty (expected {_FORMS})")
    if written.startswith("-"):
        raise ValueError(f"duration {text!r} is negative")
    if "." in written or "," in written:
        raise ValueError(f"duration {text!r} has a fraction: durations are whole seconds ({_FORMS})")
    if _PLAIN_SECONDS.fullmatch(written):
        return int(written)
    clock = _CLOCK.fullmatch(written)
    if clock is None:
        raise ValueError(f"duration {text!r} is not {_FORMS}")
    hours, minutes, seconds = clock["hours"], clock["minutes"], clock["seconds"]
    if len(seconds) != 2:
        raise ValueError(f"duration {text!r} needs two digits of seconds after the colon")
    if int(seconds) > 59:
        raise ValueError(f"duration {text!r} has {seconds} seconds (at most 59)")
    if hours is not None:
        if len(minutes) != 2:
            raise ValueError(f"duration {text!r} needs two digits of minutes after the hours")
        if int(minutes) > 59:
            raise ValueError(f"duration {text!r} has {minutes} minutes past the hour (at most 59)")
        return int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    return int(minutes) * 60 + int(seconds)


def format_duration(seconds: int) -> str:
    """The canonical front-matter spelling: `H:MM:SS` from one hour on, else `M:SS`."""
    if seconds < 0:
        raise ValueError(f"duration {seconds} is negative")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_clock(seconds: float) -> str:
    """`H:MM:SS` of whole seconds, truncated as players show a length (3703.9 -> "1:01:43")."""
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def is_canonical(text: str) -> bool:
    """Whether `text` is a valid duration spelled exactly as format_duration spells it."""
    try:
        return text == format_duration(parse_duration(text))
    except ValueError:
        return False
