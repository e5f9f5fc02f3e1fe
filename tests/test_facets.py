"""Facets and filters (sources and sections): counts and filters, as the API, the page
and the CLI show them."""

import json
import os
import subprocess
import sys

import pytest
from bs4 import BeautifulSoup
from conftest import ROOT


def api(client, **params):
    response = client.get("/api/search", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def counts(body, facet):
    return {entry["value"]: entry["count"] for entry in body["facets"][facet]}


def test_facets_count_the_matching_articles_by_source_and_section(client, web_articles):
    body = api(client, q="gouvernement", limit=100)
    matching = {hit["article_id"] for hit in body["hits"]}
    by_id = {a["id"]: a for a in web_articles}
    expected_sources: dict[str, int] = {}
    expected_sections: dict[str, int] = {}
    for article_id in matching:
        article = by_id[article_id]
        if article.get("source"):
            expected_sources[article["source"]] = expected_sources.get(article["source"], 0) + 1
        if article.get("category"):
            section = article["category"]
            expected_sections[section] = expected_sections.get(section, 0) + 1
    assert counts(body, "source") == expected_sources
    assert counts(body, "category") == expected_sections
    listed = [entry["count"] for entry in body["facets"]["source"]]
    assert listed == sorted(listed, reverse=True)  # most first


def test_a_source_filter_keeps_its_articles_and_counts_the_others_under_the_rest(client):
    everything = api(client, q="gouvernement", limit=100)
    chosen = api(client, q="gouvernement", source="Le Monde", limit=100)
    assert chosen["total"] == counts(everything, "source")["Le Monde"]
    assert {hit["source"] for hit in chosen["hits"]} == {"Le Monde"}
    # the source list still shows the other sources (its own filter set aside) ...
    assert counts(chosen, "source") == counts(everything, "source")
    # ... while the sections are counted among Le Monde's articles only
    assert sum(counts(chosen, "category").values()) <= chosen["total"]
    both = api(client, q="gouvernement", source=["Le Monde", "Le Figaro"], limit=100)
    assert both["total"] == (
        counts(everything, "source")["Le Monde"] + counts(everything, "source")["Le Figaro"]
    )


@pytest.mark.parametrize(
    "query", ["gouvernement source:Libération", 'gouvernement source:"libération"']
)
def test_the_query_language_filters_by_source(client, query):
    body = api(client, q=query, limit=100)
    assert body["total"] >= 1
    assert {hit["source"] for hit in body["hits"]} == {"Libération"}


def test_sections_filter_and_stay_right_with_dates_and_paging(client):
    body = api(client, q="gouvernement rubrique:société", limit=100)
    ids = [hit["article_id"] for hit in body["hits"]]
    assert ids and body["total"] == len(ids)
    dated = api(client, q="gouvernement", category="société", since="2024", limit=100)
    assert counts(dated, "category")["société"] == dated["total"]
    assert all(hit["date"] >= "2024" for hit in dated["hits"])
    pages = [
        hit["article_id"]
        for n in (1, 2)
        for hit in api(client, q="gouvernement", category="société", limit=2, page=n)["hits"]
    ]
    assert pages == ids[:4]
    chosen = api(client, q="gouvernement", category="société", limit=2, page=2)["facets"]
    assert chosen["source"] == body["facets"]["source"]
    # The query's filter is part of what it matches: its sections are that one alone.
    assert body["facets"]["category"] == [{"value": "société", "count": body["total"]}]
    assert len(chosen["category"]) > 1  # a facet chosen lists the others to choose


def test_a_facet_chosen_narrows_a_query_that_filters_itself(client):
    """« rubrique:société » typed, then a section or a source chosen: never more articles."""
    typed = api(client, q="gouvernement rubrique:société", limit=100)
    other = api(client, q="gouvernement rubrique:société", category="politique", limit=100)
    assert typed["total"] > 0 and other["total"] == 0
    for value, count in counts(typed, "source").items():
        narrowed = api(client, q="gouvernement rubrique:société", source=value, limit=100)
        assert narrowed["total"] == count <= typed["total"]
        assert {hit["source"] for hit in narrowed["hits"]} == {value}
    excluded = api(client, q="gouvernement -rubrique:société", category="société", limit=100)
    assert excluded["total"] == 0


def test_too_many_filter_values_is_a_400_naming_the_parameter(client):
    sources = [f"source {n}" for n in range(21)]
    response = client.get("/api/search", query_string={"q": "x", "source": sources})
    assert response.status_code == 400
    assert response.get_json()["parameter"] == "source"


def test_the_page_lists_facets_as_links_that_toggle_the_filter(client):
    doc = BeautifulSoup(client.get("/?q=gouvernement").data, "html.parser")
    facet = {section.h3.get_text(): section for section in doc.select("nav.facets section.facet")}
    assert set(facet) == {"Sources", "Rubriques"}
    link = next(a for a in facet["Sources"].select("a") if a.get_text() == "Le Monde")
    count = int(link.find_next_sibling("span", class_="count").get_text())
    filtered = BeautifulSoup(client.get(link["href"]).data, "html.parser")
    titles = filtered.select("ol.hits li.hit")
    assert len(titles) == count
    chosen = filtered.select_one("nav.facets a.chosen")
    assert chosen.get_text() == "Le Monde" and chosen["aria-current"] == "true"
    assert filtered.select_one('form input[name="source"]')["value"] == "Le Monde"
    back = BeautifulSoup(client.get(chosen["href"]).data, "html.parser")
    assert len(back.select("ol.hits li.hit")) == len(doc.select("ol.hits li.hit"))


def test_the_cli_filters_and_prints_facets(web_index_path):
    env = os.environ | {"PYTHONPATH": str(ROOT)}

    def query(*args):
        command = [sys.executable, "-m", "search", "query", "gouvernement"]
        run = subprocess.run(
            [*command, "--index", str(web_index_path), *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        return run.stdout

    text = query()
    assert "Sources : " in text and "Le Monde (" in text
    body = json.loads(query("--source", "Le Figaro", "--source", "Les Échos", "--json"))
    assert {hit["source"] for hit in body["hits"]} == {"Le Figaro", "Les Échos"}


def test_a_page_of_filters_alone_says_it_lists_the_newest_first(client, web_articles):
    page = BeautifulSoup(client.get('/?q=source:"Le Monde"').data, "html.parser")
    assert page.select_one("p.sort").get_text().strip() == "Du plus récent au plus ancien"
    assert page.select("p.sort a") == []  # no « pertinence » that would give the same page
    shown = len(page.select("ol.hits li.hit"))
    expected = sum(a.get("source") == "Le Monde" for a in web_articles)
    assert shown == min(expected, 10) and shown > 0
