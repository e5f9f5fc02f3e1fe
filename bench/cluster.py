"""The cluster backend against the embedded index, in one run (by hand, never by the tests).

Builds the relevance benchmark's corpus (``bench/relevance.py``: OrangeSum + PIAF, cached)
three ways: the embedded whoosh index, a cluster of 1 searchd node, and a cluster of
2 shards x 2 replicas (nodes started here, on loopback ports, in a temp folder, stopped at
the end). For each: build passages/s, then the PIAF questions (ranked passages) and the
leads (ranked articles): MRR@10 and query p50/p95 in ms; then ``bench/query.py``'s keyword
queries (one to three words, the page's default: 10 articles, copies collapsed): p50/p95;
and the ratios to whoosh.

    python3 bench/cluster.py                      # the full corpus: the figures that count
    python3 bench/cluster.py --articles 2000 --questions 200 --leads 100   # a quick loop
    python3 bench/cluster.py --build-only --rounds 2   # builds alone, each engine twice

Each build also reports the CPU seconds it took: the writing process, its analyzing
processes, and the searchd nodes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

from _common import code_version, even_sample, log, percentile  # the project on sys.path
from query import keyword_queries
from relevance import DEFAULT_CACHE, VeilleEngine, evaluate, prepare_corpus

from search import Index, RankingConfig, build_index
from search.cluster import cluster_status, init_cluster, start_cluster, stop_cluster


def free_base(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    for base in range(21000, 60000, 97):
        try:
            for port in range(base, base + count):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise SystemExit("cluster.py: no free ports")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--articles", type=int, default=None, help="first N OrangeSum articles")
    p.add_argument("--questions", type=int, default=None, help="an even sample of N questions")
    p.add_argument("--leads", type=int, default=None, help="an even sample of N leads")
    p.add_argument("--keywords", type=int, default=None, help="an even sample of N keyword queries")
    p.add_argument(
        "--procs",
        type=int,
        default=os.cpu_count() or 1,
        help="build procs (analyzing processes), both backends",
    )
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--layouts", default="1x1,2x2", help="shards x replicas, comma-separated")
    p.add_argument("--build-only", action="store_true", help="no queries: builds alone")
    p.add_argument(
        "--rounds", type=int, default=1, help="with --build-only: build every engine N times"
    )
    args = p.parse_args(argv)
    if args.rounds != 1 and not args.build_only:
        p.error("--rounds repeats the builds only: add --build-only")
    return args


def run_engine(label: str, path: Path, questions, leads, keywords, corpus) -> dict:
    engine = VeilleEngine(path, RankingConfig())
    try:
        ev = evaluate(engine, questions, leads, label, corpus)
    finally:
        engine.close()
    log(f"  {label}: {len(keywords)} keyword queries ...")
    index = Index.open(path)
    try:
        times = []
        for text in keywords:
            started = time.perf_counter()
            index.search(text)
            times.append((time.perf_counter() - started) * 1000)
    finally:
        index.close()
    return {
        "piaf_mrr": ev.piaf.mrr(10),
        "lead_mrr": ev.lead.mrr(10),
        "piaf_ms": (ev.piaf.p50(), ev.piaf.p95()),
        "lead_ms": (ev.lead.p50(), ev.lead.p95()),
        "keyword_ms": (percentile(times, 50), percentile(times, 95)),
    }


def process_cpu(pid: int) -> float:
    """CPU seconds (user and system) a running process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def used_cpu(nodes: list[int]) -> tuple[float, float, float]:
    """CPU seconds so far: this process, its finished children, the nodes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (
        own.ru_utime + own.ru_stime,
        children.ru_utime + children.ru_stime,
        sum(process_cpu(pid) for pid in nodes),
    )


def build(label: str, corpus: Path, path: Path, procs: int) -> dict:
    log(f"building {label} ...")
    nodes = [n["pid"] for n in cluster_status(path)] if path.suffix == ".toml" else []
    before = used_cpu(nodes)
    summary = build_index(corpus, path, procs=procs)
    cpu = [b - a for a, b in zip(before, used_cpu(nodes), strict=True)]
    rate = summary.passages / summary.seconds
    log(
        f"  {label}: {summary.passages:,} passages in {summary.seconds:.1f} s (CPU s: writer "
        f"{cpu[0]:.0f}, analyzing processes {cpu[1]:.0f}, nodes {cpu[2]:.0f})"
    )
    return {"passages": summary.passages, "seconds": summary.seconds, "rate": rate, "cpu": cpu}


def report(rows: dict[str, dict]) -> None:
    base = rows["whoosh"]
    print(
        f"{'engine':<10} {'build p/s':>10} {'ratio':>6}  {'PIAF MRR@10':>11} {'Δ':>7}  "
        f"{'lead MRR@10':>11} {'Δ':>7}  {'PIAF ms p50/p95':>15} {'ratio':>6}  "
        f"{'lead ms p50/p95':>15} {'ratio':>6}  {'keyword ms':>13} {'ratio':>6}"
    )
    for name, r in rows.items():
        timings = "".join(
            f"  {r[k][0]:>7.1f}/{r[k][1]:<7.1f} {r[k][1] / base[k][1]:>5.2f}x"
            for k in ("piaf_ms", "lead_ms", "keyword_ms")
        )
        print(
            f"{name:<10} {r['rate']:>10,.0f} {base['rate'] / r['rate']:>5.2f}x  "
            f"{r['piaf_mrr']:>11.3f} {r['piaf_mrr'] - base['piaf_mrr']:>+7.3f}  "
            f"{r['lead_mrr']:>11.3f} {r['lead_mrr'] - base['lead_mrr']:>+7.3f}{timings}"
        )
    print(
        "(build ratio: the embedded index's build time over this one's, as a slowdown; "
        "query ratios: p95 over whoosh's)"
    )


def report_builds(rounds: list[dict[str, dict]]) -> None:
    head = f"{'round':<6} {'engine':<8} {'seconds':>8} {'vs whoosh':>9}"
    print(f"{head}  CPU s: writer / analyzing / nodes")
    for n, rows in enumerate(rounds, start=1):
        for name, r in rows.items():
            cpu = " / ".join(f"{c:.0f}" for c in r["cpu"])
            ratio = r["seconds"] / rows["whoosh"]["seconds"]
            print(f"{n:<6} {name:<8} {r['seconds']:>8.1f} {ratio:>8.2f}x  {cpu}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    corpus = prepare_corpus(args.cache_dir, args.articles, False)
    questions = [corpus.questions[i] for i in even_sample(len(corpus.questions), args.questions)]
    leads = [corpus.leads[i] for i in even_sample(len(corpus.leads), args.leads)]
    keywords = keyword_queries(corpus.path)
    keywords = [keywords[i] for i in even_sample(len(keywords), args.keywords)]
    print(f"# Veille cluster benchmark, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %z}")
    python = platform.python_version()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {python}")
    print(
        f"corpus: {corpus.articles} articles ({corpus.path}); {len(questions)} PIAF questions, "
        f"{len(leads)} leads, {len(keywords)} keyword queries; search/: {code_version()}"
    )
    rounds: list[dict[str, dict]] = []
    clusters: dict[str, Path] = {}
    with tempfile.TemporaryDirectory(prefix="veille-bench-cluster-") as tmp:
        try:
            for _ in range(args.rounds if args.build_only else 1):
                rows: dict[str, dict] = {}
                rounds.append(rows)
                path = Path(tmp) / "whoosh"
                rows["whoosh"] = build("whoosh", corpus.path, path, args.procs)
                if not args.build_only:
                    rows["whoosh"] |= run_engine("whoosh", path, questions, leads, keywords, corpus)
                for layout in args.layouts.split(","):
                    if layout not in clusters:
                        shards, replicas = (int(n) for n in layout.split("x"))
                        base = free_base(shards * replicas)
                        folder = Path(tmp) / layout
                        clusters[layout] = init_cluster(folder, shards, replicas, base_port=base)
                        start_cluster(clusters[layout])
                    config = clusters[layout]
                    rows[layout] = build(layout, corpus.path, config, args.procs)
                    if not args.build_only:
                        rows[layout] |= run_engine(
                            layout, config, questions, leads, keywords, corpus
                        )
        finally:
            for config in clusters.values():
                stop_cluster(config)
    if args.build_only:
        report_builds(rounds)
    else:
        report(rounds[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
