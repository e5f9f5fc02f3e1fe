"""Query latency benchmark: Veille in-process, against tantivy and the naive whoosh baseline.

Run by hand (never by the tests), from the project folder:

    python3 bench/query.py --index /tmp/veille-ix-full          # the full corpus, reused
    python3 bench/query.py --articles 2000                      # quick: builds a small index

What it measures (one thread, wall-clock milliseconds around each search call):

- keyword queries: a fixed list of about 200 queries of one to three words, made from the
  corpus's frequent words, bigrams and trigrams (an even sample of the frequency ranks, so
  that very common and rarer words are both there; deterministic); the web page's default
  search: group="article", 10 hits;
- the PIAF dev questions, and the leads of lead_dev_sample.txt (the abstract as the query):
  the page's default too, 10 hits, and again 100 hits (``quest@100``, ``leads@100``);
- each of these with the second stage off (``1st stage``), set after set, for the ratio.

Veille's time is ``Index.search`` (parsing, ranking, grouping, the hits' snippets). Before
timing, a few warm-up queries load what the searcher caches (not counted).

In the same run:

- tantivy (Rust, through its Python bindings), over the same passages (``split_passages`` of
  the same articles; title and text fields; a French pipeline: simple tokenizer, lowercase,
  French stop words, Snowball French stemmer, ASCII folding), built in a temp dir with one
  writer thread; each query's words (lowercased, so that AND/OR/NOT are not operators; only
  word characters, so nothing needs escaping) OR-ed over title and text by its query parser;
  top 100 passages for questions and leads (tantivy has no grouping), top 10 for keywords;
  the hits' stored article ids are read.
- the naive whoosh baseline (StemmingAnalyzer, BM25F, MultifieldParser with OrGroup, from
  bench/relevance.py) on a fixed sample only, and on an index of the first 2,000 OrangeSum
  articles only (plus the PIAF paragraphs): its queries take about a second each there.

Progress goes to stderr; the table to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shlex
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    PIAF_QUESTIONS,
    Progress,
    code_version,
    even_sample,
    lead_abstracts,
    log,
    percentile,
    print_header,
)
from relevance import DEFAULT_CACHE, BaselineEngine, baseline_folder, prepare_corpus

from search import (
    Index,
    IndexVersionError,
    RankingConfig,
    build_index,
    read_corpus,
    split_passages,
)
from search.analysis import FRENCH_STOP_WORDS, fold_accents

BASELINE_ARTICLES = 2000  # the baseline's index: the first 2,000 OrangeSum articles
KEYWORDS = 200
WARMUP = 5

_WORD = re.compile(r"[^\W\d_]{4,}")


# --- the queries ---------------------------------------------------------------------


@dataclass(frozen=True)
class QuerySet:
    name: str
    group: str
    limit: int
    texts: list[str]


def _content_words(text: str) -> list[str | None]:
    """Lowercased words of 4+ letters; None in place of a stop word (it breaks n-grams)."""
    out: list[str | None] = []
    for raw in re.findall(r"[^\W_]+", text.lower()):
        if len(raw) >= 4 and _WORD.fullmatch(raw) and fold_accents(raw) not in FRENCH_STOP_WORDS:
            out.append(raw)
        else:
            out.append(None)
    return out


def keyword_queries(corpus_path: Path, n: int = KEYWORDS, scan: int = 4000) -> list[str]:
    """About n keyword queries of one to three words, from the corpus's frequent n-grams.

    Reads an even sample of `scan` articles; counts words (4+ letters, not stop words),
    bigrams and trigrams of consecutive such words; takes an even sample of the ranks of the
    3,000 most frequent words (40%), 2,000 bigrams (35%) and 1,000 trigrams (25%).
    Deterministic for a given corpus file.
    """
    with open(corpus_path, encoding="utf-8") as f:
        total = sum(1 for _ in f)
    wanted = set(even_sample(total, scan))
    words: Counter[str] = Counter()
    bigrams: Counter[str] = Counter()
    trigrams: Counter[str] = Counter()
    with open(corpus_path, encoding="utf-8") as f:
        for number, line in enumerate(f):
            if number not in wanted:
                continue
            record = json.loads(line)
            for part in (record.get("title", ""), *record.get("text", "").split("\n\n")):
                toks = _content_words(part)
                for i, w in enumerate(toks):
                    if w is None:
                        continue
                    words[w] += 1
                    if i + 1 < len(toks) and toks[i + 1] is not None:
                        bigrams[f"{w} {toks[i + 1]}"] += 1
                        if i + 2 < len(toks) and toks[i + 2] is not None:
                            trigrams[f"{w} {toks[i + 1]} {toks[i + 2]}"] += 1

    def pick(counter: Counter[str], top: int, k: int) -> list[str]:
        ranked = [w for w, _ in sorted(counter.items(), key=lambda x: (-x[1], x[0]))[:top]]
        return [ranked[i] for i in even_sample(len(ranked), k)]

    n1, n2 = round(n * 0.40), round(n * 0.35)
    return pick(words, 3000, n1) + pick(bigrams, 2000, n2) + pick(trigrams, 1000, n - n1 - n2)


def questions() -> list[str]:
    with open(PIAF_QUESTIONS, encoding="utf-8") as f:
        return [json.loads(line)["question"] for line in f]


def leads() -> list[str]:
    """The abstracts of the articles listed in lead_dev_sample.txt, in the list's order."""
    return list(lead_abstracts().values())


def query_sets(corpus_path: Path, n_questions: int | None, n_leads: int | None) -> list[QuerySet]:
    log("making the query lists ...")
    qs = questions()
    ls = leads()
    questions_ = [qs[i] for i in even_sample(len(qs), n_questions)]
    leads_ = [ls[i] for i in even_sample(len(ls), n_leads)]
    return [
        QuerySet("keywords", "article", 10, keyword_queries(corpus_path)),
        QuerySet("questions", "article", 10, questions_),
        QuerySet("leads", "article", 10, leads_),
        QuerySet("quest@100", "article", 100, questions_),
        QuerySet("leads@100", "article", 100, leads_),
    ]


# --- the engines ---------------------------------------------------------------------


class VeilleEngine:
    def __init__(self, path: Path, config: RankingConfig | None = None) -> None:
        self.index = Index.open(path, ranking=config or RankingConfig())

    def search(self, text: str, group: str, limit: int) -> int:
        return len(self.index.search(text, limit=limit, group=group).hits)

    def close(self) -> None:
        self.index.close()


class TantivyEngine:
    """tantivy over the same passages, French stemming, OR of the query's words."""

    def __init__(self, corpus_path: Path, folder: Path, limit_articles: int | None = None):
        import tantivy

        self.tantivy = tantivy
        analyzer = (
            tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
            .filter(tantivy.Filter.remove_long(40))
            .filter(tantivy.Filter.lowercase())
            .filter(tantivy.Filter.stopword("french"))
            .filter(tantivy.Filter.stemmer("french"))
            .filter(tantivy.Filter.ascii_fold())
            .build()
        )
        sb = tantivy.SchemaBuilder()
        sb.add_text_field("article_id", stored=True, tokenizer_name="raw")
        sb.add_text_field("title", tokenizer_name="fr")
        sb.add_text_field("text", tokenizer_name="fr")
        self.index = tantivy.Index(sb.build(), path=str(folder))
        self.index.register_tokenizer("fr", analyzer)
        started = time.perf_counter()
        writer = self.index.writer(heap_size=256_000_000, num_threads=1)
        self.articles = self.passages = 0
        for article in read_corpus(corpus_path):
            if limit_articles is not None and self.articles >= limit_articles:
                break
            for passage in split_passages(article):
                writer.add_document(
                    tantivy.Document(article_id=article.id, title=article.title, text=passage.text)
                )
                self.passages += 1
            self.articles += 1
        writer.commit()
        writer.wait_merging_threads()
        self.build_seconds = time.perf_counter() - started
        self.index.reload()
        self.searcher = self.index.searcher()

    def search(self, text: str, group: str, limit: int) -> int:
        words = re.findall(r"\w+", text.lower())
        if not words:
            return 0
        query = self.index.parse_query(" ".join(words), ["title", "text"])
        hits = self.searcher.search(query, limit).hits
        return len([self.searcher.doc(addr)["article_id"][0] for _, addr in hits])

    def close(self) -> None:
        pass


class BaselineQueries:
    """The naive whoosh set-up of bench/relevance.py, answering like the others."""

    def __init__(self, folder: Path) -> None:
        self.engine = BaselineEngine(folder)

    def search(self, text: str, group: str, limit: int) -> int:
        if group == "article":
            return len(self.engine.articles(text).ids)
        return len(self.engine.passages(text).ids)

    def close(self) -> None:
        self.engine.close()


# --- timing ---------------------------------------------------------------------------


@dataclass
class Timing:
    ms: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        return percentile(self.ms, q)

    @property
    def n(self) -> int:
        return len(self.ms)


def time_queries(label: str, search: Callable[[str, str, int], int], qs: QuerySet) -> Timing:
    timing = Timing()
    progress = Progress(f"{label} {qs.name}", len(qs.texts))
    for done, text in enumerate(qs.texts, start=1):
        started = time.perf_counter()
        search(text, qs.group, qs.limit)
        timing.ms.append((time.perf_counter() - started) * 1000)
        progress(done)
    return timing


def warm_up(search: Callable[[str, str, int], int], sets: list[QuerySet]) -> None:
    for qs in sets:
        for text in qs.texts[:WARMUP]:
            search(text, qs.group, qs.limit)


# --- the index --------------------------------------------------------------------------


def veille_index(corpus, path: Path | None, procs: int) -> tuple[Path, str]:
    if path is not None:
        try:
            index = Index.open(path)
        except IndexVersionError as e:
            raise SystemExit(f"--index {path}: {e}") from None
        info = index.info()
        index.close()
        if info.articles != corpus.articles:
            log(
                f"warning: --index {path} holds {info.articles} articles, the corpus "
                f"{corpus.articles} (tantivy indexes the corpus): pass the matching --articles"
            )
        return path, f"reused {path} ({info.articles} articles, {info.passages} passages)"
    target = Path(tempfile.mkdtemp(prefix="veille-bench-query-"))
    log(f"building the Veille index in {target} (procs={procs}) ...")
    progress = Progress("veille build (articles)", corpus.articles, every=10.0)
    summary = build_index(corpus.path, target, procs=procs, progress=lambda a, p: progress(a))
    return target, (
        f"built in {target}: {summary.articles} articles, {summary.passages} passages "
        f"in {summary.seconds:.0f} s (removed afterwards)"
    )


# --- the report --------------------------------------------------------------------------


def _ms(x: float) -> str:
    if x != x:
        return "n/a"
    if x < 1:
        return f"{x:.2f}"
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def _x(a: float, b: float) -> str:
    return "n/a" if a != a or b != b or b == 0 else f"{a / b:.2f}x"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--index", type=Path, help="the Veille index to time (default: build one)")
    p.add_argument(
        "--articles",
        type=int,
        help="the corpus: the first N OrangeSum articles + the PIAF paragraphs (default: all); "
        "must be the corpus --index was built from (tantivy indexes it)",
    )
    p.add_argument("--procs", type=int, default=2, help="build processes if building (2)")
    p.add_argument("--questions", type=int, help="at most N PIAF questions (an even sample)")
    p.add_argument("--leads", type=int, help="at most N leads (an even sample)")
    p.add_argument("--baseline-questions", type=int, default=100, metavar="N")
    p.add_argument("--baseline-leads", type=int, default=30, metavar="N")
    p.add_argument("--baseline-keywords", type=int, default=100, metavar="N")
    p.add_argument("--no-baseline", action="store_true", help="skip the naive whoosh baseline")
    p.add_argument("--no-tantivy", action="store_true", help="skip tantivy")
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--json", type=Path, help="write the figures there too")
    return p.parse_args(argv)


TARGETS = {
    "keywords": (None, 15.0),
    "questions": (None, 60.0),
    "leads": (None, 60.0),
    "quest@100": (None, 100.0),
    "leads@100": (None, 100.0),
}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    version = code_version()  # what is measured: search/ as the run starts
    started = time.monotonic()
    command = "python3 " + shlex.join([sys.argv[0], *(sys.argv[1:] if argv is None else argv)])
    corpus = prepare_corpus(args.cache_dir, args.articles, False)
    sets = query_sets(corpus.path, args.questions, args.leads)

    index_path, how = veille_index(corpus, args.index, args.procs)
    results: dict[str, dict[str, Timing]] = {
        "veille": {},
        "1st stage": {},
        "tantivy": {},
        "baseline": {},
    }
    try:
        engine = VeilleEngine(index_path)
        first = VeilleEngine(index_path, RankingConfig(second_stage=False))
        log("warming Veille up ...")
        warm_up(engine.search, sets)
        warm_up(first.search, sets)
        # The default and the first stage alone, one set after the other: the same noise.
        for qs in sets:
            results["veille"][qs.name] = time_queries("veille", engine.search, qs)
            results["1st stage"][qs.name] = time_queries("1st stage", first.search, qs)
        engine.close()
        first.close()
    finally:
        if args.index is None:
            shutil.rmtree(index_path, ignore_errors=True)

    tantivy_how = "skipped"
    if not args.no_tantivy:
        import tantivy

        folder = Path(tempfile.mkdtemp(prefix="veille-bench-tantivy-"))
        try:
            log(f"building the tantivy index in {folder} ...")
            t = TantivyEngine(corpus.path, folder)
            tantivy_how = (
                f"tantivy {tantivy.__version__.split(',')[0].split()[-1]}, built in a temp dir: "
                f"{t.articles} articles, {t.passages} passages in {t.build_seconds:.0f} s "
                f"({t.passages / t.build_seconds:,.0f} passages/s, one writer thread)"
            )
            warm_up(t.search, sets)
            for qs in sets:
                results["tantivy"][qs.name] = time_queries("tantivy", t.search, qs)
            t.close()
            del t
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    baseline_how = "skipped"
    samples = {
        "keywords": args.baseline_keywords,
        "questions": args.baseline_questions,
        "leads": args.baseline_leads,
    }
    if not args.no_baseline:
        small = prepare_corpus(args.cache_dir, BASELINE_ARTICLES, False)
        folder, what, remove = baseline_folder(small, args.cache_dir, 2)
        baseline_how = (
            f"naive whoosh on the first {BASELINE_ARTICLES} OrangeSum articles + "
            f"{small.piaf} PIAF articles only; {what}"
        )
        b = BaselineQueries(folder)
        try:
            for qs in sets:
                if qs.name not in samples:
                    continue
                sample = [qs.texts[i] for i in even_sample(len(qs.texts), samples[qs.name])]
                sub = QuerySet(qs.name, qs.group, qs.limit, sample)
                results["baseline"][qs.name] = time_queries("baseline", b.search, sub)
        finally:
            b.close()
            if remove:
                shutil.rmtree(folder, ignore_errors=True)

    # --- the table ---
    print_header("query latency", command, version)
    scope = "all" if args.articles is None else f"the first {args.articles}"
    print(
        f"corpus: {scope} OrangeSum articles ({corpus.orangesum}) + {corpus.piaf} PIAF "
        f"articles (761 paragraphs) = {corpus.articles} articles"
    )
    print(f"veille index: {how}")
    print(f"tantivy: {tantivy_how}")
    print(f"baseline: {baseline_how}")
    print(
        "queries: keywords = fixed 1-3 word queries; questions = PIAF dev; leads = "
        "lead_dev_sample abstracts; all the page's default (group=article), 10 hits, and "
        "@100: 100 hits. '1st stage': the same with the second stage off. One thread, ms "
        "wall-clock per query."
    )
    print()
    print(
        f"{'engine':<10} {'queries':<10} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'mean ms':>8} {'max ms':>8}  target p50/p95"
    )
    for engine_name in ("veille", "1st stage", "tantivy", "baseline"):
        for qs in sets:
            t = results[engine_name].get(qs.name)
            if t is None or not t.n:
                continue
            target = ""
            if engine_name == "veille":
                lo, hi = TARGETS[qs.name]
                ok = (lo is None or t.p(50) < lo) and t.p(95) < hi
                goal = "-" if lo is None else f"<{lo:.0f}"
                target = f"{goal}/<{hi:.0f} {'met' if ok else 'MISSED'}"
            mean = sum(t.ms) / t.n
            print(
                f"{engine_name:<10} {qs.name:<10} {t.n:>5} {_ms(t.p(50)):>8} {_ms(t.p(95)):>8} "
                f"{_ms(t.p(99)):>8} {_ms(mean):>8} {_ms(max(t.ms)):>8}  {target}"
            )
    print()
    print(f"{'ratio':<30} {'queries':<10} {'p50':>8} {'p95':>8} {'p99':>8}")
    for other, label in (
        ("1st stage", "veille / 1st stage (x slower)"),
        ("tantivy", "veille / tantivy (x slower)"),
        ("baseline", "baseline / veille (x faster)"),
    ):
        for qs in sets:
            v, o = results["veille"].get(qs.name), results[other].get(qs.name)
            if v is None or o is None or not o.n:
                continue
            if other in ("tantivy", "1st stage"):
                cells = [_x(v.p(q), o.p(q)) for q in (50, 95, 99)]
            else:
                cells = [_x(o.p(q), v.p(q)) for q in (50, 95, 99)]
            print(f"{label:<30} {qs.name:<10} {cells[0]:>8} {cells[1]:>8} {cells[2]:>8}")
    if results["baseline"]:
        print(
            "(the baseline runs on an even sample of each list and on a 2,000-article index; "
            "Veille and tantivy on all the queries and the whole corpus above)"
        )
    print(f"\ntotal run time {time.monotonic() - started:.0f} s")

    if args.json is not None:
        out = {
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": command,
            "articles": corpus.articles,
            "results": {
                e: {
                    name: {"n": t.n, "p50": t.p(50), "p95": t.p(95), "p99": t.p(99)}
                    for name, t in r.items()
                }
                for e, r in results.items()
            },
        }
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
