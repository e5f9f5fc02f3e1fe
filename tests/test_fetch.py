"""`veille fetch` against a real local web site: feeds, pages, failures, state, kill -9.

A ThreadingHTTPServer on 127.0.0.1 serves what each test writes (French pages with their
navigation, header and footer; RSS and Atom feeds; broken things) and records every request
it receives. Nothing reaches the network and none of Veille's code is replaced.
"""

from __future__ import annotations

import datetime
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from search import Index, __version__, build_index, fetch_feeds
from search.ingest.feeds import (
    FeedListError,
    article_id_for,
    canonical_url,
    feed_specs,
    parse_feed,
    read_feed_list,
)
from search.ingest.pages import decode_html
from search.ingest.state import STATE_FILE

ROOT = Path(__file__).resolve().parent.parent
ENV = os.environ | {"PYTHONPATH": str(ROOT), "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}

# --- A local web site -----------------------------------------------------------------------

Route = Callable[[dict[str, str]], tuple[int, dict[str, str | None], bytes]]


class Site:
    """What the server serves (path -> route) and every request it received."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str], float]] = []
        self.lock = threading.Lock()
        self.base = ""

    def url(self, path: str) -> str:
        return self.base + path

    def add(
        self,
        path: str,
        body: str | bytes,
        *,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str | None] | None = None,
    ) -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        head = {"Content-Type": content_type, **(headers or {})}
        self.routes[path] = lambda request: (status, head, data)

    def hits(self, path: str) -> list[dict[str, str]]:
        """The headers of each request received for path."""
        with self.lock:
            return [headers for got, headers, _ in self.requests if got == path]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        site: Site = self.server.site  # type: ignore[attr-defined]
        with site.lock:
            site.requests.append((self.path, dict(self.headers.items()), time.monotonic()))
        route = site.routes.get(self.path)
        if route is None:
            status, head, body = 404, {"Content-Type": "text/html"}, b"<h1>Introuvable</h1>"
        else:
            status, head, body = route(dict(self.headers.items()))
        self.send_response(status)
        for name, value in head.items():
            if value is not None:
                self.send_header(name, value)
        if "Content-Length" not in head:  # None there: no length, the body ends at close
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up (a timeout, a size cap) is what some tests want


@pytest.fixture
def site() -> Iterator[Site]:
    site = Site()
    server = _Server(("127.0.0.1", 0), _Handler)
    server.site = site  # type: ignore[attr-defined]
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def index(tmp_path) -> Path:
    """A real index of the bundled corpus (the seed article), the fetch's target."""
    path = tmp_path / "index"
    build_index(ROOT / "corpus", path)
    return path


def veille(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "search", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=ENV,
        timeout=timeout,
    )


# --- French pages and feeds -----------------------------------------------------------------

NAV_AND_FOOTER_WORDS = ("loto", "confidentialité", "abonnez", "ensoleillé")

ARTICLES = {
    "/region/grele.html": (
        "Les viticulteurs du Bordelais face à la grêle",
        [
            "Un violent orage de grêle s'est abattu samedi sur les vignobles de l'Entre-deux-"
            "Mers, détruisant en quelques minutes une partie de la récolte à venir.",
            "Des grêlons de la taille d'une balle de golf ont haché les feuilles et les "
            "grappes, selon les vignerons qui évaluaient lundi l'étendue des dégâts.",
            "La chambre d'agriculture demande la reconnaissance de l'état de calamité "
            "agricole afin que les exploitations touchées soient indemnisées rapidement.",
            "Plusieurs domaines avaient pourtant installé des filets paragrêle, mais ils "
            "n'ont pas résisté à la violence des rafales.",
        ],
    ),
    "/region/tramway.html": (
        "Le tramway de Montpellier prolongé jusqu'à la mer",
        [
            "La métropole a voté jeudi le prolongement de la ligne 3 du tramway jusqu'aux "
            "plages, un chantier estimé à trois cents millions d'euros.",
            "Les travaux doivent commencer au printemps prochain et durer quatre ans, avec "
            "six nouvelles stations entre Pérols et le littoral.",
            "Les associations de riverains s'inquiètent du bruit et de la circulation "
            "pendant le chantier, tandis que les commerçants espèrent une clientèle nouvelle.",
        ],
    ),
    "/culture/vitraux.html": (
        "Une exposition consacrée aux vitraux de Chartres",
        [
            "La cathédrale accueille jusqu'en septembre une exposition sur l'art du vitrail "
            "médiéval, de la fabrication du verre à la pose des panneaux.",
            "Un maître verrier montre chaque après-midi comment il restaure les pièces "
            "endommagées, avec les gestes et les outils de ses prédécesseurs.",
            "Les organisateurs attendent plus de cent mille visiteurs, attirés par les bleus "
            "profonds qui ont fait la renommée des vitraux chartrains.",
        ],
    ),
}


def french_page(
    title: str,
    paragraphs: list[str],
    *,
    date: str = "2024-05-05",
    author: str = "Claire Martin",
    section: str = "Société",
    charset: str = "utf-8",
) -> str:
    """A page as a French news site makes one: header, navigation, article, aside, footer."""
    body = "\n".join(f"      <p>{escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="fr">
<head>
  <meta charset="{charset}">
  <title>{escape(title)} | La Gazette du Sud</title>
  <meta name="author" content="{escape(author)}">
  <meta property="og:title" content="{escape(title)}">
  <meta property="article:published_time" content="{date}T08:30:00+02:00">
  <meta property="article:section" content="{escape(section)}">
</head>
<body>
  <header class="site-header">
    <a href="/" class="logo">La Gazette du Sud</a>
    <nav><ul>
      <li><a href="/politique">Politique</a></li><li><a href="/economie">Économie</a></li>
      <li><a href="/culture">Culture</a></li><li><a href="/sport">Sport</a></li>
      <li><a href="/abonnement">Abonnez-vous</a></li>
    </ul></nav>
  </header>
  <main>
    <article>
      <h1>{escape(title)}</h1>
      <p class="byline">Par {escape(author)}, publié le {date}</p>
{body}
    </article>
    <aside><h2>Les plus lus</h2><ul>
      <li><a href="/meteo">Météo : un week-end ensoleillé sur toute la région</a></li>
      <li><a href="/loto">Les résultats du loto de samedi soir</a></li>
    </ul></aside>
  </main>
  <footer>
    <p>© La Gazette du Sud — Mentions légales — Politique de confidentialité</p>
    <p>Abonnez-vous à notre lettre d'information quotidienne</p>
  </footer>
</body>
</html>
"""


def rss(site: Site, title: str, items: list[tuple[str, str, datetime.datetime]]) -> str:
    """An RSS 2.0 feed of (path, title, date) items."""
    entries = "".join(
        f"<item><title>{escape(item_title)}</title><link>{site.url(path)}</link>"
        f"<guid>{site.url(path)}</guid><pubDate>{format_datetime(date)}</pubDate>"
        f"<description>{escape(item_title)} : le résumé de l'article.</description></item>"
        for path, item_title, date in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{site.url('/')}</link>"
        f"<description>Toute l'actualité</description>{entries}</channel></rss>"
    )


def atom(site: Site, title: str, items: list[tuple[str, str, datetime.datetime]]) -> str:
    """An Atom 1.0 feed of (path, title, updated) items; links relative to the feed."""
    entries = "".join(
        f"<entry><title>{escape(item_title)}</title><link href='{path}'/>"
        f"<id>tag:gazette,2024:{path}</id><updated>{date.isoformat()}</updated>"
        f"<summary>{escape(item_title)}</summary></entry>"
        for path, item_title, date in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>{site.url('/atom.xml')}</id>"
        f"<updated>2024-05-06T10:00:00Z</updated>{entries}</feed>"
    )


MAY_5 = datetime.datetime(2024, 5, 5, 8, 30, tzinfo=datetime.UTC)


def serve_articles(site: Site) -> None:
    for path, (title, paragraphs) in ARTICLES.items():
        site.add(path, french_page(title, paragraphs))


def serve_with_etag(site: Site, path: str, body: str, etag: str) -> None:
    """A feed answering 304 to a request that sends its ETag back."""
    data = body.encode("utf-8")
    modified = "Sun, 05 May 2024 08:30:00 GMT"

    def route(request: dict[str, str]) -> tuple[int, dict[str, str | None], bytes]:
        head: dict[str, str | None] = {"ETag": etag, "Last-Modified": modified}
        if request.get("If-None-Match") == etag:
            return 304, head, b""
        return 200, {"Content-Type": "application/rss+xml", **head}, data

    site.routes[path] = route


def found(index: Path, query: str) -> list:
    return list(Index.open(index).search(query, limit=100))


# --- What a user sees -----------------------------------------------------------------------


def test_fetch_adds_the_articles_without_the_pages_chrome_and_twice_adds_nothing(site, index):
    serve_articles(site)
    items = [(path, title, MAY_5) for path, (title, _) in ARTICLES.items()]
    serve_with_etag(site, "/rss.xml", rss(site, "La Gazette du Sud", items[:2]), '"v1"')
    site.add("/atom.xml", atom(site, "Gazette Culture", items[2:]), content_type="text/xml")
    feeds = (site.url("/rss.xml"), site.url("/atom.xml"))

    run = veille("fetch", *feeds, "--index", str(index), "--delay", "0")
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"{feeds[0]}: 2 new, 0 changed, 0 unchanged, 0 errors in ")
    assert lines[1].startswith(f"{feeds[1]}: 1 new, 0 changed, 0 unchanged, 0 errors in ")
    assert lines[2].startswith("2 feeds: 3 new, 0 changed, 0 unchanged, 0 errors in ")

    (hit,) = found(index, "grêlons")
    assert hit.title == "Les viticulteurs du Bordelais face à la grêle"
    assert hit.source == "La Gazette du Sud"  # the feed's title
    assert hit.date == datetime.date(2024, 5, 5)
    assert hit.url == site.url("/region/grele.html")
    assert hit.article_id == article_id_for(site.url("/region/grele.html"))
    article = Index.open(index).article(hit.article_id)
    assert [p.text for p in article.passages] == ARTICLES["/region/grele.html"][1]
    (hit,) = found(index, "vitraux chartrains")
    assert hit.source == "Gazette Culture"  # the Atom feed's relative link was resolved
    for word in NAV_AND_FOOTER_WORDS:
        assert found(index, word) == [], word
    assert all(
        headers["User-Agent"].startswith(f"Veille/{__version__} (")
        and "http" not in headers["User-Agent"]
        for headers in site.hits("/region/grele.html")
    )

    again = veille("fetch", *feeds, "--index", str(index), "--delay", "0")
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    # The RSS feed was asked conditionally: 304, nothing read. The Atom feed has no
    # validators: read again, its item already fetched.
    assert site.hits("/rss.xml")[-1]["If-None-Match"] == '"v1"'
    assert site.hits("/rss.xml")[-1]["If-Modified-Since"] == "Sun, 05 May 2024 08:30:00 GMT"
    assert lines[0].endswith("(feed not modified)")
    assert lines[0].startswith(f"{feeds[0]}: 0 new, 0 changed, 0 unchanged, 0 errors in ")
    assert lines[1].startswith(f"{feeds[1]}: 0 new, 0 changed, 1 unchanged, 0 errors in ")
    assert len(site.hits("/region/grele.html")) == 1
    assert len(site.hits("/culture/vitraux.html")) == 1
    assert Index.open(index).info().articles == 4  # the seed article and three fetched


def test_a_changed_page_replaces_its_article(site, index):
    path = "/region/marche.html"
    old = [
        "Le marché de Noël ouvre ses chalets place Kléber, où les santons provençaux "
        "côtoient les décorations alsaciennes et le vin chaud.",
        "Les exposants attendent deux millions de visiteurs pendant les cinq semaines.",
    ]
    new = [
        "Le marché de Noël ferme plus tôt que prévu : les bredele et les chalets de la "
        "place Kléber ont été démontés après la tempête de la nuit.",
        "Les exposants réclament une indemnisation à la municipalité.",
    ]
    title = "Le marché de Noël de Strasbourg"
    site.add(path, french_page(title, old))
    site.add("/rss.xml", rss(site, "Gazette", [(path, title, MAY_5)]))
    assert veille("fetch", site.url("/rss.xml"), "--index", str(index), "--delay", "0").stdout

    site.add(path, french_page(title, new))
    later = MAY_5 + datetime.timedelta(hours=3)
    site.add("/rss.xml", rss(site, "Gazette", [(path, title, later)]))
    run = veille("fetch", site.url("/rss.xml"), "--index", str(index), "--delay", "0")
    assert run.returncode == 0, run.stderr
    assert "0 new, 1 changed, 0 unchanged, 0 errors" in run.stdout
    assert found(index, "santons") == []
    (hit,) = found(index, "bredele")
    assert hit.article_id == article_id_for(site.url(path))
    assert Index.open(index).info().articles == 2


def test_one_article_at_two_urls_is_indexed_once(site, index):
    serve_articles(site)
    title, paragraphs = ARTICLES["/region/grele.html"]
    site.add("/depeches/grele.html", french_page(title, paragraphs))
    paths = ["/region/grele.html", "/region/grele.html?utm_source=rss", "/depeches/grele.html"]
    site.add("/rss.xml", rss(site, "Gazette", [(path, title, MAY_5) for path in paths]))
    summary = fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    assert (summary.new, summary.unchanged, summary.copies) == (1, 2, 1)
    assert "1 new, 0 changed, 2 unchanged (1 copy of another URL's article), 0 errors" in (
        summary.feeds[0].line()
    )
    assert [hit.url for hit in found(index, "grêlons")] == [site.url("/region/grele.html")]
    assert site.hits("/region/grele.html?utm_source=rss") == []  # the same URL, once
    again = fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    assert (again.new, again.unchanged, again.copies) == (0, 3, 0)
    assert len(site.hits("/depeches/grele.html")) == 1


def test_an_article_s_url_is_kept_without_its_tracking_parameters(site, index):
    title, paragraphs = ARTICLES["/region/grele.html"]
    link = "/region/grele.html?page=1&utm_source=rss&utm_medium=feed&xtor=RSS-3"
    site.add(link, french_page(title, paragraphs))
    site.add("/rss.xml", rss(site, "Gazette", [(link, title, MAY_5)]))
    assert fetch_feeds(index, [site.url("/rss.xml")], delay=0).new == 1
    assert [hit.url for hit in found(index, "grêlons")] == [site.url("/region/grele.html?page=1")]


def _latin1_page() -> bytes:
    title = "L'été des élèves à Besançon"
    paragraphs = [
        "Pendant l'été, les élèves du collège Victor-Hugo ont créé un potager où poussent "
        "fèves, céleris et pêchers, à deux pas de la citadelle de Besançon.",
        "« C'est à nous de le soigner », expliquent-ils, fiers de leur récolte préparée "
        "ensuite à la cantine avec du comté.",
        "La municipalité étudie déjà l'idée d'étendre l'expérience à d'autres écoles.",
    ]
    # Declared only by the HTTP header (the meta tag is left out): ISO-8859-1 bytes.
    page = french_page(title, paragraphs).replace('  <meta charset="utf-8">\n', "")
    return page.replace("—", "-").encode("iso-8859-1")  # no em dash in ISO-8859-1


def _slow(request: dict[str, str]) -> tuple[int, dict[str, str | None], bytes]:
    time.sleep(2)
    return 200, {"Content-Type": "text/html"}, b"<p>trop tard</p>"


def _fails_once() -> Route:
    calls = []

    def route(request: dict[str, str]) -> tuple[int, dict[str, str | None], bytes]:
        calls.append(1)
        if len(calls) == 1:
            return 500, {"Content-Type": "text/html"}, b"<h1>Erreur interne</h1>"
        title = "La filière du chanvre relance ses usines"
        text = [
            "Trois usines de défibrage du chanvre rouvrent dans l'Aube, portées par la "
            "demande des constructeurs de maisons en matériaux biosourcés.",
            "Les agriculteurs y voient une culture peu gourmande en eau et en engrais.",
        ]
        return 200, {"Content-Type": "text/html; charset=utf-8"}, french_page(title, text).encode()

    return route


def serve_troubles(site: Site) -> list[str]:
    """A feed of good, broken, slow, huge, Latin-1, looping and forbidden pages."""
    serve_articles(site)
    site.add("/robots.txt", "User-agent: *\nDisallow: /prive/\n", content_type="text/plain")
    site.add("/prive/secret.html", french_page("Secret", ["Ne pas lire ceci."] * 3))
    site.add("/latin1.html", _latin1_page(), content_type="text/html; charset=ISO-8859-1")
    site.routes["/slow.html"] = _slow
    site.routes["/retry.html"] = _fails_once()
    huge = b"<html><body><p>" + b"bla " * (6 * 1024 * 1024 // 4) + b"</p></body></html>"
    site.add("/huge.html", huge, headers={"Content-Length": None})
    site.add("/loop-a.html", "", status=302, headers={"Location": "/loop-b.html"})
    site.add("/loop-b.html", "", status=302, headers={"Location": "/loop-a.html"})
    paths = [
        "/region/grele.html",
        "/missing.html",
        "/retry.html",
        "/slow.html",
        "/huge.html",
        "/latin1.html",
        "/loop-a.html",
        "/prive/secret.html",
    ]
    site.add("/rss.xml", rss(site, "Gazette", [(p, f"Article {p}", MAY_5) for p in paths]))
    site.add("/broken.xml", '<?xml version="1.0"?><rss><channel><title>Cassé</title><item><ti')
    return paths


def test_each_broken_feed_or_page_is_one_line_and_the_rest_goes_on(site, index):
    serve_troubles(site)
    feeds = [site.url("/rss.xml"), site.url("/broken.xml"), site.url("/gone.xml")]
    args = ["--index", str(index), "--delay", "0", "--timeout", "0.5"]
    run = veille("fetch", *feeds, *args)
    assert run.returncode == 1  # a feed could not be read at all
    assert "Traceback" not in run.stderr
    problems = run.stderr.splitlines()
    expected = {
        "page " + site.url("/missing.html"): "HTTP 404 Not Found",
        "page " + site.url("/slow.html"): "timed out (3 tries)",
        "page " + site.url("/huge.html"): "larger than 5 MB: not read past it",
        "page " + site.url("/loop-a.html"): "redirect loop: ",
        "page " + site.url("/prive/secret.html"): "disallowed by the site's robots.txt",
        "feed " + site.url("/broken.xml"): "not an RSS or Atom feed",
        "feed " + site.url("/gone.xml"): "HTTP 404 Not Found",
    }
    assert len(problems) == len(expected), run.stderr
    for what, why in expected.items():
        assert any(line.startswith(f"veille fetch: {what}: {why}") for line in problems), what
    assert run.stdout.splitlines()[0].startswith(
        f"{feeds[0]}: 3 new, 0 changed, 0 unchanged, 5 errors in "
    )
    assert "3 feeds: 3 new, 0 changed, 0 unchanged, 5 errors, 2 feeds failed" in run.stdout

    assert site.hits("/prive/secret.html") == []  # robots.txt said no: never asked
    assert len(site.hits("/robots.txt")) == 1  # once per host per run
    assert len(site.hits("/retry.html")) == 2  # a 500, then the page
    (hit,) = found(index, "chanvre")
    assert hit.title == "La filière du chanvre relance ses usines"
    (hit,) = found(index, "élèves Besançon")
    assert hit.title == "L'été des élèves à Besançon"
    text = " ".join(p.text for p in Index.open(index).article(hit.article_id).passages)
    assert "fèves, céleris et pêchers" in text and "« C'est à nous de le soigner »" in text


def test_failed_pages_are_retried_then_given_up(site, index):
    site.add("/rss.xml", rss(site, "Gazette", [("/missing.html", "Disparu", MAY_5)]))
    for run in range(1, 5):
        summary = fetch_feeds(index, [site.url("/rss.xml")], delay=0)
        result = summary.feeds[0]
        assert (result.errors, result.given_up) == ((1, 0) if run <= 3 else (0, 1)), run
    assert len(site.hits("/missing.html")) == 3
    assert summary.feeds[0].line().endswith(" 0 errors, 1 given up in 0.0 s")


def test_the_delay_spaces_two_requests_to_one_host(site, index):
    serve_articles(site)
    items = [(path, title, MAY_5) for path, (title, _) in ARTICLES.items()]
    site.add("/rss.xml", rss(site, "Gazette", items))
    summary = fetch_feeds(index, [site.url("/rss.xml")], delay=0.3)
    assert summary.new == 3
    times = sorted(when for path, _, when in site.requests if path.startswith(("/region", "/cu")))
    assert len(times) == 3
    assert all(later - earlier >= 0.29 for earlier, later in itertools.pairwise(times))


def test_a_feeds_file_names_sources_and_categories(site, index, tmp_path):
    serve_articles(site)
    site.add("/rss.xml", rss(site, "Gazette", [("/region/tramway.html", "Tramway", MAY_5)]))
    feeds = tmp_path / "feeds.txt"
    feeds.write_text(
        f"# Nos sources\n\n{site.url('/rss.xml')}, Midi Libre, Transports\n", encoding="utf-8"
    )
    run = veille("fetch", "--feeds", str(feeds), "--index", str(index), "--delay", "0")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"{site.url('/rss.xml')}: 1 new, ")
    (hit,) = found(index, "tramway Pérols")
    assert hit.source == "Midi Libre"


def test_a_corrupt_state_file_is_one_clear_error(site, index):
    (index / STATE_FILE).write_bytes(b"ceci n'est pas une base SQLite " * 200)
    run = veille("fetch", site.url("/rss.xml"), "--index", str(index))
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f"veille: error: fetch state {index / STATE_FILE} is unreadable: file is not a "
        "database; move it away to start afresh"
    ]
    assert site.requests == []


def test_no_index_and_bad_arguments_are_one_line(site, tmp_path, index):
    run = veille("fetch", site.url("/rss.xml"), "--index", str(tmp_path / "nowhere"))
    assert run.returncode == 1
    assert run.stderr.startswith("veille: error: no index at ") and "veille build" in run.stderr
    run = veille("fetch", "--index", str(index))
    assert run.returncode == 1 and "no feed to fetch" in run.stderr
    run = veille("fetch", "ftp://example.fr/rss", "--index", str(index))
    assert run.returncode == 1 and "not an http(s) URL" in run.stderr
    run = veille("fetch", site.url("/rss.xml"), "--every", "10 minutes")
    assert run.returncode == 2 and "argument --every: not a duration" in run.stderr
    assert "Example: veille fetch " in veille("fetch", "--help").stdout


def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout} s: {what}")
        time.sleep(0.1)


def _slowly(page: bytes) -> Route:
    def route(request: dict[str, str]) -> tuple[int, dict[str, str | None], bytes]:
        time.sleep(0.3)
        return 200, {"Content-Type": "text/html; charset=utf-8"}, page

    return route


CITIES = ["Rennes", "Nantes", "Lille", "Dijon", "Brest", "Metz", "Nancy", "Reims", "Rouen",
          "Caen", "Tours", "Angers", "Limoges", "Poitiers", "Amiens", "Grenoble", "Toulon",
          "Perpignan", "Quimper", "Colmar"]  # fmt: skip


def test_kill_9_mid_fetch_loses_nothing_and_duplicates_nothing(site, index):
    items = []
    for city in CITIES:
        path = f"/villes/{city.lower()}.html"
        text = [
            f"Le conseil municipal de {city} a adopté lundi soir son budget pour l'année, "
            "après un long débat sur les investissements dans les écoles.",
            "L'opposition dénonce une hausse des impôts locaux que la majorité juge limitée.",
        ]
        site.routes[path] = _slowly(french_page(f"Budget voté à {city}", text).encode())
        items.append((path, f"Budget voté à {city}", MAY_5))
    site.add("/rss.xml", rss(site, "Gazette", items))
    command = [sys.executable, "-m", "search", "fetch", site.url("/rss.xml")]
    command += ["--index", str(index), "--delay", "0"]
    process = subprocess.Popen(command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL)
    try:
        # Killed once a first batch is in the index (written after about 5 s), the rest not.
        _wait_until(lambda: found(index, CITIES[0]) != [], 20, "a first batch written")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    assert found(index, CITIES[-1]) == []  # the run was stopped mid-way

    run = veille("fetch", site.url("/rss.xml"), "--index", str(index), "--delay", "0")
    assert run.returncode == 0, run.stderr
    for city in CITIES:
        hits = found(index, city)
        assert [hit.title for hit in hits] == [f"Budget voté à {city}"], city
    assert Index.open(index).info().articles == 1 + len(CITIES)
    again = veille("fetch", site.url("/rss.xml"), "--index", str(index), "--delay", "0")
    assert f"0 new, 0 changed, {len(CITIES)} unchanged, 0 errors" in again.stdout


def test_every_keeps_fetching_until_ctrl_c(site, index):
    serve_articles(site)
    first = [("/region/grele.html", "Grêle", MAY_5)]
    site.add("/rss.xml", rss(site, "Gazette", first))
    command = [sys.executable, "-u", "-m", "search", "fetch", site.url("/rss.xml")]
    command += ["--index", str(index), "--delay", "0", "--every", "1s"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_until(lambda: found(index, "grêlons") != [], 20, "the first round")
        site.add("/rss.xml", rss(site, "Gazette", [*first, ("/region/tramway.html", "T", MAY_5)]))
        _wait_until(lambda: found(index, "tramway") != [], 20, "an item added to the feed")
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 130
    assert err.splitlines()[-1] == (
        "veille fetch: stopped; the articles written so far are in the index, "
        "the next run fetches the rest"
    )
    assert f"{site.url('/rss.xml')}: 1 new, 0 changed, 0 unchanged, 0 errors in " in out
    assert "; next fetch at " in out


# --- The pure parts -------------------------------------------------------------------------

ETE = "L'été à Besançon : « œuvre »"
META_LATIN1 = b"<meta http-equiv='Content-Type' content='text/html; charset=iso-8859-1'>"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (ETE.encode("utf-8"), None),  # detected: valid UTF-8
        (ETE.encode("cp1252"), None),  # detected: not UTF-8, so Windows-1252
        (ETE.encode("cp1252"), "text/html; charset=ISO-8859-1"),  # read as browsers do
        (b'<meta charset="windows-1252">' + ETE.encode("cp1252"), None),
        (META_LATIN1 + ETE.encode("cp1252"), "text/html"),
        (ETE.encode("utf-8"), "text/html; charset=iso-8859-1"),  # mislabelled UTF-8
        (b"\xef\xbb\xbf" + ETE.encode("utf-8"), "text/html; charset=iso-8859-1"),  # BOM wins
        (ETE.encode("iso-8859-15"), "text/html; charset=ISO-8859-15"),
    ],
)
def test_charsets_declared_or_detected(body, content_type):
    assert decode_html(body, content_type).endswith(ETE)


def test_canonical_urls_make_stable_ids():
    url = "HTTPS://www.Example.fr:443/politique/article.html?id=3&utm_source=rss&xtor=RSS-1#top"
    assert canonical_url(url) == "https://www.example.fr/politique/article.html?id=3"
    assert article_id_for(url) == article_id_for(
        "https://www.example.fr/politique/article.html?id=3"
    )
    assert article_id_for(url) != article_id_for("https://www.example.fr/politique/article.html")
    assert article_id_for(url).startswith("web-") and len(article_id_for(url)) == 20


def test_a_bad_feeds_file_line_is_named(tmp_path):
    feeds = tmp_path / "feeds.txt"
    feeds.write_text("https://a.fr/rss\tLe A\tPolitique\n# note\nwww.b.fr/rss, B\n")
    with pytest.raises(FeedListError, match=r"feeds.txt, line 3: not an http\(s\) URL"):
        read_feed_list(feeds)
    feeds.write_text("https://a.fr/rss\tLe A, et B\tPolitique\n\n")
    (spec,) = read_feed_list(feeds)
    assert (spec.source, spec.category) == ("Le A, et B", "Politique")
    feeds.write_text("https://a.fr/rss?ids=1,2\n")  # a comma of the URL, read as a field
    with pytest.raises(FeedListError, match="line 1: a field without a letter is no name"):
        read_feed_list(feeds)
    feeds.write_text("https://a.fr/rss?ids=1,2\tLe A\n")  # with tabs: the URL whole
    assert read_feed_list(feeds)[0].url == "https://a.fr/rss?ids=1,2"
    feeds.write_text("https://a.fr/rss, Le A\nhttps://a.fr/rss, Le B\n")
    with pytest.raises(FeedListError, match="listed twice, from 'Le A' and 'Le B'"):
        feed_specs(feeds_file=feeds)


def test_the_same_story_from_two_sources_is_two_versions_of_one_hit(site, index):
    serve_articles(site)
    title, paragraphs = ARTICLES["/region/grele.html"]
    site.add("/autre/grele.html", french_page(title, paragraphs))
    site.add("/a.xml", rss(site, "Gazette", [("/region/grele.html", title, MAY_5)]))
    site.add("/b.xml", rss(site, "Courrier", [("/autre/grele.html", title, MAY_5)]))
    summary = fetch_feeds(index, [site.url("/a.xml"), site.url("/b.xml")], delay=0)
    assert summary.new == 2 and summary.copies == 0
    results = Index.open(index).search(title)
    (hit,) = [h for h in results if h.duplicates]
    assert {hit.source, *(d.source for d in hit.duplicates)} == {"Gazette", "Courrier"}
    assert dict(results.facets["source"]) == {"Gazette": 1, "Courrier": 1}


def test_an_accented_link_is_fetched_and_the_run_goes_on(site, index):
    from urllib.parse import quote

    title, paragraphs = ARTICLES["/region/grele.html"]
    site.add(quote("/actualité/été-grêle.html"), french_page(title, paragraphs))
    site.add("/rss.xml", rss(site, "Gazette", [("/actualité/été-grêle.html", title, MAY_5)]))
    serve_articles(site)
    others = [(p, t, MAY_5) for p, (t, _) in ARTICLES.items() if p != "/region/grele.html"]
    site.add("/autre.xml", rss(site, "Autre", others))
    run = veille("fetch", site.url("/rss.xml"), site.url("/autre.xml"), "--index", str(index))
    assert run.returncode == 0 and run.stderr == ""
    lines = run.stdout.splitlines()
    assert lines[0].startswith(f"{site.url('/rss.xml')}: 1 new, ")
    assert lines[1].startswith(f"{site.url('/autre.xml')}: {len(others)} new")
    (hit,) = found(index, "grêlons")
    assert hit.url == site.url(quote("/actualité/été-grêle.html"))


def test_a_rebuild_that_dropped_fetched_articles_gets_them_back_from_an_unchanged_feed(site, index):
    serve_articles(site)
    items = [(path, title, MAY_5) for path, (title, _) in ARTICLES.items()]
    serve_with_etag(site, "/rss.xml", rss(site, "Gazette", items), '"v1"')
    fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    assert len(found(index, "grêlons")) == 1
    build_index(ROOT / "corpus", index)  # the corpus alone: the fetched articles are gone
    assert found(index, "grêlons") == []
    summary = fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    assert "If-None-Match" not in site.hits("/rss.xml")[-1]  # the whole feed, not a 304
    assert summary.feeds[0].new == len(ARTICLES)
    assert len(found(index, "grêlons")) == 1
    again = fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    assert again.feeds[0].not_modified  # all back: conditional again


def test_an_article_a_person_removed_stays_out_until_added_again(site, index):
    serve_articles(site)
    items = [(path, title, MAY_5) for path, (title, _) in ARTICLES.items()]
    serve_with_etag(site, "/rss.xml", rss(site, "Gazette", items), '"v1"')
    fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    grele = article_id_for(site.url("/region/grele.html"))
    run = veille("remove", grele, "--index", str(index))
    assert run.returncode == 0, run.stderr
    summary = fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    assert summary.feeds[0].not_modified  # the feed's other articles are all there
    site.add("/rss.xml", rss(site, "Gazette", items))  # read whole: each item looked at
    summary = fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    assert (summary.new, summary.feeds[0].kept_out) == (0, 1)
    assert summary.feeds[0].line().split(" in ")[0].endswith(", 1 kept out (removed)")
    assert found(index, "grêlons") == []
    build_index(ROOT / "corpus", index)  # a rebuild drops the other fetched articles
    assert fetch_feeds(index, [site.url("/rss.xml")], delay=0).new == len(ARTICLES) - 1
    assert found(index, "grêlons") == []  # still removed


def test_a_removal_sticks_though_the_ledger_was_moved_away(site, index):
    serve_articles(site)
    items = [(path, title, MAY_5) for path, (title, _) in ARTICLES.items()]
    site.add("/rss.xml", rss(site, "Gazette", items))
    fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    (index / "articles.sqlite").rename(index.parent / "ledger-moved.sqlite")  # as told
    assert (
        veille(
            "remove", article_id_for(site.url("/region/grele.html")), "--index", str(index)
        ).returncode
        == 0
    )
    assert fetch_feeds(index, [site.url("/rss.xml")], delay=0).feeds[0].kept_out == 1
    assert found(index, "grêlons") == []


def test_a_cluster_s_fetch_state_is_beside_its_config(tmp_path):
    from search.ingest.state import FetchState

    config = tmp_path / "cluster" / "cluster.toml"
    config.parent.mkdir()
    with FetchState.open(config) as state:
        assert state.item("https://example.fr/a") is None
    assert (config.parent / STATE_FILE).is_file()


def test_a_page_without_article_text_keeps_the_feed_s_title(site, index):
    site.add(
        "/mur.html",
        "<html><head><title>Avant de continuer</title></head><body><nav>menu</nav></body></html>",
    )
    site.add("/rss.xml", rss(site, "Gazette", [("/mur.html", "Réforme : le texte adopté", MAY_5)]))
    fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    (hit,) = found(index, "résumé")
    assert hit.title == "Réforme : le texte adopté"  # not the page's « Avant de continuer »


def test_a_site_s_outage_is_not_held_against_its_pages(site, index):
    site.add("/rss.xml", rss(site, "Gazette", [("/panne.html", "En panne", MAY_5)]))
    site.add("/panne.html", "<h1>Indisponible</h1>", status=503)
    for _ in range(4):
        summary = fetch_feeds(index, [site.url("/rss.xml")], delay=0)
        assert (summary.feeds[0].errors, summary.feeds[0].given_up) == (1, 0)
    title, paragraphs = ARTICLES["/region/grele.html"]
    site.add("/panne.html", french_page(title, paragraphs))  # back
    assert fetch_feeds(index, [site.url("/rss.xml")], delay=0).feeds[0].new == 1


def test_a_feed_date_is_the_day_the_feed_wrote(site, index):
    paris = datetime.timezone(datetime.timedelta(hours=2))
    just_after_midnight = datetime.datetime(2020, 6, 29, 0, 30, tzinfo=paris)  # 28th in UTC
    site.add("/mur.html", "<html><head><title>Mur</title></head><body><nav>m</nav></body></html>")
    site.add("/rss.xml", rss(site, "Gazette", [("/mur.html", "Minuit", just_after_midnight)]))
    fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    (hit,) = found(index, "résumé")
    assert (hit.date, hit.time) == (datetime.date(2020, 6, 29), datetime.time(0, 30))


def test_a_day_s_fetched_articles_come_newest_first(site, index):
    serve_articles(site)
    paths = list(ARTICLES)
    hours = [9, 17, 12]
    items = [
        (path, ARTICLES[path][0], MAY_5.replace(hour=hour))
        for path, hour in zip(paths, hours, strict=True)
    ]
    site.add("/rss.xml", rss(site, "Gazette", items))
    fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    with Index.open(index) as opened:
        newest = opened.search("source:Gazette")  # filters alone: newest first
    # UTC in the feed, Paris's time in the index (summer: two hours more)
    assert [(h.title, h.time) for h in newest] == [
        (ARTICLES[paths[1]][0], datetime.time(19, 30)),
        (ARTICLES[paths[2]][0], datetime.time(14, 30)),
        (ARTICLES[paths[0]][0], datetime.time(11, 30)),
    ]


def test_a_feed_title_s_markup_is_left_out(site, index):
    site.add("/mur.html", "<html><head><title>Mur</title></head><body><nav>m</nav></body></html>")
    items = [("/mur.html", "Le rapport <i>choc</i> du jour", MAY_5)]
    items.append(("/taux.html", "Taux < 3 % et > 1 %", MAY_5))  # text, not markup
    site.add("/taux.html", "<html><head><title>T</title></head><body><nav>m</nav></body></html>")
    site.add("/rss.xml", rss(site, "La <b>Gazette</b>", items))
    fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    titles = {hit.title for hit in found(index, "résumé")}
    assert titles == {"Le rapport choc du jour", "Taux < 3 % et > 1 %"}
    assert {hit.source for hit in found(index, "résumé")} == {"La Gazette"}


WALL = "<html><head><title>Avant de continuer</title></head><body><nav>m</nav></body></html>"
# A consent notice with a paragraph or two of text, as cookie banners are.
CONSENT = (
    "<html><head><title>Le Quotidien respecte votre vie privée</title></head><body>"
    "<h1>Le Quotidien respecte votre vie privée</h1>"
    "<p>Nous et nos partenaires utilisons des cookies et des traceurs pour mesurer "
    "l'audience, personnaliser les contenus et la publicité, selon votre consentement.</p>"
    "<p>Vous pouvez accepter, refuser ou paramétrer vos choix à tout moment depuis la page "
    "Confidentialité de notre site.</p><button>Accepter</button><button>Refuser</button>"
    "</body></html>"
)


# The same notice under the article's own title, as consent banners are served.
CONSENT_TITLED = CONSENT.replace(
    "<title>Le Quotidien respecte votre vie privée</title>", "<title>{title} | Gazette</title>"
).replace("<h1>Le Quotidien respecte votre vie privée</h1>", "<h1>{title}</h1>")


@pytest.mark.parametrize("wall", [WALL, CONSENT, CONSENT_TITLED])
def test_a_consent_notice_is_no_article_text_and_never_replaces_one(site, index, wall):
    title, paragraphs = ARTICLES["/region/grele.html"]
    site.add("/grele.html", french_page(title, paragraphs))
    site.add("/rss.xml", rss(site, "Gazette", [("/grele.html", title, MAY_5)]))
    assert fetch_feeds(index, [site.url("/rss.xml")], delay=0).new == 1
    site.add("/grele.html", wall.replace("{title}", title))
    later = MAY_5 + datetime.timedelta(hours=2)
    site.add("/rss.xml", rss(site, "Gazette", [("/grele.html", title, later)]))
    summary = fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    assert (summary.new, summary.changed, summary.unchanged) == (0, 0, 1)
    (hit,) = found(index, "grêlons")
    assert hit.title == title and found(index, "cookies") == []


NOTICE = (
    "Nous et nos partenaires utilisons des cookies et des traceurs pour mesurer l'audience, "
    "selon votre consentement. Vous pouvez accepter, refuser ou paramétrer vos choix."
)


@pytest.mark.parametrize(
    ("title", "text", "story", "wall"),
    [
        (
            "Vos choix",
            "Nous respectons votre vie privée. Cookies. Accepter. Refuser.",
            "Grêle",
            True,
        ),
        (None, "Cookies, partenaires et traceurs : accepter ou refuser.", None, True),
        # A notice keeps the article's own title: the page's title is not its text.
        ("La grêle frappe le Bordelais | Gazette", NOTICE, "La grêle frappe le Bordelais", True),
        # Short news with a notice's words tells its story, or names no cookie.
        (
            "La CNIL sanctionne un site pour ses cookies",
            "Refuser les cookies doit être aussi simple que les accepter, rappelle la CNIL "
            "à Google, qui demandait le consentement de ses lecteurs.",
            "Amende record de la CNIL contre Google",
            False,
        ),
        (
            "Le PSG pourrait dire non au Real",
            "Le club pourrait refuser l'offre, ou accepter une contrepartie de ses "
            "partenaires commerciaux, selon son président.",
            "Mbappé : le Real Madrid relance le dossier",
            False,
        ),
        (
            "Grêle",
            "Des grêlons gros comme des balles de golf ont frappé Montpellier.",
            "Grêle",
            False,
        ),
        (
            "Vie privée",
            "Un texte sur la vie privée. " * 80 + "Cookies. Accepter. Refuser.",
            None,
            False,
        ),
    ],
)
def test_consent_wall(title, text, story, wall):
    from search.ingest.pages import consent_wall

    assert consent_wall(title, (text,), story) is wall


def test_a_wall_never_replaces_an_article_indexed_with_its_text(site, index):
    title, paragraphs = ARTICLES["/region/grele.html"]
    site.add("/grele.html", french_page(title, paragraphs))
    site.add("/rss.xml", rss(site, "Gazette", [("/grele.html", title, MAY_5)]))
    assert fetch_feeds(index, [site.url("/rss.xml")], delay=0).new == 1
    site.add("/grele.html", WALL)  # a consent wall, and the feed says the item changed
    later = MAY_5 + datetime.timedelta(hours=2)
    site.add("/rss.xml", rss(site, "Gazette", [("/grele.html", title, later)]))
    summary = fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    assert (summary.new, summary.changed, summary.unchanged) == (0, 0, 1)
    (hit,) = found(index, "grêlons")  # the article's own words are still found
    assert hit.title == title


def test_an_article_indexed_with_its_summary_gets_its_text_later(site, index):
    title, paragraphs = ARTICLES["/region/tramway.html"]
    site.add("/tram.html", WALL)
    # A feed that answers 304 to its ETag: an item to fetch again is not hidden by it.
    serve_with_etag(site, "/rss.xml", rss(site, "Gazette", [("/tram.html", title, MAY_5)]), '"1"')
    assert fetch_feeds(index, [site.url("/rss.xml")], delay=0).new == 1
    assert found(index, "Pérols") == [] and len(found(index, "résumé")) == 1
    site.add("/tram.html", french_page(title, paragraphs))  # the same feed entry
    assert fetch_feeds(index, [site.url("/rss.xml")], delay=0).changed == 1
    (hit,) = found(index, "Pérols")
    assert hit.title == title and found(index, "résumé") == []
    assert fetch_feeds(index, [site.url("/rss.xml")], delay=0).feeds[0].not_modified
    assert len(site.hits("/tram.html")) == 2  # indexed with its text: not fetched again


def test_a_given_up_page_is_tried_again_hours_later(site, index):
    serve_with_etag(site, "/rss.xml", rss(site, "Gazette", [("/late.html", "Tard", MAY_5)]), '"1"')
    for _ in range(4):
        summary = fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    assert summary.feeds[0].given_up == 1 and len(site.hits("/late.html")) == 3
    title, paragraphs = ARTICLES["/culture/vitraux.html"]
    site.add("/late.html", french_page(title, paragraphs))  # the page is up at last
    assert fetch_feeds(index, [site.url("/rss.xml")], delay=0).feeds[0].given_up == 1
    # Seven hours later, as the state file records it.
    with sqlite3.connect(index / STATE_FILE) as db:
        db.execute("UPDATE items SET updated_at = '2000-01-01T00:00:00+00:00'")
    assert fetch_feeds(index, [site.url("/rss.xml")], delay=0).new == 1
    assert len(found(index, "vitrail")) == 1


def test_the_feed_s_date_wins_over_a_date_the_page_may_guess(site, index):
    title, paragraphs = ARTICLES["/region/grele.html"]
    site.add("/grele.html", french_page(title, paragraphs, date="2017-02-01"))
    site.add("/rss.xml", rss(site, "Gazette", [("/grele.html", title, MAY_5)]))
    fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    (hit,) = found(index, "grêlons")
    assert hit.date == datetime.date(2024, 5, 5)


def test_an_atom_entry_s_last_change_does_not_date_its_article(site, index):
    title, paragraphs = ARTICLES["/region/grele.html"]
    site.add("/grele.html", french_page(title, paragraphs, date="2024-04-20"))
    later = datetime.datetime(2024, 5, 5, 9, tzinfo=datetime.UTC)
    site.add("/atom.xml", atom(site, "Gazette", [("/grele.html", title, later)]))  # <updated>
    fetch_feeds(index, [site.url("/atom.xml")], delay=0)
    (hit,) = found(index, "grêlons")
    assert hit.date == datetime.date(2024, 4, 20)  # the page's publication, not the change


def test_an_unavailable_site_is_asked_once_a_run(site, index):
    paths = list(ARTICLES)
    for path in paths:
        site.add(path, "<h1>Indisponible</h1>", status=503)
    site.add("/rss.xml", rss(site, "Gazette", [(p, f"Article {p}", MAY_5) for p in paths]))
    summary = fetch_feeds(index, [site.url("/rss.xml")], delay=0)
    assert summary.feeds[0].errors == 3
    assert [len(site.hits(p)) for p in paths] == [3, 0, 0]  # one page's tries, no more
    serve_articles(site)  # back up: the next run fetches them all
    assert fetch_feeds(index, [site.url("/rss.xml")], delay=0).new == 3


def test_a_feed_of_a_site_found_unavailable_says_why_it_was_not_asked(site, index):
    site.add("/rss.xml", rss(site, "Gazette", [("/panne.html", "En panne", MAY_5)]))
    site.add("/panne.html", "<h1>Indisponible</h1>", status=503)
    site.add("/autre.xml", rss(site, "Gazette", [("/region/grele.html", "Grêle", MAY_5)]))
    summary = fetch_feeds(index, [site.url("/rss.xml"), site.url("/autre.xml")], delay=0)
    other = summary.feeds[1]
    assert site.hits("/autre.xml") == []  # the site is down for this run
    assert other.failure.startswith(f"not asked: {site.url('/panne.html')} failed: HTTP 503")
    assert other.failure.endswith("so the site's other pages wait this run")


def test_a_fractional_crawl_delay_is_honoured(site, index):
    serve_articles(site)
    site.add("/robots.txt", "User-agent: *\nCrawl-delay: 0.5\n", content_type="text/plain")
    items = [(path, title, MAY_5) for path, (title, _) in ARTICLES.items()]
    site.add("/rss.xml", rss(site, "Gazette", items))
    assert fetch_feeds(index, [site.url("/rss.xml")], delay=0).new == 3
    times = sorted(when for path, _, when in site.requests if path.startswith(("/region", "/cu")))
    # Read as a whole second (the standard parser reads no fraction): never less than asked.
    assert all(later - earlier >= 0.49 for earlier, later in itertools.pairwise(times))


@pytest.mark.parametrize(
    ("written", "day", "time"),
    [
        ("mer., 29 mai 2024 08:00:00 +0200", datetime.date(2024, 5, 29), datetime.time(8, 0)),
        ("lun., 05 févr. 2024 10:00:00 +0100", datetime.date(2024, 2, 5), datetime.time(10, 0)),
        ("Sat, 01 juin 2024 08:00:00 +0200", datetime.date(2024, 6, 1), datetime.time(8, 0)),
        ("Mercredi 29 Mai 2024 - 08:00", datetime.date(2024, 5, 29), datetime.time(8, 0)),
        ("lundi 29 juin 2020 08:15:00 CEST", datetime.date(2020, 6, 29), datetime.time(8, 15)),
        ("Wed, 29 May 2024 10:00 PM +0200", datetime.date(2024, 5, 29), datetime.time(22, 0)),
        ("Wed, 29 May 2024 11:30 PM GMT", datetime.date(2024, 5, 30), datetime.time(1, 30)),
        ("Wed, 29 May 2024 12:30 AM +0200", datetime.date(2024, 5, 29), datetime.time(0, 30)),
        ("29 juin 2020 à 8h30", datetime.date(2020, 6, 29), datetime.time(8, 30)),
        # Paris's day and time
        ("Tue, 01 Dec 2020 23:30:00 GMT", datetime.date(2020, 12, 2), datetime.time(0, 30)),
        ("2020-12-01T23:30:00Z", datetime.date(2020, 12, 2), datetime.time(0, 30)),
        # as written
        ("Tue, 01 Dec 2020 23:30:00 -0500", datetime.date(2020, 12, 1), datetime.time(23, 30)),
        # UTC, its writer's zone unknown (RFC 5322; Python's formatdate() writes it)
        ("Sat, 01 Jun 2024 22:30:00 -0000", datetime.date(2024, 6, 2), datetime.time(0, 30)),
        ("Sat, 01 Jun 2024 22:30:00 -0000 (UTC)", datetime.date(2024, 6, 2), datetime.time(0, 30)),
        ("Fri, 01 Jan 2100 00:00:00 GMT", None, None),  # in the future: a feed's mistake
        ("Sat, 01 juin 2024", datetime.date(2024, 6, 1), None),  # no time
        ("mer., 29 mai 2024", datetime.date(2024, 5, 29), None),
        ("Sat, 01 Jun 2024", datetime.date(2024, 6, 1), None),
        ("2024-06-01", datetime.date(2024, 6, 1), None),
        ("2024-06", datetime.date(2024, 6, 1), None),  # feedparser's reading: no time made up
    ],
)
def test_a_feed_s_dates_as_french_sites_write_them(written, day, time):
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>G</title>'
        "<item><title>Un titre</title><link>https://www.example.fr/a.html</link>"
        f"<pubDate>{written}</pubDate></item></channel></rss>"
    )
    (item,) = parse_feed(
        body.encode(), "https://www.example.fr/rss.xml", "application/rss+xml"
    ).items
    assert (item.date, item.time) == (day, time)


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("http://x.fr/a?utm_source=rss&utm_medium=feed", "http://x.fr/a"),
        ("http://x.fr/a?recherche=caf%E9&utm_source=rss", "http://x.fr/a?recherche=caf%E9"),
        ("http://x.fr/a?id=5;sid=abc&xtor=RSS-3", "http://x.fr/a?id=5;sid=abc"),
        ("http://x.fr/a?tags=a+b&path=/b/c&UTM_Medium=x", "http://x.fr/a?tags=a+b&path=/b/c"),
        ("http://x.fr/a?amp&utm_source=r#haut", "http://x.fr/a?amp#haut"),
        ("http://x.fr/a?q=1&Q=2", "http://x.fr/a?q=1&Q=2"),  # nothing to take: as it is
    ],
)
def test_tracking_parameters_are_taken_out_the_rest_as_written(url, kept):
    from search.ingest.feeds import without_tracking

    assert without_tracking(url) == kept
