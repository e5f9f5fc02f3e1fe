"""Saved searches with alerts: each new matching article delivered once, by email or webhook.

State is kept in SQLite beside the index, outside its generations: `<index>/alerts.sqlite`
(WAL). A saved search delivers the articles that match it and were first indexed after it
was saved (the ledger of `search.ledger` keeps first times through rebuilds). Deliveries are
recorded per (alert, article, target) as pending rows, in one transaction, before anything
is sent; a batch is marked sent only after the server accepted it, and a pending batch is
sent again, with the same id (Message-ID, Idempotency-Key), at the next run. So a failure or
a kill -9 loses nothing; the only possible duplicate is a batch accepted by the server just
before the process died, which carries the id of its first try.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import html
import http.client
import json
import os
import re
import smtplib
import sqlite3
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from urllib.parse import quote_plus, urlsplit

from .dates import PARIS
from .errors import VeilleError
from .index import Index
from .ledger import first_indexed
from .request import MAX_BUDGET_SECONDS, SearchRequest
from .results import Hit, article_head

STATE_FILE = "alerts.sqlite"
_VERSION = 1
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS alerts (
    name TEXT PRIMARY KEY,
    query TEXT NOT NULL,
    targets TEXT NOT NULL,          -- JSON list of "email:ADDRESS" and "webhook:URL"
    saved_at TEXT NOT NULL,         -- UTC, to the second (the ledger's precision)
    last_run TEXT
)""",
    """CREATE TABLE IF NOT EXISTS deliveries (
    alert TEXT NOT NULL,
    article_id TEXT NOT NULL,
    target TEXT NOT NULL,
    batch TEXT NOT NULL,            -- one message: its Message-ID / Idempotency-Key
    position INTEGER NOT NULL,
    article TEXT NOT NULL,          -- JSON: what is sent, fixed when queued
    queued_at TEXT NOT NULL,
    sent_at TEXT,                   -- NULL while pending
    attempts INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    PRIMARY KEY (alert, article_id, target)
)""",
    "CREATE INDEX IF NOT EXISTS pending ON deliveries (alert, sent_at)",
)
MAX_NAME_CHARS = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_EMAIL = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+")


class AlertError(VeilleError):
    """A saved search cannot be added, found or run as asked."""


class AlertStateError(AlertError):
    """The alert state file cannot be read: what to do about it."""

    def __init__(self, path: Path, problem: object) -> None:
        super().__init__(f"alert state {path} is unreadable: {problem}; move it away")


@dataclass(frozen=True)
class Alert:
    """A saved search: its query, where its new articles go, and how it stands."""

    name: str
    query: str
    emails: tuple[str, ...]
    webhooks: tuple[str, ...]
    saved_at: dt.datetime
    last_run: dt.datetime | None = None
    pending: int = 0  # deliveries (article, target) not yet sent
    # How the index reads the query when it is saved (a typo read as a word, syntax read
    # as words): each run reads it again, against the index as it then is.
    notes: tuple[str, ...] = ()

    @property
    def feed_url(self) -> str:
        """The Atom feed of its query on the web app (a path from the site's root)."""
        return "/search.atom?q=" + quote_plus(self.query)

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(f"email:{a}" for a in self.emails) + tuple(
            f"webhook:{u}" for u in self.webhooks
        )


@dataclass(frozen=True)
class SmtpSettings:
    """Where alert emails go out: from VEILLE_SMTP_* unless given."""

    host: str = ""
    port: int = 25
    sender: str = "veille@localhost"
    user: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False
    timeout: float = 30.0

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: object
    ) -> SmtpSettings:
        """VEILLE_SMTP_HOST, _PORT, _FROM, _USER, _PASSWORD, _STARTTLS; overrides (not None)
        win."""
        env = os.environ if environ is None else environ
        try:
            port = int(env.get("VEILLE_SMTP_PORT") or 25)
        except ValueError:
            raise AlertError(f"VEILLE_SMTP_PORT: not a port: {env['VEILLE_SMTP_PORT']!r}") from None
        settings = cls(
            host=env.get("VEILLE_SMTP_HOST", ""),
            port=port,
            sender=env.get("VEILLE_SMTP_FROM") or cls.sender,
            user=env.get("VEILLE_SMTP_USER", ""),
            password=env.get("VEILLE_SMTP_PASSWORD", ""),
            starttls=env.get("VEILLE_SMTP_STARTTLS", "").lower() in ("1", "true", "yes", "on"),
        )
        return replace(settings, **{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class AlertRun:
    """What one run of a saved search did."""

    name: str
    new: int  # articles found new this run
    sent: tuple[str, ...]  # targets that accepted a message this run
    failures: tuple[str, ...]  # one line per failed message
    pending: int  # articles left to send (to one of their targets at least) at the next run
    delivered: int = 0  # articles sent this run (to one of their targets at least)

    def line(self) -> str:
        """ "NAME: 3 new articles, 3 sent to a@b.fr (email), hooks.example.fr (webhook);
        0 pending" (articles, new or left pending by an earlier run)."""
        words = f"{self.new} new article{'s' if self.new != 1 else ''}"
        if self.sent:
            words += f", {self.delivered} sent to " + ", ".join(map(_label, self.sent))
        return f"{self.name}: {words}; {self.pending} pending"


def _label(target: str) -> str:
    """A target as said in output: an address, or a webhook's host (its path may be secret)."""
    kind, _, where = target.partition(":")
    return f"{where if kind == 'email' else _host(where)} ({kind})"


def _host(url: str) -> str:
    """A URL's host and port, never a user and password in it (an alert saved before
    they were refused)."""
    return urlsplit(url).netloc.rpartition("@")[2]


def masked_url(url: str) -> str:
    """A webhook's URL as listed: a user and password in it (an alert saved before they
    were refused; a token) shown as ***."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=f"***@{_host(url)}").geturl()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _stamp(value: dt.datetime) -> str:
    return value.isoformat(timespec="seconds")


# --- The state file ---------------------------------------------------------------------


def state_path(index_path: str | os.PathLike) -> Path:
    """Where an index keeps its alerts: in its folder (beside a cluster's config file)."""
    path = Path(index_path)
    return (path if path.suffix != ".toml" else path.parent) / STATE_FILE


@contextmanager
def _state(index_path: str | os.PathLike, create: bool = True) -> Iterator[sqlite3.Connection]:
    """The open state (autocommit; transactions are explicit), checked, then closed."""
    path = state_path(index_path)
    if not path.parent.is_dir():
        raise AlertError(f"no index at {path.parent}: build one first with `veille build`")
    db = None
    try:
        db = sqlite3.connect(path, timeout=60, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        check = db.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(check)
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > _VERSION:
            raise sqlite3.DatabaseError(f"written by a newer Veille (version {version})")
        if create or version:
            with _transaction(db):
                for statement in _SCHEMA:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {_VERSION}")
    except sqlite3.Error as error:
        if db is not None:
            db.close()
        raise AlertStateError(path, error) from None
    try:
        yield db
    except sqlite3.DatabaseError as error:
        raise AlertStateError(path, error) from None
    finally:
        db.close()


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@contextmanager
def _run_lock(index_path: str | os.PathLike) -> Iterator[None]:
    """One `alert run` at a time, so two never send one pending batch (freed on kill -9)."""
    path = state_path(index_path).with_name("alerts.lock")
    with open(path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlertError("another `veille alert run` is running on this index") from None
        yield


# --- Saved searches ---------------------------------------------------------------------


def _check_target(kind: str, value: str) -> str:
    if kind == "email" and not _EMAIL.fullmatch(value):
        raise AlertError(f"not an email address: {value!r}")
    parts = urlsplit(value)
    if kind == "webhook" and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise AlertError(f"not an http(s) URL for a webhook: {value!r}")
    if kind == "webhook" and "@" in parts.netloc:
        # urllib would take the user and password for the host; a token goes in the path.
        raise AlertError(
            f"a webhook's URL cannot carry a user and password ({_label(f'{kind}:{value}')}): "
            "put a token in its path instead"
        )
    return f"{kind}:{value}"


def add_alert(
    index_path: str | os.PathLike,
    name: str,
    query: str,
    *,
    emails: Iterable[str] = (),
    webhooks: Iterable[str] = (),
) -> Alert:
    """Save a search under a name; its articles indexed from now on will be delivered."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or _CONTROL.search(name):
        raise AlertError(
            f"an alert's name is 1 to {MAX_NAME_CHARS} characters, no control character"
        )
    # Read strictly: a saved search delivers only what has its words as typed.
    request = SearchRequest(query=query, strict=True)  # ParameterError if it is no query
    if not request.query.strip():
        raise AlertError("an alert needs a query")
    targets = [_check_target("email", e) for e in emails]
    targets += [_check_target("webhook", w) for w in webhooks]
    if not targets:
        raise AlertError("an alert needs somewhere to go: --email ADDRESS or --webhook URL")
    with Index.open(index_path) as index:  # the index is there and works
        results = index.search(replace(request, limit=1))
    # How the query reads: syntax read as words, and a word no article has.
    notes = results.notes + ((f"Essayez : {results.suggestion}",) if results.suggestion else ())
    saved_at = _now()
    with _state(index_path) as db, _transaction(db):
        if db.execute("SELECT 1 FROM alerts WHERE name = ?", (name,)).fetchone():
            raise AlertError(f"an alert named {name!r} exists: remove it first")
        db.execute(
            "INSERT INTO alerts (name, query, targets, saved_at) VALUES (?, ?, ?, ?)",
            (name, request.query, json.dumps(targets), _stamp(saved_at)),
        )
    saved = _alert(name, request.query, json.dumps(targets), _stamp(saved_at), None, 0)
    return replace(saved, notes=notes)


def _alert(name, query, targets, saved_at, last_run, pending) -> Alert:
    kinds = [target.partition(":") for target in json.loads(targets)]
    return Alert(
        name=name,
        query=query,
        emails=tuple(where for kind, _, where in kinds if kind == "email"),
        webhooks=tuple(where for kind, _, where in kinds if kind == "webhook"),
        saved_at=dt.datetime.fromisoformat(saved_at),
        last_run=dt.datetime.fromisoformat(last_run) if last_run else None,
        pending=pending,
    )


def list_alerts(index_path: str | os.PathLike) -> list[Alert]:
    """The saved searches, by name (none if there is no state yet; nothing is written).

    Raises AlertError when there is no index there, as adding or running alerts does."""
    path = state_path(index_path)
    if not path.exists():
        if not path.parent.is_dir():
            raise AlertError(f"no index at {path.parent}: build one first with `veille build`")
        return []
    with _state(index_path, create=False) as db:
        rows = db.execute(
            "SELECT a.name, a.query, a.targets, a.saved_at, a.last_run,"
            " (SELECT COUNT(DISTINCT d.article_id) FROM deliveries d"
            " WHERE d.alert = a.name AND d.sent_at IS NULL)"
            " FROM alerts a ORDER BY a.name"
        ).fetchall()
    return [_alert(*row) for row in rows]


def remove_alert(index_path: str | os.PathLike, name: str) -> None:
    """Forget a saved search and its deliveries (pending ones are dropped)."""
    name = name.strip()  # as add_alert saved it
    with _state(index_path) as db, _transaction(db):
        if not db.execute("DELETE FROM alerts WHERE name = ?", (name,)).rowcount:
            raise AlertError(f"no alert named {name!r}")
        db.execute("DELETE FROM deliveries WHERE alert = ?", (name,))


# --- Finding new articles ---------------------------------------------------------------


def _plain(snippet: str) -> str:
    return html.unescape(re.sub(r"</?mark>", "", snippet))


def _payload(hit: Hit, article_id: str) -> dict:
    """An article as delivered; a copy of the hit's story is told by its own metadata."""
    version = next((d for d in hit.duplicates if d.article_id == article_id), hit)
    return article_head(version) | {"snippet": _plain(hit.snippet)}


def _matching(index: Index, query: str) -> Iterator[Hit]:
    """Every hit of the query, newest first, a page of 100 at a time."""
    page = 1
    while page <= SearchRequest.MAX_PAGE:
        request = SearchRequest(
            query=query,
            sort="date",
            limit=100,
            page=page,
            budget=MAX_BUDGET_SECONDS,
            strict=True,
        )
        results = index.search(request)
        yield from results
        if page >= results.pages:
            return
        page += 1


def _new_articles(
    index_path: str | os.PathLike, index: Index, alert: Alert, known: set[str]
) -> list[dict]:
    """Stories with a version first indexed since the alert was saved, none delivered yet.

    A story (a hit and the copies folded into it) is delivered once, as its best new
    version; a new copy of a story already delivered is not sent again. An article the
    ledger does not know (a ledger moved away, a backup restored without it; the next writer
    records the index's articles as indexed long ago) is new only if it is dated from the
    day the alert was saved on.
    """
    hits = list(_matching(index, alert.query))
    ids = [a for hit in hits for a in (hit.article_id, *(d.article_id for d in hit.duplicates))]
    times = first_indexed(index_path, ids)
    saved_on = alert.saved_at.astimezone(PARIS).date()
    found = []
    for hit in hits:
        versions = {v.article_id: v.date for v in (hit, *hit.duplicates)}
        if known.intersection(versions):
            continue
        new = [a for a, date in versions.items() if _is_new(times.get(a), date, alert, saved_on)]
        if new:
            found.append(_payload(hit, new[0]))
    return found


def _is_new(
    indexed: dt.datetime | None, date: dt.date | None, alert: Alert, saved_on: dt.date
) -> bool:
    """Whether an article first indexed then (None: the ledger does not know; year 1: a
    new ledger found it indexed) and dated so is new to the alert: indexed since it was
    saved, or, its time unknown, dated from the day it was saved on."""
    if indexed is not None and indexed.year > 1:
        return indexed >= alert.saved_at
    return date is not None and date >= saved_on


def _queue(db: sqlite3.Connection, alert: Alert, articles: list[dict]) -> None:
    """Record what must be sent, one batch per target, in one transaction."""
    now = _stamp(_now())
    with _transaction(db):
        for target in alert.targets:
            batch = str(uuid.uuid4())
            db.executemany(
                "INSERT OR IGNORE INTO deliveries (alert, article_id, target, batch, position,"
                " article, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (alert.name, a["article_id"], target, batch, n, json.dumps(a), now)
                    for n, a in enumerate(articles)
                ],
            )
        db.execute("UPDATE alerts SET last_run = ? WHERE name = ?", (now, alert.name))


# --- Sending ----------------------------------------------------------------------------


def _subject(name: str, count: int) -> str:
    articles = "nouvel article" if count == 1 else "nouveaux articles"
    return f"Veille : {count} {articles} pour « {name} »"


def _email(alert: Alert, address: str, batch: str, articles: list[dict], smtp: SmtpSettings):
    message = EmailMessage()
    message["Subject"] = _subject(alert.name, len(articles))
    message["From"] = smtp.sender
    message["To"] = address
    message["Date"] = formatdate(localtime=True)
    domain = smtp.sender.rpartition("@")[2] or "veille"
    # The same id on every try of this batch: a mail system can drop a replay.
    message["Message-ID"] = f"<veille-alert-{batch}@{domain}>"
    message["X-Veille-Alert"] = alert.name
    lines = [f"Nouveaux articles pour « {alert.name} » (requête : {alert.query})", ""]
    for n, article in enumerate(articles, start=1):
        meta = ", ".join(x for x in (article["source"], article["date"]) if x)
        lines.append(f"{n}. {article['title']}")
        if meta:
            lines.append(f"   {meta}")
        lines.append(f"   {article['url'] or '(pas de lien : ' + article['article_id'] + ')'}")
        if article["snippet"]:
            lines.append(f"   {article['snippet']}")
        lines.append("")
    lines += ["-- ", f"Veille, alerte « {alert.name} »"]
    message.set_content("\n".join(lines))
    return message


def _send_email(message: EmailMessage, smtp: SmtpSettings) -> None:
    if not smtp.host:
        raise AlertError("no SMTP server: set VEILLE_SMTP_HOST (or --smtp-host)")
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as server:
            if smtp.starttls:
                server.starttls()
            if smtp.user:
                server.login(smtp.user, smtp.password)
            server.send_message(message)
    except (smtplib.SMTPException, OSError) as error:
        raise AlertError(f"SMTP {smtp.host}:{smtp.port}: {error}") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirected POST is not a delivery: the 3xx is the answer


def _post(url: str, alert: Alert, batch: str, articles: list[dict], timeout: float) -> None:
    body = {"alert": alert.name, "query": alert.query, "articles": articles}
    request = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Veille alerts",
            # The same key on every try of this batch: a receiver can drop a replay.
            "Idempotency-Key": batch,
        },
    )
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as answer:
            answer.read(65536)
    except urllib.error.HTTPError as error:
        raise AlertError(f"webhook {_host(url)}: HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise AlertError(f"webhook {_host(url)}: {reason}") from None
    except http.client.InvalidURL:  # a user and password saved before they were refused
        raise AlertError(
            f"webhook {_host(url)}: its URL holds a user and password, which are not sent: "
            "remove the alert and add it again with a token in the URL's path"
        ) from None


def _send_pending(
    db: sqlite3.Connection, alert: Alert, smtp: SmtpSettings, timeout: float
) -> tuple[list[str], list[str], set[str]]:
    """Send each pending batch of the alert; mark it sent only once accepted. Returns the
    targets that accepted one, the failures, and the articles sent to one target at least."""
    rows = db.execute(
        "SELECT target, batch, article, article_id FROM deliveries"
        " WHERE alert = ? AND sent_at IS NULL"
        " ORDER BY rowid",  # as queued: batch after batch, in the alert's targets order
        (alert.name,),
    ).fetchall()
    batches: dict[tuple[str, str], list[dict]] = {}
    ids: dict[str, set[str]] = {}
    for target, batch, article, article_id in rows:
        batches.setdefault((target, batch), []).append(json.loads(article))
        ids.setdefault(batch, set()).add(article_id)
    sent, failures, delivered = [], [], set()
    for (target, batch), articles in batches.items():
        kind, _, where = target.partition(":")
        try:
            if kind == "email":
                _send_email(_email(alert, where, batch, articles, smtp), smtp)
            else:
                _post(where, alert, batch, articles, timeout)
        except AlertError as error:
            failures.append(f"{alert.name}: {error}; {len(articles)} left pending")
            with _transaction(db):
                db.execute(
                    "UPDATE deliveries SET attempts = attempts + 1, error = ? WHERE batch = ?",
                    (str(error), batch),
                )
            continue
        with _transaction(db):
            db.execute(
                "UPDATE deliveries SET sent_at = ?, attempts = attempts + 1, error = NULL"
                " WHERE batch = ?",
                (_stamp(_now()), batch),
            )
        delivered |= ids[batch]
        if target not in sent:
            sent.append(target)
    return sent, failures, delivered


def run_alerts(
    index_path: str | os.PathLike,
    names: Iterable[str] | None = None,
    *,
    smtp: SmtpSettings | None = None,
    timeout: float = 10.0,
    on_run: Callable[[AlertRun], object] | None = None,
) -> list[AlertRun]:
    """Run saved searches (all, or those named): queue their new articles, then send every
    pending delivery. ``timeout`` is the webhook's, in seconds."""
    smtp = smtp or SmtpSettings.from_env()
    alerts = list_alerts(index_path)
    if names is not None:
        wanted = [name.strip() for name in names]  # as add_alert saved them
        missing = set(wanted) - {a.name for a in alerts}
        if missing:
            raise AlertError(f"no alert named {sorted(missing)[0]!r}")
        alerts = [a for a in alerts if a.name in wanted]
    runs = []
    with Index.open(index_path) as index, _run_lock(index_path), _state(index_path) as db:
        for alert in alerts:
            known = {
                row[0]
                for row in db.execute(
                    "SELECT article_id FROM deliveries WHERE alert = ?", (alert.name,)
                )
            }
            articles = _new_articles(index_path, index, alert, known)
            _queue(db, alert, articles)
            sent, failures, delivered = _send_pending(db, alert, smtp, timeout)
            pending = db.execute(
                "SELECT COUNT(DISTINCT article_id) FROM deliveries"
                " WHERE alert = ? AND sent_at IS NULL",
                (alert.name,),
            ).fetchone()[0]
            run = AlertRun(
                alert.name, len(articles), tuple(sent), tuple(failures), pending, len(delivered)
            )
            runs.append(run)
            if on_run is not None:
                on_run(run)
    return runs
