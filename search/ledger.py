"""When each article was first indexed: a small SQLite table beside the index.

Saved searches deliver the articles indexed after they were saved, so the time an article
entered the index must outlive rebuilds (which rewrite every generation): it is kept here,
outside the generations, written by every writer after its commit (``build``, ``add``,
``fetch``). An article keeps its first time; a rebuild changes nothing of it.

The ledger also knows which articles the index holds now (``live``): a rebuild from the
corpus says which of them it left out (added from elsewhere, fetched), whatever the
backend and even when the previous index was of another version.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

from .errors import VeilleError

LEDGER_FILE = "articles.sqlite"


class LedgerError(VeilleError):
    """The ledger of indexed articles cannot be read or written."""


def ledger_path(index_path: str | os.PathLike) -> Path:
    """Where an index keeps its ledger: in its folder (beside a cluster's config file)."""
    path = Path(index_path)
    return (path if path.suffix != ".toml" else path.parent) / LEDGER_FILE


def _connect(index_path: str | os.PathLike) -> sqlite3.Connection:
    path = ledger_path(index_path)
    try:
        db = sqlite3.connect(path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS indexed ("
            " article_id TEXT PRIMARY KEY, first_indexed TEXT NOT NULL,"
            " live INTEGER NOT NULL DEFAULT 1, removed INTEGER NOT NULL DEFAULT 0)"
        )
        columns = {row[1] for row in db.execute("PRAGMA table_info(indexed)")}
        for column, default in (("live", 1), ("removed", 0)):
            if column not in columns:  # a ledger written before it knew
                with db:
                    db.execute(
                        f"ALTER TABLE indexed ADD COLUMN {column} INTEGER NOT NULL"
                        f" DEFAULT {default}"
                    )
        return db
    except sqlite3.Error as e:
        raise _unreadable(path, e) from None


_DAMAGED = ("SQLITE_NOTADB", "SQLITE_CORRUPT", "SQLITE_CANTOPEN")


def _unreadable(path: Path, error: object) -> LedgerError:
    return LedgerError(f"the ledger {path} is unreadable ({error}); move it away to start afresh")


def check_ledger(index_path: str | os.PathLike) -> None:
    """LedgerError now if the index has a ledger that cannot be read: a writer checks it
    before it changes the index, never to change the index and then fail."""
    path = ledger_path(index_path)
    if not path.exists():
        return
    if not path.is_file() or not os.access(path, os.R_OK | os.W_OK):
        raise LedgerError(f"the ledger {path} is not a file this writer can read and write")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            verdict = db.execute("PRAGMA quick_check").fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        # A damaged file, not a full disk or a busy one (the writer's to report).
        if getattr(e, "sqlite_errorname", "") in _DAMAGED:
            raise _unreadable(path, e) from None
        return
    if verdict is None or verdict[0] != "ok":
        raise _unreadable(path, verdict[0] if verdict else "no answer")


def record_indexed(
    index_path: str | os.PathLike, article_ids: Iterable[str], when: dt.datetime | None = None
) -> None:
    """Remember that these articles are indexed, from ``when`` (now) unless known already."""
    stamp = (when or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    db = _connect(index_path)
    try:
        with db:
            db.executemany(
                "INSERT INTO indexed (article_id, first_indexed) VALUES (?, ?)"
                " ON CONFLICT (article_id) DO UPDATE SET live = 1, removed = 0",
                ((article_id, stamp) for article_id in article_ids),
            )
    except sqlite3.Error as e:
        raise LedgerError(f"the ledger {ledger_path(index_path)} cannot be written: {e}") from None
    finally:
        db.close()


def record_removed(index_path: str | os.PathLike, article_ids: Iterable[str]) -> None:
    """Remember that these articles were removed from the index (their first time stays):
    a fetch does not bring them back."""
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    _write(
        index_path,
        lambda db: db.executemany(
            "INSERT INTO indexed (article_id, first_indexed, live, removed) VALUES (?, ?, 0, 1)"
            " ON CONFLICT (article_id) DO UPDATE SET live = 0, removed = 1",
            ((a, stamp) for a in article_ids),
        ),
    )


def removed_articles(index_path: str | os.PathLike) -> set[str]:
    """The articles removed from the index (``veille remove``) and not indexed since."""
    path = ledger_path(index_path)
    if not path.is_file():
        return set()
    db = _connect(index_path)
    try:
        return {a for (a,) in db.execute("SELECT article_id FROM indexed WHERE removed = 1")}
    except sqlite3.Error as e:
        raise LedgerError(f"the ledger {path} cannot be read: {e}") from None
    finally:
        db.close()


def record_rebuilt(index_path: str | os.PathLike, article_ids: Iterable[str]) -> list[str]:
    """Remember that a rebuild holds these articles and no other; returns the articles the
    index held before that it does not hold now, in id order."""
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    left: list[str] = []

    def rebuilt(db: sqlite3.Connection) -> None:
        db.execute("CREATE TEMP TABLE written (article_id TEXT PRIMARY KEY)")
        db.executemany("INSERT OR IGNORE INTO written VALUES (?)", ((a,) for a in article_ids))
        left.extend(
            a
            for (a,) in db.execute(
                "SELECT article_id FROM indexed WHERE live = 1 AND article_id NOT IN"
                " (SELECT article_id FROM written) ORDER BY article_id"
            )
        )
        db.execute(
            "UPDATE indexed SET live = 0 WHERE live = 1 AND article_id NOT IN"
            " (SELECT article_id FROM written)"
        )
        db.execute(
            "INSERT INTO indexed (article_id, first_indexed) SELECT article_id, ?"
            " FROM written WHERE true ON CONFLICT (article_id) DO UPDATE SET live = 1, removed = 0",
            (stamp,),
        )

    _write(index_path, rebuilt)
    return left


def _write(index_path: str | os.PathLike, change: Callable[[sqlite3.Connection], object]) -> None:
    db = _connect(index_path)
    try:
        with db:
            change(db)
    except sqlite3.Error as e:
        raise LedgerError(f"the ledger {ledger_path(index_path)} cannot be written: {e}") from None
    finally:
        db.close()


def first_indexed(
    index_path: str | os.PathLike, article_ids: Iterable[str]
) -> dict[str, dt.datetime]:
    """When each of these articles was first indexed (those the ledger knows).

    Reads only: a reader of a read-only index (the web app) may ask.
    """
    ids = list(dict.fromkeys(article_ids))
    path = ledger_path(index_path)
    if not ids or not path.is_file():
        return {}
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as e:
        raise _unreadable(path, e) from None
    try:
        found = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = db.execute(
                f"SELECT article_id, first_indexed FROM indexed WHERE article_id IN ({marks})",
                chunk,
            )
            found.update((aid, dt.datetime.fromisoformat(when)) for aid, when in rows)
        return found
    except sqlite3.Error as e:
        raise LedgerError(f"the ledger {ledger_path(index_path)} cannot be read: {e}") from None
    finally:
        db.close()
