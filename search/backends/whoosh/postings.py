"""Fast BM25F ranking of plain-word queries from postings held in numpy arrays.

whoosh's matcher tree walks postings one document at a time in Python, which takes seconds
for a long question over a large index. Most queries are plain words (all required, or a
question ranked as OR, maybe with ``-words``): for those the searcher scores here instead.
Each term's postings are read once per index generation into arrays of document numbers and
BM25 weights (whoosh's own formula, idf and byte-coded field lengths, so scores equal the
matcher tree's), then a query is a handful of vector additions over all documents.

Part of the whoosh backend: the private parts of whoosh it reads are in ``_internals``.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from whoosh.reading import TermNotFound

from ...querying import Term
from ...ranking import RankingConfig
from ..base import Evidence
from ._internals import field_lengths, read_postings

# Postings kept in memory per searcher, counted in documents (about 12 bytes each).
_CACHE_POSTINGS = 30_000_000


@dataclass(frozen=True)
class PrefixTerms:
    """A prefix as the vocabulary read it: the words it starts, as written (the exact
    field) and as title stems."""

    exact: tuple[str, ...]
    titles: tuple[str, ...]


@dataclass(frozen=True)
class Ranked:
    """Matching documents and their scores, in document order."""

    docs: np.ndarray  # int32 document numbers
    scores: np.ndarray  # float32
    timed_out: bool = False


class TermArrays:
    """Per-generation arrays: field lengths, live documents, and cached term weights.

    Threads may share one: each array is made whole before others can see it, and the
    cache's bookkeeping is done under a lock (reads from the index are not).
    """

    def __init__(self, reader, k1: float, b: float) -> None:
        self.reader = reader
        self.k1 = k1
        self.b = b
        self.doc_count = reader.doc_count_all()
        if reader.has_deletions():
            self.live = np.zeros(self.doc_count, dtype=bool)
            self.live[np.fromiter(reader.all_doc_ids(), dtype=np.int64)] = True
        else:
            self.live = np.ones(self.doc_count, dtype=bool)
        self._leaves = [(reader, 0)] if reader.is_atomic() else list(reader.leaf_readers())
        self._lengths: dict[str, np.ndarray] = {}
        self._avg: dict[str, float] = {}
        self._cache: OrderedDict[tuple[str, str], tuple] = OrderedDict()
        self._cached = 0
        self._cache_lock = threading.Lock()
        self._articles: tuple[np.ndarray, float, int] | None = None

    def _field_lengths(self, field: str) -> np.ndarray:
        lengths = self._lengths.get(field)
        if lengths is None:
            parts = []
            for leaf, _offset in self._leaves:
                n = leaf.doc_count_all()
                found = field_lengths(leaf, field, n)
                parts.append(np.zeros(n, dtype=np.float32) if found is None else found)
            lengths = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
            # The average first: a field's lengths, once seen, come with it.
            self._avg[field] = (self.reader.field_length(field) / (self.doc_count or 1)) or 1.0
            self._lengths[field] = lengths
        return lengths

    def _postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """Every posting of a term (deleted documents too: whoosh's document frequency
        counts them, and so does the idf)."""
        ids_parts, tf_parts = [], []
        for leaf, offset in self._leaves:
            try:
                matcher = leaf.postings(field, term)
            except TermNotFound:
                continue
            ids, tfs = read_postings(matcher)
            ids_parts.append(ids + offset)
            tf_parts.append(tfs)
        if not ids_parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(ids_parts), np.concatenate(tf_parts)

    def weights(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers, BM25 weights) of a term in a field, live documents only."""
        ids, weights, _ = self._entry(field, term)
        return ids, weights

    def _entry(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(document numbers, BM25 weights, frequencies), read once and cached."""
        key = (field, term)
        hit = self._recall(key)
        if hit is not None:
            return hit
        ids, tfs = self._postings(field, term)
        idf = _idf(self.doc_count, len(ids))
        if len(ids):
            keep = self.live[ids]
            ids, tfs = ids[keep], tfs[keep]
        lengths = self._field_lengths(field)[ids]
        norm = self.k1 * ((1 - self.b) + self.b * lengths / self._avg[field])
        weights = (idf * (tfs * (self.k1 + 1)) / (tfs + norm)).astype(np.float32)
        return self._remember(key, (ids.astype(np.int32), weights, tfs))

    def _recall(self, key: tuple[str, str]) -> tuple | None:
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
            return hit

    def _remember(self, key: tuple[str, str], entry: tuple) -> tuple:
        with self._cache_lock:
            if key in self._cache:  # another thread read it meanwhile
                return self._cache[key]
            self._cache[key] = entry
            self._cached += len(entry[0])
            while self._cached > _CACHE_POSTINGS and len(self._cache) > 1:
                _, old = self._cache.popitem(last=False)
                self._cached -= len(old[0])
        return entry

    def text_lengths(self) -> tuple[np.ndarray, float]:
        """Every document's text length (in terms, as BM25 reads it) and the average."""
        lengths = self._field_lengths("text")
        return lengths, self._avg["text"]

    def docs(self, field: str, term: str) -> np.ndarray:
        return self.weights(field, term)[0]

    @property
    def leaves(self) -> list[tuple[object, int]]:
        """Each segment's reader and the number of its first document."""
        return self._leaves

    def article_weights(
        self, term: str, doc_article: np.ndarray, n_articles: int, k1: float, b: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """(article numbers, BM25 weights) of a term in whole articles' text.

        An article is scored as one document: its passages' frequencies added up, its
        length theirs, the idf counted in articles.
        """
        key = ("#article", f"{term}|{k1}|{b}")
        hit = self._recall(key)
        if hit is not None:
            return hit
        ids, _, tfs = self._entry("text", term)  # live documents only
        per_article = np.bincount(doc_article[ids], weights=tfs, minlength=n_articles)
        articles = np.flatnonzero(per_article)
        tfs = per_article[articles]
        lengths, average, live_articles = self._article_lengths(doc_article, n_articles)
        idf = _idf(live_articles, len(articles))
        norm = k1 * ((1 - b) + b * lengths[articles] / average)
        weights = (idf * (tfs * (k1 + 1)) / (tfs + norm)).astype(np.float32)
        return self._remember(key, (articles.astype(np.int32), weights))

    def _article_lengths(
        self, doc_article: np.ndarray, n_articles: int
    ) -> tuple[np.ndarray, float, int]:
        if self._articles is None:
            lengths = np.bincount(
                doc_article[self.live],
                weights=self._field_lengths("text")[self.live],
                minlength=n_articles,
            )
            live = int(np.count_nonzero(np.bincount(doc_article[self.live], minlength=n_articles)))
            self._articles = (lengths, float(lengths.sum() / max(live, 1)) or 1.0, max(live, 1))
        return self._articles


def _idf(documents: int, frequency: int) -> float:
    """whoosh's BM25 idf; an index emptied by removals has none to give (0, not an error)."""
    if documents <= 0:
        return 0.0
    return math.log(documents / (frequency + 1)) + 1


def rank_words(
    arrays: TermArrays,
    words: tuple[Term | PrefixTerms, ...],
    excluded: tuple[str, ...],
    *,
    require_all: bool,
    title_weight: float,
    exact_bonus: float,
    lead: np.ndarray,
    allowed: np.ndarray | None,
    deadline: float,
) -> Ranked:
    """Score every document for plain words; keep those the query matches.

    A document matches when it has every word (``require_all``) or any word, in its text or
    its title; and at least one in its own text unless it is its article's first passage
    (so a title match alone brings in the article, by its lead, and not every passage).
    Past the deadline (``time.monotonic()``), a query of any of its words leaves out the
    words not yet read, and the result says it timed out; one of every word reads them all,
    never to keep a document that lacks one.
    """
    n = arrays.doc_count
    scores = np.zeros(n, dtype=np.float32)
    matched = np.zeros(n, dtype=np.int16)
    in_text = np.zeros(n, dtype=bool)
    read = 0
    for word in words:
        if read and not require_all and time.monotonic() > deadline:
            break
        if read and require_all and matched.max() < read:
            break  # no document has every word read so far: none can have them all
        read += 1
        has = np.zeros(n, dtype=bool)
        for field, term, weight, text, match in _postings_of(word, title_weight, exact_bonus):
            ids, weights = arrays.weights(field, term)
            scores[ids] += weight * weights if weight != 1.0 else weights
            if text:
                in_text[ids] = True
            if match:
                has[ids] = True
        matched += has
    mask = (matched == read) if require_all else (matched > 0)
    mask &= in_text | lead
    mask &= arrays.live
    if allowed is not None:
        mask &= allowed
    for stem in excluded:
        mask[arrays.docs("text", stem)] = False
        mask[arrays.docs("title", stem)] = False
    docs = np.flatnonzero(mask).astype(np.int32)
    return Ranked(docs=docs, scores=scores[docs], timed_out=read < len(words) and not require_all)


def _postings_of(word: Term | PrefixTerms, title_weight: float, exact_bonus: float):
    """(field, term, weight, in the passage's own text, makes the word match) for each
    posting list of a word: the exact-form bonus scores but matches nothing by itself (as
    whoosh's AndMaybe in the compiled query)."""
    if isinstance(word, PrefixTerms):
        yield from (("exact", w, 1.0, True, True) for w in word.exact)
        yield from (("title", w, title_weight, False, True) for w in word.titles)
    elif word.field == "exact":  # a common word, as written: in the text only
        yield "exact", word.stem, 1.0, True, True
    else:
        yield "text", word.stem, 1.0, True, True
        yield "title", word.stem, title_weight, False, True
        if exact_bonus and word.exact is not None:
            yield "exact", word.exact, exact_bonus, False, False


def whole_article_scores(
    arrays: TermArrays,
    words: tuple[Term, ...],
    doc_article: np.ndarray,
    n_articles: int,
    config: RankingConfig,
) -> np.ndarray:
    """Every article's BM25 score for plain words over its whole text (by article number)."""
    scores = np.zeros(n_articles, dtype=np.float32)
    k1, b = config.article_bm25_k1, config.article_bm25_b
    for word in words:
        if not isinstance(word, Term) or word.field == "exact":
            continue  # a prefix, a common word: not in the stemmed text
        articles, weights = arrays.article_weights(word.stem, doc_article, n_articles, k1, b)
        scores[articles] += weights
    return scores


def article_words(
    arrays: TermArrays,
    words: tuple[Term, ...],
    doc_article: np.ndarray,
    n_articles: int,
    articles: np.ndarray,
    config: RankingConfig,
) -> np.ndarray:
    """Which of the words (rows) each of ``articles`` (columns) holds in its stemmed text
    (a common word, kept only as written, in none)."""
    held = np.zeros((len(words), len(articles)), dtype=bool)
    k1, b = config.article_bm25_k1, config.article_bm25_b
    for row, word in enumerate(words):
        if not isinstance(word, Term) or word.field == "exact" or len(articles) == 0:
            continue
        # The whole-article scores have just read the same lists (cached, sorted).
        having, _ = arrays.article_weights(word.stem, doc_article, n_articles, k1, b)
        if len(having):
            at = np.minimum(np.searchsorted(having, articles), len(having) - 1)
            held[row] = having[at] == articles
    return held


def word_evidence(arrays: TermArrays, words: tuple[Term, ...], docs: np.ndarray) -> Evidence:
    """Each word's weight in the text, title and exact fields of ``docs``, its frequency in
    their text, and its idf."""
    shape = (len(words), len(docs))
    found = {name: np.zeros(shape, dtype=np.float32) for name in ("text", "title", "exact")}
    tf = np.zeros(shape, dtype=np.float32)
    idf = np.zeros(len(words), dtype=np.float32)
    for row, word in enumerate(words):
        terms = {"text": word.stem, "title": word.stem, "exact": word.exact}
        if word.field == "exact":  # a common word: only as written
            terms = {"exact": word.stem}
        for field, term in terms.items():
            if term is None or len(docs) == 0:
                continue
            ids, weights, tfs = arrays._entry(field, term)
            if len(ids) == 0:
                continue
            at = np.minimum(np.searchsorted(ids, docs), len(ids) - 1)
            present = ids[at] == docs
            found[field][row] = np.where(present, weights[at], 0.0)
            if field == "text":
                tf[row] = np.where(present, tfs[at], 0.0)
        df = arrays.reader.doc_frequency("text", word.stem) if word.field != "exact" else 0
        idf[row] = _idf(arrays.doc_count, df)
    lengths, average = arrays.text_lengths()
    return Evidence(
        text=found["text"],
        title=found["title"],
        exact=found["exact"],
        idf=idf,
        text_tf=tf,
        text_length=lengths[docs] if len(docs) else np.zeros(0, dtype=np.float32),
        average_length=average,
    )
