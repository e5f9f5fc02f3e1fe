"""SearchRequest: every parameter of a search, checked once for every way in.

Python (``Index.search``), the CLI (``veille query``) and the web app (the search page and
``/api/search``) all build a SearchRequest; a bad parameter raises ParameterError naming it,
in English and in French, whichever way it came in.
"""

from __future__ import annotations

import datetime as dt
import numbers
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar

from .dates import date_bounds, local_moment
from .errors import ParameterError

MAX_QUERY_CHARS = 1000
MAX_LIMIT = 100
MAX_PAGE = 1000
DEFAULT_LIMIT = 10
SORTS = ("relevance", "date")
GROUPS = ("article", "passage")
# The time a search may take before it answers with what it found so far, marked partial.
DEFAULT_BUDGET_SECONDS = 2.0
MAX_BUDGET_SECONDS = 60.0

_LABELS_FR = {
    "query": "La recherche",
    "limit": "Le nombre de résultats par page",
    "per_page": "Le nombre de passages par page",
    "page": "Le numéro de page",
    "group": "Le regroupement (group)",
    "sort": "Le tri (sort)",
    "since": "La date de début",
    "until": "La date de fin",
    "budget": "Le temps accordé à la recherche",
    "sources": "La source",
    "categories": "La rubrique",
    "collapse": "Le regroupement des copies (collapse)",
    "strict": "La lecture stricte (strict)",
}
MAX_FILTER_VALUES = 20
MAX_FILTER_CHARS = 200


def _whole_number(name: str, value: Any, high: int) -> int:
    message = f"must be a whole number between 1 and {high}"
    message_fr = f"{_LABELS_FR[name]} doit être un nombre entier entre 1 et {high}."
    if isinstance(value, str):
        raw = value.strip()
        if not raw.isascii() or not raw.isdigit():
            raise ParameterError(name, f"{message}, not {raw[:50]!r}", message_fr)
        value = int(raw)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(name, f"{message}, not {value!r}"[:200], message_fr)
    value = int(value)  # numpy's integers too
    if not 1 <= value <= high:
        raise ParameterError(name, f"{message}, not {value}", message_fr)
    return value


def article_paging(page: Any, per_page: Any) -> tuple[int, int | None]:
    """An article view's page and passages a page (None: all), checked as a search's page
    and limit are (ParameterError)."""
    page = _whole_number("page", page, MAX_PAGE)
    return page, None if per_page is None else _whole_number("per_page", per_page, MAX_LIMIT)


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if value in choices:
        return value
    allowed = " or ".join(repr(c) for c in choices)
    raise ParameterError(
        name,
        f"must be {allowed}, not {str(value)[:50]!r}",
        f"{_LABELS_FR[name]} doit valoir {' ou '.join(choices)}.",
    )


def _date(name: str, value: Any) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):  # its day as an article's date is read
        try:
            return local_moment(value)[0]
        except ValueError as error:
            message_fr = f"{_LABELS_FR[name]} est hors des dates possibles."
            raise ParameterError(name, str(error), message_fr) from None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = str(value)  # a year: since=2024
    bounds = date_bounds(value) if isinstance(value, str) else None
    if bounds is None:
        raise ParameterError(
            name,
            f"not a date (expected YYYY, YYYY-MM, YYYY-MM-DD or a French date such as "
            f"'mai 2024' or '5 mai 2024'): {str(value)[:50]!r}",
            f"{_LABELS_FR[name]} n'est pas une date valide (attendu : AAAA, AAAA-MM, "
            "AAAA-MM-JJ ou une date en français comme « mai 2024 » ou « 5 mai 2024 »).",
        )
    return bounds[0] if name == "since" else bounds[1]


def _budget(value: Any) -> float:
    try:
        seconds = float("nan") if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not 0 < seconds <= MAX_BUDGET_SECONDS:  # also refuses nan
        raise ParameterError(
            "budget",
            f"must be a number of seconds above 0, at most {MAX_BUDGET_SECONDS:g}, "
            f"not {str(value)[:50]!r}",
            f"{_LABELS_FR['budget']} doit être un nombre de secondes, plus de 0 et au plus "
            f"{MAX_BUDGET_SECONDS:g}.",
        )
    return seconds


def _values(name: str, value: Any) -> tuple[str, ...]:
    """A filter's values: one text or several, each at most MAX_FILTER_CHARS."""
    several = isinstance(value, list | tuple)
    if not (value is None or isinstance(value, str) or several) or (
        several and not all(isinstance(v, str) for v in value)
    ):
        raise ParameterError(name, "must be text", f"{_LABELS_FR[name]} doit être du texte.")
    values = (value,) if isinstance(value, str) else tuple(value or ())
    values = tuple(dict.fromkeys(v.strip() for v in values if v.strip()))
    if len(values) > MAX_FILTER_VALUES or any(len(v) > MAX_FILTER_CHARS for v in values):
        raise ParameterError(
            name,
            f"at most {MAX_FILTER_VALUES} values of at most {MAX_FILTER_CHARS} characters",
            f"{_LABELS_FR[name]} : {MAX_FILTER_VALUES} valeurs au plus, de "
            f"{MAX_FILTER_CHARS} caractères au plus.",
        )
    return values


_TRUE = ("1", "true", "yes", "oui", "on")
_FALSE = ("0", "false", "no", "non", "off")


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().casefold()
    if text in _TRUE + _FALSE:
        return text in _TRUE
    raise ParameterError(
        name,
        f"must be true or false, not {str(value)[:50]!r}",
        f"{_LABELS_FR[name]} vaut true ou false.",
    )


def _query(value: Any) -> str:
    # Any text is a query (the query language never refuses one: beyond MAX_QUERY_CHARS it
    # reads the beginning, and says so); only what is not text is refused.
    if not isinstance(value, str):
        raise ParameterError("query", "must be text", "La recherche doit être du texte.")
    if value.isprintable():
        return value
    # A control character (a NUL from a form) or a lone surrogate is no text to show back.
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cs") else c for c in value)


_ALIASES = {"q": "query", "per_page": "limit", "source": "sources", "category": "categories"}


@dataclass(frozen=True)
class SearchRequest:
    """One search: the query and every parameter, checked when the value is made.

    ``since`` and ``until`` take a date or text as the query language writes dates
    (``2024``, ``2024-05``, ``2024-05-31``): ``since`` is the first day of that period,
    ``until`` its last. ``budget`` is the time in seconds the search may take before it
    answers with what it found so far, marked ``timed_out``. ``sources`` and
    ``categories`` keep the articles of these sources and sections (any of them; case and
    accents aside). ``collapse`` (the default) shows one hit per cluster of copies (a wire
    story republished), the others listed as its ``duplicates``. ``strict`` reads the query
    as a standing search (a saved search, a feed) does: every word required as typed (no
    typo read as another word), however long the query, and no closest matches when no
    passage has them all.
    """

    query: str = ""
    limit: int = DEFAULT_LIMIT
    page: int = 1
    group: str = "article"
    sort: str = "relevance"
    # What may be given; once made, a date (or None) and tuples of text.
    since: dt.date | str | int | None = None
    until: dt.date | str | int | None = None
    budget: float = DEFAULT_BUDGET_SECONDS
    sources: tuple[str, ...] | list[str] | str = ()
    categories: tuple[str, ...] | list[str] | str = ()
    collapse: bool = True
    strict: bool = False

    # The bounds, for the ways in that show them (a form, the CLI's help, the API's schema).
    MAX_QUERY_CHARS: ClassVar[int] = MAX_QUERY_CHARS
    MAX_LIMIT: ClassVar[int] = MAX_LIMIT
    MAX_PAGE: ClassVar[int] = MAX_PAGE
    DEFAULT_LIMIT: ClassVar[int] = DEFAULT_LIMIT
    GROUPS: ClassVar[tuple[str, ...]] = GROUPS
    SORTS: ClassVar[tuple[str, ...]] = SORTS
    MAX_FILTER_VALUES: ClassVar[int] = MAX_FILTER_VALUES

    def __post_init__(self) -> None:
        checked = {
            "query": _query(self.query),
            "limit": _whole_number("limit", self.limit, MAX_LIMIT),
            "page": _whole_number("page", self.page, MAX_PAGE),
            "group": _choice("group", self.group, GROUPS),
            "sort": _choice("sort", self.sort, SORTS),
            "since": _date("since", self.since),
            "until": _date("until", self.until),
            "budget": _budget(self.budget),
            "sources": _values("sources", self.sources),
            "categories": _values("categories", self.categories),
            "collapse": _flag("collapse", self.collapse),
            "strict": _flag("strict", self.strict),
        }
        since, until = checked["since"], checked["until"]
        if since is not None and until is not None and since > until:
            raise ParameterError(
                "since",
                f"must not be after until ({since.isoformat()} > {until.isoformat()})",
                "La date de début est postérieure à la date de fin.",
            )
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], **fixed: Any) -> SearchRequest:
        """A request from text parameters (a URL's, the CLI's): empty ones take the default.

        ``q`` is the query, ``per_page`` another name for ``limit``, ``source`` and
        ``category`` (one value or a list) the filters; other names are ignored. ``fixed``
        values win over the parameters.
        """
        names = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        # A name before its alias: `limit` wins over `per_page`, whatever their order.
        for name, value in sorted(params.items(), key=lambda item: item[0] in _ALIASES):
            name = _ALIASES.get(name, name)
            if name in names and value is not None and value != "" and value != []:
                values.setdefault(
                    name, value.strip() if isinstance(value, str) and name != "query" else value
                )
        return cls(**(values | fixed))

    def with_changes(self, **changes: Any) -> SearchRequest:
        """The same request with some parameters changed (checked again)."""
        return replace(self, **changes)

    def url_params(self, **changes: Any) -> dict[str, Any]:
        """The request's URL parameters with changes, leaving out the defaults."""
        request = self.with_changes(**changes)
        default = SearchRequest()
        params: dict[str, Any] = {}
        for name, key in (
            ("query", "q"),
            ("sort", "sort"),
            ("since", "since"),
            ("until", "until"),
            ("limit", "limit"),
            ("group", "group"),
            ("sources", "source"),
            ("categories", "category"),
            ("collapse", "collapse"),
            ("strict", "strict"),
            ("page", "page"),
        ):
            value = getattr(request, name)
            if value != getattr(default, name):
                params[key] = value.isoformat() if isinstance(value, dt.date) else value
                if isinstance(value, bool):
                    params[key] = "true" if value else "false"
                if isinstance(value, tuple):
                    params[key] = list(value)
        return params
