"""Phrases matched from postings read a block at a time.

whoosh's phrase matcher walks the intersection of its words' postings one document at a
time through a tree of Python matchers, reading each document's positions as it goes:
hundreds of milliseconds for « États-Unis » on the development corpus. Here the documents
holding every word come from one numpy intersection, and only theirs positions are read.
The documents and their scores are whoosh's (the sum of the words' BM25F scores).
"""

from __future__ import annotations

import bisect
import time

import numpy as np
from whoosh import matching
from whoosh import query as wq

from ._internals import bm25_weights, decode_positions, field_lengths, read_postings_values

# Documents checked between two looks at the clock.
_CLOCK_EVERY = 64


class OutOfTime(Exception):
    """A search reached its deadline (``time.monotonic()``) inside the whoosh backend."""


class ArrayPhrase(wq.Phrase):
    """whoosh's Phrase (its words in a row in one field), matched from whole postings."""

    def __init__(self, fieldname, words, boost=1.0, deadline: float = float("inf")) -> None:
        super().__init__(fieldname, list(words), boost=boost)
        self.deadline = deadline
        # A query may hold the phrase twice (to rank, and as the passage's own text): each
        # segment's postings are read, and each document's positions checked, once.
        self._read: dict[int, tuple] = {}

    def normalize(self):
        if len(self.words) < 2:
            return super().normalize()
        return self

    def matcher(self, searcher, context=None):
        reader = searcher.reader()
        field = self.fieldname
        if field not in searcher.schema or any((field, w) not in reader for w in self.words):
            return matching.NullMatcher()
        read = self._read.get(id(reader))
        if read is None or read[0] is not reader:
            read = self._read[id(reader)] = (reader, *self.candidates(reader), {})
        _, docs, postings, rows, checked = read
        weighting = searcher.weighting if context is None else context.weighting
        scores = np.zeros(len(docs), dtype=np.float64)
        if weighting is not None:  # None: a condition, not scored
            lengths = field_lengths(reader, field, reader.doc_count_all())[docs]
            for word in self.words:  # a word twice in the phrase counts twice, as in whoosh
                scorer = weighting.scorer(searcher, field, word)
                scores += bm25_weights(scorer, postings[word][1][rows[word]], lengths)
        values = [(postings[w][2], rows[w]) for w in self.words]
        return _PhraseMatcher(docs, scores * self.boost, values, self.deadline, checked)

    def candidates(self, reader) -> tuple[np.ndarray, dict, dict]:
        """The segment's live documents that hold every word, each word's postings, and
        where each of those documents is in them."""
        distinct = list(dict.fromkeys(self.words))
        postings = {w: read_postings_values(reader.postings(self.fieldname, w)) for w in distinct}
        docs = postings[distinct[0]][0]
        for word in distinct[1:]:
            docs = np.intersect1d(docs, postings[word][0], assume_unique=True)
        if reader.has_deletions():
            docs = docs[[not reader.is_deleted(int(d)) for d in docs]]
        rows = {w: np.searchsorted(postings[w][0], docs) for w in distinct}
        return docs, postings, rows


def in_a_row(values: list[tuple[list[bytes], np.ndarray]], i: int) -> bool:
    """Whether candidate ``i`` holds the words in a row: ``values`` gives, word by word,
    its postings' encoded positions and the candidates' rows in them."""
    starts = None
    for offset, (encoded, rows) in enumerate(values):
        found = {p - offset for p in decode_positions(encoded[rows[i]])}
        starts = found if starts is None else starts & found
        if not starts:
            return False
    return True


class _PhraseMatcher(matching.Matcher):
    """The candidate documents (every word there) whose positions hold the words in a row."""

    def __init__(self, docs, scores, values, deadline: float, checked: dict[int, bool]) -> None:
        self._docs = docs.tolist()
        self._scores = scores.tolist()
        self._values = values
        self._deadline = deadline
        self._checked = checked  # by candidate: its words in a row or not
        self._at = 0
        self._settle()

    def _in_a_row(self, i: int) -> bool:
        known = self._checked.get(i)
        if known is None:
            known = self._checked[i] = in_a_row(self._values, i)
        return known

    def _settle(self) -> None:
        """Move to the first candidate from here whose words stand in a row."""
        checked = 0
        while self._at < len(self._docs) and not self._in_a_row(self._at):
            self._at += 1
            checked += 1
            if checked % _CLOCK_EVERY == 0 and time.monotonic() > self._deadline:
                raise OutOfTime

    def is_active(self) -> bool:
        return self._at < len(self._docs)

    def id(self) -> int:
        return self._docs[self._at]

    def score(self) -> float:
        return self._scores[self._at]

    def weight(self) -> float:
        return self._scores[self._at]

    def next(self) -> None:
        self._at += 1
        self._settle()

    def skip_to(self, id) -> None:
        if not self.is_active():
            raise matching.ReadTooFar
        if id <= self.id():
            return
        self._at = bisect.bisect_left(self._docs, id, self._at)
        self._settle()

    def copy(self):
        copied = _PhraseMatcher.__new__(_PhraseMatcher)
        copied.__dict__.update(self.__dict__)
        return copied

    def replace(self, minquality=0):
        return self if self.is_active() else matching.NullMatcher()

    def supports(self, astype) -> bool:
        return False
