"""Readers of the embedded index: what they hold in memory, threads sharing one, and
writers changing the index under one."""

import re
import sys
import time
import tracemalloc
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_index_lifecycle import write_corpus

from search import Index, RankingConfig, build_index, optimize_index, update_index
from search.backends import store_for

TEST_DATA = Path(__file__).parent / "data"

QUERIES = [
    "Maroc",
    "sécurité régionale",
    "port de Tanger",
    "gouvernement OR ministre",
    "économie -Maroc",
    '"état d’urgence"',
    "santé publique",
    "élections législatives",
    "Rabat",
    "climat",
    "Quel est le rôle du gouvernement dans la santé ?",
    "titre:Maroc",
]


LIMITS = {"limit": 20, "budget": 60}  # a slow search under threads is not cut short


def ranked(results) -> list:
    assert not results.timed_out
    return [
        (hit.article_id, round(hit.score, 5), [p.position for p in hit.passages])
        for hit in results.hits
    ]


def varied_corpus(folder: Path, articles: int) -> Path:
    """Articles of many different words: an index of a few megabytes."""
    words = [
        f"{a}{b}{c}" for a in "bcdfglmnprstv" for b in ("al", "eu", "io", "ou") for c in "lmnrst"
    ]
    return write_corpus(
        folder,
        [
            (
                f"v{n}",
                f"Titre {words[n % len(words)]}",
                " ".join(words[(n * 7 + i * i) % len(words)] + str(i % 50) for i in range(150)),
            )
            for n in range(articles)
        ],
    )


def test_a_reader_holds_no_copy_of_the_index(tmp_path):
    index = tmp_path / "index"
    build_index(varied_corpus(tmp_path / "corpus", 1500), index)
    Index.open(index).search("Titre")  # imports and caches of a first search
    segments = sum(p.stat().st_size for p in index.rglob("*.seg"))
    assert segments > 1_000_000
    tracemalloc.start()
    try:
        reader = Index.open(index)
        assert reader.search("Titre", collapse=False).total == 1500
        held, _ = tracemalloc.get_traced_memory()
        reader.close()
    finally:
        tracemalloc.stop()
    # whoosh alone copies every segment it opens into memory.
    assert held < segments / 5, (held, segments)


def _mapped(folder: Path) -> set[str]:
    """The files of this folder the process has mapped into memory."""
    lines = Path("/proc/self/maps").read_text().splitlines()
    return {line.split()[-1] for line in lines if str(folder) in line}


def test_leaving_a_with_block_releases_the_index_files(tmp_path):
    index = tmp_path / "index"
    build_index(varied_corpus(tmp_path / "corpus", 50), index)
    with Index.open(index) as opened:
        assert opened.search("Titre", collapse=False).total == 50
        assert _mapped(index)  # the reader maps its segments
    assert not _mapped(index)


@pytest.fixture
def fast_thread_switches():
    """Threads switch every microsecond: a race between two reads shows up at once."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def test_threads_sharing_one_index_find_what_one_thread_finds(
    news_index_path, fast_thread_switches
):
    # Queries, and every longer word of the corpus: each reads postings no other has read.
    text = (TEST_DATA / "news.jsonl").read_text(encoding="utf-8").lower()
    words = [w for w, _ in Counter(re.findall(r"[a-zàâçéèêëîïôûùüÿœ]{5,}", text)).most_common()]
    queries = QUERIES + words
    alone = Index.open(news_index_path)
    expected = [ranked(alone.search(q, **LIMITS)) for q in queries]
    assert len(words) > 50 and sum(map(bool, expected)) > 50
    for _ in range(3):
        shared = Index.open(news_index_path)  # cold: the threads race to read it first
        with ThreadPoolExecutor(8) as pool:
            found = list(pool.map(lambda q, ix=shared: ranked(ix.search(q, **LIMITS)), queries))
        assert found == expected
        shared.close()


def test_a_reader_keeps_answering_while_a_writer_replaces_its_segments(tmp_path):
    index = tmp_path / "index"
    build_index(write_corpus(tmp_path / "v1", [("a", "Rabat", "Le port de Tanger.")]), index)
    for n in range(3):
        update = [(f"s{n}", f"Oujda {n}", f"La médina numéro {n} de Fès, tannerie {n}.")]
        update_index(index, add=write_corpus(tmp_path / f"s{n}", update))
    backend = store_for(index).open(index, RankingConfig())
    old = backend.reader()
    segments = sorted(p.name for p in index.rglob("*.seg"))
    assert len(segments) == 4
    assert optimize_index(index) == 4
    assert not any((p.name in segments) for p in index.rglob("*.seg"))  # files deleted
    # Nothing of these was read before the optimize: the old reader reads it now.
    assert old.stem_count("tanner") == 3
    count, passages = old.article("s2")
    assert count == 1 and "tannerie 2" in passages[0].text
    assert "Tanger" in old.passages([0])[0].text
    time.sleep(0.6)  # the handle then follows the merged index
    assert backend.reader() is not old
    assert backend.reader().stem_count("tanner") == 3
    backend.close()


def test_a_write_of_this_process_is_seen_by_its_next_search(tmp_path):
    import datetime as dt

    from search import Article, add_articles

    corpus = write_corpus(tmp_path / "corpus", [("a", "Fès", "Le Maroc et Fès.")])
    build_index(corpus, tmp_path / "index")
    index = Index.open(tmp_path / "index")
    assert index.search("wazabi").total == 0  # the reader is open, and looked just now
    new = Article("new-1", "Titre", dt.date(2024, 5, 1), "AFP", None, ("Texte wazabi.",))
    add_articles(tmp_path / "index", [new])
    assert index.search("wazabi").total == 1
    assert index.info().articles == 2
    update_index(tmp_path / "index", remove=["new-1"])
    assert index.search("wazabi").total == 0
    assert index.article("new-1") is None
