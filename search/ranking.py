"""Fast BM25F ranking of plain-word queries from postings held in numpy arrays.

whoosh's matcher tree walks postings one document at a time in Python, which takes seconds
for a long question over a large index. Most queries are plain words (all required, or a
question ranked as OR, maybe with ``-words``): for those the searcher scores here instead.
Each term's postings are read once per index generation into arrays of document numbers and
BM25 weights (whoosh's own formula, idf and byte-coded field lengths, so scores equal the
matcher tree's), then a query is a handful of vector additions over all documents.

Part of the searcher: this module reads whoosh storage, and nothing outside searching.py
calls it.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher, _lenfield
from whoosh.columns import NumericColumn
from whoosh.matching.wrappers import FilterMatcher
from whoosh.util.numeric import byte_to_length

from .querying import QueryWord

# The byte whoosh stores a field length as, decoded once.
_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float32)
# Postings kept in memory per searcher, counted in documents (about 12 bytes each).
_CACHE_POSTINGS = 30_000_000


@dataclass(frozen=True)
class Ranked:
    """Matching documents and their scores, in document order."""

    docs: np.ndarray  # int32 document numbers
    scores: np.ndarray  # float32


class TermArrays:
    """Per-generation arrays: field lengths, live documents, and cached term weights."""

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
        self._articles: tuple[np.ndarray, float, int] | None = None

    def _field_lengths(self, field: str) -> np.ndarray:
        lengths = self._lengths.get(field)
        if lengths is None:
            parts = []
            for leaf, _offset in self._leaves:
                n = leaf.doc_count_all()
                perdoc = getattr(leaf, "_perdoc", None)
                column = None
                if perdoc is not None and perdoc.has_column(_lenfield(field)):
                    column = perdoc.column_reader(_lenfield(field), LENGTHS_COLUMN)
                if column is None:
                    parts.append(np.zeros(n, dtype=np.float32))
                else:
                    parts.append(_LENGTH_OF_BYTE[numeric_column(column, n)])
            lengths = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
            self._lengths[field] = lengths
            self._avg[field] = (self.reader.field_length(field) / (self.doc_count or 1)) or 1.0
        return lengths

    def _postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        ids_parts, tf_parts = [], []
        for leaf, offset in self._leaves:
            if (field, term) not in leaf:
                continue
            matcher = leaf.postings(field, term)
            ids, tfs = _read_all(matcher)
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
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        ids, tfs = self._postings(field, term)
        if len(ids):
            keep = self.live[ids]
            ids, tfs = ids[keep], tfs[keep]
        df = self.reader.doc_frequency(field, term)
        idf = math.log(self.doc_count / (df + 1)) + 1
        lengths = self._field_lengths(field)[ids]
        norm = self.k1 * ((1 - self.b) + self.b * lengths / self._avg[field])
        weights = (idf * (tfs * (self.k1 + 1)) / (tfs + norm)).astype(np.float32)
        return self._remember(key, (ids.astype(np.int32), weights, tfs))

    def _remember(self, key: tuple[str, str], entry: tuple) -> tuple:
        self._cache[key] = entry
        self._cached += len(entry[0])
        while self._cached > _CACHE_POSTINGS and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cached -= len(old[0])
        return entry

    def docs(self, field: str, term: str) -> np.ndarray:
        return self.weights(field, term)[0]

    def article_weights(
        self, term: str, doc_article: np.ndarray, n_articles: int, k1: float, b: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """(article numbers, BM25 weights) of a term in whole articles' text.

        An article is scored as one document: its passages' frequencies added up, its
        length theirs, the idf counted in articles.
        """
        key = ("#article", f"{term}|{k1}|{b}")
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        ids, _, tfs = self._entry("text", term)  # live documents only
        per_article = np.bincount(doc_article[ids], weights=tfs, minlength=n_articles)
        articles = np.flatnonzero(per_article)
        tfs = per_article[articles]
        lengths, average, live_articles = self._article_lengths(doc_article, n_articles)
        idf = math.log(live_articles / (len(articles) + 1)) + 1
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


def numeric_column(column, count: int) -> np.ndarray:
    """The ``count`` values of a whoosh numeric column, read at once."""
    if not isinstance(column, NumericColumn.Reader):
        return np.array([column[i] for i in range(count)])
    # The column is the values packed big-endian, then the default for the documents after
    # the last one written (whoosh's NumericColumn layout).
    stored = min(column._count, count)
    raw = column._dbfile.get(column._basepos, stored * column._fixedlen)
    packed = np.dtype(">" + column._typecode)
    values = np.frombuffer(raw, dtype=packed).astype(packed.newbyteorder("="))
    if stored < count:
        rest = np.full(count - stored, column._default, dtype=values.dtype)
        values = np.concatenate([values, rest])
    return values


def _read_all(matcher) -> tuple[np.ndarray, np.ndarray]:
    """All (docnum, weight) postings of a matcher, a block at a time where possible."""
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child  # deleted documents are dropped by the live mask instead
    if isinstance(matcher, W3LeafMatcher):
        # A block's data is (id deltas from the block's start, weights, values): decoded
        # here with numpy rather than by whoosh's per-posting Python generators.
        ids, weights = [], []
        while matcher.is_active():
            if matcher._data is None:
                matcher._read_data()
            deltas, block_weights, _ = matcher._data
            n = len(deltas)
            ids.append(np.cumsum(np.fromiter(deltas, dtype=np.int64, count=n)))
            if block_weights is None:
                weights.append(np.ones(n, dtype=np.float32))
            elif isinstance(block_weights, float):
                weights.append(np.full(n, block_weights, dtype=np.float32))
            else:
                weights.append(np.asarray(block_weights, dtype=np.float32))
            matcher._next_block()
        if not ids:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return np.concatenate(ids), np.concatenate(weights)
    ids_list: list[int] = []
    weights_list: list[float] = []
    while matcher.is_active():  # any other matcher: the public, slower way
        ids_list.append(matcher.id())
        weights_list.append(matcher.weight())
        matcher.next()
    return np.asarray(ids_list, dtype=np.int64), np.asarray(weights_list, dtype=np.float32)


def rank_words(
    arrays: TermArrays,
    words: list[QueryWord],
    excluded: list[str],
    *,
    require_all: bool,
    title_weight: float,
    exact_bonus: float,
    coordination: float,
    lead: np.ndarray,
    allowed: np.ndarray | None,
) -> Ranked:
    """Score every document for plain words; keep those the query matches.

    A document matches when it has every word (``require_all``) or any word, in its text or
    its title; and at least one in its own text unless it is its article's first passage
    (so a title match alone brings in the article, by its lead, and not every passage).
    """
    n = arrays.doc_count
    scores = np.zeros(n, dtype=np.float32)
    matched = np.zeros(n, dtype=np.int16)
    in_text = np.zeros(n, dtype=bool)
    for word in words:
        text_ids, text_w = arrays.weights("text", word.stem)
        title_ids, title_w = arrays.weights("title", word.stem)
        scores[text_ids] += text_w
        scores[title_ids] += title_weight * title_w
        if exact_bonus and word.exact is not None:
            exact_ids, exact_w = arrays.weights("exact", word.exact)
            scores[exact_ids] += exact_bonus * exact_w
        has = np.zeros(n, dtype=bool)
        has[text_ids] = True
        has[title_ids] = True
        matched += has
        in_text[text_ids] = True
    mask = (matched == len(words)) if require_all else (matched > 0)
    mask &= in_text | lead
    mask &= arrays.live
    if allowed is not None:
        mask &= allowed
    for stem in excluded:
        mask[arrays.docs("text", stem)] = False
        mask[arrays.docs("title", stem)] = False
    docs = np.flatnonzero(mask).astype(np.int32)
    result = scores[docs]
    if coordination and len(words) > 1:
        result *= (matched[docs] / len(words)) ** coordination
    return Ranked(docs=docs, scores=result)


def rank_articles(
    arrays: TermArrays,
    words: list[QueryWord],
    doc_article: np.ndarray,
    n_articles: int,
    *,
    k1: float,
    b: float,
) -> np.ndarray:
    """Every article's BM25 score for plain words over its whole text (by article number)."""
    scores = np.zeros(n_articles, dtype=np.float32)
    for word in words:
        articles, weights = arrays.article_weights(word.stem, doc_article, n_articles, k1, b)
        scores[articles] += weights
    return scores
