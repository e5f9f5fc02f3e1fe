"""What Veille keeps about a cluster's generation, beside ``cluster.toml``: its catalog and
its statistics (SQLite, ``stats-a.sqlite`` / ``stats-b.sqlite``).

- ``articles``: each article's number, shard, content hash, passage count, cluster and
  near-duplicate signature: what the cluster holds, by Veille's account.
- ``terms``: the document frequency of each term in each field, over the whole cluster
  (``x`` text stems, ``t`` title stems, ``e`` words as written, in passages; ``a`` text
  stems in whole articles; ``s`` spelling words, in articles).
- ``totals``: documents and total length of each field.

Every shard is scored with these figures (global IDF and average lengths), so one shard
and many rank alike, and as the embedded backend does.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from ...analysis import ANALYZER_VERSION
from ...errors import IndexVersionError
from .config import CLUSTER_SCHEMA_VERSION, Cluster

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    article_id TEXT PRIMARY KEY, art INTEGER NOT NULL UNIQUE, shard INTEGER NOT NULL,
    hash TEXT NOT NULL, passages INTEGER NOT NULL, cluster TEXT NOT NULL,
    signature BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS terms (
    field TEXT NOT NULL, term TEXT NOT NULL, df INTEGER NOT NULL, PRIMARY KEY (field, term))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS totals (field TEXT PRIMARY KEY, docs INTEGER, length INTEGER);
"""


def stats_path(cluster: Cluster, generation: str) -> Path:
    return cluster.folder / f"stats-{generation}.sqlite"


def file_identity(path: Path) -> tuple[int, int] | None:
    """Which file is at path (device, inode), None if none: a build writes the statistics
    anew and moves them in place, where an open connection goes on reading the old file."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def journal(path: Path) -> Path:
    """Where SQLite keeps the rollback journal of a statistics file's write."""
    return path.with_name(path.name + "-journal")


def create(path: Path) -> sqlite3.Connection:
    """A new, empty statistics file (a build writes it under a temporary name)."""
    path.unlink(missing_ok=True)
    journal(path).unlink(missing_ok=True)  # a killed build's: not to be replayed here
    db = sqlite3.connect(path)
    db.executescript(_SCHEMA)
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    db.executemany(
        "INSERT INTO meta VALUES (?, ?)",
        [
            ("schema_version", str(CLUSTER_SCHEMA_VERSION)),
            ("analyzer_version", str(ANALYZER_VERSION)),
            ("built_at", stamp),
            ("revision", "0"),
            ("next_art", "1"),
        ],
    )
    return db


def recover(path: Path) -> None:
    """Roll back the write a killed writer left half done (its rollback journal beside the
    file), which a read-only connection cannot: it refuses to read until then. A live
    writer's journal is left as it is (SQLite rolls back only one no process holds)."""
    if not journal(path).exists():
        return
    try:
        rw = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=0.1)
        with contextlib.closing(rw) as db:
            db.execute("SELECT COUNT(*) FROM meta").fetchone()
    except sqlite3.Error:
        pass  # said by the read that follows, if it still fails


class Recovering:
    """A reader's connection to the statistics that, meeting a write a killed writer left
    half done, rolls it back (``recover``) and reads again."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db, self.path = db, path

    def execute(self, sql: str, parameters: tuple | list = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, parameters)
        except sqlite3.OperationalError:
            recover(self.path)
            return self._db.execute(sql, parameters)

    def close(self) -> None:
        self._db.close()


def open_stats(path: Path, readonly: bool = True) -> sqlite3.Connection:
    """Open a generation's statistics; IndexVersionError if another version wrote them."""
    if readonly:
        recover(path)
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}?mode=rw"
    db = sqlite3.connect(uri, uri=True, check_same_thread=False)
    try:
        meta = dict(db.execute("SELECT name, value FROM meta"))
    except sqlite3.Error:
        db.close()
        raise IndexVersionError(f"{path} is unreadable: run `veille build`") from None
    schema, analyzer = meta.get("schema_version"), meta.get("analyzer_version")
    if schema != str(CLUSTER_SCHEMA_VERSION) or analyzer != str(ANALYZER_VERSION):
        db.close()
        raise IndexVersionError(
            f"the cluster index was built by another version of Veille (schema {schema}, "
            f"analyzer {analyzer}; this version reads schema {CLUSTER_SCHEMA_VERSION}, "
            f"analyzer {ANALYZER_VERSION}): run `veille build` to rebuild it"
        )
    return db


def meta(db: sqlite3.Connection) -> dict[str, str]:
    return dict(db.execute("SELECT name, value FROM meta"))


def set_meta(db: sqlite3.Connection, name: str, value: object) -> None:
    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, str(value)))


def add_frequencies(into: dict[str, Counter], frequencies: dict[str, Counter]) -> None:
    """Add document frequencies (field -> term -> count) to others."""
    for name, counts in frequencies.items():
        if name in into:
            into[name].update(counts)
        else:
            into[name] = Counter(counts)


def add_counts(
    db: sqlite3.Connection, df: dict[str, Counter], lengths: Counter, docs: Counter
) -> None:
    """Add (or, with negative counts, take away) document frequencies (field -> term ->
    count) and totals."""
    db.executemany(
        "INSERT INTO terms VALUES (?, ?, ?) ON CONFLICT (field, term) DO UPDATE SET"
        " df = df + excluded.df",
        ((f, t, n) for f, counts in df.items() for t, n in counts.items() if n),
    )
    db.execute("DELETE FROM terms WHERE df <= 0")
    for name in set(lengths) | set(docs):
        db.execute(
            "INSERT INTO totals VALUES (?, ?, ?) ON CONFLICT (field) DO UPDATE SET"
            " docs = docs + excluded.docs, length = length + excluded.length",
            (name, docs.get(name, 0), lengths.get(name, 0)),
        )


def totals(db: sqlite3.Connection) -> dict[str, tuple[int, int]]:
    return {f: (int(d), int(n)) for f, d, n in db.execute("SELECT field, docs, length FROM totals")}


def frequencies(db: sqlite3.Connection, field: str, terms: Iterable[str]) -> dict[str, int]:
    wanted = list(dict.fromkeys(terms))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(
            db.execute(
                f"SELECT term, df FROM terms WHERE field = ? AND term IN ({marks})",
                [field, *chunk],
            )
        )
    return found


def with_prefix(db: sqlite3.Connection, field: str, prefix: str) -> list[tuple[str, int]]:
    """(term, df) of the field's terms starting with prefix."""
    return list(
        db.execute(
            "SELECT term, df FROM terms WHERE field = ? AND term >= ? AND term < ?",
            (field, prefix, prefix + "\U0010ffff"),
        )
    )


_COPIES = """
SELECT art, shard, cluster FROM articles WHERE cluster IN (
    SELECT cluster FROM articles WHERE {among} GROUP BY cluster HAVING COUNT(*) > 1)
ORDER BY art"""


def copies(db: sqlite3.Connection, clusters: Iterable[str] | None = None) -> list[tuple]:
    """(art, shard, cluster) of the articles whose story has other copies: all of them, or
    those of these clusters."""
    if clusters is None:
        return db.execute(_COPIES.format(among="1")).fetchall()
    among = "cluster IN (SELECT value FROM json_each(?))"
    return db.execute(_COPIES.format(among=among), (json.dumps(sorted(clusters)),)).fetchall()


def stale_nodes(db: sqlite3.Connection) -> set[str]:
    """The nodes (addresses) that missed a write: an article's rows, or its copies' mark."""
    try:
        missed = {node for (node,) in db.execute("SELECT DISTINCT node FROM pending")}
    except sqlite3.OperationalError:  # no update has made the table yet
        missed = set()
    with contextlib.suppress(sqlite3.OperationalError):  # an interrupted update's rows
        missed |= {node for (node,) in db.execute("SELECT DISTINCT node FROM leftovers")}
    return missed | unmarked_nodes(db)


def unmarked_nodes(db: sqlite3.Connection) -> set[str]:
    """The nodes (addresses) that missed marking some articles' copies."""
    try:
        return {node for (node,) in db.execute("SELECT DISTINCT node FROM unmarked")}
    except sqlite3.OperationalError:  # no update has made the table yet
        return set()
