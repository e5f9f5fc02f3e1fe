"""A compiled query matched and scored over whole postings, as whoosh's matcher tree does.

whoosh walks a query's matcher tree one document at a time in Python: tens of
microseconds a document, so a phrase or a compound over thousands of passages costs
hundreds of milliseconds. Here each node of the same compiled query is a set of documents
and their scores (numpy arrays in document order), and a node of nodes combines them as
whoosh's matcher would: an OR adds the scores of the children a document matches, an AND
keeps the documents of every child and adds their scores, AndMaybe adds its second
child's score where it matches, AndNot and Require keep the first child's scores; every
document (and every one a NOT leaves) scores 1. Word
scores are ``TermArrays``'s (whoosh's BM25F, computed as the plain-word path does).
A node this module does not know raises ``Unsupported``: the caller then lets whoosh
match the query itself.

Past the deadline, the documents found are those whoosh's collector would have kept: the
query is exact up to the document where a phrase's reading stopped (``frontier``), and
nothing beyond it counts. Words are read whatever the time (their postings are arrays,
read in moments); only a phrase's positions, read a document at a time, look at it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from whoosh import query as wq

from .phrases import ArrayPhrase, in_a_row
from .postings import TermArrays

# Documents whose positions are read between two looks at the clock.
_CLOCK_EVERY = 256


class Unsupported(Exception):
    """A query node this module does not score as whoosh would."""


@dataclass(frozen=True)
class Matched:
    """Documents (sorted, unique) and their scores."""

    docs: np.ndarray  # int64
    scores: np.ndarray  # float64


_NOTHING = Matched(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


class Evaluator:
    """Match one compiled query over a generation's postings."""

    def __init__(self, arrays: TermArrays, deadline: float) -> None:
        self.arrays = arrays
        self.deadline = deadline
        self.frontier: int | None = None  # where a phrase's reading stopped, if it did
        # A query may hold a phrase twice (to rank, and as the passage's own text).
        self._phrases: dict[int, np.ndarray] = {}

    @property
    def timed_out(self) -> bool:
        return self.frontier is not None

    def run(self, q: wq.Query) -> Matched:
        """The query's documents and scores (raises Unsupported)."""
        found = self.node(q, scored=True)
        if self.frontier is None:
            return found
        keep = found.docs < self.frontier
        return Matched(found.docs[keep], found.scores[keep])

    def node(self, q: wq.Query, scored: bool) -> Matched:
        found = self._match(q, scored)
        # whoosh boosts an OR or AND of several queries (a word and a phrase boost their
        # own scores); one of a single query is that query, and the others ignore theirs.
        several = type(q) in (wq.Or, wq.And) and len(q.subqueries) > 1
        if scored and several and q.boost != 1.0:
            return Matched(found.docs, found.scores * q.boost)
        return found

    def _match(self, q: wq.Query, scored: bool) -> Matched:
        if isinstance(q, ArrayPhrase):
            return self.phrase(q, scored)
        if isinstance(q, wq.Term):
            return self.term(q, scored)
        if q is wq.NullQuery or isinstance(q, type(wq.NullQuery)):
            return _NOTHING
        kind = type(q)
        if kind is wq.Or:
            return _union([self.node(sub, scored) for sub in q.subqueries])
        if kind is wq.And:
            return _intersection([self.node(sub, scored) for sub in q.subqueries])
        if kind is wq.AndMaybe:
            return _maybe(self.node(q.a, scored), self.node(q.b, scored))
        if kind is wq.Require:
            return _keep(self.node(q.a, scored), self.node(q.b, scored=False), inside=True)
        if isinstance(q, wq.AndNot):
            return _keep(self.node(q.a, scored), self.node(q.b, scored=False), inside=False)
        if kind is wq.Every and q.fieldname is None:
            return self._live(scored)
        if kind is wq.Not:  # every other document, each scoring 1 as whoosh's inverse does
            return _keep(self._live(scored), self.node(q.query, scored=False), inside=False)
        raise Unsupported(type(q).__name__)

    def _live(self, scored: bool) -> Matched:
        docs = np.flatnonzero(self.arrays.live).astype(np.int64)
        return Matched(docs, np.ones(len(docs)) if scored else np.zeros(len(docs)))

    def term(self, q: wq.Term, scored: bool) -> Matched:
        if scored and not self.arrays.reader.schema[q.fieldname].scorable:
            raise Unsupported(f"a score in {q.fieldname}")  # whoosh's is the weight
        ids, weights = self.arrays.weights(q.fieldname, q.text)
        ids = ids.astype(np.int64)
        if not scored:
            return Matched(ids, np.zeros(len(ids)))
        return Matched(ids, weights.astype(np.float64) * q.boost)

    def phrase(self, q: ArrayPhrase, scored: bool) -> Matched:
        docs = self._phrases.get(id(q))
        if docs is None:
            docs = self._phrases[id(q)] = self._phrase_docs(q)
        scores = np.zeros(len(docs))
        if scored:
            for word in q.words:  # a word twice in the phrase counts twice, as in whoosh
                ids, weights = self.arrays.weights(q.fieldname, word)
                scores += weights[np.searchsorted(ids, docs)]
            scores *= q.boost
        return Matched(docs, scores)

    def _phrase_docs(self, q: ArrayPhrase) -> np.ndarray:
        """The documents holding the phrase's words in a row, up to the frontier."""
        found = []
        for leaf, offset in self.arrays.leaves:
            if self.frontier is not None and offset >= self.frontier:
                break
            if any((q.fieldname, w) not in leaf for w in q.words):
                continue
            docs, postings, rows = q.candidates(leaf)
            values = [(postings[w][2], rows[w]) for w in q.words]
            keep = np.zeros(len(docs), dtype=bool)
            for i, doc in enumerate((docs + offset).tolist()):
                if self.frontier is not None and doc >= self.frontier:
                    break
                if i % _CLOCK_EVERY == 0 and time.monotonic() > self.deadline:
                    self.frontier = doc if self.frontier is None else min(self.frontier, doc)
                    break
                keep[i] = in_a_row(values, i)
            found.append(docs[keep] + offset)
        return np.concatenate(found) if found else _NOTHING.docs


def _union(parts: list[Matched]) -> Matched:
    parts = [p for p in parts if len(p.docs)]
    if not parts:
        return _NOTHING
    if len(parts) == 1:
        return parts[0]
    docs, at = np.unique(np.concatenate([p.docs for p in parts]), return_inverse=True)
    scores = np.bincount(at, weights=np.concatenate([p.scores for p in parts]), minlength=len(docs))
    return Matched(docs, scores)


def _intersection(parts: list[Matched]) -> Matched:
    if not parts:
        return _NOTHING
    docs, scores = parts[0].docs, parts[0].scores
    for part in parts[1:]:
        docs, mine, theirs = np.intersect1d(
            docs, part.docs, assume_unique=True, return_indices=True
        )
        scores = scores[mine] + part.scores[theirs]
    return Matched(docs, scores)


def _maybe(first: Matched, second: Matched) -> Matched:
    _, mine, theirs = np.intersect1d(
        first.docs, second.docs, assume_unique=True, return_indices=True
    )
    scores = first.scores.copy()
    scores[mine] += second.scores[theirs]
    return Matched(first.docs, scores)


def _keep(first: Matched, second: Matched, inside: bool) -> Matched:
    """The first's documents in (or not in) the second's, with the first's scores."""
    keep = np.isin(first.docs, second.docs, assume_unique=True, invert=not inside)
    return Matched(first.docs[keep], first.scores[keep])
