"""Feed diffs by guid: added, removed and changed items, blind to formatting."""

from __future__ import annotations

from podcast_pipeline.feed.changes import diff_feeds, item_digests


def feed(*items: str) -> bytes:
    return f"<rss version='2.0'><channel><title>t</title>{''.join(items)}</channel></rss>".encode()


def item(guid: str, title: str = "T", *, extra: str = "") -> str:
    return f"<item><title>{title}</title><guid isPermaLink='false'>{guid}</guid>{extra}</item>"


def test_added_removed_and_changed_in_feed_order() -> None:
    old = feed(item("a"), item("b"), item("c"))
    new = feed(item("d"), item("c", "New title"), item("a"), item("e"))
    diff = diff_feeds(old, new)
    assert diff.added == ("d", "e")
    assert diff.removed == ("b",)
    assert diff.changed == ("c",)
    assert not diff.is_empty


def test_formatting_order_and_cdata_are_not_changes() -> None:
    old = feed(item("a", extra="<description>x &amp; y</description>"), item("b"))
    new = (
        b"<rss version='2.0'>\n  <channel>\n    <title>t</title>\n"
        b"    <item>\n      <title>T</title>\n      <guid isPermaLink='false'>b</guid>\n    </item>\n"
        b"    <item><guid isPermaLink='false'>a</guid><title>T</title>"
        b"<description><![CDATA[x & y]]></description></item>\n  </channel>\n</rss>"
    )
    assert diff_feeds(old, new).is_empty


def test_attribute_changes_are_changes() -> None:
    old = feed(item("a", extra="<enclosure url='u' length='1' type='audio/mpeg'/>"))
    new = feed(item("a", extra="<enclosure url='u' length='2' type='audio/mpeg'/>"))
    assert diff_feeds(old, new).changed == ("a",)


def test_no_or_unreadable_old_feed_means_everything_is_added() -> None:
    new = feed(item("a"), item("b"))
    assert diff_feeds(None, new).added == ("a", "b")
    assert diff_feeds(b"<html>not a feed", new).added == ("a", "b")


def test_items_without_guid_are_keyed_by_link() -> None:
    assert list(item_digests(feed("<item><link>https://x.example/1</link></item>"))) == [
        "https://x.example/1"
    ]
