"""The JSON API, a contract: every parameter, the errors, and the OpenAPI document."""

import datetime as dt

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from web import create_app

ARTICLE_HIT_KEYS = {
    *("article_id", "title", "date", "time", "source", "url", "score", "passages"),
    "duplicates",
}
PASSAGE_HIT_KEYS = {
    "article_id",
    "title",
    "date",
    "time",
    "source",
    "url",
    "position",
    "text",
    "snippet",
    "score",
}
SEARCH_KEYS = {
    "query",
    "total",
    "page",
    "limit",
    "took_ms",
    "suggestion",
    "notes",
    "timed_out",
    "hits",
}


def get_json(client, url: str, status: int = 200, **params) -> dict:
    response = client.get(url, query_string=params)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def search(client, status: int = 200, **params) -> dict:
    return get_json(client, "/api/search", status, **params)


def ids(body: dict) -> list[str]:
    return [hit["article_id"] for hit in body["hits"]]


# --- /api/search -----------------------------------------------------------------------


def test_search_article_hits_shape(client):
    body = search(client, q="coopération sécuritaire")
    assert set(body) >= SEARCH_KEYS
    assert body["query"] == "coopération sécuritaire"
    assert (body["total"], body["page"], body["limit"]) == (2, 1, 10)
    assert body["suggestion"] is None
    assert isinstance(body["took_ms"], int | float)
    assert body["took_ms"] >= 0
    assert ids(body) == ["cooperation-maroc", "sahel-armee"]
    hit = body["hits"][0]
    assert set(hit) == ARTICLE_HIT_KEYS
    assert hit["title"] == "La France et le Maroc relancent leur coopération sécuritaire"
    assert (hit["date"], hit["source"]) == ("2024-05-05", "Le Monde")
    assert hit["url"] == "https://www.example.fr/monde/2024/05/05/cooperation-maroc"
    assert [set(p) for p in hit["passages"]] == [{"position", "text", "snippet", "score"}] * 2
    assert sorted(p["position"] for p in hit["passages"]) == [0, 2]
    scores = [p["score"] for p in hit["passages"]]
    assert scores == sorted(scores, reverse=True)  # best first
    # A word alone keeps the first stage: an article is ranked by its best passage, a
    # share of the others and its whole text (two words or more: the model's score).
    alone = search(client, q="coopération")["hits"][0]
    assert alone["score"] > max(p["score"] for p in alone["passages"])
    assert [h["score"] for h in body["hits"]] == sorted(
        (h["score"] for h in body["hits"]), reverse=True
    )
    for passage in hit["passages"]:
        assert "<mark>coopération sécuritaire</mark>" in passage["snippet"]
        assert "<mark>" not in passage["text"]


def test_an_article_hit_has_at_most_three_passages(client):
    body = search(client, q="gouvernement OU lutte OU chercheurs OU coopération OU élus")
    assert body["hits"]
    assert max(len(hit["passages"]) for hit in body["hits"]) == 3
    assert all(1 <= len(hit["passages"]) <= 3 for hit in body["hits"])


def test_search_passage_hits_shape(client):
    body = search(client, q="coopération sécuritaire", group="passage")
    assert body["total"] == 3  # passages, not articles
    assert body["group"] == "passage"
    for hit in body["hits"]:
        assert set(hit) == PASSAGE_HIT_KEYS
        assert "<mark>" in hit["snippet"]
    assert sorted((h["article_id"], h["position"]) for h in body["hits"]) == [
        ("cooperation-maroc", 0),
        ("cooperation-maroc", 2),
        ("sahel-armee", 1),
    ]


def test_absent_date_source_and_url_are_null(client):
    (hit,) = search(client, q="dépêche anonyme")["hits"]
    assert hit["article_id"] == "depeche-sans-date"
    assert (hit["date"], hit["source"], hit["url"]) == (None, None, None)


def test_corpus_text_is_raw_in_text_and_escaped_in_snippets(client):
    (hit,) = search(client, q="chercheurs")["hits"]
    assert hit["title"].startswith("Une faille <script>alert(1)</script>")
    by_position = {p["position"]: p for p in hit["passages"]}
    assert "<script>alert(1)</script>" in by_position[0]["text"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in by_position[0]["snippet"]
    assert "<script>" not in by_position[0]["snippet"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in by_position[1]["snippet"]


@pytest.mark.parametrize("q", ["", "   "])
def test_empty_query_has_no_hits(client, q):
    body = search(client, q=q)
    assert (body["total"], body["hits"]) == (0, [])


def test_missing_query_has_no_hits(client):
    assert get_json(client, "/api/search")["hits"] == []


def test_a_typo_is_read_and_a_short_unknown_word_gets_a_suggestion(client):
    body = search(client, q="coopératoin")
    assert body["total"] == 2 and body["suggestion"] is None
    assert body["readings"] == [{"typed": "coopératoin", "read": "coopération"}]
    assert "« coopératoin » lu comme « coopération »" in body["notes"]
    body = search(client, q="Mroc")
    assert body["total"] == 0 and body["suggestion"] == "Maroc"


@pytest.mark.parametrize("name", ["limit", "per_page"])
@pytest.mark.parametrize("limit", [1, 5, 50, 100])
def test_limit_and_its_alias_per_page_are_obeyed(client, name, limit):
    body = search(client, q="gouvernement", **{name: limit})
    assert body["limit"] == limit
    assert len(body["hits"]) == min(limit, 12)


def test_pages_split_the_results_without_overlap(client):
    everything = ids(search(client, q="gouvernement", per_page=100))
    assert len(everything) == 12
    pages = [ids(search(client, q="gouvernement", per_page=5, page=n)) for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [5, 5, 2]
    assert pages[0] + pages[1] + pages[2] == everything


@pytest.mark.parametrize("page", [4, 1000])
def test_a_page_past_the_end_is_200_with_no_hits(client, page):
    body = search(client, q="gouvernement", per_page=5, page=page)
    assert body["hits"] == []
    assert body["total"] == 12
    assert body["page"] == page


def test_sort_by_date_is_newest_first_undated_last(client):
    body = search(client, q="gouvernement", sort="date", per_page=100)
    assert body["sort"] == "date"
    dates = [hit["date"] for hit in body["hits"]]
    assert dates[-1] is None  # the undated dispatch
    assert dates[:-1] == sorted(dates[:-1], reverse=True)
    assert dates[0] == "2024-05-27"


def test_since_and_until_are_inclusive(client):
    body = search(client, q="gouvernement", since="2024-05-05", until="2024-05-18")
    assert sorted(ids(body)) == ["cooperation-maroc", "ecole"]
    body = search(client, q="gouvernement", since="2024-05-18")
    assert sorted(ids(body)) == ["ecole", "hopital"]
    body = search(client, q="gouvernement", until="2023-09-03")
    assert sorted(ids(body)) == ["budget-2023", "retraites"]
    body = search(client, q="gouvernement", since="2024-05-05", until="2024-05-05")
    assert ids(body) == ["cooperation-maroc"]


def test_date_filters_combine_with_group_and_sort(client):
    body = search(
        client, q="gouvernement", since="2024-01-01", group="passage", sort="date", per_page=100
    )
    dates = [dt.date.fromisoformat(hit["date"]) for hit in body["hits"]]
    assert dates == sorted(dates, reverse=True)
    assert min(dates) >= dt.date(2024, 1, 1)


def test_timeline_counts_matching_articles_by_month(client):
    body = search(client, q="gouvernement")
    timeline = {row["month"]: row["articles"] for row in body["timeline"]}
    assert timeline["2024-05"] == 3
    assert sum(timeline.values()) == 11  # the twelfth has no date


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"page": "abc"}, "page"),
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "1001"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"per_page": "0"}, "per_page"),
        ({"per_page": "101"}, "per_page"),
        ({"per_page": "100000"}, "per_page"),
        ({"per_page": "dix"}, "per_page"),
        ({"since": "2024-13-01"}, "since"),
        ({"since": "05/13/2024"}, "since"),  # French dates put the day first
        ({"since": "mai"}, "since"),
        ({"until": "hier"}, "until"),
        ({"until": "2024-02-30"}, "until"),
        ({"since": "2024-06-01", "until": "2024-05-01"}, "since"),
        ({"sort": "popularity"}, "sort"),
        ({"group": "source"}, "group"),
    ],
)
def test_invalid_parameters_are_400_naming_the_parameter(client, params, parameter):
    body = search(client, 400, **({"q": "gouvernement"} | params))
    assert set(body) == {"error", "parameter"}
    assert body["parameter"] == parameter
    assert body["error"].startswith(f"{parameter}: ")


def test_the_longest_query_allowed(client):
    assert search(client, q="gouvernement " + "a" * 987)["query"]


def test_unknown_api_path_and_wrong_method_are_json(client):
    assert "error" in get_json(client, "/api/nothing-here", 404)
    response = client.post("/api/search", data={"q": "x"})
    assert response.status_code == 405
    assert "error" in response.get_json()


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/api/search", "/api/articles/ecole", "/healthz"])
def test_a_wrong_method_is_a_json_405_saying_what_is_allowed(client, method, path):
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert "error" in response.get_json()
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert {"GET", "HEAD"} <= allowed and method not in allowed


# --- /api/articles/<id> and /healthz ---------------------------------------------------


def test_article(client, web_articles):
    body = get_json(client, "/api/articles/cooperation-maroc")
    assert set(body) == {
        *("article_id", "title", "date", "time", "source", "url", "passages"),
        *("total_passages", "page", "pages"),
    }
    assert (body["total_passages"], body["page"], body["pages"]) == (4, 1, 1)
    assert body["article_id"] == "cooperation-maroc"
    assert body["date"] == "2024-05-05"
    assert [p["position"] for p in body["passages"]] == [0, 1, 2, 3]
    assert all(set(p) == {"position", "text"} for p in body["passages"])
    record = next(a for a in web_articles if a["id"] == "cooperation-maroc")
    assert [p["text"] for p in body["passages"]] == record["text"].split("\n\n")


def test_article_without_date_source_or_url(client):
    body = get_json(client, "/api/articles/depeche-sans-date")
    assert (body["date"], body["source"], body["url"]) == (None, None, None)


@pytest.mark.parametrize("article_id", ["inconnu", "cooperation", "a/b", "%3Cscript%3E"])
def test_unknown_article_is_404_json(client, article_id):
    body = get_json(client, f"/api/articles/{article_id}", 404)
    assert set(body) == {"error"}


@pytest.mark.parametrize("path", ["/api", "/api/nulle-part", "/healthz/", "/search.atom/"])
def test_an_unknown_path_asked_by_a_program_is_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.is_json and set(response.get_json()) == {"error"}


def test_healthz(client):
    body = get_json(client, "/healthz")
    assert body["status"] == "ok"
    assert body["articles"] == 13
    assert body["passages"] >= 13
    assert dt.datetime.fromisoformat(body["built_at"]).tzinfo is not None


def test_without_an_index_the_api_is_503_json(tmp_path):
    app = create_app({"TESTING": True, "VEILLE_INDEX": str(tmp_path / "missing")})
    client = app.test_client()
    assert "error" in get_json(client, "/api/search", 503, q="x")
    assert "error" in get_json(client, "/api/articles/ecole", 503)
    assert get_json(client, "/healthz", 503)["status"] == "unavailable"


def test_api_responses_carry_the_security_headers(client):
    response = client.get("/api/search?q=gouvernement")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


# --- The OpenAPI document, checked against real responses ------------------------------


@pytest.fixture(scope="module")
def openapi(web_index_path) -> dict:
    app = create_app({"TESTING": True, "VEILLE_INDEX": str(web_index_path)})
    return get_json(app.test_client(), "/api/openapi.json")


def check(openapi: dict, path: str, status: int, body: dict) -> None:
    """Validate a response body against the document's schema for that path and status."""
    response = openapi["paths"][path]["get"]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    registry = Registry().with_resource(
        "urn:veille:openapi", Resource(contents=openapi, specification=DRAFT202012)
    )
    pointer = schema["$ref"].removeprefix("#") if "$ref" in schema else None
    validator = jsonschema.Draft202012Validator(
        {"$ref": f"urn:veille:openapi#{pointer}"} if pointer else schema,
        registry=registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )
    validator.validate(body)


def test_openapi_document_describes_every_endpoint(openapi):
    assert openapi["openapi"].startswith("3.1")
    assert set(openapi["paths"]) == {
        "/api/search",
        "/api/articles/{article_id}",
        "/healthz",
        "/api/openapi.json",
    }
    search_params = {p["name"] for p in openapi["paths"]["/api/search"]["get"]["parameters"]}
    assert search_params == {
        "q",
        "page",
        "limit",
        "per_page",
        "group",
        "sort",
        "since",
        "until",
        "source",
        "category",
        "collapse",
        "strict",
    }
    for schema in openapi["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize(
    "params",
    [
        {"q": "coopération sécuritaire"},
        {"q": "coopération sécuritaire", "group": "passage"},
        {"q": "gouvernement", "sort": "date", "per_page": 100},
        {"q": "dépêche anonyme"},
        {"q": "coopératoin"},
        {"q": ""},
        {"q": "gouvernement", "page": 30},
    ],
)
def test_search_responses_match_the_document(client, openapi, params):
    check(openapi, "/api/search", 200, search(client, **params))


def test_error_and_other_responses_match_the_document(client, openapi, tmp_path):
    check(openapi, "/api/search", 400, search(client, 400, page="abc"))
    check(openapi, "/api/articles/{article_id}", 200, get_json(client, "/api/articles/ecole"))
    check(openapi, "/api/articles/{article_id}", 200, get_json(client, "/api/articles/faille-xss"))
    check(openapi, "/api/articles/{article_id}", 404, get_json(client, "/api/articles/x", 404))
    bad_page = get_json(client, "/api/articles/ecole", 400, page=0)
    check(openapi, "/api/articles/{article_id}", 400, bad_page)
    check(openapi, "/healthz", 200, get_json(client, "/healthz"))
    missing = create_app({"TESTING": True, "VEILLE_INDEX": str(tmp_path / "none")}).test_client()
    check(openapi, "/api/search", 503, get_json(missing, "/api/search", 503))
    check(openapi, "/healthz", 503, get_json(missing, "/healthz", 503))


def test_the_document_rejects_what_the_contract_forbids(client, openapi):
    body = search(client, q="coopération sécuritaire")
    broken = body | {"hits": [{k: v for k, v in body["hits"][0].items() if k != "passages"}]}
    with pytest.raises(jsonschema.ValidationError):
        check(openapi, "/api/search", 200, broken)
    passages = search(client, q="coopération sécuritaire", group="passage")
    with pytest.raises(jsonschema.ValidationError):
        check(openapi, "/api/search", 200, passages | {"group": "article"})
    with pytest.raises(jsonschema.ValidationError):
        check(openapi, "/api/search", 200, body | {"limit": 1000})
    with pytest.raises(jsonschema.ValidationError):
        check(openapi, "/healthz", 200, {"status": "ok", "articles": 1, "passages": 1})


def test_a_query_past_1000_characters_is_read_from_its_beginning_with_a_note(client):
    body = search(client, q="gouvernement " + "x" * 2000)
    assert body["total"] >= 1
    assert any("1000 premiers caractères" in note for note in body["notes"])


@pytest.mark.parametrize(
    ("since", "until", "titles_of"),
    [
        ("2024", "2024", 2024),
        ("2023-11", "2023-11", "2023-11"),
        ("novembre 2023", "30 novembre 2023", "2023-11"),
        ("1er mai 2024", "31/05/2024", "2024-05"),
    ],
)
def test_dates_as_the_query_language_writes_them(client, since, until, titles_of):
    body = search(client, q="gouvernement", since=since, until=until, limit=100)
    assert body["total"] >= 1
    assert all(hit["date"].startswith(str(titles_of)) for hit in body["hits"])


def test_no_query_and_a_source_lists_its_articles_newest_first(client, web_articles):
    body = client.get("/api/search", query_string={"source": "Le Monde", "limit": 100}).get_json()
    dates = [hit["date"] for hit in body["hits"]]
    assert body["sort"] == "date" and dates == sorted(dates, reverse=True)
    assert {hit["source"] for hit in body["hits"]} == {"Le Monde"}
    assert body["total"] + body["collapsed"] == sum(
        a.get("source") == "Le Monde" for a in web_articles
    )
