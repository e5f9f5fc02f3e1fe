"""Reading one generation of a cluster: queries fanned out over the shards, then merged.

Each shard is asked on one of its replicas (another if that one fails); the answers are
merged. A shard with no replica answering fails the search with ClusterUnavailableError
(the web app answers 503): never a silently smaller total.

A search that needs every match scored (facet filters) asks each shard for its best
``max_matches`` passages by Veille's score, with the attributes grouping and facets need;
one that needs only the best (or newest) articles asks in two rounds (``best.py``). Every
query matches only the articles this reader's catalog knows: an update writes the nodes
before it commits the catalog, and its articles appear once it has.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

from ...errors import IndexUnavailableError
from ...querying import ParsedQuery, PlainPlan, Term
from ...ranking import RankingConfig
from ..base import (
    Best,
    Candidates,
    Evidence,
    Filters,
    IndexStats,
    StoredPassage,
    moment,
    moment_date,
    moment_time,
)
from . import stats
from .best import lead_rows, match_best
from .compile import MAX_PREFIX_TERMS, Compiler, Scorer, idf
from .config import Cluster
from .nodes import Pool
from .terms import key, row_id, row_parts

FACETS = ("source", "category", "cluster")
_PASSAGE_COLUMNS = (
    "id, article_id, title_text, moment, source, category, url, pos, body, pstart, pend"
)
# What the evidence of a passage reads; asked with the passage itself (the second stage
# reads both of the same passages) and kept for the evidence until the thread's next search,
# or, on a thread that only reads articles, until it has kept this many.
_FREQUENCY_COLUMNS = "tf, lx, lt, le"
_KEPT_ROWS = 2000


def _capped_note(k: int) -> str:
    """The note of a search whose shards had more matches than they rank (``k`` each)."""
    return (
        f"seuls les {k:,} meilleurs passages de chaque partie de l'index sont classés : les "
        "totaux sont des minimums"
    ).replace(",", " ")


def _within(a: str, b: str, limit: int) -> bool:
    """Whether the Levenshtein distance of a and b is at most limit."""
    if abs(len(a) - len(b)) > limit:
        return False
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return False
        previous = current
    return previous[-1] <= limit


def _stored(row: tuple) -> StoredPassage:
    _id, article_id, title, when, source, category, url, pos, body, start, end = row[:11]
    return StoredPassage(
        article_id=article_id,
        title=title,
        date=moment_date(int(when)),
        time=moment_time(int(when)),
        source=source or None,
        url=url or None,
        position=int(pos),
        text=body,
        start=int(start),
        end=int(end),
        category=category or None,
    )


class _Catalog:
    """What a generation's statistics file says: frequencies, vocabulary, the catalog."""

    _db: stats.Recovering
    _lock: threading.Lock
    _df: dict[tuple[str, str], int]
    _ranks: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    _copies: dict[int, dict[int, str]] | None
    _sizes: np.ndarray | None

    # --- statistics -----------------------------------------------------------------------

    def frequency(self, field: str, term: str) -> int:
        found = self._df.get((field, term))
        if found is None:
            with self._lock:
                found = stats.frequencies(self._db, field, [term]).get(term, 0)
            if len(self._df) < 100_000:
                self._df[(field, term)] = found
        return found

    def _expand(self, field: str, prefix: str) -> tuple[list[str], bool]:
        with self._lock:
            found = stats.with_prefix(self._db, field, prefix)
        capped = len(found) > MAX_PREFIX_TERMS
        found = sorted(found, key=lambda f: (-f[1], f[0]))[:MAX_PREFIX_TERMS]
        return [w for w, _ in found], capped

    def ranks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Article numbers in id order (Candidates' article numbers: as the embedded
        backend's, their order is the ids'), each article's rank, and its shard."""
        if self._ranks is None:
            with self._lock:
                rows = self._db.execute(
                    "SELECT art, shard FROM articles ORDER BY article_id"
                ).fetchall()
            arts = np.array([a for a, _ in rows], dtype=np.int64)
            shards = np.array([s for _, s in rows], dtype=np.int64)
            rank = np.zeros(int(arts.max()) + 1 if len(arts) else 1, dtype=np.int64)
            rank[arts] = np.arange(len(arts))
            self._ranks = (arts, rank, shards)
        return self._ranks

    def sizes(self) -> np.ndarray:
        """Each article's passage count, by article number."""
        if self._sizes is None:
            with self._lock:
                rows = self._db.execute("SELECT art, passages FROM articles").fetchall()
            arts = np.array([a for a, _ in rows], dtype=np.int64)
            sizes = np.zeros(int(arts.max()) + 1 if len(arts) else 1, dtype=np.int64)
            sizes[arts] = [n for _, n in rows]
            self._sizes = sizes
        return self._sizes

    def copies(self) -> dict[int, dict[int, str]]:
        """Each shard's articles (numbers) whose story has copies, with its cluster."""
        if self._copies is None:
            with self._lock:
                rows = stats.copies(self._db)
            found: dict[int, dict[int, str]] = {}
            for art, shard, cluster in rows:
                found.setdefault(int(shard), {})[int(art)] = cluster
            self._copies = found
        return self._copies

    def _catalog(self, article_id: str) -> tuple[int, int, int] | None:
        with self._lock:
            return self._db.execute(
                "SELECT art, shard, passages FROM articles WHERE article_id = ?", (article_id,)
            ).fetchone()

    # --- vocabulary -------------------------------------------------------------------------

    def word_is_known(self, word: str) -> bool:
        return self.frequency("e", word) > 0

    def word_count(self, word: str) -> int:
        """In how many passages a folded word occurs as written."""
        return self.frequency("e", word)

    def stem_count(self, stem: str) -> int:
        return self.frequency("x", stem)

    def title_count(self, stem: str) -> int:
        return self.frequency("t", stem)

    def spelling_candidates(self, start: str, max_edits: int, prefix: int) -> set[str]:
        """Words of the corpus (accents kept) within max_edits of ``start``, sharing its
        first ``prefix`` letters."""
        with self._lock:
            words = stats.with_prefix(self._db, "s", start[:prefix])
        return {w for w, _ in words if _within(w, start, max_edits)}

    def spelling_frequency(self, word: str) -> int:
        return self.frequency("s", word)

    def signatures(self) -> list[tuple[str, str, bytes]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT article_id, cluster, signature FROM articles WHERE length(signature) > 0"
            ).fetchall()
        return [(a, c, bytes(s)) for a, c, s in rows]


class SphinxReader(_Catalog):
    """One generation of a cluster, as the seam's Reader."""

    def __init__(
        self,
        cluster: Cluster,
        generation: str,
        pool: Pool,
        executor: ThreadPoolExecutor,
        config: RankingConfig,
    ) -> None:
        self.cluster, self.generation, self.index = cluster, generation, f"veille_{generation}"
        self.pool, self.executor, self.config = pool, executor, config
        self.stats_path = stats.stats_path(cluster, generation)
        self.stats_file = stats.file_identity(self.stats_path)  # a build replaces the file
        self._db = stats.Recovering(stats.open_stats(self.stats_path), self.stats_path)
        self._lock = threading.Lock()
        self.meta = stats.meta(self._db)
        self.revision = int(self.meta["revision"])
        self.totals = stats.totals(self._db)
        # A replica that missed a write answers only when its shard has no other.
        pool.avoid(stats.stale_nodes(self._db))
        self._ranks: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._copies: dict[int, dict[int, str]] | None = None
        self._sizes: np.ndarray | None = None
        self._df: dict[tuple[str, str], int] = {}
        # What this thread's search read ahead: passages' frequencies, whole-article scores.
        self._ahead = threading.local()

    def close(self) -> None:
        self._db.close()

    def kept_frequencies(self) -> dict[int, tuple]:
        """The frequency rows (tf, lx, lt, le) this thread's search has read, by passage."""
        kept = getattr(self._ahead, "frequencies", None)
        if kept is None:
            kept = self._ahead.frequencies = {}
        return kept

    def keep_whole(self, key: tuple, scores: dict[int, float]) -> None:
        """Whole-article scores (by article number) read ahead for this thread's search."""
        self._ahead.whole = (key, scores)

    def current_revision(self) -> int:
        with self._lock:
            return int(stats.meta(self._db)["revision"])

    # --- matching ---------------------------------------------------------------------------

    def _compiler(self, title_weight: float) -> Compiler:
        scorer = Scorer(self.totals, self.frequency, self.config.bm25_k1, self.config.bm25_b)
        return Compiler(scorer, self._expand, self.config, title_weight)

    def _fan_out(self, fn) -> list:
        futures = [
            self.executor.submit(self.pool.run, shard, fn) for shard in range(self.cluster.shards)
        ]
        return [f.result() for f in futures]

    def match(
        self,
        query: ParsedQuery,
        plan: PlainPlan | None,
        filters: Filters,
        title_weight: float,
        deadline: float,
        best: Best | None = None,
    ) -> Candidates:
        """The passages the query matches, scored, from every shard: all of them, or with
        ``best`` the best articles' and the counts of all (see the module's docstring)."""
        # A new search on this thread: what the last one read ahead is dropped.
        self._ahead.frequencies, self._ahead.whole = {}, (None, {})
        if query.tree is None:
            return self.candidates([], ())
        compiler = self._compiler(title_weight)
        match = compiler.plan(plan) if plan is not None else compiler.tree(query.tree)
        # Article numbers only grow: those past the catalog's are an update's, unfinished.
        where = ["MATCH(%s)", f"art < {len(self.ranks()[1])}"]
        if filters.since is not None:
            where.append(f"moment >= {max(moment(filters.since, None), 1)}")
        if filters.until is not None:
            last = moment(filters.until, dt.time(23, 59))
            where.append(f"moment <= {last} AND moment > 0")
        if best is not None:
            # Ranking articles, the caller asks next for their whole-article scores: they
            # are read beside the second round (see ``whole_article_scores``).
            whole = None
            if best.by_article and not best.by_date and plan is not None:
                whole = whole_article_select(self, plan.words, self.config)
            found = match_best(
                self, compiler, match, " AND ".join(where), best, title_weight, whole
            )
            if found is not None:
                return found
        k = self.cluster.max_matches
        sql = (
            f"SELECT id, art, moment, source, category, cluster, {compiler.score()} AS s "
            f"FROM {self.index} WHERE {' AND '.join(where)} "
            f"ORDER BY s DESC, article_id ASC, id ASC LIMIT {k} "  # ties: as Veille ranks
            f"OPTION max_matches={k}, ranker=none"
        )

        def run(cur):
            cur.execute(sql, (match,))
            rows = cur.fetchall()
            cur.execute("SHOW META")
            meta = dict(cur.fetchall())
            return rows, int(meta.get("total_found", len(rows)))

        answers = self._fan_out(run)
        capped = any(found > len(rows) for rows, found in answers)
        notes = (*compiler.notes, *([_capped_note(k)] if capped else []))
        found = self.candidates([r for rows, _ in answers for r in rows], notes)
        return replace(found, capped=capped)

    def candidates(self, rows: list, notes: tuple[str, ...]) -> Candidates:
        """Rows (id, art, moment, source, category, cluster, score) as Candidates."""
        _arts, rank, _shards = self.ranks()
        n = len(rows)
        docs = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
        arts = np.fromiter((r[1] for r in rows), dtype=np.int64, count=n)
        known = arts < len(rank)
        if not known.all():  # written after this reader read the catalog: next reader's
            rows = [r for r, k in zip(rows, known, strict=True) if k]
            docs, arts = docs[known], arts[known]
            n = len(rows)
        codes, values = {}, {}
        for i, facet in enumerate(FACETS, start=3):
            vocabulary, inverse = np.unique(
                np.array([r[i] for r in rows] + [""], dtype=object), return_inverse=True
            )
            values[facet] = tuple(vocabulary.tolist())
            codes[facet] = inverse[:n].astype(np.int32)
        return Candidates(
            docs=docs,
            scores=np.fromiter((r[6] for r in rows), dtype=np.float32, count=n),
            articles=rank[arts],
            moments=np.fromiter((r[2] for r in rows), dtype=np.int64, count=n),
            notes=notes,
            facet_codes=codes,
            facet_values=values,
        )

    def whole_article_scores(
        self, words: tuple[Term, ...], articles: np.ndarray, config: RankingConfig
    ) -> np.ndarray:
        """The articles' BM25 scores for the words over each whole article's text."""
        scores = np.zeros(len(articles), dtype=np.float32)
        select = whole_article_select(self, words, config)
        if select is None or not len(articles):
            return scores
        arts = self.ranks()[0][articles]
        key, ahead = getattr(self._ahead, "whole", (None, {}))
        if key == select and all(int(a) in ahead for a in arts):
            return np.asarray([ahead[int(a)] for a in arts], dtype=np.float32)
        position = {int(a): i for i, a in enumerate(arts)}
        for art, score in lead_rows(self, select, arts):
            scores[position[int(art)]] = score
        return scores

    def article_words(
        self, words: tuple[Term, ...], articles: np.ndarray, config: RankingConfig
    ) -> np.ndarray:
        """Which of the words (rows) each article (columns, by number) holds in its text."""
        return _article_words(self, words, articles, config)

    def evidence(self, words: tuple[Term, ...], docs: np.ndarray) -> Evidence:
        """Each word's BM25 weight in the text, title and exact fields of these passages,
        from their stored term frequencies and lengths and the cluster's statistics."""
        return _evidence(self, words, docs, _frequencies(self, docs))

    # --- stored passages ----------------------------------------------------------------------

    def passages(self, docs: Sequence[int]) -> list[StoredPassage]:
        """The stored passages of these rows, in that order."""
        by_shard: dict[int, list[int]] = {}
        for doc in docs:
            by_shard.setdefault(row_parts(int(doc))[2], []).append(int(doc))

        def fetch(shard: int, ids: list[int]):
            listed = ",".join(map(str, ids))
            sql = (
                f"SELECT {_PASSAGE_COLUMNS}, {_FREQUENCY_COLUMNS} FROM {self.index} WHERE id IN "
                f"({listed}) LIMIT {len(ids)} OPTION max_matches={max(len(ids), 1)}"
            )
            return self.pool.run(shard, lambda cur: (cur.execute(sql), cur.fetchall())[1])

        futures = [self.executor.submit(fetch, s, ids) for s, ids in by_shard.items()]
        rows = [row for f in futures for row in f.result()]
        kept = self.kept_frequencies()
        if len(kept) + len(rows) > _KEPT_ROWS:
            kept.clear()
        kept.update((int(row[0]), row[11:]) for row in rows)
        found = {int(row[0]): _stored(row) for row in rows}
        return [found[int(doc)] for doc in docs if int(doc) in found]

    def article(
        self, article_id: str, start: int = 0, stop: int | None = None
    ) -> tuple[int, list[StoredPassage]]:
        """How many passages an article has, and those from ``start`` to ``stop``, in order."""
        found = self._catalog(article_id)
        if found is None:
            return 0, []
        art, shard, count = found
        positions = range(count)[start:stop]
        if not positions:
            return count, []
        stored = self.passages([row_id(art, p, shard) for p in positions])
        return count, _all_there(stored, len(positions), shard, article_id)

    def matching_positions(
        self, article_id: str, query: ParsedQuery, deadline: float = 2.0
    ) -> tuple[int, ...]:
        """The positions of the article's passages that the query matches."""
        found = self._catalog(article_id)
        if found is None or query.tree is None:
            return ()
        art, shard, count = found
        match = self._compiler(self.config.title_weight).tree(query.tree)
        sql = (
            f"SELECT pos FROM {self.index} WHERE MATCH(%s) AND art = {int(art)} "
            f"LIMIT {max(count, 1)} OPTION max_matches={max(count, 1)}, ranker=none"
        )
        rows = self.pool.run(shard, lambda cur: (cur.execute(sql, (match,)), cur.fetchall())[1])
        return tuple(sorted(int(pos) for (pos,) in rows))

    def stats(self) -> IndexStats:
        with self._lock:
            articles = self._db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
            meta = stats.meta(self._db)
            totals = stats.totals(self._db)
        return IndexStats(
            generation=self.index,
            articles=int(articles),
            passages=totals.get("x", (0, 0))[0],
            built_at=dt.datetime.fromisoformat(meta["built_at"]),
            schema_version=int(meta["schema_version"]),
            analyzer_version=int(meta["analyzer_version"]),
            segments=self.cluster.shards,
            size_bytes=self._size(),
            revision=int(meta["revision"]),
        )

    def _size(self) -> int:
        # Asked of a replica of every shard each time: /healthz is then a 503 when a shard
        # has none answering, as its searches are.
        return sum(self._fan_out(lambda cur: _node_size(cur, self.index)))


def _all_there(
    stored: list[StoredPassage], wanted: int, shard: int, article_id: str
) -> list[StoredPassage]:
    """The passages read, if every one the catalog counts is there."""
    if len(stored) < wanted:  # the catalog's, not on the nodes that answered
        raise IndexUnavailableError(
            f"the nodes of shard {shard} lack passages of {article_id}: a write to them was "
            "interrupted; `veille info` names the replicas out of step, and the same "
            "`veille add` run again writes them"
        )
    return stored


def _node_size(cur, index: str) -> int:
    """Bytes a node's index takes in memory and on disk."""
    cur.execute(f"SHOW INDEX {index} STATUS")
    status = dict(cur.fetchall())
    return int(status.get("ram_bytes", 0)) + int(status.get("disk_bytes", 0))


def whole_article_select(
    reader: SphinxReader, words: tuple[Term, ...], config: RankingConfig
) -> str | None:
    """The select list of the words' BM25 over each whole article (on its lead row)."""
    scorer = Scorer(reader.totals, reader.frequency, config.article_bm25_k1, config.article_bm25_b)
    parts = [
        scorer.term("a", w.stem, 1.0, length="INTEGER(tf.la)")
        for w in words
        if isinstance(w, Term) and w.field != "exact"
    ]
    parts = [p for p in parts if p]
    return " + ".join(parts) + " AS s" if parts else None


def _evidence(
    reader: SphinxReader,
    words: tuple[Term, ...],
    docs: np.ndarray,
    rows: dict[int, tuple[dict, dict]],
) -> Evidence:
    """The embedded backend's per-word BM25 weights, from rows' frequencies and lengths."""
    shape = (len(words), len(docs))
    found = {field: np.zeros(shape, dtype=np.float32) for field in ("x", "t", "e")}
    tf_text = np.zeros(shape, dtype=np.float32)
    idf_text = np.zeros(len(words), dtype=np.float32)
    k1, b = reader.config.bm25_k1, reader.config.bm25_b
    for row, word in enumerate(words):
        terms = {"x": word.stem, "t": word.stem, "e": word.exact}
        if word.field == "exact":
            terms = {"e": word.stem}
        for field, term in terms.items():
            if term is None:
                continue
            n_docs, total = reader.totals.get(field, (0, 0))
            weight = idf(n_docs, reader.frequency(field, term))
            average = (total / n_docs) if n_docs else 1.0
            name = key(term)
            for column, doc in enumerate(docs.tolist()):
                frequencies, lengths = rows.get(int(doc), ({}, {}))
                tf = frequencies.get(field, {}).get(name, 0)
                if not tf:
                    continue
                norm = k1 * ((1 - b) + b * lengths[field] / (average or 1.0))
                found[field][row, column] = weight * tf * (k1 + 1) / (tf + norm)
                if field == "x":
                    tf_text[row, column] = tf
        if word.field != "exact":
            n_docs, _ = reader.totals.get("x", (0, 0))
            idf_text[row] = idf(n_docs, reader.frequency("x", word.stem))
    n_docs, total = reader.totals.get("x", (0, 0))
    lengths = [rows.get(int(d), ({}, {"x": 0}))[1]["x"] for d in docs.tolist()]
    return Evidence(
        text=found["x"],
        title=found["t"],
        exact=found["e"],
        idf=idf_text,
        text_tf=tf_text,
        text_length=np.asarray(lengths, dtype=np.float32),
        average_length=(total / n_docs) if n_docs else 1.0,
    )


def _frequencies(reader: SphinxReader, docs: np.ndarray) -> dict[int, tuple[dict, dict]]:
    """Each row's term frequencies by field, and its field lengths (read with the passages
    when this thread read them, else now)."""
    kept = reader.kept_frequencies()
    by_shard: dict[int, list[int]] = {}
    for doc in docs.tolist():
        if int(doc) not in kept:
            by_shard.setdefault(row_parts(int(doc))[2], []).append(int(doc))

    def fetch(shard: int, ids: list[int]):
        sql = (
            f"SELECT id, {_FREQUENCY_COLUMNS} FROM {reader.index} WHERE id IN "
            f"({','.join(map(str, ids))}) LIMIT {len(ids)} OPTION max_matches={len(ids)}"
        )
        return reader.pool.run(shard, lambda cur: (cur.execute(sql), cur.fetchall())[1])

    futures = [reader.executor.submit(fetch, s, ids) for s, ids in by_shard.items()]
    rows = {int(doc): row for future in futures for doc, *row in future.result()}
    found = {}
    for doc in docs.tolist():
        row = kept.get(int(doc)) or rows.get(int(doc))
        if row is None:
            continue
        tf, lx, lt, le = row
        frequencies = json.loads(tf) if isinstance(tf, str | bytes) else (tf or {})
        found[int(doc)] = (frequencies, {"x": int(lx), "t": int(lt), "e": int(le)})
    return found


def _article_words(
    reader: SphinxReader, words: tuple[Term, ...], articles: np.ndarray, config: RankingConfig
) -> np.ndarray:
    """Which of the words (rows) each article (columns, by number) holds in its text."""
    held = np.zeros((len(words), len(articles)), dtype=bool)
    scorer = Scorer(reader.totals, reader.frequency, config.article_bm25_k1, config.article_bm25_b)
    parts = {
        row: part
        for row, w in enumerate(words)
        if isinstance(w, Term) and w.field != "exact"
        if (part := scorer.term("a", w.stem, 1.0, length="INTEGER(tf.la)"))
    }
    if not parts or not len(articles):
        return held
    column = {int(a): i for i, a in enumerate(reader.ranks()[0][articles])}
    select = ", ".join(f"{part} AS w{row}" for row, part in parts.items())
    rows = list(parts)
    for art, *weights in lead_rows(reader, select, reader.ranks()[0][articles]):
        held[rows, column[int(art)]] = np.asarray(weights, dtype=np.float64) > 0
    return held
