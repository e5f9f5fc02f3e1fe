"""The cluster backend: searchd nodes, replicas, shards, faults, and ranking parity."""

import contextlib
import datetime as dt
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import SEARCHD, TEST_DATA, write_jsonl

from search import Index, IndexUnavailableError, IndexVersionError, build_index, update_index
from search.backends.sphinx.terms import shard_of
from search.cluster import cluster_status, start_cluster
from web import create_app

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(SEARCHD is None, reason="searchd (Debian's sphinxsearch) is not installed"),
]
ROOT = Path(__file__).resolve().parent.parent
QUERIES = [
    "coopération sécuritaire",
    "securite",
    "Maroc",
    "terror*",
    '"coupe du monde"',
    "Maroc OU Algérie",
    "Qatar -Asie",
    "titre:élections",
    "Quel est le rôle du Maroc dans la lutte contre le terrorisme ?",
    "qui est",
    "-Maroc",
    "sécurité date:2024-05",
    "(Maroc OU Tunisie) terrorisme",
    # a long text: the learned second stage re-ranks it, on the cluster's evidence too
    "Le Maroc et la France renforcent leur coopération sécuritaire contre le terrorisme "
    "international, selon la direction générale de la sûreté nationale",
]


def test_terms_are_whole_sphinx_tokens_and_lengths_are_the_embedded_ones():
    from whoosh.util.numeric import byte_to_length, length_to_byte

    from search.backends.sphinx.terms import quantized, row_id, row_parts, token

    assert token("secur") == "secur" and token("2024") == "2024"
    assert token("sécurité") == "_" + "sécurité".encode().hex()
    assert token("aujourd'hui") != token("aujourdhui")
    long_word = "anticonstitutionnellement" * 3
    assert len(token(long_word)) <= 40 and token(long_word) != token(long_word[:-1])
    assert all(set(token(t)) <= set("abcdefghijklmnopqrstuvwxyz0123456789_") for t in ("δ", "é"))
    for n in [*range(300), 1000, 5000, 106374, 106375, 200000]:
        assert quantized(n) == byte_to_length(length_to_byte(n)), n
    assert row_parts(row_id(123456, 789, 3)) == (123456, 789, 3)


@pytest.mark.parametrize(
    "query",
    ["Maroc OU -Qatar", "NOT -Qatar", "sécurité qui OU SAUF Maroc", '-"coupe du monde" Maroc'],
)
def test_negations_match_what_the_embedded_index_matches(news_index_path, news_cluster_path, query):
    indexes = [Index.open(p) for p in (news_index_path, news_cluster_path)]
    embedded, cluster = (
        {(h.article_id, h.position) for h in index.search(query, group="passage", limit=100)}
        for index in indexes
    )
    for index in indexes:
        index.close()
    assert cluster == embedded and cluster


def veille(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "search", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=120,
    )


def ranked(index: Index, query: str, group: str) -> tuple:
    results = index.search(query, group=group, limit=50)
    hits = [(h.article_id, h.position, round(h.score, 3)) for h in results]
    return results.total, results.total_passages, hits


def total(path: Path, query: str) -> int:
    index = Index.open(path)
    try:
        return index.search(query).total
    finally:
        index.close()


def node_rows(path: Path) -> int:
    """The rows the live generation holds on every node, as searchd counts them."""
    import pymysql

    live = json.loads((path.parent / "cluster.live").read_text())["generation"]
    rows = 0
    for node in cluster_status(path):
        host, port = node["address"].rsplit(":", 1)
        db = pymysql.connect(host=host, port=int(port))
        with contextlib.closing(db), db.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM veille_{live}")
            rows += cursor.fetchone()[0]
    return rows


def kill(path: Path, shard: int, replica: int) -> int:
    (node,) = [n for n in cluster_status(path) if n["shard"] == shard and n["replica"] == replica]
    os.kill(node["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while any(n["pid"] == node["pid"] and n["state"] != "down" for n in cluster_status(path)):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return node["pid"]


def test_status_names_every_node_with_the_pid_that_serves_it(news_cluster_path):
    run = veille("cluster", "status", "--index", str(news_cluster_path), "--json")
    assert run.returncode == 0, run.stderr
    nodes = json.loads(run.stdout)["nodes"]
    assert [(n["shard"], n["replica"]) for n in nodes] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert all(n["state"] == "up" and isinstance(n["pid"], int) for n in nodes)
    index = Index.open(news_cluster_path)
    articles = index.info().articles
    index.close()
    assert nodes[0]["articles"] + nodes[2]["articles"] == articles  # each article on one shard
    assert nodes[0]["articles"] == nodes[1]["articles"] > 0  # and on both its replicas
    assert all(n["address"].startswith("127.0.0.1:") for n in nodes)


def test_one_shard_and_two_shards_rank_as_the_embedded_index(
    news_index_path, news_cluster_path, clusters, tmp_path, monkeypatch
):
    from search.backends.sphinx import store as sphinx_store

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "seed.txt").write_bytes(next((ROOT / "corpus").glob("*.txt")).read_bytes())
    (corpus / "news.jsonl").write_bytes((TEST_DATA / "news.jsonl").read_bytes())
    single = clusters("single", shards=1, replicas=1)
    # Its articles analyzed by two processes, an article at a time: batches in flight,
    # taken back in order.
    monkeypatch.setattr(sphinx_store, "_PREPARE_BATCH", 1)
    monkeypatch.setattr(sphinx_store, "_IN_FLIGHT", 1)
    build_index(corpus, single, procs=2)
    indexes = [Index.open(p) for p in (news_index_path, news_cluster_path, single)]
    for query in QUERIES:
        for group in ("article", "passage"):
            embedded, two, one = (ranked(index, query, group) for index in indexes)
            assert two == embedded, (query, group)
            assert one == embedded, (query, group)
    # the second stage sees the same evidence: every feature of every shortlisted passage
    seen = [index.shortlist(QUERIES[-1], unscored=True, collapse=False) for index in indexes]
    for other in seen[1:]:
        assert other.article_ids == seen[0].article_ids
        assert other.features == pytest.approx(seen[0].features, rel=1e-4, abs=1e-5)
    articles = indexes[2].info().articles
    maroc = indexes[0].search("Maroc").total
    for index in indexes:
        index.close()
    # Numbered in corpus order by the processes' build: an article added next takes a
    # number of its own, and every other stays.
    added = write_jsonl(
        tmp_path / "added.jsonl",
        [{"id": "ajout-1", "title": "Ouarzazate", "text": "Le festival de Ouarzazate."}],
    )
    update_index(single, add=added)
    index = Index.open(single)
    assert index.info().articles == articles + 1
    assert index.search("Ouarzazate").total == 1
    assert index.search("Maroc").total == maroc
    index.close()


def test_an_update_takes_away_all_that_a_removed_or_replaced_article_added(
    news_index_path, clusters, tmp_path
):
    news = [json.loads(line) for line in (TEST_DATA / "news.jsonl").read_text().splitlines()]
    # Words in several passages and in the title: each passage counted them once.
    told = "\n\n".join(
        f"Au Maroc, la sécurité des élections {n} est assurée par la police nationale."
        for n in range(4)
    )
    changed = [dict(news[0], title="Sécurité au Maroc", text=told), *news[1:]]
    extra = {"id": "en-plus", "title": "Le Maroc et la sécurité", "text": told}
    corpus = tmp_path / "corpus"
    (corpus / "seed.txt").parent.mkdir()
    (corpus / "seed.txt").write_bytes(next((ROOT / "corpus").glob("*.txt")).read_bytes())
    write_jsonl(corpus / "news.jsonl", [*changed, extra])
    cluster = clusters("single", shards=1, replicas=1)
    build_index(corpus, cluster)
    # Back to what the embedded index holds: the first article replaced, the extra removed.
    update_index(cluster, add=TEST_DATA / "news.jsonl", remove=["en-plus"])
    indexes = [Index.open(p) for p in (news_index_path, cluster)]
    try:
        for query in ("Maroc", "sécurité", "élections", "titre:élections", "Maroc sécurité"):
            embedded, updated = (ranked(index, query, "article") for index in indexes)
            assert updated == embedded, query
    finally:
        for index in indexes:
            index.close()
    # What SQL escapes comes back as written.
    awkward = "L'\"Ouzbek\" \\ 100 % ; c’est\rla\nligne \x1a l\\'oued -- fin\x00!"
    update_index(
        cluster,
        add=write_jsonl(
            tmp_path / "awkward.jsonl", [{"id": "x", "title": awkward, "text": awkward}]
        ),
    )
    index = Index.open(cluster)
    try:
        (hit,) = index.search("Ouzbek")
        # (the corpus reader joins a paragraph's lines with a space; a NUL is a space)
        awkward = awkward.replace("\0", " ")
        assert (hit.title, hit.passages[0].text) == (awkward, awkward.replace("\n", " "))
    finally:
        index.close()


def test_a_reader_shows_no_article_of_an_update_still_writing(clusters, tmp_path):
    from search.backends.base import IndexedArticle
    from search.backends.sphinx.nodes import connect
    from search.backends.sphinx.schema import insert_statements
    from search.backends.sphinx.terms import prepare
    from search.corpus import Article
    from search.passages import split_passages

    records = [
        {
            "id": f"a{n:02d}",
            "title": f"Port {n}",
            "text": f"Le port numéro {n}.",
            "date": f"2024-01-{n + 1:02d}",
        }
        for n in range(20)
    ]
    path = clusters("single", shards=1, replicas=1)
    build_index(write_jsonl(tmp_path / "ports.jsonl", records), path)
    index = Index.open(path)
    try:
        searches = [
            {"sort": "date", "collapse": False},
            {"sort": "date"},
            {"sort": "date", "group": "passage"},
            {},
            {"group": "passage"},
        ]
        before = [seen(index.search("port", limit=5, **kw)) for kw in searches]
        # An update writes the nodes first, then commits its catalog: rows of newer
        # articles, numbered past the catalog's, are on the node and not yet known.
        (node,) = index._backend.reader().cluster.nodes
        conn = connect(node)
        for k in range(6):
            article = Article(
                id=f"neuf-{k}",
                title="Port neuf",
                date=dt.date(2024, 3, 1),
                source=None,
                url=None,
                paragraphs=("Le port neuf ouvre ses quais.",),
            )
            item = IndexedArticle(article, split_passages(article), article.id, b"")
            with conn.cursor() as cur:
                for sql in insert_statements(
                    index._backend.reader().index, prepare(item, 100 + k, 0, "d").rows
                ):
                    cur.execute(sql)
        conn.close()
        assert [seen(index.search("port", limit=5, **kw)) for kw in searches] == before
    finally:
        index.close()


def test_queries_survive_a_replica_killed_under_load(clusters, tmp_path):
    path = clusters("faults")
    build_index(ROOT / "corpus", path)
    index = Index.open(path)
    expected = index.search("sécurité").total
    failures: list[BaseException] = []
    totals: list[int] = []
    stop = time.monotonic() + 3.0

    def load() -> None:
        while time.monotonic() < stop:
            try:
                totals.append(index.search("sécurité").total)
            except BaseException as e:  # counted, and the test fails on it
                failures.append(e)

    threads = [threading.Thread(target=load) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    kill(path, 0, 0)
    for t in threads:
        t.join()
    index.close()
    start_cluster(path)
    assert failures == []
    assert len(totals) > 10 and set(totals) == {expected}


def test_a_shard_with_no_replica_is_a_clear_error_everywhere(clusters, tmp_path):
    path = clusters("faults")
    build_index(ROOT / "corpus", path)
    from web import create_app

    app = create_app({"VEILLE_INDEX": str(path), "TESTING": True})
    answer = app.test_client().get("/api/search?q=sécurité")
    assert answer.status_code == 200 and answer.get_json()["total"] == 1
    assert app.test_client().get("/healthz").status_code == 200
    kill(path, 1, 0)
    kill(path, 1, 1)
    try:
        with pytest.raises(IndexUnavailableError, match=r"shard 1 .* is unavailable"):
            total(path, "sécurité")
        run = veille("query", "--index", str(path), "sécurité")
        assert run.returncode == 1
        assert run.stderr.startswith("veille: error: shard 1 of ")
        assert len(run.stderr.splitlines()) == 1 and "Traceback" not in run.stderr
        answer = app.test_client().get("/api/search?q=sécurité")
        assert answer.status_code == 503
        error = answer.get_json()["error"]
        assert "shard 1" in error
        assert str(path.parent) not in error and "127.0.0.1" not in error  # in the log only
        status = veille("cluster", "status", "--index", str(path))
        assert status.returncode == 1 and status.stdout.count("down") == 2
        health = app.test_client().get("/healthz")  # a load balancer can tell
        assert health.status_code == 503 and "shard 1" in health.get_json()["error"]
        info = veille("info", "--index", str(path))
        assert info.returncode == 1 and info.stderr.startswith("veille: error: shard 1 of ")
        assert info.stdout.count("<- down") == 2 and info.stdout.count("node:") == 4
    finally:
        start_cluster(path)
    assert total(path, "sécurité") > 0
    assert app.test_client().get("/healthz").status_code == 200


def test_an_add_with_a_replica_down_fails_naming_it_and_completes_when_run_again(
    clusters, tmp_path
):
    path = clusters("faults")
    build_index(ROOT / "corpus", path)
    added = write_jsonl(
        tmp_path / "new.jsonl",
        [
            {"id": f"nouveau-{n}", "title": f"Article {n}", "text": f"Oujda accueille {n}."}
            for n in range(6)
        ],
    )
    # ... and a copy of the seed article (shard 0), on the other shard: the seed's rows
    # are marked as a story with copies on every replica of shard 0, and a run again marks
    # what the one down missed though the copy itself is written.
    seed = next((ROOT / "corpus").glob("*.txt"))
    assert (shard_of(seed.stem, 2), shard_of("reprise-seed", 2)) == (0, 1)
    (added.parent / "reprise-seed.txt").write_bytes(seed.read_bytes())
    added = added.parent
    down = next(n for n in cluster_status(path) if n["shard"] == 0 and n["replica"] == 1)
    kill(path, 0, 1)
    run = veille("add", str(added), "--index", str(path))
    assert run.returncode == 1
    assert f"shard 0 replica 1 ({down['address']}) missed" in run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.splitlines()) == 1
    assert total(path, "Oujda") == 6  # the other replica has them
    start_cluster(path)
    stale = [n for n in cluster_status(path) if n["state"] == "stale"]
    assert [(n["shard"], n["replica"]) for n in stale] == [(0, 1)]
    with Index.open(path) as index:  # the stale replica is asked only if no other answers
        assert [index.search("Oujda").total for _ in range(4)] == [6] * 4
    again = veille("add", str(added), "--index", str(path))
    assert again.returncode == 0, again.stderr
    assert all(n["state"] == "up" for n in cluster_status(path))
    # Now each replica alone answers with all of them, and the seed and its copy as one.
    kill(path, 0, 0)
    try:
        assert total(path, "Oujda") == 6
        with Index.open(path) as index:
            results = index.search("Hammouchi")
        assert (results.total, results.collapsed) == (1, 1)
    finally:
        start_cluster(path)


def test_a_frozen_replica_is_left_behind_by_an_update(clusters, tmp_path):
    path = clusters("faults")
    build_index(ROOT / "corpus", path)
    frozen = next(n for n in cluster_status(path) if n["shard"] == 0 and n["replica"] == 1)
    records = [
        {"id": f"gel-{n}", "title": "Gel", "text": f"Oujda gèle, jour {n}."} for n in range(8)
    ]
    added = write_jsonl(tmp_path / "gel.jsonl", records)
    assert any(shard_of(r["id"], 2) == 0 for r in records)
    os.kill(frozen["pid"], signal.SIGSTOP)
    try:  # within veille()'s 120 s: not the five minutes a build's statement may take
        run = veille("add", str(added), "--index", str(path))
    finally:
        os.kill(frozen["pid"], signal.SIGCONT)
    assert run.returncode == 1 and f"shard 0 replica 1 ({frozen['address']})" in run.stderr
    assert veille("add", str(added), "--index", str(path)).returncode == 0
    assert total(path, "Oujda") == 8
    assert all(n["state"] == "up" for n in cluster_status(path))


def node_count(path: Path, node: dict, where: str = "") -> int:
    """The rows one node holds in the live generation (that meet a condition)."""
    import pymysql

    host, port = node["address"].rsplit(":", 1)
    live = json.loads((path.parent / "cluster.live").read_text())["generation"]
    db = pymysql.connect(host=host, port=int(port))
    with contextlib.closing(db), db.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM veille_{live} {where}")
        return cursor.fetchone()[0]


def killed_add(path: Path, tmp_path: Path) -> Path:
    """A `veille add` killed (kill -9) while it writes: 8 new articles (Oujda) and the seed
    article unchanged; it had sent one to replica 0 of shard 0 and waited on replica 1,
    frozen. Returns the corpus it was adding."""
    added = tmp_path / "added"
    added.mkdir()
    seed = next((ROOT / "corpus").glob("*.txt"))
    (added / seed.name).write_bytes(seed.read_bytes())
    write_jsonl(
        added / "gel.jsonl",
        [{"id": f"gel-{n}", "title": "Gel", "text": f"Oujda gèle, jour {n}."} for n in range(8)],
    )
    status = {(n["shard"], n["replica"]): n for n in cluster_status(path)}
    frozen, written = status[(0, 1)], status[(0, 0)]
    os.kill(frozen["pid"], signal.SIGSTOP)
    writer = subprocess.Popen(
        [sys.executable, "-m", "search", "add", str(added), "--index", str(path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:  # the writer sends a shard-0 article to replica 0, then waits on the frozen one
        deadline = time.monotonic() + 60
        while node_count(path, written, "WHERE MATCH('oujda')") == 0:
            assert time.monotonic() < deadline and writer.poll() is None
            time.sleep(0.05)
        writer.kill()
        writer.wait()
    finally:
        os.kill(frozen["pid"], signal.SIGCONT)
    return added


def test_an_update_killed_midway_is_taken_back_by_the_next(clusters, tmp_path):
    """kill -9 of `veille add` while it writes: readers answer at once, and the next
    update takes its rows off the nodes (they inflated totals, and readers failed)."""
    path = clusters("faults")
    build_index(ROOT / "corpus", path)
    rows_before = node_rows(path)
    added = killed_add(path, tmp_path)
    assert list(path.parent.glob("stats-*.sqlite-journal"))  # its transaction, half done
    run = veille("query", "Hammouchi", "--index", str(path))
    assert run.returncode == 0, run.stderr
    other = write_jsonl(tmp_path / "other.jsonl", [{"id": "x", "title": "X", "text": "Fès."}])
    assert veille("add", str(other), "--index", str(path)).returncode == 0
    assert total(path, "Oujda") == 0
    assert node_rows(path) == rows_before + 2  # Fès on both replicas of its shard
    # The seed article it was given unchanged is not marked as missed anywhere.
    assert all(n["state"] == "up" for n in cluster_status(path))
    assert veille("add", str(added), "--index", str(path)).returncode == 0
    assert total(path, "Oujda") == 8


def test_a_replica_down_when_a_killed_update_is_taken_back_is_cleaned_later(clusters, tmp_path):
    path = clusters("faults")
    build_index(ROOT / "corpus", path)
    rows_before = node_rows(path)
    killed_add(path, tmp_path)
    kill(path, 0, 0)  # the replica that holds the killed update's rows
    try:  # the other updates go on, the node down named as usual
        other = write_jsonl(tmp_path / "o.jsonl", [{"id": "x", "title": "X", "text": "Fès."}])
        run = veille("add", str(other), "--index", str(path))
        assert run.returncode == 1 and "Traceback" not in run.stderr
        assert run.stderr.startswith("veille: error: not every replica was written (shard 0 ")
        assert total(path, "Oujda") == 0
    finally:
        start_cluster(path)
    states = {(n["shard"], n["replica"]): n["state"] for n in cluster_status(path)}
    assert states[(0, 0)] == "stale"  # its leftovers, remembered
    with Index.open(path) as index:
        assert index.search("Oujda").total == 0  # read from the other replica
    assert veille("add", str(other), "--index", str(path)).returncode == 0
    assert all(n["state"] == "up" for n in cluster_status(path))
    assert node_rows(path) == rows_before + 2
    assert total(path, "Oujda") == 0


def test_an_update_killed_after_its_commit_loses_nothing(clusters, tmp_path):
    """Killed between its commit and removing its intent: the next update finds the
    intent committed and takes nothing back."""
    import sqlite3

    path = clusters("faults")
    build_index(ROOT / "corpus", path)
    live = json.loads((path.parent / "cluster.live").read_text())["generation"]

    def meta(name: str) -> str:
        with contextlib.closing(sqlite3.connect(path.parent / f"stats-{live}.sqlite")) as db:
            return db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()[0]

    next_art = int(meta("next_art"))
    records = [{"id": f"gel-{n}", "title": "Gel", "text": f"Oujda gèle, {n}."} for n in range(8)]
    added = write_jsonl(tmp_path / "g.jsonl", records)
    assert veille("add", str(added), "--index", str(path)).returncode == 0
    intent = {"name": meta("committed_update"), "next_art": next_art, "reserved": 8}
    # What the process leaves when killed just after its commit.
    (path.parent / f"update-{live}.json").write_text(json.dumps(intent | {"touched": []}))
    other = write_jsonl(tmp_path / "o.jsonl", [{"id": "x", "title": "X", "text": "Fès."}])
    assert veille("add", str(other), "--index", str(path)).returncode == 0
    assert total(path, "Oujda") == 8
    assert all(n["state"] == "up" for n in cluster_status(path))
    assert not (path.parent / f"update-{live}.json").exists()


def kill_mid_write(path: Path) -> None:
    """Leave a statistics file as a writer killed mid-transaction does: a hot journal."""
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"db = sqlite3.connect({str(path)!r})\n"
            "db.execute('BEGIN IMMEDIATE')\n"
            "db.executemany('INSERT OR REPLACE INTO terms VALUES (?, ?, ?)',"
            " (('x', f'mot{n}', n) for n in range(300000)))\n"
            "db.execute(\"UPDATE meta SET value = '9' WHERE name = 'revision'\")\n"
            "print('written', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    with writer.stdout:
        assert writer.stdout.readline() == "written\n"
    writer.kill()
    writer.wait()
    assert path.with_name(path.name + "-journal").stat().st_size > 0


TABLES = ("meta", "articles", "terms", "totals")


def test_a_build_over_a_killed_update_s_statistics_reads_its_own(clusters, tmp_path):
    """A build rewrites the statistics of the generation a killed update left half
    written: the old journal is not replayed into the new file."""
    path = clusters("faults")
    many = [{"id": f"m{n}", "title": "Meknès", "text": f"Meknès, {n}."} for n in range(40)]
    build_index(write_jsonl(tmp_path / "many.jsonl", many), path)
    build_index(ROOT / "corpus", path)  # the other generation: the seed article alone
    live = json.loads((path.parent / "cluster.live").read_text())["generation"]
    spare = "b" if live == "a" else "a"
    stats_file = path.parent / f"stats-{spare}.sqlite"
    kill_mid_write(stats_file)  # 40 articles' statistics
    assert veille("build", "--index", str(path)).returncode == 0  # writes the spare one

    def written() -> list:
        """The file's tables as written, whatever journal lies beside it."""
        uri = f"file:{stats_file}?mode=ro&immutable=1"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            return [db.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in TABLES]

    built = written()
    for args in (("info",), ("query", "Hammouchi")):
        run = veille(*args, "--index", str(path))
        assert run.returncode == 0 and "malformed" not in run.stderr, run.stderr
    assert written() == built  # as the build wrote it: nothing replayed into it
    with Index.open(path) as index:
        assert index.info().articles == 1
        assert index.search("Hammouchi").total == 1 and index.search("Meknès").total == 0


def test_statistics_left_mid_write_by_a_killed_writer_are_read_as_before(tmp_path):
    """A killed writer's rollback journal: a read-only reader rolls it back, not fails."""
    from search.backends.sphinx import stats

    path = tmp_path / "stats-a.sqlite"
    db = stats.create(path)
    db.commit()
    db.close()
    kill_mid_write(path)
    reader = stats.open_stats(path)
    try:
        assert stats.meta(reader)["revision"] == "0"
        assert reader.execute("SELECT COUNT(*) FROM terms").fetchone() == (0,)
    finally:
        reader.close()


def test_a_port_that_names_another_node_of_the_cluster_is_refused(clusters, tmp_path):
    """Shard ports swapped in a copy of cluster.toml: no query answers from the wrong
    shard, and no write goes to it (a node with no rows cannot be told apart)."""
    path = clusters("faults")
    towns = [
        {"id": f"v{n}", "title": "Ville", "text": f"Sécurité à Tétouan, {n}."} for n in range(6)
    ]
    assert {shard_of(t["id"], 2) for t in towns} == {0, 1}
    build_index(write_jsonl(tmp_path / "towns.jsonl", towns), path)
    before = total(path, "sécurité")
    nodes = {
        (n["shard"], n["replica"]): n["address"].rsplit(":", 1)[1] for n in cluster_status(path)
    }
    text = path.read_text()
    for replica in (0, 1):  # shard 0's ports become shard 1's, and the other way round
        a, b = nodes[(0, replica)], nodes[(1, replica)]
        text = text.replace(f"port = {a}\n", "port = A\n").replace(f"port = {b}\n", f"port = {a}\n")
        text = text.replace("port = A\n", f"port = {b}\n")
    swapped = path.with_name("swapped.toml")
    swapped.write_text(text)
    states = {(n["shard"], n["replica"]): n["state"] for n in cluster_status(swapped)}
    assert set(states.values()) == {"wrong shard"}, states
    run = veille("query", "sécurité", "--index", str(swapped))
    assert run.returncode == 1 and "holds the rows of shard" in run.stderr
    assert "does cluster.toml give another node's port?" in run.stderr
    added = write_jsonl(tmp_path / "x.jsonl", [{"id": "x", "title": "X", "text": "Fès."}])
    run = veille("add", str(added), "--index", str(swapped))
    assert run.returncode == 1 and run.stderr.rstrip().endswith("nothing was written")
    assert len(run.stderr.splitlines()) == 1
    assert total(path, "sécurité") == before and total(path, "Fès") == 0
    assert all(n["state"] == "up" for n in cluster_status(path))
    twice = path.with_name("twice.toml")
    twice.write_text(
        path.read_text().replace(f"port = {nodes[(1, 0)]}\n", f"port = {nodes[(0, 0)]}\n")
    )
    run = veille("add", str(added), "--index", str(twice))
    assert run.returncode == 1 and "two nodes of cluster.toml have one address" in run.stderr


def test_a_pid_file_naming_another_process_is_not_trusted(clusters):
    from search.backends.sphinx.config import read_cluster
    from search.cluster import stop_cluster

    path = clusters("pids", shards=1, replicas=1)
    build_index(ROOT / "corpus", path)
    kill(path, 0, 0)
    (node,) = read_cluster(path).nodes
    other = subprocess.Popen(["sleep", "60"])  # took the dead node's pid, as it were
    try:
        node.pid_file.write_text(f"{other.pid}\n")
        assert [n["state"] for n in cluster_status(path)] == ["down"]
        start_cluster(path)  # the node starts, though its pid file names a live process
        assert [n["state"] for n in cluster_status(path)] == ["up"]
        assert total(path, "Hammouchi") == 1
        assert stop_cluster(path) == 1
        assert other.poll() is None  # not stopped in the node's place
    finally:
        other.kill()
        other.wait()
        start_cluster(path)


def test_a_replica_that_missed_a_replacement_is_stale_until_it_has_it(clusters, tmp_path):
    path = clusters("faults")
    first = {"id": "gard", "title": "Gard", "text": "Le Gard en vigilance orange."}
    build_index(write_jsonl(tmp_path / "v1.jsonl", [first]), path)
    shard = shard_of("gard", 2)
    kill(path, shard, 1)
    replaced = write_jsonl(tmp_path / "v2" / "r.jsonl", [first | {"text": "Le Gard au rouge."}])
    assert veille("add", str(replaced), "--index", str(path)).returncode == 1
    start_cluster(path)  # the same number of articles everywhere, yet one replica is behind
    stale = [(n["shard"], n["replica"]) for n in cluster_status(path) if n["state"] == "stale"]
    assert stale == [(shard, 1)]
    check = veille("cluster", "status", "--index", str(path))
    assert check.returncode == 1 and "stale" in check.stdout
    assert veille("add", str(replaced), "--index", str(path)).returncode == 0
    assert all(n["state"] == "up" for n in cluster_status(path))
    kill(path, shard, 0)
    try:
        assert total(path, "rouge") == 1 and total(path, "orange") == 0
    finally:
        start_cluster(path)


def test_a_replica_that_missed_a_story_s_mark_is_stale_until_any_update_marks_it(
    clusters, tmp_path
):
    path = clusters("faults")
    build_index(ROOT / "corpus", path)
    seed = next((ROOT / "corpus").glob("*.txt"))
    assert (shard_of(seed.stem, 2), shard_of("reprise-seed", 2)) == (0, 1)
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "reprise-seed.txt").write_bytes(seed.read_bytes())
    kill(path, 0, 1)
    run = veille("add", str(copy), "--index", str(path))  # writes shard 1 only
    assert run.returncode == 1 and "shard 0 replica 1 (" in run.stderr
    start_cluster(path)
    states = {(n["shard"], n["replica"]): n["state"] for n in cluster_status(path)}
    assert states == {(0, 0): "up", (0, 1): "stale", (1, 0): "up", (1, 1): "up"}
    other = write_jsonl(tmp_path / "other.jsonl", [{"id": "fes", "title": "Fès", "text": "Fès."}])
    run = veille("add", str(other), "--index", str(path))
    assert run.returncode == 0, run.stderr
    assert all(n["state"] == "up" for n in cluster_status(path))
    kill(path, 0, 0)
    try:
        with Index.open(path) as index:
            results = index.search("Hammouchi")
        assert (results.total, results.collapsed) == (1, 1)
    finally:
        start_cluster(path)


def test_a_node_whose_binlog_index_names_a_lost_log_starts_again(clusters):
    # What searchd 2.2.11 can leave when killed just after it saved its RAM chunks.
    path = clusters("binlog", shards=1, replicas=1)
    build_index(ROOT / "corpus", path)
    kill(path, 0, 0)
    binlog = path.parent / "node-0-0" / "binlog"
    logs = sorted(binlog.glob("binlog.[0-9]*"))
    assert logs
    for log in logs:
        log.unlink()
    start_cluster(path)
    assert [n["state"] for n in cluster_status(path)] == ["up"]
    assert total(path, "Hammouchi") == 1
    assert (binlog / "binlog.meta.lost").exists()


def test_a_rebuild_switches_generations_and_an_update_is_seen(clusters, tmp_path):
    path = clusters("faults")
    build_index(ROOT / "corpus", path)
    index = Index.open(path)
    live = (path.parent / "cluster.live").read_text()
    assert index.search("Hammouchi").total == 1
    corpus = write_jsonl(tmp_path / "v2.jsonl", [{"id": "b", "title": "Fès", "text": "Fès."}])
    build_index(corpus, path)
    assert (path.parent / "cluster.live").read_text() != live
    time.sleep(0.6)
    assert index.search("Hammouchi").total == 0 and index.search("Fès").total == 1
    update_index(path, remove=["b"])
    time.sleep(0.6)
    assert index.search("Fès").total == 0 and index.info().articles == 0
    index.close()


def test_two_rebuilds_between_two_looks_are_seen(clusters, tmp_path):
    # a -> b -> a: the live letter is the one the reader opened; its statistics are new.
    path = clusters("faults")
    build_index(ROOT / "corpus", path)
    index = Index.open(path)
    assert index.search("Hammouchi").total == 1
    fes = write_jsonl(tmp_path / "fes.jsonl", [{"id": "b", "title": "Fès", "text": "Fès."}])
    build_index(fes, path)
    meknes = write_jsonl(tmp_path / "m.jsonl", [{"id": "c", "title": "Meknès", "text": "Meknès."}])
    build_index(meknes, path)
    time.sleep(0.6)
    assert index.search("Hammouchi").total == 0 and index.search("Meknès").total == 1
    assert index.article("c") is not None
    update_index(
        path, add=write_jsonl(tmp_path / "f.jsonl", [{"id": "f", "title": "Fès", "text": "Fès."}])
    )
    time.sleep(0.6)
    assert index.search("Fès").total == 1 and index.info().articles == 2
    index.close()


def test_an_update_interrupted_midway_leaves_no_ghost(clusters, tmp_path):
    path = clusters("faults")
    first = {"id": "a", "title": "Rabat", "text": "Le port de Rabat s'agrandit."}
    build_index(write_jsonl(tmp_path / "v1.jsonl", [first]), path)
    many = [
        {"id": f"n{i}", "title": f"Fantôme {i}", "text": f"La médina de Fès, fantôme {i}."}
        for i in range(3000)
    ]
    corpus = write_jsonl(tmp_path / "many" / "m.jsonl", many)
    adding = subprocess.Popen(
        [sys.executable, "-m", "search", "add", str(corpus), "--index", str(path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    before = node_rows(path)
    deadline = time.monotonic() + 60
    while node_rows(path) < before + 50:  # rows on the nodes, not yet in the catalog
        assert adding.poll() is None and time.monotonic() < deadline, "no row was sent"
        time.sleep(0.02)
    adding.send_signal(signal.SIGINT)
    _, err = adding.communicate(timeout=60)
    assert adding.returncode == 130, (adding.returncode, err)
    assert node_rows(path) == before  # the rows sent are taken back
    assert total(path, "fantôme") == 0
    with Index.open(path) as index:
        assert index.info().articles == 1
    assert [n["state"] for n in cluster_status(path)] == ["up"] * 4
    again = veille("add", str(corpus), "--index", str(path))  # the same command, once more
    assert again.returncode == 0, again.stderr
    assert total(path, "fantôme") == 3000 and total(path, "Rabat") == 1


@pytest.mark.parametrize(
    "shards, replicas, base_port, fits",
    [(1, 1, 65535, True), (2, 1, 65534, True), (2, 1, 65535, False), (1, 1, 65536, False)],
)
def test_init_gives_ports_up_to_65535(tmp_path, shards, replicas, base_port, fits):
    from search.backends.sphinx.config import ClusterConfigError, init_cluster

    if fits:
        cluster = init_cluster(tmp_path, shards, replicas, base_port=base_port)
        assert max(node.port for node in cluster.nodes) <= 65535
    else:
        with pytest.raises(ClusterConfigError, match="the ports must fit under 65536"):
            init_cluster(tmp_path, shards, replicas, base_port=base_port)
        assert not (tmp_path / "cluster.toml").exists()


@pytest.mark.parametrize("host", ['a"b', "", "-x", "a b", "x\ny", "h\u00f4te"])
def test_init_refuses_a_host_no_config_could_hold(tmp_path, host):
    sizes = ("--shards", "1", "--replicas", "1")
    run = veille("cluster", "init", "--dir", str(tmp_path), *sizes, f"--host={host}")
    assert run.returncode == 1 and run.stderr.startswith("veille: error: --host "), run.stderr
    assert len(run.stderr.splitlines()) == 1
    assert not (tmp_path / "cluster.toml").exists()  # nothing written: it can run again
    again = veille("cluster", "init", "--dir", str(tmp_path), *sizes, "--host=search-1.example.org")
    assert again.returncode == 0, again.stderr


def test_bad_situations_are_one_line_and_exit_1(clusters, tmp_path):
    stopped = tmp_path / "stopped"
    run = veille("cluster", "init", "--dir", str(stopped), "--shards", "1", "--replicas", "2")
    assert run.returncode == 0, run.stderr
    config = stopped / "cluster.toml"
    written = config.read_text()
    again = veille("cluster", "init", "--dir", str(stopped), "--shards", "1", "--replicas", "1")
    assert again.returncode == 1 and "cluster.toml exists: a cluster is there" in again.stderr
    assert config.read_text() == written  # not overwritten
    (stopped / "cluster.live").write_text('{"generation": "a"}')
    build = veille("build", "--index", str(config))
    assert build.returncode == 1 and "does not answer" in build.stderr
    assert len(build.stderr.splitlines()) == 1
    missing = veille("query", "Maroc", "--index", str(tmp_path / "nowhere" / "cluster.toml"))
    assert missing.returncode == 1 and "veille cluster init" in missing.stderr
    text = re.sub(r"schema_version = \d+", "schema_version = 99", config.read_text())
    config.write_text(text)
    for args in (("query", "Maroc"), ("info",), ("cluster", "start")):
        run = veille(*args, "--index", str(config))
        assert run.returncode == 1, args
        assert "schema 99" in run.stderr and len(run.stderr.splitlines()) == 1
    with pytest.raises(IndexVersionError):
        Index.open(config)


def _many_articles() -> list[dict]:
    """Articles that all match « port » (three months, three sources, two categories, some
    undated), a few about a storm in the port of Marseille, and copies of some (wire
    stories republished under other ids and sources)."""
    towns = ["Brest", "Sète", "Bastia", "Calais", "Dieppe", "Bayonne", "Toulon", "Nice"]
    records = []
    for n in range(60):
        town = towns[n % len(towns)]
        text = (
            f"Le port de {town} accueille {n} navires cette semaine. Les dockers de {town} "
            f"ont déchargé {n * 7} conteneurs.\n\nLa capitainerie publie son bilan numéro {n} "
            "pour toute la semaine."
        )
        if n % 9 == 0:
            text += "\n\nUne tempête a touché le port de Marseille, les quais sont fermés."
        if n in (3, 17, 42):
            title = f"Tempête sur le port de Marseille ({n})"
            text = (
                "La tempête a frappé le port de Marseille : les quais du port de Marseille "
                f"sont fermés après la tempête. Bilan {n}.\n\n" + text
            )
        else:
            title = f"Le port de {town} en activité ({n})"
        record = {
            "id": f"port-{n:02d}",
            "title": title,
            "text": text,
            "source": ["Le Marin", "Ouest Matin", "Azur Infos"][n % 3],
            "category": ["mer", "économie"][n % 2],
        }
        if n % 11:
            record["date"] = f"2024-0{1 + n % 3}-{1 + n % 2:02d}"
        records.append(record)
    # Copies: the same story, another id and source (an id that sorts before its
    # original's byte by byte, after it case aside).
    for n in (3, 5, 8, 17):
        records.append(records[n] | {"id": f"Reuters-{n:02d}", "source": "Fil Agence"})
    return records


def _embedded_and_cluster(corpus: Path, tmp_path: Path, cluster: Path) -> list[Index]:
    """The corpus built into an embedded index and into that cluster, both open."""
    build_index(corpus, tmp_path / "index")
    build_index(corpus, cluster)
    return [Index.open(path) for path in (tmp_path / "index", cluster)]


@contextlib.contextmanager
def _cuts_of_three(
    corpus: Path, tmp_path: Path, cluster: Path, monkeypatch
) -> Iterator[list[Index]]:
    """The corpus in an embedded index and in that cluster, both open, the cluster's first
    cuts kept to three articles (or passages) a shard."""
    from search.backends.sphinx import best as sphinx_best

    for name, value in (("ARTICLE_CUT", 3), ("FIRST_CUT", 3)):
        monkeypatch.setattr(sphinx_best, name, value)
        monkeypatch.setattr(sphinx_best, f"{name}_FACTOR", 0)
    indexes = _embedded_and_cluster(corpus, tmp_path, cluster)
    try:
        yield indexes
    finally:
        for index in indexes:
            index.close()


def seen(results) -> dict:
    """What a user sees of results: counts, facets, timeline, and hits with their copies."""
    return {
        "totals": (results.total, results.total_passages, results.collapsed),
        "hits": [(h.article_id, h.position, round(h.score, 3)) for h in results],
        "copies": [sorted(d.article_id for d in h.duplicates) for h in results],
        "facets": dict(results.facets),
        "timeline": results.timeline,
    }


def test_totals_past_max_matches_are_lower_bounds_and_say_so(clusters, tmp_path):
    # A source filter counts the matches it keeps: each shard's best max_matches passages.
    path = clusters("capped", shards=2, replicas=1)
    corpus = write_jsonl(tmp_path / "ports.jsonl", _many_articles())
    build_index(corpus, path)
    config = path.read_text(encoding="utf-8")
    path.write_text(config.replace("max_matches = 100000", "max_matches = 10"), encoding="utf-8")
    build_index(corpus, tmp_path / "index")
    embedded, index = Index.open(tmp_path / "index"), Index.open(path)
    every = embedded.search("port", sources=["Le Marin"])
    capped = index.search("port", sources=["Le Marin"])
    assert capped.total_is_estimate and not every.total_is_estimate
    assert capped.total < every.total
    assert any("les totaux sont des minimums" in note for note in capped.notes)
    exact = index.search("tempête", sources=["Le Marin"])  # fewer matches than the cap
    assert not exact.total_is_estimate
    assert exact.total == embedded.search("tempête", sources=["Le Marin"]).total
    app = create_app({"VEILLE_INDEX": str(path)})
    html = app.test_client().get("/?q=port&source=Le+Marin").get_data(as_text=True)
    total = BeautifulSoup(html, "html.parser").select_one(".summary .total").get_text(" ")
    assert total.startswith(f"au moins {capped.total} articles")
    embedded.close()
    index.close()


def test_copies_added_by_an_update_count_once_as_on_the_embedded_index(clusters, tmp_path):
    records = _many_articles()
    originals = write_jsonl(tmp_path / "ports.jsonl", records[:60])
    copies = write_jsonl(tmp_path / "copies.jsonl", records[60:])  # of earlier articles
    paths = [tmp_path / "index", clusters("later", shards=2, replicas=1)]
    for path in paths:
        build_index(originals, path)
        update_index(path, add=copies)
    searches = ({}, {"sort": "date"}, {"group": "passage"}, {"sources": ["Fil Agence"]})

    def alike(stories: int, copies: int) -> None:
        indexes = [Index.open(path) for path in paths]
        try:
            for params in searches:
                found = [seen(index.search("port", limit=5, **params)) for index in indexes]
                for shown in found:  # scores after a removal differ a little (README)
                    shown["hits"] = [hit[:2] for hit in shown["hits"]]
                assert found[1] == found[0], params
            assert seen(indexes[1].search("port"))["totals"][::2] == (stories, copies)
        finally:
            for index in indexes:
                index.close()

    alike(60, 4)
    # An original rewritten (another date: its rows written again) is still a story with
    # a copy; a copy removed leaves its original's rows marked, counted as a story alone.
    replaced = write_jsonl(tmp_path / "replaced.jsonl", [records[5] | {"date": "2024-03-09"}])
    for path in paths:
        update_index(path, add=replaced, remove=["Reuters-17"])
    alike(60, 3)


def test_a_query_past_the_first_cut_counts_all_it_matches_and_ranks_its_best_alike(
    clusters, tmp_path, monkeypatch
):
    from search.backends.sphinx import best as sphinx_best
    from search.backends.sphinx import compile as sphinx_compile

    corpus = write_jsonl(tmp_path / "ports.jsonl", _many_articles())
    indexes = _embedded_and_cluster(corpus, tmp_path, clusters("cut", shards=2, replicas=1))
    # A first cut of 3 articles by each of its orders (or 5 passages) a shard, for 64
    # matching articles.
    monkeypatch.setattr(sphinx_best, "FIRST_CUT", 5)
    monkeypatch.setattr(sphinx_best, "FIRST_CUT_FACTOR", 0)
    monkeypatch.setattr(sphinx_best, "ARTICLE_CUT", 3)
    monkeypatch.setattr(sphinx_best, "ARTICLE_CUT_FACTOR", 0)
    try:
        for query in ("tempête port Marseille", "port Marseille", "tempête"):
            for group, collapse in (("article", True), ("article", False), ("passage", True)):
                # The cut counts articles, not stories: collapsed, the first two stories'
                # copies (tied with them) take two more of its places, and nothing widens
                # a cut that copies fill (a limit, in the README).
                cut = 5 if collapse and group == "article" else 3
                monkeypatch.setattr(sphinx_best, "ARTICLE_CUT", cut)
                found = [
                    seen(index.search(query, group=group, limit=3, collapse=collapse))
                    for index in indexes
                ]
                assert found[1] == found[0], (query, group, collapse)
        monkeypatch.setattr(sphinx_best, "ARTICLE_CUT", 3)
        # A page's worth of passages a shard: the copies' passages tie, and the cut keeps
        # the first ids' as the ranking does.
        monkeypatch.setattr(sphinx_best, "FIRST_CUT", 3)
        query = "tempête port Marseille"
        found = [seen(index.search(query, group="passage", limit=3)) for index in indexes]
        assert found[1] == found[0]
        monkeypatch.setattr(sphinx_best, "FIRST_CUT", 5)

        # The newest first: each shard's newest articles or passages, then scored; when
        # copies leave too few clusters among the articles certainly newest, every match.
        # (Articles share their days: ties fall at the shards' cuts.)
        sure = []
        enough = sphinx_best._newest_enough
        monkeypatch.setattr(
            sphinx_best, "_newest_enough", lambda *a: sure.append(enough(*a)) or sure[-1]
        )

        def newest(index, group, collapse, page, query="port"):
            found = index.search(
                query, sort="date", group=group, limit=3, page=page, collapse=collapse
            )
            return seen(found)

        for group, collapse, pages in (
            ("article", False, range(1, 23)),
            ("passage", True, range(1, 13)),
            ("article", True, range(1, 9)),
        ):
            for page in pages:
                found = [newest(index, group, collapse, page) for index in indexes]
                assert found[1] == found[0], (group, collapse, page)
                assert found[0]["hits"], (group, collapse, page)
        found = [newest(index, "article", True, 1, "tempête port Marseille") for index in indexes]
        assert found[1] == found[0]
        # One shard gives every passage of a page: its cut ends inside an article (both
        # of each article's passages say « semaine »).
        single = clusters("single", shards=1, replicas=1)
        build_index(corpus, single)
        one = Index.open(single)
        try:
            for page in range(1, 13):
                found = [newest(i, "passage", True, page, "semaine") for i in (indexes[0], one)]
                assert found[1] == found[0], page
        finally:
            one.close()
        assert True in sure and False in sure  # collapsed pages took both ways
        # A cut past the cluster's max_matches (a deep page): every match, scored.
        from search.backends.sphinx import reader as sphinx_reader

        answered = []
        two_rounds = sphinx_reader.match_best
        monkeypatch.setattr(
            sphinx_reader, "match_best", lambda *a: answered.append(two_rounds(*a)) or answered[-1]
        )
        monkeypatch.setattr(sphinx_best, "ARTICLE_CUT", 100_001)
        for sort in ("relevance", "date"):
            found = [seen(index.search("port", sort=sort, limit=3)) for index in indexes]
            assert found[1] == found[0], sort
        assert answered == [None, None]
        monkeypatch.setattr(sphinx_best, "ARTICLE_CUT", 3)
        # A long text's first cut ranks only the passages that hold a share of its words,
        # its counts count every match; when too few hold the share to fill the cut, the
        # cut ranks them all.
        long_text = (
            "La tempête a frappé le port de Marseille : quais fermés, les dockers et la "
            "capitainerie publient le bilan des conteneurs déchargés par les navires"
        )
        for share in (0.3, 1.0):
            monkeypatch.setattr(sphinx_compile, "CUT_QUORUM", share)
            found = [seen(index.search(long_text, limit=3, collapse=False)) for index in indexes]
            assert found[1] == found[0], share
            assert found[0]["totals"][0] == 64  # every article (60 and 4 copies)
        # More (source, category, month) combinations than one statement counts, and more
        # values than each attribute's count asks for: the same counts.
        monkeypatch.setattr(sphinx_best, "_COMBINED", 2)
        monkeypatch.setattr(sphinx_best, "_GROUPS", 1)
        for query in ("port", "tempête port Marseille"):
            counted = []
            for index in indexes:
                shown = seen(index.search(query, limit=3))
                counted.append({k: shown[k] for k in ("totals", "facets", "timeline")})
            assert counted[1] == counted[0], query
            assert len(counted[0]["timeline"]) > 1, query
        # The cut did cut: the cluster scored fewer passages than the query matched.
        from search.backends.base import Best
        from search.backends.base import Filters as BackendFilters
        from search.querying import parse_query

        parsed = parse_query("port")
        reader = indexes[1]._backend.reader()
        best = Best(count=3, by_article=True, copies=True)
        candidates = reader.match(parsed, parsed.plan, BackendFilters(), 1.0, 60.0, best)
        assert candidates.counts is not None and candidates.counts.articles == 64
        assert len(set(candidates.articles.tolist())) <= 2 * 2 * 3 + 4 < 64
        assert candidates.counts.clusters < candidates.counts.articles
        best = Best(count=3, by_article=False, copies=False)
        candidates = reader.match(parsed, parsed.plan, BackendFilters(), 0.4, 60.0, best)
        assert len(candidates.docs) <= 2 * 5 < candidates.counts.passages
    finally:
        for index in indexes:
            index.close()


def test_the_first_cut_keeps_the_passage_that_repeats_a_frequent_word(
    clusters, tmp_path, monkeypatch
):

    records = [
        {
            "id": f"a-{n}",
            "title": f"Sur la côte {n}",
            "text": f"Les promeneurs regardent la marée depuis la digue numéro {n}.",
        }
        for n in range(6)
    ]
    # Last in id order: a cut that kept the word's passages in that order would miss it.
    records.append(
        {"id": "z-dense", "title": "Grand coefficient", "text": "La marée, la marée, la marée."}
    )
    # Articles without the word, so that its idf (Sphinx's, in the cut) is not nil.
    records += [
        {"id": f"b-{n}", "title": f"Vignes {n}", "text": f"Les vendanges du domaine {n}."}
        for n in range(30)
    ]
    corpus = write_jsonl(tmp_path / "tides.jsonl", records)
    cluster = clusters("cut-tf", shards=1, replicas=1)
    with _cuts_of_three(corpus, tmp_path, cluster, monkeypatch) as indexes:
        for group in ("article", "passage"):
            found = [
                [hit.article_id for hit in index.search("marée", limit=3, group=group).hits]
                for index in indexes
            ]
            assert found[0][0] == "z-dense", group
            assert found[1] == found[0], group


def test_a_query_of_exclusions_alone_cuts_and_ranks_as_the_embedded_index(
    clusters, tmp_path, monkeypatch
):

    filler = "Les visiteurs montent les marches et admirent la côte sous le vent du large."
    records = [{"id": f"a-{n}", "title": f"Balade {n}", "text": filler} for n in range(5)]
    # Last in id order, and the most passages: every passage scoring 1, it ranks first.
    records.append({"id": "z-long", "title": "Long", "text": "\n\n".join([filler] * 4)})
    records.append({"id": "b-vignes", "title": "Vignes", "text": "Les vendanges du domaine."})
    corpus = write_jsonl(tmp_path / "walks.jsonl", records)
    cluster = clusters("cut-not", shards=1, replicas=1)
    with _cuts_of_three(corpus, tmp_path, cluster, monkeypatch) as indexes:
        for group in ("article", "passage"):
            found = [
                [
                    (h.article_id, h.position)
                    for h in index.search("-vendanges", group=group, limit=3, collapse=False)
                ]
                for index in indexes
            ]
            assert found[0][0][0] == ("z-long" if group == "article" else "a-0"), group
            assert found[1] == found[0], group


def test_the_first_cut_keeps_the_article_strong_in_one_passage_and_in_many(
    clusters, tmp_path, monkeypatch
):

    filler = "Les visiteurs montent les marches et admirent la côte sous le vent du large."
    records = [
        # Strong in one passage: « phare » in its title and three times in its text.
        {"id": "one", "title": "Le phare", "text": "Le phare, le phare et encore le phare."},
        # Strong in many: a passage of « écluse » twice after another, fifteen times.
        {
            "id": "many",
            "title": "Canal du Midi",
            "text": "\n\n".join(f"L'écluse {n}, une écluse ancienne. {filler}" for n in range(15)),
        },
    ]
    for n in range(4):
        # Four articles with more passages naming « phare » than « one » (more weight in
        # all), each weaker than it; and one passage stronger than any of « many »'s.
        text = "\n\n".join(f"Un phare au loin, numéro {n}-{p}. {filler} {filler}" for p in range(4))
        records.append({"id": f"phares-{n}", "title": f"Balade {n}", "text": text})
        records.append(
            {"id": f"ecluse-{n}", "title": "L'écluse", "text": "L'écluse, l'écluse, l'écluse."}
        )
    corpus = write_jsonl(tmp_path / "cut.jsonl", records)
    cluster = clusters("cut-orders", shards=1, replicas=1)
    # Three articles by each order: the sum of their passages' weights, their best one's.
    with _cuts_of_three(corpus, tmp_path, cluster, monkeypatch) as indexes:
        for query, first in (("phare", "one"), ("écluse", "many")):
            found = [
                [hit.article_id for hit in index.search(query, limit=3, collapse=False).hits]
                for index in indexes
            ]
            assert found[0][0] == first, query
            assert found[1] == found[0], query


def test_a_relative_path_starts_the_nodes_and_a_wrong_port_is_said(clusters):
    path = clusters("faults")
    build_index(ROOT / "corpus", path)
    kill(path, 1, 1)
    relative = os.path.relpath(path, ROOT)  # the commands run in ROOT
    assert not Path(relative).is_absolute()
    run = veille("cluster", "start", "--index", relative)
    assert run.returncode == 0, run.stderr
    assert all(n["state"] == "up" for n in cluster_status(path))
    config = path.read_text("utf-8")
    address = next(n["address"] for n in cluster_status(path) if n["shard"] == 1)
    port = int(address.rsplit(":", 1)[1])
    try:
        path.write_text(config.replace(f"port = {port}", f"port = {port + 97}"), "utf-8")
        run = veille("cluster", "start", "--index", str(path))
        assert run.returncode == 1
        assert "does not answer at" in run.stderr and "Traceback" not in run.stderr
    finally:
        path.write_text(config, "utf-8")


def test_a_copied_config_never_writes_over_the_nodes_of_another_cluster(clusters, tmp_path):
    path = clusters("faults")
    build_index(ROOT / "corpus", path)
    before = total(path, "sécurité")
    moved = tmp_path / "ailleurs" / "cluster.toml"
    moved.parent.mkdir()
    moved.write_bytes(path.read_bytes())  # its nodes' folders (and pid files) are not there
    corpus = write_jsonl(tmp_path / "c.jsonl", [{"id": "x", "title": "X", "text": "Oujda."}])
    for command in (["build", "--corpus", str(corpus)], ["add", str(corpus)]):
        run = veille(*command, "--index", str(moved))
        assert run.returncode == 1, run.stdout
        assert "a searchd this cluster did not start answers at" in run.stderr
        assert len(run.stderr.splitlines()) == 1 and "Traceback" not in run.stderr
    assert total(path, "sécurité") == before and total(path, "Oujda") == 0
    assert all(n["state"] == "up" for n in cluster_status(path))


def test_a_node_that_accepts_but_never_answers_is_taken_for_hung(tmp_path):
    import socket

    from search.backends.sphinx.config import Node
    from search.backends.sphinx.nodes import NodeError, connect

    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        node = Node(0, 0, "127.0.0.1", silent.getsockname()[1], tmp_path)
        with pytest.raises(NodeError) as hung:
            connect(node, timeout=0.5)
        port = silent.getsockname()[1]
    assert hung.value.hung  # left alone longer by the pool than a node that is down
    with pytest.raises(NodeError) as down:
        connect(Node(0, 0, "127.0.0.1", port, tmp_path), timeout=0.5)  # refused: not hung
    assert not down.value.hung
