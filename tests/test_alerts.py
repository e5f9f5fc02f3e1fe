"""Saved searches with alerts, with real parts: a real index, a local SMTP server (aiosmtpd), a
local webhook receiver, the `veille` command as a process, and kill -9 during a run."""

import datetime as dt
import email
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from bs4 import BeautifulSoup
from conftest import free_port, write_jsonl

from search import (
    AlertError,
    SmtpSettings,
    add_alert,
    build_index,
    list_alerts,
    remove_alert,
    run_alerts,
    update_index,
)
from search.dates import PARIS

ROOT = Path(__file__).resolve().parent.parent

OLD = [
    {
        "id": "maroc-ancien",
        "title": "Le Maroc et la France, un an plus tôt",
        "date": "2024-01-10",
        "source": "Le Monde",
        "url": "https://www.example.fr/maroc-ancien",
        "text": "Rabat et Paris discutent de coopération sécuritaire au Maroc.",
    },
    {
        "id": "peche-ancien",
        "title": "La pêche en Bretagne",
        "date": "2024-01-11",
        "text": "Les pêcheurs bretons attendent le printemps.",
    },
]
NEW = [
    {
        "id": "maroc-nouveau-1",
        "title": "Le Maroc signe un accord de sécurité",
        "date": "2024-06-01",
        "source": "AFP",
        "url": "https://www.example.fr/maroc-1",
        "text": "Le Maroc a signé lundi un accord de sécurité avec ses voisins.",
    },
    {
        "id": "maroc-nouveau-2",
        "title": "Au Maroc, la saison touristique commence",
        "date": "2024-06-02",
        "source": "Le Figaro",
        "url": "https://www.example.fr/maroc-2",
        "text": "Les hôtels du Maroc affichent complet pour le début de l'été.",
    },
    {
        "id": "peche-nouveau",
        "title": "Nouveau quota de pêche",
        "date": "2024-06-03",
        "text": "Bruxelles fixe les quotas de pêche pour la Manche.",
    },
]
NEW_MAROC = {"maroc-nouveau-1", "maroc-nouveau-2"}


def veille(*args: str, env: dict | None = None, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "search", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=60,
        **kwargs,
    )


# --- Local servers ----------------------------------------------------------------------


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp():
    mailbox = _Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.settings = SmtpSettings(host="127.0.0.1", port=controller.port, sender="v@x.fr")
    yield mailbox
    controller.stop()


class _Receiver(ThreadingHTTPServer):
    """Records each POST (its Idempotency-Key and JSON body) when it arrives; answers 500 to
    the first `fail` requests and waits `delay` seconds before answering."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.posts: list[tuple[str, dict]] = []
        self.fail = 0
        self.delay = 0.0
        self.arrived = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook/secret-token"

    def handle_error(self, request, client_address) -> None:
        pass  # a client killed while we wait: nothing to report


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server: _Receiver = self.server  # type: ignore[assignment]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.posts.append((self.headers["Idempotency-Key"], body))
        server.arrived.set()
        time.sleep(server.delay)
        status = 500 if server.fail > 0 else 200
        server.fail -= 1
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hook():
    receiver = _Receiver()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.shutdown()
    receiver.server_close()


def delivered(receiver: _Receiver) -> list[str]:
    return [a["article_id"] for _, body in receiver.posts for a in body["articles"]]


# --- The index --------------------------------------------------------------------------


@pytest.fixture
def index(tmp_path) -> Path:
    """An index of the old articles; the next whole second has begun when it is returned, so
    an alert saved now is saved after they were indexed (the ledger counts in seconds)."""
    path = tmp_path / "index"
    build_index(write_jsonl(tmp_path / "corpus" / "old.jsonl", OLD), path)
    time.sleep(1.02 - time.time() % 1)
    return path


def add_new(index: Path, records: list[dict] = NEW) -> None:
    update_index(index, add=write_jsonl(index.parent / "new" / "new.jsonl", records))


# --- Tests --------------------------------------------------------------------------------


def test_an_index_without_its_ledger_resends_nothing_old(index, hook):
    add_alert(index, "maroc", "Maroc OU pêcheurs", webhooks=[hook.url])
    (index / "articles.sqlite").rename(index.parent / "ledger-moved-away.sqlite")
    [run] = run_alerts(index)
    assert (run.new, delivered(hook)) == (0, [])  # dated before the alert was saved
    today = dt.datetime.now(PARIS).date().isoformat()
    undated = {key: value for key, value in NEW[1].items() if key != "date"}
    add_new(index, [NEW[0] | {"id": "du-jour", "date": today}, undated | {"id": "sans-date"}])
    [run] = run_alerts(index)  # the writer's new ledger knows what was there as old
    assert sorted(delivered(hook)) == ["du-jour", "sans-date"]
    (index / "articles.sqlite").unlink()  # lost again: an undated one is not taken for new
    build_index(write_jsonl(index.parent / "corpus" / "old.jsonl", OLD), index)
    [run] = run_alerts(index)
    assert run.new == 0
    (index / "articles.sqlite").unlink()  # and its pointer too: every generation is read
    (index / "CURRENT").unlink()
    build_index(write_jsonl(index.parent / "corpus" / "old.jsonl", OLD), index)
    [run] = run_alerts(index)
    assert run.new == 0


def test_a_new_ledger_still_delivers_what_is_dated_from_the_alert_s_day(index, hook):
    add_alert(index, "maroc", "Maroc", webhooks=[hook.url])
    today = dt.datetime.now(PARIS).date().isoformat()
    add_new(index, [NEW[0] | {"id": "du-jour", "date": today}])  # not yet delivered
    (index / "articles.sqlite").unlink()
    add_new(index, [NEW[1]])  # a writer first: its ledger knows du-jour, from long ago
    [run] = run_alerts(index, [" maroc "])  # the name as typed, spaces around it
    assert run.new == 2
    assert sorted(delivered(hook)) == ["du-jour", "maroc-nouveau-2"]


def test_new_matching_articles_are_delivered_once_by_email_and_webhook(index, smtp, hook):
    add_alert(index, "maroc", "Maroc", emails=["desk@example.fr"], webhooks=[hook.url])
    add_new(index)
    [run] = run_alerts(index, smtp=smtp.settings)
    assert (run.new, run.pending, run.failures) == (2, 0, ())
    assert run.line() == (
        f"maroc: 2 new articles, 2 sent to desk@example.fr (email), "
        f"127.0.0.1:{hook.server_address[1]} (webhook); 0 pending"
    )
    [message] = smtp.messages
    assert message["Subject"] == "Veille : 2 nouveaux articles pour « maroc »"
    assert message["To"] == "desk@example.fr"
    body = message.get_content()
    assert "Le Maroc signe un accord de sécurité" in body
    assert "https://www.example.fr/maroc-1" in body
    assert "AFP, 2024-06-01" in body
    assert "un an plus tôt" not in body and "pêche" not in body
    [(key, payload)] = hook.posts
    assert key and payload["alert"] == "maroc" and payload["query"] == "Maroc"
    assert {a["article_id"] for a in payload["articles"]} == NEW_MAROC
    first = next(a for a in payload["articles"] if a["article_id"] == "maroc-nouveau-1")
    assert first["url"] == "https://www.example.fr/maroc-1" and first["source"] == "AFP"
    assert first["date"] == "2024-06-01" and "accord" in first["snippet"]
    assert "<mark>" not in first["snippet"]

    # A second run, then a rebuild of the whole corpus and a run: nothing is sent again.
    assert run_alerts(index, smtp=smtp.settings)[0].new == 0
    build_index(write_jsonl(index.parent / "all.jsonl", OLD + NEW), index)
    [run] = run_alerts(index, smtp=smtp.settings)
    assert (run.new, run.sent, run.pending) == (0, (), 0)
    assert len(smtp.messages) == 1 and len(hook.posts) == 1


def test_a_failing_webhook_leaves_deliveries_pending_then_sends_them_once(index, hook):
    add_alert(index, "maroc", "Maroc", webhooks=[hook.url])
    add_new(index)
    hook.fail = 1
    [run] = run_alerts(index)
    assert run.new == 2 and run.pending == 2 and "HTTP 500" in run.failures[0]
    assert list_alerts(index)[0].pending == 2
    [run] = run_alerts(index)
    assert run.new == 0 and run.pending == 0 and run.sent
    (key1, body1), (key2, body2) = hook.posts
    assert key1 == key2 and body1 == body2  # the same batch, the same key: a receiver may drop
    assert set(delivered(hook)) == NEW_MAROC
    run_alerts(index)
    assert len(hook.posts) == 2


def test_smtp_down_leaves_deliveries_pending_then_retried(index, smtp):
    add_alert(index, "maroc", "Maroc", emails=["desk@example.fr"])
    add_new(index)
    down = SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2)
    [run] = run_alerts(index, smtp=down)
    assert run.pending == 2 and "SMTP 127.0.0.1" in run.failures[0]
    [run] = run_alerts(index, smtp=smtp.settings)
    assert run.pending == 0 and len(smtp.messages) == 1
    assert smtp.messages[0]["Message-ID"].startswith("<veille-alert-")
    run_alerts(index, smtp=smtp.settings)
    assert len(smtp.messages) == 1


def test_articles_of_a_later_add_go_in_a_later_message(index, hook):
    add_alert(index, "maroc", "Maroc", webhooks=[hook.url])
    add_new(index, NEW[:1])
    run_alerts(index)
    add_new(index, NEW[1:])
    [run] = run_alerts(index)
    assert run.new == 1
    assert [[a["article_id"] for a in body["articles"]] for _, body in hook.posts] == [
        ["maroc-nouveau-1"],
        ["maroc-nouveau-2"],
    ]


STRICT_NEW = [
    {
        "id": "bruxelles-bouchons",
        "title": "Embouteillages record",
        "date": "2024-06-03",
        "text": "Embouteillages record à Bruxelles ce matin.",
    },
    {
        "id": "peche-accord",
        "title": "Accord de pêche",
        "date": "2024-06-03",
        "text": "L'accord de pêche entre le Maroc et l'Union européenne signé à Bruxelles.",
    },
    {
        "id": "seisme-japon",
        "title": "Un séisme au Japon",
        "date": "2024-06-03",
        "text": "Un séisme a frappé le nord du Japon.",
    },
    {
        "id": "algerie-remaniement",
        "title": "Remaniement",
        "date": "2024-06-03",
        "text": "Algérie : le gouvernement remanié.",
    },
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # a long query is not any of its words, as the search page ranks it
        ("accord de pêche Maroc Union européenne Bruxelles", ["peche-accord"]),
        ("sexisme", []),  # not read as « séisme », the corpus's closest word
        ("Algérie sécheresse", []),  # no article has both words: none is the closest
    ],
)
def test_a_saved_search_delivers_only_articles_with_its_words_as_typed(
    index, hook, query, expected
):
    add_alert(index, "veille", query, webhooks=[hook.url])
    add_new(index, STRICT_NEW)
    [run] = run_alerts(index)
    assert sorted(delivered(hook)) == expected and run.new == len(expected)


def test_a_password_saved_in_an_old_webhook_is_never_printed(index):
    add_alert(index, "maroc", "Maroc", webhooks=[f"http://127.0.0.1:{free_port()}/h"])
    with sqlite3.connect(index / "alerts.sqlite") as db:  # as an earlier version saved it
        old = json.dumps(
            [
                f"webhook:http://bob:s3cret@127.0.0.1:{free_port()}/h",
                "webhook:https://bob:s3cret@hooks.example.org/hook",  # no port: InvalidURL
                f"webhook:http://TOKEN123@127.0.0.1:{free_port()}/t",
            ]
        )
        db.execute("UPDATE alerts SET targets = ?", (old,))
    add_new(index)
    run = veille("alert", "run", "--index", str(index))
    listed = veille("alert", "list", "--index", str(index))
    assert run.returncode == 1 and "127.0.0.1:" in run.stderr
    assert "http://***@127.0.0.1:" in listed.stdout and "https://***@hooks" in listed.stdout
    assert "Traceback" not in run.stderr and "hooks.example.org: its URL holds a user" in run.stderr
    said = run.stdout + run.stderr + listed.stdout + listed.stderr
    assert "s3cret" not in said and "TOKEN123" not in said


def test_alerts_are_checked_when_added(index):
    with pytest.raises(AlertError, match="--email ADDRESS or --webhook URL"):
        add_alert(index, "maroc", "Maroc")
    with pytest.raises(AlertError, match="not an email address"):
        add_alert(index, "maroc", "Maroc", emails=["desk"])
    with pytest.raises(AlertError, match="http"):
        add_alert(index, "maroc", "Maroc", webhooks=["ftp://example.fr/x"])
    with pytest.raises(AlertError, match=r"user and password \(example.fr \(webhook\)\)") as e:
        add_alert(index, "maroc", "Maroc", webhooks=["https://u:s3cret@example.fr/hook"])
    assert "s3cret" not in str(e.value)
    add_alert(index, "maroc", "Maroc", emails=["a@example.fr"])
    with pytest.raises(AlertError, match="exists"):
        add_alert(index, "maroc", "Algérie", emails=["a@example.fr"])
    remove_alert(index, " maroc ")  # its name as typed, spaces around it or not
    with pytest.raises(AlertError, match="no alert named"):
        remove_alert(index, "maroc")


def test_the_command_line(index, smtp, hook):
    where = ("--index", str(index))
    run = veille("alert", "add", "maroc", "Maroc", "--email", "d@example.fr", *where)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "Saved maroc: Maroc\n"
    typo = veille("alert", "add", "typo", "Marocc", "--email", "d@example.fr", *where)
    # read as typed: the closest word is a suggestion, not a reading
    assert typo.stdout.splitlines() == ["Saved typo: Marocc", "  Essayez : Maroc"]
    assert veille("alert", "remove", "typo", *where).returncode == 0
    assert veille("alert", "add", "rien", "Maroc", *where).returncode == 1
    assert veille("alert", "add", "web", "Maroc", "--webhook", hook.url, *where).returncode == 0
    add_new(index)
    hook.fail = 1
    env = {"VEILLE_SMTP_HOST": "127.0.0.1", "VEILLE_SMTP_PORT": str(smtp.settings.port)}
    run = veille("alert", "run", *where, env=env)
    assert run.returncode == 1
    assert run.stdout.splitlines() == [
        "maroc: 2 new articles, 2 sent to d@example.fr (email); 0 pending",
        "web: 2 new articles; 2 pending",
    ]
    assert run.stderr.startswith("veille alert: web: webhook 127.0.0.1:")
    assert "HTTP 500" in run.stderr and "Traceback" not in run.stderr
    listing = veille("alert", "list", *where).stdout
    assert "maroc: 'Maroc' -> d@example.fr (email); saved " in listing
    assert "web: 'Maroc' ->" in listing and "2 pending" in listing
    run = veille("alert", "run", "--name", "web", *where)
    # the 2 articles an earlier run left pending, sent now
    assert run.returncode == 0 and run.stdout == "web: 0 new articles, 2 sent to " + (
        f"127.0.0.1:{hook.server_address[1]} (webhook); 0 pending\n"
    )
    assert veille("alert", "remove", "web", *where).returncode == 0
    run = veille("alert", "run", "--name", "web", *where)
    assert run.returncode == 1 and "no alert named 'web'" in run.stderr
    assert len(smtp.messages) == 1


def test_kill_9_during_a_run_loses_nothing_and_duplicates_nothing(index, hook):
    add_alert(index, "maroc", "Maroc", webhooks=[hook.url])
    add_new(index)
    hook.delay = 30.0  # the receiver holds its answer: the run is killed while it waits
    process = subprocess.Popen(
        [sys.executable, "-m", "search", "alert", "run", "--index", str(index)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert hook.arrived.wait(20)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    hook.delay = 0.0
    run = veille("alert", "run", "--index", str(index))
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"maroc: 0 new articles, {len(NEW_MAROC)} sent to " + (
        f"127.0.0.1:{hook.server_address[1]} (webhook); 0 pending\n"
    )
    assert set(delivered(hook)) == NEW_MAROC  # every article delivered...
    keys: dict[str, set[str]] = {}
    for key, body in hook.posts:
        for article in body["articles"]:
            keys.setdefault(article["article_id"], set()).add(key)
    assert all(len(k) == 1 for k in keys.values())  # ...and a replay carries the same key
    with sqlite3.connect(index / "alerts.sqlite") as db:
        rows = db.execute("SELECT article_id, sent_at FROM deliveries").fetchall()
    assert sorted(a for a, _ in rows) == sorted(NEW_MAROC) and all(s for _, s in rows)
    assert veille("alert", "run", "--index", str(index)).returncode == 0
    assert len(hook.posts) == 2


@pytest.mark.parametrize(
    "command", [("list",), ("run",), ("add", "maroc", "Maroc", "--email", "a@example.org")]
)
def test_every_alert_command_on_a_missing_index_is_one_clear_error(command, tmp_path):
    missing = tmp_path / "nulle-part"
    run = veille("alert", *command, "--index", str(missing))
    assert run.returncode == 1
    assert f"no index at {missing}" in run.stderr and "Traceback" not in run.stderr


def test_a_corrupt_state_file_is_one_clear_error(index):
    (index / "alerts.sqlite").write_bytes(b"this is not a database" * 100)
    for args in (("list",), ("run",), ("add", "x", "Maroc", "--email", "a@example.fr")):
        run = veille("alert", *args, "--index", str(index))
        assert run.returncode == 1, args
        assert run.stderr.startswith(f"veille: error: alert state {index / 'alerts.sqlite'}")
        assert "is unreadable: " in run.stderr and run.stderr.endswith("; move it away\n")
        assert "Traceback" not in run.stderr and len(run.stderr.splitlines()) == 1


def test_the_web_page_lists_saved_searches_read_only(index):
    from web import create_app

    app = create_app({"TESTING": True, "VEILLE_INDEX": str(index)})
    client = app.test_client()
    page = BeautifulSoup(client.get("/alertes").text, "html.parser")
    assert page.select_one(".empty") is not None
    assert not (index / "alerts.sqlite").exists()  # reading the page writes nothing
    home = BeautifulSoup(client.get("/").text, "html.parser")
    assert home.select_one("footer a[href='/alertes']").text == "Recherches suivies"

    add_alert(index, "Maroc & voisins", "Maroc OU Algérie", emails=["secret@example.fr"])
    add_alert(index, "pêche", "pêche", webhooks=["https://hooks.example.fr/secret-token"])
    answer = client.get("/alertes")
    assert answer.status_code == 200
    page = BeautifulSoup(answer.text, "html.parser")
    items = page.select("li.alert")
    assert [i.select_one(".alert-name").text for i in items] == ["Maroc & voisins", "pêche"]
    assert items[0].select_one(".alert-query").text == "Maroc OU Algérie"
    # The page of the reading the alert makes: every word as typed.
    assert items[0].select_one(".alert-query")["href"] == "/?q=Maroc+OU+Alg%C3%A9rie&strict=true"
    assert items[0].select_one(".alert-feed")["href"] == "/search.atom?q=Maroc+OU+Alg%C3%A9rie"
    assert "secret" not in answer.text  # targets are private
    assert all(form.get("method", "get").lower() == "get" for form in page.select("form"))
    assert client.post("/alertes").status_code == 405
    feed = client.get(items[1].select_one(".alert-feed")["href"])
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"


def test_an_alert_s_times_are_paris_times(index):
    from web import create_app

    add_alert(index, "maroc", "Maroc", emails=["d@example.fr"])
    with sqlite3.connect(index / "alerts.sqlite") as db:  # saved at 00:30 on 2 July in Paris
        db.execute("UPDATE alerts SET saved_at = '2026-07-01T22:30:00+00:00'")
    listed = veille("alert", "list", "--index", str(index))
    assert "saved 2026-07-02T00:30:00+02:00, last run never" in listed.stdout
    app = create_app({"TESTING": True, "VEILLE_INDEX": str(index)})
    page = BeautifulSoup(app.test_client().get("/alertes").text, "html.parser")
    assert "Enregistrée le 2 juillet 2026" in page.select_one("li.alert").get_text(" ")


def test_pending_and_sent_count_articles_not_messages(index, smtp):
    add_alert(index, "mail", "Maroc", emails=["desk@example.fr", "chef@example.fr"])
    add_new(index)
    down = SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2.0)
    [run] = run_alerts(index, smtp=down)  # two articles, two addresses: four deliveries
    assert (run.new, run.pending, run.delivered) == (2, 2, 0)
    assert run.line() == "mail: 2 new articles; 2 pending"
    [run] = run_alerts(index, smtp=smtp.settings)
    assert (run.new, run.pending, run.delivered) == (0, 0, 2)
    assert run.line().startswith("mail: 0 new articles, 2 sent to desk@example.fr (email)")
