"""Fetch benchmark: `veille fetch` from a local web site, against `veille add` of the same
articles as JSON Lines, in one run; then the delay from a feed item to a search hit.

Run by hand (never by the tests), from the project folder:

    python3 bench/fetch.py                    # 1,000 articles, then the --every 1m delay
    python3 bench/fetch.py --articles 200 --no-every    # a quick loop

What it does:

1. Takes --articles articles (default 1,000): the first of ../shared/data/orangesum_news.jsonl
   with a title and text, else synthetic French ones.
2. Serves them on 127.0.0.1 (a ThreadingHTTPServer in this process): each as a French news
   page (header, navigation, the article, an aside, a footer), and as items of --feeds RSS
   feeds (default 10, so 100 items each; the feeds answer ETag and 304).
3. **fetch**: `veille fetch FEED... --delay 0` (a subprocess, as a user runs it) into a copy of
   an index of the bundled corpus; wall time, so articles/s fetched + extracted + indexed
   (items per second: OrangeSum's exact copies are fetched, then not indexed twice).
   Then the same command again: everything already there (a feed answers 304, unless one
   of its items failed: then it is read again and that item retried).
4. **baseline**: `veille add articles.jsonl` (the same articles' titles and texts as JSON
   Lines) into another copy of that index, in the same run: articles/s indexed alone. The
   ratio says what fetching and extracting add to indexing.
5. **every**: `veille fetch FEED --every 1m` runs; once its first round is done, an item is
   added to its feed (the worst case: just after a round) and the index is polled until the
   article is there. The delay is the one a reader waits at worst; on average an item waits
   half the interval less.

Progress goes to stderr; the report to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from _common import ORANGESUM, PROJECT, code_version, log, print_header

from search import Index, build_index
from search.ingest.feeds import article_id_for

ENV = os.environ | {"PYTHONPATH": str(PROJECT), "NO_PROXY": "127.0.0.1"}
TARGET_RATE = 20.0  # articles/s, the target
TARGET_DELAY = 90.0  # seconds from a feed to a search hit, the target


# --- The articles ---------------------------------------------------------------------------


def load_articles(count: int) -> tuple[list[dict], str]:
    """Articles with id, title, date, source, text: OrangeSum's first, else synthetic."""
    if ORANGESUM.exists():
        articles = []
        with ORANGESUM.open(encoding="utf-8") as lines:
            for line in lines:
                record = json.loads(line)
                if record.get("title") and record.get("text"):
                    articles.append(record)
                if len(articles) == count:
                    break
        return articles, f"the first {len(articles):,} articles of {ORANGESUM.name}"
    words = "gouvernement réforme élus budget région commune école hôpital énergie transport"
    articles = [
        {
            "id": f"synth-{n}",
            "title": f"Dépêche numéro {n} sur la vie locale",
            "date": "2024-05-05",
            "source": "Synthétique",
            "text": "\n\n".join(
                f"Paragraphe {k} de la dépêche {n} : " + " ".join(words.split()[k:] * 4) + "."
                for k in range(4)
            ),
        }
        for n in range(count)
    ]
    return articles, f"{count:,} synthetic articles (no {ORANGESUM} here)"


def page(article: dict) -> bytes:
    paragraphs = "\n".join(
        f"<p>{escape(p.strip())}</p>" for p in article["text"].split("\n\n") if p.strip()
    )
    title = escape(article["title"])
    date = article.get("date") or "2024-05-05"
    return f"""<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">
<title>{title} | Le Quotidien</title><meta property="og:title" content="{title}">
<meta property="article:published_time" content="{date}T08:00:00+02:00">
<meta name="author" content="La rédaction"></head><body>
<header><a href="/">Le Quotidien</a><nav><ul><li><a href="/france">France</a></li>
<li><a href="/monde">Monde</a></li><li><a href="/sport">Sport</a></li></ul></nav></header>
<main><article><h1>{title}</h1>
{paragraphs}
</article><aside><h2>Les plus lus</h2><ul><li><a href="/x">Le loto de samedi</a></li>
</ul></aside></main><footer><p>© Le Quotidien — Mentions légales — Cookies</p></footer>
</body></html>""".encode()


def rss(site: Site, name: str, paths: list[str]) -> bytes:
    items = "".join(
        f"<item><title>{escape(site.titles[path])}</title><link>{site.url(path)}</link>"
        f"<guid>{site.url(path)}</guid><pubDate>{format_datetime(site.started)}</pubDate>"
        "</item>"
        for path in paths
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(name)}</title><link>{site.url('/')}</link>"
        f"<description>bench</description>{items}</channel></rss>"
    ).encode()


# --- The site -------------------------------------------------------------------------------


class Site:
    """Pages and feeds in memory, served with ETags."""

    def __init__(self) -> None:
        import datetime

        self.files: dict[str, tuple[bytes, str]] = {}
        self.titles: dict[str, str] = {}
        self.feeds: dict[str, list[str]] = {}
        self.started = datetime.datetime.now(datetime.UTC)
        self.base = ""
        self.lock = threading.Lock()

    def url(self, path: str) -> str:
        return self.base + path

    def add_article(self, path: str, article: dict) -> None:
        with self.lock:
            self.files[path] = (page(article), "text/html; charset=utf-8")
            self.titles[path] = article["title"]

    def set_feed(self, path: str, paths: list[str]) -> None:
        with self.lock:
            self.feeds[path] = paths
            self.files[path] = (rss(self, path, paths), "application/rss+xml")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        site: Site = self.server.site  # type: ignore[attr-defined]
        with site.lock:
            found = site.files.get(self.path)
        if found is None:
            self.send_error(404)
            return
        body, kind = found
        etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
        if self.headers.get("If-None-Match") == etag:
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", etag)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def serve(site: Site) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.site = site  # type: ignore[attr-defined]
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- The measures ---------------------------------------------------------------------------


def veille(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "search", *args], capture_output=True, text=True, env=ENV
    )
    seconds = time.perf_counter() - started
    if run.returncode != 0:
        raise SystemExit(f"veille {args[0]} failed ({run.returncode}):\n{run.stderr}")
    return seconds, run


def every_delay(site: Site, index: Path, feed: str, extra: dict) -> tuple[float, float]:
    """(seconds from an item added to the feed to its article found, the first round's)."""
    command = [sys.executable, "-u", "-m", "search", "fetch", site.url(feed), "--index"]
    command += [str(index), "--delay", "0", "--every", "1m"]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        for line in process.stdout:  # type: ignore[union-attr]
            if "; next fetch at " in line:
                break
        first_round = time.perf_counter() - started
        path = "/a/new.html"
        site.add_article(path, extra)
        site.set_feed(feed, [*site.feeds[feed], path])
        added = time.perf_counter()
        log("  every: item added just after the first round; polling the index ...")
        article_id = article_id_for(site.url(path))
        while True:
            time.sleep(0.2)
            opened = Index.open(index)
            try:
                if opened.article(article_id) is not None:
                    return time.perf_counter() - added, first_round
            finally:
                opened.close()
            if time.perf_counter() - added > 300:
                raise SystemExit("the new item was not found within 300 s")
    finally:
        process.terminate()
        process.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--feeds", type=int, default=10)
    parser.add_argument("--no-every", action="store_true", help="skip the --every 1m delay")
    args = parser.parse_args(argv)
    articles, origin = load_articles(args.articles + 1)
    extra, articles = articles[-1], articles[:-1]  # the one added to a feed for --every
    origin = origin.replace(f"{args.articles + 1:,}", f"{args.articles:,}")
    site = Site()
    server = serve(site)
    paths = [f"/a/{n}.html" for n in range(len(articles))]
    for path, article in zip(paths, articles, strict=True):
        site.add_article(path, article)
    feeds = [f"/feeds/{k}.xml" for k in range(args.feeds)]
    for k, feed in enumerate(feeds):
        site.set_feed(feed, paths[k :: args.feeds])

    work = Path(tempfile.mkdtemp(prefix="veille-bench-fetch-"))
    try:
        seed = work / "seed"
        build_index(PROJECT / "corpus", seed)
        fetched, added = work / "fetched", work / "added"
        shutil.copytree(seed, fetched)
        shutil.copytree(seed, added)
        jsonl = work / "articles.jsonl"
        with jsonl.open("w", encoding="utf-8") as out:
            for n, article in enumerate(articles):
                record = {k: article.get(k) for k in ("title", "date", "source", "text")}
                out.write(json.dumps({"id": f"a-{n}", **record}, ensure_ascii=False) + "\n")

        log(f"fetch: {len(articles):,} articles in {len(feeds)} feeds ...")
        urls = [site.url(feed) for feed in feeds]
        fetch_s, run = veille("fetch", *urls, "--index", str(fetched), "--delay", "0")
        total_line = run.stdout.splitlines()[-1]
        again_s, again = veille("fetch", *urls, "--index", str(fetched), "--delay", "0")
        log("baseline: veille add of the same articles as JSON Lines ...")
        add_s, add_run = veille("add", str(jsonl), "--index", str(added))
        found = Index.open(fetched).info().articles - 1
        every = None if args.no_every else every_delay(site, fetched, feeds[0], extra)
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(work, ignore_errors=True)

    n = len(articles)
    command = "python3 bench/fetch.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print_header("fetch benchmark", command.strip(), code_version())
    print(f"articles: {origin}, served on 127.0.0.1 as pages and {len(feeds)} RSS feeds")
    print()
    print("| run | wall time | articles/s |")
    print("| --- | ---: | ---: |")
    rows = [
        ("`veille fetch --delay 0` (fetch + extract + index)", fetch_s),
        ("`veille add` of the same articles as JSON Lines (index only: baseline)", add_s),
    ]
    for label, seconds in rows:
        print(f"| {label} | {seconds:.1f} s | {n / seconds:.1f} |")
    print(f"| ratio fetch / add | | {add_s / fetch_s:.2f} |")
    again_label = "`veille fetch` again (a feed answers 304 if all its items were had)"
    print(f"| {again_label} | {again_s:.1f} s | |")
    print()
    print(f"fetch said: {total_line}")
    for line in run.stderr.splitlines()[:5]:
        print(f"  {line}")
    print(f"again said: {again.stdout.splitlines()[-1]}")
    print(f"add said: {add_run.stdout.strip()}")
    print(f"articles in the fetched index (the seed aside): {found:,} of {n:,}")
    verdict = "meets" if n / fetch_s >= TARGET_RATE else "MISSES"
    print(f"target: at least {TARGET_RATE:g} articles/s: {verdict} it")
    if every is not None:
        delay, first = every
        verdict = "meets" if delay <= TARGET_DELAY else "MISSES"
        print(
            f"--every 1m: an item added just after a round (the first took {first:.1f} s) was "
            f"found {delay:.1f} s later (worst case; {TARGET_DELAY:g} s target: {verdict} it)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
