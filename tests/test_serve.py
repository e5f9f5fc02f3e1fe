"""`veille serve`: gunicorn workers that follow a rebuilt index without a restart."""

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import VeilleServer

from search import build_index

pytestmark = pytest.mark.slow

NEW_ARTICLE = {
    "id": "dirigeable-lyon",
    "title": "Un dirigeable survole Lyon",
    "date": "2024-06-02",
    "source": "Le Progrès",
    "url": "https://www.example.fr/progres/2024/06/02/dirigeable",
    "text": (
        "Un dirigeable publicitaire a survolé Lyon samedi, à la surprise des habitants."
        "\n\n"
        "L'engin, long de quarante mètres, a rejoint son hangar dans la soirée."
    ),
}


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def total(base: str, q: str) -> int:
    status, body = fetch(f"{base}/api/search?q={quote(q)}")
    assert status == 200
    return json.loads(body)["total"]


def test_a_rebuilt_index_is_served_without_restart_or_failed_request(
    tmp_path, web_articles, start_server
):
    index = tmp_path / "index"
    build_index(write_jsonl(tmp_path / "v1" / "articles.jsonl", web_articles), index)
    v2 = write_jsonl(tmp_path / "v2" / "articles.jsonl", [*web_articles, NEW_ARTICLE])
    server = start_server(index, workers=2)
    assert total(server.url, "dirigeable") == 0

    failures: list[str] = []
    answered: list[int] = []
    stop = threading.Event()
    urls = [
        server.url + "/api/search?q=gouvernement",
        server.url + "/?q=dirigeable",
        server.url + "/articles/cooperation-maroc?q=coop%C3%A9ration",
        server.url + "/healthz",
    ]

    def hammer() -> None:
        deadline = time.monotonic() + 20  # bounded, whatever happens to the test
        n = 0
        while not stop.is_set() and time.monotonic() < deadline:
            url = urls[n % len(urls)]
            n += 1
            try:
                status, _ = fetch(url)
            except OSError as error:
                failures.append(f"{url}: {error!r}")
                continue
            answered.append(status)
            if status != 200:
                failures.append(f"{url}: {status}")

    thread = threading.Thread(target=hammer)
    thread.start()
    try:
        time.sleep(0.5)
        build_index(v2, index)
        swapped = time.monotonic()
        while total(server.url, "dirigeable") == 0:
            assert time.monotonic() - swapped < 5, "the new index was not served within 5 s"
            time.sleep(0.1)
        # Both workers follow: after their refresh interval, every answer is the new index.
        time.sleep(1.5)
        assert [total(server.url, "dirigeable") for _ in range(10)] == [1] * 10
        _, body = fetch(server.url + "/healthz")
        assert json.loads(body)["articles"] == len(web_articles) + 1
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert failures == []
    assert len(answered) >= 20
    assert "Traceback" not in server.read_log()


def test_serve_builds_a_missing_index_from_the_corpus(tmp_path, web_corpus_path, start_server):
    index = tmp_path / "not-built-yet"
    server = start_server(index, "--corpus", str(web_corpus_path), workers=2)
    status, body = fetch(server.url + "/healthz")
    assert status == 200
    assert json.loads(body)["articles"] == 13
    assert total(server.url, "coopération sécuritaire") == 2
    status, body = fetch(server.url + "/?q=coop%C3%A9ration")
    assert status == 200
    assert b"<mark>" in body
    assert (index / "CURRENT").is_file()


def test_serve_never_builds_over_an_index_that_lost_its_pointer(tmp_path, web_articles):
    index = tmp_path / "index"
    build_index(write_jsonl(tmp_path / "corpus" / "articles.jsonl", web_articles), index)
    (index / "CURRENT").unlink()  # a crash, a careless hand: the generation is still there
    generations = sorted(p.name for p in index.glob("gen-*"))
    other = write_jsonl(tmp_path / "other" / "one.jsonl", [NEW_ARTICLE])
    server = VeilleServer(index, tmp_path / "server.log", "--corpus", str(other), workers=1)
    try:
        deadline = time.monotonic() + 60
        status = None
        while status is None and time.monotonic() < deadline:
            try:
                status, body = fetch(server.url + "/healthz")
            except OSError:
                time.sleep(0.1)
        assert status == 503
        assert "index damaged" in json.loads(body)["error"]
    finally:
        server.stop()
    assert "building it from" not in server.read_log()
    assert sorted(p.name for p in index.glob("gen-*")) == generations


def test_a_query_of_a_thousand_accented_letters_reaches_the_app(live_server):
    query = " ".join(["ÉÉÉ"] * 250)[:1000]  # 1,000 characters, 750 of them É
    url = live_server.url + "/api/search?" + urllib.parse.urlencode({"q": query})
    assert len(url) > 4094  # past gunicorn's default request line
    status, body = fetch(url)
    assert status == 200
    assert json.loads(body)["query"] == query
