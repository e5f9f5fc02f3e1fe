"""Index: the handle every way in uses to search, and the functions that write an index.

``Index.open(path).search(...)`` reads a SearchRequest through one path: the query language,
the backend's first-stage candidates, the ranking of articles, paging, hits, suggestions.
``build_index``, ``update_index`` and ``optimize_index`` read the corpus, split it into
passages and hand them to the backend's store.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from .analysis import describe_chain
from .backends import store_for
from .backends.base import (
    Backend,
    Best,
    Candidates,
    Changes,
    Filters,
    IndexedArticle,
    IndexStats,
    Reader,
    StoredPassage,
)
from .corpus import Article, CorpusError, read_corpus
from .duplicates import ClusterFinder, signature
from .errors import IndexClosedError, ParameterError
from .explain import Explanation, explain
from .ledger import check_ledger, ledger_path, record_indexed, record_rebuilt, record_removed
from .passages import split_passages
from .querying import Everything, Highlights, ParsedQuery, Term, parse_query
from .ranking import DEFAULT_RANKING, RankingConfig, best_first, unique_first
from .request import DEFAULT_BUDGET_SECONDS, SearchRequest, article_paging
from .rerank import (
    Reranked,
    feature_table,
    load_ranker,
    rerank,
    shortlist,
)
from .results import (
    Hit,
    Results,
    SecondStage,
    StoredArticle,
    filter_by_facets,
    group_and_page,
    make_hits,
    passage_hit,
    timeline,
)
from .spelling import compound_spellings, note_unknown_exclusions, read_typos, suggest

# Below this many articles found, a spelling suggestion is looked for.
SUGGEST_BELOW = 3
PARTIAL_MATCH_NOTE = (
    "Aucun passage ne contient tous les mots : voici ceux qui en contiennent le plus."
)
TIMED_OUT_NOTE = (
    "La recherche a pris trop de temps : voici les résultats trouvés jusque-là "
    "(précisez-la pour des résultats complets)."
)


@dataclass(frozen=True, kw_only=True)
class IndexInfo(IndexStats):
    """What `veille info` and /healthz report: the backend's figures, where, and how the
    text is analyzed."""

    path: str
    analyzer: str

    def to_dict(self) -> dict:
        return {
            "revision": self.revision,
            "path": self.path,
            "generation": self.generation,
            "articles": self.articles,
            "passages": self.passages,
            "built_at": self.built_at.isoformat(timespec="seconds"),
            "schema_version": self.schema_version,
            "analyzer_version": self.analyzer_version,
            "analyzer": self.analyzer,
            "segments": self.segments,
            "size_bytes": self.size_bytes,
            "kept": list(self.kept),
        }


class Index:
    """A handle on an index that always searches its live version.

    >>> index = Index.open("index")
    >>> results = index.search("coopération sécuritaire")
    """

    def __init__(self, path: str | os.PathLike, ranking: RankingConfig = DEFAULT_RANKING) -> None:
        if not isinstance(ranking, RankingConfig):
            raise TypeError(f"ranking must be a RankingConfig, not {type(ranking).__name__}")
        self.path = Path(path)
        self.ranking = ranking
        if ranking.second_stage and ranking.ranker_model is not None:
            load_ranker(ranking.ranker_model)  # a file that is no model: said now
        self._backend: Backend = store_for(path).open(path, ranking)
        # The queries lately read against the vocabulary (their typos read), by query: a
        # page explains each of its hits and links each to its article with the same query.
        # The reader is held weakly: a replaced generation's files are let go at once.
        self._read: dict[tuple[str, bool], tuple[weakref.ref, ParsedQuery]] = {}
        self._closed = False

    @classmethod
    def open(
        cls, path: str | os.PathLike = "index", ranking: RankingConfig = DEFAULT_RANKING
    ) -> Index:
        """Open the index at path; IndexNotFoundError or IndexVersionError if unusable."""
        return cls(path, ranking)

    def search(self, query: str | SearchRequest = "", **params: Any) -> Results:
        """Search the index: a query and its parameters, or a SearchRequest.

        The parameters are SearchRequest's (``limit``, ``page``, ``group``, ``sort``,
        ``since``, ``until``, ``budget``); a bad one raises ParameterError. What the query
        says never raises: text the grammar cannot read is searched as plain words.
        """
        return _search(self._reader(), _request(query, params), self.ranking)

    def article(
        self,
        article_id: str,
        query: str | None = None,
        page: int = 1,
        per_page: int | None = None,
    ) -> StoredArticle | None:
        """The article with this id and its passages (matches marked), or None.

        With ``per_page`` (1 to 100), only that page of its passages is read (a page past
        the end gives the last); ``matched_positions`` always covers the whole article. A
        bad ``page`` or ``per_page`` raises ParameterError.
        """
        if not isinstance(article_id, str):
            raise ParameterError(
                "article_id", "must be text", "L'identifiant de l'article doit être du texte."
            )
        page, per_page = article_paging(page, per_page)
        read = self._read_query(query) if query else None
        return _article(self._reader(), article_id, read, page, per_page)

    def shortlist(
        self, query: str | SearchRequest, *, unscored: bool = False, **params: Any
    ) -> Shortlisted | None:
        """What the second stage sees of this search (its features and scores), or None
        when it does not re-rank it (a short query, a date sort, passages). ``unscored``:
        the features without a model (to train one)."""
        request = _request(query, params)
        capture = Capture(unscored=unscored)
        config = self.ranking.with_changes(second_stage=True) if unscored else self.ranking
        _search(self._reader(), request, config, capture)
        return capture.seen[0] if capture.seen else None

    def explain(self, query: str | SearchRequest, hit: Hit) -> Explanation:
        """Why this hit matched this query (or this request's): the words kept, dropped,
        and found in it, and the second stage's features that moved it most (when a model
        ranked it)."""
        contributions = None
        if hit.features:
            ranker = load_ranker(self.ranking.ranker_model)
            contributions = ranker.contributions(np.asarray(hit.features, dtype=np.float32))
        if isinstance(query, SearchRequest):
            read = self._read_query(query.query, query.strict)
        else:
            read = self._read_query(query)
        return explain(read, hit.text, hit.score, contributions, hit.position, hit.title)

    def _read_query(self, query: str, strict: bool = False) -> ParsedQuery:
        """The query as a search reads it (its typos read as the corpus's words)."""
        reader = self._reader()
        seen = self._read.get((query, strict))
        if seen is not None and seen[0]() is reader:
            return seen[1]
        request = SearchRequest(query, strict=strict)
        read = _read_request(reader, request, time.monotonic() + DEFAULT_BUDGET_SECONDS)
        if len(self._read) >= 32:
            self._read.clear()
        self._read[(query, strict)] = (weakref.ref(reader), read)
        return read

    def info(self) -> IndexInfo:
        """Counts, build date, analyzer chain and size of the live index."""
        stats = self._reader().stats()
        recorded = {f.name: getattr(stats, f.name) for f in fields(stats)}
        return IndexInfo(**recorded, path=str(self.path), analyzer=describe_chain())

    def close(self) -> None:
        """Release the index's files and connections (``with Index.open(...)`` does it);
        the Index searches no more (IndexClosedError)."""
        self._closed = True
        self._backend.close()

    def _reader(self) -> Reader:
        if self._closed:
            raise IndexClosedError(f"{self.path}: the index is closed: open it again")
        return self._backend.reader()

    def __enter__(self) -> Index:
        """The index, to use in a ``with`` block that closes it."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the index at the end of the ``with`` block."""
        self.close()


def _request(query: str | SearchRequest, params: dict[str, Any]) -> SearchRequest:
    """The request a search is asked for: a query and its parameters, or a request (with
    any parameters given beside it changed)."""
    if isinstance(query, SearchRequest):
        return query.with_changes(**params) if params else query
    return SearchRequest(query, **params)


def _read_request(reader: Reader, request: SearchRequest, deadline: float) -> ParsedQuery:
    """The request's query as its search reads it: a word or compound found in the other
    spelling the corpus has of it too (weekend, week-end); typos read as the corpus's
    words, unless the request is strict (a standing search keeps its words as typed)."""
    pq = parse_query(request.query, strict=request.strict)
    if not pq.ranked_or and (compounds := compound_spellings(reader, pq.text, deadline)):
        pq = parse_query(request.query, strict=request.strict, compounds=compounds)
    pq = read_typos(reader, pq, deadline, typos=not request.strict)
    return pq if request.strict else note_unknown_exclusions(reader, pq, deadline)


def _search(
    reader: Reader,
    request: SearchRequest,
    config: RankingConfig,
    capture: Capture | None = None,
) -> Results:
    started = time.perf_counter()
    deadline = time.monotonic() + request.budget
    pq = _read_request(reader, request, deadline)
    since = max(filter(None, (request.since, pq.since)), default=None)
    until = min(filter(None, (request.until, pq.until)), default=None)
    filters = Filters(since=since, until=until)
    title_weight = config.title_weight
    if request.group == "article" and pq.is_question:
        config = config.for_question()
    elif request.group == "article":
        title_weight = config.article_title_weight
    plan = pq.plan
    typed, wanted, unwanted = _facet_filters(request, pq)
    request, pq = _filters_alone(request, pq)
    collapse = request.collapse and request.group == "article"
    filtered = any(wanted.values()) or any(typed.values()) or any(unwanted.values())
    best = _best(request, pq, filtered, collapse, config)
    found = reader.match(pq, plan, filters, title_weight, deadline, best)
    notes = [*pq.notes, *found.notes]
    relax = not request.strict and len(found.docs) == 0 and not found.timed_out
    if relax and (relaxed := _relaxed(pq, plan)):
        # No passage has every word: rank those with the most of them.
        pq, plan = relaxed
        found = reader.match(pq, plan, filters, title_weight, deadline, best)
        notes.append(PARTIAL_MATCH_NOTE)  # said if some passage is left once filtered
    found, facets, facet_notes = _facet_filtered(found, typed, wanted, unwanted, collapse)
    notes += facet_notes
    whole = None
    relevance = request.group == "article" and request.sort == "relevance"
    if relevance and plan is not None and not found.timed_out:
        articles, _ = unique_first(found.articles)
        whole = reader.whole_article_scores(plan.words, articles, config)
    second = None
    stored: dict[int, StoredPassage] = {}  # the passages read, by document number
    # Past the budget, the first stage's order is the answer (marked as timed out).
    late = whole is not None and config.second_stage and time.monotonic() > deadline
    if whole is not None and config.second_stage and not late:
        second = _second_stage(reader, found, pq, plan.words, whole, config, capture, stored)
    page = group_and_page(found, request, config, whole, second)
    shown = {doc for hit in page.hits for doc, _ in hit.passages} | {
        doc for hit in page.hits for doc in hit.copies
    }
    docs = sorted(shown - stored.keys())
    stored.update(zip(docs, reader.passages(docs), strict=True))
    if found.timed_out or late:
        notes.append(TIMED_OUT_NOTE)
    if since is not None and until is not None and since > until:
        # « depuis:2030 jusqua:2010 », or a query's dates against the request's: no article.
        notes.append(f"La période est vide : du {_day(since)} au {_day(until)}.")
    # A suggestion helps a few words that found little, not a long question.
    few = page.articles < SUGGEST_BELOW and not pq.ranked_or and not pq.readings
    suggestion = suggest(reader, pq, deadline) if few else None
    return Results(
        query=pq.text,
        hits=make_hits(page, stored, pq.highlights),
        total=page.total,
        total_passages=found.matched,
        page=request.page,
        limit=request.limit,
        group=request.group,
        sort=request.sort,
        suggestion=suggestion,
        total_is_estimate=found.timed_out or found.capped,
        since=since,
        until=until,
        timeline=timeline(found, collapse),
        took_ms=(time.perf_counter() - started) * 1000,
        notes=tuple(dict.fromkeys(n for n in notes if n != PARTIAL_MATCH_NOTE or len(found.docs))),
        timed_out=found.timed_out or late,
        facets=facets,
        readings=pq.readings,
        collapsed=page.articles - page.total if request.group == "article" else 0,
    )


@dataclass
class Capture:
    """Where a search leaves what its second stage saw; ``unscored``: compute the features
    only (no model needed) and keep the first stage's order (training a model)."""

    unscored: bool = False
    seen: list[Shortlisted] = field(default_factory=list)


@dataclass(frozen=True)
class Shortlisted:
    """What the second stage saw of one search: each shortlisted passage's article id,
    position and features (rows in FEATURES order), and the model's scores."""

    article_ids: tuple[str, ...]
    positions: tuple[int, ...]
    features: np.ndarray
    scores: np.ndarray


def _second_stage(
    reader: Reader,
    found: Candidates,
    pq: ParsedQuery,
    words: tuple,
    whole: np.ndarray,
    config: RankingConfig,
    capture: Capture | None,
    stored_passages: dict[int, StoredPassage],
) -> SecondStage | None:
    """The hook that re-ranks a question's or a long text's best articles, or None; the
    passages it reads are left in ``stored_passages``."""
    # Common words alone (« qui est », searched as written) give the model nothing it
    # learned from: their order is the first stage's.
    terms = tuple(w for w in words if isinstance(w, Term) and w.field != "exact")
    if len(terms) < (2 if pq.ranked_or else config.second_stage_keyword_min_words):
        return None
    ranker = None if capture is not None and capture.unscored else load_ranker(config.ranker_model)
    articles, _ = unique_first(found.articles)  # the order ``whole`` is in

    depth, per_article = _window(pq, config)

    def second_stage(ordered: np.ndarray, scores: np.ndarray) -> Reranked:
        window = ordered[:depth]
        in_window = np.flatnonzero(np.isin(found.articles, window))
        order = best_first(found.scores, found.docs, in_window)
        short = shortlist(ordered, order, found.articles, depth, per_article)
        docs = found.docs[short.rows]
        stored = reader.passages(docs.tolist())
        stored_passages.update(zip(docs.tolist(), stored, strict=True))
        table = feature_table(
            found,
            short,
            scores[:depth],
            whole[np.searchsorted(articles, window)],
            reader.evidence(terms, docs),
            stored,
            terms,
            float(whole.max()) if len(whole) else 1.0,
            reader.article_words(terms, window, config),
        )
        if ranker is None:  # features only: the first stage's order, best first
            model_scores = -(short.article_rank * len(short.rows) + short.passage_rank)
        else:
            model_scores = ranker.scores(table)
        if capture is not None:
            capture.seen.append(
                Shortlisted(
                    article_ids=tuple(p.article_id for p in stored),
                    positions=tuple(p.position for p in stored),
                    features=table,
                    scores=model_scores,
                )
            )
        return rerank(ordered, scores, found, short, table, model_scores)

    return second_stage


def _window(pq: ParsedQuery, config: RankingConfig) -> tuple[int, int]:
    """How many of the first stage's best articles the second stage re-ranks, and how many
    passages of each: keyword queries (every word required) look less far."""
    if pq.ranked_or:
        return config.second_stage_articles, config.second_stage_passages
    return config.second_stage_keyword_articles, config.second_stage_keyword_passages


def _filters_alone(request: SearchRequest, pq: ParsedQuery) -> tuple[SearchRequest, ParsedQuery]:
    """A search of filters alone (the query's, or the request's with no query) matches
    every article they keep, newest first: there is nothing to rank by."""
    asked = request.sources or request.categories or request.since or request.until
    if pq.tree is None and asked:
        pq = replace(pq, tree=Everything())
    if isinstance(pq.tree, Everything) and request.sort == "relevance":
        request = request.with_changes(sort="date")
    return request, pq


def _facet_filtered(
    found: Candidates,
    typed: dict[str, tuple[str, ...]],
    chosen: dict[str, tuple[str, ...]],
    unwanted: dict[str, tuple[str, ...]],
    collapse: bool,
) -> tuple[Candidates, dict, list[str]]:
    """The candidates the filters keep, the facets' counts, and the filters' notes.

    The query's own filters (« rubrique:sport ») are part of what it matches; the
    request's (the page's facets) choose among that, each facet's values as one choice."""
    found, _, notes = filter_by_facets(found, typed, collapse, unwanted)
    found, facets, chosen_notes = filter_by_facets(found, chosen, collapse)
    return found, facets, notes + chosen_notes


def _facet_filters(
    request: SearchRequest, pq: ParsedQuery
) -> tuple[dict[str, tuple[str, ...]], ...]:
    """The facet values the query asks for, those the request chooses, and those the
    query leaves out."""
    typed = {"source": pq.sources, "category": pq.categories}
    chosen = {"source": request.sources, "category": request.categories}
    return typed, chosen, {"source": pq.excluded_sources, "category": pq.excluded_categories}


def _best(
    request: SearchRequest,
    pq: ParsedQuery,
    filtered: bool,
    collapse: bool,
    config: RankingConfig,
) -> Best | None:
    """What the search needs ranked of its matches (the best, or the newest for a date
    sort), or None when it needs every match: facet filters (counted and filtered here)."""
    if filtered:
        return None
    count = request.page * request.limit
    by_date = request.sort == "date"
    if request.group == "article" and not by_date:  # the second stage re-ranks the best
        count = max(count, _window(pq, config)[0])
    by_article = request.group == "article"
    return Best(count=count, by_article=by_article, copies=collapse, by_date=by_date)


def _day(date: dt.date) -> str:
    """A date as DD/MM/YYYY, the year on four digits whatever it is."""
    return f"{date.day:02d}/{date.month:02d}/{date.year:04d}"


def _relaxed(pq: ParsedQuery, plan) -> tuple[ParsedQuery, Any] | None:
    """The query asking for any of its words where it asked for all of them side by side
    (its plan's, or its tree's phrases and words), or None."""
    if plan is not None:
        relax = plan.require_all and plan.may_relax and len(plan.words) > 1
        return (pq, replace(plan, require_all=False)) if relax else None
    return (replace(pq, tree=pq.relaxed), None) if pq.relaxed is not None else None


def _article(
    reader: Reader, article_id: str, pq: ParsedQuery | None, page: int, per_page: int | None
) -> StoredArticle | None:
    count, _ = reader.article(article_id, 0, 0)
    if count == 0:
        return None
    pages = max(1, -(-count // per_page)) if per_page else 1
    page = min(max(page, 1), pages)
    start = (page - 1) * per_page if per_page else 0
    _, stored = reader.article(article_id, start, start + per_page if per_page else None)
    highlights = pq.highlights if pq is not None else Highlights()
    matched = reader.matching_positions(article_id, pq) if pq is not None else ()
    first = stored[0]
    return StoredArticle(
        article_id=article_id,
        title=first.title,
        date=first.date,
        source=first.source,
        url=first.url,
        passages=tuple(passage_hit(p, 0.0, highlights, snippet_chars=None) for p in stored),
        matched_positions=matched,
        total_passages=count,
        page=page,
        pages=pages,
        time=first.time,
    )


# --- writing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildSummary:
    """What a build did: counts, time, and the corpus problems it skipped."""

    articles: int
    passages: int
    seconds: float
    generation: str
    skipped: tuple[str, ...] = field(default=())
    # Articles the index held before that the corpus lacks (added from elsewhere with
    # `add`, fetched): the rebuild left them out.
    left_out: tuple[str, ...] = field(default=())
    # The indexes before it that the build kept: they hold articles it left out.
    kept: tuple[Path, ...] = field(default=())


@dataclass(frozen=True, kw_only=True)
class UpdateSummary(Changes):
    """What an update did to the live index, how long it took, what it skipped."""

    seconds: float
    skipped: tuple[str, ...] = ()  # corpus problems skipped (skip_invalid)


def _indexed(
    articles: Iterable[Article], finder: Callable[[], ClusterFinder] | None
) -> Iterator[IndexedArticle]:
    """The articles with their passages, duplicate clusters and signatures.

    ``finder`` makes the ClusterFinder when the first article comes (an update reads the
    index's signatures then, not for a removal alone); None: no duplicates looked for.
    """
    clusters = None
    for article in articles:
        if finder is None:
            yield IndexedArticle(article, split_passages(article), article.id, b"")
            continue
        if clusters is None:
            clusters = finder()
        values = signature(article)
        yield IndexedArticle(
            article=article,
            passages=split_passages(article),
            cluster=clusters.cluster(article.id, values),
            signature=values.astype("<u4").tobytes(),
        )


def _known_clusters(index_path: str | os.PathLike) -> ClusterFinder:
    """A ClusterFinder that knows every article of the live index."""
    backend = store_for(index_path).open(index_path, DEFAULT_RANKING)
    try:
        known = backend.reader().signatures()
    finally:
        backend.close()
    return ClusterFinder(
        (article_id, cluster, np.frombuffer(values, dtype="<u4"))
        for article_id, cluster, values in known
    )


# When the articles a lost ledger did not see were first indexed: before any alert.
_LONG_AGO = dt.datetime(1, 1, 1, tzinfo=dt.UTC)


def _check_ledger(index_path: str | os.PathLike) -> None:
    """Check the index's ledger before a write. A lost one (moved away, a backup restored
    without it) starts again knowing the live index's articles, as indexed long ago: no
    alert takes the whole archive for new."""
    check_ledger(index_path)
    if ledger_path(index_path).exists():
        return
    try:
        ids = store_for(index_path).article_ids(index_path)
    except Exception:
        return  # no index yet, or none to read: nothing to know, the writer will say why
    if ids:
        record_indexed(index_path, ids, when=_LONG_AGO)


def build_index(
    corpus_path: str | os.PathLike,
    index_path: str | os.PathLike,
    *,
    skip_invalid: bool = False,
    progress: Callable[[int, int], None] | None = None,
    procs: int = 1,
    wait: float = 0.0,
    find_duplicates: bool = True,
) -> BuildSummary:
    """Build a new index from a corpus and make it the live one.

    Raises CorpusError on the first bad article unless ``skip_invalid``; the live index,
    if any, is untouched by a failed build. ``find_duplicates=False`` gives every article
    a cluster of its own (no copies collapsed; the benchmark of what finding them costs).
    """
    started = time.monotonic()
    skipped: list[str] = []

    corpus = read_corpus(corpus_path, skip_invalid=skip_invalid, on_skip=_note(skipped))

    def articles() -> Iterator[IndexedArticle]:
        counts = [0, 0]
        for item in _indexed(corpus, ClusterFinder if find_duplicates else None):
            written.append(item.article.id)
            counts[0] += 1
            counts[1] += len(item.passages)
            if progress is not None:
                progress(*counts)
            yield item
        if counts[0] == 0:
            raise _no_articles(corpus_path, skipped)

    written: list[str] = []
    _check_ledger(index_path)
    built = store_for(index_path).build(index_path, articles(), procs=procs, wait=wait)
    left_out = record_rebuilt(index_path, written)
    return BuildSummary(
        articles=built.articles,
        passages=built.passages,
        seconds=time.monotonic() - started,
        generation=built.generation,
        skipped=tuple(skipped),
        left_out=tuple(left_out),
        kept=built.kept,
    )


def _note(skipped: list[str]) -> Callable[[CorpusError], None]:
    return lambda error: skipped.append(str(error))


def update_index(
    index_path: str | os.PathLike,
    *,
    add: str | os.PathLike | None = None,
    remove: str | Iterable[str] = (),
    skip_invalid: bool = False,
    wait: float = 0.0,
) -> UpdateSummary:
    """Add or replace articles (by id) from a corpus path, and/or remove articles by id.

    An article whose content is unchanged is skipped. Readers see all of the update or none
    of it, and a failure before it is committed leaves the index as it was.
    """
    started = time.monotonic()
    skipped: list[str] = []
    articles: Iterable[IndexedArticle] = ()
    written: list[str] = []
    if add is not None:
        corpus = read_corpus(add, skip_invalid=skip_invalid, on_skip=_note(skipped))
        indexed = _indexed(corpus, lambda: _known_clusters(index_path))
        articles = _noted(indexed, written, empty=lambda: _no_articles(add, skipped))
    _check_ledger(index_path)
    removed = _ids_to_remove(remove)
    changes = store_for(index_path).update(index_path, articles, removed, wait=wait)
    record_indexed(index_path, written)
    if removed:
        record_removed(index_path, set(removed) - set(changes.missing) - set(written))
    return _summary(changes, started, skipped)


def _ids_to_remove(remove: str | Iterable[str]) -> list[str]:
    """The ids to remove, each once; one id may be given alone (not as its letters)."""
    if isinstance(remove, str):
        return [remove]
    try:
        items = list(remove)
    except TypeError:
        raise ValueError(f"remove: an id or a list of ids, not {type(remove).__name__}") from None
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"remove: ids are text, not {type(item).__name__} ({item!r:.50})")
    return list(dict.fromkeys(items))


def _no_articles(path: str | os.PathLike, skipped: list[str]) -> CorpusError:
    """The error of a corpus without a usable article, saying why those it had were not."""
    if not skipped:
        return CorpusError(str(path), None, "no articles found")
    why = "; ".join(skipped[:3]) + ("; …" if len(skipped) > 3 else "")
    return CorpusError(str(path), None, f"no articles found ({len(skipped)} skipped: {why})")


def _noted(
    items: Iterable[IndexedArticle],
    written: list[str],
    empty: Callable[[], Exception] | None = None,
) -> Iterator[IndexedArticle]:
    """The items, their ids noted in ``written``; ``empty`` raised if there was none (an
    update that writes nothing is left undone)."""
    for item in items:
        written.append(item.article.id)
        yield item
    if empty is not None and not written:
        raise empty()


def _summary(changes: Changes, started: float, skipped: list[str]) -> UpdateSummary:
    return UpdateSummary(
        **{f.name: getattr(changes, f.name) for f in fields(changes)},
        seconds=time.monotonic() - started,
        skipped=tuple(skipped),
    )


def add_articles(
    index_path: str | os.PathLike, articles: Iterable[Article], *, wait: float = 0.0
) -> UpdateSummary:
    """Add or replace these articles (by id, unchanged ones skipped), as `veille add` does.

    For writers that make their articles themselves (the feed fetcher): the writers' lock is
    held only while they are written.
    """
    started = time.monotonic()
    written: list[str] = []
    items = _noted(_indexed(_checked(articles), lambda: _known_clusters(index_path)), written)
    _check_ledger(index_path)
    changes = store_for(index_path).update(index_path, items, [], wait=wait)
    record_indexed(index_path, written)
    return _summary(changes, started, [])


def _checked(articles: Iterable[Article]) -> list[Article]:
    """The articles, each an Article of an id not given before, all checked before any is
    written (else CorpusError: a cluster writes each article as it comes)."""
    checked = list(articles)
    seen: set[str] = set()
    for n, article in enumerate(checked, 1):
        if not isinstance(article, Article):
            kind = type(article).__name__
            raise CorpusError("add_articles", None, f"item {n} is a {kind}, not an Article")
        if article.id in seen:
            raise CorpusError("add_articles", None, f"duplicate article id {article.id!r}")
        seen.add(article.id)
    return checked


def optimize_index(index_path: str | os.PathLike, wait: float = 0.0) -> int:
    """Merge the index's segments into one; returns the segment count before."""
    return store_for(index_path).optimize(index_path, wait=wait)


def check_index(index_path: str | os.PathLike) -> tuple[int, list[str]]:
    """Verify every file of the live index against its recorded checksum.

    Returns (files checked, problems found); no problem means the index is as written.
    """
    return store_for(index_path).verify(index_path)
