"""The `veille` command: thin commands over the library.

Each command parses its arguments, calls one library function and prints. Errors a user can
act on become a one-line message and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import html
import json
import os
import re
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from urllib.parse import quote

from . import __version__
from .alerts import (
    AlertRun,
    SmtpSettings,
    add_alert,
    list_alerts,
    masked_url,
    remove_alert,
    run_alerts,
)
from .analysis import analysis_steps
from .corpus import CorpusError, count_articles
from .dates import PARIS
from .errors import (
    IndexDamagedError,
    IndexNotFoundError,
    IndexUnavailableError,
    IndexVersionError,
    ParameterError,
    VeilleError,
)
from .explain import Explanation
from .export import jsonl_lines, write_csv
from .index import Index, build_index, check_index, optimize_index, update_index
from .ingest import FetchSummary, feed_specs, fetch_feeds, watch_feeds
from .request import SearchRequest
from .results import Hit, Results

DEFAULT_INDEX = "index"
DEFAULT_CORPUS = "corpus"
QUERY_FORMATS = ("text", "json", "csv", "jsonl")


class _Progress:
    """A one-line progress bar on a terminal (with passages/s and an ETA); silent otherwise."""

    def __init__(self, stream, total_articles: int | None = None) -> None:
        self.stream = stream
        self.enabled = stream.isatty()
        self.total = total_articles
        self.started = time.monotonic()
        self.shown = 0.0

    def __call__(self, articles: int, passages: int) -> None:
        now = time.monotonic()
        finished = bool(self.total) and articles >= self.total
        if not self.enabled or (now - self.shown < 0.2 and not finished):
            return
        self.shown = now
        elapsed = max(now - self.started, 1e-6)
        line = f"{articles:,} articles, {passages:,} passages, {passages / elapsed:,.0f} passages/s"
        if finished:
            # The build processes are still analyzing the last articles and writing their
            # segments (a few seconds to a few tens of seconds): say so, not "ETA 0:00".
            line = f"[{'#' * 20}] 100% {articles:,} articles read; writing the index ..."
        elif self.total:
            done = min(articles / self.total, 1.0)
            bar = "#" * int(done * 20)
            eta = elapsed * (1 - done) / max(done, 1e-6)
            line = f"[{bar:<20}] {done:4.0%} {line}, ETA {int(eta) // 60}:{int(eta) % 60:02d}"
        self.stream.write(f"\r  {line}   ")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\r" + " " * 110 + "\r")
            self.stream.flush()


def _build(args: argparse.Namespace) -> int:
    """Build the index from the corpus, then switch to it atomically.

    The live index keeps answering until the new one is complete; a failed or interrupted
    build leaves it untouched.

    Example: veille build --corpus corpus --index index
    """
    progress = _Progress(sys.stderr, count_articles(args.corpus) if sys.stderr.isatty() else None)
    summary = build_index(
        args.corpus,
        args.index,
        skip_invalid=args.skip_invalid,
        progress=progress,
        procs=args.procs,
        wait=args.wait,
    )
    progress.done()
    for problem in summary.skipped:
        print(f"skipped: {_plain(problem)}", file=sys.stderr)
    if left := summary.left_out:
        shown = ", ".join(_plain(a) for a in left[:5]) + (", …" if len(left) > 5 else "")
        print(
            f"left out: {_count(len(left), 'article')} of the previous index not in the "
            f"corpus ({shown}): add their files again with `veille add`; a fetched one "
            "comes back with `veille fetch` only while its feed still lists it",
            file=sys.stderr,
        )
    for kept in summary.kept:
        pointer = shlex.quote(str(kept.parent / "CURRENT"))
        print(
            f"kept: an index before this build, which holds articles it left out, in {kept}; "
            f"to serve it again: `echo {kept.name} > {pointer}` (an older version of Veille "
            "must read a copy of it, in a folder of its own: it would remove the kept ones); "
            "delete the folder once you no longer need it",
            file=sys.stderr,
        )
    rate = summary.passages / max(summary.seconds, 1e-6)
    print(
        f"Built {args.index}: {_count(summary.articles, 'article')}, "
        f"{_count(summary.passages, 'passage')} "
        f"in {summary.seconds:.1f} s ({rate:,.0f} passages/s)"
        + (f", {len(summary.skipped)} skipped" if summary.skipped else "")
    )
    return 0


def _add(args: argparse.Namespace) -> int:
    """Add or replace articles from a corpus file or folder, without a rebuild.

    Articles are matched by id: a new id is added, a changed article replaced, an unchanged
    one skipped. Safe while the web app is serving: it sees the update within a second.

    Example: veille add corpus/new-articles.jsonl
    """
    summary = update_index(
        args.index, add=args.path, skip_invalid=args.skip_invalid, wait=args.wait
    )
    for problem in summary.skipped:
        print(f"skipped: {_plain(problem)}", file=sys.stderr)
    print(
        f"Updated {args.index}: {summary.added} added, {summary.replaced} replaced, "
        f"{summary.unchanged} unchanged ({_count(summary.passages, 'passage')} written) "
        f"in {summary.seconds:.1f} s"
    )
    return 0


def _remove(args: argparse.Namespace) -> int:
    """Remove articles from the index by id.

    Example: veille remove 000_784e5dae390c8d0c
    """
    summary = update_index(args.index, remove=args.ids, wait=args.wait)
    for article_id in summary.missing:
        print(f"not in the index: {_plain(article_id)}", file=sys.stderr)
    print(f"Updated {args.index}: {summary.removed} removed in {summary.seconds:.1f} s")
    return 1 if summary.missing and not summary.removed else 0


def _optimize(args: argparse.Namespace) -> int:
    """Merge the index's segments into one, for faster searches after many updates.

    Example: veille optimize
    """
    before = optimize_index(args.index, wait=args.wait)
    if str(args.index).endswith(".toml"):  # a cluster: each node merges its own chunks
        print(f"Optimized {args.index}: the live index merged on {before} node(s)")
        return 0
    print(f"Optimized {args.index}: {before} segment(s) merged into 1")
    return 0


# Control characters (escape sequences in corpus text: window titles, clipboard writes)
# never reach the terminal; tabs and newlines become spaces.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _when(date: datetime.date | None, time: datetime.time | None) -> str | None:
    """A hit's date, and its time of day when known: « 2024-05-05 14:30 »."""
    return f"{date.isoformat()} {time:%H:%M}" if date and time else date and date.isoformat()


def _plain(text: str) -> str:
    """Text safe to print on a terminal: control characters replaced by spaces."""
    return _CONTROL.sub(" ", text)


def _count(n: int, word: str, plural: str | None = None) -> str:
    """A count and its noun: 1 article, 2 articles (0 articles)."""
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def _terminal_snippet(snippet: str, color: bool) -> str:
    on, off = ("\x1b[1;33m", "\x1b[0m") if color else ("[", "]")
    parts = re.split(r"(</?mark>)", snippet)
    return "".join(
        (off if part == "</mark>" else on)
        if part in ("<mark>", "</mark>")
        else _plain(html.unescape(part))
        for part in parts
    )


def _print_results(
    results: Results, color: bool, explain_hit: Callable[[Hit], Explanation] | None = None
) -> None:
    unit = "article" if results.group == "article" else "passage"
    estimate = "at least " if results.total_is_estimate else ""
    collapsed = _count(results.collapsed, "copy", "copies")
    copies = f" (and {collapsed} collapsed)" if results.collapsed else ""
    print(
        f"{estimate}{_count(results.total, unit)}{copies}, "
        f"{_count(results.total_passages, 'passage')} "
        f"(page {results.page} of {results.pages}, {results.took_ms:.0f} ms)"
    )
    for note in results.notes:
        print(f"Note : {_plain(note)}")
    if results.suggestion:
        print(f"Essayez : {_plain(results.suggestion)}")
    for name, label in (("source", "Sources"), ("category", "Rubriques")):
        if values := results.facets.get(name):
            counted = ", ".join(f"{_plain(value)} ({count:,})" for value, count in values[:8])
            print(f"{label} : {counted}")
    for rank, hit in enumerate(results, start=(results.page - 1) * results.limit + 1):
        meta = ", ".join(x for x in (_when(hit.date, hit.time), hit.source) if x)
        print(f"\n{rank}. {_plain(hit.title)}" + (f"  ({_plain(meta)})" if meta else ""))
        link = quote(hit.article_id, safe="/")
        print(f"   /articles/{link}#p{hit.position}   score {hit.score:.2f}")
        for passage in hit.passages:
            # numbered from 1, as the article page numbers them
            print(f"   ¶{passage.position + 1}: {_terminal_snippet(passage.snippet, color)}")
        for copy in hit.duplicates:
            when = _when(copy.date, copy.time) or "undated"
            print(f"   = {_plain(copy.source or '?')}, {when}: /articles/{quote(copy.article_id)}")
        if explain_hit is not None:
            for line in explain_hit(hit).lines():
                print(f"   ? {_plain(line)}")


def _query(args: argparse.Namespace) -> int:
    """Search the index and print ranked results with highlighted snippets.

    Dates (--since, --until) are written as in the query language: 2024, 2024-05 or
    2024-05-31.

    --format csv prints a header and one row per hit (rank, article_id, title, date,
    source, url, score, passage_position, passage_text: the best passage, as plain text);
    --format jsonl prints one hit per line, as the web API gives it.

    Example: veille query "coopération sécuritaire" --limit 5
    """
    if args.explain and args.format in ("csv", "jsonl"):
        args.parser.error("--explain goes with --format text or json")
    request = SearchRequest.from_params(
        {
            "query": args.text,
            "limit": args.limit,
            "page": args.page,
            "group": args.group,
            "sort": args.sort,
            "since": args.since,
            "until": args.until,
            "budget": args.budget,
            "source": args.source,
            "category": args.category,
            "collapse": not args.no_collapse,
            "strict": args.strict,
        }
    )
    index = Index.open(args.index)
    results = index.search(request)
    if args.format in ("csv", "jsonl"):
        _print_rows(results, args.format)
    elif args.format == "json":
        body = results.to_dict()
        if args.explain:
            for hit, data in zip(results, body["hits"], strict=True):
                data["explain"] = index.explain(request, hit).to_dict()
        print(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        explain_hit = functools.partial(index.explain, request) if args.explain else None
        _print_results(results, color=sys.stdout.isatty(), explain_hit=explain_hit)
    return 0


def _print_rows(results: Results, fmt: str) -> None:
    """The page's hits as CSV (a header, then a row per hit) or JSON Lines (a hit per line)."""
    if fmt == "csv":
        write_csv(sys.stdout, [results])
    else:
        for line in jsonl_lines([results]):
            print(line)


def _info(args: argparse.Namespace) -> int:
    """Show what the index holds: articles, passages, build date, analyzer chain.

    Example: veille info --index index
    """
    try:
        info = Index.open(args.index).info()
    except IndexUnavailableError as error:  # a cluster's shard: which nodes are down
        if not str(args.index).endswith(".toml"):
            raise
        print(f"veille: error: {error}", file=sys.stderr)
        _print_nodes(args.index)
        return 1
    if args.json:
        print(json.dumps(info.to_dict(), ensure_ascii=False, indent=2))
        return 0
    print(f"index:      {_plain(info.path)} ({info.generation})")
    print(f"articles:   {info.articles:,}")
    print(f"passages:   {info.passages:,}")
    print(f"built:      {info.built_at.isoformat(timespec='seconds')}")
    print(f"size:       {info.size_bytes / 1e6:,.1f} MB in {info.segments} segment(s)")
    print(f"versions:   schema {info.schema_version}, analyzer {info.analyzer_version}")
    print(f"analyzer:   {info.analyzer}")
    for name in info.kept:
        print(f"kept:       {name}, beside it: it holds articles a build left out")
    if str(args.index).endswith(".toml"):
        return _print_nodes(args.index)
    return 0


def _print_nodes(path: str) -> int:
    """A cluster's nodes, one a line; 1 if one is not up (down, or a stale replica)."""
    from .cluster import cluster_status

    nodes = cluster_status(path)
    for n in nodes:
        articles = "?" if n["articles"] is None else f"{n['articles']:,}"
        flag = "" if n["state"] == "up" else "   <- " + n["state"]
        print(
            f"node:       shard {n['shard']} replica {n['replica']} {n['address']} "
            f"pid {n['pid'] or '-'}: {articles} articles{flag}"
        )
    return 0 if all(n["state"] == "up" for n in nodes) else 1


def _check(args: argparse.Namespace) -> int:
    """Verify the index's files against the checksums recorded when they were written.

    Exits 1 if a file is missing, resized or altered: rebuild the index then.

    Example: veille check --index index
    """
    checked, problems = check_index(args.index)
    if str(args.index).endswith(".toml"):  # a cluster: its nodes answer and agree
        for problem in problems:
            print(f"node: {_plain(problem)}", file=sys.stderr)
        print(f"{args.index}: {checked - len(problems)} of {checked} nodes up and in agreement")
        return 1 if problems else 0
    for problem in problems:
        print(f"damaged: {_plain(problem)}", file=sys.stderr)
    if problems:
        print(f"{args.index}: index damaged: run `veille build` to rebuild it", file=sys.stderr)
        return 1
    print(f"{args.index}: {checked} files verified, the index is as it was written")
    return 0


def _analyze(args: argparse.Namespace) -> int:
    """Show the tokens the French analyzer makes of a text, step by step.

    Example: veille analyze "L’État d’urgence"
    """
    for step, tokens in analysis_steps(args.text):
        print(f"{step:<18} {_plain(' '.join(tokens)) if tokens else '(nothing)'}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    """Fetch news feeds (RSS 2.0, Atom) and add their new and changed articles to the index.

    Each new item's page is fetched and its article extracted (title, paragraphs, date,
    author, section; the feed's item fills in what the page lacks), then added as `veille
    add` adds. A second run adds nothing; a changed page replaces its article. Polite:
    robots.txt honoured, --delay seconds between two requests to one host, conditional GET
    of feeds, retries with backoff. What was fetched is kept in <index>/fetch.sqlite.

    A feeds file (--feeds) has one feed a line: its URL, then optionally the source name
    and the category, separated by commas (or tabs); lines starting with # are comments:

        https://www.example.fr/rss.xml, Le Journal, Politique

    Prints one line per feed ("<feed>: N new, M changed, K unchanged, E errors in S s"); a
    broken feed or page is one line on stderr. Exits 1 if a feed could not be read at all.
    With --every, fetches again at that interval until Ctrl-C.

    Example: veille fetch https://www.example.fr/rss.xml --every 10m
    """
    feeds = feed_specs(args.urls, args.feeds, source=args.source, category=args.category)
    options = {
        "delay": args.delay,
        "timeout": args.timeout,
        "wait": args.wait,
        "contact": args.contact or None,
        "report": lambda line: print(f"veille fetch: {_plain(line)}", file=sys.stderr),
        # A feed that failed is said on stderr, by report: not twice.
        "on_feed": lambda result: result.failure or print(_plain(result.line()), flush=True),
    }
    try:
        if args.every is not None:
            watch_feeds(args.index, feeds, args.every, on_round=_print_round, **options)
        summary = fetch_feeds(args.index, feeds, **options)
    except KeyboardInterrupt:
        print(
            "\nveille fetch: stopped; the articles written so far are in the index, "
            "the next run fetches the rest",
            file=sys.stderr,
        )
        return 130
    if len(summary.feeds) > 1:
        print(summary.line())
    return 0 if summary.ok else 1


def _print_round(summary: FetchSummary, next_round: datetime.datetime) -> None:
    print(f"{summary.line()}; next fetch at {next_round:%H:%M:%S}", flush=True)


def _serve(args: argparse.Namespace) -> int:
    """Serve the search web app with a production WSGI server (gunicorn).

    Builds the index from the corpus first if there is none.

    Example: veille serve --host 127.0.0.1 --port 8000 --workers 2
    """
    try:
        Index.open(args.index)
    except (IndexDamagedError, IndexVersionError) as e:
        # Served all the same: every page answers 503 and says to rebuild, until one is.
        print(f"veille: warning: {e}", file=sys.stderr)
    except IndexNotFoundError:
        print(f"No index at {args.index}: building it from {args.corpus} first.", file=sys.stderr)
        _build(
            argparse.Namespace(
                **vars(args), skip_invalid=False, procs=os.cpu_count() or 1, wait=0.0
            )
        )
    from web.serve import serve  # the web layer is only needed here

    serve(args.index, host=args.host, port=args.port, workers=args.workers)
    return 0


def _cluster(args: argparse.Namespace) -> int:
    """Run a cluster of Sphinx searchd nodes: init, start, stop, status.

    Example: veille cluster init --dir cluster --shards 2 --replicas 2
    """
    return args.cluster_func(args)


def _cluster_init(args: argparse.Namespace) -> int:
    """Write each node's searchd config and DIR/cluster.toml (ports count up from --base-port).

    Example: veille cluster init --dir cluster --shards 2 --replicas 2 --base-port 9306
    """
    from .cluster import init_cluster

    path = init_cluster(args.dir, args.shards, args.replicas, args.host, args.base_port)
    print(f"Wrote {path}: {args.shards} shard(s) x {args.replicas} replica(s)")
    return 0


def _cluster_start(args: argparse.Namespace) -> int:
    """Start every node; returns once each one answers queries.

    Example: veille cluster start --index cluster/cluster.toml
    """
    from .cluster import start_cluster

    pids = start_cluster(args.index)
    print(f"Started {len(pids)} node(s): pids {', '.join(map(str, pids))}")
    return 0


def _cluster_stop(args: argparse.Namespace) -> int:
    """Stop every node of the cluster.

    Example: veille cluster stop --index cluster/cluster.toml
    """
    from .cluster import stop_cluster

    print(f"Stopped {stop_cluster(args.index)} node(s)")
    return 0


def _cluster_status(args: argparse.Namespace) -> int:
    """Each node: pid, state (up, down, not answering, stale, wrong shard) and articles;
    exit 1 if one is not up.

    Example: veille cluster status --index cluster/cluster.toml --json
    """
    from .cluster import cluster_status

    if not args.json:
        return _print_nodes(args.index)
    nodes = cluster_status(args.index)
    print(json.dumps({"nodes": nodes}, indent=2))
    return 0 if all(n["state"] == "up" for n in nodes) else 1


def _cluster_options(p: argparse.ArgumentParser, index_default: str) -> None:
    """The cluster command's subcommands, each with its docstring as help."""
    sub = p.add_subparsers(dest="cluster_command", required=True, metavar="SUBCOMMAND")

    def subcommand(name: str, func: Callable) -> argparse.ArgumentParser:
        doc = func.__doc__ or ""
        s = sub.add_parser(
            name,
            help=doc.splitlines()[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        s.set_defaults(cluster_func=func, parser=s)
        if name != "init":
            s.add_argument("--index", default=argparse.SUPPRESS, help="the cluster.toml file")
        return s

    s = subcommand("init", _cluster_init)
    s.add_argument("--dir", required=True, help="folder for cluster.toml and the nodes")
    s.add_argument("--shards", type=_bounded(1, 256), required=True)
    s.add_argument("--replicas", type=_bounded(1, 16), required=True)
    s.add_argument("--host", default="127.0.0.1", help="address the nodes listen on")
    s.add_argument("--base-port", type=_bounded(1, 65535), default=9306, metavar="PORT")
    subcommand("start", _cluster_start)
    subcommand("stop", _cluster_stop)
    subcommand("status", _cluster_status).add_argument("--json", action="store_true")


def _alert(args: argparse.Namespace) -> int:
    """Saved searches with alerts: add, list, remove, run (new articles by email or webhook).

    Example: veille alert add maroc "Maroc coopération" --webhook https://hooks.example.fr/x
    """
    args.parser.print_help()
    return 2


def _alert_add(args: argparse.Namespace) -> int:
    """Save a search: its articles indexed from now on are sent by email or webhook.

    Give at least one --email or --webhook (each repeatable). Each matching article first
    indexed after this moment is delivered once, by `veille alert run`; a rebuild of the
    index resends nothing.

    Example: veille alert add maroc "Maroc coopération" --email desk@example.fr
    """
    alert = add_alert(args.index, args.name, args.query, emails=args.email, webhooks=args.webhook)
    print(f"Saved {_plain(alert.name)}: {_plain(alert.query)}")
    for note in alert.notes:  # how the query reads now: syntax read as words, a suggestion
        print(f"  {_plain(note)}")
    return 0


def _alert_list(args: argparse.Namespace) -> int:
    """List the saved searches: query, targets, when saved, last run, pending deliveries.

    Example: veille alert list
    """
    alerts = list_alerts(args.index)
    if not alerts:
        print("No saved searches: add one with `veille alert add NAME QUERY --email ADDRESS`")
    for alert in alerts:
        targets = ", ".join(
            [f"{e} (email)" for e in alert.emails]
            + [f"{masked_url(w)} (webhook)" for w in alert.webhooks]
        )
        # In Paris's time, as the alerts date what is new.
        saved = alert.saved_at.astimezone(PARIS).isoformat(timespec="seconds")
        last = (
            alert.last_run.astimezone(PARIS).isoformat(timespec="seconds")
            if alert.last_run
            else "never"
        )
        print(
            _plain(
                f"{alert.name}: {alert.query!r} -> {targets}; saved {saved},"
                f" last run {last}, {alert.pending} pending"
            )
        )
    return 0


def _alert_remove(args: argparse.Namespace) -> int:
    """Remove a saved search and its deliveries (pending ones are dropped).

    Example: veille alert remove maroc
    """
    remove_alert(args.index, args.name)
    print(f"Removed {_plain(args.name.strip())}")
    return 0


def _alert_run(args: argparse.Namespace) -> int:
    """Run the saved searches: send their new articles, and what earlier runs left pending.

    One email per alert and address (Message-ID fixed per batch), one JSON POST per alert and
    webhook (Idempotency-Key header). A failed delivery stays pending and is sent at the next
    run. SMTP settings come from VEILLE_SMTP_HOST, _PORT, _FROM, _USER, _PASSWORD, _STARTTLS;
    the options override them. Prints one line per alert; exits 1 if a delivery failed.
    Run it from cron after each fetch.

    Example: veille alert run --name maroc
    """
    smtp = SmtpSettings.from_env(
        host=args.smtp_host,
        port=args.smtp_port,
        sender=args.smtp_from,
        user=args.smtp_user,
        starttls=True if args.smtp_starttls else None,
    )
    failed = False

    def report(run: AlertRun) -> None:
        nonlocal failed
        for failure in run.failures:
            print(f"veille alert: {_plain(failure)}", file=sys.stderr)
        failed = failed or run.pending > 0
        print(_plain(run.line()), flush=True)

    runs = run_alerts(args.index, args.name or None, smtp=smtp, timeout=args.timeout, on_run=report)
    if not runs:
        print("No saved searches to run")
    return 1 if failed else 0


def _alert_options(p: argparse.ArgumentParser) -> None:
    """The alert command's subcommands, each with its docstring as help."""
    sub = p.add_subparsers(dest="alert_command", required=True, metavar="SUBCOMMAND")

    def subcommand(name: str, func: Callable) -> argparse.ArgumentParser:
        doc = func.__doc__ or ""
        s = sub.add_parser(
            name,
            help=doc.splitlines()[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        # Given after the subcommand or before it (`veille alert --index X run`).
        s.add_argument("--index", default=argparse.SUPPRESS, help="index folder")
        s.set_defaults(func=func, parser=s)
        return s

    s = subcommand("add", _alert_add)
    s.add_argument("name", help="the alert's name")
    s.add_argument("query", help="the query, in Veille's query language")
    s.add_argument("--email", action="append", default=[], metavar="ADDRESS")
    s.add_argument("--webhook", action="append", default=[], metavar="URL")
    subcommand("list", _alert_list)
    subcommand("remove", _alert_remove).add_argument("name", help="the alert's name")
    s = subcommand("run", _alert_run)
    s.add_argument("--name", action="append", metavar="NAME", help="only this alert")
    s.add_argument(
        "--timeout",
        type=_seconds(0.05, 600),
        default=10.0,
        metavar="SECONDS",
        help="seconds a webhook may take to answer (default 10)",
    )
    s.add_argument("--smtp-host", metavar="HOST", help="default: $VEILLE_SMTP_HOST")
    s.add_argument("--smtp-port", type=_bounded(1, 65535), help="default: $VEILLE_SMTP_PORT or 25")
    s.add_argument("--smtp-from", metavar="ADDRESS", help="default: $VEILLE_SMTP_FROM")
    s.add_argument(
        "--smtp-user",
        metavar="USER",
        help="default: $VEILLE_SMTP_USER (the password: only"
        " $VEILLE_SMTP_PASSWORD, never on a command line)",
    )
    s.add_argument("--smtp-starttls", action="store_true", help="default: $VEILLE_SMTP_STARTTLS")


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
        if not low <= n <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}: {n}")
        return n

    return parse


def _seconds(low: float, high: float) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            n = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
        if not low <= n <= high:  # also refuses nan
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}: {value}")
        return n

    return parse


_UNITS = {"s": 1, "m": 60, "h": 3600}


def _interval(value: str) -> float:
    """A duration such as 30s, 10m or 1h (a bare number is seconds), at least 1 s."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smh]?)", value.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration such as 30s, 10m or 1h: {value!r}")
    seconds = float(match[1]) * _UNITS[match[2] or "s"]
    if not 1 <= seconds <= 7 * 86400:
        raise argparse.ArgumentTypeError(f"must be between 1 s and 7 days: {value!r}")
    return seconds


def _fetch_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("urls", nargs="*", metavar="URL", help="feed URLs (RSS 2.0 or Atom)")
    p.add_argument("--feeds", metavar="FILE", help="a file of feeds: URL[, source[, category]]")
    p.add_argument("--source", metavar="NAME", help="source name (default: the feed's title)")
    p.add_argument("--category", metavar="NAME", help="category of the feeds' articles")
    p.add_argument(
        "--delay",
        type=_seconds(0, 3600),
        default=1.0,
        metavar="SECONDS",
        help="seconds between two requests to one host (default 1)",
    )
    p.add_argument(
        "--timeout",
        type=_seconds(0.05, 600),
        default=10.0,
        metavar="SECONDS",
        help="seconds to connect and for each read (default 10)",
    )
    p.add_argument(
        "--every",
        type=_interval,
        metavar="DURATION",
        help="fetch again at this interval (30s, 10m, 1h) until Ctrl-C",
    )
    p.add_argument(
        "--wait",
        type=_seconds(0, 86400),
        default=60.0,
        metavar="SECONDS",
        help="seconds to wait for another writer of the index (default 60)",
    )
    p.add_argument(
        "--contact",
        default=os.environ.get("VEILLE_CONTACT", ""),
        metavar="ADDRESS",
        help="said in the User-Agent, for sites to reach you (default: $VEILLE_CONTACT)",
    )


def _writer_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--wait",
        type=_seconds(0, 86400),
        default=0.0,
        metavar="SECONDS",
        help="seconds to wait for another writer to finish (default: refuse at once)",
    )


def _build_options(p: argparse.ArgumentParser, corpus_default: str) -> None:
    p.add_argument(
        "--corpus",
        default=corpus_default,
        help=f"corpus folder or file (default: $VEILLE_CORPUS or ./{DEFAULT_CORPUS})",
    )
    p.add_argument("--skip-invalid", action="store_true", help="skip bad articles, list them")
    p.add_argument(
        "--procs",
        type=_bounded(1, 64),
        default=os.cpu_count() or 1,
        help="indexing processes (default: the number of cores)",
    )
    _writer_options(p)


def _query_options(p: argparse.ArgumentParser) -> None:
    # Checked by SearchRequest, as for every way in: a bad value is one line and exit 2.
    p.add_argument("text", help="the query, in Veille's query language")
    request = SearchRequest
    p.add_argument(
        "--limit",
        default=str(request.DEFAULT_LIMIT),
        help=f"hits per page, 1 to {request.MAX_LIMIT} (default {request.DEFAULT_LIMIT})",
    )
    p.add_argument("--page", default="1", help=f"page number, 1 to {request.MAX_PAGE}")
    p.add_argument("--group", default="article", help=" or ".join(request.GROUPS))
    p.add_argument("--sort", default="relevance", help=" or ".join(request.SORTS))
    p.add_argument(
        "--since", help="from this date (YYYY, YYYY-MM, YYYY-MM-DD or « mai 2024 »), inclusive"
    )
    p.add_argument(
        "--until", help="to this date (YYYY, YYYY-MM, YYYY-MM-DD or « 5 mai 2024 »), inclusive"
    )
    p.add_argument("--budget", help="seconds the search may take (default 2)")
    p.add_argument("--source", action="append", help="only this source (repeatable)")
    p.add_argument("--category", action="append", help="only this section (repeatable)")
    p.add_argument(
        "--no-collapse", action="store_true", help="show every copy of a republished story"
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="every word required as typed, as a saved search reads it (no typo read as "
        "another word, no closest matches)",
    )
    p.add_argument(
        "--format",
        choices=QUERY_FORMATS,
        default="text",
        help="text (default), json (the web API's body), csv or jsonl (a hit per line)",
    )
    p.add_argument(
        "--json", dest="format", action="store_const", const="json", help="--format json"
    )
    p.add_argument("--explain", action="store_true", help="say why each result matched")


def _serve_options(p: argparse.ArgumentParser, corpus_default: str) -> None:
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--port",
        type=_bounded(1, 65535),
        default=int(os.environ.get("VEILLE_PORT", "8000")),
        help="port (default: $VEILLE_PORT or 8000)",
    )
    p.add_argument(
        "--workers",
        type=_bounded(1, 64),
        default=os.cpu_count() or 1,
        help="worker processes (default: the number of cores)",
    )
    p.add_argument("--corpus", default=corpus_default, help="corpus to build from if needed")


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of every command; each command's docstring is its help."""
    parser = argparse.ArgumentParser(
        prog="veille", description="Veille: full-text search for French news."
    )
    parser.add_argument("--version", action="version", version=f"veille {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    index_default = os.environ.get("VEILLE_INDEX") or DEFAULT_INDEX  # set but empty: unset
    corpus_default = os.environ.get("VEILLE_CORPUS") or DEFAULT_CORPUS

    def command(name: str, func: Callable) -> argparse.ArgumentParser:
        doc = func.__doc__ or ""
        p = sub.add_parser(
            name,
            help=doc.splitlines()[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.add_argument(
            "--index",
            default=index_default,
            help=f"index folder (default: $VEILLE_INDEX or ./{DEFAULT_INDEX})",
        )
        p.set_defaults(func=func, parser=p)
        return p

    _build_options(command("build", _build), corpus_default)
    p = command("add", _add)
    p.add_argument("path", help="a corpus file or folder")
    p.add_argument("--skip-invalid", action="store_true", help="skip bad articles, list them")
    _writer_options(p)
    p = command("remove", _remove)
    p.add_argument("ids", nargs="+", metavar="ID", help="article ids")
    _writer_options(p)
    _writer_options(command("optimize", _optimize))
    _query_options(command("query", _query))
    command("info", _info).add_argument("--json", action="store_true")
    command("check", _check)
    command("analyze", _analyze).add_argument("text", help="French text to analyze")
    _fetch_options(command("fetch", _fetch))
    _serve_options(command("serve", _serve), corpus_default)
    _alert_options(command("alert", _alert))
    _cluster_options(command("cluster", _cluster), index_default)
    return parser


_OPTIONS = {"query": "TEXT", "sources": "--source", "categories": "--category"}


# The commands that write the index (the others only read it).
_WRITERS = frozenset({_build, _add, _remove, _optimize, _fetch, _serve})


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `veille` command line; returns the exit code."""
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except ParameterError as e:
        option = _OPTIONS.get(e.name, f"--{e.name}")
        print(f"{args.parser.prog}: error: argument {option}: {e.message}", file=sys.stderr)
        return 2
    except CorpusError as e:
        print(f"veille: error: {e}", file=sys.stderr)
        print("veille: the live index, if any, is unchanged", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader of our output went away (veille query … | head): not an error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (VeilleError, ValueError, OSError) as e:
        print(f"veille: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Stopped after its switch, a writer's new index is the live one: say both.
        said = (
            "the live index is whole, the one before or, if the writer had switched to it, "
            "the new one (`veille info` says which)"
            if args.func in _WRITERS
            else "the index is as it was"
        )
        print(f"\nveille: interrupted; {said}", file=sys.stderr)
        # The abandoned work's generators and temp files are left to the next writer;
        # their finalizers, run at exit, have nothing to tell the person who stopped it.
        sys.unraisablehook = lambda _unraisable: None
        return 130


if __name__ == "__main__":
    sys.exit(main())
