"""`veille fetch`: read feeds, fetch their new items' pages, extract the articles, add them.

Each item's article is written through `add_articles` (the path of `veille add`), a batch
at a time, and recorded in the fetch state only once written. An item is fetched again only
when its feed entry changes (dates, title, summary) or its article left the index (a
rebuild from the corpus drops fetched articles: the next fetch brings back those still in
their feeds). A page that fails is retried at the next runs; after MAX_FAILURES failed
runs, only every RETRY_GIVEN_UP seconds, until its entry changes. A page that shows no
article text (a consent wall) is indexed with its feed entry's summary and fetched again
at the next runs, until it shows its text; it never replaces an article indexed with its
text.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import NoReturn
from urllib.parse import urlsplit

from search.corpus import Article
from search.errors import IndexNotFoundError, IndexVersionError, VeilleError
from search.index import Index, add_articles
from search.ledger import removed_articles

from .client import Client, FetchError, Politeness, Response
from .feeds import (
    FeedError,
    FeedItem,
    FeedSpec,
    article_id_for,
    canonical_url,
    parse_feed,
    without_tracking,
)
from .pages import consent_wall, decode_html, extract_page
from .state import FetchState, FetchStateError, ItemRecord, ItemState

__all__ = ["FeedResult", "FetchSummary", "fetch_feeds", "watch_feeds"]

BATCH = 100  # articles written to the index at once, at most
BATCH_SECONDS = 5.0  # a batch is written once its first article has waited this long
MAX_FAILURES = 3  # failed runs after which an item is tried less often
RETRY_GIVEN_UP = 6 * 3600.0  # seconds between two tries of such an item
# An entry recorded with this mark was indexed with its feed summary: fetched again.
SUMMARY_ONLY = "summary:"
# What a page may be; a feed that links a PDF or an image gets a clear line for it.
_PAGE_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "application/xml", "text/xml")


@dataclass(frozen=True)
class FeedResult:
    """What fetching one feed did."""

    url: str
    source: str | None = None
    new: int = 0  # articles added to the index
    changed: int = 0  # articles replaced: their page changed
    unchanged: int = 0  # items already in the index (same URL, or same text elsewhere)
    copies: int = 0  # of the unchanged: first seen, the same title and text as another URL's
    errors: int = 0  # items that could not be fetched or read (each said in one line)
    given_up: int = 0  # items that failed MAX_FAILURES runs, not tried again
    kept_out: int = 0  # items whose articles were removed from the index (`veille remove`)
    seconds: float = 0.0
    not_modified: bool = False  # the feed answered 304 to a conditional GET
    failure: str | None = None  # why the feed could not be read at all

    def line(self) -> str:
        """One line for a person: `<feed>: N new, M changed, K unchanged, E errors in S s`."""
        if self.failure is not None:
            return f"{self.url}: failed: {self.failure}"
        counts = f"{self.new} new, {self.changed} changed, {_unchanged(self)}, {self.errors} errors"
        if self.given_up:
            counts += f", {self.given_up} given up"
        if self.kept_out:
            counts += f", {self.kept_out} kept out (removed)"
        suffix = " (feed not modified)" if self.not_modified else ""
        return f"{self.url}: {counts} in {self.seconds:.1f} s{suffix}"


@dataclass(frozen=True)
class FetchSummary:
    """What a run did, feed by feed."""

    feeds: tuple[FeedResult, ...]
    seconds: float

    def _total(self, name: str) -> int:
        return sum(getattr(result, name) for result in self.feeds)

    @property
    def new(self) -> int:
        return self._total("new")

    @property
    def changed(self) -> int:
        return self._total("changed")

    @property
    def unchanged(self) -> int:
        return self._total("unchanged")

    @property
    def copies(self) -> int:
        return self._total("copies")

    @property
    def errors(self) -> int:
        return self._total("errors")

    @property
    def failed(self) -> tuple[FeedResult, ...]:
        """The feeds that could not be read at all."""
        return tuple(result for result in self.feeds if result.failure is not None)

    @property
    def ok(self) -> bool:
        """Every feed was read (some of its pages may have failed)."""
        return not self.failed

    def line(self) -> str:
        failed = f", {len(self.failed)} feeds failed" if self.failed else ""
        return (
            f"{len(self.feeds)} feeds: {self.new} new, {self.changed} changed, "
            f"{_unchanged(self)}, {self.errors} errors{failed} in {self.seconds:.1f} s"
        )


def _unchanged(counts: FeedResult | FetchSummary) -> str:
    n = counts.copies
    copies = f" ({n} {'copy' if n == 1 else 'copies'} of another URL's article)" if n else ""
    return f"{counts.unchanged} unchanged{copies}"


def _content_hash(article: Article) -> str:
    """The hash of what a reader sees from one source: the same text at two URLs of one
    source is one article; from two sources, two (their copies are collapsed in results)."""
    digest = hashlib.sha256(f"{article.source}\x00{article.title}".encode())
    for paragraph in article.paragraphs:
        digest.update(b"\x00" + paragraph.encode())
    return digest.hexdigest()[:32]


def _validators(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {"If-None-Match": etag, "If-Modified-Since": last_modified}
    return {name: value for name, value in headers.items() if value}


@dataclass
class _Batch:
    """Articles waiting to be written, and the items to record once they are."""

    articles: list[Article] = field(default_factory=list)
    records: list[ItemRecord] = field(default_factory=list)
    since: float | None = None

    def add(self, record: ItemRecord, article: Article | None = None) -> None:
        if article is not None:
            self.articles.append(article)
            if self.since is None:
                self.since = time.monotonic()
        self.records.append(record)

    def full(self) -> bool:
        waited = self.since is not None and time.monotonic() - self.since >= BATCH_SECONDS
        return len(self.articles) >= BATCH or waited


class _Run:
    """One pass over the feeds: the index, the fetch state, the HTTP client."""

    def __init__(
        self,
        index: Index,
        state: FetchState,
        client: Client,
        wait: float,
        report: Callable[[str], None],
    ) -> None:
        self.index, self.state, self.client = index, state, client
        self.wait, self.report = wait, report
        self.seen: set[str] = set()  # canonical URLs met in this run
        self.written: dict[str, str] = {}  # content hash -> id, for articles of this run
        self.written_ids: set[str] = set()  # their ids
        self.revisit = False  # the feed being read has an item to fetch again next run
        # Articles a person removed (`veille remove`): their items are not fetched again.
        self.removed = removed_articles(index.path)

    def holds(self, article_id: str) -> bool:
        """Whether the index holds the article (the state is a cache of it, no more)."""
        return article_id in self.written_ids or self.index.article(article_id) is not None

    def feed(self, spec: FeedSpec) -> FeedResult:
        started = time.monotonic()
        try:
            response = self.client.get(spec.url, self._feed_validators(spec), robots=False)
            if response.status == 304:
                seconds = time.monotonic() - started
                return FeedResult(spec.url, spec.source, not_modified=True, seconds=seconds)
            feed = parse_feed(response.body, response.url, response.header("Content-Type"))
        except (FetchError, FeedError) as error:
            reason = error.reason if isinstance(error, FetchError) else str(error)
            self.report(f"feed {spec.url}: {reason}")
            return FeedResult(spec.url, spec.source, failure=reason)
        if feed.problem:
            self.report(f"feed {spec.url}: {feed.problem}; read all the same")
        for why in feed.skipped:
            self.report(f"feed {spec.url}: {why}: skipped")
        source = spec.source or feed.title or urlsplit(spec.url).hostname
        tally: Counter[str] = Counter(error=len(feed.skipped))
        self.revisit = False
        batch = _Batch()
        for item in feed.items:
            tally[self.item(spec, source, item, batch)] += 1
            if batch.full():
                self.flush(batch)
        self.flush(batch)
        if not tally["failed"] and not tally["given up"] and not self.revisit:
            # Only now: a 304 next time must not hide items this run could not fetch, nor
            # those to fetch again (a summary for want of the page's text, a page given up).
            etag, modified = response.header("ETag"), response.header("Last-Modified")
            self.state.save_feed(spec.url, feed.title, etag, modified)
        return FeedResult(
            spec.url,
            source,
            new=tally["new"],
            changed=tally["changed"],
            unchanged=tally["unchanged"] + tally["copy"],
            copies=tally["copy"],
            errors=tally["error"] + tally["failed"],
            given_up=tally["given up"],
            kept_out=tally["kept out"],
            seconds=time.monotonic() - started,
        )

    def _feed_validators(self, spec: FeedSpec) -> dict[str, str]:
        """A conditional GET's headers, unless the index lost some of the feed's articles
        (a `veille build` from the corpus, a `veille remove`): then the whole feed, to
        bring back those still in it."""
        held = all(
            self.holds(article) or article in self.removed
            for article in self.state.feed_articles(spec.url)
        )
        return self.state.validators(spec.url) if held else {}

    def flush(self, batch: _Batch) -> None:
        if batch.articles:
            add_articles(self.index.path, batch.articles, wait=self.wait)
        if batch.records:
            self.state.record(batch.records)  # after the articles are in, never before
        batch.articles, batch.records, batch.since = [], [], None

    def item(self, spec: FeedSpec, source: str | None, item: FeedItem, batch: _Batch) -> str:
        """Fetch one item if it is new or changed; returns what became of it."""
        key = canonical_url(item.url)
        if key in self.seen:
            return "unchanged"  # twice in a feed, or in two feeds
        self.seen.add(key)
        known = self.state.item(key)
        held = known is not None and known.content is not None and self.holds(known.article_id)
        if held and known.entry == item.fingerprint:
            return "unchanged"
        if (known.article_id if known else article_id_for(item.url)) in self.removed:
            return "kept out"  # removed by a person: not brought back
        failed = known and known.failed_entry == item.fingerprint
        if failed and known.failures >= MAX_FAILURES and not _due(known.failed_at):
            return "given up"
        try:
            response = self.client.get(
                item.url, _validators(known.etag, known.last_modified) if held else {}
            )
            if response.status == 304:
                fields = (known.content, known.etag, known.last_modified)
                entry = (SUMMARY_ONLY if _summary_only(known) else "") + item.fingerprint
                self.revisit |= _summary_only(known)
                batch.add(ItemRecord(key, known.article_id, spec.url, entry, *fields))
                return "unchanged"
            article, from_page = self._article(spec, source, item, response)
        except FetchError as error:
            if not error.transient:  # the site's outage is not held against the page
                self.state.record_failure(
                    key, article_id_for(item.url), spec.url, item.fingerprint, error.reason
                )
            self.report(f"page {item.url}: {error.reason}")
            return "failed"
        entry = item.fingerprint if from_page else SUMMARY_ONLY + item.fingerprint
        return self._keep(spec, key, known if held else None, entry, article, response, batch)

    def _keep(
        self,
        spec: FeedSpec,
        key: str,
        known: ItemState | None,
        entry: str,
        article: Article,
        response: Response,
        batch: _Batch,
    ) -> str:
        """Queue a fetched article unless the index holds its text already."""
        content = _content_hash(article)
        etag, modified = response.header("ETag"), response.header("Last-Modified")
        record = ItemRecord(key, article.id, spec.url, entry, content, etag, modified)
        from_page = not entry.startswith(SUMMARY_ONLY)
        self.revisit |= not from_page
        if known is not None and not from_page and not _summary_only(known):
            # A wall where the article was: the article indexed with its text stays.
            fields = {"article_id": known.article_id, "content": known.content}
            batch.add(replace(record, entry=entry.removeprefix(SUMMARY_ONLY), **fields))
            return "unchanged"
        if known is not None and known.content == content:
            batch.add(replace(record, article_id=known.article_id))
            return "unchanged"
        same = self.written.get(content) or self.state.article_with_content(content)
        if same is not None and same != article.id and self.holds(same):
            batch.add(replace(record, article_id=same))  # the same text at another URL
            return "copy"
        batch.add(record, article)
        # Held from now on: the run writes the batch before it ends, or fails.
        self.written[content] = article.id
        self.written_ids.add(article.id)
        return "new" if known is None else "changed"

    def _article(
        self, spec: FeedSpec, source: str | None, item: FeedItem, response: Response
    ) -> tuple[Article, bool]:
        """The article of a fetched page, the feed's item filling what the page lacks, and
        whether the page had the article's text (else it is the feed's summary)."""
        kind = (response.header("Content-Type") or "text/html").split(";")[0].strip().lower()
        if kind not in _PAGE_TYPES:
            raise FetchError(response.url, f"not an HTML page ({kind})")
        try:
            page = extract_page(
                decode_html(response.body, response.header("Content-Type")), response.url
            )
        except Exception as error:  # a parser's failure on one hostile page, not the run's
            raise FetchError(response.url, f"could not read the page ({error})") from None
        if consent_wall(page.title, page.paragraphs, item.title):  # no article text there
            page = replace(page, paragraphs=())
        paragraphs = page.paragraphs or item.summary
        # A page with no article text (a consent wall, a menu) has no title of the article
        # either: the feed's, beside the feed's summary.
        title = (page.title or item.title) if page.paragraphs else (item.title or page.title)
        if not paragraphs or not title:
            missing = "article text" if not paragraphs else "title"
            raise FetchError(response.url, f"no {missing} on the page nor in the feed")
        section = page.section or item.category
        metadata = {
            "author": page.author or item.author,
            "section": section,
            "category": spec.category or section,
        }
        # The feed's publication date is what the site says; the page's may be a guess (a
        # sidebar's <time>, a date in the URL); the feed's last change is the article's
        # date only for want of both.
        date, time = (item.date, item.time) if item.date else (page.date or item.updated, None)
        try:
            article = Article(
                id=article_id_for(item.url),
                title=title,
                date=date,
                source=source,
                url=without_tracking(response.url),
                paragraphs=paragraphs,
                metadata={name: value for name, value in metadata.items() if value},
                time=time,
            )
        except ValueError as error:  # a title of spaces alone, say
            raise FetchError(response.url, str(error)) from None
        return article, bool(page.paragraphs)


def _summary_only(known: ItemState) -> bool:
    """Whether the item was indexed with its feed summary, not its page's text."""
    return (known.entry or "").startswith(SUMMARY_ONLY)


def _due(failed_at: str | None) -> bool:
    """Whether an item that failed MAX_FAILURES runs is due another try."""
    if failed_at is None:
        return True
    last = datetime.datetime.fromisoformat(failed_at)
    waited = datetime.datetime.now(datetime.UTC) - last
    return waited.total_seconds() >= RETRY_GIVEN_UP


def fetch_feeds(
    index_path: str | os.PathLike[str],
    feeds: Iterable[str | FeedSpec],
    *,
    delay: float = 1.0,
    timeout: float = 10.0,
    max_bytes: int = 5 * 1024 * 1024,
    wait: float = 60.0,
    contact: str | None = None,
    report: Callable[[str], None] | None = None,
    on_feed: Callable[[FeedResult], None] | None = None,
) -> FetchSummary:
    """Fetch these feeds once and add their new and changed articles to the index.

    ``delay``: seconds between two requests to one host (a robots.txt Crawl-delay may ask
    more); ``timeout``: seconds to connect and for each read; ``max_bytes``: the largest
    answer read; ``wait``: seconds to wait for another writer of the index. Each broken feed
    or page is one line to ``report``; ``on_feed`` gets each feed's result as it is done.
    Raises IndexNotFoundError if there is no index, FetchStateError if the fetch state
    cannot be read.
    """
    started = time.monotonic()
    specs = [FeedSpec(feed) if isinstance(feed, str) else feed for feed in feeds]
    politeness = Politeness(delay=delay, timeout=timeout, max_bytes=max_bytes, contact=contact)
    results = []
    index = Index.open(index_path)  # first: no index is said before the state is touched
    try:
        with FetchState.open(index_path) as state:
            run = _Run(index, state, Client(politeness), wait, report or (lambda line: None))
            for spec in specs:
                result = run.feed(spec)
                results.append(result)
                if on_feed is not None:
                    on_feed(result)
    finally:
        index.close()
    return FetchSummary(tuple(results), time.monotonic() - started)


def watch_feeds(
    index_path: str | os.PathLike[str],
    feeds: Iterable[str | FeedSpec],
    every: float,
    *,
    on_round: Callable[[FetchSummary, datetime.datetime], None] | None = None,
    **options,
) -> NoReturn:
    """Fetch the feeds every ``every`` seconds, until interrupted (KeyboardInterrupt).

    ``options`` are fetch_feeds's. A round that fails (the index locked by a long build,
    say) is one line to ``report`` and the next round tries again; no index, an index of
    another version or an unreadable fetch state stop the loop: they need a person.
    ``on_round`` gets each round's summary and when the next round starts.
    """
    specs = list(feeds)
    report = options.get("report") or (lambda line: None)
    while True:
        started = time.monotonic()
        summary = None
        try:
            summary = fetch_feeds(index_path, specs, **options)
        except (FetchStateError, IndexNotFoundError, IndexVersionError):
            raise
        except VeilleError as error:
            report(f"this round failed: {error}; the next one will try again")
        pause = max(0.0, started + every - time.monotonic())
        if summary is not None and on_round is not None:
            next_round = datetime.datetime.now() + datetime.timedelta(seconds=pause)
            on_round(summary, next_round.replace(microsecond=0))
        time.sleep(pause)
