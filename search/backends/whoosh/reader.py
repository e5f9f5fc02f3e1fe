"""Reading one generation of a whoosh index: matching, stored passages, vocabulary, stats."""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
from whoosh import collectors, matching, scoring
from whoosh import query as wq
from whoosh.reading import ReaderClosed

from ...errors import IndexClosedError, IndexDamagedError, VeilleError
from ...querying import ParsedQuery, PlainPlan, Term
from ...ranking import RankingConfig
from ..base import (
    Best,
    Candidates,
    Evidence,
    Filters,
    IndexStats,
    StoredPassage,
    moment_date,
    moment_ordinals,
    moment_time,
)
from ._internals import MappedStorage, bytes_column, numeric_column
from .compile import Compiler, OutOfTime, expand_prefix, prefix_note, prefix_titles
from .evaluate import Evaluator, Unsupported
from .postings import (
    PrefixTerms,
    TermArrays,
    article_words,
    rank_words,
    whole_article_scores,
    word_evidence,
)
from .store import IndexMeta, check_sizes, kept_generations, read_meta, verify_files

# Columns read as per-document codes: the facets, and the duplicate clusters.
FACETS = ("source", "category", "cluster")


def reads_index(method: Callable[..., R]) -> Callable[..., R]:
    """Turn an error from reading damaged index files into IndexDamagedError.

    whoosh reading altered bytes may raise anything (struct and pickle errors, short
    reads, its own bare Exceptions). On an unexpected error the generation's files are
    checked against their recorded digests: if they differ, the index is damaged and says
    so; if not, the error is a bug and is raised as it is.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (VeilleError, OutOfTime):
            raise
        except ReaderClosed:  # Index.close from another thread, during a search
            raise IndexClosedError("the index was closed during the search") from None
        except FileNotFoundError:
            if method.__name__ == "__init__":
                raise  # a generation replaced while it was opened: the handle looks again
            raise _damage(self.generation, "a file is missing") from None
        except Exception as error:
            _, problems = verify_files(self.generation)
            if problems:
                raise _damage(self.generation, problems[0]) from error
            raise

    return wrapper


def _damage(generation: Path, problem: str) -> IndexDamagedError:
    return IndexDamagedError(
        f"index damaged ({generation.name}: {problem}): run `veille build` to rebuild it"
    )


R = TypeVar("R")


class _TimedMatcher(matching.WrappingMatcher):
    """A term's postings that stop the search at a deadline (``time.monotonic()``).

    whoosh's phrase and intersection matchers may walk many postings between two matches;
    checking at each step of every term's postings bounds them all.
    """

    def __init__(self, child, boost: float = 1.0, deadline: float = 0.0) -> None:
        super().__init__(child, boost=boost)
        self.deadline = deadline

    def _replacement(self, newchild):
        return type(self)(newchild, boost=self.boost, deadline=self.deadline)

    def copy(self):
        return type(self)(self.child.copy(), boost=self.boost, deadline=self.deadline)

    def next(self):
        if time.monotonic() > self.deadline:
            raise OutOfTime
        return self.child.next()

    def skip_to(self, id):
        if time.monotonic() > self.deadline:
            raise OutOfTime
        return self.child.skip_to(id)


class _TimedSearcher:
    """A segment's searcher whose postings stop at a deadline; all else is the searcher's."""

    def __init__(self, searcher, deadline: float) -> None:
        self._searcher = searcher
        self._deadline = deadline

    def __getattr__(self, name: str):
        return getattr(self._searcher, name)

    def postings(self, fieldname, text, weighting=None, qf=1):
        if time.monotonic() > self._deadline:
            raise OutOfTime
        found = self._searcher.postings(fieldname, text, weighting=weighting, qf=qf)
        return _TimedMatcher(found, deadline=self._deadline)


class _Deadline(collectors.WrappingCollector):
    """Stop collecting at a deadline (``time.monotonic()``), keeping what was found."""

    def __init__(self, child: collectors.Collector, deadline: float) -> None:
        super().__init__(child)
        self.deadline = deadline
        self.timed_out = False

    def set_subsearcher(self, subsearcher, offset) -> None:
        super().set_subsearcher(_TimedSearcher(subsearcher, self.deadline), offset)

    def collect_matches(self) -> None:
        try:
            self.child.collect_matches()
        except OutOfTime:
            self.timed_out = True


class _Documents:
    """Per-generation arrays over documents (passages) and articles, read once."""

    def __init__(self, reader) -> None:
        ids, self.doc_article = _column_codes(reader, "article_id")  # article ordinal, id order
        self.article_ids = np.array(ids, dtype=object)
        # Each passage's own (all of an article's carry its date): an article replaced by an
        # update keeps its old passages, deleted, under the same id.
        self.doc_moment = _raw_moments(reader)  # 0: no date
        self.doc_date = moment_ordinals(self.doc_moment)
        # Each facet's values, and each document's value as a code into them.
        self.facet_values: dict[str, tuple[str, ...]] = {}
        self.doc_facet: dict[str, np.ndarray] = {}
        for facet in FACETS:
            self.facet_values[facet], self.doc_facet[facet] = _column_codes(reader, facet)


def _column_codes(reader, field: str) -> tuple[tuple[str, ...], np.ndarray]:
    """A text column's distinct values, sorted as Python sorts them, and each document's
    value as a code into them.

    Read as bytes at once, coded in order of first sight, then only the distinct values
    sorted (UTF-8 bytes sort as their text does) and decoded: a reader's first search
    pays this, a fifth of the time of whoosh's decoding reads and a sort of every value.
    """
    # Segment by segment: whoosh's multi-segment column skips the segments without one,
    # which would shift every later document's value.
    leaves = [(reader, 0)] if reader.is_atomic() else reader.leaf_readers()
    seen: dict[bytes, int] = {}
    codes = np.fromiter(
        (
            seen.setdefault(value, len(seen))
            for leaf, _offset in leaves
            for value in bytes_column(
                leaf.column_reader(field, translate=False), leaf.doc_count_all()
            )
        ),
        dtype=np.int32,
    )
    vocabulary = sorted(seen)
    place = np.empty(len(seen), dtype=np.int32)
    place[[seen[value] for value in vocabulary]] = np.arange(len(vocabulary), dtype=np.int32)
    return tuple(value.decode("utf-8") for value in vocabulary), place[codes]


def _raw_moments(reader) -> np.ndarray:
    # Segment by segment: a segment of undated articles has no date column at all.
    leaves = [(reader, 0)] if reader.is_atomic() else reader.leaf_readers()
    parts = []
    for leaf, _offset in leaves:
        n = leaf.doc_count_all()
        if leaf.has_column("date"):
            parts.append(numeric_column(leaf.column_reader("date", translate=False), n))
        else:
            parts.append(np.zeros(n, dtype=np.uint64))
    if not parts:
        return np.zeros(0, dtype=np.int64)
    # An undated passage reads the column's default, which is no moment: 0, as a segment
    # without the column gives.
    raw = np.concatenate(parts).astype(np.int64)
    return np.where(raw > 0, raw, 0)


def _stored_passage(fields: dict) -> StoredPassage:
    return StoredPassage(
        article_id=fields["article_id"],
        title=fields["title"],
        date=moment_date(fields.get("date", 0)),
        time=moment_time(fields.get("date", 0)),
        source=fields.get("source"),
        category=fields.get("category"),
        url=fields.get("url"),
        position=fields["position"],
        text=fields["text"],
        start=fields["start"],
        end=fields["end"],
    )


def _plan_items(
    reader, plan: PlainPlan, deadline: float, notes: list[str]
) -> tuple[Term | PrefixTerms, ...]:
    """The plan's words, each prefix read as the vocabulary's words it starts."""
    items: list[Term | PrefixTerms] = []
    for word in plan.words:
        if isinstance(word, Term):
            items.append(word)
            continue
        exact, capped = expand_prefix(reader, "exact", word.prefix, deadline)
        titles, capped_titles = prefix_titles(reader, word.prefix, exact, deadline)
        if capped or capped_titles:
            notes.append(prefix_note(word.prefix))
        items.append(PrefixTerms(tuple(exact), tuple(titles)))
    return tuple(items)


def _folder_size(folder: Path) -> int:
    size = 0
    for f in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):
            size += f.stat().st_size
    return size


def _collect(searcher, q: wq.Query, deadline: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """Every document the query matches and its score, those found by the deadline."""
    collector = _Deadline(searcher.collector(limit=None), deadline)
    try:
        searcher.search_with_collector(q, collector)
    except OutOfTime:  # while the matchers were made: nothing found yet
        collector.timed_out = True
    results = collector.results()
    docs = np.fromiter((h.docnum for h in results), dtype=np.int32, count=len(results))
    scores = np.fromiter((h.score for h in results), dtype=np.float32, count=len(results))
    return docs, scores, collector.timed_out


def _allowed(dates: np.ndarray, filters: Filters) -> np.ndarray | None:
    """The passages (by number) dated within the filters' dates, or None: no date filter."""
    if filters.since is None and filters.until is None:
        return None
    allowed = dates > 0
    if filters.since is not None:
        allowed &= dates >= filters.since.toordinal()
    if filters.until is not None:
        allowed &= dates <= filters.until.toordinal()
    return allowed


def _term_arrays(reader, config: RankingConfig) -> tuple[TermArrays, np.ndarray]:
    arrays = TermArrays(reader, k1=config.bm25_k1, b=config.bm25_b)
    lead = np.zeros(arrays.doc_count, dtype=bool)
    lead[arrays.docs("lead", "1")] = True
    return arrays, lead


class WhooshReader:
    """One generation of a whoosh index, searched; cheap to reuse, not to open."""

    @reads_index
    def __init__(self, generation: Path, config: RankingConfig) -> None:
        self.generation = generation
        self.config = config
        self.meta: IndexMeta = read_meta(generation)
        check_sizes(generation, self.meta)
        self._ix = MappedStorage(str(generation)).open_index()
        weighting = scoring.BM25F(B=config.bm25_b, K1=config.bm25_k1)
        self._searcher = self._ix.searcher(weighting=weighting)
        # The files of the last commit: not what a failed writer may have left beside them.
        recorded = sum(size for size, _ in self.meta.files.values())
        self._size = recorded or _folder_size(generation)
        # Read on first use; threads may share this reader, so each is made under a lock.
        self._first_use = threading.RLock()
        self._documents: _Documents | None = None
        self._arrays: tuple[TermArrays, np.ndarray] | None = None
        self._articles: int | None = None

    def close(self) -> None:
        self._searcher.close()
        self._ix.close()

    def up_to_date(self) -> bool:
        return self._searcher.up_to_date()

    def documents(self) -> _Documents:
        with self._first_use:
            if self._documents is None:
                self._documents = _Documents(self._searcher.reader())
        return self._documents

    def term_arrays(self) -> tuple[TermArrays, np.ndarray]:
        """The postings reader of plain-word queries, and the mask of lead passages."""
        with self._first_use:
            if self._arrays is None:
                self._arrays = _term_arrays(self._searcher.reader(), self.config)
        return self._arrays

    # --- matching ---------------------------------------------------------------------

    @reads_index
    def match(
        self,
        query: ParsedQuery,
        plan: PlainPlan | None,
        filters: Filters,
        title_weight: float,
        deadline: float,
        best: Best | None = None,
    ) -> Candidates:
        """The passages the query matches, scored, with their articles and dates: all of
        them (``best`` aside: scoring every one costs the embedded index little)."""
        notes: list[str] = []
        timed_out = False
        docs, scores = np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
        try:
            if query.tree is None:
                pass
            elif plan is not None:
                items = _plan_items(self._searcher.reader(), plan, deadline, notes)
                arrays, lead = self.term_arrays()
                ranked = rank_words(
                    arrays,
                    items,
                    plan.excluded,
                    require_all=plan.require_all,
                    title_weight=title_weight,
                    exact_bonus=self.config.exact_bonus,
                    lead=lead,
                    allowed=_allowed(self.documents().doc_date, filters),
                    deadline=deadline,
                )
                docs, scores, timed_out = ranked.docs, ranked.scores, ranked.timed_out
            else:
                reader = self._searcher.reader()
                compiler = Compiler(reader, self.config, title_weight, deadline)
                q = compiler.compile(query.tree)
                docs, scores, timed_out = self._evaluate(q, deadline)
                notes.extend(compiler.notes)
                allowed = _allowed(self.documents().doc_date, filters)
                if allowed is not None:  # dates filter through their column, not terms
                    keep = allowed[docs]
                    docs, scores = docs[keep], scores[keep]
        except OutOfTime:
            timed_out = True
        d = self.documents()
        return Candidates(
            docs=docs,
            scores=scores,
            articles=d.doc_article[docs],
            moments=d.doc_moment[docs],
            notes=tuple(notes),
            timed_out=timed_out,
            facet_codes={facet: codes[docs] for facet, codes in d.doc_facet.items()},
            facet_values=d.facet_values,
        )

    def _evaluate(self, q: wq.Query, deadline: float) -> tuple[np.ndarray, np.ndarray, bool]:
        """The documents a compiled query matches and their scores, from whole postings
        where it can (``evaluate``), else as whoosh's matchers find them."""
        evaluator = Evaluator(self.term_arrays()[0], deadline)
        try:
            found = evaluator.run(q)
        except Unsupported:
            return _collect(self._searcher, q, deadline)
        return found.docs.astype(np.int32), found.scores.astype(np.float32), evaluator.timed_out

    @reads_index
    def whole_article_scores(
        self, words: tuple[Term, ...], articles: np.ndarray, config: RankingConfig
    ) -> np.ndarray:
        """The articles' BM25 scores for the words over each whole article's text."""
        d, arrays = self.documents(), self.term_arrays()[0]
        scores = whole_article_scores(arrays, words, d.doc_article, len(d.article_ids), config)
        return scores[articles]

    @reads_index
    def article_words(
        self, words: tuple[Term, ...], articles: np.ndarray, config: RankingConfig
    ) -> np.ndarray:
        """Which of the words (rows) each article (columns, by number) holds in its text."""
        d, arrays = self.documents(), self.term_arrays()[0]
        return article_words(arrays, words, d.doc_article, len(d.article_ids), articles, config)

    @reads_index
    def evidence(self, words: tuple[Term, ...], docs: np.ndarray) -> Evidence:
        """Each word's BM25 weight in the text, title and exact fields of these passages."""
        arrays, _ = self.term_arrays()
        return word_evidence(arrays, words, docs)

    # --- stored passages ----------------------------------------------------------------

    @reads_index
    def passages(self, docs: Sequence[int]) -> list[StoredPassage]:
        """The stored passages of these documents, in that order."""
        reader = self._searcher.reader()
        return [_stored_passage(reader.stored_fields(int(d))) for d in docs]

    def article_docs(self, article_id: str) -> list[int]:
        return list(self._searcher.docs_for_query(wq.Term("article_id", article_id)))

    @reads_index
    def article(
        self, article_id: str, start: int = 0, stop: int | None = None
    ) -> tuple[int, list[StoredPassage]]:
        """How many passages an article has, and those from ``start`` to ``stop``, in order.

        An article's passages are written one after the other, in order, and whoosh keeps
        documents in the order written: its document numbers sorted are its positions.
        """
        docs = sorted(self.article_docs(article_id))
        stored = self.passages(docs[start:stop])
        return len(docs), sorted(stored, key=lambda p: p.position)

    @reads_index
    def matching_positions(
        self, article_id: str, query: ParsedQuery, deadline: float = 2.0
    ) -> tuple[int, ...]:
        """The positions of the article's passages that the query matches (those found
        within ``deadline`` seconds)."""
        docs = self.article_docs(article_id)
        if not docs or query.tree is None:
            return ()
        deadline = time.monotonic() + deadline
        reader = self._searcher.reader()
        compiler = Compiler(reader, self.config, self.config.title_weight, deadline)
        try:
            q = wq.And([compiler.compile(query.tree), wq.Term("article_id", article_id)])
        except OutOfTime:
            return ()
        found, _, _ = _collect(self._searcher, q, deadline)
        reader = self._searcher.reader()
        return tuple(sorted(reader.stored_fields(int(d))["position"] for d in found))

    # --- vocabulary --------------------------------------------------------------------

    @reads_index
    def word_is_known(self, word: str) -> bool:
        return self._searcher.reader().doc_frequency("exact", word) > 0

    @reads_index
    def word_count(self, word: str) -> int:
        return self._searcher.reader().doc_frequency("exact", word)

    @reads_index
    def stem_count(self, stem: str) -> int:
        return self._searcher.reader().doc_frequency("text", stem)

    @reads_index
    def title_count(self, stem: str) -> int:
        return self._searcher.reader().doc_frequency("title", stem)

    @reads_index
    def spelling_candidates(self, start: str, max_edits: int, prefix: int) -> set[str]:
        """Words of the corpus (accents kept) within max_edits of ``start``."""
        reader = self._searcher.reader()
        return set(reader.terms_within("spell", start, max_edits, prefix=prefix))

    @reads_index
    def spelling_frequency(self, word: str) -> int:
        """In how many articles a word (accents kept) occurs."""
        return self._searcher.reader().doc_frequency("spell", word)

    @reads_index
    def signatures(self) -> list[tuple[str, str, bytes]]:
        """(article id, cluster, near-duplicate signature) of every live article."""
        arrays, _ = self.term_arrays()
        reader = self._searcher.reader()
        found = []
        for doc in arrays.docs("lead", "1").tolist():
            fields = reader.stored_fields(doc)
            if fields.get("signature"):
                found.append((fields["article_id"], fields["cluster"], fields["signature"]))
        return found

    # --- stats ------------------------------------------------------------------------

    def _live_articles(self) -> int:
        # Counted once: a reader's view of its generation never changes (an update opens
        # a new reader), and /healthz asks on every probe.
        if self._articles is None:
            live = np.fromiter(self._searcher.reader().all_doc_ids(), dtype=np.int64)
            self._articles = len(np.unique(self.documents().doc_article[live]))
        return self._articles

    @reads_index
    def stats(self) -> IndexStats:
        """Counts, build date, versions and size of this generation."""
        reader = self._searcher.reader()
        return IndexStats(
            generation=self.generation.name,
            articles=self._live_articles(),
            passages=reader.doc_count(),
            built_at=self.meta.built_at,
            schema_version=self.meta.schema_version,
            analyzer_version=self.meta.analyzer_version,
            segments=len(reader.leaf_readers()) if not reader.is_atomic() else 1,
            size_bytes=self._size,
            revision=self._ix.latest_generation(),
            kept=tuple(g.name for g in kept_generations(self.generation.parent)),
        )
