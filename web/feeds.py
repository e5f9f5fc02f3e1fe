"""The blueprint for programs that follow or export a search: its Atom feed, CSV and JSON Lines.

`/search.atom?q=…` is the feed of a search: its newest articles (50 at most), with ids made
from the article ids, so that a feed reader shows each article once. `/search.csv` and
`/search.jsonl` export its results, up to 1,000 rows. Every parameter of a search is taken
and checked as for the page; each answer carries an ETag (see caching.py).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import time
import unicodedata
import xml.etree.ElementTree as ET
import zoneinfo
from collections.abc import Callable, Mapping
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, current_app, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.sansio.utils import get_host

from search import (
    Hit,
    Index,
    Results,
    SearchRequest,
    VeilleError,
    __version__,
    first_indexed,
    jsonl_lines,
    write_csv,
)

from .caching import cacheable, not_modified, search_etag
from .views import article_page, get_index, search_args, search_request, web_url

bp = Blueprint("feeds", __name__)

# The zone of an article's time of day: French news, dated as Paris dates it.
_PARIS = zoneinfo.ZoneInfo("Europe/Paris")

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 50
EXPORT_ROWS = 1000
EXPORT_PAGE = SearchRequest.MAX_LIMIT  # the export walks the search's pages, this many a page
# The parameters that say what a search is about (not how it is shown). collapse=false
# lists other entries (every copy), so it is part of a feed's id; the default is left out
# of the URL, so the feeds followed before it was added keep their ids.
FOLLOWED = ("q", "since", "until", "source", "category", "collapse")
# XML 1.0 forbids these characters (a control character in a fetched title, say).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# --- URLs --------------------------------------------------------------------------------


@bp.app_template_global()
def follow_params(params: SearchRequest) -> dict:
    """The URL parameters of what a search is about: its query, dates, filters and whether
    copies are collapsed."""
    return {k: v for k, v in params.url_params(page=1).items() if k in FOLLOWED}


@bp.app_template_global()
def search_label(params: SearchRequest) -> str:
    """What a search is about, in words: its query, then its filters (the title of its
    page and of its feed, which tell two searches of one query apart)."""
    parts = [params.query.strip()] if params.query.strip() else []
    if params.sources:
        parts.append("source : " + ", ".join(params.sources))
    if params.categories:
        parts.append("rubrique : " + ", ".join(params.categories))
    for words, day in (("depuis le", params.since), ("jusqu'au", params.until)):
        if isinstance(day, dt.date):
            parts.append(f"{words} {day.day:02d}/{day.month:02d}/{day.year:04d}")
    return " · ".join(parts)


@bp.app_template_global()
def export_params(params: SearchRequest) -> dict:
    """The URL parameters of an export: what the search is about, its sort, grouping and
    whether copies are collapsed (the rows the page shows)."""
    wanted = (*FOLLOWED, "sort", "group", "strict")
    return {k: v for k, v in params.url_params(page=1).items() if k in wanted}


def public_root() -> str:
    """The site's address, for the absolute links of a feed.

    The app's setting VEILLE_PUBLIC_URL when set: then the request's Host header, which
    anyone can set, never decides where a feed's links point. Else the request's own root;
    or the server's address when werkzeug builds no URL on the Host header (a Docker
    service name such as veille_web holds an underscore, which it refuses).
    """
    if public := current_app.config.get("VEILLE_PUBLIC_URL"):
        return public
    if request.host:
        return request.url_root
    server = get_host(request.scheme, None, request.server)
    return f"{request.scheme}://{server}{request.script_root}/"


def absolute(url: str) -> str:
    """An absolute URL on the public root from a url_for() path."""
    return public_root().rstrip("/") + url.removeprefix(request.script_root)


# --- Atom -----------------------------------------------------------------------------------


def _xml(text: str) -> str:
    return _NOT_XML.sub("", text)


def _add(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = _xml(text)
    return element


def atom_time(value: dt.datetime) -> str:
    """An RFC 3339 time in UTC, as Atom wants it: 2024-05-05T00:00:00Z.

    Its year has four digits, 0999 too (strftime's %Y writes 999 on Linux).
    """
    utc = value.astimezone(dt.UTC)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"


def entry_updated(
    hit: Hit, indexed: Mapping[str, dt.datetime], built_at: dt.datetime
) -> dt.datetime:
    """An entry's time: its article's date and time of day (Paris's), at midnight UTC when
    it has no time; undated, when the article was first indexed (which no rebuild changes),
    else the index's build time."""
    if hit.date is None:
        first = indexed.get(hit.article_id)
        return first if first is not None and first.year > 1 else built_at  # 1: time unknown
    if hit.time is not None and hit.date.year > 1:  # Paris's year 1 would start in year 0
        return dt.datetime.combine(hit.date, hit.time, tzinfo=_PARIS)
    return dt.datetime.combine(hit.date, dt.time(), tzinfo=dt.UTC)


def entry_id(article_id: str) -> str:
    """An entry's id: the article's, so the same in every feed and after any rebuild."""
    return "urn:veille:article:" + quote(article_id, safe="")


def story_id(hit: Hit) -> str:
    """The id of a story's entry: its first version's (the earliest dated, to the minute,
    then the first id), so that a later copy, shown in its place, does not make it a new entry."""
    versions = [
        (v.date or dt.date.max, v.time or dt.time.max, v.article_id) for v in (hit, *hit.duplicates)
    ]
    return entry_id(min(versions)[2])


def feed_id(params: SearchRequest) -> str:
    """A feed's id: what its search is about, whatever the host or the order of parameters."""
    about = urlencode(follow_params(params), doseq=True, quote_via=quote)
    return "urn:veille:search:" + (about or "q=")


def feed_snippet(snippet: str) -> str:
    """A snippet for a feed reader: the matches in <b>, which readers' sanitizers keep (many,
    feedparser's among them, drop HTML5's <mark>). The snippet's text is escaped, so its
    only tags are the marks; the XML escapes the whole once more (type="html")."""
    return snippet.replace("<mark>", "<b>").replace("</mark>", "</b>")


def _entry(feed: ET.Element, hit: Hit, link: str, updated: dt.datetime) -> None:
    entry = _add(feed, "entry")
    _add(entry, "id", story_id(hit))
    _add(entry, "title", hit.title, type="text")
    _add(entry, "link", rel="alternate", type="text/html", href=link)
    if original := web_url(hit.url):
        _add(entry, "link", rel="via", type="text/html", href=original)
    _add(entry, "updated", atom_time(updated))
    if hit.date is not None:
        _add(entry, "published", atom_time(updated))
    if hit.source:
        _add(_add(entry, "author"), "name", hit.source)
    _add(entry, "summary", feed_snippet(hit.snippet), type="html")


def atom_feed(
    results: Results,
    *,
    params: SearchRequest,
    self_url: str,
    page_url: str,
    entry_links: list[str],
    built_at: dt.datetime,
    indexed: Mapping[str, dt.datetime] | None = None,
) -> bytes:
    """The Atom 1.0 document of a page of results (newest first), as UTF-8 bytes."""
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "xml:lang": "fr"})
    label = search_label(params)
    _add(feed, "id", feed_id(params))
    _add(feed, "title", f"Veille : {label}" if label else "Veille", type="text")
    _add(feed, "subtitle", "Les articles les plus récents de cette recherche", type="text")
    times = [entry_updated(hit, indexed or {}, built_at) for hit in results.hits]
    _add(feed, "updated", atom_time(max(times, default=built_at)))
    _add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    _add(feed, "link", rel="alternate", type="text/html", href=page_url)
    _add(_add(feed, "author"), "name", "Veille")  # for the entries without a source
    _add(feed, "generator", "Veille", version=__version__)
    for hit, link, updated in zip(results.hits, entry_links, times, strict=True):
        _entry(feed, hit, link, updated)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _first_indexed(index: Index, article_ids: list[str]) -> dict[str, dt.datetime]:
    """When these articles were first indexed, as far as the ledger can say (the app only
    reads it: an unreadable ledger dates them at the build)."""
    if not article_ids:
        return {}
    try:
        return first_indexed(index.path, article_ids)
    except VeilleError:  # a damaged ledger: said to the writers, who repair it
        return {}


def feed_request() -> SearchRequest:
    """The feed's search: the URL's parameters (all checked), newest articles first, the
    query read strictly (a subscription delivers only what has its words as typed)."""
    params = search_request(request.args)
    asked = request.args.get("limit") or request.args.get("per_page")
    limit = min(params.limit, FEED_ENTRIES) if asked else FEED_ENTRIES
    return params.with_changes(sort="date", group="article", page=1, limit=limit, strict=True)


@bp.get("/search.atom")
def search_atom() -> ResponseReturnValue:
    """The Atom feed of a search: its 50 newest articles."""
    params = feed_request()
    index = get_index()
    info = index.info()
    etag = search_etag(info, "atom", params, public_root())
    if unchanged := not_modified(etag):
        return unchanged
    results = index.search(params)
    own = follow_params(params) | ({"limit": params.limit} if params.limit < FEED_ENTRIES else {})
    body = atom_feed(
        results,
        params=params,
        self_url=absolute(url_for("feeds.search_atom", **own)),
        # The page of the feed's own reading: strict, as a feed reads its query.
        page_url=absolute(
            url_for("web.search", **follow_params(params), sort="date", strict="true")
        ),
        entry_links=[_article_link(hit, params) for hit in results.hits],
        built_at=info.built_at,
        indexed=_first_indexed(index, [h.article_id for h in results.hits if h.date is None]),
    )
    response = Response(body, content_type="application/atom+xml; charset=utf-8")
    return cacheable(response, etag, complete=not results.timed_out)


def _article_link(hit: Hit, params: SearchRequest) -> str:
    """The article page of an entry, leading back to the feed's page of results (its
    filters, by date, strict)."""
    anchor = f"p{hit.position}"
    page = article_page(hit.position)
    back = search_args(params.with_changes(limit=SearchRequest.DEFAULT_LIMIT))
    path = url_for(
        "web.article",
        article_id=hit.article_id,
        q=params.query,
        page=page,
        retour=back,
        _anchor=anchor,
    )
    return absolute(path)


# --- Exports --------------------------------------------------------------------------------


_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE"})


def slug(query: str) -> str:
    """A file name's part from a query: "Coopération sécuritaire" -> "cooperation-securitaire"."""
    spelled = query.translate(_LIGATURES)
    ascii_text = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode("ascii")
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words[:60].rstrip("-") or "recherche"


def export_pages(
    index: Index, params: SearchRequest, clock: Callable[[], float] = time.monotonic
) -> tuple[list[Results], bool]:
    """The search's pages from the first, up to EXPORT_ROWS hits, all within one time budget.

    Returns the pages and whether the time ran out before the last row: each page is given
    what is left of ``params.budget``, so an export takes no longer than one search may.
    """
    deadline = clock() + params.budget
    pages = []
    while True:
        results = index.search(params)
        pages.append(results)
        seen = params.page * params.limit
        if results.timed_out:
            return pages, True
        if len(results.hits) < params.limit or seen >= min(results.total, EXPORT_ROWS):
            return pages, False
        left = deadline - clock()
        if left <= 0:
            return pages, True
        params = params.with_changes(page=params.page + 1, budget=left)


def _csv_text(pages: list[Results]) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # the BOM: spreadsheet tools then read the file as UTF-8
    write_csv(out, pages)
    return out.getvalue()


def _jsonl_text(pages: list[Results]) -> str:
    return "".join(line + "\n" for line in jsonl_lines(pages))


def _export(extension: str, mimetype: str, render: Callable[[list[Results]], str]) -> Response:
    params = search_request(request.args).with_changes(page=1, limit=EXPORT_PAGE)
    index = get_index()
    etag = search_etag(index.info(), extension, params, str(EXPORT_ROWS))
    if unchanged := not_modified(etag):
        return unchanged
    pages, timed_out = export_pages(index, params)
    response = Response(render(pages), content_type=f"{mimetype}; charset=utf-8")
    name = f"veille-{slug(params.query)}.{extension}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    if timed_out:
        response.headers["X-Veille-Timed-Out"] = "true"  # the rows found in the time allowed
    return cacheable(response, etag, complete=not timed_out)


@bp.get("/search.csv")
def search_csv() -> ResponseReturnValue:
    """The search's results as CSV (UTF-8 with a BOM), up to 1,000 rows."""
    return _export("csv", "text/csv", _csv_text)


@bp.get("/search.jsonl")
def search_jsonl() -> ResponseReturnValue:
    """The search's results as JSON Lines (a hit per line), up to 1,000 lines."""
    return _export("jsonl", "application/x-ndjson", _jsonl_text)
