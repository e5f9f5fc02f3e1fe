"""The backend seam: what the layers above ask of a storage engine, and the values it returns.

Above the seam (the query language, analysis, ranking config, grouping, snippets, spelling,
explain) nothing knows which engine holds the passages. A backend stores analysed passages
(built in generations switched atomically, updated by article), keeps the corpus statistics
its scores need, and answers a query with scored candidate passages: their numbers, scores,
articles and dates, enough for grouping, paging, the timeline and a second-stage ranker.
Passage and article numbers are the backend's own; only ``StoredPassage`` leaves it whole.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ..corpus import Article
from ..passages import Passage
from ..querying import ParsedQuery, PlainPlan, Term
from ..ranking import RankingConfig

# An article's date and time of day as one number that orders them: its day's ordinal times
# the minutes of a day and one, plus one more than the minutes past midnight when its time is
# known. 0 is no date; a day's articles without a time come after those with one, newest
# first.
_MINUTES = 24 * 60 + 1


def moment(date: dt.date | None, time: dt.time | None) -> int:
    """An article's date and time of day as one number (0 when undated), as backends store
    them: the newest is the largest."""
    if date is None:
        return 0
    return date.toordinal() * _MINUTES + (time.hour * 60 + time.minute + 1 if time else 0)


def moment_date(value: int) -> dt.date | None:
    """The date of a stored ``moment``."""
    day = int(value) // _MINUTES
    return dt.date.fromordinal(day) if 0 < day <= dt.date.max.toordinal() else None


def moment_time(value: int) -> dt.time | None:
    """The time of day of a stored ``moment``, None when it holds none."""
    minutes = int(value) % _MINUTES - 1
    return dt.time(minutes // 60, minutes % 60) if minutes >= 0 and value > 0 else None


def moment_ordinals(values: np.ndarray) -> np.ndarray:
    """The date ordinals (int32, 0 where undated) of an array of moments."""
    days = np.asarray(values, dtype=np.int64) // _MINUTES
    return np.where((days > 0) & (days <= dt.date.max.toordinal()), days, 0).astype(np.int32)


@dataclass(frozen=True)
class IndexedArticle:
    """An article as a backend writes it: its passages, its duplicate cluster (the id of the
    cluster's first article) and its near-duplicate signature (kept for later updates)."""

    article: Article
    passages: list[Passage]
    cluster: str
    signature: bytes


@dataclass(frozen=True)
class Filters:
    """Conditions on the articles a backend returns (besides the words).

    Sources and categories are not here: they are facets, counted over the candidates
    with the other filters, and filtered above the seam.
    """

    since: dt.date | None = None
    until: dt.date | None = None


@dataclass(frozen=True)
class Best:
    """What a caller needs of a query's matches when it does not need every one of them
    scored: the best ``count`` articles (``group="article"``) or passages, ranked by
    relevance (or with ``by_date`` the newest), each with all its matching passages; with
    ``copies``, the matching copies of each (collapsing) and the counts of clusters of
    copies."""

    count: int
    by_article: bool
    copies: bool
    by_date: bool = False


@dataclass(frozen=True)
class Counts:
    """What a backend counted over all of a query's matches, when its Candidates hold only
    the best articles: passages, articles, clusters of copies (an article and its copies
    count once), and for each facet ("source", "category", "month": "YYYY-MM" of dated
    articles) the articles and the clusters by value.

    A cluster counts in a month once, in the month of its first article in id order.
    """

    passages: int
    articles: int
    clusters: int
    by_article: Mapping[str, Mapping[str, int]]
    by_cluster: Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class Candidates:
    """The passages a query matched, scored by the first stage (arrays of equal length).

    ``timed_out``: the search used its time budget, and these are what it found by then.
    ``capped``: the backend kept only its best matches (a cluster shard's ``max_matches``),
    so the totals counted from these are lower bounds.
    ``counts``: None when these are every passage matched; else these are the best
    articles' (see ``Best``), and ``counts`` what was matched in all.
    """

    docs: np.ndarray  # int32: the backend's passage numbers
    scores: np.ndarray  # float32
    articles: np.ndarray  # int32: the backend's article numbers
    moments: np.ndarray  # int64: their articles' dates and times (``moment``), 0 undated
    notes: tuple[str, ...] = ()
    timed_out: bool = False
    capped: bool = False
    # For each facet ("source", "category"): each candidate's value, as a code into
    # ``facet_values[facet]`` (whose "" means none).
    facet_codes: Mapping[str, np.ndarray] = field(default_factory=dict)
    facet_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    counts: Counts | None = None

    @property
    def matched(self) -> int:
        """How many passages the query matched."""
        return self.counts.passages if self.counts is not None else len(self.docs)

    @property
    def dates(self) -> np.ndarray:
        """Their articles' date ordinals (int32), 0 when undated."""
        return moment_ordinals(self.moments)

    def subset(self, keep: np.ndarray) -> Candidates:
        """The candidates where ``keep`` (a boolean array) is true."""
        return Candidates(
            docs=self.docs[keep],
            scores=self.scores[keep],
            articles=self.articles[keep],
            moments=self.moments[keep],
            notes=self.notes,
            timed_out=self.timed_out,
            capped=self.capped,
            facet_codes={name: codes[keep] for name, codes in self.facet_codes.items()},
            facet_values=self.facet_values,
            counts=self.counts,
        )


@dataclass(frozen=True)
class Evidence:
    """What each plain query word contributes to some passages, for the second stage.

    Arrays of shape (words, passages): the word's BM25 weight (the first stage's k1 and b)
    in the passage's text, in its article's title, and as typed (the exact field), 0 where
    absent; ``idf`` (words,) its idf in the text field; ``text_tf`` its frequency in the
    text, ``text_length`` (passages,) the text's length in terms and ``average_length`` the
    index's, for BM25 with other parameters.
    """

    text: np.ndarray
    title: np.ndarray
    exact: np.ndarray
    idf: np.ndarray
    text_tf: np.ndarray
    text_length: np.ndarray
    average_length: float


@dataclass(frozen=True)
class StoredPassage:
    """A passage as the index stores it, with its article's fields."""

    article_id: str
    title: str
    date: dt.date | None
    source: str | None
    url: str | None
    position: int
    text: str
    start: int
    end: int
    category: str | None = None
    time: dt.time | None = None  # the time of day it was published, when known


@dataclass(frozen=True)
class IndexStats:
    """What a backend says about the index it reads."""

    generation: str
    articles: int
    passages: int
    built_at: dt.datetime
    schema_version: int
    analyzer_version: int
    segments: int
    size_bytes: int
    revision: int = 0  # goes up with every commit to this generation (an update in place)
    # Generations builds kept beside it, as they hold articles the corpus lacked.
    kept: tuple[str, ...] = ()


@dataclass(frozen=True)
class Built:
    """What a build wrote: its generation and counts, and the generations it replaced but
    kept, as they hold articles it did not write (the others are gone)."""

    generation: str
    articles: int
    passages: int
    kept: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Changes:
    """What an update did to the live index."""

    added: int  # articles new to the index
    replaced: int  # articles whose content changed
    unchanged: int  # articles skipped: same content hash
    removed: int
    passages: int  # passages written
    missing: tuple[str, ...] = ()  # ids asked to remove that the index does not hold


class Reader(Protocol):
    """One consistent view of an index: every call of one search reads the same data."""

    def match(
        self,
        query: ParsedQuery,
        plan: PlainPlan | None,
        filters: Filters,
        title_weight: float,
        deadline: float,
        best: Best | None = None,
    ) -> Candidates:
        """Score the passages the query matches (by ``plan`` when given, else its tree).

        With ``best``, a backend may return only the best articles' passages, and the
        counts of all it matched (``Candidates.counts``); without, every matched passage."""
        ...

    def whole_article_scores(
        self, words: tuple[Term, ...], articles: np.ndarray, config: RankingConfig
    ) -> np.ndarray:
        """BM25 of each article (by number) as one document, for plain words."""
        ...

    def article_words(
        self, words: tuple[Term, ...], articles: np.ndarray, config: RankingConfig
    ) -> np.ndarray:
        """Which of the words (rows) each article (columns, by number) holds in its text."""
        ...

    def evidence(self, words: tuple[Term, ...], docs: np.ndarray) -> Evidence:
        """Each word's weight in each field of these passages (by number)."""
        ...

    def passages(self, docs: Sequence[int]) -> list[StoredPassage]: ...

    def article(
        self, article_id: str, start: int = 0, stop: int | None = None
    ) -> tuple[int, list[StoredPassage]]:
        """How many passages the article has, and its passages ``[start:stop]`` in order."""
        ...

    def matching_positions(self, article_id: str, query: ParsedQuery) -> tuple[int, ...]: ...

    def word_is_known(self, word: str) -> bool: ...

    def word_count(self, word: str) -> int:
        """In how many passages a folded word occurs as written."""
        ...

    def stem_count(self, stem: str) -> int:
        """In how many passages a stem occurs in the text."""
        ...

    def title_count(self, stem: str) -> int:
        """In how many passages a stem occurs in the title (each carries its article's)."""
        ...

    def spelling_candidates(self, start: str, max_edits: int, prefix: int) -> set[str]: ...

    def spelling_frequency(self, word: str) -> int: ...

    def stats(self) -> IndexStats: ...

    def signatures(self) -> list[tuple[str, str, bytes]]:
        """(article id, cluster, near-duplicate signature) of every live article."""
        ...


class Backend(Protocol):
    """A handle on one index that follows its updates."""

    def reader(self) -> Reader:
        """The live view, reopened when a writer has changed the index."""
        ...

    def close(self) -> None: ...


class Store(Protocol):
    """The writing side of a backend: one writer at a time, under one lock."""

    def open(self, path: str | os.PathLike, config: RankingConfig) -> Backend: ...

    def build(
        self,
        path: str | os.PathLike,
        articles: Iterable[IndexedArticle],
        *,
        procs: int,
        wait: float,
    ) -> Built:
        """Write a new generation and switch to it."""
        ...

    def update(
        self,
        path: str | os.PathLike,
        articles: Iterable[IndexedArticle],
        remove: Iterable[str],
        *,
        wait: float,
    ) -> Changes: ...

    def optimize(self, path: str | os.PathLike, *, wait: float) -> int: ...

    def article_ids(self, path: str | os.PathLike) -> list[str]:
        """The ids of the articles the live index holds, in id order."""
        ...

    def verify(self, path: str | os.PathLike) -> tuple[int, list[str]]:
        """Read every file of the live index against what was recorded when it was written:
        (files checked, problems found)."""
        ...
