"""What `veille fetch` remembers between runs, in SQLite beside the index: `<index>/fetch.sqlite`.

The file sits in the index folder but outside its generations, so a rebuild keeps it and a
writer's clean-up never touches it. It is a cache of what the index holds: an item is
recorded only after its article was written to the index, in one transaction (WAL), so a
process killed at any point loses nothing (the item is fetched again, and the index skips
an article it already holds) and duplicates nothing (an article's id comes from its URL).
"""

from __future__ import annotations

import datetime
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from search.errors import VeilleError

__all__ = ["STATE_FILE", "FetchState", "FetchStateError", "ItemRecord", "ItemState"]

STATE_FILE = "fetch.sqlite"
_VERSION = 1
_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    title TEXT,
    etag TEXT,
    last_modified TEXT,
    checked_at TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS items (
    url TEXT PRIMARY KEY,          -- the item's canonical URL
    article_id TEXT NOT NULL,      -- the article that holds its text
    feed TEXT NOT NULL,
    entry TEXT,                    -- the feed item's fingerprint when it was fetched
    content TEXT,                  -- the hash of its title and text; NULL until fetched
    etag TEXT,
    last_modified TEXT,
    failed_entry TEXT,             -- the fingerprint whose fetch failed, failures times
    failures INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    updated_at TEXT NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS items_by_content ON items (content)",
)


class FetchStateError(VeilleError):
    """The fetch state file cannot be read: what to do about it."""

    def __init__(self, path: Path, problem: object) -> None:
        super().__init__(
            f"fetch state {path} is unreadable: {problem}; move it away to start afresh"
        )


@dataclass(frozen=True)
class ItemState:
    """What the state says of an item's URL."""

    article_id: str
    entry: str | None
    content: str | None
    etag: str | None
    last_modified: str | None
    failed_entry: str | None
    failures: int
    failed_at: str | None = None  # when it last failed (UTC, ISO)


@dataclass(frozen=True)
class ItemRecord:
    """An item fetched (or found unchanged), to record once its article is in the index."""

    url: str
    article_id: str
    feed: str
    entry: str
    content: str
    etag: str | None = None
    last_modified: str | None = None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


class FetchState:
    """The fetch state of one index; every change is one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        try:
            self._db = sqlite3.connect(path, timeout=60, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            check = self._db.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(check)
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > _VERSION:
                raise sqlite3.DatabaseError(f"written by a newer Veille (version {version})")
            with self._transaction():
                for statement in _SCHEMA:  # not executescript: it would commit
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {_VERSION}")
        except sqlite3.Error as error:
            self.close()
            raise FetchStateError(path, error) from None

    @classmethod
    def open(cls, index_path: str | os.PathLike[str]) -> FetchState:
        """The state beside the index at index_path (created empty if there is none)."""
        path = Path(index_path)
        # A cluster's: in its config's folder, as its ledger and alerts are.
        return cls((path.parent if path.suffix == ".toml" else path) / STATE_FILE)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> FetchState:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise ValueError("the fetch state is closed")
        return self._db

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as error:
            raise FetchStateError(self.path, error) from None

    def _query(self, sql: str, *args: object) -> list[tuple]:
        try:
            return self.db.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as error:
            raise FetchStateError(self.path, error) from None

    # --- Feeds ---

    def validators(self, feed_url: str) -> dict[str, str]:
        """The headers of a conditional GET of the feed: what its last answer gave."""
        rows = self._query("SELECT etag, last_modified FROM feeds WHERE url = ?", feed_url)
        if not rows:
            return {}
        etag, last_modified = rows[0]
        headers = {"If-None-Match": etag, "If-Modified-Since": last_modified}
        return {name: value for name, value in headers.items() if value}

    def save_feed(
        self, feed_url: str, title: str | None, etag: str | None, last_modified: str | None
    ) -> None:
        with self._transaction():
            self.db.execute(
                "INSERT INTO feeds (url, title, etag, last_modified, checked_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET"
                " title = excluded.title, etag = excluded.etag,"
                " last_modified = excluded.last_modified, checked_at = excluded.checked_at",
                (feed_url, title, etag, last_modified, _now()),
            )

    # --- Items ---

    def item(self, url: str) -> ItemState | None:
        rows = self._query(
            "SELECT article_id, entry, content, etag, last_modified, failed_entry, failures,"
            " CASE WHEN failures > 0 THEN updated_at END FROM items WHERE url = ?",
            url,
        )
        return ItemState(*rows[0]) if rows else None

    def feed_articles(self, feed_url: str, latest: int = 50) -> list[str]:
        """The ids of the articles last recorded as fetched from this feed (those it
        most likely still lists)."""
        rows = self._query(
            "SELECT article_id FROM items WHERE feed = ? AND content IS NOT NULL"
            " ORDER BY updated_at DESC LIMIT ?",
            feed_url,
            latest,
        )
        return [article_id for (article_id,) in rows]

    def article_with_content(self, content: str) -> str | None:
        """The id of an article already recorded with this content hash, if any."""
        rows = self._query("SELECT article_id FROM items WHERE content = ? LIMIT 1", content)
        return rows[0][0] if rows else None

    def record(self, records: Iterable[ItemRecord]) -> None:
        """Record items as fetched: call it only once their articles are in the index."""
        now = _now()
        with self._transaction():
            self.db.executemany(
                "INSERT INTO items (url, article_id, feed, entry, content, etag,"
                " last_modified, failures, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)"
                " ON CONFLICT (url) DO UPDATE SET article_id = excluded.article_id,"
                " feed = excluded.feed, entry = excluded.entry, content = excluded.content,"
                " etag = excluded.etag, last_modified = excluded.last_modified,"
                " failed_entry = NULL, failures = 0, error = NULL,"
                " updated_at = excluded.updated_at",
                [
                    (r.url, r.article_id, r.feed, r.entry, r.content, r.etag, r.last_modified, now)
                    for r in records
                ],
            )

    def record_failure(
        self, url: str, article_id: str, feed_url: str, entry: str, error: str
    ) -> int:
        """Count a failed fetch of this version of an item; returns its failures so far."""
        with self._transaction():
            self.db.execute(
                "INSERT INTO items (url, article_id, feed, failed_entry, failures, error,"
                " updated_at) VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT (url) DO UPDATE SET"
                " failures = CASE WHEN items.failed_entry = excluded.failed_entry"
                " THEN items.failures + 1 ELSE 1 END,"
                " failed_entry = excluded.failed_entry, error = excluded.error,"
                " updated_at = excluded.updated_at",
                (url, article_id, feed_url, entry, error, _now()),
            )
            row = self.db.execute("SELECT failures FROM items WHERE url = ?", (url,)).fetchone()
        return row[0]
