"""The podcast feed: RSS rendering, show notes, item changes and the rebuild service."""
