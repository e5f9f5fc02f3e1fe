"""Latency of the queries that are not plain words, against an earlier version of Veille.

Run by hand (never by the tests), from the project folder:

    python3 bench/structured.py --index /tmp/vfull27 --baseline 3102171

The queries are made from the development corpus's titles, deterministically (an even
sample of each kind): hyphenated compounds (`porte-parole`), quoted pairs of title words
(`"gilets jaunes"`), `titre:` words, OR groups (`(a OR b) c`), an exclusion alone
(`-Maroc`), and searches of filters alone (a source and a month, no query). Each is what
the page asks (10 articles, copies collapsed).

Two processes answer them: this tree and the baseline (the given commit, from `git
archive`), each with the same index open. The queries go to one then the other, in turn,
three rounds (the first a warm-up, not counted); the median of the two counted rounds is a
query's time. The table gives each kind's p50 and p95 for both, their ratio, and how many
queries found a different total or first page in the two versions (0 when the change
keeps the results).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import Counter
from pathlib import Path

from _common import ORANGESUM, PROJECT, even_sample, log, percentile

WORKER = """
import json, sys, time
from search import Index
index = Index.open(sys.argv[1])
for line in sys.stdin:
    asked = json.loads(line)
    started = time.perf_counter()
    found = index.search(asked["q"], **asked["params"])
    took = (time.perf_counter() - started) * 1000
    ids = [hit.article_id for hit in found.hits]
    print(json.dumps({"ms": took, "total": found.total, "ids": ids}), flush=True)
"""

_WORD = re.compile(r"[^\W\d_]{3,}")
_COMPOUND = re.compile(r"\b[^\W\d_]+(?:-[^\W\d_]+)+\b")


def queries(per_kind: int) -> list[tuple[str, str, dict]]:
    """(kind, query, request parameters), made from the corpus's titles."""
    titles, sources, months = [], Counter(), Counter()
    with open(ORANGESUM, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            titles.append(record["title"])
            sources[record.get("source") or ""] += 1
            months[(record.get("date") or "")[:7]] += 1
    compounds = Counter(c for t in titles for c in _COMPOUND.findall(t))
    words = Counter(w for t in titles for w in _WORD.findall(t))
    pairs = Counter(f"{a} {b}" for t in titles for a, b in itertools.pairwise(_WORD.findall(t)))
    frequent = [w for w, n in words.most_common() if n >= 5]
    made: list[tuple[str, str, dict]] = []

    def sample(kind: str, items: list[str], make) -> None:
        for i in even_sample(len(items), per_kind):
            made.append((kind, make(items[i], i), {}))

    sample("compound", [c for c, n in compounds.most_common() if n >= 3], lambda c, _: c)
    sample("phrase", [p for p, n in pairs.most_common() if n >= 3], lambda p, _: f'"{p}"')
    sample("titre:", frequent, lambda w, _: f"titre:{w}")
    sample(
        "OR group",
        frequent,
        lambda w, i: (
            f"({w} OR {frequent[(i * 7 + 1) % len(frequent)]}) "
            f"{frequent[(i * 13 + 2) % len(frequent)]}"
        ),
    )
    sample("exclusion alone", frequent[:200], lambda w, _: f"-{w}")
    source = sources.most_common(1)[0][0]
    for i in even_sample(len(months), per_kind):
        month = sorted(m for m in months if m)[min(i, len(months) - 2)]
        made.append(("filters alone", "", {"sources": [source], "since": month, "until": month}))
    return made


def worker(tree: Path, index: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, index],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
    )


def ask(process: subprocess.Popen, query: str, params: dict) -> dict:
    process.stdin.write(json.dumps({"q": query, "params": params}) + "\n")
    process.stdin.flush()
    return json.loads(process.stdout.readline())


def baseline_tree(commit: str, folder: Path) -> Path:
    """The baseline's files, as ``git archive`` gives them."""
    archive = folder / "baseline.tar"
    subprocess.run(["git", "archive", "-o", str(archive), commit], cwd=PROJECT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "baseline", filter="data")
    return folder / "baseline"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, help="a built index (read only)")
    parser.add_argument("--baseline", required=True, help="the commit to compare with")
    parser.add_argument("--per-kind", type=int, default=40, help="queries of each kind")
    args = parser.parse_args()
    made = queries(args.per_kind)
    log(f"{len(made)} queries; baseline {args.baseline}")
    with tempfile.TemporaryDirectory() as folder:
        trees = {"this": PROJECT, "baseline": baseline_tree(args.baseline, Path(folder))}
        processes = {name: worker(tree, args.index) for name, tree in trees.items()}
        times: dict[str, list[list[float]]] = {name: [[] for _ in made] for name in trees}
        answers: dict[str, list[dict]] = {name: [{} for _ in made] for name in trees}
        for round_ in range(3):
            order = list(trees) if round_ % 2 == 0 else list(trees)[::-1]
            for i, (_, query, params) in enumerate(made):
                for name in order:
                    answer = ask(processes[name], query, params)
                    if round_:
                        times[name][i].append(answer["ms"])
                    answers[name][i] = answer
            log(f"round {round_ + 1} of 3 done")
        for process in processes.values():
            process.stdin.close()
            process.wait()
    print(f"queries: this tree ({PROJECT.name}) against {args.baseline}, ms (median of 2 rounds)")
    print(
        f"{'kind':<16} {'n':>3} {'p50':>8} {'p95':>8} {'base p50':>9} {'base p95':>9} "
        f"{'p95 ratio':>9} {'differ':>6}"
    )
    for kind in dict.fromkeys(k for k, _, _ in made):
        rows = [i for i, (k, _, _) in enumerate(made) if k == kind]
        mine = [sorted(times["this"][i])[0] / 2 + sorted(times["this"][i])[-1] / 2 for i in rows]
        base = [
            sorted(times["baseline"][i])[0] / 2 + sorted(times["baseline"][i])[-1] / 2 for i in rows
        ]
        differ = sum(
            (answers["this"][i]["total"], answers["this"][i]["ids"])
            != (answers["baseline"][i]["total"], answers["baseline"][i]["ids"])
            for i in rows
        )
        p95, b95 = percentile(mine, 95), percentile(base, 95)
        print(
            f"{kind:<16} {len(rows):>3} {percentile(mine, 50):>8.1f} {p95:>8.1f} "
            f"{percentile(base, 50):>9.1f} {b95:>9.1f} {b95 / p95:>8.2f}x {differ:>6}"
        )


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    log(f"done in {time.perf_counter() - started:.0f} s")
