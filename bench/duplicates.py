"""Near-duplicates on the development corpus: pairs to read by threshold, and the build cost.

1. Every OrangeSum article's signature, candidate pairs from datasketch's LSH at a low
   threshold, and the estimated similarity of each: how many pairs fall in each band, and a
   few pairs of each band printed side by side (title, source, date, first words) to read
   and label by hand (the labels chose search.duplicates.THRESHOLD; see bench/README.md).
2. ``build_index`` of the whole corpus with and without finding duplicates, in one run
   (the baseline is the build without): the ratio is what finding them costs.

    python3 bench/duplicates.py                 # both
    python3 bench/duplicates.py --pairs-only --per-band 8
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import ORANGESUM, code_version, log, print_header
from datasketch import LeanMinHash, MinHashLSH

from search import Article, build_index
from search.duplicates import NUM_PERM, THRESHOLD, signature, similarity

BANDS = [(0.4, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.01)]


def articles(limit: int | None) -> list[Article]:
    out = []
    with ORANGESUM.open(encoding="utf-8") as f:
        for n, line in enumerate(f):
            if limit is not None and n >= limit:
                break
            r = json.loads(line)
            out.append(
                Article(
                    id=r["id"],
                    title=r["title"],
                    date=None,
                    source=r.get("source"),
                    url=None,
                    paragraphs=tuple(p for p in r["text"].split("\n\n") if p.strip()),
                    metadata={"date": r.get("date")},
                )
            )
    return out


def pairs(corpus: list[Article]) -> list[tuple[float, Article, Article]]:
    lsh = MinHashLSH(threshold=0.4, num_perm=NUM_PERM)
    signatures = {}
    found = []
    for article in corpus:
        values = signature(article)
        minhash = LeanMinHash(seed=1, hashvalues=values, scheme="affine32")
        for other in lsh.query(minhash):
            found.append((similarity(values, signatures[other][0]), signatures[other][1], article))
        lsh.insert(article.id, minhash)
        signatures[article.id] = (values, article)
    return found


def show(article: Article) -> str:
    words = " ".join(article.body.split()[:40])
    return f"{article.id} [{article.metadata.get('date')}] {article.title!r}: {words} …"


def study(corpus: list[Article], per_band: int) -> None:
    started = time.monotonic()
    found = pairs(corpus)
    log(f"pairs: {len(found)} candidates in {time.monotonic() - started:.0f} s")
    rng = random.Random(7)
    print(f"\n## candidate pairs by estimated similarity (threshold in force: {THRESHOLD})")
    for low, high in BANDS:
        band = [p for p in found if low <= p[0] < high]
        print(f"\n### {low:.1f} to {min(high, 1.0):.1f}: {len(band)} pairs")
        for score, a, b in rng.sample(band, min(per_band, len(band))):
            print(f"- {score:.2f}\n  A {show(a)}\n  B {show(b)}")


def timed_build(corpus_file: Path, find: bool, procs: int) -> float:
    target = Path(tempfile.mkdtemp(prefix="veille-dup-bench-"))
    try:
        started = time.monotonic()
        build_index(corpus_file, target / "index", procs=procs, find_duplicates=find)
        return time.monotonic() - started
    finally:
        shutil.rmtree(target, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--articles", type=int, help="only the first N OrangeSum articles")
    p.add_argument("--per-band", type=int, default=5, help="pairs printed per band")
    p.add_argument("--pairs-only", action="store_true", help="skip the build timings")
    p.add_argument("--procs", type=int, default=2)
    args = p.parse_args(argv)
    print_header("near-duplicates benchmark", " ".join(sys.argv), code_version())
    corpus = articles(args.articles)
    study(corpus, args.per_band)
    if args.pairs_only:
        return 0
    source = ORANGESUM
    if args.articles:
        source = Path(tempfile.mkdtemp(prefix="veille-dup-corpus-")) / "corpus.jsonl"
        with ORANGESUM.open(encoding="utf-8") as f, source.open("w", encoding="utf-8") as out:
            for _, line in zip(range(args.articles), f, strict=False):
                out.write(line)
    log("building without, then with, duplicates ...")
    without = timed_build(source, False, args.procs)
    with_ = timed_build(source, True, args.procs)
    print("\n## build time, same run")
    print(f"without finding duplicates (baseline): {without:.1f} s")
    print(f"with: {with_:.1f} s = {with_ / without:.2f}x the baseline (target: < 1.20x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
