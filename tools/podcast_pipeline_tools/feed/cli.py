"""`podcast-pipeline feed diff OLD.xml NEW.xml`: what subscribers would notice between two versions of a feed.

Exit codes: 0 nothing that disturbs subscribers, 1 items removed (or guids changed) or enclosures changed,
2 unusable input. What counts as disturbing is explained in `podcast_pipeline_tools.feed.diff`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from podcast_pipeline_tools.feed.diff import FeedComparison, FeedError, compare_feeds

EXIT_SAME = 0
EXIT_DISTURBING = 1
EXIT_UNUSABLE = 2


def add_feed_parser(subparsers: Any) -> None:
    """Register `feed diff` on a parser's subparsers (argparse's _SubParsersAction)."""
    feed = subparsers.add_parser("feed", help="work with podcast feeds")
    actions = feed.add_subparsers(dest="feed_command", required=True, metavar="ACTION")
    diff = actions.add_parser(
        "diff",
        help="compare two feeds item by item (by guid); exit 1 on what would disturb subscribers",
        description="Exit 1 when an item is removed (or its guid changed) or an enclosure url or length "
        "changed: apps would drop or re-download episodes. Added items and changed titles, dates and "
        "durations are reported with exit 0.",
        epilog="exit codes: 0 nothing that disturbs subscribers, 1 a removed item, changed guid or changed "
        "enclosure, 2 a feed cannot be read",
    )
    diff.add_argument("old", type=Path, metavar="OLD.xml", help="the feed subscribers have now")
    diff.add_argument("new", type=Path, metavar="NEW.xml", help="the feed that replaces it")
    diff.add_argument("--json", action="store_true", help="print the comparison as one JSON object")
    diff.set_defaults(func=run_feed_diff)


def run_feed_diff(args: argparse.Namespace) -> int:
    try:
        comparison = compare_feeds(args.old.read_bytes(), args.new.read_bytes())
    except OSError as problem:
        Console(stderr=True, highlight=False).print(
            Text(f"error: cannot read {problem.filename}: {problem.strerror}")
        )
        return EXIT_UNUSABLE
    except FeedError as problem:
        Console(stderr=True, highlight=False).print(Text(f"error: {problem}"))
        return EXIT_UNUSABLE
    if args.json:
        sys.stdout.write(json.dumps(comparison.to_dict(), indent=2, ensure_ascii=False) + "\n")
    else:
        _print(Console(highlight=False), comparison)
    return EXIT_DISTURBING if comparison.disturbs_subscribers else EXIT_SAME


def _print(console: Console, comparison: FeedComparison) -> None:
    items = comparison.items
    rows = [
        *((guid, "removed", "", "", True) for guid in items.removed),
        *((guid, "added", "", "", False) for guid in items.added),
        *(
            (change.guid, change.field, change.old or "-", change.new or "-", change.disturbing)
            for change in comparison.fields
        ),
    ]
    if rows:
        table = Table(show_edge=False)
        for column in ("guid", "difference", "old", "new"):
            table.add_column(column, overflow="fold")
        for guid, difference, old, new, disturbing in rows:
            style = "red" if disturbing else "yellow"
            table.add_row(Text(guid), Text(difference, style=style), Text(old), Text(new))
        console.print(table)
    unchanged_fields = len(items.changed) - len({change.guid for change in comparison.fields})
    if unchanged_fields:
        console.print(
            Text(f"{unchanged_fields} items differ only in other elements (show notes, description, ...)")
        )
    console.print(
        Text(
            f"{len(items.removed)} removed, {len(items.added)} added, {len(items.changed)} changed: "
            + ("disturbs subscribers" if comparison.disturbs_subscribers else "nothing disturbs subscribers"),
            style="bold red" if comparison.disturbs_subscribers else "bold green",
        )
    )
