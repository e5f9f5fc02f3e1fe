"""The Atom feed of a search, read back as feed readers read it (feedparser) and as XML."""

import datetime as dt
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import feedparser
import pytest
from bs4 import BeautifulSoup
from conftest import WEB_XSS, write_jsonl
from flask.testing import FlaskClient

from search import build_index
from web import create_app
from web.feeds import FEED_ENTRIES, feed_request

A = "{http://www.w3.org/2005/Atom}"


def get_feed(client, status: int = 200, headers: dict | None = None, **params):
    response = client.get("/search.atom", query_string=params, headers=headers or {})
    assert response.status_code == status, response.get_data(as_text=True)
    return response


def parse(response) -> feedparser.FeedParserDict:
    feed = feedparser.parse(response.data)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def newest_first(articles: list[dict]) -> list[str]:
    """Titles by date, newest first, the undated last."""
    dated = sorted((a for a in articles if a.get("date")), key=lambda a: a["date"], reverse=True)
    return [a["title"] for a in dated] + [a["title"] for a in articles if not a.get("date")]


def test_the_feed_is_valid_atom_newest_first(client, web_articles):
    response = get_feed(client, q="gouvernement")
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    feed = parse(response)
    matching = [a for a in web_articles if "gouvernement" in a["text"]]
    assert [entry.title for entry in feed.entries] == newest_first(matching)
    assert feed.feed.title == "Veille : gouvernement"
    assert feed.feed.language == "fr"
    dates = [entry.updated_parsed for entry in feed.entries]
    assert dates[:-1] == sorted(dates[:-1], reverse=True)  # the undated one is last


def test_the_feed_has_every_element_atom_requires(client):
    root = ET.fromstring(get_feed(client, q="gouvernement").data)
    assert root.tag == A + "feed"
    for name in ("id", "title", "updated"):
        assert root.find(A + name) is not None and root.find(A + name).text
    assert root.find(f"{A}author/{A}name").text == "Veille"  # for entries without a source
    self_link = root.find(f"{A}link[@rel='self']")
    assert self_link.get("href") == "http://localhost/search.atom?q=gouvernement"
    entries = root.findall(A + "entry")
    assert entries
    ids = [entry.find(A + "id").text for entry in entries]
    assert len(set(ids)) == len(ids)
    for entry in entries:
        for name in ("id", "title", "updated", "summary"):
            assert entry.find(A + name) is not None and entry.find(A + name).text
        dt.datetime.strptime(entry.find(A + "updated").text, "%Y-%m-%dT%H:%M:%SZ")
        link = entry.find(f"{A}link[@rel='alternate']")
        assert urlsplit(link.get("href")).scheme == "http"


def test_an_entry_links_the_article_page_with_its_id_author_and_snippet(client):
    entry = parse(get_feed(client, q="coopération sécuritaire Maroc")).entries[0]
    assert entry.id == "urn:veille:article:cooperation-maroc"
    assert entry.link.startswith("http://localhost/articles/cooperation-maroc?q=")
    assert entry.link.split("#")[1].startswith("p")
    assert entry.author == "Le Monde"
    assert entry.updated == "2024-05-05T00:00:00Z" and entry.published == entry.updated
    # The snippet, its matches in bold: feed readers' sanitizers (feedparser's) drop <mark>.
    assert "<b>coopération sécuritaire</b>" in entry.summary
    via = [link.href for link in entry.links if link.rel == "via"]
    assert via == ["https://www.example.fr/monde/2024/05/05/cooperation-maroc"]


def test_the_linked_article_page_exists(client):
    entry = parse(get_feed(client, q="Sahel")).entries[0]
    page = client.get(entry.link.removeprefix("http://localhost").split("#")[0])
    assert page.status_code == 200
    assert "Sahel" in page.get_data(as_text=True)


def test_an_undated_article_takes_the_time_it_was_first_indexed(tmp_path, web_corpus_path):
    index = tmp_path / "index"
    build_index(web_corpus_path, index)
    app = create_app({"TESTING": True, "VEILLE_INDEX": str(index)})
    client = app.test_client()
    entry = parse(get_feed(client, q="dépêche anonyme")).entries[0]
    assert entry.title == "Une dépêche sans date ni source"
    assert "published" not in entry
    built_at = dt.datetime.fromisoformat(client.get("/healthz").get_json()["built_at"])
    first = dt.datetime.strptime(entry.updated, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert abs((first - built_at).total_seconds()) < 2  # indexed by that build
    time.sleep(1.1)
    build_index(web_corpus_path, index)  # a rebuild: the entry has not changed
    time.sleep(0.6)  # the index follows a rebuild within half a second
    rebuilt_at = dt.datetime.fromisoformat(client.get("/healthz").get_json()["built_at"])
    assert (rebuilt_at - built_at).total_seconds() >= 1
    assert parse(get_feed(client, q="dépêche anonyme")).entries[0].updated == entry.updated
    app.extensions["veille_index"].close()


def test_hostile_text_stays_text(client):
    response = get_feed(client, q="chercheurs")
    assert b"<script>" not in response.data
    root = ET.fromstring(response.data)
    titles = [e.find(A + "title").text for e in root.iter(A + "entry")]
    assert any(WEB_XSS in title for title in titles)  # the title, as text
    summaries = [e.find(A + "summary").text for e in root.iter(A + "entry")]
    assert any("&lt;script&gt;" in summary for summary in summaries)  # escaped HTML
    for entry in parse(response).entries:
        assert "<script>" not in entry.summary
        links = [link.href for link in entry.links]
        assert not any(href.startswith("javascript:") for href in links)


def test_the_feed_takes_and_checks_the_search_parameters(client):
    feed = parse(get_feed(client, q="gouvernement", source="Le Figaro"))
    assert {entry.author for entry in feed.entries} == {"Le Figaro"}
    assert len(parse(get_feed(client, q="gouvernement", limit=3)).entries) == 3
    feed = parse(get_feed(client, q="gouvernement", since="2024-05"))
    assert [e.updated[:7] for e in feed.entries] == ["2024-05"] * len(feed.entries)
    error = get_feed(client, 400, q="gouvernement", limit="500")
    assert error.get_json()["parameter"] == "limit"
    assert get_feed(client, 400, q="x", since="2024-13").get_json()["parameter"] == "since"


def test_the_feed_holds_the_50_newest_articles(app):
    with app.test_request_context("/search.atom?q=x&limit=100&page=3&group=passage&sort=date"):
        params = feed_request()
    assert (params.limit, params.page, params.group, params.sort) == (50, 1, "article", "date")
    with app.test_request_context("/search.atom?q=x"):
        assert feed_request().limit == FEED_ENTRIES == 50


def test_a_feed_of_many_articles_stops_at_50(tmp_path):
    records = [
        {
            "id": f"conseil-{i:03d}",
            "title": f"Conseil municipal n° {i}",
            "date": (dt.date(2024, 1, 1) + dt.timedelta(days=i)).isoformat(),
            "text": f"Le conseil municipal s'est réuni pour sa séance numéro {i}.",
        }
        for i in range(70)
    ]
    build_index(write_jsonl(tmp_path / "corpus" / "a.jsonl", records), tmp_path / "index")
    app = create_app({"TESTING": True, "VEILLE_INDEX": str(tmp_path / "index")})
    feed = parse(get_feed(app.test_client(), q="conseil"))
    assert [e.id for e in feed.entries] == [
        f"urn:veille:article:conseil-{i:03d}" for i in range(69, 19, -1)
    ]
    app.extensions["veille_index"].close()


def test_ids_are_stable_across_requests_and_a_rebuild(tmp_path, web_corpus_path):
    index = tmp_path / "index"
    build_index(web_corpus_path, index)
    app = create_app({"TESTING": True, "VEILLE_INDEX": str(index)})
    client = app.test_client()
    first = get_feed(client, q="gouvernement")
    again = get_feed(client, q="gouvernement")
    assert again.data == first.data and again.headers["ETag"] == first.headers["ETag"]
    build_index(web_corpus_path, index)  # the same corpus, a new generation
    time.sleep(0.6)  # the index follows a rebuild within half a second
    rebuilt = get_feed(client, q="gouvernement")
    assert rebuilt.headers["ETag"] != first.headers["ETag"]
    before, after = parse(first), parse(rebuilt)
    assert after.feed.id == before.feed.id == "urn:veille:search:q=gouvernement"
    assert [e.id for e in after.entries] == [e.id for e in before.entries]
    assert [e.link for e in after.entries] == [e.link for e in before.entries]
    app.extensions["veille_index"].close()


def test_an_entry_leads_back_to_the_feed_s_page_of_results(client):
    feed = parse(get_feed(client, q="gouvernement", source="Le Monde", since="2024-05"))
    link = urlsplit(feed.entries[0].link)
    page = BeautifulSoup(client.get(f"{link.path}?{link.query}").data, "html.parser")
    back = urlsplit(page.find("a", string=re.compile("Retour aux résultats"))["href"])
    assert parse_qs(back.query) == {
        "q": ["gouvernement"],
        "source": ["Le Monde"],
        "since": ["2024-05-01"],
        "sort": ["date"],
        "strict": ["true"],
    }


def test_the_feed_id_is_what_the_search_is_about(client):
    one = parse(get_feed(client, q="gouvernement", source="Le Monde", category="politique"))
    other = parse(get_feed(client, category="politique", q="gouvernement", source="Le Monde"))
    assert one.feed.id == other.feed.id
    assert one.feed.id == "urn:veille:search:q=gouvernement&source=Le%20Monde&category=politique"
    assert parse(get_feed(client, q="gouvernement", limit=5)).feed.id != one.feed.id


def test_links_follow_the_request_root_when_no_public_url_is_set(client):
    feed = parse(get_feed(client, headers={"Host": "veille.local:8000"}, q="Sahel"))
    assert feed.entries[0].link.startswith("http://veille.local:8000/articles/sahel-armee")


def test_a_public_url_wins_over_the_host_header(web_index_path):
    public = "https://veille.example.fr/presse"
    app = create_app(
        {"TESTING": True, "VEILLE_INDEX": str(web_index_path), "VEILLE_PUBLIC_URL": public}
    )
    client = app.test_client()
    response = get_feed(client, headers={"Host": "evil.example"}, q="Sahel")
    assert b"evil.example" not in response.data
    feed = parse(response)
    assert feed.entries[0].link.startswith(public + "/articles/sahel-armee?q=Sahel&retour=")
    self_link = [link.href for link in feed.feed.links if link.rel == "self"]
    assert self_link == [public + "/search.atom?q=Sahel"]
    app.extensions["veille_index"].close()


@pytest.mark.parametrize("value", ["veille.example.fr", "ftp://x.fr/", "https://x.fr/?a=1"])
def test_a_bad_public_url_stops_the_app_at_start(web_index_path, value):
    with pytest.raises(ValueError, match="VEILLE_PUBLIC_URL"):
        create_app({"VEILLE_INDEX": str(web_index_path), "VEILLE_PUBLIC_URL": value})


def test_the_public_url_can_come_from_the_environment(web_index_path, monkeypatch):
    monkeypatch.setenv("VEILLE_PUBLIC_URL", "https://veille.example.fr")
    app = create_app({"TESTING": True, "VEILLE_INDEX": str(web_index_path)})
    assert app.config["VEILLE_PUBLIC_URL"] == "https://veille.example.fr/"


def test_an_empty_query_is_an_empty_valid_feed(client):
    feed = parse(get_feed(client))
    assert feed.entries == [] and feed.feed.id == "urn:veille:search:q="


def test_without_an_index_the_feed_is_503(tmp_path):
    app = create_app({"TESTING": True, "VEILLE_INDEX": str(tmp_path / "none")})
    response = app.test_client().get("/search.atom?q=x")
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"


def test_every_results_page_links_its_feed(client):
    page = client.get("/", query_string={"q": "gouvernement", "source": "Le Monde", "page": 1})
    soup = BeautifulSoup(page.data, "html.parser")
    alternate = soup.head.find("link", rel="alternate", type="application/atom+xml")
    assert alternate["href"] == "/search.atom?q=gouvernement&source=Le+Monde"
    assert "gouvernement" in alternate["title"]
    visible = soup.find("a", string="Suivre cette recherche (Atom)")
    assert visible["href"] == alternate["href"]
    feed = parse(client.get(alternate["href"]))
    assert feed.entries and {e.author for e in feed.entries} == {"Le Monde"}
    no_results = BeautifulSoup(client.get("/?q=zzzzqqqq").data, "html.parser")
    assert no_results.find("a", string="Suivre cette recherche (Atom)")  # news may come


def test_the_home_page_has_no_feed(client):
    soup = BeautifulSoup(client.get("/").data, "html.parser")
    assert soup.head.find("link", rel="alternate") is None


@contextmanager
def serving(records: list[dict], folder: Path) -> Iterator[FlaskClient]:
    """A client of the app on an index of these records, built in the folder."""
    build_index(write_jsonl(folder / "corpus" / "a.jsonl", records), folder / "index")
    app = create_app({"TESTING": True, "VEILLE_INDEX": str(folder / "index")})
    yield app.test_client()
    app.extensions["veille_index"].close()


@pytest.fixture(scope="module")
def copies_client(tmp_path_factory):
    """The app on a story and its copy (one text, two sources), and an article dated 999."""
    text = "Le port de Tanger accueille un nouveau terminal pour les conteneurs du détroit."
    records = [
        {"id": "tanger", "title": "Tanger", "date": "2024-05-30", "source": "Le Matin"},
        {"id": "tanger-copie", "title": "Tanger", "date": "2024-06-02", "source": "AFP"},
        {"id": "an-999", "title": "Un port en 999", "date": "0999-03-04", "source": "Annales"},
    ]
    for record in records[:2]:
        record["text"] = text
    records[2]["text"] = "Un port de l'an 999, daté ainsi par une chronique."
    with serving(records, tmp_path_factory.mktemp("copies")) as client:
        yield client


def test_a_feed_of_every_copy_is_another_feed(copies_client):
    regrouped = parse(get_feed(copies_client, q="Tanger"))
    every_copy = parse(get_feed(copies_client, q="Tanger", collapse="false"))
    assert len(regrouped.entries) == 1 and len(every_copy.entries) == 2
    # The default feed keeps its id and address: feeds followed before stay the same.
    assert regrouped.feed.id == "urn:veille:search:q=Tanger"
    assert [x.href for x in regrouped.feed.links if x.rel == "self"] == [
        "http://localhost/search.atom?q=Tanger"
    ]
    assert every_copy.feed.id == "urn:veille:search:q=Tanger&collapse=false"
    self_link = [x.href for x in every_copy.feed.links if x.rel == "self"]
    assert self_link == ["http://localhost/search.atom?q=Tanger&collapse=false"]
    # The page that shows every copy links the feed of every copy.
    soup = BeautifulSoup(copies_client.get("/?q=Tanger&collapse=false").data, "html.parser")
    follow = soup.find("a", string="Suivre cette recherche (Atom)")["href"]
    assert follow == "/search.atom?q=Tanger&collapse=false"
    assert parse(copies_client.get(follow)).feed.id == every_copy.feed.id


def test_a_feed_reads_its_query_strictly_as_its_page_says(copies_client):
    # « Tanger conteneurs détroit Gibraltar terminal » is a long text: the page ranks it
    # as any of its words; « Gibraltar » is in no article, so the feed finds none.
    query = "Tanger conteneurs détroit Gibraltar terminal"
    page = BeautifulSoup(copies_client.get("/", query_string={"q": query}).data, "html.parser")
    assert [a.get_text() for a in page.select("h3 a")] == ["Tanger"]  # the page finds it
    feed = parse(get_feed(copies_client, q=query))
    assert feed.entries == []
    [alternate] = [x.href for x in feed.feed.links if x.rel == "alternate"]
    assert "strict=true" in alternate
    link = urlsplit(alternate)
    strict_page = BeautifulSoup(copies_client.get(f"{link.path}?{link.query}").data, "html.parser")
    assert strict_page.select("h3 a") == []
    # The strict page's form keeps reading strictly, and so do its exports.
    assert strict_page.find("input", attrs={"name": "strict", "value": "true"}) is not None
    exports = [a["href"] for a in strict_page.select("a[href^='/search.csv']")]
    assert exports and all("strict=true" in href for href in exports)
    # A word the corpus spells otherwise: the page reads it, the feed does not.
    typo = BeautifulSoup(copies_client.get("/?q=Tangger").data, "html.parser")
    assert [a.get_text() for a in typo.select("h3 a")] == ["Tanger"]
    assert parse(get_feed(copies_client, q="Tangger")).entries == []
    assert parse(get_feed(copies_client, q="Tanger port")).entries


def test_a_story_keeps_its_entry_id_when_a_later_copy_is_shown(copies_client):
    # « tanger-copie » (2 June) is the newer version, shown first by date; the story's
    # entry is the one readers had before the copy came: « tanger » (30 May).
    (entry,) = parse(get_feed(copies_client, q="Tanger")).entries
    assert entry.id == "urn:veille:article:tanger"
    assert entry.link.split("?")[0].endswith("/articles/tanger-copie")


def test_a_date_before_the_year_1000_is_written_with_four_digits(copies_client):
    response = get_feed(copies_client, q="chronique")
    root = ET.fromstring(response.data)
    entry = root.find(A + "entry")
    assert entry.find(A + "id").text == "urn:veille:article:an-999"
    for name in ("updated", "published"):
        assert entry.find(A + name).text == "0999-03-04T00:00:00Z"  # RFC 3339: YYYY
    assert root.find(A + "updated").text == "0999-03-04T00:00:00Z"
    assert parse(response).entries[0].published_parsed[:3] == (999, 3, 4)


@pytest.fixture(scope="module")
def timed_client(tmp_path_factory):
    """The app on a day's articles with their times of day, and one without."""
    records = [
        {"id": "matin", "title": "Grève au matin", "date": "2024-05-05T08:05:00+02:00"},
        {"id": "soir", "title": "Grève le soir", "date": "2024-05-05T21:30:00Z"},
        {"id": "jour", "title": "Grève du jour", "date": "2024-05-05"},
    ]
    for record in records:
        record["text"] = f"{record['title']} : la grève des cheminots, épisode {record['id']}."
    copy = "Le port de Tanger accueille un nouveau terminal pour les conteneurs du détroit."
    records += [  # a story's copy published later the same day, its id first
        {"id": "aa-tard", "title": "Tanger", "date": "2024-05-06T12:00", "text": copy},
        {"id": "zz-tot", "title": "Tanger", "date": "2024-05-06T08:00", "text": copy},
        {"id": "an-1", "title": "Antiquité", "date": "0001-01-01T00:05", "text": "Un an 1."},
    ]
    with serving(records, tmp_path_factory.mktemp("timed")) as client:
        yield client


def test_an_entry_is_dated_to_its_article_s_minute(timed_client):
    feed = parse(get_feed(timed_client, q="grève"))
    # Paris's summer time is UTC + 2; an article without a time is dated midnight UTC.
    assert [(e.title, e.updated, e.published) for e in feed.entries] == [
        ("Grève le soir", "2024-05-05T21:30:00Z", "2024-05-05T21:30:00Z"),
        ("Grève au matin", "2024-05-05T06:05:00Z", "2024-05-05T06:05:00Z"),
        ("Grève du jour", "2024-05-05T00:00:00Z", "2024-05-05T00:00:00Z"),
    ]


def test_a_story_s_entry_is_its_first_version_s_to_the_minute(timed_client):
    (entry,) = parse(get_feed(timed_client, q="Tanger")).entries
    assert entry.id == "urn:veille:article:zz-tot"
    (ancient,) = parse(get_feed(timed_client, q="antiquité")).entries
    assert ancient.updated == "0001-01-01T00:00:00Z"  # Paris's year 1 would start in year 0


def test_the_page_and_the_api_give_the_time_of_day(timed_client):
    response = timed_client.get("/", query_string={"q": "grève", "sort": "date"})
    doc = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    times = [(t.get_text(), t["datetime"]) for t in doc.select("ol.hits li.hit .meta time")]
    assert times == [
        ("5 mai 2024 à 23\u00a0h\u00a030", "2024-05-05T23:30"),
        ("5 mai 2024 à 8\u00a0h\u00a005", "2024-05-05T08:05"),
        ("5 mai 2024", "2024-05-05"),
    ]
    api = timed_client.get("/api/search", query_string={"q": "grève", "sort": "date"}).get_json()
    assert [(h["date"], h["time"]) for h in api["hits"]] == [
        ("2024-05-05", "23:30"),
        ("2024-05-05", "08:05"),
        ("2024-05-05", None),
    ]
    article = timed_client.get("/api/articles/matin").get_json()
    assert (article["date"], article["time"]) == ("2024-05-05", "08:05")


@pytest.mark.parametrize(
    "params, title",
    [
        ({"q": "gouvernement"}, "gouvernement"),
        ({"q": "gouvernement", "source": "Le Monde"}, "gouvernement · source : Le Monde"),
        (
            {"source": "Le Monde", "category": "société", "since": "2024-03"},
            "source : Le Monde · rubrique : société · depuis le 01/03/2024",
        ),
        ({"q": "gouvernement", "until": "2024"}, "gouvernement · jusqu'au 31/12/2024"),
        ({"q": "gouvernement", "since": "0900"}, "gouvernement · depuis le 01/01/0900"),
    ],
)
def test_a_search_s_feed_and_page_are_titled_with_its_filters(client, params, title):
    """Two subscriptions of one query with other filters are told apart in a reader."""
    assert parse(get_feed(client, **params)).feed.title == f"Veille : {title}"
    page = BeautifulSoup(client.get("/", query_string=params).data, "html.parser")
    assert page.title.get_text() == f"{title} – Veille"
    assert page.find("link", rel="alternate")["title"] == f"Veille : {title}"


@pytest.mark.parametrize("query", ["gouvernment", "réforme des retraites gouvernement"])
def test_the_page_links_the_reading_its_feed_follows(client, query):
    """A typo is read on the page, not by the feed: the page says which articles it follows."""
    page = BeautifulSoup(client.get("/", query_string={"q": query}).data, "html.parser")
    assert page.select("ol.hits li.hit")
    strict = page.select_one("a.strict-reading")["href"]
    assert "strict=true" in strict and "sort=date" in strict  # the feed's reading and order
    followed = BeautifulSoup(client.get(strict).data, "html.parser")
    assert followed.select_one("a.strict-reading") is None  # this is the feed's reading
    titles = [h.get_text(strip=True) for h in followed.select("ol.hits li.hit .hit-title")]
    entries = parse(get_feed(client, q=query)).entries
    assert sorted(titles) == sorted(entry.title for entry in entries)
    assert bool(titles) == (query != "gouvernment")
