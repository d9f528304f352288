"""The podcast feed: RSS rendering, show notes, feed diffs and the rebuild service."""
