"""Exports: the rows (pure), /search.csv and /search.jsonl, and `veille query --format`."""

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import WEB_XSS, write_jsonl

from search import (
    CSV_COLUMNS,
    Hit,
    Index,
    PassageHit,
    Results,
    SearchRequest,
    build_index,
    csv_rows,
    jsonl_lines,
    write_csv,
)
from web import create_app
from web.feeds import export_pages, slug

ROOT = Path(__file__).resolve().parent.parent


def results_of(*hits: Hit, page: int = 1, limit: int = 10, group: str = "article") -> Results:
    return Results(
        query="q",
        hits=hits,
        total=len(hits),
        total_passages=len(hits),
        page=page,
        limit=limit,
        group=group,
        sort="relevance",
        took_ms=1.0,
    )


def hit(article_id: str, title: str = "Un titre", text: str = "Le texte.", **fields) -> Hit:
    passage = PassageHit(position=2, text=text, score=1.0, start=0, end=len(text))
    values = {"date": None, "source": None, "url": None, "score": 1.23456}
    return Hit(article_id=article_id, title=title, passages=(passage,), **(values | fields))


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


# --- the rows, pure ---------------------------------------------------------------------


def test_a_row_per_hit_ranked_from_the_page():
    page = results_of(
        hit(
            "a", date=dt.date(2024, 5, 5), time=dt.time(14, 30), source="AFP", url="https://x.fr/a"
        ),
        hit("b"),
        page=3,
        limit=2,
    )
    assert list(csv_rows(page)) == [
        (
            5,
            "a",
            "Un titre",
            "2024-05-05",
            "14:30",
            "AFP",
            "https://x.fr/a",
            1.2346,
            2,
            "Le texte.",
        ),
        (6, "b", "Un titre", "", "", "", "", 1.2346, 2, "Le texte."),
    ]
    assert len(CSV_COLUMNS) == 10


def test_write_csv_has_a_header_and_neutralizes_formulas():
    out = io.StringIO()
    page = results_of(hit("a", title='=HYPERLINK("http://x")', text="-2 % en mai"), hit("b"))
    assert write_csv(out, [page, results_of(hit("c"), page=2, limit=2)]) == 3
    rows = read_csv(out.getvalue())
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert rows[0]["title"] == '\'=HYPERLINK("http://x")'  # text to a spreadsheet
    assert rows[0]["passage_text"] == "'-2 % en mai"
    assert rows[1]["title"] == "Un titre"
    assert [row["rank"] for row in rows] == ["1", "2", "3"]


def test_one_page_is_exported_as_a_list_of_one():
    page = results_of(hit("a"), hit("b"))
    alone, listed = io.StringIO(), io.StringIO()
    assert write_csv(alone, page) == write_csv(listed, [page]) == 2
    assert alone.getvalue() == listed.getvalue()
    assert list(jsonl_lines(page)) == list(jsonl_lines([page]))
    assert [json.loads(line)["article_id"] for line in jsonl_lines(page)] == ["a", "b"]


def test_an_empty_export_is_its_header():
    out = io.StringIO()
    assert write_csv(out, [results_of()]) == 0
    assert out.getvalue() == ",".join(CSV_COLUMNS) + "\r\n"


def test_jsonl_is_the_api_hit_per_line():
    page = results_of(hit("a", title="Élections «\u00a0locales\u00a0»"), hit("b"))
    lines = list(jsonl_lines([page]))
    assert [json.loads(line) for line in lines] == [h.to_dict("article") for h in page.hits]
    assert "Élections" in lines[0]  # readable, not \u-escaped
    passages = results_of(hit("a"), group="passage")
    assert json.loads(next(jsonl_lines([passages])))["position"] == 2


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Coopération sécuritaire", "cooperation-securitaire"),
        ('"Maroc" OU titre:France', "maroc-ou-titre-france"),
        ("", "recherche"),
        ("«\u00a0»", "recherche"),
        ("Œuvre " * 30, "oeuvre-" * 8 + "oeuv"),  # 60 characters at most
    ],
)
def test_slug(query, expected):
    assert slug(query) == expected


# --- /search.csv and /search.jsonl --------------------------------------------------------


def test_csv_export_of_a_search(client, web_articles):
    response = client.get("/search.csv", query_string={"q": "coopération sécuritaire"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="veille-cooperation-securitaire.csv"'
    )
    assert response.data.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads UTF-8
    rows = read_csv(response.data.decode("utf-8-sig"))
    api = client.get("/api/search", query_string={"q": "coopération sécuritaire", "limit": 100})
    hits = api.get_json()["hits"]
    assert [row["article_id"] for row in rows] == [h["article_id"] for h in hits]
    assert [row["rank"] for row in rows] == [str(i) for i in range(1, len(hits) + 1)]
    first, article = rows[0], next(a for a in web_articles if a["id"] == rows[0]["article_id"])
    assert first["title"] == article["title"] and first["source"] == article["source"]
    assert first["date"] == article["date"] and first["url"] == article["url"]
    assert first["passage_position"] == str(hits[0]["passages"][0]["position"])
    assert first["passage_text"] in article["text"]  # the plain passage, no <mark>


def test_csv_export_keeps_hostile_text_as_text(client):
    rows = read_csv(client.get("/search.csv?q=chercheurs").data.decode("utf-8-sig"))
    assert any(WEB_XSS in row["title"] for row in rows)
    assert not any("&lt;" in row["passage_text"] for row in rows)


def test_csv_export_by_passage_and_sorted_by_date(client):
    by_passage = client.get("/search.csv?q=gouvernement&group=passage&sort=date")
    rows = read_csv(by_passage.data.decode("utf-8-sig"))
    api = client.get("/api/search?q=gouvernement&group=passage&sort=date&limit=100").get_json()
    assert [(r["article_id"], r["passage_position"]) for r in rows] == [
        (h["article_id"], str(h["position"])) for h in api["hits"]
    ]


def test_jsonl_export_of_a_search(client):
    response = client.get("/search.jsonl", query_string={"q": "gouvernement", "source": "Le Monde"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert (
        response.headers["Content-Disposition"]
        == 'attachment; filename="veille-gouvernement.jsonl"'
    )
    lines = response.get_data(as_text=True).splitlines()
    api = client.get("/api/search?q=gouvernement&source=Le+Monde&limit=100").get_json()
    assert [json.loads(line) for line in lines] == api["hits"]


def test_the_results_page_links_its_exports(client):
    from bs4 import BeautifulSoup

    page = client.get("/?q=gouvernement&sort=date&page=2&limit=5")
    soup = BeautifulSoup(page.data, "html.parser")
    assert soup.find("a", string="CSV")["href"] == "/search.csv?q=gouvernement&sort=date"
    assert soup.find("a", string="JSON Lines")["href"] == "/search.jsonl?q=gouvernement&sort=date"
    every_copy = client.get("/?q=gouvernement&collapse=false&source=Le+Monde")
    soup = BeautifulSoup(every_copy.data, "html.parser")
    expected = "/search.csv?q=gouvernement&source=Le+Monde&collapse=false"
    assert soup.find("a", string="CSV")["href"] == expected


def test_exports_check_the_parameters(client):
    response = client.get("/search.csv?q=x&sort=hasard")
    assert response.status_code == 400 and response.get_json()["parameter"] == "sort"
    assert client.get("/search.jsonl?q=x&limit=0").status_code == 400


@pytest.fixture(scope="module")
def big_index(tmp_path_factory) -> Path:
    """1,050 articles that all match "conseil", one a day."""
    records = [
        {
            "id": f"conseil-{i:04d}",
            "title": f"Conseil municipal n° {i}",
            "date": (dt.date(2020, 1, 1) + dt.timedelta(days=i)).isoformat(),
            "source": "AFP",
            "text": f"Le conseil municipal s'est réuni pour sa séance numéro {i}.",
        }
        for i in range(1050)
    ]
    folder = tmp_path_factory.mktemp("big")
    build_index(write_jsonl(folder / "corpus" / "a.jsonl", records), folder / "index")
    return folder / "index"


def test_an_export_stops_at_1000_rows(big_index):
    app = create_app({"TESTING": True, "VEILLE_INDEX": str(big_index)})
    client = app.test_client()
    # the fixture's articles are one template: copies, shown with collapse=false
    csv = client.get("/search.csv?q=conseil&sort=date&collapse=false")
    rows = read_csv(csv.data.decode("utf-8-sig"))
    assert len(rows) == 1000
    assert [r["rank"] for r in rows] == [str(i) for i in range(1, 1001)]
    assert [r["article_id"] for r in rows] == [f"conseil-{i:04d}" for i in range(1049, 49, -1)]
    jsonl = client.get("/search.jsonl?q=conseil&collapse=false").get_data(as_text=True)
    assert len(jsonl.splitlines()) == 1000
    app.extensions["veille_index"].close()


class StepClock:
    """A clock that moves ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_an_export_shares_one_time_budget_across_its_pages(big_index):
    params = SearchRequest("conseil", limit=100, collapse=False, budget=2)
    with Index.open(big_index) as index:
        pages, timed_out = export_pages(index, params, clock=StepClock(0))
        assert (len(pages), timed_out) == (10, False)
        # 1.5 s a page: the second page gets the 0.5 s left, and there is no third
        pages, timed_out = export_pages(index, params, clock=StepClock(1.5))
        assert [results.page for results in pages] == [1, 2]
        assert timed_out


# --- veille query --format -------------------------------------------------------------------


def veille(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "search", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )


def test_query_format_csv_prints_the_web_export_rows(client, web_index_path):
    run = veille(
        "query", "--index", str(web_index_path), "--format", "csv", "--limit", "100", "gouvernement"
    )
    assert run.returncode == 0, run.stderr
    assert not run.stdout.startswith("\ufeff")  # no BOM for a pipe
    web = client.get("/search.csv?q=gouvernement").data.decode("utf-8-sig")
    assert read_csv(run.stdout) == read_csv(web)


def test_query_format_csv_prints_one_page(web_index_path):
    run = veille(
        "query",
        "--index",
        str(web_index_path),
        "--format",
        "csv",
        "--limit",
        "2",
        "--page",
        "2",
        "gouvernement",
    )
    assert [row["rank"] for row in read_csv(run.stdout)] == ["3", "4"]


def test_query_format_jsonl_prints_a_hit_per_line(web_index_path):
    args = ("query", "--index", str(web_index_path), "--group", "passage", "gouvernement")
    lines = veille(*args, "--format", "jsonl").stdout.splitlines()
    body = json.loads(veille(*args, "--format", "json").stdout)
    assert [json.loads(line) for line in lines] == body["hits"]
    assert len(lines) == 10


def test_json_is_another_name_for_format_json(web_index_path):
    args = ("query", "--index", str(web_index_path), "Sahel")
    old = json.loads(veille(*args, "--json").stdout)
    new = json.loads(veille(*args, "--format", "json").stdout)
    assert old.pop("took_ms") >= 0 and new.pop("took_ms") >= 0
    assert old == new


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--format", "xml"), "invalid choice: 'xml'"),
        (("--format", "csv", "--explain"), "--explain goes with --format text or json"),
    ],
)
def test_query_format_errors(web_index_path, args, message):
    run = veille("query", "--index", str(web_index_path), *args, "Sahel")
    assert run.returncode == 2 and message in run.stderr and run.stdout == ""
