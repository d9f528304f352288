"""Apple Podcasts' category list: a feed naming any other category is rejected by Apple.

Source: Apple Podcasts Connect, "Apple Podcasts categories" (the 2019 list, still current).
"""

from __future__ import annotations

from collections.abc import Iterable

APPLE_CATEGORIES: dict[str, frozenset[str]] = {
    "Arts": frozenset(
        {"Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts"},
    ),
    "Business": frozenset(
        {"Careers", "Entrepreneurship", "Investing", "Management", "Marketing", "Non-Profit"},
    ),
    "Comedy": frozenset({"Comedy Interviews", "Improv", "Stand-Up"}),
    "Education": frozenset({"Courses", "How To", "Language Learning", "Self-Improvement"}),
    "Fiction": frozenset({"Comedy Fiction", "Drama", "Science Fiction"}),
    "Government": frozenset(),
    "History": frozenset(),
    "Health & Fitness": frozenset(
        {"Alternative Health", "Fitness", "Medicine", "Mental Health", "Nutrition", "Sexuality"},
    ),
    "Kids & Family": frozenset({"Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"}),
    "Leisure": frozenset(
        {
            "Animation & Manga",
            "Automotive",
            "Aviation",
            "Crafts",
            "Games",
            "Hobbies",
            "Home & Garden",
            "Video Games",
        },
    ),
    "Music": frozenset({"Music Commentary", "Music History", "Music Interviews"}),
    "News": frozenset(
        {
            "Business News",
            "Daily News",
            "Entertainment News",
            "News Commentary",
            "Politics",
            "Sports News",
            "Tech News",
        },
    ),
    "Religion & Spirituality": frozenset(
        {"Buddhism", "Christianity", "Hinduism", "Islam", "Judaism", "Religion", "Spirituality"},
    ),
    "Science": frozenset(
        {
            "Astronomy",
            "Chemistry",
            "Earth Sciences",
            "Life Sciences",
            "Mathematics",
            "Natural Sciences",
            "Nature",
            "Physics",
            "Social Sciences",
        },
    ),
    "Society & Culture": frozenset(
        {"Documentary", "Personal Journals", "Philosophy", "Places & Travel", "Relationships"},
    ),
    "Sports": frozenset(
        {
            "Baseball",
            "Basketball",
            "Cricket",
            "Fantasy Sports",
            "Football",
            "Golf",
            "Hockey",
            "Rugby",
            "Running",
            "Soccer",
            "Swimming",
            "Tennis",
            "Volleyball",
            "Wilderness",
            "Wrestling",
        },
    ),
    "Technology": frozenset(),
    "True Crime": frozenset(),
    "TV & Film": frozenset({"After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"}),
}


def parse_category(value: str) -> tuple[str, str | None]:
    """Split a configured "Parent" or "Parent/Child" into Apple's names; ValueError when Apple has no such."""
    parent, _, child = (part.strip() for part in value.partition("/"))
    if parent not in APPLE_CATEGORIES:
        raise ValueError(f"{parent!r} is not an Apple Podcasts category")
    if not child:
        return parent, None
    if child not in APPLE_CATEGORIES[parent]:
        raise ValueError(f"{child!r} is not an Apple Podcasts subcategory of {parent!r}")
    return parent, child


def group_categories(values: Iterable[str]) -> dict[str, list[str]]:
    """Parent → subcategories in the configured order: one <itunes:category> per parent."""
    grouped: dict[str, list[str]] = {}
    for value in values:
        parent, child = parse_category(value)
        children = grouped.setdefault(parent, [])
        if child and child not in children:
            children.append(child)
    return grouped
