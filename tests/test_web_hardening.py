"""Hardening of the web app: redirects ignore the Host header; servers keep to themselves."""

import http.client
import urllib.request
from pathlib import Path

import pytest

HOSTILE_HOST = "evil.example.com"
ARTICLE_TITLE = "La France et le Maroc relancent leur coopération sécuritaire"


# --- Redirects: the Host header never reaches a Location ------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/articles//cooperation-maroc", "/articles/cooperation-maroc"),
        ("/api/articles//cooperation-maroc", "/api/articles/cooperation-maroc"),
        ("/articles//cooperation-maroc?q=maroc", "/articles/cooperation-maroc?q=maroc"),
    ],
)
def test_a_redirect_points_to_this_site_whatever_the_host_header(client, path, expected):
    response = client.get(path, headers={"Host": HOSTILE_HOST})
    assert response.status_code == 308
    assert response.headers["Location"] == expected


def test_a_redirect_keeps_the_prefix_the_app_is_mounted_under(client):
    response = client.get("/articles//cooperation-maroc", base_url=f"http://{HOSTILE_HOST}/veille")
    assert response.headers["Location"] == "/veille/articles/cooperation-maroc"


def test_following_a_redirect_lands_on_the_article(client):
    response = client.get(
        "/articles//cooperation-maroc", headers={"Host": HOSTILE_HOST}, follow_redirects=True
    )
    assert response.status_code == 200
    assert ARTICLE_TITLE in response.get_data(as_text=True)


def get(server_port: int, path: str, host: str) -> http.client.HTTPResponse:
    """GET path from the server on 127.0.0.1 with this Host header; the response is read."""
    connection = http.client.HTTPConnection("127.0.0.1", server_port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


@pytest.mark.slow
def test_the_real_server_redirects_to_itself_whatever_the_host_header(live_server):
    redirect = get(live_server.port, "/articles//cooperation-maroc", HOSTILE_HOST)
    assert redirect.status == 308
    location = redirect.getheader("Location")
    assert location == "/articles/cooperation-maroc"

    with urllib.request.urlopen(live_server.url + location, timeout=10) as page:
        assert page.status == 200
        assert ARTICLE_TITLE in page.read().decode("utf-8")


# --- A Host header no URL can hold: a clear 400, never a 500 ----------------------------------

BAD_HOSTS = [
    "a" * 64 + ".example",  # a label longer than 63 characters
    ".example",  # an empty label
    "a..example",
    "ex ample",
]
# Werkzeug's test client itself fails on these: the real server is asked.
SERVER_ONLY_BAD_HOSTS = [
    "xn--a.example",  # punycode that does not decode
    "localhost:65536",  # a port out of range
]


@pytest.mark.parametrize("host", BAD_HOSTS)
@pytest.mark.parametrize("path", ["/", "/?q=maroc", "/articles/cooperation-maroc", "/nowhere"])
def test_a_page_asked_with_a_bad_host_header_is_a_400_in_french(client, host, path):
    response = client.get(path, headers={"Host": host})
    assert response.status_code == 400
    assert "l'en-tête Host ne désigne pas un nom d'hôte" in response.get_data(as_text=True)


@pytest.mark.parametrize("host", BAD_HOSTS)
@pytest.mark.parametrize(
    "path", ["/api/search?q=maroc", "/search.atom?q=maroc", "/api/articles//cooperation-maroc"]
)
def test_the_api_and_feeds_asked_with_a_bad_host_header_answer_a_json_400(client, host, path):
    response = client.get(path, headers={"Host": host})
    assert response.status_code == 400
    assert response.get_json() == {"error": "Host: not a host name", "parameter": "Host"}


@pytest.mark.parametrize(
    "host",
    [
        "localhost:8000",
        "127.0.0.1",
        "[::1]:8000",
        "veille.example.fr",
        "veille.example.fr.",
        "Veille.Example.FR",
        "example.fr:443",
    ],
)
def test_a_good_host_header_is_served(client, host):
    response = client.get("/search.atom?q=maroc", headers={"Host": host})
    assert response.status_code == 200
    link = f"http://{host}/articles/cooperation-maroc".lower()
    assert link in response.get_data(as_text=True).lower()


def test_a_service_name_behind_a_proxy_is_served(client):
    # Underscores are no part of a host name, but a proxy forwards a service's as it is.
    for path in ("/?q=maroc", "/api/search?q=maroc", "/search.atom?q=maroc"):
        assert client.get(path, headers={"Host": "veille_web:8000"}).status_code == 200


@pytest.mark.slow
def test_a_service_name_s_feed_links_to_the_server_s_own_address(live_server):
    # Werkzeug builds no URL on a host with an underscore: the feed falls back on the server's.
    asked = urllib.request.Request(
        live_server.url + "/search.atom?q=maroc", headers={"Host": "veille_web:8000"}
    )
    with urllib.request.urlopen(asked, timeout=10) as feed:
        body = feed.read().decode("utf-8")
    assert f"{live_server.url}/articles/cooperation-maroc" in body
    assert "http:/articles" not in body


@pytest.mark.slow
def test_the_real_server_answers_a_bad_host_with_400_and_goes_on(live_server):
    for host in [*BAD_HOSTS, *SERVER_ONLY_BAD_HOSTS]:
        assert get(live_server.port, "/", host).status == 400
        assert get(live_server.port, "/search.atom?q=maroc", host).status == 400
    assert get(live_server.port, "/?q=maroc", "127.0.0.1").status == 200
    assert "Traceback" not in live_server.read_log()


# --- Two `veille serve` on one account: neither touches the other -------------------------


def files_under(folder: Path) -> list[str]:
    """Every path under folder, relative to it (empty if the folder does not exist)."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.mark.slow
def test_two_servers_leave_no_shared_control_socket_and_outlive_each_other(
    tmp_path, monkeypatch, web_index_path, start_server
):
    # gunicorn 27 puts its control socket in $XDG_RUNTIME_DIR, else in $HOME/.gunicorn: the
    # servers inherit an empty HOME of this test's own, and no XDG_RUNTIME_DIR.
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)

    first = start_server(web_index_path, workers=1)
    second = start_server(web_index_path, workers=1)
    assert files_under(home) == []

    first.stop()
    with urllib.request.urlopen(second.url + "/healthz", timeout=10) as response:
        assert response.status == 200
    assert files_under(home) == []
