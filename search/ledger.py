"""When each article was first indexed: a small SQLite table beside the index.

Saved searches deliver the articles indexed after they were saved, so the time an article
entered the index must outlive rebuilds (which rewrite every generation): it is kept here,
outside the generations, written by every writer after its commit (``build``, ``add``,
``fetch``). An article keeps its first time; a rebuild changes nothing of it.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Iterable
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
            " article_id TEXT PRIMARY KEY, first_indexed TEXT NOT NULL)"
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
                "INSERT OR IGNORE INTO indexed (article_id, first_indexed) VALUES (?, ?)",
                ((article_id, stamp) for article_id in article_ids),
            )
    except sqlite3.Error as e:
        raise LedgerError(f"the ledger {ledger_path(index_path)} cannot be written: {e}") from None
    finally:
        db.close()


def first_indexed(
    index_path: str | os.PathLike, article_ids: Iterable[str]
) -> dict[str, dt.datetime]:
    """When each of these articles was first indexed (those the ledger knows)."""
    ids = list(dict.fromkeys(article_ids))
    db = _connect(index_path)
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
