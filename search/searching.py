"""Searching an index: Index (the handle every way in uses), Results, Hit.

``Index.open(path)`` follows the live generation: each call checks, at most twice a second,
whether ``veille build`` swapped in a new one (or an update committed) and reopens if so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh import scoring
from whoosh.util.times import long_to_datetime

from .analysis import describe_chain, exact_terms, fold_accents
from .highlight import snippet
from .indexing import IndexMeta, IndexNotFoundError, current_generation, read_meta
from .querying import ParsedQuery, parse_query

# BM25 parameters (the relevance benchmark tunes them).
BM25_K1 = 1.2
BM25_B = 0.75
SNIPPET_CHARS = 300
PASSAGES_PER_HIT = 3
MAX_LIMIT = 100
MAX_PAGE = 1000
# Below this many articles found, a spelling suggestion is looked for.
SUGGEST_BELOW = 3
_REFRESH_SECONDS = 0.5


@dataclass(frozen=True)
class PassageHit:
    """One matching passage: where it is in its article, its text and its snippet."""

    position: int
    text: str
    snippet: str
    score: float
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    """One result: an article (group="article") or one passage (group="passage").

    ``passages`` are the matching passages, best first; ``position``, ``text`` and
    ``snippet`` are those of the first, the best.
    """

    article_id: str
    title: str
    date: dt.date | None
    source: str | None
    url: str | None
    score: float
    passages: tuple[PassageHit, ...]

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
        head = {
            "article_id": self.article_id,
            "title": self.title,
            "date": self.date.isoformat() if self.date else None,
            "source": self.source,
            "url": self.url,
        }
        if group == "passage":
            return head | {
                "position": self.position,
                "text": self.text,
                "snippet": self.snippet,
                "score": round(self.score, 4),
            }
        return head | {
            "score": round(self.score, 4),
            "passages": [
                {
                    "position": p.position,
                    "text": p.text,
                    "snippet": p.snippet,
                    "score": round(p.score, 4),
                }
                for p in self.passages
            ],
        }


@dataclass(frozen=True)
class Results:
    """A page of results, with the totals, the time taken and a spelling suggestion."""

    query: str
    hits: tuple[Hit, ...]
    total: int  # articles (group="article") or passages (group="passage")
    total_passages: int
    page: int
    per_page: int
    group: str
    sort: str
    took_ms: float
    suggestion: str | None = None
    total_is_estimate: bool = False
    since: dt.date | None = None
    until: dt.date | None = None
    timeline: tuple[tuple[str, int], ...] = ()  # ("YYYY-MM", matching articles)
    notes: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def to_dict(self) -> dict:
        """The results as the JSON API's body."""
        return {
            "query": self.query,
            "total": self.total,
            "total_passages": self.total_passages,
            "total_is_estimate": self.total_is_estimate,
            "page": self.page,
            "per_page": self.per_page,
            "group": self.group,
            "sort": self.sort,
            "took_ms": round(self.took_ms, 2),
            "suggestion": self.suggestion,
            "timeline": [{"month": m, "articles": n} for m, n in self.timeline],
            "hits": [hit.to_dict(self.group) for hit in self.hits],
        }


@dataclass(frozen=True)
class StoredArticle:
    """An article as the index holds it: its fields and all its passages in order.

    With a query, each passage's ``snippet`` is its whole text with the matches marked,
    and ``matched_positions`` lists the passages the query matches.
    """

    article_id: str
    title: str
    date: dt.date | None
    source: str | None
    url: str | None
    passages: tuple[PassageHit, ...]
    matched_positions: tuple[int, ...] = ()

    def to_dict(self) -> dict:
        return {
            "article_id": self.article_id,
            "title": self.title,
            "date": self.date.isoformat() if self.date else None,
            "source": self.source,
            "url": self.url,
            "passages": [{"position": p.position, "text": p.text} for p in self.passages],
        }


@dataclass(frozen=True)
class IndexInfo:
    """What `veille info` and /healthz report."""

    path: str
    generation: str
    articles: int
    passages: int
    built_at: dt.datetime
    schema_version: int
    analyzer_version: int
    analyzer: str
    segments: int
    size_bytes: int

    def to_dict(self) -> dict:
        return {
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
        }


def _to_date(value) -> dt.date | None:
    return value.date() if isinstance(value, dt.datetime) else None


def _folder_size(folder: Path) -> int:
    size = 0
    for f in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):
            size += f.stat().st_size
    return size


def _column_date(raw: int) -> dt.date | None:
    # An undated article's passages read the column's default, which is no real date.
    try:
        return long_to_datetime(raw).date() if raw > 0 else None
    except (OverflowError, ValueError):
        return None


def _check_params(limit: int, page: int, sort: str, group: str) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    if not 1 <= page <= MAX_PAGE:
        raise ValueError(f"page must be between 1 and {MAX_PAGE}, not {page}")
    if sort not in ("relevance", "date"):
        raise ValueError(f"sort must be 'relevance' or 'date', not {sort!r}")
    if group not in ("article", "passage"):
        raise ValueError(f"group must be 'article' or 'passage', not {group!r}")


class Searcher:
    """Searches one generation of an index; cheap to reuse, not to open."""

    def __init__(self, generation: Path) -> None:
        self.generation = generation
        self.meta: IndexMeta = read_meta(generation)
        self._ix = whoosh_index.open_dir(str(generation), readonly=True)
        self._searcher = self._ix.searcher(weighting=scoring.BM25F(B=BM25_B, K1=BM25_K1))
        self._size = _folder_size(generation)
        self._doc_article: list[str] | None = None
        self._article_month: dict[str, str | None] | None = None
        self._article_date: dict[str, dt.date | None] | None = None

    def close(self) -> None:
        self._searcher.close()
        self._ix.close()

    def up_to_date(self) -> bool:
        return self._searcher.up_to_date()

    # --- per-document arrays, read once per generation -----------------------------

    def _columns(self) -> None:
        reader = self._searcher.reader()
        articles = list(reader.column_reader("article_id"))
        self._doc_article = articles
        dates: dict[str, dt.date | None] = {}
        for aid, raw in zip(articles, self._raw_dates(reader), strict=True):
            if aid not in dates:
                dates[aid] = _column_date(raw)
        self._article_date = dates
        self._article_month = {a: d.strftime("%Y-%m") if d else None for a, d in dates.items()}

    @staticmethod
    def _raw_dates(reader) -> list[int]:
        # Segment by segment: a segment of undated articles has no date column at all.
        leaves = reader.leaf_readers() if not reader.is_atomic() else [(reader, 0)]
        raw: list[int] = []
        for leaf, _offset in leaves:
            if leaf.has_column("date"):
                raw.extend(leaf.column_reader("date", translate=False))
            else:
                raw.extend([0] * leaf.doc_count_all())
        return raw

    def doc_articles(self) -> list[str]:
        if self._doc_article is None:
            self._columns()
        return self._doc_article

    def article_dates(self) -> dict[str, dt.date | None]:
        if self._article_date is None:
            self._columns()
        return self._article_date

    # --- searching ----------------------------------------------------------------

    def search(
        self,
        text: str,
        *,
        limit: int = 10,
        page: int = 1,
        sort: str = "relevance",
        since: dt.date | None = None,
        until: dt.date | None = None,
        group: str = "article",
    ) -> Results:
        started = time.perf_counter()
        _check_params(limit, page, sort, group)
        pq = parse_query(text)
        since = max(filter(None, (since, pq.since)), default=None)
        until = min(filter(None, (until, pq.until)), default=None)
        if pq.query is None:
            return Results(
                query=pq.text,
                hits=(),
                total=0,
                total_passages=0,
                page=page,
                per_page=limit,
                group=group,
                sort=sort,
                took_ms=(time.perf_counter() - started) * 1000,
                since=since,
                until=until,
                notes=pq.notes,
            )
        date_filter = None
        if since or until:
            date_filter = wq.DateRange(
                "date",
                dt.datetime.combine(since, dt.time.min) if since else None,
                dt.datetime.combine(until, dt.time.max) if until else None,
            )
        matching = self._matching_docs(pq.query, date_filter)
        doc_article = self.doc_articles()
        article_docs: dict[str, list[int]] = {}
        for docnum in matching:
            article_docs.setdefault(doc_article[docnum], []).append(docnum)
        dates = self.article_dates()
        months = Counter(self._article_month[a] for a in article_docs if self._article_month.get(a))
        offset = (page - 1) * limit
        if group == "passage":
            hits = self._passage_page(pq, matching, sort, offset, limit, date_filter)
            total = len(matching)
        else:
            if sort == "date":
                order = sorted(
                    article_docs, key=lambda a: (dates.get(a) or dt.date.min, a), reverse=True
                )
                page_articles = order[offset : offset + limit]
            else:
                page_articles = self._ranked_articles(pq.query, date_filter, offset + limit)[
                    offset:
                ]
            hits = self._article_hits(pq, page_articles, article_docs)
            total = len(article_docs)
        suggestion = None
        if len(article_docs) < SUGGEST_BELOW:
            suggestion = self.suggest(pq)
        return Results(
            query=pq.text,
            hits=tuple(hits),
            total=total,
            total_passages=len(matching),
            page=page,
            per_page=limit,
            group=group,
            sort=sort,
            took_ms=(time.perf_counter() - started) * 1000,
            suggestion=suggestion,
            since=since,
            until=until,
            timeline=tuple(sorted(months.items())),
            notes=pq.notes,
        )

    def _matching_docs(self, q: wq.Query, date_filter: wq.Query | None) -> list[int]:
        docs = set(self._searcher.docs_for_query(q))
        if date_filter is not None:
            docs &= set(self._searcher.docs_for_query(date_filter))
        return sorted(docs)

    def _ranked_articles(self, q: wq.Query, date_filter, wanted: int) -> list[str]:
        """The ids of the first `wanted` articles, ranked by their best passage."""
        doc_article = self.doc_articles()
        n = max(50, wanted * 5)
        while True:
            results = self._searcher.search(q, limit=n, filter=date_filter)
            order: dict[str, None] = {}
            for hit in results:
                order.setdefault(doc_article[hit.docnum], None)
                if len(order) >= wanted:
                    return list(order)
            if results.scored_length() < n:
                return list(order)
            n *= 4

    def _article_hits(
        self, pq: ParsedQuery, article_ids: list[str], article_docs: dict[str, list[int]]
    ) -> list[Hit]:
        if not article_ids:
            return []
        docs = {d for a in article_ids for d in article_docs[a]}
        results = self._searcher.search(pq.query, limit=None, filter=docs)
        by_article: dict[str, list] = {}
        for hit in results:
            by_article.setdefault(hit["article_id"], []).append(hit)
        hits = []
        for aid in article_ids:
            passages = by_article.get(aid)
            if not passages:
                continue
            best = passages[0]
            hits.append(
                Hit(
                    article_id=aid,
                    title=best["title"],
                    date=_to_date(best.get("date")),
                    source=best.get("source"),
                    url=best.get("url"),
                    score=best.score,
                    passages=tuple(self._passage_hit(h, pq) for h in passages[:PASSAGES_PER_HIT]),
                )
            )
        return hits

    def _passage_page(self, pq, matching, sort, offset, limit, date_filter) -> list[Hit]:
        if sort == "date":
            dates = self.article_dates()
            doc_article = self.doc_articles()
            reader = self._searcher.reader()
            keyed = sorted(
                matching,
                key=lambda d: (dates.get(doc_article[d]) or dt.date.min, doc_article[d]),
                reverse=True,
            )
            page_docs = keyed[offset : offset + limit]
            results = self._searcher.search(pq.query, limit=None, filter=set(page_docs))
            scores = {h.docnum: h.score for h in results}
            page_docs.sort(
                key=lambda d: (
                    -(dates.get(doc_article[d]) or dt.date.min).toordinal(),
                    doc_article[d],
                    reader.stored_fields(d)["position"],
                )
            )
            hits = [
                self._single(reader.stored_fields(d), scores.get(d, 0.0), pq) for d in page_docs
            ]
            return hits
        results = self._searcher.search(pq.query, limit=offset + limit, filter=date_filter)
        return [self._single(h.fields(), h.score, pq) for h in results[offset : offset + limit]]

    def _single(self, fields: dict, score: float, pq: ParsedQuery) -> Hit:
        passage = PassageHit(
            position=fields["position"],
            text=fields["text"],
            snippet=snippet(fields["text"], pq.highlights, SNIPPET_CHARS),
            score=score,
            start=fields["start"],
            end=fields["end"],
        )
        return Hit(
            article_id=fields["article_id"],
            title=fields["title"],
            date=_to_date(fields.get("date")),
            source=fields.get("source"),
            url=fields.get("url"),
            score=score,
            passages=(passage,),
        )

    def _passage_hit(self, hit, pq: ParsedQuery) -> PassageHit:
        return PassageHit(
            position=hit["position"],
            text=hit["text"],
            snippet=snippet(hit["text"], pq.highlights, SNIPPET_CHARS),
            score=hit.score,
            start=hit["start"],
            end=hit["end"],
        )

    # --- spelling -------------------------------------------------------------------

    def suggest(self, pq: ParsedQuery) -> str | None:
        """The query with its unknown or rare words replaced by the corpus's likeliest words."""
        reader = self._searcher.reader()
        text = pq.text
        changed = False
        for word in pq.words:
            exact = exact_terms(word)
            if len(exact) != 1 or not word.isalpha() or len(word) < 3:
                continue
            if reader.doc_frequency("exact", exact[0]) > 0:
                continue
            lowered = word.lower()
            best = None
            for maxdist in (1, 2) if len(lowered) > 4 else (1,):
                candidates = [
                    c for c in reader.terms_within("spell", lowered, maxdist) if c != lowered
                ]
                if candidates:
                    best = max(
                        candidates,
                        key=lambda c: (
                            fold_accents(c) == fold_accents(lowered),
                            reader.doc_frequency("spell", c),
                            c,
                        ),
                    )
                    break
            if best is None:
                continue
            if word[:1].isupper():
                best = best.upper() if word.isupper() and len(word) > 1 else best.capitalize()
            text = text.replace(word, best, 1)
            changed = True
        return text if changed else None

    # --- articles -------------------------------------------------------------------

    def article(self, article_id: str, query: str | None = None) -> StoredArticle | None:
        docs = list(self._searcher.docs_for_query(wq.Term("article_id", article_id)))
        if not docs:
            return None
        reader = self._searcher.reader()
        stored = sorted((reader.stored_fields(d) for d in docs), key=lambda f: f["position"])
        pq = parse_query(query) if query else None
        matched: tuple[int, ...] = ()
        if pq is not None and pq.query is not None:
            results = self._searcher.search(pq.query, limit=None, filter=set(docs))
            matched = tuple(sorted(h["position"] for h in results))
        first = stored[0]
        return StoredArticle(
            article_id=article_id,
            title=first["title"],
            date=_to_date(first.get("date")),
            source=first.get("source"),
            url=first.get("url"),
            passages=tuple(
                PassageHit(
                    position=f["position"],
                    text=f["text"],
                    snippet=snippet(f["text"], pq.highlights, None)
                    if pq is not None
                    else snippet(f["text"], parse_query("").highlights, None),
                    score=0.0,
                    start=f["start"],
                    end=f["end"],
                )
                for f in stored
            ),
            matched_positions=matched,
        )

    def info(self, path: str) -> IndexInfo:
        reader = self._searcher.reader()
        return IndexInfo(
            path=path,
            generation=self.generation.name,
            articles=len(set(self.doc_articles()[d] for d in reader.all_doc_ids())),
            passages=reader.doc_count(),
            built_at=self.meta.built_at,
            schema_version=self.meta.schema_version,
            analyzer_version=self.meta.analyzer_version,
            analyzer=describe_chain(),
            segments=len(reader.leaf_readers()) if hasattr(reader, "leaf_readers") else 1,
            size_bytes=self._size,
        )


class Index:
    """A handle on an index folder that always searches its live generation.

    >>> index = Index.open("index")
    >>> results = index.search("coopération sécuritaire")
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._searcher: Searcher | None = None
        self._checked = 0.0
        self.searcher()  # fail now, clearly, if there is no index

    @classmethod
    def open(cls, path: str | os.PathLike = "index") -> Index:
        """Open the index at path; IndexNotFoundError or IndexVersionError if unusable."""
        return cls(path)

    def searcher(self) -> Searcher:
        """The searcher of the live generation, reopened when the index has changed."""
        with self._lock:
            now = time.monotonic()
            current = self._searcher
            if current is not None and now - self._checked < _REFRESH_SECONDS:
                return current
            for attempt in range(3):
                try:
                    generation = current_generation(self.path)
                    if (
                        current is None
                        or current.generation != generation
                        or not current.up_to_date()
                    ):
                        current = Searcher(generation)
                    break
                except (FileNotFoundError, IndexNotFoundError):
                    # A build may have swapped generations between our reads: look again.
                    if attempt == 2:
                        if self._searcher is not None:
                            current = self._searcher
                            break
                        raise
                    time.sleep(0.05)
            self._searcher = current
            self._checked = now
            return current

    def search(
        self,
        query: str,
        limit: int = 10,
        page: int = 1,
        sort: str = "relevance",
        since: dt.date | None = None,
        until: dt.date | None = None,
        group: str = "article",
    ) -> Results:
        """Search the index; never raises on what the query says (ValueError on bad params)."""
        return self.searcher().search(
            query, limit=limit, page=page, sort=sort, since=since, until=until, group=group
        )

    def article(self, article_id: str, query: str | None = None) -> StoredArticle | None:
        """The article with this id and all its passages, or None."""
        return self.searcher().article(article_id, query)

    def info(self) -> IndexInfo:
        """Counts, build date, analyzer chain and size of the live generation."""
        return self.searcher().info(str(self.path))

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None


__all__ = ["Hit", "Index", "IndexInfo", "PassageHit", "Results", "Searcher", "StoredArticle"]
