"""Relevance benchmark: Veille against a naive whoosh set-up, on the development data.

Run by hand (never by the tests), from the project folder:

    python3 bench/relevance.py                      # the full run: the figure that counts
    python3 bench/relevance.py --articles 2000      # a quick loop
    python3 bench/relevance.py --articles 2000 --reuse-index /tmp/ix2000 \\
        --set title_weight=0.2 --grid exact_bonus=0,0.1,0.3

What it does (see ../shared/data/README.md, "How the engine is judged"):

1. Writes the corpus, as JSON Lines: the OrangeSum articles (id, title, date, source, url,
   text; never the abstract) plus the 761 PIAF paragraphs grouped into their 191 Wikipedia
   articles (``piaf-A-P`` is paragraph P of article ``piaf-A``: its Wikipedia title, its
   paragraphs in P order, one passage each). The file is cached under --cache-dir and
   reused while the inputs are unchanged.
2. Builds a Veille index with ``search.build_index`` (the code path of ``veille build``), or
   reuses the one at --reuse-index.
3. Builds the baseline over the same passages (``search.split_passages`` of the same
   articles): whoosh's StemmingAnalyzer on title and text, default BM25F, the query read by
   whoosh's MultifieldParser with OrGroup (so ``?`` and ``*`` are wildcards, as in a naive
   set-up). Cached under --cache-dir, keyed by the corpus and the passage-splitting code.
4. Every engine answers both tasks. PIAF in a haystack: each question's ranking is judged by
   paragraph (an article ranking by the passage each hit shows first, so the right article
   with the wrong paragraph is a miss). MRR@10, Recall@10, Recall@100. Lead to article: each
   listed article's abstract ranks articles (a passage ranking: each article at its best
   passage's rank). MRR@10, Recall@10.
   Engines: Veille's default (group="article": what Index.search and the page do), with its
   second stage (for PIAF, with --fold-dir, each question ranked by the fold model that never
   saw its article) and without it ("veille 1st stage"); Veille's passages
   (group="passage"); bm25s over passages (title + passage, k1 1.5, b 0.75) and over whole
   articles (title + all paragraphs, k1 1.2, b 0.75; it names no passage: credited with the
   article's first), on all the queries; the naive whoosh baseline.
5. The naive baseline needs seconds a query at full size: it runs on an even sample (every
   k-th question and lead, --baseline-sample), and Veille is scored on that same sample too,
   so that the ratios compare like with like.

Timings are wall-clock milliseconds per query around the search call (Veille's includes
building the 100 hits' snippets, as a user's search does). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import (
    LEAD_SAMPLE,
    ORANGESUM,
    PIAF_CONTEXTS,
    PIAF_QUESTIONS,
    PROJECT,
    Progress,
    add_set_option,
    code_version,
    even_sample,
    file_key,
    format_settings,
    log,
    median,
    parse_setting,
    percentile,
    ranking_config,
    source_key,
)

from search import (
    Index,
    IndexVersionError,
    RankingConfig,
    build_index,
    read_corpus,
    split_passages,
)

# Bump when the corpus file this script writes changes shape (invalidates the cache).
CORPUS_FORMAT = 2
BASELINE_FORMAT = 1
KEPT_FIELDS = ("id", "title", "date", "source", "url", "text")  # never "abstract"
LIMIT = 100  # a page holds at most 100 hits
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "veille-bench-cache"


# --- the data ------------------------------------------------------------------------


@dataclass
class Query:
    qid: str
    text: str
    answer: str  # the article id of the one right answer


@dataclass
class Corpus:
    path: Path
    key: str
    articles: int
    orangesum: int
    piaf: int
    cached: bool
    questions: list[Query]
    leads: list[Query]
    leads_listed: int
    paragraph_of: dict[str, list[int]]  # PIAF article -> each passage's paragraph P
    # A lead's article -> the other articles of the corpus with its title, date and text:
    # no ranking can tell them apart, so the order among them is a tie (``lead_losses``).
    copies: dict[str, set[str]] = field(default_factory=dict)


def prepare_corpus(
    cache_dir: Path | None, n_articles: int | None, add_lead_articles: bool
) -> Corpus:
    """Write (or reuse) the combined corpus file; read the questions and the leads."""
    lead_ids = LEAD_SAMPLE.read_text(encoding="utf-8").split()
    lead_set = set(lead_ids)
    key = file_key(
        ORANGESUM,
        PIAF_CONTEXTS,
        LEAD_SAMPLE,
        extra=f"corpus{CORPUS_FORMAT}|{n_articles}|{add_lead_articles}",
    )
    if cache_dir is not None:
        folder = cache_dir / f"corpus-{key}"
    else:
        folder = Path(tempfile.mkdtemp(prefix="veille-bench-corpus-"))
    path = folder / "corpus.jsonl"
    abstracts: dict[str, str] = {}
    ids: list[str] = []
    same_text: dict[tuple[str, str, str], list[str]] = {}
    cached = path.exists() and (folder / "ids.json").exists()
    folder.mkdir(parents=True, exist_ok=True)
    # The abstracts (queries) and the ids in the corpus are read from the source either way:
    # one pass over the file, cheap next to a build.
    log(f"reading {ORANGESUM.name} ...")
    out = None if cached else open(path.with_suffix(".tmp"), "w", encoding="utf-8")  # noqa: SIM115
    if out is None:
        ids = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
        wanted = set(ids)
    n_orange = 0
    try:
        with open(ORANGESUM, encoding="utf-8") as f:
            for number, line in enumerate(f):
                first = n_articles is None or number < n_articles
                if not first and not add_lead_articles:
                    break
                record = json.loads(line)
                aid = record["id"]
                in_corpus = first or aid in lead_set
                if not in_corpus:
                    continue
                if aid in lead_set and record.get("abstract"):
                    abstracts[aid] = record["abstract"]
                text_key = (record.get("title", ""), record.get("date", ""), record["text"])
                same_text.setdefault(text_key, []).append(aid)
                if out is not None:
                    kept = {k: record[k] for k in KEPT_FIELDS if record.get(k) is not None}
                    out.write(json.dumps(kept, ensure_ascii=False) + "\n")
                    ids.append(aid)
                elif aid not in wanted:
                    raise RuntimeError(f"cache {folder} does not match the inputs: rebuild it")
                n_orange += 1
        n_piaf = 0
        piaf_docs = piaf_articles()
        for doc in piaf_docs:
            if out is not None:
                out.write(json.dumps(doc, ensure_ascii=False) + "\n")
            n_piaf += 1
        if out is not None:
            out.close()
            os.replace(path.with_suffix(".tmp"), path)
            (folder / "ids.json").write_text(json.dumps(ids), encoding="utf-8")
    except BaseException:
        if out is not None:
            out.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path.with_suffix(".tmp"))
        raise
    questions = []
    with open(PIAF_QUESTIONS, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            questions.append(
                Query(record["qid"], record["question"], piaf_answer(record["context_id"]))
            )
    present = set(ids)
    leads = [
        Query(aid, abstracts[aid], aid) for aid in lead_ids if aid in present and aid in abstracts
    ]
    copies = {
        aid: set(group) - {aid}
        for group in same_text.values()
        if len(group) > 1
        for aid in group
        if aid in abstracts
    }
    return Corpus(
        path=path,
        key=key,
        articles=n_orange + n_piaf,
        orangesum=n_orange,
        piaf=n_piaf,
        cached=cached,
        questions=questions,
        leads=leads,
        leads_listed=len(lead_ids),
        paragraph_of=piaf_paragraphs(piaf_docs),
        copies=copies,
    )


def piaf_articles() -> list[dict]:
    """The PIAF paragraphs grouped into their Wikipedia articles, paragraphs in P order.

    ``context_id`` ``piaf-A-P`` is paragraph P of article ``piaf-A``; the article's text is
    its paragraphs separated by blank lines (so each is one passage, or several if long).
    """
    grouped: dict[str, list[tuple[int, str]]] = {}
    titles: dict[str, str] = {}
    with open(PIAF_CONTEXTS, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            article, paragraph = split_piaf_id(record["context_id"])
            grouped.setdefault(article, []).append((paragraph, record["context"].strip()))
            titles[article] = record["title"]
    return [
        {"id": article, "title": titles[article], "text": "\n\n".join(t for _, t in sorted(paras))}
        for article, paras in grouped.items()
    ]


def piaf_paragraphs(docs: list[dict]) -> dict[str, list[int]]:
    """For each PIAF article, the paragraph P each of its passages (by position) comes from.

    The articles are read and split as a build does (``read_corpus``, ``split_passages``);
    a long paragraph cut into several passages gives each of them its P.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "piaf.jsonl"
        path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
        found: dict[str, list[int]] = {}
        for article in read_corpus(path):
            starts, offset = [], 0
            for paragraph in article.paragraphs:
                starts.append(offset)
                offset += len(paragraph) + 2
            found[article.id] = [
                sum(1 for s in starts if s <= passage.start) - 1
                for passage in split_passages(article)
            ]
    return found


def split_piaf_id(context_id: str) -> tuple[str, int]:
    """``piaf-A-P`` -> (``piaf-A``, P)."""
    article, _, paragraph = context_id.rpartition("-")
    return article, int(paragraph)


def piaf_answer(context_id: str) -> str:
    """The key a ranking must name for a PIAF question: its article and paragraph."""
    article, paragraph = split_piaf_id(context_id)
    return f"{article}#{paragraph}"


# --- the engines -------------------------------------------------------------------------


@dataclass
class Ranking:
    """What an engine answered to one query: (article id, passage position) in rank order
    (an article ranking names the passage it credits), and the time."""

    found: list[tuple[str, int]]
    ms: float


class VeilleEngine:
    """Veille through ``Index.search``: ``group`` "article" (the default) or "passage"."""

    def __init__(
        self, index_path: Path, config: RankingConfig, group: str = "article", limit: int = LIMIT
    ) -> None:
        self.index = Index.open(index_path, ranking=config)
        self.group = group
        self.limit = limit
        self.name = "veille" if group == "article" else "veille passages"

    def _search(self, text: str, limit: int) -> Ranking:
        started = time.perf_counter()
        results = self.index.search(text, group=self.group, limit=limit, collapse=False)
        ms = (time.perf_counter() - started) * 1000
        return Ranking([(hit.article_id, hit.passages[0].position) for hit in results.hits], ms)

    def passages(self, text: str) -> Ranking:
        return self._search(text, LIMIT)

    def articles(self, text: str) -> Ranking:
        return self._search(text, self.limit)

    def close(self) -> None:
        self.index.close()


class FoldedVeilleEngine(VeilleEngine):
    """Veille's default, each PIAF question ranked by the second-stage model of the fold
    that left its article out (bench/train_ranker.py's --fold-dir): the dev questions
    trained the shipped model, so it would score them in-sample. Leads (held out of
    training) use the shipped model."""

    def __init__(self, index_path: Path, config: RankingConfig, fold_dir: Path, corpus) -> None:
        super().__init__(index_path, config, "article", LIMIT)
        folds = json.loads((fold_dir / "folds.json").read_text(encoding="utf-8"))
        self.fold_of = {
            q.text: folds.get(f"piaf:{q.answer.split('#')[0]}") for q in corpus.questions
        }
        self.by_fold = {
            fold: Index.open(
                index_path,
                ranking=config.with_changes(ranker_model=str(fold_dir / f"fold-{fold}.txt")),
            )
            for fold in sorted(set(folds.values()))
        }

    def passages(self, text: str) -> Ranking:
        fold = self.fold_of.get(text)
        if fold is None:
            return super().passages(text)
        started = time.perf_counter()
        results = self.by_fold[fold].search(text, limit=LIMIT, collapse=False)
        ms = (time.perf_counter() - started) * 1000
        return Ranking([(hit.article_id, hit.passages[0].position) for hit in results.hits], ms)

    def close(self) -> None:
        super().close()
        for index in self.by_fold.values():
            index.close()


class Bm25sEngine:
    """bm25s over the same passages: each passage with its article's title as one document,
    or (``whole``) each article as one document, its title and all its paragraphs.

    Tokens as bm25s's French set-up makes them: its word pattern, its French stop words,
    PyStemmer's French stemmer. A whole-article ranking names no passage: it is credited
    with the article's first.
    """

    def __init__(self, corpus: Path, whole: bool, k1: float, b: float) -> None:
        import bm25s
        import Stemmer

        self.name = "bm25s articles" if whole else "bm25s passages"
        self.stemmer = Stemmer.Stemmer("french")
        self.keys: list[tuple[str, int]] = []
        texts: list[str] = []
        for article in read_corpus(corpus):
            if whole:
                self.keys.append((article.id, 0))
                texts.append(article.title + "\n" + article.body)
                continue
            for passage in split_passages(article):
                self.keys.append((article.id, passage.position))
                texts.append(article.title + "\n" + passage.text)
        tokens = bm25s.tokenize(texts, stopwords="fr", stemmer=self.stemmer, show_progress=False)
        self.retriever = bm25s.BM25(k1=k1, b=b)
        self.retriever.index(tokens, show_progress=False)
        self.whole = whole

    def _retrieve(self, text: str, k: int) -> Ranking:
        import bm25s

        started = time.perf_counter()
        tokens = bm25s.tokenize([text], stopwords="fr", stemmer=self.stemmer, show_progress=False)
        if not tokens.vocab:
            return Ranking([], (time.perf_counter() - started) * 1000)
        docs, _ = self.retriever.retrieve(
            tokens, k=min(k, len(self.keys)), show_progress=False, n_threads=1
        )
        found = [self.keys[d] for d in docs[0]]
        return Ranking(found, (time.perf_counter() - started) * 1000)

    def passages(self, text: str) -> Ranking:
        return self._retrieve(text, LIMIT)

    def articles(self, text: str) -> Ranking:
        # Articles rank as their best passage: enough passages for ten articles and more.
        return self._retrieve(text, LIMIT if self.whole else LIMIT * 5)

    def close(self) -> None:
        pass


def baseline_schema():
    from whoosh import fields
    from whoosh.analysis import StemmingAnalyzer

    return fields.Schema(
        passage_id=fields.ID(unique=True, stored=True),
        article_id=fields.ID(stored=True),
        title=fields.TEXT(analyzer=StemmingAnalyzer()),
        text=fields.TEXT(analyzer=StemmingAnalyzer()),
    )


def add_baseline_passages(
    writer, corpus: Path, limit: int | None = None, log_every: int = 2000
) -> tuple[int, int]:
    """Add the corpus's passages (the first ``limit`` articles') to a naive whoosh writer."""
    started = time.perf_counter()
    n_articles = n_passages = 0
    for article in read_corpus(corpus):
        if limit is not None and n_articles >= limit:
            break
        for passage in split_passages(article):
            writer.add_document(
                passage_id=f"{article.id}#{passage.position}",
                article_id=article.id,
                title=article.title,
                text=passage.text,
            )
            n_passages += 1
        n_articles += 1
        if n_articles % log_every == 0:
            rate = n_passages / (time.perf_counter() - started)
            log(f"  baseline: {n_articles} articles, {n_passages} passages ({rate:.0f}/s)")
    return n_articles, n_passages


def build_baseline(corpus: Path, folder: Path, procs: int) -> tuple[int, int, float]:
    """Index the same passages as Veille (split_passages of read_corpus) the naive way."""
    from whoosh import index as whoosh_index

    started = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(folder), baseline_schema())
    writer = ix.writer(procs=procs, limitmb=256) if procs > 1 else ix.writer(limitmb=256)
    try:
        n_articles, n_passages = add_baseline_passages(writer, corpus)
    except BaseException:
        writer.cancel()
        raise
    log("  baseline: committing ...")
    writer.commit()
    ix.close()
    return n_articles, n_passages, time.monotonic() - started


class BaselineEngine:
    name = "baseline"

    def __init__(self, folder: Path) -> None:
        from whoosh import index as whoosh_index
        from whoosh import scoring
        from whoosh.qparser import MultifieldParser, OrGroup

        self.ix = whoosh_index.open_dir(str(folder), readonly=True)
        self.searcher = self.ix.searcher(weighting=scoring.BM25F())
        self.parser = MultifieldParser(["title", "text"], self.ix.schema, group=OrGroup)
        self.key_of = []
        for stored in self.searcher.reader().all_stored_fields():
            article, _, position = stored["passage_id"].rpartition("#")
            self.key_of.append((article, int(position)))

    def passages(self, text: str) -> Ranking:
        started = time.perf_counter()
        q = self.parser.parse(text)
        results = self.searcher.search(q, limit=LIMIT)
        found = [self.key_of[hit.docnum] for hit in results]
        return Ranking(found, (time.perf_counter() - started) * 1000)

    def articles(self, text: str) -> Ranking:
        """Articles ranked by their best passage: widen the passage list until 100 articles."""
        started = time.perf_counter()
        q = self.parser.parse(text)
        n = LIMIT * 5
        while True:
            results = self.searcher.search(q, limit=n)
            order: dict[str, tuple[str, int]] = {}
            for hit in results:
                key = self.key_of[hit.docnum]
                order.setdefault(key[0], key)
                if len(order) >= LIMIT:
                    break
            if len(order) >= LIMIT or results.scored_length() < n:
                break
            n *= 4
        return Ranking(list(order.values())[:LIMIT], (time.perf_counter() - started) * 1000)

    def close(self) -> None:
        self.searcher.close()
        self.ix.close()


# --- scoring -------------------------------------------------------------------------------


@dataclass
class Scores:
    """Per-query ranks (None: not in the first 100) and times of one engine on one task."""

    ranks: dict[str, int | None] = field(default_factory=dict)
    ms: dict[str, float] = field(default_factory=dict)
    first: dict[str, list[str]] = field(default_factory=dict)  # the first ten, as judged

    def subset(self, qids: list[str]) -> Scores:
        return Scores(
            {q: self.ranks[q] for q in qids},
            {q: self.ms[q] for q in qids},
            {q: self.first[q] for q in qids if q in self.first},
        )

    @property
    def n(self) -> int:
        return len(self.ranks)

    def mrr(self, k: int = 10) -> float:
        if not self.ranks:
            return float("nan")
        return sum(1 / r for r in self.ranks.values() if r is not None and r <= k) / self.n

    def recall(self, k: int) -> float:
        if not self.ranks:
            return float("nan")
        return sum(1 for r in self.ranks.values() if r is not None and r <= k) / self.n

    def p50(self) -> float:
        return median(list(self.ms.values()))

    def p95(self) -> float:
        return percentile(list(self.ms.values()), 95)


def paragraph_keys(found: list[tuple[str, int]], paragraph_of: dict[str, list[int]]) -> list[str]:
    """What each ranked passage is judged as: ``piaf-A#P`` for a PIAF paragraph, else the
    article id (no question's answer)."""
    return [
        f"{article}#{paragraph_of[article][position]}" if article in paragraph_of else article
        for article, position in found
    ]


def article_keys(found: list[tuple[str, int]]) -> list[str]:
    """The articles in rank order, each at the rank of its best passage."""
    return list(dict.fromkeys(article for article, _ in found))


def run_queries(
    label: str,
    queries: list[Query],
    search_fn: Callable[[str], Ranking],
    keys: Callable[[list[tuple[str, int]]], list[str]],
) -> Scores:
    scores = Scores()
    progress = Progress(label, len(queries))
    for done, query in enumerate(queries, start=1):
        ranking = search_fn(query.text)
        ranked = keys(ranking.found)
        try:
            rank = ranked.index(query.answer) + 1
        except ValueError:
            rank = None
        scores.ranks[query.qid] = rank
        scores.first[query.qid] = ranked[:10]
        scores.ms[query.qid] = ranking.ms
        progress(done)
    return scores


@dataclass
class Evaluation:
    piaf: Scores
    lead: Scores


def run_engine(
    make: Callable[[], Any], questions: list[Query], leads: list[Query], corpus: Corpus
) -> Evaluation:
    """Open an engine, score it on both tasks, close it."""
    engine = make()
    try:
        return evaluate(engine, questions, leads, engine.name, corpus)
    finally:
        engine.close()


def evaluate(
    engine, questions: list[Query], leads: list[Query], label: str, corpus: Corpus
) -> Evaluation:
    """Score an engine on both tasks: PIAF judged by paragraph, leads by article."""
    paragraphs = functools.partial(paragraph_keys, paragraph_of=corpus.paragraph_of)
    piaf = run_queries(f"{label} PIAF", questions, engine.passages, paragraphs)
    lead = run_queries(f"{label} lead", leads, engine.articles, article_keys)
    return Evaluation(piaf, lead)


# --- the report ----------------------------------------------------------------------------


def _f(x: float, digits: int = 3) -> str:
    return "n/a" if x != x else f"{x:.{digits}f}"


def _ratio(a: float, b: float) -> str:
    return "n/a" if a != a or b != b or b == 0 else f"{a / b:.2f}x"


HEADER = (
    f"{'engine':<20} {'queries':<14} {'PIAF MRR@10':>11} {'R@10':>6} {'R@100':>6} "
    f"{'ms p50/p95':>13}   {'lead MRR@10':>11} {'R@10':>6} {'ms p50/p95':>13}"
)


def row(name: str, what: str, ev: Evaluation) -> str:
    p, ld = ev.piaf, ev.lead
    return (
        f"{name:<20} {what:<14} {_f(p.mrr()):>11} {_f(p.recall(10)):>6} {_f(p.recall(100)):>6} "
        f"{_f(p.p50(), 0) + '/' + _f(p.p95(), 0):>13}   "
        f"{_f(ld.mrr()):>11} {_f(ld.recall(10)):>6} {_f(ld.p50(), 0) + '/' + _f(ld.p95(), 0):>13}"
    )


def ratio_row(a: Evaluation, b: Evaluation, name: str, what: str) -> str:
    pa, pb, la, lb = a.piaf, b.piaf, a.lead, b.lead
    return (
        f"{name:<20} {what:<14} {_ratio(pa.mrr(), pb.mrr()):>11} "
        f"{_ratio(pa.recall(10), pb.recall(10)):>6} {_ratio(pa.recall(100), pb.recall(100)):>6} "
        f"{_ratio(pb.p50(), pa.p50()) + ' faster':>13}   "
        f"{_ratio(la.mrr(), lb.mrr()):>11} {_ratio(la.recall(10), lb.recall(10)):>6} "
        f"{_ratio(lb.p50(), la.p50()) + ' faster':>13}"
    )


def short_row(settings: str, ev: Evaluation) -> str:
    p, ld = ev.piaf, ev.lead
    return (
        f"{settings:<44} {_f(p.mrr()):>8} {_f(p.recall(10)):>6} {_f(p.recall(100)):>6} "
        f"{_f(ld.mrr()):>8} {_f(ld.recall(10)):>6} {_f(p.p50(), 0):>5}/{_f(ld.p50(), 0):<5}"
    )


# --- main ---------------------------------------------------------------------------------


@contextlib.contextmanager
def veille_index(
    corpus: Corpus, reuse: Path | None, procs: int, keep: bool
) -> Iterator[tuple[Path, str]]:
    """The Veille index to search: reused, built into --reuse-index, or built in a temp dir."""
    info = None
    if reuse is not None and (reuse / "CURRENT").exists():
        try:
            index = Index.open(reuse)
        except IndexVersionError as e:
            log(f"--reuse-index {reuse}: {e}; rebuilding it")
        else:
            info = index.info()
            index.close()
    if info is not None:
        if info.articles != corpus.articles:
            raise SystemExit(
                f"--reuse-index {reuse} holds {info.articles} articles, the corpus "
                f"{corpus.articles}: it was built from another corpus (remove it to rebuild)"
            )
        yield reuse, f"reused {reuse} ({info.articles} articles, {info.passages} passages)"
        return
    target = reuse if reuse is not None else Path(tempfile.mkdtemp(prefix="veille-bench-ix-"))
    log(f"building the Veille index in {target} (procs={procs}) ...")
    progress = Progress("veille build (articles)", corpus.articles, every=10.0)
    summary = build_index(corpus.path, target, procs=procs, progress=lambda a, p: progress(a))
    what = (
        f"built in {target} with search.build_index(procs={procs}): {summary.articles} "
        f"articles, {summary.passages} passages in {summary.seconds:.1f} s"
    )
    log(what)
    try:
        yield target, what
    finally:
        if reuse is None and not keep:
            shutil.rmtree(target, ignore_errors=True)


def baseline_folder(corpus: Corpus, cache_dir: Path | None, procs: int) -> tuple[Path, str, bool]:
    code = source_key(PROJECT / "search" / "passages.py", PROJECT / "search" / "corpus.py")
    key = f"{corpus.key}-{code}-{BASELINE_FORMAT}"
    if cache_dir is not None:
        folder = cache_dir / f"baseline-{key}"
        if (folder / "DONE").exists():
            return folder, f"reused the cached baseline index {folder}", False
        shutil.rmtree(folder, ignore_errors=True)
    else:
        folder = Path(tempfile.mkdtemp(prefix="veille-bench-baseline-"))
    log(f"building the baseline index in {folder} ...")
    n_articles, n_passages, seconds = build_baseline(corpus.path, folder, procs)
    if cache_dir is not None:
        (folder / "DONE").write_text(f"{n_articles} {n_passages}\n")
    what = f"built in {folder}: {n_articles} articles, {n_passages} passages in {seconds:.1f} s"
    return folder, what, cache_dir is None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--articles", type=int, help="only the first N OrangeSum articles")
    p.add_argument(
        "--add-lead-articles",
        action="store_true",
        help="with --articles: add the lead sample's articles too (more leads to score)",
    )
    p.add_argument("--questions", type=int, help="at most N PIAF questions (an even sample)")
    p.add_argument("--leads", type=int, help="at most N leads (an even sample)")
    p.add_argument(
        "--baseline-sample",
        type=int,
        default=300,
        help="questions and leads the baseline runs on, an even sample (0: no baseline)",
    )
    p.add_argument(
        "--no-bm25s", action="store_true", help="skip the bm25s baselines (a quicker loop)"
    )
    p.add_argument(
        "--fold-dir",
        type=Path,
        help="bench/train_ranker.py's fold models: each PIAF question ranked by the one that "
        "left its article out",
    )
    p.add_argument("--procs", type=int, default=2, help="build processes (default 2)")
    p.add_argument("--reuse-index", type=Path, help="reuse the Veille index there (or build it)")
    p.add_argument("--keep-index", action="store_true", help="do not delete the temp index")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--no-cache", action="store_true", help="write everything in temp dirs")
    add_set_option(p, "a RankingConfig field's value, e.g. title_weight=0.3 (repeatable)")
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2,...",
        help="also score Veille with each value of a RankingConfig field, one field at a time "
        "(repeatable), e.g. bm25_b=0.2,0.4",
    )
    p.add_argument(
        "--lead-limit",
        type=int,
        default=LIMIT,
        help="Veille's page size for leads (default 100; lead MRR@10 and R@10 are the same "
        "with 10, which is faster: handy for a grid, but the timings are then not comparable)",
    )
    p.add_argument("--json", type=Path, help="write the figures there too")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    try:
        settings = dict(parse_setting(s) for s in args.set)
        grid: list[tuple[str, list[float]]] = []
        for g in args.grid:
            name, _, values = g.partition("=")
            grid.append((name, [parse_setting(f"{name}={v}")[1] for v in values.split(",")]))
    except ValueError as e:
        raise SystemExit(f"relevance.py: {e}") from None
    config = ranking_config(settings)
    base_settings = config.as_dict()
    cache_dir = None if args.no_cache else args.cache_dir

    corpus = prepare_corpus(cache_dir, args.articles, args.add_lead_articles)
    questions = [corpus.questions[i] for i in even_sample(len(corpus.questions), args.questions)]
    leads = [corpus.leads[i] for i in even_sample(len(corpus.leads), args.leads)]
    b_questions = [questions[i] for i in even_sample(len(questions), args.baseline_sample)]
    b_leads = [leads[i] for i in even_sample(len(leads), args.baseline_sample)]

    print(f"# Veille relevance benchmark, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %z}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"Python {platform.python_version()}, whoosh {'.'.join(map(str, _whoosh_version()))}"
    )
    scope = "all" if args.articles is None else f"the first {args.articles}"
    extra = " plus the lead sample's articles" if args.add_lead_articles else ""
    print(
        f"corpus: {scope} OrangeSum articles{extra} ({corpus.orangesum}) + {corpus.piaf} PIAF "
        f"articles (761 paragraphs) = {corpus.articles} articles; "
        + (f"reused cached file {corpus.path}" if corpus.cached else f"written to {corpus.path}")
    )
    print(
        f"queries: {len(questions)} of {len(corpus.questions)} PIAF questions; {len(leads)} of "
        f"the {corpus.leads_listed} listed leads ({len(corpus.leads)} in this corpus)"
    )
    print(f"search/: {code_version()}")
    print(f"settings: {format_settings(base_settings)}")
    if args.lead_limit != LIMIT:
        print(f"Veille's leads ask for {args.lead_limit} articles a page, not {LIMIT}")

    with veille_index(corpus, args.reuse_index, args.procs, args.keep_index) as (ix_path, how):
        print(f"veille index: {how}")
        folded = config.second_stage and args.fold_dir is not None
        if folded:
            print(f"PIAF questions ranked by the fold models in {args.fold_dir} (cross-validated)")
        elif config.second_stage:
            print("PIAF questions ranked by the shipped model, which they trained (in-sample)")
        veille = run_engine(
            (lambda: FoldedVeilleEngine(ix_path, config, args.fold_dir, corpus))
            if folded
            else (lambda: VeilleEngine(ix_path, config, "article", args.lead_limit)),
            questions,
            leads,
            corpus,
        )
        # Every other engine on every query, so that the ratios compare like with like.
        others: list[tuple[str, Evaluation]] = []
        if config.second_stage:
            off = config.with_changes(second_stage=False)
            others.append(
                (
                    "veille 1st stage",
                    run_engine(
                        lambda: VeilleEngine(ix_path, off, "article", args.lead_limit),
                        questions,
                        leads,
                        corpus,
                    ),
                )
            )
        others.append(
            (
                "veille passages",
                run_engine(
                    lambda: VeilleEngine(ix_path, config, "passage"), questions, leads, corpus
                ),
            )
        )
        if not args.no_bm25s:
            for whole, k1, b in ((False, 1.5, 0.75), (True, 1.2, 0.75)):
                log(f"bm25s: indexing {'articles' if whole else 'passages'} ...")
                others.append(
                    (
                        f"bm25s {'articles' if whole else 'passages'}",
                        run_engine(
                            lambda whole=whole, k1=k1, b=b: Bm25sEngine(corpus.path, whole, k1, b),
                            questions,
                            leads,
                            corpus,
                        ),
                    )
                )

        baseline = None
        if args.baseline_sample > 0 and (b_questions or b_leads):
            folder, how_b, remove = baseline_folder(corpus, cache_dir, args.procs)
            print(f"baseline index: {how_b}")
            b_engine = BaselineEngine(folder)
            try:
                baseline = evaluate(b_engine, b_questions, b_leads, "baseline", corpus)
            finally:
                b_engine.close()
                if remove:
                    shutil.rmtree(folder, ignore_errors=True)

        grid_results: list[tuple[str, Evaluation]] = []
        for name, values in grid:
            for value in values:
                label = format_settings({name: value})
                log(f"grid: {label}")
                changed = config.with_changes(**{name: value})
                grid_results.append(
                    (
                        label,
                        run_engine(
                            lambda changed=changed: VeilleEngine(
                                ix_path, changed, "article", args.lead_limit
                            ),
                            questions,
                            leads,
                            corpus,
                        ),
                    )
                )

    print()
    print(HEADER)
    every = f"all {len(questions)}/{len(leads)}"
    print(row("veille", every, veille))
    for name, ev in others:
        print(row(name, every, ev))
    for name, ev in others:
        print(ratio_row(veille, ev, f"veille/{name}", "all"))
    if baseline is not None:
        ids_q = [q.qid for q in b_questions]
        ids_l = [q.qid for q in b_leads]
        veille_s = Evaluation(veille.piaf.subset(ids_q), veille.lead.subset(ids_l))
        what = f"sample {len(b_questions)}/{len(b_leads)}"
        print(row("veille", what, veille_s))
        print(row("baseline", what, baseline))
        print(ratio_row(veille_s, baseline, "veille/baseline", "same sample"))
        kq = len(questions) / max(1, len(b_questions))
        kl = len(leads) / max(1, len(b_leads))
        print(
            f"\nsample: every {kq:.1f}-th PIAF question and every {kl:.1f}-th lead "
            "(the baseline runs on these only; Veille's 'sample' row is on the same queries)."
        )
    print("queries: PIAF questions / leads; ms: wall-clock per query, median/95th percentile.")
    print(lead_losses(veille.lead, leads, corpus.copies))
    if grid_results:
        print(f"\n## grid (one field at a time; others: {format_settings(base_settings)})")
        print(
            f"{'setting':<44} {'PIAF MRR':>8} {'R@10':>6} {'R@100':>6} {'leadMRR':>8} "
            f"{'R@10':>6} {'ms p50 P/L':>11}"
        )
        print(short_row("(base settings)", veille))
        for label, ev in grid_results:
            print(short_row(label, ev))
    print(f"\ntotal run time {time.monotonic() - started:.0f} s")
    if cache_dir is None:
        shutil.rmtree(corpus.path.parent, ignore_errors=True)

    if args.json is not None:
        out = {
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "articles": corpus.articles,
            "settings": base_settings,
            "veille": _ev_json(veille, ranks=True),
            "baseline": _ev_json(baseline) if baseline is not None else None,
            "others": {name: _ev_json(ev) for name, ev in others},
            "grid": {label: _ev_json(ev) for label, ev in grid_results},
        }
        args.json.write_text(json.dumps(out, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


SHORT_LEAD = 4  # words: such leads are a date alone ("26 août"), or a heading


def lead_losses(scores: Scores, leads: list[Query], copies: dict[str, set[str]]) -> str:
    """Where Veille's leads are lost that no ranking could win: behind an exact copy of their
    article (same title, date and text: a tie, the copy first), or a lead of a few words."""
    with_copy = behind = 0
    without_copies = 0.0  # the reciprocal ranks, the copies left out of the first ten
    for q in leads:
        twins = copies.get(q.answer, set())
        first = scores.first.get(q.qid, [])
        ahead = first[: first.index(q.answer)] if q.answer in first else first
        with_copy += bool(twins)
        behind += any(a in twins for a in ahead)
        if q.answer in first:
            without_copies += 1 / (1 + sum(a not in twins for a in ahead))
    short = [q for q in leads if len(q.text.split()) <= SHORT_LEAD]
    found_short = sum(1 for q in short if q.answer in scores.first.get(q.qid, []))
    return (
        f"veille's leads: {with_copy} of {len(leads)} articles have an exact copy (same title, "
        f"date and text), {behind} of them rank behind it in the top 10 (MRR@10 "
        f"{_f(without_copies / max(len(leads), 1))} with the copies left out of the ranking); "
        f"{len(short)} leads of {SHORT_LEAD} words or fewer, {found_short} of them in the top 10."
    )


def _ev_json(ev: Evaluation, ranks: bool = False) -> dict:
    out = {
        "piaf": {
            "n": ev.piaf.n,
            "mrr10": ev.piaf.mrr(),
            "r10": ev.piaf.recall(10),
            "r100": ev.piaf.recall(100),
            "ms_p50": ev.piaf.p50(),
            "ms_p95": ev.piaf.p95(),
        },
        "lead": {
            "n": ev.lead.n,
            "mrr10": ev.lead.mrr(),
            "r10": ev.lead.recall(10),
            "ms_p50": ev.lead.p50(),
            "ms_p95": ev.lead.p95(),
        },
    }
    if ranks:  # per query (None: not in the first 100), to compare two runs query by query
        out["ranks"] = {"piaf": ev.piaf.ranks, "lead": ev.lead.ranks}
    return out


def _whoosh_version() -> tuple:
    import whoosh

    return whoosh.__version__


if __name__ == "__main__":
    sys.exit(main())
