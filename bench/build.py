"""Build benchmark: Veille's build_index against the naive whoosh baseline, in one run.

Run by hand (never by the tests), from the project folder:

    python3 bench/build.py                                  # the full corpus, procs 1 and 2
    python3 bench/build.py --articles 2000 --keep /tmp/ix   # quick; keep the index for query.py

What it does:

1. Writes (or reuses) the corpus of bench/relevance.py: the OrangeSum articles (all, or the
   first --articles N) plus the 761 PIAF paragraphs in their 191 articles, as JSON Lines.
2. For each --procs value, builds a Veille index with ``search.build_index`` (the code path of
   ``veille build``) in a child process, into a temp dir (or --keep PATH for the last one).
3. Builds the naive whoosh baseline of ../shared/data/README.md in a child process: whoosh's
   StemmingAnalyzer on title and text, the default writer (``ix.writer()``: one process,
   128 MB), the same passages (``split_passages`` of the same articles), on a fixed prefix,
   the first --baseline-articles articles of the corpus (default 2,000): it is ~400
   passages/s, too slow for the whole corpus.

Each build runs in its own process, so that its memory is its own. Reported per build:
passages/s (passages over the build's wall time, measured inside the child around the build
call, reading and parsing the corpus included), wall time, peak RSS (the largest single
process, from wait4's rusage, children of the build included) and the peak of the summed
RSS of the build's whole process tree (sampled from /proc every 0.2 s), the index's size on
disk, and passages/s as a multiple of the baseline's.

Progress goes to stderr; the table to stdout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from _common import Progress, code_version, log, print_header
from relevance import DEFAULT_CACHE, add_baseline_passages, baseline_schema, prepare_corpus

from search import build_index

BASELINE_ARTICLES = 2000
_PAGE = os.sysconf("SC_PAGE_SIZE")


# --- the child: one build -----------------------------------------------------------------


def child_veille(corpus: Path, out: Path, procs: int, total: int) -> dict:
    progress = Progress(f"veille build procs={procs} (articles)", total, every=15.0)
    started = time.perf_counter()
    summary = build_index(corpus, out, procs=procs, progress=lambda a, p: progress(a))
    seconds = time.perf_counter() - started
    return {"articles": summary.articles, "passages": summary.passages, "seconds": seconds}


def child_baseline(corpus: Path, out: Path, limit: int) -> dict:
    """The naive set-up: StemmingAnalyzer on title and text, whoosh's default writer."""
    from whoosh import index as whoosh_index

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(out), baseline_schema())
    writer = ix.writer()
    n_articles, n_passages = add_baseline_passages(writer, corpus, limit=limit, log_every=500)
    log("  baseline: committing ...")
    writer.commit()
    ix.close()
    seconds = time.perf_counter() - started
    return {"articles": n_articles, "passages": n_passages, "seconds": seconds}


# --- the parent: run a child, watch its memory --------------------------------------------


def _children() -> dict[int, list[int]]:
    """ppid -> pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        tree.setdefault(ppid, []).append(int(name))
    return tree


def tree_rss(root: int) -> int:
    """The summed resident memory (bytes) of root and all its descendants."""
    tree = _children()
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            pass
        stack.extend(tree.get(pid, ()))
    return total


@dataclass
class Measure:
    engine: str
    procs: int
    articles: int
    passages: int
    seconds: float
    max_rss: int  # bytes, largest single process
    tree_rss: int  # bytes, largest sampled sum over the tree
    size: int  # bytes on disk
    where: str

    @property
    def rate(self) -> float:
        return self.passages / self.seconds if self.seconds else float("nan")


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def run_child(engine: str, args: list[str], out: Path, procs: int) -> Measure:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", engine, *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(proc.pid))
            done.wait(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        assert proc.stdout is not None
        output = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        done.set()
        watcher.join()
        if proc.returncode is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        raise SystemExit(f"the {engine} build failed (exit {proc.returncode}): {shlex.join(cmd)}")
    result = json.loads(output.strip().splitlines()[-1])
    return Measure(
        engine=engine,
        procs=procs,
        articles=result["articles"],
        passages=result["passages"],
        seconds=result["seconds"],
        max_rss=usage.ru_maxrss * 1024,
        tree_rss=peak,
        size=folder_size(out),
        where=str(out),
    )


# --- main ------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--articles", type=int, help="only the first N OrangeSum articles (+ PIAF)")
    p.add_argument(
        "--procs",
        default="1,2",
        help="comma-separated build process counts for Veille (default 1,2)",
    )
    p.add_argument(
        "--keep",
        type=Path,
        metavar="PATH",
        help="build the last --procs configuration into PATH and keep it (for query.py)",
    )
    p.add_argument(
        "--baseline-articles",
        type=int,
        default=BASELINE_ARTICLES,
        metavar="N",
        help=f"the baseline indexes the first N articles (default {BASELINE_ARTICLES}; 0: none)",
    )
    p.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--json", type=Path, help="write the figures there too")
    # Internal: one build in this (child) process.
    p.add_argument("--child", choices=("veille", "baseline"), help=argparse.SUPPRESS)
    p.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child == "veille":
        print(json.dumps(child_veille(args.corpus, args.out, int(args.procs), args.limit or 0)))
        return 0
    if args.child == "baseline":
        print(json.dumps(child_baseline(args.corpus, args.out, args.limit)))
        return 0

    version = code_version()  # what is measured: search/ as the run starts
    started = time.monotonic()
    command = "python3 " + shlex.join([sys.argv[0], *(sys.argv[1:] if argv is None else argv)])
    procs_list = [int(x) for x in args.procs.split(",") if x.strip()]
    corpus = prepare_corpus(args.cache_dir, args.articles, False)
    measures: list[Measure] = []
    temps: list[Path] = []
    try:
        if args.baseline_articles > 0:
            out = Path(tempfile.mkdtemp(prefix="veille-bench-naive-"))
            temps.append(out)
            log(f"baseline build ({args.baseline_articles} articles) in {out} ...")
            base_args = ["--corpus", str(corpus.path), "--out", str(out)]
            base_args += ["--limit", str(args.baseline_articles)]
            measures.append(run_child("baseline", base_args, out, 1))
            shutil.rmtree(out, ignore_errors=True)
        for i, procs in enumerate(procs_list):
            last = i == len(procs_list) - 1
            if last and args.keep is not None:
                out = args.keep
            else:
                out = Path(tempfile.mkdtemp(prefix="veille-bench-build-"))
                temps.append(out)
            log(f"veille build procs={procs} in {out} ...")
            child_args = ["--corpus", str(corpus.path), "--out", str(out), "--procs", str(procs)]
            child_args += ["--limit", str(corpus.articles)]
            measures.append(run_child("veille", child_args, out, procs))
            if out in temps:
                shutil.rmtree(out, ignore_errors=True)
    finally:
        for t in temps:
            shutil.rmtree(t, ignore_errors=True)

    base = next((m for m in measures if m.engine == "baseline"), None)
    print_header("build benchmark", command, version)
    scope = "all" if args.articles is None else f"the first {args.articles}"
    print(
        f"corpus: {scope} OrangeSum articles ({corpus.orangesum}) + {corpus.piaf} PIAF "
        f"articles (761 paragraphs) = {corpus.articles} articles ({corpus.path})"
    )
    if base is not None:
        print(
            f"baseline: naive whoosh (StemmingAnalyzer, title+text, default writer) on the "
            f"first {base.articles} articles of that corpus only"
        )
    print()
    print(
        f"{'engine':<9} {'procs':>5} {'articles':>8} {'passages':>8} {'wall s':>7} "
        f"{'pass/s':>7} {'x naive':>7} {'peak RSS MB':>11} {'tree RSS MB':>11} {'disk MB':>7}"
    )
    for m in measures:
        ratio = f"{m.rate / base.rate:.2f}x" if base is not None else "n/a"
        print(
            f"{m.engine:<9} {m.procs:>5} {m.articles:>8} {m.passages:>8} {m.seconds:>7.1f} "
            f"{m.rate:>7,.0f} {ratio:>7} {_mb(m.max_rss):>11} {_mb(m.tree_rss):>11} "
            f"{_mb(m.size):>7}"
        )
    print(
        "\npass/s: passages / wall s of the build call (reading the corpus included); x naive: "
        "pass/s over the baseline's, same run; peak RSS: the largest single process; "
        "tree RSS: the peak of the summed RSS of the build's processes (sampled every 0.2 s)."
    )
    if args.keep is not None:
        print(f"kept: {args.keep} (the procs={procs_list[-1]} build)")
    print(f"total run time {time.monotonic() - started:.0f} s")
    if args.json is not None:
        out_json = {
            "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "command": command,
            "articles": corpus.articles,
            "builds": [{**m.__dict__, "passages_per_s": m.rate} for m in measures],
        }
        args.json.write_text(json.dumps(out_json, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
