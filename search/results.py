"""Results: grouping candidates by article and paging them (pure), and the values returned.

``group_and_page`` takes a backend's scored candidate passages and a request and returns the
page to show: articles ranked by their evidence (or passages, or by date), each with its
best passages. ``make_hits`` turns that page and the stored passages into Hits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .analysis import fold_accents
from .backends.base import Candidates, StoredPassage
from .highlight import snippet
from .querying import Highlights
from .ranking import RankingConfig, best_first, ordered_by, rank_articles, unique_first
from .request import SearchRequest
from .rerank import Reranked

SNIPPET_CHARS = 300
PASSAGES_PER_HIT = 3


@dataclass(frozen=True)
class PassageHit:
    """One matching passage: where it is in its article, its text and its snippet.

    The snippet is made when it is first read: a caller that ranks (a benchmark, a script
    reading ids) does not pay for highlighting.
    """

    position: int
    text: str
    score: float
    start: int
    end: int
    highlights: Highlights = field(default=Highlights(), repr=False, compare=False)
    snippet_chars: int | None = field(default=SNIPPET_CHARS, repr=False, compare=False)

    @property
    def snippet(self) -> str:
        """The text (or its best fragment), HTML-escaped, with the matches in <mark>."""
        return snippet(self.text, self.highlights, self.snippet_chars)

    def to_dict(self) -> dict:
        return {
            "position": self.position,
            "text": self.text,
            "snippet": self.snippet,
            "score": round(self.score, 4),
        }


def article_head(article: Duplicate | Hit | StoredArticle) -> dict:
    """The fields that say which article it is, as the JSON API gives them."""
    return {
        "article_id": article.article_id,
        "title": article.title,
        "date": article.date.isoformat() if article.date else None,
        "time": f"{article.time:%H:%M}" if article.time else None,
        "source": article.source,
        "url": article.url,
    }


@dataclass(frozen=True)
class Duplicate:
    """Another version of a hit's article (a wire story republished): where it is."""

    article_id: str
    title: str
    date: dt.date | None
    source: str | None
    url: str | None
    time: dt.time | None = None  # the time of day it was published, when known

    @classmethod
    def of(cls, passage: StoredPassage) -> Duplicate:
        return cls(
            passage.article_id,
            passage.title,
            passage.date,
            passage.source,
            passage.url,
            passage.time,
        )

    def to_dict(self) -> dict:
        return article_head(self)


@dataclass(frozen=True)
class Hit:
    """One result: an article (group="article") or one passage (group="passage").

    ``score`` is what the hit was ranked by. ``passages`` are the matching passages, best
    first; ``position``, ``text`` and ``snippet`` are those of the first, the best.
    """

    article_id: str
    title: str
    date: dt.date | None
    source: str | None
    url: str | None
    score: float
    passages: tuple[PassageHit, ...]
    # Other versions of the article (copies collapsed into this hit), best first.
    duplicates: tuple[Duplicate, ...] = ()
    # The second stage's features of the first passage (search.rerank.FEATURES), when a
    # learned model ranked the hit; for explaining it.
    features: tuple[float, ...] = field(default=(), repr=False)
    time: dt.time | None = None  # the time of day it was published, when known

    @property
    def position(self) -> int:
        return self.passages[0].position

    @property
    def text(self) -> str:
        return self.passages[0].text

    @property
    def snippet(self) -> str:
        return self.passages[0].snippet

    def to_dict(self, group: str = "article") -> dict:
        """The hit as the JSON API gives it."""
        head = article_head(self)
        if group == "passage":
            return head | self.passages[0].to_dict()
        return head | {
            "score": round(self.score, 4),
            "passages": [p.to_dict() for p in self.passages],
            "duplicates": [d.to_dict() for d in self.duplicates],
        }


@dataclass(frozen=True)
class Results:
    """A page of results, with the totals, the time taken, a suggestion and notes.

    ``timed_out``: the search used its time budget. Either matching stopped: the results
    are those found by then, and ``total`` is a lower bound (``total_is_estimate``); or
    every match was found and counted but the second stage was left out: the first stage's
    order is the answer, and the total is exact. ``total_is_estimate`` also when the
    backend counted only its best matches (a cluster shard's ``max_matches``).
    ``pages``: how many pages a request may ask for, at most ``SearchRequest.MAX_PAGE``.
    """

    query: str
    hits: tuple[Hit, ...]
    total: int  # articles (group="article", copies collapsed) or passages (group="passage")
    total_passages: int
    page: int
    limit: int
    group: str
    sort: str
    took_ms: float
    suggestion: str | None = None
    total_is_estimate: bool = False
    since: dt.date | None = None
    until: dt.date | None = None
    timeline: tuple[tuple[str, int], ...] = ()  # ("YYYY-MM", matching articles)
    notes: tuple[str, ...] = ()
    timed_out: bool = False
    # For each facet ("source", "category"): (value, matching articles), most first; each
    # counted with every filter of the request but its own.
    facets: Mapping[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)
    collapsed: int = 0  # copies of other hits' articles, folded into them (not in total)
    readings: tuple[tuple[str, str], ...] = ()  # (word typed, word read) for typos read

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    @property
    def pages(self) -> int:
        return min(max(1, -(-self.total // self.limit)), SearchRequest.MAX_PAGE)

    def to_dict(self) -> dict:
        """The results as the JSON API's body."""
        return {
            "query": self.query,
            "total": self.total,
            "total_passages": self.total_passages,
            "total_is_estimate": self.total_is_estimate,
            "collapsed": self.collapsed,
            "timed_out": self.timed_out,
            "page": self.page,
            "limit": self.limit,
            "group": self.group,
            "sort": self.sort,
            "took_ms": round(self.took_ms, 2),
            "suggestion": self.suggestion,
            "notes": list(self.notes),
            "readings": [{"typed": typed, "read": read} for typed, read in self.readings],
            "timeline": [{"month": m, "articles": n} for m, n in self.timeline],
            "facets": {
                name: [{"value": value, "count": count} for value, count in values]
                for name, values in self.facets.items()
            },
            "hits": [hit.to_dict(self.group) for hit in self.hits],
        }


@dataclass(frozen=True)
class StoredArticle:
    """An article as the index holds it: its fields and all its passages in order.

    With a query, each passage's ``snippet`` is its whole text with the matches marked,
    and ``matched_positions`` lists the passages the query matches. ``passages`` may be
    one page of the article's (``page`` of ``pages``).
    """

    article_id: str
    title: str
    date: dt.date | None
    source: str | None
    url: str | None
    passages: tuple[PassageHit, ...]
    matched_positions: tuple[int, ...] = ()
    total_passages: int = 0  # the whole article's (``passages`` may be one page of them)
    page: int = 1
    pages: int = 1
    time: dt.time | None = None  # the time of day it was published, when known

    def to_dict(self) -> dict:
        return article_head(self) | {
            "total_passages": self.total_passages,
            "page": self.page,
            "pages": self.pages,
            "passages": [{"position": p.position, "text": p.text} for p in self.passages],
        }


@dataclass(frozen=True)
class PageHit:
    """One hit of a page: its score, its passages' (document, score) pairs, best first,
    and the best passage (document) of each of its copies (collapsed duplicates)."""

    score: float
    passages: tuple[tuple[int, float], ...]
    copies: tuple[int, ...] = ()
    features: tuple[float, ...] = ()  # the second stage's, of the first passage


@dataclass(frozen=True)
class Page:
    """What to show of ranked candidates: the totals and the page's hits."""

    total: int  # hits: articles (after collapsing copies) or passages
    articles: int  # matching articles, copies included
    hits: tuple[PageHit, ...]


# A second stage: (first-stage articles, their scores) -> Reranked.
SecondStage = Callable[[np.ndarray, np.ndarray], Reranked]


def group_and_page(
    found: Candidates,
    request: SearchRequest,
    config: RankingConfig,
    whole: np.ndarray | None = None,
    second_stage: SecondStage | None = None,
) -> Page:
    """Rank the candidates as the request asks and cut out its page.

    ``whole`` holds each matching article's score as one whole document (sorted by article
    number, as ``np.unique`` gives them), when ranking articles by relevance.
    ``second_stage`` re-ranks the first stage's articles: it gets them (with their scores)
    and returns a ``Reranked``.
    Candidates holding only the best articles (``counts``) give their totals from those.
    """
    docs, scores, arts = found.docs, found.scores, found.articles
    articles, _ = unique_first(arts)
    start = (request.page - 1) * request.limit
    end = start + request.limit
    if request.group == "passage":
        if request.sort == "date":
            order = np.lexsort((docs, arts, -found.moments))
        else:
            order = ordered_by(-scores, arts, docs)  # ties: by article id, then position
        picks = order[start:end].tolist()
        hits = tuple(PageHit(float(scores[i]), ((int(docs[i]), float(scores[i])),)) for i in picks)
        if found.counts is not None:
            return Page(total=found.counts.passages, articles=found.counts.articles, hits=hits)
        return Page(total=len(docs), articles=len(articles), hits=hits)
    if request.sort == "date":
        order = np.lexsort((docs, -scores))
        _, first = unique_first(arts[order])
        by_date = np.lexsort((articles, -found.moments[order][first]))
        ordered, ordered_scores = articles[by_date], scores[order][first][by_date]
    else:
        ordered, ordered_scores = rank_articles(arts, scores, config, whole)
    credited: Mapping[int, int] = {}
    features: Mapping[int, tuple[float, ...]] = {}
    if second_stage is not None and request.sort == "relevance" and len(ordered):
        reranked = second_stage(ordered, ordered_scores)
        ordered, ordered_scores = reranked.articles, reranked.scores
        credited, features = reranked.credited, reranked.features
    clusters = None
    if request.collapse and "cluster" in found.facet_codes and len(ordered):
        clusters = _article_values(ordered, arts, found.facet_codes["cluster"])
        _, first = unique_first(clusters)  # each cluster's best article, where it stands
        keep = np.sort(first)
        shown, shown_scores = ordered[keep], ordered_scores[keep]
    else:
        shown, shown_scores = ordered, ordered_scores
    page_articles = shown[start:end]
    copies = _copies(page_articles, ordered, clusters) if clusters is not None else {}
    wanted = np.concatenate([page_articles, *map(np.asarray, copies.values())])
    best = _best_passages(found, wanted)
    for article, row in credited.items():  # the passage the second stage credits, first
        if article in best:
            pick = (int(docs[row]), float(scores[row]))
            best[article] = (pick, *[p for p in best[article] if p != pick])[:PASSAGES_PER_HIT]
    hits = tuple(
        PageHit(
            score=float(score),
            passages=best[int(a)],
            copies=tuple(best[c][0][0] for c in copies.get(int(a), ())),
            features=features.get(int(a), ()),
        )
        for a, score in zip(page_articles.tolist(), shown_scores[start:end].tolist(), strict=True)
    )
    if found.counts is not None:  # the best articles only: the totals are counted apart
        counts = found.counts
        total = counts.clusters if clusters is not None else counts.articles
        return Page(total=total, articles=counts.articles, hits=hits)
    return Page(total=len(shown), articles=len(articles), hits=hits)


# Copies listed with a hit at most (all are counted).
COPIES_PER_HIT = 20


def _article_values(ordered: np.ndarray, arts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The value (a cluster code) of each of the ordered articles, from their passages'."""
    per_article = np.zeros(int(arts.max()) + 1, dtype=values.dtype)
    per_article[arts] = values  # an article's passages all carry its value
    return per_article[ordered]


def _copies(
    page_articles: np.ndarray, ordered: np.ndarray, clusters: np.ndarray
) -> dict[int, list[int]]:
    """The other articles of each page article's cluster, best first."""
    where = np.flatnonzero(np.isin(ordered, page_articles))
    position = dict(zip(ordered[where].tolist(), where.tolist(), strict=True))
    found = {}
    for article in page_articles.tolist():
        members = ordered[clusters == clusters[position[article]]]
        found[article] = [int(m) for m in members.tolist() if m != article][:COPIES_PER_HIT]
    return {a: m for a, m in found.items() if m}


def _best_passages(
    found: Candidates, page_articles: np.ndarray
) -> dict[int, tuple[tuple[int, float], ...]]:
    """Each page article's best passages (up to PASSAGES_PER_HIT), best first."""
    rows = np.flatnonzero(np.isin(found.articles, page_articles))
    best: dict[int, list[tuple[int, float]]] = {}
    for i in best_first(found.scores, found.docs, rows).tolist():
        picks = best.setdefault(int(found.articles[i]), [])
        if len(picks) < PASSAGES_PER_HIT:
            picks.append((int(found.docs[i]), float(found.scores[i])))
    return {article: tuple(picks) for article, picks in best.items()}


def timeline(found: Candidates, collapse: bool = False) -> tuple[tuple[str, int], ...]:
    """(YYYY-MM, number of matching articles) for each month with some, in order; with
    ``collapse``, a story and its copies count once in each month one of them is dated
    (as once for each source they have): a month's count is what choosing it finds."""
    if found.counts is not None:
        counts = found.counts.by_cluster if collapse else found.counts.by_article
        return tuple(sorted(counts.get("month", {}).items()))
    # One row per matching article first (a long text matches 100,000 passages).
    _, first = unique_first(found.articles)
    ordinals = found.dates[first]
    dated = ordinals > 0
    # Date ordinals as numpy dates (day 719163 is 1970-01-01), then as months.
    days = (ordinals[dated].astype(np.int64) - 719163).astype("datetime64[D]")
    months = days.astype("datetime64[M]").astype(np.int64)
    if collapse and "cluster" in found.facet_codes:
        clusters = found.facet_codes["cluster"][first][dated].astype(np.int64)
        size = int(clusters.max(initial=0)) + 1  # each (month, cluster) pair once
        months = np.unique(months * size + clusters) // size
    months, counts = np.unique(months.astype("datetime64[M]"), return_counts=True)
    return tuple(
        (str(month), int(count)) for month, count in zip(months, counts.tolist(), strict=True)
    )


def make_hits(
    page: Page, stored: dict[int, StoredPassage], highlights: Highlights
) -> tuple[Hit, ...]:
    """The page's hits from its stored passages (by document number)."""
    hits = []
    for hit in page.hits:
        head = stored[hit.passages[0][0]]
        hits.append(
            Hit(
                article_id=head.article_id,
                title=head.title,
                date=head.date,
                source=head.source,
                url=head.url,
                score=hit.score,
                passages=tuple(
                    passage_hit(stored[doc], score, highlights) for doc, score in hit.passages
                ),
                duplicates=tuple(Duplicate.of(stored[doc]) for doc in hit.copies),
                features=hit.features,
                time=head.time,
            )
        )
    return tuple(hits)


def passage_hit(
    passage: StoredPassage,
    score: float,
    highlights: Highlights,
    snippet_chars: int | None = SNIPPET_CHARS,
) -> PassageHit:
    """A stored passage as a hit's passage, its snippet made when read."""
    return PassageHit(
        position=passage.position,
        text=passage.text,
        score=score,
        start=passage.start,
        end=passage.end,
        highlights=highlights,
        snippet_chars=snippet_chars,
    )


FACETS = ("source", "category")


_FACET_NAMES = {"source": "la source", "category": "la rubrique"}


def _unknown_filter_notes(
    wanted: Mapping[str, tuple[str, ...]],
    facets: Mapping[str, tuple[tuple[str, int], ...]],
    counted: set[str],
) -> list[str]:
    """A note for each facet whose wanted values none of the matching articles has (a
    misspelled source, say, or a section in an index without sections): their counts list
    every value they have. ``counted``: the facets whose counts had articles to count
    (the other facets' filters left some)."""
    notes = []
    for name, values in wanted.items():
        listed = {_folded(value) for value, _ in facets.get(name, ())}
        if name not in counted or any(_folded(v) in listed for v in values):
            continue
        notes += [
            f"aucun des articles trouvés n'a {_FACET_NAMES[name]} « {value} »"
            for value in values
            if value.strip()
        ]
    return notes


def filter_by_facets(
    found: Candidates,
    wanted: Mapping[str, tuple[str, ...]],
    collapse: bool = False,
    unwanted: Mapping[str, tuple[str, ...]] | None = None,
) -> tuple[Candidates, dict[str, tuple[tuple[str, int], ...]], list[str]]:
    """Keep the candidates whose facets have a wanted value; count each facet's values.

    Candidates with an ``unwanted`` value (``-source:AFP``) are left out first, as if the
    query had not matched them: no facet counts them.

    Also returns notes on the values that filtered nothing because no matching article
    has them (« source:AFPP »; none when some candidates went uncounted).

    A facet's counts are of matching articles (with ``collapse``, of clusters of copies:
    a wire story in two sources counts once for each) under every other facet's filter, so
    that its list shows what choosing another value would give. Values are compared with
    case and accents aside; a facet with no wanted value keeps every candidate.
    """
    if found.counts is not None:  # counted by the backend (with no value wanted)
        filtered = any(wanted.values()) or any((unwanted or {}).values())
        assert not filtered, "a backend counted facets a filter would change"
        counted = found.counts.by_cluster if collapse else found.counts.by_article
        spelled = found.counts.by_article
        return (
            found,
            {name: _sorted_counts(counted.get(name, {}), spelled.get(name)) for name in FACETS},
            [],
        )
    complete = len(found.docs) > 0 and not (found.timed_out or found.capped)
    notes = []
    for name, values in (unwanted or {}).items():
        if (mask := _facet_mask(found, name, values)) is not None:
            notes += [
                f"aucun des articles trouvés n'a {_FACET_NAMES[name]} « {value} » : "
                "rien n'est exclu"
                for value in values
                if complete and value.strip() and not _facet_mask(found, name, (value,)).any()
            ]
            found = found.subset(~mask)
    masks = {name: _facet_mask(found, name, wanted.get(name, ())) for name in FACETS}
    counts = {}
    counted = set()
    for name in FACETS:
        others = [mask for other, mask in masks.items() if other != name and mask is not None]
        keep = np.logical_and.reduce(others) if others else None
        counts[name] = _facet_counts(found, name, keep, collapse)
        if keep is None or keep.any():
            counted.add(name)
    if complete:
        notes += _unknown_filter_notes(wanted, counts, counted)
    chosen = [mask for mask in masks.values() if mask is not None]
    if not chosen:
        return found, counts, notes
    return found.subset(np.logical_and.reduce(chosen)), counts, notes


def _folded(value: str) -> str:
    return fold_accents(value.casefold().strip())


def _facet_mask(found: Candidates, name: str, wanted: tuple[str, ...]) -> np.ndarray | None:
    if not wanted or name not in found.facet_codes:
        return None
    folded = {_folded(w) for w in wanted}
    codes = [i for i, v in enumerate(found.facet_values[name]) if v and _folded(v) in folded]
    return np.isin(found.facet_codes[name], codes)


def _facet_counts(
    found: Candidates, name: str, keep: np.ndarray | None, collapse: bool
) -> tuple[tuple[str, int], ...]:
    if name not in found.facet_codes:
        return ()
    articles = found.articles
    clusters = collapse and "cluster" in found.facet_codes
    units = found.facet_codes["cluster"] if clusters else articles
    codes = found.facet_codes[name]
    if keep is not None:
        units, codes, articles = units[keep], codes[keep], articles[keep]
    values = found.facet_values[name]
    # Each (article or cluster, value) counts once, values that differ by case and accents
    # alone being one (a cluster of « Le Monde » and « le monde » copies counts once).
    groups: dict[str, int] = {}
    group_of = np.array([groups.setdefault(_folded(v), len(groups)) for v in values], np.int64)
    pairs = _counts_by_value(
        units.astype(np.int64) * max(len(groups), 1) + group_of[codes], codes, values
    )
    if not clusters:
        return _sorted_counts(pairs)
    # Spelled as most articles spell it, as when clusters are not counted.
    spelled = _counts_by_value(articles.astype(np.int64) * len(values) + codes, codes, values)
    return _sorted_counts(pairs, spelled)


def _counts_by_value(keys: np.ndarray, codes: np.ndarray, values: Sequence[str]) -> dict[str, int]:
    """How many distinct keys each value's rows hold (each key credited to its first row)."""
    _, first = unique_first(keys)
    counted = np.bincount(codes[first], minlength=len(values))
    return {values[i]: int(counted[i]) for i in np.flatnonzero(counted).tolist()}


def _sorted_counts(
    counts: Mapping[str, int], spelled: Mapping[str, int] | None = None
) -> tuple[tuple[str, int], ...]:
    """(value, count) pairs, most first, then in alphabetical order, with no empty value
    or count. Values that differ by case and accents alone are one (a filter takes them
    all), counted together and spelled as most of their articles spell them (``spelled``:
    the articles of each spelling, when ``counts`` are of clusters)."""
    spellings: dict[str, list[tuple[int, int, str]]] = {}
    for value, count in counts.items():
        if value and count:
            weight = count if spelled is None else spelled.get(value, 0)
            spellings.setdefault(_folded(value), []).append((weight, count, value))
    pairs = [
        (min(found, key=lambda c: (-c[0], c[2]))[2], sum(count for _, count, _ in found))
        for found in spellings.values()
    ]
    return tuple(sorted(pairs, key=lambda pair: (-pair[1], _folded(pair[0]), pair[0])))
