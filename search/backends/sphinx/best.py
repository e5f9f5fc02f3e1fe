"""A cluster search that needs only the best articles (``Best``), in two rounds, so that a
node scores with Veille's slow expression only the passages of a few articles:

1. each shard's first cut by Sphinx's own C ranker (a cheap stand-in for Veille's BM25F:
   the words' idf summed per field, a fifth more for each further occurrence, fields
   weighted as Veille's: ``_STAND_IN``; for a question or a long text, over the passages
   holding a tenth of its words, ``compile.CUT_QUORUM``): its best articles by the sum
   and by the best of their passages' weights, or its best passages;
   and counts over all its matches: articles and passages by source, category and month,
   and its matching articles whose story has copies (the rows marked ``copied``: for the
   counts of clusters);
2. every matching passage of the articles the first cut found (and of their copies), or
   the first cut's passages, scored with Veille's exact expression: they are then ranked
   as the embedded index ranks them, and one the first cut missed is the only difference.

A date sort needs no score to choose: its first cut is each shard's newest articles or
passages (no ranker), in the embedded order, so the page is exactly the embedded one. When
copies collapse so many of the newest articles that too few clusters are certainly among
them, or a deep page would need a cut past ``max_matches``, the search takes the path of
facet filters instead (each shard's best ``max_matches`` passages, scored).
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ...analysis import fold_accents
from ..base import Best, Candidates, Counts
from .compile import Compiler

if TYPE_CHECKING:
    from .reader import SphinxReader

# What a shard's first cut keeps: FIRST_CUT_FACTOR times the passages the search ranks,
# at least FIRST_CUT; ARTICLE_CUT_FACTOR times its articles, at least ARTICLE_CUT, by each
# of two orders. Measured in bench/README.md (cluster section): how deep in these orders
# the embedded index's best articles and passages are.
FIRST_CUT = 1000
FIRST_CUT_FACTOR = 10
ARTICLE_CUT = 300
ARTICLE_CUT_FACTOR = 5
# The first cut's field weights: Sphinx's are integers, Veille's scaled by this.
_WEIGHT_SCALE = 100
# The attributes matching articles are counted by, and the values a count asks for first
# (a node's group-by reserves max_matches slots: 100,000 cost a question tens of ms).
_COUNTED = ("source", "category", "month")
_GROUPS = 2000
# (source, category, month) combinations counted in one statement at most; a node's
# group-by of 20,000 slots costs no more than one of 5,000 (bench/README.md, cluster
# section).
_COMBINED = 20_000
_COLUMNS = "id, art, moment, source, category, cluster"
# The first cut's stand-in for Veille's BM25F, by field (weighted as Veille's): each matched
# word's idf, plus a fifth of it for each further occurrence (Veille's k1 of 0.6 gives a
# second occurrence about a fifth more), plus one for each word matched. Without the
# occurrences, the passages of a frequent word would all tie, and the cut keep them in id
# order rather than the best.
_STAND_IN = "sum(user_weight*(0.8*sum_idf+0.2*tf_idf+word_count))"


def match_best(
    reader: SphinxReader,
    compiler: Compiler,
    match: str,
    where: str,
    best: Best,
    title: float,
    whole: str | None = None,
) -> Candidates | None:
    """The best (or newest) articles' or passages' matching passages, scored, and the counts
    of all the query matches (``title``: the title's weight); None when the cut would pass
    the cluster's ``max_matches`` or, for the newest, holds too few clusters of copies to
    fill the page (the caller then scores the matches as for facet filters). With
    ``whole`` (a whole-article score's select list), the chosen articles' whole-article
    scores are read beside their passages and kept for the reader's thread."""
    if best.by_date:
        first_cut = _newest(reader.index, where, best)
        cut = match  # the newest of every match
    else:
        # A query with no word to score by (« -Maroc ») scores every passage alike: its
        # cut counts each article's passages, then goes in id order.
        stand_in = _STAND_IN if compiler.scores_words else "1"
        first_cut = _first_cuts(
            reader.index, where, best, stand_in, title, reader.config.exact_bonus
        )
        cut = compiler.cut_match or match
    if first_cut[1] > reader.cluster.max_matches:
        return None
    copies = reader.copies() if best.copies else {}
    # Each shard's cuts and counts on two connections at once: searchd runs them side by
    # side, where one connection would wait for the cuts before it asked for the counts.
    shards = range(reader.cluster.shards)
    cutting = [
        reader.executor.submit(_first_cut, reader, shard, first_cut, cut, match) for shard in shards
    ]
    counting = [
        reader.executor.submit(_count_all, reader, shard, copies, match, where) for shard in shards
    ]
    answers = [(c.result(), n.result()) for c, n in zip(cutting, counting, strict=True)]
    counts, with_copies = _counts([counted for _, counted in answers])
    if not best.by_article:  # passages ranked alone: the first cut's, scored
        ids = {s: [int(row[1]) for row in cut] for s, (cut, _) in enumerate(answers) if cut}
        rows = _scored(reader, compiler, ids)
    else:
        cuts = [cut for cut, _ in answers]
        if (
            best.by_date
            and best.copies
            and not _newest_enough(cuts, first_cut[1], best.count, with_copies)
        ):
            return None
        chosen = {int(row[0]) for cut in cuts for row in cut}
        clusters = {c for art, c in with_copies.items() if art in chosen}
        chosen |= {art for art, c in with_copies.items() if c in clusters}
        arts = np.fromiter(sorted(chosen), dtype=np.int64, count=len(chosen))
        ahead = ask_lead_rows(reader, whole, arts) if whole else []
        rows = _articles_passages(reader, compiler, match, where, chosen)
        if whole:
            reader.keep_whole(whole, {int(a): s for f in ahead for a, s in f.result()})
    return replace(reader.candidates(rows, tuple(compiler.notes)), counts=counts)


def _first_cuts(
    index: str, where: str, best: Best, stand_in: str, title: float, exact: float
) -> tuple[list[str], int]:
    """The first cut's statements, ranked by the ``stand_in`` expression, and their size.

    Each statement keeps at most that many rows.
    """
    weights = {"text": 1.0, "title": title, "exact": exact, "title_exact": 0.0, "flags": 0.0}
    field_weights = ", ".join(f"{f}={max(round(_WEIGHT_SCALE * w), 0)}" for f, w in weights.items())
    ranker = f"ranker=expr('{stand_in}'), field_weights=({field_weights})"
    # Equal weights (copies of one text): the article first in id order, as Veille ranks.
    if not best.by_article:  # passages by their weights
        cut = max(FIRST_CUT, FIRST_CUT_FACTOR * best.count)
        return [
            f"SELECT art, id FROM {index} WHERE {where} "
            "ORDER BY WEIGHT() DESC, article_id ASC, id ASC "
            f"LIMIT {cut} OPTION max_matches={cut}, {ranker}"
        ], cut
    # Articles by the sum of their passages' weights (those with much evidence), and by
    # their best passage's (those with one passage that says it all). The two statements
    # differ only in their order, so that searchd matches the query once for both.
    cut = max(ARTICLE_CUT, ARTICLE_CUT_FACTOR * best.count)
    return [
        f"SELECT art, article_id, SUM(WEIGHT()) AS total, MAX(WEIGHT()) AS top FROM {index} "
        f"WHERE {where} GROUP BY art ORDER BY {order} DESC, article_id ASC LIMIT {cut} "
        f"OPTION max_matches={cut}, {ranker}"
        for order in ("total", "top")
    ], cut


def _newest(index: str, where: str, best: Best) -> tuple[list[str], int]:
    """The newest articles' or passages' statements (the embedded order: date and time,
    newest first, then article id and position), and the rows each keeps at most: as many as the
    page needs, or more articles when copies collapse into one hit."""
    if not best.by_article:
        cut = best.count
        return [
            f"SELECT art, id FROM {index} WHERE {where} ORDER BY moment DESC, article_id ASC, "
            f"id ASC LIMIT {cut} OPTION max_matches={cut}, ranker=none"
        ], cut
    cut = max(ARTICLE_CUT, ARTICLE_CUT_FACTOR * best.count) if best.copies else best.count
    return [
        f"SELECT art, moment, article_id FROM {index} WHERE {where} GROUP BY art "
        f"ORDER BY moment DESC, article_id ASC LIMIT {cut} OPTION max_matches={cut}, ranker=none"
    ], cut


def _newest_enough(cuts: list[list], cut: int, count: int, with_copies: dict[int, str]) -> bool:
    """Whether the shards' newest articles show ``count`` clusters of copies in the order
    that is certain: up to the first shard's last article, for a shard that had more."""
    keys = [[(-int(when), article_id, int(art)) for art, when, article_id in rows] for rows in cuts]
    ends = [rows[-1] for rows in keys if len(rows) >= cut]
    if not ends:  # every shard's matching articles are here
        return True
    bound = min(ends)
    certain = {key[2] for rows in keys for key in rows if key <= bound}
    return len({with_copies.get(art, art) for art in certain}) >= count


def _group_count(index: str, where: str, column: str, limit: int) -> str:
    """Matching articles and passages by value of an attribute (an article's passages
    share it)."""
    return (
        f"SELECT {column}, COUNT(DISTINCT art), COUNT(*) FROM {index} WHERE {where} "
        f"GROUP BY {column} LIMIT {limit} OPTION max_matches={limit}, ranker=none"
    )


def _combined_count(index: str, where: str, limit: int) -> str:
    """Matching articles and passages by (source, category, month) at once: an article
    has one of each, so adding up its rows by one of them counts that one exactly."""
    columns = ", ".join(_COUNTED)
    return (
        f"SELECT {columns}, COUNT(DISTINCT art), COUNT(*) FROM {index} WHERE {where} "
        f"GROUP BY {columns} LIMIT {limit} OPTION max_matches={limit}, ranker=none"
    )


def _split_counts(rows: list) -> list[list[tuple]]:
    """The combined count's rows as each attribute's own count: (value, articles, passages)."""
    split: list[dict] = [{} for _ in _COUNTED]
    for row in rows:
        articles, passages = int(row[-2]), int(row[-1])
        for i, value in enumerate(row[: len(_COUNTED)]):
            had = split[i].get(value, (0, 0))
            split[i][value] = (had[0] + articles, had[1] + passages)
    return [[(value, *n) for value, n in counted.items()] for counted in split]


def _first_cut(
    reader: SphinxReader, shard: int, first_cut: tuple[list[str], int], cut_match: str, match: str
) -> list:
    """One shard's first cut: its statements match ``cut_match`` and keep at most so many
    rows each, or ``match`` when too few passages hold ``cut_match``'s quorum.

    The cuts go in a batch of their own: searchd matches the query once for a whole batch
    only when its statements differ in nothing but their order and grouping.
    """
    statements, cut_size = first_cut

    def run(cur):
        cuts = _batch(cur, statements, cut_match)
        if cut_match != match and any(len(rows) < cut_size for rows in cuts):
            # Too few passages hold the quorum to fill the cut: the query's own matches.
            cuts = _batch(cur, statements, match)
        return [row for rows in cuts for row in rows]

    return reader.pool.run(shard, run)


def _count_all(
    reader: SphinxReader, shard: int, copies: dict[int, dict[int, str]], match: str, where: str
) -> list:
    """The counts of all that ``match`` matches on one shard, and its matching articles
    whose story has copies."""
    index = reader.index
    counts = [_combined_count(index, where, _COMBINED)]
    if copies.get(shard):  # the matching articles that have copies, grouped as counted
        counts.append(_copies_statement(index, where, _COUNTED, _COMBINED))

    def run(cur):
        combined, *grouped = _batch(cur, counts, match)
        limit = reader.cluster.max_matches
        listed = (
            [_copies_rows(cur, grouped[0], copies[shard], index, where, match, limit)]
            if grouped
            else []
        )
        if len(combined) < _COMBINED:
            return [*_split_counts(combined), *listed]
        # Too many combinations to count at once: each attribute on its own, in one batch.
        separate = [_group_count(index, where, column, _GROUPS) for column in _COUNTED]
        counted = _batch(cur, separate, match)
        for i, column in enumerate(_COUNTED):
            if len(counted[i]) >= _GROUPS:  # more values than asked for: all of them
                cur.execute(_group_count(index, where, column, limit), (match,))
                counted[i] = cur.fetchall()
        return [*counted, *listed]

    return reader.pool.run(shard, run)


def _copies_statement(index: str, where: str, by: tuple[str, ...], limit: int) -> str:
    """The matching articles whose story has copies, grouped by ``by``: their numbers,
    once for each matching passage."""
    return (
        f"SELECT {', '.join(_COUNTED)}, GROUP_CONCAT(art) FROM {index} WHERE {where} AND "
        f"copied = 1 GROUP BY {', '.join(by)} LIMIT {limit} OPTION max_matches={limit}, "
        "ranker=none"
    )


def _copies_rows(
    cur, grouped: list, clusters: dict[int, str], index: str, where: str, match: str, limit: int
) -> list[tuple]:
    """(art, month, source, category, cluster) of each matching article whose story has
    copies, from their numbers grouped by (source, category, month), or by each of these
    alone when the combinations are too many."""
    if len(grouped) < _COMBINED:
        found = ((art, row[:3]) for row in grouped for art in _numbers(row[-1]))
    else:
        separate = [_copies_statement(index, where, (column,), limit) for column in _COUNTED]
        values: dict[int, list] = {}
        for i, rows in enumerate(_batch(cur, separate, match)):
            for row in rows:
                for art in _numbers(row[-1]):
                    values.setdefault(art, [None] * len(_COUNTED))[i] = row[i]
        found = values.items()
    rows = {}
    for art, (source, category, month) in found:
        # A node keeps the mark when a story loses its copies: the catalog says which have.
        if art in clusters:
            rows[art] = (art, int(month), source, category, clusters[art])
    return list(rows.values())


def _numbers(listed: str | None) -> set[int]:
    """The numbers of a GROUP_CONCAT, each once."""
    return {int(n) for n in listed.split(",")} if listed else set()


def _batch(cur, statements: list[str], match: str) -> list[list]:
    """The rows of each statement, sent as one batch; each has one MATCH(%s) of ``match``."""
    cur.execute("; ".join(statements), (match,) * len(statements))
    answers = [cur.fetchall()]
    while cur.nextset():
        answers.append(cur.fetchall())
    return answers


def _articles_passages(
    reader: SphinxReader, compiler: Compiler, match: str, where: str, chosen: set[int]
) -> list:
    """Every matching passage of the chosen articles, with its attributes and score."""
    _arts, rank, shards = reader.ranks()
    by_shard: dict[int, list[int]] = {}
    for art in sorted(chosen):
        if art < len(rank):  # written after this reader read the catalog: not yet
            by_shard.setdefault(int(shards[rank[art]]), []).append(art)
    sql = (
        f"SELECT {_COLUMNS}, {compiler.score()} AS s FROM {reader.index} WHERE {where} AND "
        "art IN ({arts}) LIMIT {n} OPTION max_matches={n}, ranker=none"
    )
    sizes = reader.sizes()

    def fetch(shard: int, arts: list[int]):
        n = max(1, int(sizes[arts].sum()))  # every passage of these articles at most
        query = sql.format(arts=",".join(map(str, arts)), n=n)
        return reader.pool.run(shard, lambda cur: (cur.execute(query, (match,)), cur.fetchall())[1])

    futures = [reader.executor.submit(fetch, shard, arts) for shard, arts in by_shard.items()]
    return [row for future in futures for row in future.result()]


def _scored(reader: SphinxReader, compiler: Compiler, ids: dict[int, list[int]]) -> list:
    """These rows (ids by shard) with their attributes and scores."""
    sql = (
        f"SELECT {_COLUMNS}, {compiler.score()} AS s FROM {reader.index} "
        "WHERE id IN ({ids}) LIMIT {n} OPTION max_matches={n}"
    )

    def fetch(shard: int, listed: list[int]):
        query = sql.format(ids=",".join(map(str, listed)), n=len(listed))
        return reader.pool.run(shard, lambda cur: (cur.execute(query), cur.fetchall())[1])

    futures = [reader.executor.submit(fetch, shard, listed) for shard, listed in ids.items()]
    return [row for future in futures for row in future.result()]


def _month(month: int) -> str:
    """A month attribute (YYYYMM) as the timeline names it (YYYY-MM)."""
    return f"{month // 100:04d}-{month % 100:02d}"


def _counts(answers: list[list]) -> tuple[Counts, dict[int, str]]:
    """The counts of a query's matches from the shards' first-round answers (articles and
    passages by source, category and month, and the matching articles with copies), and
    those articles (number -> cluster).

    A cluster of copies counts once: the articles counted, less those with copies, plus
    the clusters these belong to, once for each value of a facet and each month one of
    their articles has: what choosing that value or month finds.
    """
    passages = articles = 0
    by_article: dict[str, Counter] = {"source": Counter(), "category": Counter()}
    in_month: Counter = Counter()
    copies: list[tuple] = []
    for answer in answers:
        for name, rows in zip(("source", "category"), answer[:2], strict=True):
            for value, n, _ in rows:
                by_article[name][value or ""] += int(n)
        for month, n, rows in answer[2]:  # every matching article has one (0: undated)
            in_month[int(month)] += int(n)
            articles += int(n)
            passages += int(rows)
        if len(answer) > 3:
            copies.extend(answer[3])
    months: Counter = Counter()
    for month, n in in_month.items():
        if month > 0:
            months[_month(month)] += n
    by_article["month"] = months
    by_cluster = {name: Counter(counts) for name, counts in by_article.items()}
    clusters = articles - len(copies) + len({row[4] for row in copies})
    for i, name in ((2, "source"), (3, "category")):
        for row in copies:
            by_cluster[name][row[i] or ""] -= 1
        # once a cluster and value, values that differ by case and accents alone being one
        spelled: dict[tuple, str] = {}
        for row in copies:
            value = row[i] or ""
            spelled.setdefault((row[4], fold_accents(value.casefold().strip())), value)
        for value in spelled.values():
            by_cluster[name][value] += 1
    dated = [(row[4], _month(int(row[1]))) for row in copies if int(row[1]) > 0]
    for _, month in dated:
        by_cluster["month"][month] -= 1
    for _, month in set(dated):  # once a cluster and month, as once a cluster and source
        by_cluster["month"][month] += 1
    counts = Counts(
        passages=passages,
        articles=articles,
        clusters=clusters,
        by_article={name: dict(c) for name, c in by_article.items()},
        by_cluster={name: {v: n for v, n in c.items() if n > 0} for name, c in by_cluster.items()},
    )
    return counts, {int(row[0]): row[4] for row in copies}


def lead_rows(reader: SphinxReader, select: str, arts: np.ndarray) -> list[tuple]:
    """``art`` and the ``select`` list of these articles' (numbers) lead rows, each
    article asked of its shard, the shards in parallel."""
    return [row for future in ask_lead_rows(reader, select, arts) for row in future.result()]


def ask_lead_rows(reader: SphinxReader, select: str, arts: np.ndarray) -> list[Future]:
    """Ask each shard for ``art`` and the ``select`` list of these articles' (numbers)
    lead rows; a future of each shard's rows."""
    _arts, rank, shards = reader.ranks()
    known = arts[arts < len(rank)]
    where = shards[rank[known]]

    def shard_rows(shard: int, chosen: np.ndarray):
        listed = ",".join(str(int(a)) for a in chosen)
        sql = (
            f"SELECT art, {select} FROM {reader.index} WHERE lead = 1 AND "
            f"art IN ({listed}) LIMIT {len(chosen)} OPTION max_matches={len(chosen)}"
        )
        return reader.pool.run(shard, lambda cur: (cur.execute(sql), cur.fetchall())[1])

    return [
        reader.executor.submit(shard_rows, shard, known[where == shard])
        for shard in range(reader.cluster.shards)
        if (where == shard).any()
    ]
