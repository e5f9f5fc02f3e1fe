"""Shared fixtures: real indexes built in temporary folders from real French articles."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from search import Index, build_index

if TYPE_CHECKING:  # the library's tests need no flask
    from flask import Flask
    from flask.testing import FlaskClient

ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "corpus"
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def seed_index_path(tmp_path_factory) -> Path:
    """An index of the bundled corpus (the seed article), built once."""
    path = tmp_path_factory.mktemp("seed") / "index"
    build_index(SEED_CORPUS, path)
    return path


@pytest.fixture(scope="session")
def seed_index(seed_index_path) -> Index:
    return Index.open(seed_index_path)


# --- The cluster backend: Sphinx searchd nodes started by the tests ---------------------------

SEARCHD = shutil.which("searchd") or shutil.which("searchd", path="/usr/bin:/usr/sbin")
# The backends an acceptance test runs on: the embedded index, and a 2 x 2 cluster.
BACKENDS = [
    "whoosh",
    pytest.param(
        "sphinx",
        marks=pytest.mark.skipif(
            SEARCHD is None, reason="searchd (Debian's sphinxsearch) is not installed"
        ),
    ),
]


def free_port_block(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports."""
    for _ in range(200):
        base = free_port()
        if base + count > 65535:
            continue
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no block of free ports")


class Clusters:
    """Clusters of searchd nodes in temporary folders, started on demand, stopped by pid."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: dict[str, Path] = {}

    def __call__(self, name: str, shards: int = 2, replicas: int = 2) -> Path:
        if name not in self.started:
            from search.cluster import init_cluster, start_cluster

            base = free_port_block(shards * replicas)
            path = init_cluster(self.root / name, shards, replicas, "127.0.0.1", base)
            self.started[name] = path
            start_cluster(path)
        return self.started[name]

    def stop_all(self) -> None:
        from search.cluster import cluster_status

        for path in self.started.values():
            for node in cluster_status(path):
                if node["pid"]:
                    os.kill(node["pid"], 15)
        deadline = time.monotonic() + 30
        for path in self.started.values():
            while any(n["pid"] for n in cluster_status(path)) and time.monotonic() < deadline:
                time.sleep(0.05)


@pytest.fixture(scope="session")
def clusters(tmp_path_factory) -> Iterator[Clusters]:
    """Start clusters by name (2 shards x 2 replicas unless asked otherwise)."""
    started = Clusters(tmp_path_factory.mktemp("clusters"))
    yield started
    started.stop_all()


@pytest.fixture(scope="session")
def seed_cluster_path(clusters) -> Path:
    """A 2 x 2 cluster holding the bundled corpus."""
    path = clusters("seed")
    build_index(SEED_CORPUS, path)
    return path


@pytest.fixture(scope="session")
def news_cluster_path(clusters, tmp_path_factory) -> Path:
    """A 2 x 2 cluster holding what news_index_path holds."""
    corpus = tmp_path_factory.mktemp("news-cluster-corpus")
    (corpus / "seed.txt").write_bytes(next(SEED_CORPUS.glob("*.txt")).read_bytes())
    (corpus / "news.jsonl").write_bytes((TEST_DATA / "news.jsonl").read_bytes())
    path = clusters("news")
    build_index(corpus, path)
    return path


def index_path(backend: str, folder: Path, request: pytest.FixtureRequest) -> Path:
    """Where a test writes its own index on that backend: a folder, or the shared scratch
    cluster (each test that uses it builds first)."""
    if backend == "whoosh":
        return folder / "index"
    return request.getfixturevalue("clusters")("scratch")


def built(records: list[dict], backend: str, tmp_path: Path, request) -> Index:
    """An index of these records on that backend, open."""
    path = index_path(backend, tmp_path, request)
    build_index(write_jsonl(tmp_path / "corpus.jsonl", records), path)
    return Index.open(path)


@pytest.fixture(scope="session")
def news_index_path(tmp_path_factory) -> Path:
    """An index of the seed article plus tests/data/news.jsonl, built once."""
    corpus = tmp_path_factory.mktemp("news-corpus")
    (corpus / "seed.txt").write_bytes(next(SEED_CORPUS.glob("*.txt")).read_bytes())
    (corpus / "news.jsonl").write_bytes((TEST_DATA / "news.jsonl").read_bytes())
    path = tmp_path_factory.mktemp("news") / "index"
    build_index(corpus, path)
    return path


@pytest.fixture(scope="session")
def news_index(news_index_path) -> Index:
    return Index.open(news_index_path)


# --- The web app: a small French corpus, its index, the app and a live server ---------------
# (fixtures of tests/test_web.py, test_api.py, test_browser.py and test_serve.py)

WEB_XSS = "<script>alert(1)</script>"
WEB_IMG = "<img src=x onerror=alert(1)>"


def _web_articles() -> list[dict]:
    """Small French articles: several months and sources, one undated, one hostile."""
    articles = [
        {
            "id": "cooperation-maroc",
            "title": "La France et le Maroc relancent leur coopération sécuritaire",
            "date": "2024-05-05",
            "source": "Le Monde",
            "category": "monde",
            "url": "https://www.example.fr/monde/2024/05/05/cooperation-maroc",
            "text": (
                "Paris et Rabat ont annoncé dimanche la relance de leur coopération "
                "sécuritaire, après deux années de tensions diplomatiques entre les deux pays."
                "\n\n"
                "Les ministres de l'Intérieur se sont rencontrés pour évoquer la lutte contre "
                "le terrorisme, le trafic de drogue et les filières d'immigration clandestine."
                "\n\n"
                "Cette coopération sécuritaire porte aussi sur l'échange de renseignements "
                "entre les services des deux pays, selon le gouvernement."
                "\n\n"
                "Les diplomates saluent un tournant, même si plusieurs dossiers restent "
                "ouverts, notamment celui des visas accordés aux étudiants."
            ),
        },
        {
            "id": "sahel-armee",
            "title": "Sahel : l'armée française quitte la région",
            "date": "2024-03-12",
            "source": "Le Figaro",
            "category": "monde",
            "url": "https://www.example.fr/figaro/2024/03/12/sahel",
            "text": (
                "Les derniers soldats français ont quitté le Niger, mettant fin à une présence "
                "militaire de plus de dix ans dans la région du Sahel."
                "\n\n"
                "Le gouvernement promet de maintenir une coopération sécuritaire avec les "
                "pays voisins, sous une forme plus discrète et plus légère."
                "\n\n"
                "Les analystes s'interrogent sur l'avenir de la lutte contre les groupes armés."
            ),
        },
        {
            "id": "proces-attentats",
            "title": "Le procès des attentats s'ouvre à Paris",
            "date": "2023-11-20",
            "source": "Libération",
            "category": "société",
            "url": "https://www.example.fr/liberation/2023/11/20/proces",
            "text": (
                "Le procès des attentats s'est ouvert lundi devant la cour d'assises "
                "spéciale, en présence de nombreuses parties civiles."
                "\n\n"
                "Les accusés sont poursuivis pour association de malfaiteurs terroriste, un "
                "chef d'accusation que le gouvernement juge essentiel dans la lutte contre le "
                "terrorisme."
                "\n\n"
                "Le verdict est attendu au printemps."
            ),
        },
        {
            "id": "faille-xss",
            "title": f"Une faille {WEB_XSS} dans un site officiel {WEB_IMG}",
            "date": "2024-01-15",
            "source": "Le Parisien",
            "url": "javascript:alert(1)",
            "text": (
                f"Des chercheurs ont trouvé la chaîne {WEB_XSS} injectée dans une page du "
                "site officiel d'une préfecture."
                "\n\n"
                f"Une image piégée {WEB_IMG} déclenchait une alerte chez les visiteurs, selon "
                "les chercheurs en cybersécurité."
            ),
        },
        {
            "id": "depeche-sans-date",
            "title": "Une dépêche sans date ni source",
            "text": (
                "Cette dépêche anonyme évoque une réunion du gouvernement consacrée aux "
                "finances locales et au budget des communes."
                "\n\n"
                "Aucune date ni aucune source ne sont indiquées dans le texte transmis."
            ),
        },
    ]
    others = [
        (
            "budget-2023",
            "2023-06-14",
            "Le Monde",
            "Le budget 2023 adopté de justesse",
            "le déficit public, la dette et les économies demandées aux ministères",
        ),
        (
            "retraites",
            "2023-09-03",
            "Les Échos",
            "La réforme des retraites entre en vigueur",
            "l'âge légal de départ, les carrières longues et les pensions des agents",
        ),
        (
            "agriculteurs",
            "2024-02-08",
            "Ouest-France",
            "La colère des agriculteurs ne faiblit pas",
            "les prix du lait, les normes européennes et les barrages sur les routes",
        ),
        (
            "logement",
            "2024-04-22",
            "Le Figaro",
            "Le logement, priorité affichée du printemps",
            "les loyers, les chantiers de construction et les prêts aux primo-accédants",
        ),
        (
            "ecole",
            "2024-05-18",
            "Libération",
            "Rentrée scolaire : les syndicats inquiets",
            "les classes surchargées, les remplaçants absents et les salaires des enseignants",
        ),
        (
            "hopital",
            "2024-05-27",
            "Le Parisien",
            "L'hôpital public manque de soignants",
            "les urgences fermées la nuit, les infirmières épuisées et les lits supprimés",
        ),
        (
            "energie",
            "2023-12-01",
            "Les Échos",
            "Le prix de l'énergie pèse sur les ménages",
            "les factures d'électricité, le chèque énergie et la rénovation des passoires",
        ),
        (
            "transports",
            "2024-01-30",
            "Ouest-France",
            "Grève dans les transports régionaux",
            "les trains supprimés, les bus en retard et les usagers excédés sur les quais",
        ),
    ]
    for article_id, date, source, title, subject in others:
        articles.append(
            {
                "id": article_id,
                "title": title,
                "date": date,
                "source": source,
                "category": "politique" if date < "2024" else "société",
                "url": f"https://www.example.fr/{article_id}",
                "text": (
                    f"{title}. Sur {subject}, le gouvernement a présenté ses mesures."
                    "\n\n"
                    f"Les élus locaux, interrogés sur {subject}, demandent une concertation "
                    f"réelle : « {title.lower()} », résume l'un d'eux."
                ),
            }
        )
    return articles


def write_jsonl(path: Path, records: list[dict]) -> Path:
    """Write records as a JSON Lines corpus file and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records),
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="session")
def web_articles() -> list[dict]:
    """The web tests' articles, as JSON Lines records (a fresh list each session)."""
    return _web_articles()


@pytest.fixture(scope="session")
def web_corpus_path(tmp_path_factory, web_articles) -> Path:
    """The web tests' corpus: one JSON Lines file in a temporary folder."""
    return write_jsonl(tmp_path_factory.mktemp("web-corpus") / "articles.jsonl", web_articles)


@pytest.fixture(scope="session")
def web_index_path(tmp_path_factory, web_corpus_path) -> Path:
    """A real index of the web tests' corpus, built once."""
    path = tmp_path_factory.mktemp("web") / "index"
    build_index(web_corpus_path, path)
    return path


@pytest.fixture
def app(web_index_path) -> Iterator["Flask"]:
    """The web app on the web tests' index, in testing mode."""
    from web import create_app

    app = create_app({"TESTING": True, "VEILLE_INDEX": str(web_index_path)})
    yield app
    app.extensions["veille_index"].close()


@pytest.fixture
def client(app) -> "FlaskClient":
    return app.test_client()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class VeilleServer:
    """`python -m search serve` running as a subprocess on 127.0.0.1, and its log."""

    def __init__(self, index: Path, log: Path, *args: str, workers: int = 2) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [sys.executable, "-m", "search", "serve", "--index", str(index)]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)]
        env = os.environ | {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [*command, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def wait_until_up(self, timeout: float = 60.0) -> None:
        """Wait until /healthz answers 200; fail with the server's log if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited ({self.process.returncode}):\n{self.read_log()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"the server did not answer within {timeout} s:\n{self.read_log()}")

    def read_log(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Terminate the server (gunicorn stops its workers), then kill it if it lingers."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


@pytest.fixture
def start_server(tmp_path) -> Iterator[Callable[..., VeilleServer]]:
    """Start `veille serve` on an index (extra CLI arguments allowed); stopped after the test."""
    servers: list[VeilleServer] = []

    def start(index: Path, *args: str, workers: int = 2) -> VeilleServer:
        server = VeilleServer(
            index, tmp_path / f"server-{len(servers)}.log", *args, workers=workers
        )
        servers.append(server)
        server.wait_until_up()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, web_index_path) -> Iterator[VeilleServer]:
    """`veille serve` on the web tests' index with 2 workers, started once."""
    log = tmp_path_factory.mktemp("live-server") / "server.log"
    server = VeilleServer(web_index_path, log)
    try:
        server.wait_until_up()
        yield server
    finally:
        server.stop()
