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
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from whoosh import index as whoosh_index
from whoosh import query as wq
from whoosh import scoring
from whoosh.util.times import long_to_datetime

from . import querying
from .analysis import describe_chain, exact_terms, fold_accents, query_terms
from .highlight import match_spans, snippet
from .indexing import IndexMeta, IndexNotFoundError, current_generation, read_meta
from .querying import Highlights, ParsedQuery, parse_query
from .ranking import TermArrays, numeric_column, rank_articles, rank_words

# BM25 parameters, chosen by bench/relevance.py on the development data (2,000 OrangeSum
# articles + the lead sample's + 761 PIAF paragraphs, 21,609 passages; all 1,922 questions and
# 1,019 leads): from K1=1.2, B=0.75 (PIAF MRR@10 0.643, lead MRR@10 0.769), B=0.3 gave
# 0.701/0.772 and then K1=0.9 0.708/0.771. Passages are short and even: length matters less.
# On all 181,463 passages (400 questions, 1,019 leads, with the article settings below),
# K1 0.6/0.9/1.2 gave PIAF MRR@10 0.639/0.630/0.624 and lead MRR@10 0.599/0.595/0.597.
# (COORDINATION 0.5/1.0 lifted leads to 0.613/0.607 but cost PIAF 0.630/0.619: left at 0.)
BM25_K1 = 0.6
BM25_B = 0.3
SNIPPET_CHARS = 300
PASSAGES_PER_HIT = 3
MAX_LIMIT = 100
MAX_PAGE = 1000
# Below this many articles found, a spelling suggestion is looked for.
SUGGEST_BELOW = 3
_REFRESH_SECONDS = 0.5
PARTIAL_MATCH_NOTE = (
    "Aucun passage ne contient tous les mots : voici ceux qui en contiennent le plus."
)
# An article's rank: its best passage's score plus this share of its other matching
# passages' scores (0: the best passage alone). The passages of a hit are always best first.
# bench/relevance.py, lead to article on all 181,463 passages (1,019 leads): lead MRR@10
# 0.563 with 0, 0.589 with 0.1; on the 21,609-passage loop 0.05/0.1/0.2/0.4 gave
# 0.785/0.788/0.764/0.706 (from 0.771).
ARTICLE_SPREAD = 0.1
# When ranking articles (not passages), the title says what the whole article is about and
# may weigh more: it lifts all of an article's passages alike, which does not change the
# order of passages inside an article. (Plain-word queries; others use querying.TITLE_WEIGHT.)
# Full run, with ARTICLE_SPREAD=0.1: 0.4/0.7/1.0/1.5 gave lead MRR@10 0.589/0.595/0.591/0.566;
# with whole articles scored as well (below): 0.4/0.7/1.0 gave 0.620/0.636/0.641.
ARTICLE_TITLE_WEIGHT = 1.0
# When ranking articles, their score as whole documents (BM25 over all their text, with
# BM25's usual parameters for long documents) is added to their passages' evidence: a lead,
# a summary, finds words spread over an article's paragraphs. bench/relevance.py, all 1,019
# leads on all 181,463 passages (title 0.7): lead MRR@10 0.597 without; weight 0.1/0.25/0.5/
# 1.0 with K1 0.6, B 0.3: 0.601/0.608/0.613/0.616; weight 1.0, B 0.5/0.75: 0.622/0.627;
# then weight 0.7/1.5/2: 0.623/0.632/0.632, B 0.9: 0.632, K1 0.9/1.2: 0.632/0.633;
# weight 1.5, K1 1.2, B 0.75: 0.636 (spread 0/0.05/0.1: 0.624/0.633/0.636).
ARTICLE_TEXT_WEIGHT = 1.5
ARTICLE_BM25_K1 = 1.2
ARTICLE_BM25_B = 0.75
# How much a passage with more of a question's words beats one with fewer, beyond BM25's
# own sum: the score is multiplied by (matched words / query words) ** COORDINATION.
COORDINATION = 0.0


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
class Explanation:
    """Why a passage matched a query, in plain French: what the query became, what matched."""

    query: str
    words: tuple[tuple[str, str], ...]  # (word as typed, the stem searched)
    dropped: tuple[str, ...]  # words left out: too common, or a question's interrogatives
    phrases: tuple[str, ...]
    prefixes: tuple[str, ...]
    excluded: tuple[str, ...]
    all_words_required: bool
    matched: tuple[str, ...]  # the passage's words that matched, as written
    score: float | None = None

    def lines(self) -> list[str]:
        """The explanation as French sentences."""
        out = []
        if self.words:
            listed = ", ".join(f"« {w} » (racine « {s} »)" for w, s in self.words)
            out.append(f"Mots cherchés, sous toutes leurs formes : {listed}.")
        if self.phrases:
            out.append("Expressions exactes : " + ", ".join(f"« {p} »" for p in self.phrases) + ".")
        if self.prefixes:
            out.append("Débuts de mots : " + ", ".join(f"« {p}… »" for p in self.prefixes) + ".")
        if self.dropped:
            out.append(
                "Mots ignorés (trop courants, ou interrogatifs dans une question) : "
                + ", ".join(f"« {w} »" for w in self.dropped)
                + "."
            )
        if self.excluded:
            out.append("Exclus : " + ", ".join(f"« {w} »" for w in self.excluded) + ".")
        if self.all_words_required:
            out.append("Tous les mots doivent figurer dans le passage ou le titre de l'article.")
        else:
            out.append(
                "Question longue : il suffit d'un mot ; les passages qui en contiennent le plus "
                "et les plus rares passent devant."
            )
        if self.matched:
            out.append("Dans ce passage : " + ", ".join(f"« {w} »" for w in self.matched) + ".")
        else:
            out.append("Ce passage est le début d'un article dont le titre correspond.")
        if self.score is not None:
            out.append(f"Score (BM25F) : {self.score:.2f}.")
        return out

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "words": [{"word": w, "stem": s} for w, s in self.words],
            "dropped": list(self.dropped),
            "phrases": list(self.phrases),
            "prefixes": list(self.prefixes),
            "excluded": list(self.excluded),
            "all_words_required": self.all_words_required,
            "matched": list(self.matched),
            "score": self.score,
            "text": self.lines(),
        }


def explain(query: str, passage_text: str, score: float | None = None) -> Explanation:
    """Explain what a query became and which words of a passage it matched."""
    pq = parse_query(query)
    spans = match_spans(passage_text, pq.highlights)
    matched = tuple(dict.fromkeys(passage_text[s:e] for s, e in spans))
    words = tuple(
        (w, stems[0]) for w in pq.kept if (stems := query_terms(w)) and len(exact_terms(w)) == 1
    )
    return Explanation(
        query=pq.text,
        words=words,
        dropped=tuple(dict.fromkeys(pq.dropped)),
        phrases=tuple(" ".join(p) for p in pq.highlights.phrases),
        prefixes=pq.highlights.prefixes,
        excluded=pq.excluded_words,
        all_words_required=not pq.ranked_or,
        matched=matched,
        score=score,
    )


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


# The accented forms of a first letter, for words typed without their accent.
_ACCENTED = {"e": "éèê", "a": "àâ", "i": "î", "o": "ô", "u": "û", "c": "ç"}


def _edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (words are short: the plain dynamic programme will do)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _articles_by_evidence(arts, scores, articles, first, order, whole=None) -> np.ndarray:
    """Articles ranked by their best passage plus a share of their other passages' scores,
    plus their score as whole articles (``whole``, if given)."""
    best = scores[order][first]  # `first` indexes each article's best passage in `order`
    total = np.bincount(arts, weights=scores, minlength=int(articles.max()) + 1)[articles]
    combined = best + ARTICLE_SPREAD * (total - best)
    if whole is not None:
        combined = combined + whole
    return articles[np.lexsort((np.sort(first).searchsorted(first), -combined))]


def _passage(fields: dict, score: float, pq: ParsedQuery) -> PassageHit:
    return PassageHit(
        position=fields["position"],
        text=fields["text"],
        highlights=pq.highlights,
        score=score,
        start=fields["start"],
        end=fields["end"],
    )


def _check_params(limit: int, page: int, sort: str, group: str) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    if not 1 <= page <= MAX_PAGE:
        raise ValueError(f"page must be between 1 and {MAX_PAGE}, not {page}")
    if sort not in ("relevance", "date"):
        raise ValueError(f"sort must be 'relevance' or 'date', not {sort!r}")
    if group not in ("article", "passage"):
        raise ValueError(f"group must be 'article' or 'passage', not {group!r}")


class _Documents:
    """Per-generation arrays over documents (passages) and articles, read once."""

    def __init__(self, reader) -> None:
        article_of_doc = list(reader.column_reader("article_id"))
        self.article_ids, doc_article = np.unique(
            np.array(article_of_doc, dtype=object), return_inverse=True
        )
        self.doc_article = doc_article.astype(np.int32)  # article ordinal, in id order
        # Each article's date: its first passage's (all its passages carry the same).
        _, first = np.unique(self.doc_article, return_index=True)
        raw = _raw_dates(reader)[first].tolist()
        self.article_date = np.array(  # date ordinal, 0 if none
            [(when.toordinal() if when else 0) for when in map(_column_date, raw)],
            dtype=np.int32,
        )
        self.doc_date = self.article_date[self.doc_article]
        self.article_month = np.array(  # YYYYMM, 0 if undated
            [
                (d.year * 100 + d.month) if o else 0
                for o in self.article_date.tolist()
                for d in (dt.date.fromordinal(o or 1),)
            ],
            dtype=np.int32,
        )

    def timeline(self, articles: np.ndarray) -> tuple[tuple[str, int], ...]:
        """(YYYY-MM, number of these articles) for each month, in order."""
        months, counts = np.unique(self.article_month[articles], return_counts=True)
        return tuple(
            (f"{m // 100:04d}-{m % 100:02d}", int(c))
            for m, c in zip(months.tolist(), counts.tolist(), strict=True)
            if m
        )


def _raw_dates(reader) -> np.ndarray:
    # Segment by segment: a segment of undated articles has no date column at all.
    leaves = [(reader, 0)] if reader.is_atomic() else reader.leaf_readers()
    parts = []
    for leaf, _offset in leaves:
        n = leaf.doc_count_all()
        if leaf.has_column("date"):
            parts.append(numeric_column(leaf.column_reader("date", translate=False), n))
        else:
            parts.append(np.zeros(n, dtype=np.int64))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


class Searcher:
    """Searches one generation of an index; cheap to reuse, not to open."""

    def __init__(self, generation: Path) -> None:
        self.generation = generation
        self.meta: IndexMeta = read_meta(generation)
        self._ix = whoosh_index.open_dir(str(generation), readonly=True)
        self._searcher = self._ix.searcher(weighting=scoring.BM25F(B=BM25_B, K1=BM25_K1))
        self._size = _folder_size(generation)
        self._documents: _Documents | None = None
        self._arrays: TermArrays | None = None
        self._lead: np.ndarray | None = None
        self._articles: int | None = None

    def close(self) -> None:
        self._searcher.close()
        self._ix.close()

    def up_to_date(self) -> bool:
        return self._searcher.up_to_date()

    def documents(self) -> _Documents:
        if self._documents is None:
            self._documents = _Documents(self._searcher.reader())
        return self._documents

    def _term_arrays(self) -> tuple[TermArrays, np.ndarray]:
        if self._arrays is None:
            arrays = TermArrays(self._searcher.reader(), k1=BM25_K1, b=BM25_B)
            lead = np.zeros(arrays.doc_count, dtype=bool)
            lead[arrays.docs("lead", "1")] = True
            self._arrays, self._lead = arrays, lead
        return self._arrays, self._lead

    def _whole_articles(self, pq: ParsedQuery) -> np.ndarray:
        arrays, _ = self._term_arrays()
        d = self.documents()
        return rank_articles(
            arrays,
            list(pq.plain),
            d.doc_article,
            len(d.article_ids),
            k1=ARTICLE_BM25_K1,
            b=ARTICLE_BM25_B,
        )

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
            docs = np.zeros(0, dtype=np.int32)
            scores = np.zeros(0, dtype=np.float32)
        elif pq.plain is not None:
            title = ARTICLE_TITLE_WEIGHT if group == "article" else None
            docs, scores = self._rank_plain(pq, since, until, title)
            if len(docs) == 0 and len(pq.plain) > 1 and not pq.ranked_or and pq.may_relax:
                # No passage has every word: rank those with the most of them.
                pq = replace(pq, ranked_or=True, notes=(*pq.notes, PARTIAL_MATCH_NOTE))
                docs, scores = self._rank_plain(pq, since, until, title)
        else:
            docs, scores = self._rank_whoosh(pq, since, until)
        d = self.documents()
        arts = d.doc_article[docs]
        # Best first; equal scores in document order, so that results are stable.
        order = np.lexsort((docs, -scores))
        offset = (page - 1) * limit
        ranked_arts = arts[order]
        articles, first = np.unique(ranked_arts, return_index=True)
        if group == "passage":
            if sort == "date":
                order = np.lexsort((docs, arts, -d.doc_date[docs]))
            page_docs = order[offset : offset + limit]
            hits = [self._passage_hit(int(docs[i]), float(scores[i]), pq) for i in page_docs]
            total = len(docs)
        else:
            if sort == "date":
                by = np.lexsort((articles, -d.article_date[articles]))
                article_order = articles[by]
            elif (ARTICLE_SPREAD or ARTICLE_TEXT_WEIGHT) and len(articles):
                whole = None
                if ARTICLE_TEXT_WEIGHT and pq.plain is not None:
                    whole = ARTICLE_TEXT_WEIGHT * self._whole_articles(pq)[articles]
                article_order = _articles_by_evidence(arts, scores, articles, first, order, whole)
            else:
                article_order = ranked_arts[np.sort(first)]
            page_articles = article_order[offset : offset + limit]
            hits = self._article_hits(pq, page_articles, ranked_arts, docs[order], scores[order])
            total = len(articles)
        # A suggestion helps a few words that found little, not a long question.
        few = len(articles) < SUGGEST_BELOW and not pq.ranked_or
        suggestion = self.suggest(pq) if few else None
        return Results(
            query=pq.text,
            hits=tuple(hits),
            total=total,
            total_passages=len(docs),
            page=page,
            per_page=limit,
            group=group,
            sort=sort,
            took_ms=(time.perf_counter() - started) * 1000,
            suggestion=suggestion,
            since=since,
            until=until,
            timeline=d.timeline(articles),
            notes=pq.notes,
        )

    def _allowed(self, since: dt.date | None, until: dt.date | None) -> np.ndarray | None:
        if since is None and until is None:
            return None
        dates = self.documents().doc_date
        allowed = dates > 0
        if since is not None:
            allowed &= dates >= since.toordinal()
        if until is not None:
            allowed &= dates <= until.toordinal()
        return allowed

    def _rank_plain(
        self, pq: ParsedQuery, since, until, title_weight: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        arrays, lead = self._term_arrays()
        ranked = rank_words(
            arrays,
            list(pq.plain),
            list(pq.excluded),
            require_all=not pq.ranked_or,
            title_weight=querying.TITLE_WEIGHT if title_weight is None else title_weight,
            exact_bonus=querying.EXACT_BONUS,
            coordination=COORDINATION,
            lead=lead,
            allowed=self._allowed(since, until),
        )
        return ranked.docs, ranked.scores

    def _rank_whoosh(self, pq: ParsedQuery, since, until) -> tuple[np.ndarray, np.ndarray]:
        results = self._searcher.search(pq.query, limit=None)
        docs = np.fromiter((h.docnum for h in results), dtype=np.int32, count=len(results))
        scores = np.fromiter((h.score for h in results), dtype=np.float32, count=len(results))
        allowed = self._allowed(since, until)
        if allowed is not None:  # dates filter through their column: they are not terms
            keep = allowed[docs]
            docs, scores = docs[keep], scores[keep]
        return docs, scores

    def _article_hits(
        self,
        pq: ParsedQuery,
        page_articles: np.ndarray,
        ranked_arts: np.ndarray,
        ranked_docs: np.ndarray,
        ranked_scores: np.ndarray,
    ) -> list[Hit]:
        """One hit per article of the page, with its best passages (in score order)."""
        if len(page_articles) == 0:
            return []
        chosen = np.flatnonzero(np.isin(ranked_arts, page_articles))
        passages: dict[int, list[int]] = {}
        for i in chosen:
            best = passages.setdefault(int(ranked_arts[i]), [])
            if len(best) < PASSAGES_PER_HIT:
                best.append(int(i))
        reader = self._searcher.reader()
        hits = []
        for article in page_articles:
            picks = passages[int(article)]
            fields = [reader.stored_fields(int(ranked_docs[i])) for i in picks]
            head = fields[0]
            hits.append(
                Hit(
                    article_id=head["article_id"],
                    title=head["title"],
                    date=_to_date(head.get("date")),
                    source=head.get("source"),
                    url=head.get("url"),
                    score=float(ranked_scores[picks[0]]),
                    passages=tuple(
                        _passage(f, float(ranked_scores[i]), pq)
                        for f, i in zip(fields, picks, strict=True)
                    ),
                )
            )
        return hits

    def _passage_hit(self, docnum: int, score: float, pq: ParsedQuery) -> Hit:
        fields = self._searcher.reader().stored_fields(docnum)
        return Hit(
            article_id=fields["article_id"],
            title=fields["title"],
            date=_to_date(fields.get("date")),
            source=fields.get("source"),
            url=fields.get("url"),
            score=score,
            passages=(_passage(fields, score, pq),),
        )

    # --- spelling -------------------------------------------------------------------

    def suggest(self, pq: ParsedQuery) -> str | None:
        """The query with its unknown words replaced by the corpus's likeliest words.

        Candidates are the corpus's words as written (accents kept) within one edit, then
        two, of the typed word; the closest wins once accents are set aside, then the most
        frequent. Typos rarely touch a word's first letters, so the search of the
        vocabulary starts from them (and from the first letter's accented forms), which
        keeps it fast on a large vocabulary.
        """
        reader = self._searcher.reader()
        text = pq.text
        changed = False
        for word in pq.words:
            exact = exact_terms(word)
            if len(exact) != 1 or not word.isalpha() or len(word) < 3:
                continue
            if reader.doc_frequency("exact", exact[0]) > 0:
                continue
            best = self._closest_word(reader, word.lower())
            if best is None:
                continue
            if word[:1].isupper():
                best = best.upper() if word.isupper() and len(word) > 1 else best.capitalize()
            text = text.replace(word, best, 1)
            changed = True
        return text if changed else None

    @staticmethod
    def _closest_word(reader, word: str) -> str | None:
        starts = [word] + [v + word[1:] for v in _ACCENTED.get(fold_accents(word[0]), "")]
        for maxdist, prefix in ((1, 1), (2, 2)):
            if maxdist == 2 and len(word) <= 4:
                break
            candidates = {
                c
                for start in starts
                for c in reader.terms_within("spell", start, maxdist, prefix=prefix)
                if c != word
            }
            if candidates:
                plain = fold_accents(word)
                return min(
                    candidates,
                    key=lambda c: (
                        _edit_distance(fold_accents(c), plain),
                        -reader.doc_frequency("spell", c),
                        c,
                    ),
                )
        return None

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
                    highlights=pq.highlights if pq is not None else Highlights(),
                    snippet_chars=None,
                    score=0.0,
                    start=f["start"],
                    end=f["end"],
                )
                for f in stored
            ),
            matched_positions=matched,
        )

    def _live_articles(self) -> int:
        # Counted once: a searcher's view of its generation never changes (an update opens
        # a new searcher), and /healthz asks on every probe.
        if self._articles is None:
            live = np.fromiter(self._searcher.reader().all_doc_ids(), dtype=np.int64)
            self._articles = len(np.unique(self.documents().doc_article[live]))
        return self._articles

    def info(self, path: str) -> IndexInfo:
        reader = self._searcher.reader()
        return IndexInfo(
            path=path,
            generation=self.generation.name,
            articles=self._live_articles(),
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

    def explain(self, query: str, hit: Hit) -> Explanation:
        """Why this hit matched this query: the words kept, dropped, and found in it."""
        return explain(query, hit.text, hit.score)

    def info(self) -> IndexInfo:
        """Counts, build date, analyzer chain and size of the live generation."""
        return self.searcher().info(str(self.path))

    def close(self) -> None:
        with self._lock:
            if self._searcher is not None:
                self._searcher.close()
                self._searcher = None


__all__ = ["Hit", "Index", "IndexInfo", "PassageHit", "Results", "Searcher", "StoredArticle"]
