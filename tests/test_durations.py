from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podcast_pipeline.durations import format_clock, format_duration, is_canonical, parse_duration


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("1:02:04", 3724),
        ("2:50", 170),
        ("0:45", 45),
        ("01:03", 63),
        ("01:02:04", 3724),
        ("3723", 3723),
        ("0", 0),
        ("90:00", 5400),
        (" 53:23 ", 3203),
        (3703, 3703),
    ],
)
def test_parse_accepts_the_written_forms(written: str | int, seconds: int) -> None:
    assert parse_duration(written) == seconds


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("1:99:00", "99 minutes past the hour"),
        ("1:00:60", "60 seconds"),
        ("-5", "negative"),
        ("-1:00", "negative"),
        (-3, "negative"),
        ("", "empty"),
        ("   ", "empty"),
        ("53.5", "fraction"),
        ("1:02.5", "fraction"),
        ("1:2", "two digits of seconds"),
        ("1:2:03", "two digits of minutes"),
        ("abc", "is not H:MM:SS"),
        ("1:02:03:04", "is not H:MM:SS"),
        ("\u0661:\u0660\u0663", "is not H:MM:SS"),  # Arabic-Indic digits: digits to `\d`, not to a duration
        ("1e3", "is not H:MM:SS"),
    ],
)
def test_parse_rejects_nonsense_with_a_specific_message(written: str | int, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_duration(written)


def test_parse_rejects_booleans() -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(True)


@pytest.mark.parametrize(
    ("seconds", "written"), [(3724, "1:02:04"), (170, "2:50"), (45, "0:45"), (0, "0:00"), (3600, "1:00:00")]
)
def test_format_is_the_shows_style(seconds: int, written: str) -> None:
    assert format_duration(seconds) == written


def test_format_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_duration(-1)


@pytest.mark.parametrize(
    ("seconds", "text"), [(3703.704, "1:01:43"), (59.99, "0:00:59"), (0, "0:00:00"), (36000, "10:00:00")]
)
def test_format_clock_truncates_and_always_shows_hours(seconds: float, text: str) -> None:
    assert format_clock(seconds) == text


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("1:02:04", True),
        ("2:50", True),
        ("0:45", True),
        ("01:03", False),
        ("3723", False),
        ("45", False),
        ("60:00", False),
        ("x", False),
    ],
)
def test_is_canonical(written: str, canonical: bool) -> None:
    assert is_canonical(written) is canonical


@given(st.integers(min_value=0, max_value=10**7))
def test_format_then_parse_round_trips(seconds: int) -> None:
    written = format_duration(seconds)
    assert parse_duration(written) == seconds
    assert is_canonical(written)


@given(st.text(max_size=20))
def test_parse_raises_only_value_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except ValueError:
        return
    assert seconds >= 0
    assert parse_duration(format_duration(seconds)) == seconds
