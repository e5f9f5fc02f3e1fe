"""HTTP for other tools: ETag, Cache-Control and 304; gzip over 1 KB; CORS off unless set."""

import gzip
import json
import time
import urllib.error
import urllib.request
from urllib.parse import quote_plus

import pytest
from conftest import write_jsonl

from search import build_index, update_index
from web import SECURITY_HEADERS, create_app

CACHED = [
    "/api/search?q=gouvernement",
    "/search.atom?q=gouvernement",
    "/search.csv?q=gouvernement",
    "/search.jsonl?q=gouvernement",
]


def etag_of(client, url: str, **headers) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.headers["ETag"]


# --- ETag, Cache-Control, 304 -------------------------------------------------------------


@pytest.mark.parametrize("url", CACHED)
def test_an_answer_carries_an_etag_and_a_matching_request_gets_304(client, url):
    response = client.get(url)
    etag = response.headers["ETag"]
    assert etag.startswith('W/"') and len(etag) > 10  # weak: the same results, not bytes
    assert response.headers["Cache-Control"] == "public, max-age=60"
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "public, max-age=60"
    listed = client.get(url, headers={"If-None-Match": f'"other", {etag}'})
    assert listed.status_code == 304
    assert client.get(url, headers={"If-None-Match": etag.removeprefix("W/")}).status_code == 304
    assert client.get(url, headers={"If-None-Match": "*"}).status_code == 304
    assert client.get(url, headers={"If-None-Match": 'W/"other"'}).status_code == 200


def test_the_etag_does_not_depend_on_the_time_taken(client):
    first = client.get("/api/search?q=gouvernement")
    second = client.get("/api/search?q=gouvernement")
    assert first.headers["ETag"] == second.headers["ETag"]


def test_the_etag_changes_with_the_parameters_not_their_order(client):
    base = etag_of(client, "/api/search?q=gouvernement&limit=5&source=Le+Monde")
    assert etag_of(client, "/api/search?source=Le+Monde&limit=5&q=gouvernement") == base
    assert etag_of(client, "/api/search?q=gouvernement&per_page=5&source=Le+Monde") == base
    others = {
        etag_of(client, url)
        for url in (
            "/api/search?q=gouvernement&limit=6&source=Le+Monde",
            "/api/search?q=gouvernement&limit=5&source=Le+Monde&page=2",
            "/api/search?q=gouvernement&limit=5&source=Le+Figaro",
            "/api/search?q=Gouvernement&limit=5&source=Le+Monde",
            "/api/search?q=gouvernement&limit=5&source=Le+Monde&sort=date",
            "/search.jsonl?q=gouvernement&limit=5&source=Le+Monde",
        )
    }
    assert len(others) == 6 and base not in others


def test_a_304_skips_the_search(app, client, monkeypatch):
    etag = etag_of(client, "/api/search?q=gouvernement")
    index = app.extensions["veille_index"].get()

    def no_search(*args, **kwargs):
        raise AssertionError("searched")

    monkeypatch.setattr(index, "search", no_search)
    response = client.get("/api/search?q=gouvernement", headers={"If-None-Match": etag})
    assert response.status_code == 304


def test_errors_and_pages_carry_no_etag(client):
    bad = client.get("/api/search?q=x&page=abc")
    assert bad.status_code == 400 and "ETag" not in bad.headers
    assert "ETag" not in client.get("/?q=gouvernement").headers


def test_a_timed_out_answer_is_not_kept(web_index_path):
    app = create_app({"TESTING": True, "VEILLE_INDEX": str(web_index_path)})
    app.config["VEILLE_SEARCH_BUDGET"] = 1e-9
    client = app.test_client()
    # An OU of a phrase and a word: past its budget, only part of it is read (a query of
    # words that must all match reads them all, and its count is exact).
    slow = quote_plus('"coopération sécuritaire" OU Maroc OU football')
    for url in CACHED:
        response = client.get(url.replace("gouvernement", slow))
        assert response.status_code == 200
        assert "ETag" not in response.headers, url
        assert response.headers["Cache-Control"] == "no-store"
    csv = client.get(f"/search.csv?q={slow}")
    assert csv.headers["X-Veille-Timed-Out"] == "true"
    app.extensions["veille_index"].close()


@pytest.fixture
def own_index(tmp_path, web_corpus_path):
    """A copy of the web index that a test may rebuild and update, and its app."""
    index = tmp_path / "index"
    build_index(web_corpus_path, index)
    app = create_app({"TESTING": True, "VEILLE_INDEX": str(index)})
    yield index, app.test_client()
    app.extensions["veille_index"].close()


def test_the_etag_changes_when_the_index_is_rebuilt(own_index, web_corpus_path):
    index, client = own_index
    before = {url: etag_of(client, url) for url in CACHED}
    build_index(web_corpus_path, index)  # the same articles, a new generation
    time.sleep(0.6)  # the app follows the index within half a second
    for url, etag in before.items():
        response = client.get(url, headers={"If-None-Match": etag})
        assert response.status_code == 200, url
        assert response.headers["ETag"] != etag


def test_the_etag_changes_when_articles_are_added_in_place(own_index, tmp_path):
    index, client = own_index
    before = etag_of(client, "/search.atom?q=gouvernement")
    added = {
        "id": "nouvelle",
        "title": "Le gouvernement annonce un plan",
        "date": "2024-06-01",
        "text": "Le gouvernement a annoncé un plan pour les communes rurales.",
    }
    update_index(index, add=write_jsonl(tmp_path / "new" / "a.jsonl", [added]))
    time.sleep(0.6)
    response = client.get("/search.atom?q=gouvernement", headers={"If-None-Match": before})
    assert response.status_code == 200
    assert b"Le gouvernement annonce un plan" in response.data


# --- gzip ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [*CACHED, "/?q=gouvernement"])
def test_answers_over_1_kb_are_gzipped_when_the_client_accepts_it(client, url):
    plain = client.get(url)
    assert len(plain.data) > 1024 and "Content-Encoding" not in plain.headers
    response = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    if url.startswith("/search."):  # the others say the time they took
        assert gzip.decompress(response.data) == plain.data
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_the_gzipped_json_and_page_are_the_json_and_page(client):
    response = client.get("/api/search?q=gouvernement", headers={"Accept-Encoding": "gzip"})
    body = json.loads(gzip.decompress(response.data))
    assert body == client.get("/api/search?q=gouvernement").get_json() | {
        "took_ms": body["took_ms"]
    }
    assert int(response.headers["Content-Length"]) == len(response.data)
    page = client.get("/?q=gouvernement", headers={"Accept-Encoding": "gzip"})
    assert "Suivre cette recherche" in gzip.decompress(page.data).decode("utf-8")


@pytest.mark.parametrize(
    "accepted, sent",
    [
        ("br;q=0", None),
        ("gzip;q=0", None),
        ("br;q=0, gzip;q=0, zstd;q=0, deflate;q=0", None),
        ("gzip;q=0, *", {"zstd", "br", "deflate"}),  # another, not gzip
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=0.5, br;q=0", "gzip"),
        ("identity;q=1, *;q=0", None),
        ("GZIP;Q=0", None),
        ("gzip;Q=0, br;q=0, zstd;q=0, deflate;q=0", None),
        ("br;q=0, zstd;q=0, deflate;q=0, *", "gzip"),
        ("gzip;q=0, br;q=0, zstd;q=0, *;q=0.5", "deflate"),
        ("identity;q=0, br;q=0, zstd;q=0, *", "gzip"),
    ],
)
def test_an_encoding_the_client_refuses_is_never_sent(client, accepted, sent):
    response = client.get("/api/search?q=gouvernement", headers={"Accept-Encoding": accepted})
    encoding = response.headers.get("Content-Encoding")
    assert encoding in sent if isinstance(sent, set) else encoding == sent
    if sent is None:
        assert json.loads(response.data)["total"] > 0


def test_small_answers_are_not_compressed(client):
    for url in ("/healthz", "/api/search?q=zzzzqqqq"):
        response = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert len(response.data) < 1024 and "Content-Encoding" not in response.headers


def test_a_compressed_answer_keeps_its_etag_and_revalidates(client):
    url = "/api/search?q=gouvernement"
    etag = etag_of(client, url)
    response = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip" and response.headers["ETag"] == etag
    again = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""


# --- CORS ---------------------------------------------------------------------------------

ORIGIN = "https://desk.example.fr"


def test_cors_is_off_by_default(client):
    response = client.get("/api/search?q=Sahel", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = client.options("/api/search", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in preflight.headers


@pytest.fixture
def cors_client(web_index_path):
    setting = f"{ORIGIN}/, https://autre.example.org"
    app = create_app(
        {"TESTING": True, "VEILLE_INDEX": str(web_index_path), "VEILLE_CORS_ORIGINS": setting}
    )
    yield app.test_client()
    app.extensions["veille_index"].close()


def test_allowed_origins_may_read_the_api(cors_client):
    for origin in (ORIGIN, "https://autre.example.org"):
        response = cors_client.get("/api/search?q=Sahel", headers={"Origin": origin})
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert "Origin" in response.headers["Vary"]
        assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    preflight = cors_client.options(
        "/api/search",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "If-None-Match",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "GET" in preflight.headers["Access-Control-Allow-Methods"]


def test_other_origins_and_other_paths_get_no_cors_header(cors_client):
    other = cors_client.get("/api/search?q=Sahel", headers={"Origin": "https://evil.example"})
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers
    for url in ("/?q=Sahel", "/search.atom?q=Sahel", "/healthz"):
        response = cors_client.get(url, headers={"Origin": ORIGIN})
        assert "Access-Control-Allow-Origin" not in response.headers, url


def vary(response) -> set[str]:
    return {name.strip().lower() for name in response.headers.get("Vary", "").split(",")}


@pytest.mark.parametrize("setting", [ORIGIN, f"{ORIGIN}, https://autre.example.org"])
def test_every_api_answer_varies_on_the_origin(web_index_path, setting):
    # A shared cache must not give one origin's copy (with or without CORS headers) to another.
    app = create_app(
        {"TESTING": True, "VEILLE_INDEX": str(web_index_path), "VEILLE_CORS_ORIGINS": setting}
    )
    client = app.test_client()
    asked = [{"Origin": ORIGIN}, {"Origin": "https://evil.example"}, {}]
    for headers in asked:
        for url in ("/api/search?q=Sahel", "/api/articles/ecole", "/api/nothing"):
            response = client.get(url, headers=headers)
            assert {"origin", "accept-encoding"} <= vary(response), (url, headers)
        etag = etag_of(client, "/api/search?q=Sahel", **headers)
        again = client.get("/api/search?q=Sahel", headers={**headers, "If-None-Match": etag})
        assert again.status_code == 304 and "origin" in vary(again)
    # Pages, feeds and exports are the same for every origin.
    assert "origin" not in vary(client.get("/?q=Sahel", headers={"Origin": ORIGIN}))
    app.extensions["veille_index"].close()


def test_cors_origins_from_the_environment(web_index_path, monkeypatch):
    monkeypatch.setenv("VEILLE_CORS_ORIGINS", ORIGIN)
    app = create_app({"TESTING": True, "VEILLE_INDEX": str(web_index_path)})
    response = app.test_client().get("/api/articles/ecole", headers={"Origin": ORIGIN})
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    app.extensions["veille_index"].close()


# --- the real server ----------------------------------------------------------------------


def test_the_real_server_gzips_and_answers_304(live_server):
    url = live_server.url + "/api/search?q=gouvernement&limit=20"
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Cache-Control"] == "public, max-age=60"
        etag = response.headers["ETag"]
        body = json.loads(gzip.decompress(response.read()))
    assert body["total"] > 5
    headers = {"Accept-Encoding": "gzip", "If-None-Match": etag}
    for _ in range(4):  # whichever of its workers answers
        request = urllib.request.Request(url, headers=headers)
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(request, timeout=10)
        assert answer.value.code == 304
        assert answer.value.headers["ETag"] == etag
        assert answer.value.read() == b""
    feed = live_server.url + "/search.atom?q=gouvernement"
    with urllib.request.urlopen(urllib.request.Request(feed), timeout=10) as response:
        assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
        assert response.headers["ETag"].startswith('W/"')
