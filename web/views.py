"""The blueprint: the search page, the article page, the JSON API and the error pages.

Each view reads its parameters into the library's SearchRequest (which checks them),
makes one library call and renders.
"""

from __future__ import annotations

import calendar
import datetime as dt
import ipaddress
import re
import threading
import unicodedata
import zoneinfo
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException, InternalServerError

from search import (
    AlertError,
    Index,
    IndexDamagedError,
    IndexNotFoundError,
    IndexUnavailableError,
    IndexVersionError,
    ParameterError,
    Results,
    SearchRequest,
    list_alerts,
)

from .caching import cacheable, not_modified, search_etag
from .openapi import openapi_document

bp = Blueprint("web", __name__)
_PARIS = zoneinfo.ZoneInfo("Europe/Paris")

MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
NO_INDEX_MESSAGE = "L'index n'est pas encore construit…"


# --- The index, opened once per process ------------------------------------------------


class LazyIndex:
    """Opens the index on first use in this process, then reuses it.

    The library's Index follows rebuilds by itself, so one handle serves for the life of
    the process. While there is no index, each use tries again (and raises).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._index: Index | None = None
        self._lock = threading.Lock()

    def get(self) -> Index:
        """The open index; IndexNotFoundError or IndexVersionError if it is unusable."""
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = Index.open(self.path)
        return self._index

    def close(self) -> None:
        """Close the index if it was opened (the next use opens it again)."""
        with self._lock:
            if self._index is not None:
                self._index.close()
                self._index = None


def get_index() -> Index:
    """This process's handle on the app's index."""
    return current_app.extensions["veille_index"].get()


# --- Parameters ------------------------------------------------------------------------


def search_request(args: MultiDict, **fixed: Any) -> SearchRequest:
    """The request's search parameters, checked by the library; ParameterError if bad."""
    params: dict[str, Any] = {name: args.get(name) for name in args}
    for name in ("source", "category"):  # repeatable
        params[name] = args.getlist(name)
    params.pop("budget", None)  # the time budget is the app's, not the visitor's
    params.pop("query", None)  # the URL's name for the query is `q`
    return SearchRequest.from_params(
        params, budget=current_app.config["VEILLE_SEARCH_BUDGET"], **fixed
    )


def search_args(params: SearchRequest) -> str | None:
    """The search's parameters as an article's link carries them (``retour``), so that the
    article leads back to this very page of results; None when the query alone says it."""
    args = params.url_params()
    return None if set(args) <= {"q"} else urlencode(args, doseq=True)


# The longest search an article's link carries back (a search's URL is far shorter).
MAX_CARRIED = 2000


def _carried(value: str | None) -> str | None:
    """The search an article's link carries (``retour``), if it is of a sane length."""
    return value if value and len(value) <= MAX_CARRIED else None


def _back_to(carried: str | None, query: str) -> dict[str, Any]:
    """The parameters of the search an article was opened from, or its query alone."""
    alone = {"q": query} if query else {}
    if carried:
        try:
            args = MultiDict(parse_qsl(carried))
            return alone | search_request(args, group="article").url_params()
        except ParameterError:
            pass  # a link edited by hand: back to the query alone
    return alone


# The URL's names of a request's parameters, where they differ.
_URL_NAMES = {"query": "q", "sources": "source", "categories": "category"}


def _form_request(args: MultiDict) -> SearchRequest:
    """The good parameters of a request with a bad one, to fill the form of its error page
    (the bad ones left out, one at a time)."""
    args = args.copy()
    for _ in range(len(args) + 1):
        try:
            return search_request(args, group="article")
        except ParameterError as error:
            name = _URL_NAMES.get(error.name, error.name)
            args.poplist(name)
            if name == "limit":
                args.poplist("per_page")
    return _page_request(args.get("q", ""))


def _page_request(query: str = "") -> SearchRequest:
    """A request for the page's form alone (on an error page, say)."""
    return SearchRequest(query=query[: SearchRequest.MAX_QUERY_CHARS])


# Answers read by programs (feed readers, scripts): their errors are JSON, as the API's.
MACHINE_PATHS = ("/healthz", "/search.atom", "/search.csv", "/search.jsonl")


def _is_api() -> bool:
    path = request.path.rstrip("/")  # « /api » and « /healthz/ » are asked by programs too
    return path == "/api" or path.startswith("/api/") or path in MACHINE_PATHS


def _error_json(status: int, message: str, **extra: Any) -> ResponseReturnValue:
    return jsonify({"error": message, **extra}), status


_HOST = re.compile(
    r"(?P<name>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?)"
    r"(?::(?P<port>[0-9]{1,5}))?"
)


def _valid_host(host: str) -> bool:
    """Whether a URL can hold this Host header.

    A name of labels of 1 to 63 characters (punycode that decodes; underscores, as in
    service names behind a proxy), an IPv4 or a bracketed IPv6 address; a port from 1 to
    65535.
    """
    match = _HOST.fullmatch(host)
    if match is None or (match["port"] is not None and not 0 < int(match["port"]) < 65536):
        return False
    name = match["name"]
    try:
        if name.startswith("["):
            ipaddress.IPv6Address(name[1:-1])
        else:
            name.encode("idna").decode("ascii").encode("ascii").decode("idna")
    except (UnicodeError, ValueError):
        return False
    return True


@bp.before_app_request
def _reject_bad_host() -> ResponseReturnValue | None:
    # No browser sends such a Host; the routes, feeds and redirects that build a URL on it
    # would fail. Answered before anything (and without url_for, which may not work then).
    host = request.headers.get("Host")
    if host is None or _valid_host(host):
        return None
    if _is_api():
        return _error_json(400, "Host: not a host name", parameter="Host")
    message = "Requête invalide : l'en-tête Host ne désigne pas un nom d'hôte."
    return Response(message, 400, mimetype="text/plain")


# --- French formatting ------------------------------------------------------------------


@bp.app_template_filter("paris_day")
def paris_day(moment: dt.datetime) -> dt.date:
    """The day a moment is in Paris (an alert saved at 23:30 UTC in June: the next day)."""
    return moment.astimezone(_PARIS).date() if moment.tzinfo else moment.date()


@bp.app_template_filter("date_fr")
def date_fr(value: dt.date | None) -> str:
    """A date the French way: "5 mai 2024", "1er juin 2024"."""
    if value is None:
        return ""
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {MONTHS[value.month - 1]} {value.year}"


@bp.app_template_filter("heure_fr")
def heure_fr(value: dt.time | None) -> str:
    """A time of day the French way: "14 h 30", "8 h 05", "9 h"."""
    if value is None:
        return ""
    minutes = f"\u00a0{value.minute:02d}" if value.minute else ""
    return f"{value.hour}\u00a0h{minutes}"


@bp.app_template_filter("nombre")
def nombre(value: int) -> str:
    """A whole number the French way, thousands set apart by a narrow no-break space."""
    return f"{value:,}".replace(",", "\u202f")


def plural(count: int, word: str) -> str:
    """ "1 article", "3 articles"."""
    return f"{nombre(count)} {word}{'s' if count > 1 else ''}"


def month_label(month: str) -> str:
    """ "2024-05" -> "mai 2024"."""
    year, number = map(int, month.split("-"))
    return f"{MONTHS[number - 1]} {year}"


def totals_text(results: Results) -> str:
    """ "3 articles, 7 passages", "au moins …" when the search timed out, and the copies
    regrouped: "3 articles (et 2 copies regroupées), 7 passages"."""
    about = "au moins " if results.total_is_estimate else ""
    copies = ""
    if results.collapsed:
        copies = (
            f" (et {plural(results.collapsed, 'copie')} regroupée{'s' * (results.collapsed > 1)})"
        )
    passages = plural(results.total_passages, "passage")
    return f"{about}{plural(results.total, 'article')}{copies}, {passages}"


def took_text(ms: float) -> str:
    """The time a search took: "en 0,4 ms", "en 12 ms"."""
    shown = f"{ms:.1f}".replace(".", ",") if ms < 10 else f"{ms:.0f}"
    return f"en {shown} ms"


def web_url(url: str | None) -> str | None:
    """The url if it is a web address (http or https), else None: never link javascript:."""
    if not url or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in url):
        return None  # control characters: no link (and never in an attribute)
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url if scheme in ("http", "https") else None


# --- The timeline -----------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    """One period of the timeline (a month, or more on a long span), as the SVG draws it."""

    start: str  # its first month, YYYY-MM
    unit: str  # "mois", "année"…: what each bar of this timeline counts
    name: str
    label: str
    count: int
    slot_x: float
    slot_width: float
    x: float
    y: float
    width: float
    height: float
    href: str | None


TIMELINE_WIDTH = 600
TIMELINE_HEIGHT = 80
TIMELINE_MAX_BAR = 40
# A timeline has at most this many slots, 5 px each on its 600: a bar per month up to ten
# years, then per year, decade, century or millennium, the first that fits. One slot per
# month whatever the span would draw bars too thin to see or click, and make a page of one
# article dated 9999 next to others of 2020 build some 96,000 slots (and take 50x longer).
TIMELINE_MAX_SLOTS = 120
# (months a slot spans, its name); dates stop at 9999: millennia always fit.
TIMELINE_STEPS = (
    (1, "mois"),
    (12, "année"),
    (120, "décennie"),
    (1200, "siècle"),
    (12000, "millénaire"),
)


def _month_number(month: str) -> int:
    """ "2024-05" -> the months since January of year 0 (slots are counted in months)."""
    year, number = map(int, month.split("-"))
    return year * 12 + number - 1


def _period(start: int, step: int) -> tuple[dt.date, dt.date]:
    """The first and last days of the slot of ``step`` months from month number ``start``."""
    first = dt.date(max(start // 12, 1), start % 12 + 1, 1)  # year 0 is no date's
    end = start + step - 1
    year, number = end // 12, end % 12 + 1
    return first, dt.date(year, number, calendar.monthrange(year, number)[1])


def _period_name(start: int, step: int) -> str:
    """ "mai 2024", "2024", "2020–2029"."""
    if step == 1:
        return month_label(f"{start // 12:04d}-{start % 12 + 1:02d}")
    first, last = _period(start, step)
    return str(first.year) if step == 12 else f"{first.year}–{last.year}"


def timeline_bars(results: Results, params: SearchRequest) -> list[Bar]:
    """The bars of the timeline: every period from the first match to the last, with links
    to the search on that period (within the search's own dates)."""
    counted = [(_month_number(month), count) for month, count in results.timeline]
    if not counted:
        return []
    low = min(number for number, _ in counted)
    high = max(number for number, _ in counted)
    step, unit = next(
        (step, unit)
        for step, unit in TIMELINE_STEPS
        if high // step - low // step < TIMELINE_MAX_SLOTS
    )
    counts: dict[int, int] = {}
    for number, count in counted:
        counts[number - number % step] = counts.get(number - number % step, 0) + count
    starts = range(low - low % step, high - high % step + 1, step)
    slot = TIMELINE_WIDTH / len(starts)
    width = min(slot * 0.8, TIMELINE_MAX_BAR)
    highest = max(counts.values())
    bars = []
    for i, start in enumerate(starts):
        count = counts.get(start, 0)
        height = TIMELINE_HEIGHT * count / highest
        href = None
        if count:
            since, until = _period(start, step)
            # Within the search's dates: the link lists the articles the bar counts.
            since = max(since, params.since) if params.since else since
            until = min(until, params.until) if params.until else until
            href = url_for("web.search", **params.url_params(since=since, until=until, page=1))
        name = _period_name(start, step)
        bars.append(
            Bar(
                start=f"{start // 12:04d}-{start % 12 + 1:02d}",
                unit=unit,
                name=name,
                label=f"{name} : {plural(count, 'article')}",
                count=count,
                slot_x=round(i * slot, 2),
                slot_width=round(slot, 2),
                x=round(i * slot + (slot - width) / 2, 2),
                y=round(TIMELINE_HEIGHT - height, 2),
                width=round(width, 2),
                height=round(height, 2),
                href=href,
            )
        )
    return bars


# --- Pagination -------------------------------------------------------------------------


FACET_LABELS = {"source": "Sources", "category": "Rubriques"}
FACET_FIELDS = {"source": "sources", "category": "categories"}


@dataclass(frozen=True)
class FacetLink:
    """One value of a facet on the page: its count, whether chosen, and the link that
    toggles it."""

    value: str
    count: int
    chosen: bool
    href: str


def _folded(value: str) -> str:
    return unicodedata.normalize("NFD", value.casefold().strip()).encode("ascii", "ignore").decode()


def facet_links(results: Results, params: SearchRequest) -> list[tuple[str, list[FacetLink]]]:
    """Each facet's values with their counts and links (chosen values first)."""
    lists = []
    for name, values in results.facets.items():
        field = FACET_FIELDS[name]
        chosen = getattr(params, field)
        folded = {_folded(v) for v in chosen}
        listed = {_folded(v) for v, _ in values}
        # A chosen value that matches nothing is listed too, so that it can be removed.
        values = (*values, *((v, 0) for v in chosen if _folded(v) not in listed))
        links = []
        for value, count in values:
            on = _folded(value) in folded
            toggled = (
                tuple(v for v in chosen if _folded(v) != _folded(value)) if on else (*chosen, value)
            )
            href = url_for("web.search", **params.url_params(**{field: toggled, "page": 1}))
            links.append(FacetLink(value=value, count=count, chosen=on, href=href))
        links.sort(key=lambda link: not link.chosen)
        if links:
            lists.append((FACET_LABELS[name], links))
    return lists


def page_numbers(current: int, last: int) -> list[int | None]:
    """The page numbers to link, None where a gap is: [1, None, 4, 5, 6, None, 20]."""
    shown = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
    numbers: list[int | None] = []
    previous = 0
    for n in shown:
        if n - previous > 1:
            numbers.append(None)
        numbers.append(n)
        previous = n
    return numbers


# --- HTML pages -------------------------------------------------------------------------


@bp.get("/")
def search() -> ResponseReturnValue:
    """The search page: the form, and with `q` the results."""
    try:
        params = search_request(request.args, group="article")  # the page lists articles
    except ParameterError as error:
        return render_template(
            "search.html", params=_form_request(request.args), error=error.message_fr
        ), 400
    index = get_index()  # before anything else: no index means a 503 page, even here
    filtered = params.sources or params.categories or params.since or params.until
    if not params.query.strip() and not filtered:  # filters alone list their articles
        return render_template("search.html", params=params)
    results = index.search(params)
    last_page = results.pages
    return render_template(
        "search.html",
        params=params,
        results=results,
        total_text=totals_text(results),
        took=took_text(results.took_ms),
        bars=timeline_bars(results, params),
        facets=facet_links(results, params),
        explanations=[index.explain(params, hit).lines() for hit in results],
        first_rank=(results.page - 1) * results.limit + 1,
        pages=page_numbers(params.page, last_page) if last_page > 1 else [],
        last_page=last_page,
        back=search_args(params),
        timeline_width=TIMELINE_WIDTH,
        timeline_height=TIMELINE_HEIGHT,
    )


# A page of an article shows this many passages: a very long article is read in pages.
PASSAGES_PER_PAGE = 100


@bp.app_template_global()
def article_page(position: int) -> int | None:
    """The page of its article a passage is on (None for the first: no parameter)."""
    return 1 + position // PASSAGES_PER_PAGE if position >= PASSAGES_PER_PAGE else None


@bp.get("/articles/<path:article_id>")
def article(article_id: str) -> ResponseReturnValue:
    """An article with its passages, a page at a time; with `q`, its matches highlighted."""
    q = SearchRequest(query=request.args.get("q", "")).query.strip()
    number = _article_page(request.args)
    stored = get_index().article(article_id, q or None, number, PASSAGES_PER_PAGE)
    if stored is None:
        return render_template(
            "error.html",
            title="Article introuvable",
            message="Aucun article ne porte cet identifiant dans l'index.",
            params=_page_request(q),
        ), 404
    return render_template(
        "article.html",
        article=stored,
        passages=stored.passages,
        original_url=web_url(stored.url),
        matched=set(stored.matched_positions),
        params=_page_request(q),
        carried=_carried(request.args.get("retour")),
        back=_back_to(_carried(request.args.get("retour")), q),
        page=stored.page,
        pages=page_numbers(stored.page, stored.pages) if stored.pages > 1 else [],
        last_page=stored.pages,
    )


def _article_page(args: MultiDict) -> int:
    """The `page` parameter of an article, checked like a search's."""
    return SearchRequest.from_params({"page": args.get("page")}).page


@bp.get("/alertes")
def alerts() -> ResponseReturnValue:
    """The saved searches, read-only: name, query and feed (never their email or webhook)."""
    try:
        saved = list_alerts(current_app.config["VEILLE_INDEX"])
    except AlertError as error:
        current_app.logger.warning("alerts unavailable: %s", error)
        return render_template(
            "error.html",
            title="Recherches suivies indisponibles",
            message="La liste des recherches suivies ne peut pas être lue pour l'instant.",
            params=_page_request(),
        ), 503
    return render_template("alerts.html", alerts=saved, params=_page_request())


# --- JSON API ---------------------------------------------------------------------------


@bp.get("/api/search")
def api_search() -> ResponseReturnValue:
    """Search: the results as JSON (see /api/openapi.json), with an ETag (304 if unchanged)."""
    params = search_request(request.args)
    index = get_index()
    etag = search_etag(index.info(), "api", params)
    if unchanged := not_modified(etag):
        return unchanged
    results = index.search(params)
    return cacheable(jsonify(results.to_dict()), etag, complete=not results.timed_out)


@bp.get("/api/articles/<path:article_id>")
def api_article(article_id: str) -> ResponseReturnValue:
    """An article and its passages as JSON, 100 passages a page (`page`)."""
    stored = get_index().article(article_id, None, _article_page(request.args), PASSAGES_PER_PAGE)
    if stored is None:
        return _error_json(404, f"no article with id {article_id!r}")
    return jsonify(stored.to_dict())


@bp.get("/api/openapi.json")
def api_openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of the JSON API."""
    return jsonify(openapi_document())


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """Whether the app can answer, and what the index holds."""
    info = get_index().info()
    return jsonify(
        {
            "status": "ok",
            "articles": info.articles,
            "passages": info.passages,
            "built_at": info.built_at.isoformat(timespec="seconds"),
            "kept": list(info.kept),
        }
    )


# --- Errors -----------------------------------------------------------------------------

_HTTP_ERRORS_FR = {
    400: ("Requête invalide", "La requête n'a pas pu être comprise."),
    404: ("Page introuvable", "Cette adresse ne correspond à aucune page de Veille."),
    405: ("Méthode non autorisée", "Cette adresse ne s'utilise pas ainsi."),
}


@bp.app_errorhandler(ParameterError)
def _bad_parameter(error: ParameterError) -> ResponseReturnValue:
    if _is_api():
        name = {"query": "q", "sources": "source", "categories": "category"}.get(
            error.name, error.name
        )
        if name == "limit" and "limit" not in request.args and "per_page" in request.args:
            name = "per_page"  # the alias the client used (limit wins when both are given)
        return _error_json(400, f"{name}: {error.message}", parameter=name)
    return render_template(
        "error.html", title="Paramètre invalide", message=error.message_fr, params=_page_request()
    ), 400


@bp.app_errorhandler(IndexNotFoundError)
@bp.app_errorhandler(IndexVersionError)
@bp.app_errorhandler(IndexDamagedError)
@bp.app_errorhandler(IndexUnavailableError)
def _index_unavailable(error: Exception) -> ResponseReturnValue:
    current_app.logger.warning("index unavailable: %s", error)
    if isinstance(error, IndexUnavailableError):
        # A shard of a cluster with no replica up: no answer rather than a smaller total.
        message = (
            "Une partie de l'index ne répond pas : les recherches reprendront dès qu'elle "
            "sera de nouveau disponible."
        )
        # Which shard, not where its nodes are (the log has their addresses).
        shard = getattr(error, "shard", None)
        api_message = "index unavailable: " + (
            f"shard {shard} of the cluster has no replica answering"
            if shard is not None
            else "the index's servers do not answer"
        )
    elif isinstance(error, IndexDamagedError):
        message = (
            "L'index est endommagé : « veille info » dit ce qui l'est et comment le réparer, "
            "« veille build » le reconstruit. Les recherches reprendront ensuite."
        )
        api_message = (
            "index damaged: `veille info` says what is wrong and how to repair it, "
            "`veille build` rebuilds it"
        )
    elif isinstance(error, IndexVersionError):
        message = (
            "L'index a été construit par une autre version de Veille : "
            "il doit être reconstruit (veille build)."
        )
        api_message = "the index must be rebuilt with this version of Veille"
    else:
        message = NO_INDEX_MESSAGE + " Lancez « veille build », puis rechargez cette page."
        api_message = "the index is not built yet"
    if _is_api():
        body = {"error": api_message}
        if request.path == "/healthz":
            body = {"status": "unavailable", **body}
        return jsonify(body), 503, {"Retry-After": "30"}
    return (
        render_template(
            "error.html", title="Index indisponible", message=message, params=_page_request()
        ),
        503,
        {"Retry-After": "30"},
    )


@bp.app_errorhandler(HTTPException)
def _http_error(error: HTTPException) -> ResponseReturnValue:
    status = error.code or 500
    # The error's own headers (a 405's Allow, a 416's Content-Range), not its body's type.
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    if _is_api():
        body, status = _error_json(status, error.description or error.name)
        return body, status, headers
    title, message = _HTTP_ERRORS_FR.get(status, ("Erreur", "La requête n'a pas abouti."))
    return (
        render_template("error.html", title=title, message=message, params=_page_request()),
        status,
        headers,
    )


@bp.app_errorhandler(InternalServerError)
def _server_error(error: InternalServerError) -> ResponseReturnValue:
    # Flask has logged the exception with its traceback; the visitor sees none of it.
    if _is_api():
        return _error_json(500, "internal server error")
    return render_template(
        "error.html",
        title="Une erreur est survenue",
        message="Une erreur est survenue de notre côté. Réessayez dans un instant.",
        params=_page_request(),
    ), 500
