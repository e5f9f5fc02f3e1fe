"""The cluster backend against the embedded index, in one run (by hand, never by the tests).

Builds the relevance benchmark's corpus (``bench/relevance.py``: OrangeSum + PIAF, cached)
three ways: the embedded whoosh index, a cluster of 1 searchd node, and a cluster of
2 shards x 2 replicas (nodes started here, on loopback ports, in a temp folder, stopped at
the end). For each: build passages/s, then the PIAF questions (ranked passages) and the
leads (ranked articles): MRR@10 and query p50/p95 in ms, and the ratios to whoosh.

    python3 bench/cluster.py                      # the full corpus: the figures that count
    python3 bench/cluster.py --articles 2000 --questions 200 --leads 100   # a quick loop
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import socket
import sys
import tempfile
import time
from pathlib import Path

from _common import code_version, even_sample, log  # also puts the project on sys.path
from relevance import DEFAULT_CACHE, VeilleEngine, evaluate, prepare_corpus

from search import RankingConfig, build_index
from search.cluster import init_cluster, start_cluster, stop_cluster


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
    p.add_argument(
        "--procs",
        type=int,
        default=os.cpu_count() or 1,
        help="build procs (analyzing processes), both backends",
    )
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--layouts", default="1x1,2x2", help="shards x replicas, comma-separated")
    return p.parse_args(argv)


def run_engine(label: str, path: Path, questions, leads, corpus) -> dict:
    engine = VeilleEngine(path, RankingConfig())
    try:
        ev = evaluate(engine, questions, leads, label, corpus)
    finally:
        engine.close()
    return {
        "piaf_mrr": ev.piaf.mrr(10),
        "lead_mrr": ev.lead.mrr(10),
        "piaf_ms": (ev.piaf.p50(), ev.piaf.p95()),
        "lead_ms": (ev.lead.p50(), ev.lead.p95()),
    }


def build(label: str, corpus: Path, path: Path, procs: int) -> dict:
    log(f"building {label} ...")
    summary = build_index(corpus, path, procs=procs)
    rate = summary.passages / summary.seconds
    log(f"  {label}: {summary.passages:,} passages in {summary.seconds:.1f} s")
    return {"passages": summary.passages, "seconds": summary.seconds, "rate": rate}


def report(rows: dict[str, dict]) -> None:
    base = rows["whoosh"]
    print(
        f"{'engine':<10} {'build p/s':>10} {'ratio':>6}  {'PIAF MRR@10':>11} {'Δ':>7}  "
        f"{'ms p50/p95':>13} {'p95 ratio':>9}  {'lead MRR@10':>11} {'Δ':>7}  {'ms p50/p95':>13}"
    )
    for name, r in rows.items():
        print(
            f"{name:<10} {r['rate']:>10,.0f} {base['rate'] / r['rate']:>5.2f}x  "
            f"{r['piaf_mrr']:>11.3f} {r['piaf_mrr'] - base['piaf_mrr']:>+7.3f}  "
            f"{r['piaf_ms'][0]:>6.1f}/{r['piaf_ms'][1]:<6.1f} "
            f"{r['piaf_ms'][1] / base['piaf_ms'][1]:>8.2f}x  "
            f"{r['lead_mrr']:>11.3f} {r['lead_mrr'] - base['lead_mrr']:>+7.3f}  "
            f"{r['lead_ms'][0]:>6.1f}/{r['lead_ms'][1]:<6.1f}"
        )
    print("(build ratio: the embedded index's build time over this one's, as a slowdown)")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    corpus = prepare_corpus(args.cache_dir, args.articles, False)
    questions = [corpus.questions[i] for i in even_sample(len(corpus.questions), args.questions)]
    leads = [corpus.leads[i] for i in even_sample(len(corpus.leads), args.leads)]
    print(f"# Veille cluster benchmark, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %z}")
    python = platform.python_version()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus, Python {python}")
    print(
        f"corpus: {corpus.articles} articles ({corpus.path}); {len(questions)} PIAF questions, "
        f"{len(leads)} leads; search/: {code_version()}"
    )
    rows: dict[str, dict] = {}
    clusters: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="veille-bench-cluster-") as tmp:
        try:
            path = Path(tmp) / "whoosh"
            rows["whoosh"] = build("whoosh", corpus.path, path, args.procs)
            rows["whoosh"] |= run_engine("whoosh", path, questions, leads, corpus)
            for layout in args.layouts.split(","):
                shards, replicas = (int(n) for n in layout.split("x"))
                config = init_cluster(
                    Path(tmp) / layout, shards, replicas, base_port=free_base(shards * replicas)
                )
                clusters.append(config)
                start_cluster(config)
                started = time.monotonic()
                rows[layout] = build(layout, corpus.path, config, args.procs)
                log(f"  {layout}: built in {time.monotonic() - started:.1f} s")
                rows[layout] |= run_engine(layout, config, questions, leads, corpus)
        finally:
            for config in clusters:
                stop_cluster(config)
    report(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
