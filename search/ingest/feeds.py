"""Feeds: the list a user keeps, and an RSS 2.0 or Atom document read with feedparser.

Also the identity of an item: its canonical URL (tracking parameters and fragment dropped)
and the article id made from it, so that an article keeps its id when its page changes.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime
import email.utils
import hashlib
import html
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from search.dates import PARIS, local_moment, month_number, parse_french_moment
from search.errors import VeilleError

# What follows a French date's time (« :00 », « +0200 », « CEST »), left out of it.
_FRENCH_TIME_TAIL = re.compile(r"(\d{1,2}\s*[h:]\s*\d{0,2})\b.*$", re.I)

__all__ = [
    "Feed",
    "FeedError",
    "FeedItem",
    "FeedListError",
    "FeedSpec",
    "article_id_for",
    "canonical_url",
    "feed_specs",
    "parse_feed",
    "read_feed_list",
]


@dataclass(frozen=True)
class FeedSpec:
    """A feed to fetch: its URL, and the source name and category of its articles.

    The source defaults to the feed's own title; the category to the section each page
    states.
    """

    url: str
    source: str | None = None
    category: str | None = None


class FeedListError(VeilleError):
    """A feeds file, or a feed URL, that cannot be used: where and why."""


class FeedError(VeilleError):
    """A feed document that is not RSS or Atom (or too broken to read)."""


def _url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return f"not an http(s) URL: {url!r}"
    return None


_LETTER = re.compile(r"[^\W\d_]")


def read_feed_list(path: str | os.PathLike[str]) -> list[FeedSpec]:
    """Read a feeds file: one feed a line, `URL[, source[, category]]`.

    Fields are separated by a tab, or by commas on a line without a tab; blank lines and
    lines starting with # are skipped. A bad line raises FeedListError naming it.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise FeedListError(f"{path}: cannot read the feeds file ({reason})") from None
    specs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [field.strip() for field in line.split("\t" if "\t" in line else ",")]
        if len(fields) > 3:
            problem = "more than three fields (URL, source, category)"
            raise FeedListError(f"{path}, line {number}: {problem}")
        url, source, category = [*fields, None, None][:3]
        if problem := _url_problem(url or ""):
            raise FeedListError(f"{path}, line {number}: {problem}")
        if "\t" not in line and any(f and not _LETTER.search(f) for f in (source, category)):
            # « …/rss?ids=1,2 » read as a URL and a source « 2 »: no name has no letter
            problem = "a field without a letter is no name: a comma in the URL? separate the"
            raise FeedListError(f"{path}, line {number}: {problem} fields with tabs")
        specs.append(FeedSpec(url, source or None, category or None))
    return specs


def feed_specs(
    urls: Iterable[str] = (),
    feeds_file: str | os.PathLike[str] | None = None,
    *,
    source: str | None = None,
    category: str | None = None,
) -> list[FeedSpec]:
    """The feeds named on a command line and in a feeds file, each once.

    ``source`` and ``category`` apply to the feeds that do not name their own.
    """
    specs = [FeedSpec(url.strip()) for url in urls]
    for spec in specs:
        if problem := _url_problem(spec.url):
            raise FeedListError(problem)
    if feeds_file is not None:
        specs += read_feed_list(feeds_file)
    if not specs:
        raise FeedListError("no feed to fetch: give feed URLs, or a feeds file with --feeds")
    unique: dict[str, FeedSpec] = {}
    for spec in specs:
        first = unique.setdefault(
            spec.url, FeedSpec(spec.url, spec.source or source, spec.category or category)
        )
        if spec.source and first.source and spec.source != first.source:
            raise FeedListError(
                f"{spec.url} is listed twice, from {first.source!r} and {spec.source!r}: "
                "which is its source?"
            )
    return list(unique.values())


# --- Items' identity ------------------------------------------------------------------------

# Query parameters that say who sent the reader, not which article it is.
_TRACKING = re.compile(
    r"utm_\w+|xtor|xts|at_\w+|fbclid|gclid|dclid|mc_cid|mc_eid|_ga|ito|cmp|ns_\w+|wt_\w+",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """The URL an item is known by: lowercased scheme and host, no default port, fragment
    or tracking parameters."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not _TRACKING.fullmatch(key)
    ]
    return urlunsplit((scheme, netloc, parts.path or "/", urlencode(query), ""))


def without_tracking(url: str) -> str:
    """The URL without its tracking parameters (utm_source…), the rest byte for byte."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parts.query.split("&")
    kept = [p for p in pairs if not _TRACKING.fullmatch(unquote_plus(p.partition("=")[0]))]
    if len(kept) == len(pairs):
        return url
    return urlunsplit(parts._replace(query="&".join(kept)))


def article_id_for(url: str) -> str:
    """The id of the article at url: stable, short, and usable in /articles/<id> links."""
    return "web-" + hashlib.sha256(canonical_url(url).encode()).hexdigest()[:16]


# --- Feed documents -------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedItem:
    """One item of a feed, as the feed describes it."""

    url: str
    title: str | None
    summary: tuple[str, ...]  # paragraphs of the item's summary or content, tags removed
    date: datetime.date | None  # when it was published (RSS pubDate, Atom published)
    author: str | None
    category: str | None
    # Changes when the feed says the item changed (dates, title or summary): then its page
    # is fetched again.
    fingerprint: str
    updated: datetime.date | None = None  # Atom's updated, the last change (no pubDate)
    time: datetime.time | None = None  # the time of day it was published, if the feed says


@dataclass(frozen=True)
class Feed:
    title: str | None
    items: tuple[FeedItem, ...]
    skipped: tuple[str, ...]  # why some items were left out (no link)
    problem: str | None  # the XML error a readable feed had all the same


_BLOCK_END = re.compile(r"<\s*(?:br|/p|/div|/li|/h[1-6]|/blockquote)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")


def fragment_paragraphs(fragment: str | None) -> tuple[str, ...]:
    """The paragraphs of an HTML fragment (a feed item's summary), tags removed."""
    text = html.unescape(_TAG.sub(" ", _BLOCK_END.sub("\n", fragment or "")))
    return tuple(line for line in (" ".join(raw.split()) for raw in text.split("\n")) if line)


def _raw(entry, key: str):
    # Not entry.get: feedparser maps a missing `updated` to `published` with a warning.
    return dict.get(entry, key)


def _entry_moment(
    entry, key: str = "published"
) -> tuple[datetime.date | None, datetime.time | None]:
    """The day the entry was published (``key``: or last updated) and its time of day when
    the feed gives one, as its feed writes them: in the feed's own time zone (« 29 Jun 2020
    00:30 +0200 » is the 29th, though it is the 28th in UTC; a time in UTC is Paris's),
    and French dates (« lundi 29 juin 2020 08:00 ») too."""
    raw = _raw(entry, key)
    day, time = _written_moment(raw.strip()) if isinstance(raw, str) else (None, None)
    parsed = _raw(entry, f"{key}_parsed")
    if day is None and parsed:
        # feedparser's reading of a date written otherwise (« 2024-05 »): its day alone,
        # as the time it gives may be one it made up.
        when = datetime.datetime.fromtimestamp(calendar.timegm(parsed), datetime.UTC)
        day, time = local_moment(when)[0], None
    # A date more than a day ahead is a feed's mistake: it would head every list by date.
    tomorrow = datetime.datetime.now(PARIS).date() + datetime.timedelta(days=1)
    return (day, time) if day is not None and day <= tomorrow else (None, None)


def _written_moment(text: str) -> tuple[datetime.date | None, datetime.time | None]:
    """The date a feed wrote and its time of day if it wrote one, in its own zone (in
    Paris's when it wrote UTC): RFC 822 (« Wed, 29 May 2024 10:00 », « mer., 29 mai 2024 »),
    RFC 3339, or French."""
    written, timed = None, False
    text = _24_hour(text)
    for rfc822, with_time in ((_rfc822(text), True), (_rfc822(text) + " 00:00", False)):
        with contextlib.suppress(TypeError, ValueError, IndexError):
            if written is None:  # else a day without its time
                written, timed = email.utils.parsedate_to_datetime(rfc822), with_time
                if written.tzinfo is None and _UNKNOWN_ZONE.search(rfc822):
                    written = written.replace(tzinfo=datetime.UTC)
    if written is None:
        with contextlib.suppress(ValueError):
            written = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
            timed = "T" in text or ":" in text
    if written is None:
        # « lundi 29 juin 2020 », « Sat, 01 juin 2024 »: a weekday, a time after it.
        with contextlib.suppress(ValueError):
            return parse_french_moment(_FRENCH_TIME_TAIL.sub(r"\1", _WEEKDAY.sub("", text), 1))
        return None, None
    day, time = local_moment(written)
    return day, time if timed else None


# « -0000 »: a time in UTC whose writer's own zone is unknown (RFC 5322), which the email
# parser gives without a zone; Python's email.utils.formatdate() writes it.
_UNKNOWN_ZONE = re.compile(r"\s-0000(?:\s*\([^)]*\))?\s*$")


# A time with AM or PM, which the email parser reads neither (« 11:30 PM GMT »: 11:30, and
# no zone): written as 24-hour time before it is parsed.
_AM_PM = re.compile(r"\b(\d{1,2}):(\d{2})(:\d{2})?\s*([AP])\.?M\.?(?=\s|$)", re.IGNORECASE)


def _24_hour(text: str) -> str:
    def hours(m: re.Match) -> str:
        hour = int(m[1]) % 12 + (12 if m[4].upper() == "P" else 0)
        return f"{hour:02d}:{m[2]}{m[3] or ''}"

    return _AM_PM.sub(hours, text)


# A weekday before an RFC 822 date, in English or French, abbreviated or not (« Wed, »,
# « mer., », « Mercredi »), and a French month, which the email parser does not read.
_WEEKDAY = re.compile(r"^\s*[^\W\d_]+\.?\s*,?\s+(?=\d)")
_DAY_MONTH = re.compile(r"^(\d{1,2})\s+([^\W\d_]+)\.?\s+(\d{4})\b\s*-?\s*")
_ENGLISH_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def _rfc822(text: str) -> str:
    """An RFC 822 date as the email parser reads it: no weekday, the month in English."""
    bare = _WEEKDAY.sub("", text)
    match = _DAY_MONTH.match(bare)
    if match is None or (month := month_number(match[2])) is None:
        return text
    return f"{match[1]} {_ENGLISH_MONTHS[month - 1]} {match[3]} {bare[match.end() :]}".strip()


def _entry_text(entry) -> str | None:
    contents = entry.get("content") or []
    longest = max((c.get("value") or "" for c in contents), key=len, default="")
    return longest or entry.get("summary")


def _entry_link(entry) -> str | None:
    for candidate in (entry.get("link"), entry.get("id")):
        if candidate and urlsplit(candidate).scheme in ("http", "https"):
            return candidate.strip()
    return None


def _fingerprint(entry, link: str, summary: tuple[str, ...]) -> str:
    parts = (link, _raw(entry, "updated"), _raw(entry, "published"), entry.get("title"), *summary)
    return hashlib.sha256("\x00".join(str(p or "") for p in parts).encode()).hexdigest()[:32]


# A tag, not any text between « < » and « > » (« Taux < 3 % et > 1 % » is text).
_MARKUP = re.compile(r"</?[A-Za-z][^<>]*>")


def _plain_title(title: str | None) -> str | None:
    """A feed's or an entry's title as text: its markup (« <i>Le Monde</i> »), escaped or
    not, left out."""
    return " ".join(_MARKUP.sub(" ", html.unescape(title or "")).split()) or None


def _item(entry, link: str) -> FeedItem:
    published = _entry_moment(entry)
    summary = fragment_paragraphs(_entry_text(entry))
    author = (entry.get("author_detail") or {}).get("name") or entry.get("author")
    tags = [t.get("label") or t.get("term") for t in entry.get("tags") or ()]
    return FeedItem(
        url=link,
        title=_plain_title(entry.get("title")),
        summary=summary,
        date=published[0],
        time=published[1],
        updated=_entry_moment(entry, "updated")[0],
        author=" ".join((author or "").split()) or None,
        category=next((t.strip() for t in tags if t and t.strip()), None),
        fingerprint=_fingerprint(entry, link, summary),
    )


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> Feed:
    """Read an RSS 2.0 or Atom document fetched from url; FeedError if it is neither.

    Relative links are resolved against url. A feed with XML errors that feedparser reads
    all the same is kept, with its problem said.
    """
    import feedparser  # here: only fetching needs it
    from feedparser.exceptions import ThingsNobodyCaresAboutButMe as Harmless

    headers = {"content-location": url}
    if content_type and "charset" in content_type.lower():
        headers["content-type"] = content_type  # else the XML declaration says it
    # A stream, never bytes or str: feedparser would take a string for a URL or a file name.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if isinstance(problem, Harmless):
        problem = None  # a charset declared one way and read another: the feed reads fine
    reason = _xml_problem(problem)
    links = [(entry, _entry_link(entry)) for entry in parsed.entries]
    if not parsed.get("version") or (problem is not None and not any(link for _, link in links)):
        raise FeedError("not an RSS or Atom feed" + (f" ({reason})" if reason else ""))
    items, skipped = [], []
    for entry, link in links:
        if link is None:
            title = " ".join((entry.get("title") or "").split())
            skipped.append(f"an item without a link ({title!r})" if title else "an empty item")
        else:
            items.append(_item(entry, link))
    title = _plain_title(parsed.feed.get("title"))
    return Feed(title, tuple(items), tuple(skipped), reason)


def _xml_problem(problem: BaseException | None) -> str | None:
    if problem is None:
        return None
    line = getattr(problem, "getLineNumber", lambda: None)()
    message = getattr(problem, "getMessage", lambda: str(problem))()
    return f"{message}, line {line}" if line else str(message)
