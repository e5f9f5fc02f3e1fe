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
