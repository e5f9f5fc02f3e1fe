"""The hardening issue, through the public surfaces: budgets, bounds, damaged and emptied
indexes, writers that fail, control characters, very long articles."""

import datetime as dt
import itertools
import json
import multiprocessing
import os
import pickle
import random
import resource
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import ROOT, write_jsonl

from search import (
    Article,
    Index,
    IndexDamagedError,
    ParameterError,
    SearchRequest,
    build_index,
    check_index,
    update_index,
)
from search.alerts import AlertStateError
from search.backends.sphinx.nodes import ClusterUnavailableError, NodeError
from search.index import TIMED_OUT_NOTE
from search.ingest.client import FetchError
from search.ingest.state import FetchStateError

ENV = os.environ | {"PYTHONPATH": str(ROOT)}


def veille(*args: str, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "search", *args],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=preexec,
    )


def small_index(tmp_path: Path, records: list[dict]) -> Path:
    path = tmp_path / "index"
    build_index(write_jsonl(tmp_path / "corpus" / "a.jsonl", records), path)
    return path


ARTICLES = [
    {
        "id": f"a{i}",
        "title": f"Le Maroc et la sécurité, épisode {i}",
        "date": f"2024-0{1 + i % 9}-1{i % 9}",
        "text": "La coopération sécuritaire entre le Maroc et la France progresse. "
        "Les ministres évoquent la lutte contre le terrorisme.\n\n"
        "Un second paragraphe parle de football et de supporters marocains.",
    }
    for i in range(6)
]


# --- a budget for every search --------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "Maroc sécurité coopération terrorisme",  # plain words: the array path
        '"coopération sécuritaire" OU titre:Maroc OU football',  # whoosh's matchers
    ],
)
def test_a_search_past_its_budget_answers_what_it_found_marked_partial(tmp_path, query):
    index = Index.open(small_index(tmp_path, ARTICLES))
    complete = index.search(query)
    assert complete.timed_out is False and complete.total > 0
    assert TIMED_OUT_NOTE not in complete.notes
    partial = index.search(query, budget=1e-9)
    assert partial.timed_out is True
    assert TIMED_OUT_NOTE in partial.notes
    assert partial.total <= complete.total
    if "OU" in query:
        assert partial.total_is_estimate is True
    else:  # every word is read (a passage must have them all): the count is exact
        assert partial.total == complete.total and partial.total_is_estimate is False


def test_a_search_past_its_budget_keeps_only_articles_with_every_word(tmp_path):
    records = [
        *ARTICLES,
        *(
            {"id": f"m{i}", "title": "Le Maroc", "text": f"Le Maroc, sans plus, épisode {i}."}
            for i in range(4)
        ),
    ]
    index = Index.open(small_index(tmp_path, records))
    complete = index.search("Maroc sécuritaire", limit=100, collapse=False)
    partial = index.search("Maroc sécuritaire", limit=100, collapse=False, budget=1e-9)
    assert partial.timed_out is True
    assert sorted(h.article_id for h in partial) == [a["id"] for a in ARTICLES]
    assert partial.total == complete.total == len(ARTICLES)
    assert partial.total_is_estimate is False  # every word was read: the count is exact


def test_the_api_and_the_page_say_a_search_timed_out(tmp_path):
    from web import create_app

    app = create_app({"VEILLE_INDEX": str(small_index(tmp_path, ARTICLES))})
    app.config["VEILLE_SEARCH_BUDGET"] = 1e-9
    client = app.test_client()
    response = client.get("/api/search", query_string={"q": "Maroc sécurité coopération"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["timed_out"] is True
    assert TIMED_OUT_NOTE in body["notes"]
    page = client.get("/", query_string={"q": "Maroc sécurité coopération"})
    assert page.status_code == 200
    notes = [p.get_text() for p in BeautifulSoup(page.data, "html.parser").select("p.note")]
    assert TIMED_OUT_NOTE in notes
    # the visitor cannot raise the budget: it is the app's setting
    body = client.get("/api/search?q=Maroc+sécurité+coopération&budget=60").get_json()
    assert body["timed_out"] is True


def test_a_prefix_expands_to_its_most_frequent_words_and_says_so(tmp_path):
    words = ["mot" + "".join(p) for p in itertools.product("abcdefgh", repeat=2)]  # 64 words
    records = [
        {"id": f"w{i}", "title": "Vocabulaire", "text": f"Le {word} du jour est {word}."}
        for i, word in enumerate(words)
    ]
    records.append({"id": "often", "title": "Souvent", "text": "motaa " * 3 + "motab motac"})
    index = Index.open(small_index(tmp_path, records))
    results = index.search("mot*", limit=100)
    assert any("les 50 mots les plus fréquents" in note for note in results.notes)
    # 50 words read: the three of "often" (the most frequent) and 47 more, an article each
    assert results.total == 51
    assert "often" in {hit.article_id for hit in results}
    # too short to be a prefix: the word "mo", and a note says so
    assert index.search("mo*").notes == (
        "« mo* » : un début de mot demande 3 lettres, « mo » est cherché comme un mot",
    )
    assert index.search("mo*").total == 0


def test_deeply_nested_parentheses_are_plain_words_everywhere(tmp_path, client):
    deep = "(" * 333 + "gouvernement" + ")" * 333
    api = client.get("/api/search", query_string={"q": deep})
    assert api.status_code == 200
    assert api.get_json()["total"] == client.get("/api/search?q=gouvernement").get_json()["total"]
    assert client.get("/", query_string={"q": deep}).status_code == 200
    assert client.get("/articles/ecole", query_string={"q": deep}).status_code == 200
    run = veille("query", deep, "--index", str(small_index(tmp_path, ARTICLES)))
    assert run.returncode == 0 and "Traceback" not in run.stderr


# --- damaged indexes ---------------------------------------------------------------------


def damage(index: Path, how: str) -> None:
    (generation,) = [p for p in index.iterdir() if p.name.startswith("gen-")]
    if how == "empty segment":
        (segment,) = generation.glob("*.seg")
        os.truncate(segment, 0)
    elif how == "short toc":
        (toc,) = generation.glob("*.toc")
        os.truncate(toc, 100)
    elif how == "random bytes":
        (segment,) = generation.glob("*.seg")
        data = bytearray(segment.read_bytes())
        rng = random.Random(7)
        for i in rng.sample(range(len(data)), len(data) // 20):
            data[i] = rng.randrange(256)
        segment.write_bytes(bytes(data))
    elif how == "missing segment":
        (segment,) = generation.glob("*.seg")
        segment.unlink()
    elif how == "missing toc":
        (toc,) = generation.glob("*.toc")
        toc.unlink()
    elif how == "missing record":
        (generation / "veille.json").unlink()
    elif how == "cut record":
        record = generation / "veille.json"
        record.write_bytes(record.read_bytes()[:100])
    elif how == "missing generation":
        shutil.rmtree(generation)


DAMAGES = [
    "empty segment",
    "short toc",
    "missing segment",
    "missing toc",
    "missing record",
    "cut record",
    "missing generation",
]


@pytest.mark.parametrize("how", DAMAGES)
def test_a_damaged_index_is_named_not_crashed_on(tmp_path, how):
    index = small_index(tmp_path, ARTICLES)
    damage(index, how)
    for args in (["query", "Maroc"], ["info"], ["add", str(tmp_path / "corpus")]):
        run = veille(*args, "--index", str(index))
        assert run.returncode == 1, run
        assert run.stderr.startswith("veille: error: index damaged (")
        assert "run `veille build`" in run.stderr
        assert "Traceback" not in run.stderr
    with pytest.raises(IndexDamagedError):
        Index.open(index)
    run = veille("check", "--index", str(index))
    assert run.returncode == 1 and "index damaged" in run.stderr
    assert "Traceback" not in run.stderr


def test_veille_check_finds_altered_bytes_that_sizes_miss(tmp_path):
    index = small_index(tmp_path, ARTICLES)
    run = veille("check", "--index", str(index))
    assert run.returncode == 0 and "files verified" in run.stdout
    checked, problems = check_index(index)
    assert checked == 2 and problems == []
    damage(index, "random bytes")
    run = veille("check", "--index", str(index))
    assert run.returncode == 1
    assert "checksum differs" in run.stderr
    # what reading the altered bytes raises (whoosh's own errors included) says "damaged"
    for query in ("Maroc", "sécurité", "football", '"coopération sécuritaire"', "Mar*"):
        run = veille("query", query, "--index", str(index))
        assert "Traceback" not in run.stderr
        assert run.returncode == 0 or run.stderr.startswith("veille: error: index damaged (")


@pytest.mark.parametrize("how", ["empty segment", "missing toc", "missing record"])
@pytest.mark.parametrize(
    "path", ["/", "/?q=Maroc", "/api/search?q=Maroc", "/articles/a1", "/healthz"]
)
def test_the_web_app_answers_503_on_a_damaged_index(tmp_path, path, how):
    from web import create_app

    index = small_index(tmp_path, ARTICLES)
    damage(index, how)
    client = create_app({"VEILLE_INDEX": str(index)}).test_client()
    response = client.get(path)
    assert response.status_code == 503
    if path.startswith(("/api", "/healthz")):
        assert "damaged" in response.get_json()["error"]
    else:
        text = BeautifulSoup(response.data, "html.parser").get_text()
        assert "endommagé" in text and "veille build" in text


@pytest.mark.slow
@pytest.mark.parametrize("how", ["empty segment", "missing record", "missing generation"])
def test_veille_serve_on_a_damaged_index_starts_and_answers_503(tmp_path, how):
    import time
    import urllib.error
    import urllib.request

    from conftest import VeilleServer

    index = small_index(tmp_path, ARTICLES)
    damage(index, how)
    before = sorted(p.name for p in index.rglob("*"))
    server = VeilleServer(index, tmp_path / "server.log", workers=1)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(server.url + "/healthz", timeout=2)
                pytest.fail("a damaged index answered 200")
            except urllib.error.HTTPError as answer:
                assert answer.code == 503
                assert json.loads(answer.read())["status"] == "unavailable"
                break
            except OSError:
                assert time.monotonic() < deadline, server.read_log()
                time.sleep(0.1)
    finally:
        server.stop()
    assert sorted(p.name for p in index.rglob("*")) == before  # it did not rebuild
    assert "Traceback" not in server.read_log()


# --- writers clean up ------------------------------------------------------------------


def generation_of(index: Path) -> Path:
    (generation,) = [p for p in index.iterdir() if p.name.startswith("gen-")]
    return generation


def test_the_next_writer_removes_what_a_killed_writer_left(tmp_path):
    index = small_index(tmp_path, ARTICLES)
    generation = generation_of(index)
    live = sorted(p.name for p in generation.iterdir())
    size = Index.open(index).info().size_bytes
    (generation / "MAIN.tmp").mkdir()
    (generation / "MAIN.tmp" / "x.ctmp").write_bytes(b"x" * 100_000)
    (generation / "MAIN_deadbeef0123.seg").write_bytes(b"y" * 100_000)
    (index / ".building-gen-x").mkdir()
    assert Index.open(index).info().size_bytes == size  # only live files count
    extra = write_jsonl(tmp_path / "more.jsonl", [{"id": "n", "title": "T", "text": "Rabat."}])
    run = veille("add", str(extra), "--index", str(index))
    assert run.returncode == 0, run.stderr
    names = sorted(p.name for p in generation.iterdir())
    assert "MAIN.tmp" not in names and "MAIN_deadbeef0123.seg" not in names
    assert not (index / ".building-gen-x").exists()
    assert set(live) - {n for n in live if n.endswith(".toc")} <= set(names)
    assert Index.open(index).search("Rabat").total == 1


def _small_file_limit() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing past the limit: an OSError
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def test_a_writer_that_fills_the_disk_leaves_the_index_and_the_space_as_they_were(tmp_path):
    index = small_index(tmp_path, ARTICLES)
    generation = generation_of(index)
    before = {p.name: p.stat().st_size for p in generation.iterdir() if p.is_file()}
    big = [
        {"id": f"big{i}", "title": "Gros", "text": " ".join(f"mot{i}x{j}" for j in range(3000))}
        for i in range(20)
    ]
    corpus = write_jsonl(tmp_path / "big.jsonl", big)
    run = veille("add", str(corpus), "--index", str(index), preexec=_small_file_limit)
    assert run.returncode == 1
    assert "File too large" in run.stderr and "Traceback" not in run.stderr
    after = {p.name: p.stat().st_size for p in generation.iterdir() if p.is_file()}
    assert {n: s for n, s in after.items() if n != "MAIN_WRITELOCK"} == {
        n: s for n, s in before.items() if n != "MAIN_WRITELOCK"
    }
    assert not [p for p in generation.iterdir() if p.is_dir()]
    run = veille("add", str(corpus), "--index", str(index))
    assert run.returncode == 0, run.stderr
    assert Index.open(index).search("mot3x17").total == 1


def test_an_emptied_index_answers_no_results(tmp_path):
    index = small_index(tmp_path, ARTICLES[:2])
    assert veille("remove", "a0", "a1", "--index", str(index)).returncode == 0
    assert veille("optimize", "--index", str(index)).returncode == 0
    run = veille("query", "Maroc", "--index", str(index))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("0 articles, 0 passages")
    from web import create_app

    client = create_app({"VEILLE_INDEX": str(index)}).test_client()
    response = client.get("/api/search?q=Maroc")
    assert response.status_code == 200 and response.get_json()["total"] == 0
    assert client.get("/healthz").get_json()["articles"] == 0


# --- what the CLI prints, what the page sends --------------------------------------------


def test_the_cli_prints_no_control_characters_from_the_corpus(tmp_path):
    hostile = "\x1b]0;titre piégé\x07\x1b[2J\x1b]52;c;ZXZpbA==\x07"
    index = small_index(
        tmp_path,
        [{"id": "x", "title": f"Maroc {hostile}", "text": f"Le Maroc {hostile} et Rabat."}],
    )
    run = veille("query", "Maroc", "--index", str(index), "--explain")
    assert run.returncode == 0
    assert "Maroc" in run.stdout
    assert not any((ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0 for c in run.stdout)


def test_a_very_long_article_is_shown_a_page_at_a_time(tmp_path):
    from web import create_app

    paragraphs = [
        f"Paragraphe {n} : le gouvernement présente la réforme numéro {n} aux élus locaux."
        for n in range(250)
    ]
    paragraphs[150] += " Une mention unique du mot zanzibar."
    index = small_index(
        tmp_path, [{"id": "long", "title": "Très long", "text": "\n\n".join(paragraphs)}]
    )
    client = create_app({"VEILLE_INDEX": str(index)}).test_client()
    doc = BeautifulSoup(client.get("/articles/long?q=zanzibar").data, "html.parser")
    assert len(doc.select("p.passage")) == 100
    assert [a.get_text() for a in doc.select("nav.pagination a")] == ["1", "2", "3"]
    results = BeautifulSoup(client.get("/?q=zanzibar").data, "html.parser")
    link = results.select_one(".hit-title a")["href"]
    assert "page=2" in link and link.endswith("#p150")
    page = BeautifulSoup(client.get(link.split("#")[0]).data, "html.parser")
    assert page.select_one("#p150 mark").get_text() == "zanzibar"
    assert len(page.select("p.passage")) == 100
    last = BeautifulSoup(client.get("/articles/long?page=3").data, "html.parser")
    assert len(last.select("p.passage")) == 50
    body = client.get("/api/articles/long?page=2").get_json()
    assert (body["total_passages"], body["page"], body["pages"]) == (250, 2, 3)
    assert [p["position"] for p in body["passages"]] == list(range(100, 200))


def test_bounds_apply_to_an_explicit_or_not_to_a_long_text():
    from search import parse_query

    words = [f"mot{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(40)]
    long_text = parse_query(" ".join(words))
    assert long_text.plan is not None and len(long_text.plan.words) == 40
    assert long_text.notes == ()
    alternatives = parse_query(" OR ".join(words))
    assert len(alternatives.tree.nodes) == 32
    assert alternatives.notes == ("seules les 32 premières parties d'un groupe sont cherchées",)


def test_each_bound_says_so_once():
    from search import parse_query

    prefixes = parse_query("(terro* OU isla*) (djiha* OU milit*) (atten* OU explo*)")
    assert prefixes.notes == (
        "seuls les 4 premiers débuts de mots sont développés : "
        "les suivants sont cherchés comme des mots",
    )
    phrases = parse_query(" ".join(f'"mot{i} suivant{i}"' for i in range(6)))
    assert phrases.notes == ("seules les 4 premières expressions sont cherchées",)


def test_the_partial_match_note_comes_with_results_only(tmp_path):
    index = Index.open(small_index(tmp_path, ARTICLES))
    nothing = index.search("zzzqq yyyxx")
    assert nothing.total == 0 and nothing.notes == ()
    some = index.search("Maroc zzzqq")
    assert some.total > 0 and len(some.notes) == 1


def test_typos_and_suggestions_touch_a_few_words_at_most(tmp_path):
    index = Index.open(small_index(tmp_path, ARTICLES))
    unknown = [f"zq{a}{b}" for a in "bcdfg" for b in "hjklmnpr"]  # 40 short unknown words
    typed = " AND ".join(["Mroc"] * 3 + unknown)
    results = index.search(typed)
    assert results.suggestion is not None
    corrected = [a != b for a, b in zip(typed.split(), results.suggestion.split(), strict=True)]
    assert 1 <= sum(corrected) <= 5
    long_typos = " AND ".join([f"Marocc{c}" for c in "bcdfghjklm"])
    assert len(index.search(long_typos).readings) <= 3


def test_limit_wins_over_per_page_in_either_order(client):
    for query_string in ("q=gouvernement&limit=3&per_page=5", "q=gouvernement&per_page=5&limit=3"):
        body = client.get("/api/search?" + query_string).get_json()
        assert body["limit"] == 3 and len(body["hits"]) == 3
    # the URL's query is `q` only
    body = client.get("/api/search?query=gouvernement&q=dépêche").get_json()
    assert body["query"] == "dépêche"


def test_a_bad_budget_setting_stops_the_app_at_start_naming_it(tmp_path):
    from web import create_app

    with pytest.raises(ValueError, match="VEILLE_SEARCH_BUDGET"):
        create_app({"VEILLE_INDEX": str(tmp_path), "VEILLE_SEARCH_BUDGET": "abc"})


def test_an_excluded_word_stays_excluded_in_a_long_query(tmp_path):
    records = [
        {
            "id": "p",
            "title": "Réforme",
            "text": "Le gouvernement, Macron, la réforme des retraites et Paris.",
        },
        {
            "id": "r",
            "title": "Réforme",
            "text": "Le gouvernement, Macron, la réforme des retraites et Rennes.",
        },
    ]
    index = Index.open(small_index(tmp_path, records))
    results = index.search("gouvernement Macron réforme retraites -Paris")
    assert [hit.article_id for hit in results] == ["r"]


# --- wrong values from Python: the library's own errors ------------------------------------


def test_wrong_values_from_python_are_clear_errors(tmp_path):
    from search import Article, ParameterError, RankingConfig, explain

    index = Index.open(small_index(tmp_path, ARTICLES))
    with pytest.raises(ParameterError, match="article_id: must be text"):
        index.article(None)
    with pytest.raises(TypeError, match="ranking must be a RankingConfig, not NoneType"):
        Index.open(index.path, ranking=None)
    with pytest.raises(ValueError, match="bm25_k1 must be a number of 0 or more and at most"):
        RankingConfig(bm25_k1=1e40)
    with pytest.raises(ValueError, match="the metadata must be a mapping"):
        Article("a", "Titre", None, None, None, ("Texte.",), metadata=None)
    metadata = {"category": "Sport"}
    article = Article("a", "Titre", None, None, None, ("Texte.",), metadata=metadata)
    metadata["category"] = "Autre"  # the caller's dict, changed after the article was made
    assert article.category == "Sport"
    # A passage explained alone, its place unknown: no claim that its title matched.
    lines = explain("Maroc", "Il pleut à Brest").lines()
    assert not any("titre correspond" in line for line in lines)
    assert any("titre correspond" in line for line in explain("Maroc", "Brest", position=0).lines())


# --- values a developer hands over ---------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ParameterError("limit", "must be a whole number between 1 and 1000", "Le nombre…"),
        AlertStateError(Path("/x/alerts.sqlite"), "file is not a database"),
        FetchStateError(Path("/x/fetch.sqlite"), "file is not a database"),
        FetchError("https://example.org/rss", "timed out", status=503, transient=True),
        ClusterUnavailableError("shard 1: no replica answers", shard=1),
        NodeError("127.0.0.1:9312 does not answer", hung=True),
    ],
)
def test_every_error_survives_pickling(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__


def _too_many_results():
    return SearchRequest("Maroc", limit=10**6)


def test_a_parameter_error_in_a_worker_process_reaches_the_caller():
    fork = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(1, mp_context=fork) as pool, pytest.raises(ParameterError) as raised:
        pool.submit(_too_many_results).result()
    assert raised.value.name == "limit"


@pytest.mark.parametrize("remove", [[5], None, ["a1", None], 3.5])
def test_removing_ids_that_are_not_text_is_refused_clearly(tmp_path, remove):
    index = small_index(tmp_path, ARTICLES)
    with pytest.raises(ValueError, match=r"^remove: "):
        update_index(index, remove=remove)
    assert Index.open(index).search("Maroc", collapse=False).total == len(ARTICLES)


def test_a_time_zone_aware_period_is_read_as_an_article_s_date_is(tmp_path):
    late = dt.datetime(2024, 5, 1, 23, 30, tzinfo=dt.UTC)  # 2 May in Paris
    article = Article("late", "Hippopotame", late, None, None, ("Un hippopotame à minuit.",))
    assert article.date == dt.date(2024, 5, 2)
    assert SearchRequest("x", since=late, until=late).until == dt.date(2024, 5, 2)
    path = tmp_path / "index"
    build_index(write_jsonl(tmp_path / "c" / "a.jsonl", [article_record(article)]), path)
    found = Index.open(path).search("hippopotame", since=late, until=late)
    assert [hit.article_id for hit in found] == ["late"]


def article_record(article: Article) -> dict:
    return {
        "id": article.id,
        "title": article.title,
        "date": f"{article.date}T{article.time:%H:%M}",
        "text": "\n\n".join(article.paragraphs),
    }


def test_a_segment_cut_short_under_a_reader_is_damage_not_a_crash(tmp_path):
    """A reader maps the index's files: reading past a file's new end would kill it with
    SIGBUS (a web worker's dropped connection). It looks at the sizes first."""
    index = small_index(tmp_path, ARTICLES)
    code = f"""
import os, time
from pathlib import Path
from search import Index, IndexDamagedError
index = Index.open({str(index)!r})
assert index.search("Maroc").total > 0
(segment,) = Path({str(index)!r}).glob("gen-*/*.seg")
os.truncate(segment, segment.stat().st_size // 2)
time.sleep(0.6)  # the handle looks at the folder twice a second
try:
    index.search("sécurité coopération")
except IndexDamagedError as error:
    print("damaged:", error)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, (run.returncode, run.stderr)
    assert run.stdout.startswith("damaged: index damaged (gen-")
    assert "veille build" in run.stdout
