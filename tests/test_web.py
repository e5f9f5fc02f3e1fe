"""The HTML pages: search, article, errors; parsed with BeautifulSoup, on a real index."""

import dataclasses
import datetime as dt
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup
from conftest import write_jsonl

from search import Index, build_index
from web import create_app
from web.views import date_fr, page_numbers, totals_text

XSS = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
COOPERATION_TITLE = "La France et le Maroc relancent leur coopération sécuritaire"


def page(response) -> BeautifulSoup:
    assert response.mimetype == "text/html"
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


def titles(doc: BeautifulSoup) -> list[str]:
    return [a.get_text() for a in doc.select("ol.hits .hit-title a")]


def query_args(href: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(href).query).items()}


def text_of(doc: BeautifulSoup) -> str:
    return " ".join(doc.get_text(" ").split())


# --- The search page -------------------------------------------------------------------


def test_home_page_is_a_french_accessible_search_form(client):
    response = client.get("/")
    assert response.status_code == 200
    doc = page(response)
    assert doc.html["lang"] == "fr"
    assert doc.find("meta", attrs={"name": "viewport"})["content"].startswith("width=device-width")
    form = doc.find("form", class_="search")
    assert form["method"] == "get"
    assert form["action"] == "/"
    field = form.find("input", attrs={"name": "q"})
    label = doc.find("label", attrs={"for": field["id"]})
    assert label.get_text(strip=True) == "Rechercher dans les articles"
    assert form.find("button", attrs={"type": "submit"})
    for name in ("since", "until"):
        date_input = form.find("input", attrs={"name": name})
        assert date_input["type"] == "date"
        assert doc.find("label", attrs={"for": date_input["id"]})
    stylesheet = doc.find("link", rel="stylesheet")["href"]
    with client.get(stylesheet) as response:
        assert response.status_code == 200
        assert response.mimetype == "text/css"
    assert not doc.select("ol.hits")


def test_results_show_title_date_source_snippet_and_link(client):
    api = client.get("/api/search", query_string={"q": "coopération sécuritaire"}).get_json()
    doc = page(client.get("/", query_string={"q": "coopération sécuritaire"}))
    assert titles(doc) == [hit["title"] for hit in api["hits"]]
    assert titles(doc)[0] == COOPERATION_TITLE
    first = doc.select_one("ol.hits li.hit")
    link = first.select_one(".hit-title a")["href"]
    best = api["hits"][0]["passages"][0]["position"]
    assert urlsplit(link).path == "/articles/cooperation-maroc"
    assert urlsplit(link).fragment == f"p{best}"
    assert query_args(link) == {"q": "coopération sécuritaire"}
    assert first.select_one(".meta time").get_text() == "5 mai 2024"
    assert first.select_one(".meta time")["datetime"] == "2024-05-05"
    assert first.select_one(".meta .source").get_text() == "Le Monde"
    marks = [m.get_text() for m in first.select("p.snippet mark")]
    assert marks == ["coopération sécuritaire"]
    # The article matches in two passages: the best is the snippet, the other is listed.
    more = first.select(".more-passages li")
    assert len(more) == len(api["hits"][0]["passages"]) - 1 == 1
    assert more[0].select_one("mark").get_text() == "coopération sécuritaire"
    other = api["hits"][0]["passages"][1]["position"]
    assert urlsplit(more[0].a["href"]).fragment == f"p{other}"


def test_totals_and_time_taken(client):
    doc = page(client.get("/?q=coopération+sécuritaire"))
    total = doc.select_one(".summary .total").get_text(" ", strip=True)
    assert re.fullmatch(r"2 articles, 3 passages en \d+(,\d)? ms", total)
    doc = page(client.get("/?q=chercheurs"))
    assert doc.select_one(".summary .total").get_text().startswith("1 article, 2 passages ")


def test_an_estimated_total_says_au_moins_and_copies_are_counted_apart(web_index_path):
    index = Index.open(web_index_path)
    try:
        results = index.search("coopération sécuritaire")
    finally:
        index.close()
    assert totals_text(results) == "2 articles, 3 passages"
    estimated = dataclasses.replace(results, total_is_estimate=True)
    assert totals_text(estimated) == "au moins 2 articles, 3 passages"  # a timed-out search
    collapsed = dataclasses.replace(results, collapsed=3)
    assert totals_text(collapsed) == "2 articles (et 3 copies regroupées), 3 passages"
    big = dataclasses.replace(results, total=12345, total_passages=1)
    assert totals_text(big) == "12\u202f345 articles, 1 passage"


@pytest.mark.parametrize(
    ("day", "french"),
    [
        (dt.date(2024, 5, 5), "5 mai 2024"),
        (dt.date(2023, 12, 1), "1er décembre 2023"),
        (dt.date(2024, 8, 15), "15 août 2024"),
        (None, ""),
    ],
)
def test_french_dates(day, french):
    assert date_fr(day) == french


@pytest.mark.parametrize(
    ("current", "last", "shown"),
    [
        (1, 2, [1, 2]),
        (1, 20, [1, 2, 3, None, 20]),
        (10, 20, [1, None, 8, 9, 10, 11, 12, None, 20]),
        (20, 20, [1, None, 18, 19, 20]),
        (4, 6, [1, 2, 3, 4, 5, 6]),
    ],
)
def test_page_numbers(current, last, shown):
    assert page_numbers(current, last) == shown


def test_first_of_the_month_is_written_1er(client):
    doc = page(client.get("/?q=énergie+ménages"))
    assert doc.select_one("ol.hits .meta time").get_text() == "1er décembre 2023"


def test_an_article_without_date_or_source_shows_neither(client):
    doc = page(client.get("/?q=dépêche+anonyme"))
    hit = doc.select_one("ol.hits li.hit")
    assert hit.select_one(".hit-title a").get_text() == "Une dépêche sans date ni source"
    assert hit.select_one(".meta") is None


def test_pagination_walks_through_every_result_in_rank_order(client):
    api = client.get("/api/search?q=gouvernement&per_page=100").get_json()
    assert api["total"] == 12
    seen = []
    url = "/?q=gouvernement&per_page=5"
    for number in (1, 2, 3):
        doc = page(client.get(url))
        assert doc.select_one("ol.hits")["start"] == str((number - 1) * 5 + 1)
        seen += titles(doc)
        nav = doc.select_one("nav.pagination")
        current = nav.select_one('[aria-current="page"]')
        assert current.get_text() == str(number)
        assert [a.get_text() for a in nav.select("a") if a.get_text().isdigit()] == ["1", "2", "3"]
        prev_link = nav.select_one('a[rel="prev"]')
        next_link = nav.select_one('a[rel="next"]')
        assert (prev_link is None) == (number == 1)
        assert (next_link is None) == (number == 3)
        if next_link is not None:
            assert query_args(next_link["href"]) == {
                "q": "gouvernement",
                "limit": "5",
                "page": str(number + 1),
            }
            url = next_link["href"]
    assert seen == [hit["title"] for hit in api["hits"]]


def test_a_page_past_the_end_says_so(client):
    response = client.get("/?q=gouvernement&page=40")
    assert response.status_code == 200
    doc = page(response)
    assert not doc.select("ol.hits")
    assert "au-delà de la dernière" in text_of(doc)
    back = doc.find("a", string="Revenir à la première page")
    assert query_args(back["href"]) == {"q": "gouvernement"}


def test_sort_switch_orders_by_date_newest_first(client):
    doc = page(client.get("/?q=gouvernement"))
    switch = doc.select_one(".sort")
    assert "Trier par" in switch.get_text()
    links = {a.get_text(): a for a in switch.select("a")}
    assert set(links) == {"pertinence", "date"}
    assert links["pertinence"].get("aria-current") == "true"
    assert query_args(links["date"]["href"]) == {"q": "gouvernement", "sort": "date"}

    doc = page(client.get(links["date"]["href"]))
    assert doc.select_one(".sort a[aria-current]").get_text() == "date"
    dates = [li.select_one("time")["datetime"] for li in doc.select("ol.hits li.hit")]
    assert dates == sorted(dates, reverse=True)
    assert dates[0] == "2024-05-27"
    # The sort is kept by the form and by the pagination.
    assert doc.select_one('form.search input[name="sort"]')["value"] == "date"
    assert query_args(doc.select_one('nav.pagination a[rel="next"]')["href"])["sort"] == "date"


def test_date_filters_are_inclusive_and_fill_the_form(client):
    doc = page(client.get("/?q=gouvernement&since=2024-05-05&until=2024-05-18"))
    assert sorted(titles(doc)) == [
        COOPERATION_TITLE,
        "Rentrée scolaire : les syndicats inquiets",
    ]
    assert doc.select_one('input[name="since"]')["value"] == "2024-05-05"
    assert doc.select_one('input[name="until"]')["value"] == "2024-05-18"
    assert "Du 5 mai 2024 au 18 mai 2024" in doc.select_one(".period").get_text()


def test_the_query_s_own_period_is_shown_too(client):
    doc = page(client.get("/?q=gouvernement+depuis:2024-05-05"))
    period = doc.select_one(".period")
    assert " ".join(period.get_text(" ").split()) == "Depuis le 5 mai 2024"
    assert period.find("a") is None  # the query's dates are in the query: no link to drop


def test_an_empty_date_from_the_form_means_no_filter(client):
    response = client.get("/?q=gouvernement&since=&until=")
    assert response.status_code == 200
    assert len(titles(page(response))) == 10


def test_timeline_bars_link_to_their_month(client):
    doc = page(client.get("/?q=gouvernement&sort=date"))
    svg = doc.select_one("figure.timeline svg")
    assert svg is not None
    bars = {a["aria-label"]: a for a in svg.find_all("a")}
    assert "mai 2024 : 3 articles" in bars
    assert "février 2024 : 1 article" in bars
    assert not any(label.startswith("octobre 2023") for label in bars)  # no match that month
    may = query_args(bars["mai 2024 : 3 articles"]["href"])
    assert may == {
        "q": "gouvernement",
        "sort": "date",
        "since": "2024-05-01",
        "until": "2024-05-31",
    }
    february = query_args(bars["février 2024 : 1 article"]["href"])
    assert (february["since"], february["until"]) == ("2024-02-01", "2024-02-29")
    for rect in svg.select("rect.bar"):
        assert float(rect["height"]) > 0
    doc = page(client.get(bars["mai 2024 : 3 articles"]["href"]))
    assert len(titles(doc)) == 3


def test_spelling_suggestion_is_a_link(client):
    doc = page(client.get("/?q=Mroc"))
    suggestion = doc.select_one(".suggestion")
    assert suggestion.get_text(" ", strip=True) == "Essayez : Maroc"
    assert query_args(suggestion.a["href"]) == {"q": "Maroc"}
    doc = page(client.get(suggestion.a["href"]))
    assert COOPERATION_TITLE in titles(doc)


def test_no_results_page(client):
    response = client.get("/?q=zeppelin+aérostat")
    assert response.status_code == 200
    doc = page(response)
    assert not doc.select("ol.hits")
    assert doc.select_one(".empty h2").get_text() == "Aucun résultat"
    assert "Aucun article ne correspond à « zeppelin aérostat »" in text_of(doc)
    assert doc.select_one('input[name="q"]')["value"] == "zeppelin aérostat"
    assert "Vérifiez l'orthographe des mots." in text_of(doc)


def test_no_results_for_words_under_a_filter_says_the_filter_not_the_spelling(client):
    doc = page(client.get("/?q=coopération&source=Ouest-France"))
    empty = doc.select_one(".empty")
    assert "Aucun article ne correspond à « coopération » avec ces filtres." in text_of(empty)
    assert "orthographe" not in text_of(empty)
    link = empty.select_one("a")
    assert link.get_text() == "Chercher sans le filtre de source ou de rubrique"
    assert "source=" not in link["href"]
    assert COOPERATION_TITLE in titles(page(client.get(link["href"])))
    period = page(client.get("/?q=coopération+depuis:2030"))
    assert "sur cette période" in text_of(period.select_one(".empty"))
    assert "orthographe" not in text_of(period.select_one(".empty"))
    assert "Élargissez la période que la recherche indique" in text_of(period.select_one(".empty"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("page=abc", "Le numéro de page doit être un nombre entier entre 1 et 1000."),
        ("page=0", "Le numéro de page doit être un nombre entier entre 1 et 1000."),
        ("per_page=100000", "entre 1 et 100"),
        ("since=2024-13-45", "La date de début n'est pas une date valide"),
        ("until=demain", "La date de fin n'est pas une date valide"),
        ("sort=popularite", "Le tri (sort) doit valoir relevance ou date."),
        ("since=2024-06-01&until=2024-05-01", "postérieure"),
    ],
)
def test_bad_parameters_show_a_french_message_with_status_400(client, args, message):
    response = client.get("/?q=gouvernement&" + args if "q=" not in args else "/?" + args)
    assert response.status_code == 400
    doc = page(response)
    error = doc.select_one('.error[role="alert"]')
    assert message in error.get_text()
    assert doc.select_one("form.search input[name=q]") is not None
    assert "Traceback" not in response.get_data(as_text=True)


# --- The article page ------------------------------------------------------------------


def test_article_page_highlights_the_matching_passages(client):
    response = client.get("/articles/cooperation-maroc?q=coopération+sécuritaire")
    assert response.status_code == 200
    doc = page(response)
    assert doc.h1.get_text() == COOPERATION_TITLE
    assert doc.select_one(".meta time").get_text() == "5 mai 2024"
    assert doc.select_one(".meta .source").get_text() == "Le Monde"
    original = doc.select_one(".original a")
    assert original["href"] == "https://www.example.fr/monde/2024/05/05/cooperation-maroc"
    assert set(original["rel"]) == {"noopener", "noreferrer"}
    passages = doc.select(".passages .passage")
    assert [p["id"] for p in passages] == ["p0", "p1", "p2", "p3"]
    matching = [p["id"] for p in passages if "match" in p["class"]]
    assert matching == ["p0", "p2"]
    for passage in passages:
        marks = [m.get_text() for m in passage.select("mark")]
        assert marks == (["coopération sécuritaire"] if passage["id"] in matching else [])
    # The script that scrolls to the first match is a file: no inline script.
    scripts = doc.find_all("script")
    assert [s["src"] for s in scripts] == ["/static/article.js"]
    assert all(not s.string for s in scripts)
    with client.get("/static/article.js") as script:
        assert script.status_code == 200
        assert "javascript" in script.mimetype


def test_article_page_without_query_has_no_highlight(client):
    doc = page(client.get("/articles/cooperation-maroc"))
    assert not doc.select("mark")
    assert not doc.select(".passage.match")
    assert len(doc.select(".passage")) == 4


def test_article_without_date_url_or_source(client):
    doc = page(client.get("/articles/depeche-sans-date"))
    assert doc.h1.get_text() == "Une dépêche sans date ni source"
    assert doc.select_one(".meta") is None
    assert doc.select_one(".original") is None


def test_a_too_long_query_is_searched_from_its_beginning_with_a_note(client):
    response = client.get("/", query_string={"q": "gouvernement " + "x" * 2000})
    assert response.status_code == 200
    doc = page(response)
    assert titles(doc)
    assert "1000 premiers caractères" in doc.select_one("p.note").get_text()


def test_unknown_article_is_a_french_404_page(client):
    response = client.get("/articles/pas-un-article")
    assert response.status_code == 404
    doc = page(response)
    assert doc.html["lang"] == "fr"
    assert doc.h1.get_text() == "Article introuvable"


def test_unknown_page_is_a_french_404_page(client):
    response = client.get("/nulle-part")
    assert response.status_code == 404
    assert page(response).h1.get_text() == "Page introuvable"


# --- Safety ----------------------------------------------------------------------------


def test_hostile_article_is_shown_as_text_in_the_results(client):
    response = client.get("/?q=chercheurs")
    doc = page(response)
    assert doc.find_all("script") == []
    assert doc.find_all("img") == []
    assert not [tag for tag in doc.find_all(True) if any(a.startswith("on") for a in tag.attrs)]
    assert titles(doc) == [f"Une faille {XSS} dans un site officiel {IMG}"]
    snippets = " ".join(s.get_text() for s in doc.select(".snippet"))
    assert XSS in snippets
    assert IMG in snippets
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.get_data(as_text=True)


def test_hostile_article_is_shown_as_text_on_its_page(client):
    doc = page(client.get("/articles/faille-xss?q=chercheurs"))
    assert [s.get("src") for s in doc.find_all("script")] == ["/static/article.js"]
    assert doc.find_all("img") == []
    assert doc.h1.get_text() == f"Une faille {XSS} dans un site officiel {IMG}"
    assert XSS in doc.select_one("#p0").get_text()
    # Its url is javascript:alert(1): not a link anyone can follow.
    assert not [a for a in doc.find_all("a") if a["href"].lower().startswith("javascript")]
    assert doc.select_one(".original") is None


def test_the_query_is_escaped_everywhere(client):
    hostile = '"><script>alert(2)</script>'
    for url in ("/", "/articles/cooperation-maroc"):
        doc = page(client.get(url, query_string={"q": hostile}))
        assert doc.select_one('input[name="q"]')["value"] == hostile
        assert all(s.get("src") for s in doc.find_all("script"))


def test_an_error_page_keeps_the_good_parameters_in_its_form(client):
    response = client.get(
        "/?q=gouvernement&sort=date&source=Le+Monde&until=2019-01-01&since=2021-01-01&page=x"
    )
    assert response.status_code == 400
    form = page(response).select_one("form.search")
    assert form.select_one("input[name=q]")["value"] == "gouvernement"
    assert form.select_one("input[name=sort]")["value"] == "date"
    assert form.select_one("input[name=source]")["value"] == "Le Monde"
    assert form.select_one("input[name=until]")["value"] == "2019-01-01"


def test_an_article_leads_back_to_the_page_of_results_it_was_opened_from(client):
    search = "/?q=gouvernement&sort=date&limit=5&page=2&since=2023"
    doc = page(client.get(search))
    link = doc.select_one("ol.hits .hit-title a")["href"]
    article = page(client.get(link))
    back = urlsplit(article.find("a", string="Retour aux résultats")["href"])
    assert back.path == "/"
    assert parse_qs(back.query) == {
        "q": ["gouvernement"],
        "sort": ["date"],
        "limit": ["5"],
        "page": ["2"],
        "since": ["2023-01-01"],
    }
    # a link edited by hand leads back to the query alone
    for carried in ("page%3Dx", "ZZZ", "sort%3Ddate%26" + "x" * 3000):
        edited = page(client.get(f"/articles/ecole?q=gouvernement&retour={carried}"))
        assert edited.find("a", string="Retour aux résultats")["href"] in (
            "/?q=gouvernement",
            "/?q=gouvernement&sort=date",
        )
        assert all(len(a["href"]) < 500 for a in edited.select("a[href]"))


def test_control_characters_of_a_query_are_shown_as_spaces(client):
    for url in ("/", "/articles/cooperation-maroc", "/api/search"):
        response = client.get(url, query_string={"q": "Maroc\x00coopération\x1b\x01"})
        assert response.status_code == 200
        assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", response.data)
    doc = page(client.get("/", query_string={"q": "Maroc\x00coopération"}))
    assert doc.select_one('input[name="q"]')["value"] == "Maroc coopération"
    assert "Maroc coopération" in doc.title.get_text()


@pytest.mark.parametrize("url", ["/", "/?q=gouvernement", "/articles/ecole", "/nulle-part"])
def test_security_headers(client, url):
    response = client.get(url)
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]


def test_pages_have_no_inline_style_or_script(client):
    for url in ("/?q=gouvernement", "/articles/cooperation-maroc?q=gouvernement"):
        doc = page(client.get(url))
        assert doc.find_all("style") == []
        assert not doc.select("[style]")
        assert all(s.get("src") and not s.string for s in doc.find_all("script"))


# --- When things go wrong --------------------------------------------------------------


def test_pages_say_the_index_is_not_built_then_serve_it_once_built(tmp_path, web_corpus_path):
    index = tmp_path / "index"
    app = create_app({"TESTING": True, "VEILLE_INDEX": str(index)})
    client = app.test_client()
    for url in ("/", "/?q=gouvernement", "/articles/ecole"):
        response = client.get(url)
        assert response.status_code == 503
        doc = page(response)
        assert "L'index n'est pas encore construit…" in doc.select_one(".message").get_text()
        assert "Traceback" not in response.get_data(as_text=True)
    # Built later, the index is picked up by the running app.
    build_index(web_corpus_path, index)
    assert client.get("/?q=gouvernement").status_code == 200
    app.extensions["veille_index"].close()


def test_an_unexpected_error_is_a_french_500_page_without_traceback(web_index_path, caplog):
    app = create_app({"VEILLE_INDEX": str(web_index_path), "PROPAGATE_EXCEPTIONS": False})

    def boom():
        raise RuntimeError("secret detail of the failure")

    app.add_url_rule("/boom", view_func=boom)
    app.add_url_rule("/api/boom", endpoint="api_boom", view_func=boom)
    client = app.test_client()

    response = client.get("/boom")
    assert response.status_code == 500
    body = response.get_data(as_text=True)
    doc = page(response)
    assert doc.h1.get_text() == "Une erreur est survenue"
    assert doc.html["lang"] == "fr"
    assert "Traceback" not in body
    assert "secret detail" not in body
    assert "RuntimeError" not in body
    assert response.headers["Content-Security-Policy"]

    response = client.get("/api/boom")
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal server error"}
    assert "secret detail" not in response.get_data(as_text=True)
    # ...but the server's log has it all.
    logged = [r for r in caplog.records if r.exc_info]
    assert logged
    assert "secret detail of the failure" in str(logged[0].exc_info[1])


def test_the_app_never_writes_to_the_index(client, web_index_path):
    def snapshot() -> dict[str, tuple[int, int]]:
        return {
            str(path.relative_to(web_index_path)): (path.stat().st_size, path.stat().st_mtime_ns)
            for path in sorted(web_index_path.rglob("*"))
            if path.is_file()
        }

    before = snapshot()
    for url in ("/?q=gouvernement", "/articles/ecole?q=élus", "/api/search?q=lutte", "/healthz"):
        assert client.get(url).status_code == 200
    assert snapshot() == before


def test_each_result_explains_itself(client):
    soup = BeautifulSoup(client.get("/?q=coopération sécuritaire").data, "html.parser")
    hits = soup.select("li.hit")
    assert hits
    for hit in hits:
        why = hit.select_one("details.why")
        assert why.summary.get_text(strip=True) == "Pourquoi ce résultat ?"
        lines = [li.get_text() for li in why.select("li")]
        assert any(line.startswith("Mots cherchés") and "coopération" in line for line in lines)


# --- The timeline over a period, or a long span ------------------------------------------


def test_timeline_bars_link_within_the_searched_period(client):
    doc = page(client.get("/?q=gouvernement&since=2024-04-15&until=2024-05-20"))
    bars = {a["aria-label"]: a["href"] for a in doc.select("figure.timeline svg a")}
    assert set(bars) == {"avril 2024 : 1 article", "mai 2024 : 2 articles"}
    april = query_args(bars["avril 2024 : 1 article"])
    assert (april["since"], april["until"]) == ("2024-04-15", "2024-04-30")
    may = query_args(bars["mai 2024 : 2 articles"])
    assert (may["since"], may["until"]) == ("2024-05-01", "2024-05-20")
    # Each bar links the articles it counts, no more.
    assert len(titles(page(client.get(bars["avril 2024 : 1 article"])))) == 1
    assert len(titles(page(client.get(bars["mai 2024 : 2 articles"])))) == 2


@pytest.fixture(scope="module")
def centuries_client(tmp_path_factory):
    """The app on articles dated from the year 999 to 9999 (mistyped dates, say)."""
    dates = ["0999-03-04", "1995-02-01", "2020-07-20", "2020-07-25", "2020-08-05", "9999-12-31"]
    records = [
        {
            "id": f"maroc-{date}",
            "title": f"Le Maroc, {date}",
            "date": date,
            "source": "AFP",
            "text": f"Une dépêche sur le Maroc datée du {date}.",
        }
        for date in dates
    ]
    folder = tmp_path_factory.mktemp("centuries")
    build_index(write_jsonl(folder / "corpus" / "a.jsonl", records), folder / "index")
    app = create_app({"TESTING": True, "VEILLE_INDEX": str(folder / "index")})
    yield app.test_client()
    app.extensions["veille_index"].close()


@pytest.mark.parametrize(
    ("args", "unit", "labels"),
    [
        (
            "",
            "siècle",
            [
                "900–999 : 1 article",
                "1900–1999 : 1 article",
                "2000–2099 : 3 articles",
                "9900–9999 : 1 article",
            ],
        ),
        (
            "&since=1990",
            "siècle",
            ["1900–1999 : 1 article", "2000–2099 : 3 articles", "9900–9999 : 1 article"],
        ),
        (
            "&until=2030",
            "décennie",
            ["990–999 : 1 article", "1990–1999 : 1 article", "2020–2029 : 3 articles"],
        ),
        ("&since=1990&until=2030", "année", ["1995 : 1 article", "2020 : 3 articles"]),
        ("&since=2020", "siècle", ["2000–2099 : 3 articles", "9900–9999 : 1 article"]),
        ("&since=2020&until=2021", "mois", ["juillet 2020 : 2 articles", "août 2020 : 1 article"]),
    ],
)
def test_a_long_timeline_groups_its_bars_by_year_or_more(centuries_client, args, unit, labels):
    doc = page(centuries_client.get("/?q=Maroc" + args))
    timeline = doc.select_one("figure.timeline")
    assert timeline.figcaption.get_text() == f"Articles trouvés par {unit}"
    bars = timeline.select("svg a")
    assert [a["aria-label"] for a in bars] == labels
    for bar in bars:
        # At most 120 slots on the 600 px: every bar can be seen and clicked.
        assert float(bar.select_one("rect.slot")["width"]) >= 5
        assert float(bar.select_one("rect.bar")["width"]) >= 4
        counted = int(bar["aria-label"].split(" : ")[1].split()[0])
        assert len(titles(page(centuries_client.get(bar["href"])))) == counted


# --- The form, a filter-only search, a wrong method ---------------------------------------


def test_the_search_form_keeps_every_copy_when_asked(client):
    def form_fields(**sent: str) -> dict[str, str]:
        form = page(client.get("/", query_string=sent)).select_one("form.search")
        return {field["name"]: field.get("value", "") for field in form.select("input[name]")}

    assert "collapse" not in form_fields(q="gouvernement")  # the default: copies regrouped
    fields = form_fields(q="gouvernement", collapse="false", sort="date")
    assert fields["collapse"] == "false"
    # The form sent again (a new query, say) still shows every copy.
    resent = form_fields(**fields)
    assert resent["collapse"] == "false" and resent["sort"] == "date"


def test_filters_alone_without_results_say_so_without_spelling_tips(client):
    response = client.get("/?source=AFP")
    assert response.status_code == 200
    empty = page(response).select_one(".empty")
    text = " ".join(empty.get_text(" ").split())
    assert empty.h2.get_text() == "Aucun résultat"
    assert "Aucun article ne correspond à ces filtres." in text
    assert "«" not in text and "orthographe" not in text
    assert "source ou de la rubrique" in text

    empty = page(client.get("/?category=sport&since=2024-01")).select_one(".empty")
    text = " ".join(empty.get_text(" ").split())
    assert "Aucun article ne correspond à ces filtres sur cette période." in text
    every_date = empty.find("a", string="Chercher sur toutes les dates")
    assert query_args(every_date["href"]) == {"category": "sport"}


def test_a_wrong_method_is_a_french_405_page_saying_what_is_allowed(client):
    response = client.post("/", data={"q": "gouvernement"})
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} >= {"GET", "HEAD"}
    assert "POST" not in response.headers["Allow"]
    doc = page(response)
    assert doc.h1.get_text() == "Méthode non autorisée"


def test_results_past_the_last_page_a_request_may_ask_for_are_said(tmp_path):
    records = [
        {"id": f"l{n}", "title": f"Lyon {n}", "text": f"Lyon, jour {n}."} for n in range(1005)
    ]
    build_index(write_jsonl(tmp_path / "c" / "a.jsonl", records), tmp_path / "index")
    client = create_app({"TESTING": True, "VEILLE_INDEX": str(tmp_path / "index")}).test_client()
    doc = page(client.get("/?q=Lyon&limit=1"))
    notice = doc.select_one("nav.pagination .beyond-pages")
    assert notice is not None and "Les 1\u202f000 premiers résultats" in notice.get_text()
    numbers = [a.get_text() for a in doc.select("nav.pagination a")]
    assert "1000" in numbers and "1001" not in numbers
    assert page(client.get("/?q=Lyon&limit=2")).select_one(".beyond-pages") is None


def test_a_note_reads_as_a_sentence_and_quotes_the_date_as_typed(client):
    doc = page(client.get("/", query_string={"q": "gouvernement date:31 février 2024"}))
    notes = [p.get_text() for p in doc.select("p.note")]
    assert "Date ignorée : 31 février 2024" in notes
    assert all(note[:1] == note[:1].upper() for note in notes)
