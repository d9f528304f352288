"""`podcast-pipeline migrate-table`: rewrite episode items of the format before the lean table.

Feeds are rendered from feed entries, which items written before them lack: without this migration a
rebuild after the deploy would render a feed of only the episodes changed since. Run it once before
`cdk deploy` (while the old functions run, entries are written for every published episode) and once
after (items the old functions wrote meanwhile). Safe to repeat: a rewritten item is no longer legacy,
and one that changed under the migration is left to the decision that changed it.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from podcast_pipeline.feed.entry import entry_digest, feed_entry

if TYPE_CHECKING:  # the store loads botocore: not on every command's start
    from podcast_pipeline.store import EpisodeStore

EXIT_MIGRATED = 0
EXIT_FAILED = 1


@dataclass(frozen=True)
class Migration:
    rewritten: int = 0
    entries: int = 0  # feed entries written (the published episodes among them)
    moved_on: int = 0  # changed by a function during the migration: it wrote the new format itself


def migrate(store: EpisodeStore) -> Migration:
    rewritten = entries = moved_on = 0
    for stored in store.legacy_episodes():
        entry = feed_entry(stored.episode)
        if entry is not None:
            store.put_feed_entry(entry)
        saved = store.save_episode(
            stored.episode, stored.revision, stored.outbox, entry_digest=entry_digest(entry)
        )
        if saved is None:
            moved_on += 1
            continue
        rewritten += 1
        entries += entry is not None
    return Migration(rewritten, entries, moved_on)


def add_migrate_parser(subparsers: Any) -> None:
    migrate_table = subparsers.add_parser(
        "migrate-table",
        help="rewrite the episode table's items into the current format (before and after a deploy)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit codes: 0 migrated (or nothing to migrate), 1 the table could not be read or written",
    )
    migrate_table.add_argument("--table", required=True, metavar="NAME", help="the episode table")
    migrate_table.add_argument("--endpoint-url", metavar="URL", help="a DynamoDB endpoint instead of AWS")
    migrate_table.set_defaults(func=run_migrate)


def run_migrate(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from podcast_pipeline.store import EpisodeStore

    store = EpisodeStore(boto3.client("dynamodb", endpoint_url=args.endpoint_url), args.table)
    try:
        done = migrate(store)
    except (BotoCoreError, ClientError) as err:
        print(f"error: cannot migrate {args.table}: {err}")
        return EXIT_FAILED
    print(
        f"{args.table}: {done.rewritten} episode items rewritten, {done.entries} feed entries written, "
        f"{done.moved_on} already rewritten by the functions"
    )
    return EXIT_MIGRATED
