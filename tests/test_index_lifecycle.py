"""Index generations: atomic rebuilds, failed builds, versions, the writers' lock, crashes."""

import contextlib
import gc
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import BACKENDS, index_path

from search import (
    CorpusError,
    Index,
    IndexClosedError,
    IndexDamagedError,
    IndexLockedError,
    IndexNotFoundError,
    IndexVersionError,
    RankingConfig,
    build_index,
    optimize_index,
    update_index,
)
from search.backends import store_for
from search.backends.sphinx import store as sphinx_store
from search.backends.whoosh.store import current_generation as current
from search.backends.whoosh.store import writer_lock
from web import create_app

ROOT = Path(__file__).resolve().parent.parent


def write_corpus(folder: Path, articles: list[tuple[str, str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"id": aid, "title": title, "date": "2024-01-15", "text": text})
        for aid, title, text in articles
    ]
    (folder / "articles.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def big_corpus(folder: Path, articles: int = 8000) -> Path:
    """A corpus that takes a build a few seconds: time to kill it."""
    text = "Le Maroc et la sécurité régionale. " * 40
    return write_corpus(folder, [(f"n{i}", f"Titre {i}", text) for i in range(articles)])


def cli_build(corpus: Path, index: Path, prelude: str = "") -> list[str]:
    """The command running `veille build --procs 2` in a fresh interpreter, after ``prelude``."""
    code = (
        f"import sys\n{prelude}from search.cli import main\n"
        f"sys.exit(main(['build', '--corpus', {str(corpus)!r}, '--index', {str(index)!r},"
        " '--procs', '2']))\n"
    )
    return [sys.executable, "-c", code]


def generations(index: Path) -> list[str]:
    if index.suffix == ".toml":  # a cluster: the live generation and the statistics files
        live = (index.parent / "cluster.live").read_text()
        return [live, *sorted(p.name for p in index.parent.glob("stats-*"))]
    return sorted(p.name for p in index.iterdir() if p.name.startswith(("gen-", ".building")))


def held_lock(index: Path):
    """The writers' lock of an index, held by the test."""
    if index.suffix == ".toml":
        return sphinx_store.writer_lock(index.parent)
    return writer_lock(index)


@pytest.fixture
def first(tmp_path) -> Path:
    corpus = write_corpus(tmp_path / "v1", [("a", "Rabat", "Le port de Tanger s’agrandit.")])
    index = tmp_path / "index"
    build_index(corpus, index)
    return index


@pytest.fixture(params=BACKENDS)
def any_first(request, tmp_path) -> Path:
    """``first`` on the embedded index, and on a 2 x 2 cluster."""
    corpus = write_corpus(tmp_path / "v1", [("a", "Rabat", "Le port de Tanger s’agrandit.")])
    index = index_path(request.param, tmp_path, request)
    build_index(corpus, index)
    return index


def test_a_closed_index_says_so(any_first):
    index = Index.open(any_first)
    assert index.search("Tanger").total == 1
    index.close()
    for call in (lambda: index.search("Tanger"), lambda: index.article("a"), index.info):
        with pytest.raises(IndexClosedError, match="the index is closed: open it again"):
            call()
    with Index.open(any_first) as again:  # another handle opens it as before
        assert again.search("Tanger").total == 1


def test_rebuild_switches_generation_and_removes_the_old_one(first, tmp_path):
    (first / "README.md").write_text("keep me")
    old = generations(first)
    index = Index.open(first)
    assert index.search("Tanger").total == 1
    # Its articles all rebuilt (one of them rewritten): the old generation holds no other.
    v2 = [("a", "Rabat", "Le port de Casablanca."), ("b", "Casablanca", "La ville de Fès fête.")]
    build_index(write_corpus(tmp_path / "v2", v2), first)
    new = generations(first)
    assert len(new) == 1 and new != old
    assert (first / "CURRENT").read_text().strip() == new[0]
    assert (first / "README.md").read_text() == "keep me"
    time.sleep(0.6)  # the handle checks for a new generation twice a second
    assert index.search("Fès").total == 1
    assert index.search("Tanger").total == 0


def test_an_explained_search_lets_the_replaced_generation_go(first, tmp_path):
    index = Index.open(first)
    hit = index.search("Tanger").hits[0]
    index.explain("Tanger", hit)  # reads the query once, for the page's hits
    index.article(hit.article_id, "Tanger")
    old = first / generations(first)[0]
    build_index(write_corpus(tmp_path / "v2", [("b", "Casablanca", "La ville de Fès.")]), first)
    time.sleep(0.6)  # the handle checks for a new generation twice a second
    assert index.search("Fès").total == 1
    gc.collect()
    held = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor is closed by now
            held.append(os.readlink(f"/proc/self/fd/{fd}"))
    assert held and not [path for path in held if path.startswith(str(old))]


def test_a_reader_of_the_old_generation_keeps_answering(first, tmp_path):
    backend = store_for(first).open(first, RankingConfig())
    old = backend.reader()
    _, (tanger,) = old.article("a")
    build_index(write_corpus(tmp_path / "v2", [("b", "T", "La ville de Fès.")]), first)
    assert backend.reader() is not old  # a build of this process is followed at once
    assert old.article("a") == (1, [tanger])
    assert "Tanger" in old.passages([0])[0].text
    time.sleep(0.6)
    assert backend.reader().article("a") == (0, [])
    backend.close()


def test_failed_build_leaves_the_live_index_untouched(any_first, tmp_path):
    first = any_first
    before = generations(first)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.txt").write_bytes(b"5 mai 2024\n\nTitre\n\nUn texte \xff cass\xe9.\n")
    with pytest.raises(CorpusError, match=r"x\.txt, line 5: not valid UTF-8"):
        build_index(bad, first)
    assert generations(first) == before
    assert Index.open(first).search("Tanger").total == 1


def test_empty_corpus_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no articles"):
        build_index(tmp_path / "empty", tmp_path / "index")
    with pytest.raises(IndexNotFoundError):
        Index.open(tmp_path / "index")


def test_missing_and_half_written_index_folders(tmp_path):
    with pytest.raises(IndexNotFoundError, match="veille build"):
        Index.open(tmp_path / "nothing")
    half = tmp_path / "half"
    half.mkdir()
    (half / "CURRENT").write_text("gen-missing\n")
    # an index was there: damaged, never "missing" (which veille serve would build)
    with pytest.raises(IndexDamagedError, match=r"not there.*veille build"):
        Index.open(half)
    (half / "gen-missing").mkdir()
    with pytest.raises(IndexDamagedError, match=r"veille\.json is missing.*veille build"):
        Index.open(half)


def test_index_from_another_version_asks_for_a_rebuild(first):
    generation = first / (first / "CURRENT").read_text().strip()
    meta = json.loads((generation / "veille.json").read_text())
    meta["analyzer_version"] = 0
    (generation / "veille.json").write_text(json.dumps(meta))
    with pytest.raises(IndexVersionError, match="run `veille build` to rebuild"):
        Index.open(first)


def test_second_writer_is_refused_clearly(any_first, tmp_path):
    first = any_first
    corpus = write_corpus(tmp_path / "v2", [("b", "T", "Fès.")])
    with held_lock(first), pytest.raises(IndexLockedError, match="another veille command"):
        build_index(corpus, first)
    build_index(corpus, first)  # the lock is free again


def test_kill_during_build_keeps_the_previous_index(first, tmp_path):
    big = big_corpus(tmp_path / "big")
    code = f"import sys; from search import build_index; build_index({str(big)!r}, {str(first)!r})"
    writer = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".building") for p in first.iterdir()):
        assert time.monotonic() < deadline and writer.poll() is None
        time.sleep(0.05)
    time.sleep(0.5)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    index = Index.open(first)
    assert index.search("Tanger").total == 1
    assert index.search("Maroc").total == 0
    # nothing blocks the next writer, and it clears what the dead one left
    build_index(write_corpus(tmp_path / "v3", [("c", "T", "Oujda.")]), first)
    assert [p for p in generations(first) if p.startswith(".building")] == []


def test_add_replace_skip_and_remove(any_first, tmp_path):
    first = any_first
    index = Index.open(first)
    update = write_corpus(
        tmp_path / "u",
        [("a", "Rabat", "Le port de Tanger s’agrandit."), ("b", "Fès", "La médina de Fès.")],
    )
    summary = update_index(first, add=update)
    assert (summary.added, summary.replaced, summary.unchanged) == (1, 0, 1)
    time.sleep(0.6)
    assert index.search("médina").total == 1
    changed = write_corpus(tmp_path / "c", [("b", "Fès", "La médina de Fès est classée.")])
    assert update_index(first, add=changed).replaced == 1
    time.sleep(0.6)
    assert index.search("classée").total == 1
    assert index.search("médina", group="passage").total_passages == 1  # the old one is gone
    summary = update_index(first, remove=["b", "zzz"])
    assert (summary.removed, summary.missing) == (1, ("zzz",))
    time.sleep(0.6)
    assert index.search("médina").total == 0
    assert index.info().articles == 1


def test_optimize_merges_segments(first, tmp_path):
    for n in range(3):
        update_index(first, add=write_corpus(tmp_path / f"s{n}", [(f"s{n}", "T", f"Oujda {n}.")]))
    assert optimize_index(first) == 4
    info = Index.open(first).info()
    assert info.segments == 1 and info.articles == 4


def test_kill_during_add_keeps_the_index(first, tmp_path):
    big = big_corpus(tmp_path / "big", articles=3000)
    code = f"from search import update_index; update_index({str(first)!r}, add={str(big)!r})"
    writer = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    time.sleep(2.0)
    assert writer.poll() is None, "the update finished before it could be killed"
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    index = Index.open(first)
    assert index.search("Tanger").total == 1
    assert index.search("Maroc").total == 0
    assert update_index(first, add=write_corpus(tmp_path / "v", [("v", "T", "Oujda.")])).added == 1


def children(pid: int) -> list[int]:
    """The processes whose parent is pid."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        if proc.name.isdigit() and int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
            found.append(int(proc.name))
    return found


def build_workers(pid: int) -> list[int]:
    """The build's worker processes: its children, but for multiprocessing's resource
    tracker (a cluster build's workers are spawned)."""
    workers = []
    for child in children(pid):
        try:
            if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes():
                workers.append(child)
        except OSError:
            continue
    return workers


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


def test_kill_during_a_two_process_build_leaves_no_worker_and_no_lock(any_first, tmp_path):
    big = big_corpus(tmp_path / "big")
    code = f"from search import build_index\nbuild_index({str(big)!r}, {str(any_first)!r}, procs=2)"
    writer = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    deadline = time.monotonic() + 60
    while len(build_workers(writer.pid)) < 2:  # the build's workers have started
        assert time.monotonic() < deadline and writer.poll() is None
        time.sleep(0.1)
    left = children(writer.pid)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    deadline = time.monotonic() + 10
    while any(map(alive, left)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [pid for pid in left if alive(pid)] == []
    assert Index.open(any_first).search("Tanger").total == 1
    build_index(write_corpus(tmp_path / "v", [("v", "T", "Oujda.")]), any_first)  # not locked


def test_two_process_build_keeps_every_passage(tmp_path):
    corpus = write_corpus(
        tmp_path / "c",
        [(f"a{i}", f"Titre {i}", f"Le port numéro {i} de Tanger.") for i in range(450)],
    )
    summary = build_index(corpus, tmp_path / "index", procs=2)
    info = Index.open(tmp_path / "index").info()
    assert (info.articles, info.passages) == (450, summary.passages) == (450, 450)
    assert info.segments >= 2  # the workers each wrote a segment


def test_a_build_worker_that_fails_leaves_the_live_index_and_says_why(first, tmp_path):
    """A disk that fills up under a two-process build: a clear error, the old index kept."""
    corpus = big_corpus(tmp_path / "c", articles=600)
    limit_file_size = (
        "import resource, signal\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing past the limit: an OSError\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))\n"
    )
    before = generations(first)
    done = subprocess.run(
        cli_build(corpus, first, limit_file_size),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "veille: error: a build worker failed: OSError" in done.stderr
    assert "File too large" in done.stderr
    assert "Traceback" not in done.stderr
    assert generations(first) == before
    assert Index.open(first).search("Tanger").total == 1


def test_a_build_worker_killed_fails_the_build_and_keeps_the_live_index(any_first, tmp_path):
    big = big_corpus(tmp_path / "big")
    before = generations(any_first)
    build = subprocess.Popen(cli_build(big, any_first), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(build_workers(build.pid)) < 2:
        assert time.monotonic() < deadline and build.poll() is None
        time.sleep(0.05)
    os.kill(build_workers(build.pid)[0], signal.SIGKILL)
    _, err = build.communicate(timeout=60)
    assert build.returncode == 1
    assert "veille: error: a build worker died" in err
    assert "Traceback" not in err
    assert Index.open(any_first).search("Tanger").total == 1
    assert generations(any_first) == before


def test_the_time_an_article_was_first_indexed_survives_rebuilds(tmp_path):
    from search import first_indexed

    index = tmp_path / "index"
    build_index(write_corpus(tmp_path / "v1", [("a", "T", "Tanger.")]), index)
    first = first_indexed(index, ["a"])["a"]
    update_index(index, add=write_corpus(tmp_path / "v2", [("b", "T", "Fès.")]))
    build_index(write_corpus(tmp_path / "v3", [("a", "T", "Tanger."), ("b", "T", "Fès.")]), index)
    later = first_indexed(index, ["a", "b", "c"])
    assert later["a"] == first and later["b"] >= first and "c" not in later


def test_no_build_removes_a_generation_holding_an_article_it_lacks(first, tmp_path):
    corpus = write_corpus(tmp_path / "v1", [("a", "Rabat", "Le port de Tanger s’agrandit.")])
    update_index(first, add=write_corpus(tmp_path / "x", [("x", "Oujda", "La gare d'Oujda.")]))
    kept = build_index(corpus, first).kept  # x left out: the index before is kept
    live = current(first).name
    assert [k.name for k in kept] == [g for g in generations(first) if g != live]
    with Index.open(first) as index:  # `veille info` lists it, and so does /healthz
        assert index.info().kept == (kept[0].name,)
        assert index.info().to_dict()["kept"] == [kept[0].name]
    app = create_app({"TESTING": True, "VEILLE_INDEX": str(first)})
    assert app.test_client().get("/healthz").get_json()["kept"] == [kept[0].name]
    app.extensions["veille_index"].close()
    update_index(first, add=write_corpus(tmp_path / "y", [("y", "Fès", "La médina de Fès.")]))
    (first / "CURRENT").write_text(kept[0].name + "\n")  # served again, as the build said
    with Index.open(first) as index:  # the one served is not listed as kept beside it
        assert index.info().kept == ()
    again = build_index(corpus, first)  # y, written to the one served before, is kept too
    assert [k.name for k in again.kept] == [live]
    (first / "CURRENT").write_text(live + "\n")
    with Index.open(first) as index:
        assert [h.article_id for h in index.search("médina")] == ["y"]
    build_index(corpus, first)  # nothing more left out: the kept ones stay, nothing else
    assert len(generations(first)) == 3


def test_a_build_after_a_removal_keeps_nothing(first, tmp_path):
    corpus = write_corpus(tmp_path / "v1", [("a", "Rabat", "Le port de Tanger s’agrandit.")])
    update_index(first, add=write_corpus(tmp_path / "x", [("x", "Oujda", "La gare d'Oujda.")]))
    update_index(first, remove=["x"])  # still in a segment, deleted
    assert build_index(corpus, first).kept == ()
    assert len(generations(first)) == 1


def test_an_index_that_lost_its_pointer_is_damaged_not_missing(first):
    (first / "CURRENT").unlink()
    with pytest.raises(IndexDamagedError, match=r"CURRENT is missing, beside gen-") as caught:
        Index.open(first)
    (newest,) = re.findall(r"`echo (gen-\S+) > ", str(caught.value))
    (first / "CURRENT").write_text(newest + "\n")  # as the message says: served again
    with Index.open(first) as index:
        assert [h.article_id for h in index.search("Tanger")] == ["a"]


@pytest.mark.parametrize("field", ["category", "author"])
def test_add_replaces_an_article_whose_section_or_other_field_changed(any_first, tmp_path, field):
    def article(value: str) -> str:
        record = {"id": "a", "title": "Rabat", "text": "Le port de Tanger s’agrandit."}
        return json.dumps(record | {field: value}, ensure_ascii=False) + "\n"

    (tmp_path / "sport.jsonl").write_text(article("sport"))
    (tmp_path / "politique.jsonl").write_text(article("politique"))
    assert update_index(any_first, add=tmp_path / "sport.jsonl").replaced == 1
    summary = update_index(any_first, add=tmp_path / "politique.jsonl")
    assert (summary.added, summary.replaced, summary.unchanged) == (0, 1, 0)
    assert update_index(any_first, add=tmp_path / "politique.jsonl").unchanged == 1
    with Index.open(any_first) as index:
        if field == "category":
            assert index.search("Tanger rubrique:politique").total == 1
            assert index.search("Tanger rubrique:sport").total == 0
        assert index.info().articles == 1


def test_a_reader_stops_answering_from_a_generation_the_folder_no_longer_names(first, monkeypatch):
    from search.backends import whoosh

    looks = []
    monkeypatch.setattr(
        whoosh, "current_generation", lambda path: looks.append(path) or current(path)
    )
    index = Index.open(first)
    assert index.search("Tanger").total == 1
    live = (first / "CURRENT").read_text()
    (first / "CURRENT").write_text("gen-gone\n")  # damaged for good, not a swap
    time.sleep(0.6)  # the handle looks again twice a second
    assert index.search("Tanger").total == 1  # a swap's grace: the generation it has
    deadline = time.monotonic() + 30
    with pytest.raises(IndexDamagedError, match="gen-gone"):
        while time.monotonic() < deadline:  # then the truth
            index.search("Tanger")
            time.sleep(0.2)
    before = len(looks)
    with pytest.raises(IndexDamagedError, match="gen-gone"):
        index.search("Tanger")  # said again, not looked for again at once
    assert len(looks) == before
    (first / "CURRENT").write_text(live)  # mended: answered again
    time.sleep(0.6)
    assert index.search("Tanger").total == 1
    index.close()


def _damage_ledger(ledger: Path, how: str) -> None:
    if how == "not a database":
        ledger.write_bytes(b"not a database" * 400)
    elif how == "a folder":
        ledger.unlink()
        ledger.mkdir()
    else:  # a page past the header overwritten
        from search.ledger import record_indexed

        record_indexed(ledger.parent, [f"id{n}" for n in range(5000)])
        sqlite3.connect(ledger).execute("PRAGMA wal_checkpoint(TRUNCATE)").connection.close()
        data = bytearray(ledger.read_bytes())
        data[4096 * 3 : 4096 * 3 + 300] = b"\xff" * 300
        ledger.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["not a database", "a folder", "a damaged page"])
def test_a_writer_leaves_the_index_alone_when_the_ledger_is_unreadable(any_first, tmp_path, how):
    from search.ledger import LedgerError, ledger_path

    ledger = ledger_path(any_first)
    _damage_ledger(ledger, how)
    update = write_corpus(tmp_path / "u", [("b", "Fès", "La médina de Fès.")])
    try:
        with pytest.raises(LedgerError, match="ledger"):
            update_index(any_first, add=update)
        with pytest.raises(LedgerError, match="ledger"):
            update_index(any_first, remove=["a"])
    finally:  # the cluster's folder is the next test's too
        shutil.rmtree(ledger) if ledger.is_dir() else ledger.unlink()
    with Index.open(any_first) as index:
        assert index.info().articles == 1
        assert index.search("Tanger").total == 1
        assert index.search("médina").total == 0


def test_an_id_given_twice_is_removed_once(any_first):
    summary = update_index(any_first, remove=["a", "a", "a"])
    assert summary.removed == 1
    with Index.open(any_first) as index:
        assert index.info().articles == 0


@pytest.mark.parametrize("write", ["add", "remove", "optimize"])
def test_a_writer_on_a_missing_index_leaves_no_folder_behind(tmp_path, write):
    missing = tmp_path / "typo"
    corpus = write_corpus(tmp_path / "u", [("b", "Fès", "La médina de Fès.")])
    calls = {
        "add": lambda: update_index(missing, add=corpus),
        "remove": lambda: update_index(missing, remove=["b"]),
        "optimize": lambda: optimize_index(missing),
    }
    with pytest.raises(IndexNotFoundError, match="no index at"):
        calls[write]()
    assert not missing.exists()


# whoosh leaves a table of contents it could not read open: collected within the test.
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("toc", [b"", b"\x80\x04truncated"])
def test_an_unreadable_commit_not_yet_recorded_is_damage(first, toc):
    from search import check_index

    generation = first / (first / "CURRENT").read_text().strip()
    (generation / "_MAIN_2.toc").write_bytes(toc)  # a commit whose writer died mid-rename
    with pytest.raises(IndexDamagedError, match=r"_MAIN_2\.toc, a commit not recorded"):
        Index.open(first)
    _, problems = check_index(first)
    assert problems == ["_MAIN_2.toc, a commit not recorded, cannot be read"]
    gc.collect()


def test_a_build_into_a_file_or_from_no_corpus_says_so_and_leaves_nothing(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a-1", "title": "Rabat", "text": "Le Maroc."}\n', "utf-8")
    taken = tmp_path / "un-fichier"
    taken.write_text("déjà là", "utf-8")
    with pytest.raises(IndexNotFoundError, match="is not an index folder"):
        build_index(corpus, taken)
    assert taken.read_text("utf-8") == "déjà là"
    with pytest.raises(CorpusError, match="no such file or folder"):
        build_index(tmp_path / "absent.jsonl", tmp_path / "nouvel-index")
    assert not (tmp_path / "nouvel-index").exists()  # no folder, no lock file


def test_one_id_given_alone_is_removed_whole(tmp_path):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        '{"id": "a-1", "title": "Rabat", "text": "Le Maroc."}\n'
        '{"id": "a-2", "title": "Fès", "text": "Le Maroc encore."}\n',
        "utf-8",
    )
    build_index(corpus, tmp_path / "index")
    summary = update_index(tmp_path / "index", remove="a-1")
    assert (summary.removed, summary.missing) == (1, ())
    assert [hit.article_id for hit in Index.open(tmp_path / "index").search("Maroc")] == ["a-2"]
