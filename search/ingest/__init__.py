"""Feeds and pages in, articles out: `veille fetch`, and saved HTML pages for `veille add`.

from search import fetch_feeds
summary = fetch_feeds("index", ["https://www.example.fr/rss.xml"])
print(summary.new, "new articles;", summary.line())
"""

from .client import FetchError
from .feeds import FeedListError, FeedSpec, feed_specs, read_feed_list
from .fetch import FeedResult, FetchSummary, fetch_feeds, watch_feeds
from .state import FetchStateError

__all__ = [
    "FeedListError",
    "FeedResult",
    "FeedSpec",
    "FetchError",
    "FetchStateError",
    "FetchSummary",
    "feed_specs",
    "fetch_feeds",
    "read_feed_list",
    "watch_feeds",
]
