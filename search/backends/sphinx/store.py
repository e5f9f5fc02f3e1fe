"""Writing a cluster: builds into the spare generation, updates of the live one.

A build empties the generation that is not live (``veille_b`` while ``veille_a`` serves) on
every node, writes each article to every replica of its shard, writes the statistics file
of that generation, and only then names it in ``cluster.live``: readers switch at once, and
a failed build leaves the live generation serving.

An update writes each new or changed article (content hash) to every replica of its shard.
A replica that fails is named in the error, after the others are written; the articles it
missed are remembered (``pending``), and running the same update again writes them to it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import json
import multiprocessing
import os
import secrets
import signal
import sqlite3
import time
import zlib
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from ...errors import IndexLockedError, VeilleError
from ..base import Changes, IndexedArticle
from ..workers import BuildWorkerError, die_with_parent
from . import stats
from .config import Cluster, Node, atomic_write, read_cluster, read_live, write_live
from .nodes import NETWORK_ERRORS, QUERY_ERRORS, NodeError, check_own_nodes, connect
from .schema import check_schema, insert_statements
from .terms import PreparedArticle, prepare, row_id, shard_of

_BATCH_ROWS = 400
_PENDING = """CREATE TABLE IF NOT EXISTS pending (
    article_id TEXT NOT NULL, node TEXT NOT NULL, art INTEGER NOT NULL,
    passages INTEGER NOT NULL, PRIMARY KEY (article_id, node))"""
# Articles whose rows a node missed the ``copied`` mark of (it was down): marked by the
# next update, whatever it writes.
_UNMARKED = """CREATE TABLE IF NOT EXISTS unmarked (
    node TEXT NOT NULL, art INTEGER NOT NULL, PRIMARY KEY (node, art))"""


class ReplicaWriteError(VeilleError):
    """A replica could not be written: the others were; running the same command again
    completes it."""


@contextlib.contextmanager
def writer_lock(folder: Path, wait: float = 0.0) -> Iterator[None]:
    """The cluster's one writers' lock (an flock, released by the system if its holder dies)."""
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
                    raise IndexLockedError(
                        f"another veille command (pid {holder or '?'}) is writing the "
                        f"cluster at {folder}; wait for it to finish and try again"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


_BUILD_TIMEOUT = 300.0  # seconds a build's statement may take on a node
_UPDATE_TIMEOUT = 20.0  # an update's


class _Writers:
    """One connection per node; a node that fails is remembered, not retried in this run."""

    def __init__(self, cluster: Cluster, index: str, strict: bool) -> None:
        self.cluster = cluster
        self.index = index
        self.strict = strict  # a build: any failure fails it
        self.conns: dict[Node, object] = {}
        self.failed: dict[Node, str] = {}

    def _cursor(self, node: Node):
        conn = self.conns.get(node)
        if conn is None:
            # A build's statements may take long (a merge); an update's rows are sent in
            # moments, and a replica that hangs (frozen) is left behind, not waited on
            # with the writers' lock held.
            timeout = _BUILD_TIMEOUT if self.strict else _UPDATE_TIMEOUT
            conn = self.conns[node] = connect(node, timeout=timeout)
        return conn.cursor()

    def execute(self, node: Node, *statements: str) -> bool:
        """Run on one node; False (the node remembered as failed) if it fails."""
        return self._run(node, statements) is not None

    def ids(self, node: Node, select: str) -> list[int] | None:
        """The row ids a SELECT finds on one node; None (the node remembered as failed)."""
        return self._run(node, (select,))

    def _run(self, node: Node, statements) -> list[int] | None:
        """Run on one node: the ids the last statement answers; None if the node fails."""
        if node in self.failed:
            return None
        try:
            with self._cursor(node) as cur:
                for sql in statements:
                    cur.execute(sql)
                return [int(row[0]) for row in cur.fetchall() or ()]
        except (NodeError, *NETWORK_ERRORS, *QUERY_ERRORS) as e:
            self.failed[node] = str(e).replace(node.name, "").strip() or type(e).__name__
            conn = self.conns.pop(node, None)
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
            if self.strict:
                raise NodeError(f"{node.name} could not be written: {e}") from None
            return None

    def write_rows(self, shard: int, rows: list[tuple]) -> list[Node]:
        """Write rows to every replica of the shard; the replicas that failed."""
        statements = insert_statements(self.index, rows)
        nodes = self.cluster.shard_nodes(shard)
        return [node for node in nodes if not self.execute(node, *statements)]

    def delete(self, node: Node, ids: list[int]) -> bool:
        ok = True
        for start in range(0, len(ids), 1000):
            chunk = ",".join(str(i) for i in ids[start : start + 1000])
            ok &= self.execute(node, f"DELETE FROM {self.index} WHERE id IN ({chunk})")
        return ok

    def close(self) -> None:
        for conn in self.conns.values():
            with contextlib.suppress(Exception):
                conn.close()
        self.conns.clear()


def _contribution(prepared: PreparedArticle) -> bytes:
    """What an article adds to the statistics, kept to take it away when it changes."""
    data = {
        "frequencies": prepared.df,
        "lengths": dict(prepared.lengths),
        "passages": len(prepared.rows),
    }
    # The fastest level: a build compresses every article, and the size barely differs.
    return zlib.compress(json.dumps(data, ensure_ascii=False).encode(), 1)


def _counts(blob: bytes, sign: int) -> tuple[dict[str, Counter], Counter, Counter]:
    data = json.loads(zlib.decompress(blob))
    if "frequencies" in data:
        df = {
            f: Counter({t: sign * n for t, n in terms.items()})
            for f, terms in data["frequencies"].items()
        }
    else:  # an earlier version's: the terms alone, each counted once
        df = {}
        for f, t in data["df"]:
            df.setdefault(f, Counter())[t] = sign
    lengths = Counter({f: sign * n for f, n in data["lengths"].items()})
    passages = data["passages"]
    docs = Counter({"x": sign * passages, "t": sign * passages, "e": sign * passages})
    docs.update({"a": sign, "s": sign})
    return df, lengths, docs


def _catalog_schema(db: sqlite3.Connection) -> None:
    db.execute(_PENDING)
    db.execute(_UNMARKED)
    # An update marks the copies of the stories it adds to (``stats.copies``).
    db.execute("CREATE INDEX IF NOT EXISTS articles_by_cluster ON articles (cluster)")
    with contextlib.suppress(sqlite3.OperationalError):
        db.execute("ALTER TABLE articles ADD COLUMN contribution BLOB")


def build(
    path: str | os.PathLike,
    articles: Iterable[IndexedArticle],
    wait: float = 0.0,
    procs: int = 1,
) -> tuple[str, int, int]:
    """Write every article into the spare generation, then make it the live one; with
    ``procs`` above 1, that many processes analyze the articles."""
    cluster = read_cluster(path)
    with writer_lock(cluster.folder, wait):
        check_own_nodes(cluster)
        try:
            live = read_live(cluster)
        except VeilleError:
            live = None
        target = "b" if live == "a" else "a"
        index = f"veille_{target}"
        writers = _Writers(cluster, index, strict=True)
        tmp = stats.stats_path(cluster, target).with_suffix(".building")
        db = stats.create(tmp)
        try:
            check_schema(cluster, index)
            for node in cluster.nodes:
                writers.execute(node, f"TRUNCATE RTINDEX {index}")
            n_articles, n_passages = _write_all(cluster, writers, db, articles, procs)
            _mark_copies(writers, cluster, db, stats.copies(db))
            for node in cluster.nodes:
                writers.execute(node, f"FLUSH RTINDEX {index}")
            db.commit()
        except BaseException:
            db.close()
            tmp.unlink(missing_ok=True)  # the live generation and its statistics are as they were
            raise
        finally:
            writers.close()
            db.close()
        # An update of the generation before this build, killed: nothing of it is left,
        # not its intent, nor its rollback journal (which SQLite would replay into the
        # new file).
        _intent_path(cluster, target).unlink(missing_ok=True)
        stats.journal(stats.stats_path(cluster, target)).unlink(missing_ok=True)
        os.replace(tmp, stats.stats_path(cluster, target))
        write_live(cluster, target)
    return target, n_articles, n_passages


@dataclass
class _Prepared:
    """A batch of articles as a build writes them: each one's rows (the analysis of its
    passages, ready for the node), content hash and contribution to the statistics, and
    the batch's statistics (so that only these come back from an analyzing process)."""

    rows: list[list[tuple]]
    digests: list[str]
    contributions: list[bytes]
    df: dict[str, Counter]
    lengths: Counter


def _prepare_batch(batch: list[tuple[IndexedArticle, int, int]]) -> _Prepared:
    done = _Prepared([], [], [], {}, Counter())
    for item, art, shard in batch:
        prepared = prepare(item, art, shard, item.article.content_hash())
        done.rows.append(prepared.rows)
        done.digests.append(prepared.digest)
        done.contributions.append(_contribution(prepared))
        stats.add_frequencies(done.df, prepared.df)
        done.lengths.update(prepared.lengths)
    return done


def _start_worker(parent: int) -> None:
    die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the writer's to handle


def _result(future: Future) -> _Prepared:
    try:
        return future.result()
    except BrokenProcessPool:
        raise BuildWorkerError("a build worker died") from None
    except Exception as e:  # a worker's own error, raised again here
        raise BuildWorkerError(f"a build worker failed: {type(e).__name__}: {e}") from e


# Articles sent to an analyzing process at a time, and batches in flight a process: enough
# to keep each busy, few enough that memory stays small whatever the corpus.
_PREPARE_BATCH = 128
_IN_FLIGHT = 4


def _prepared(
    cluster: Cluster, articles: Iterable[IndexedArticle], procs: int
) -> Iterator[tuple[list[tuple[IndexedArticle, int, int]], _Prepared]]:
    """Batches of the articles, numbered from 1 with their shards, and the batches prepared
    (analyzed into rows), in order."""
    numbered = (
        (item, art, shard_of(item.article.id, cluster.shards))
        for art, item in enumerate(articles, start=1)
    )
    if procs <= 1:
        for batch in _batches(numbered, _PREPARE_BATCH):
            yield batch, _prepare_batch(batch)
        return
    # Spawned, not forked: this process holds the writer lock and database connections.
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        procs, mp_context=context, initializer=_start_worker, initargs=(os.getpid(),)
    )
    pending: deque[tuple[list, Future]] = deque()
    try:
        for batch in _batches(numbered, _PREPARE_BATCH):
            pending.append((batch, pool.submit(_prepare_batch, batch)))
            if len(pending) >= procs * _IN_FLIGHT:
                batch, future = pending.popleft()
                yield batch, _result(future)
        while pending:
            batch, future = pending.popleft()
            yield batch, _result(future)
    except BrokenProcessPool:  # found by a submit rather than a result
        raise BuildWorkerError("a build worker died") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _batches(items: Iterator, size: int) -> Iterator[list]:
    while batch := list(itertools.islice(items, size)):
        yield batch


def _write_all(
    cluster: Cluster,
    writers: _Writers,
    db: sqlite3.Connection,
    articles: Iterable[IndexedArticle],
    procs: int,
) -> tuple[int, int]:
    _catalog_schema(db)
    df: dict[str, Counter] = {}
    lengths: Counter = Counter()
    buffers: dict[int, list] = {shard: [] for shard in range(cluster.shards)}
    n_articles = n_passages = 0
    art = 0
    # Each shard's rows are written by a thread of its own (its nodes' connections are used
    # by that thread alone), while this one analyzes the next articles.
    shard_writers = [ThreadPoolExecutor(max_workers=1) for _ in range(cluster.shards)]
    sent: list[list[Future]] = [[] for _ in range(cluster.shards)]

    def send(shard: int, rows: list) -> None:
        while len(sent[shard]) >= 4:  # a bounded backlog: memory stays small
            sent[shard].pop(0).result()
        sent[shard].append(shard_writers[shard].submit(writers.write_rows, shard, rows))

    try:
        # Closed on the way out, error or not: its worker processes stop then.
        with contextlib.closing(_prepared(cluster, articles, procs)) as batches:
            for batch, prepared in batches:
                stats.add_frequencies(df, prepared.df)
                lengths.update(prepared.lengths)
                for (item, art, shard), rows, digest, contribution in zip(
                    batch, prepared.rows, prepared.digests, prepared.contributions, strict=True
                ):
                    _catalog_row(db, item, art, shard, digest, len(rows), contribution)
                    buffers[shard].extend(rows)
                    if len(buffers[shard]) >= _BATCH_ROWS:
                        send(shard, buffers[shard])
                        buffers[shard] = []
                    n_articles += 1
                    n_passages += len(rows)
        for shard, rows in buffers.items():
            if rows:
                send(shard, rows)
        for futures in sent:
            for future in futures:
                future.result()
    finally:
        for executor in shard_writers:
            executor.shutdown(wait=True, cancel_futures=True)
    docs = Counter({"x": n_passages, "t": n_passages, "e": n_passages})
    docs.update({"a": n_articles, "s": n_articles})
    stats.add_counts(db, df, lengths, docs)
    stats.set_meta(db, "next_art", art + 1)
    return n_articles, n_passages


def _catalog_row(
    db: sqlite3.Connection,
    item: IndexedArticle,
    art: int,
    shard: int,
    digest: str,
    passages: int,
    contribution: bytes,
) -> None:
    db.execute(
        "INSERT OR REPLACE INTO articles"
        " (article_id, art, shard, hash, passages, cluster, signature, contribution)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (item.article.id, art, shard, digest, passages, item.cluster, item.signature, contribution),
    )


def _extra_ids(art: int, shard: int, old: int, new: int) -> list[int]:
    return [row_id(art, position, shard) for position in range(new, old)]


def _mark_copies(
    writers: _Writers, cluster: Cluster, db: sqlite3.Connection, copies: list[tuple]
) -> Counter:
    """Set ``copied`` on the rows of these articles (art, shard, cluster) on every replica
    of their shards, and on those a node missed before (``unmarked``, where a node that
    fails now keeps its share); the articles each node that failed missed."""
    by_shard: dict[int, set[int]] = {}
    for art, shard, _cluster in copies:
        by_shard.setdefault(int(shard), set()).add(int(art))
    missed: Counter = Counter()
    for node in cluster.nodes:
        arts = by_shard.get(node.shard, set()) | {
            int(art)
            for (art,) in db.execute("SELECT art FROM unmarked WHERE node = ?", (node.address,))
        }
        if not arts:
            continue
        listed = sorted(arts)
        statements = [
            f"UPDATE {writers.index} SET copied = 1 WHERE art IN "
            f"({','.join(map(str, listed[start : start + 1000]))})"
            for start in range(0, len(listed), 1000)
        ]
        if writers.execute(node, *statements):
            db.execute("DELETE FROM unmarked WHERE node = ?", (node.address,))
        else:
            missed[node] += len(listed)
            db.executemany(
                "INSERT OR IGNORE INTO unmarked VALUES (?, ?)",
                [(node.address, art) for art in listed],
            )
    return missed


class _Update:
    """One update of the live generation: catalog and statistics in one SQLite transaction,
    rows written to every replica of each article's shard."""

    def __init__(self, cluster: Cluster, db: sqlite3.Connection, writers: _Writers) -> None:
        self.cluster, self.db, self.writers = cluster, db, writers
        self.df: dict[str, Counter] = {}
        self.lengths: Counter = Counter()
        self.docs: Counter = Counter()
        self.added = self.replaced = self.unchanged = self.removed = self.passages = 0
        self.missing: list[str] = []
        self.stories: set[str] = set()  # the clusters of the articles added, to mark copies
        self.missed: Counter = Counter()  # node -> articles it missed
        self.next_art = int(stats.meta(db)["next_art"])
        # What went to the nodes, to take back if the update fails before its commit:
        # new articles, and replaced or removed ones (id, shard, art, passages).
        self.sent_new: list[tuple[str, int, int, int]] = []
        self.sent_changed: list[tuple[str, int, int, int]] = []
        self.intent = ""  # the name of the intent this run recorded (``_write_intent``)
        self.committed = False

    def _catalog(self, article_id: str):
        return self.db.execute(
            "SELECT art, shard, hash, passages, contribution FROM articles WHERE article_id = ?",
            (article_id,),
        ).fetchone()

    def _pending(self, article_id: str) -> list[tuple[Node, int, int]]:
        rows = self.db.execute(
            "SELECT node, art, passages FROM pending WHERE article_id = ?", (article_id,)
        ).fetchall()
        by_address = {n.address: n for n in self.cluster.nodes}
        shard = shard_of(article_id, self.cluster.shards)  # not a node given its address
        return [
            (by_address[a], art, p)
            for a, art, p in rows
            if a in by_address and by_address[a].shard == shard
        ]

    def _take_away(self, blob: bytes | None) -> None:
        if blob:
            df, lengths, docs = _counts(blob, -1)
            stats.add_frequencies(self.df, df)
            self.lengths.update(lengths)
            self.docs.update(docs)

    def _remember_missed(self, article_id: str, nodes: list[Node], art: int, passages: int):
        for node in nodes:
            self.missed[node] += 1
            self.db.execute(
                "INSERT OR REPLACE INTO pending VALUES (?, ?, ?, ?)",
                (article_id, node.address, art, passages),
            )

    def remove(self, article_id: str) -> None:
        found = self._catalog(article_id)
        pending = self._pending(article_id)
        if found is None and not pending:
            self.missing.append(article_id)
            return
        self.db.execute("DELETE FROM pending WHERE article_id = ?", (article_id,))
        if found is None:  # removed before, but a replica missed it: remove it there now
            for node, art, passages in pending:
                ids = _extra_ids(art, node.shard, passages, 0)
                if not self.writers.delete(node, ids):
                    self._remember_missed(article_id, [node], art, passages)
            self.removed += 1
            return
        art, shard, _hash, passages, blob = found
        self.sent_changed.append((article_id, shard, art, passages))
        failed = [
            node
            for node in self.cluster.shard_nodes(shard)
            if not self.writers.delete(node, _extra_ids(art, shard, passages, 0))
        ]
        self._remember_missed(article_id, failed, art, passages)
        self.db.execute("DELETE FROM articles WHERE article_id = ?", (article_id,))
        self._take_away(blob)
        self.removed += 1

    def add(self, item: IndexedArticle) -> None:
        article_id = item.article.id
        digest = item.article.content_hash()
        found = self._catalog(article_id)
        pending = self._pending(article_id)
        # Even unchanged: the same command run again marks what a replica missed.
        self.stories.add(item.cluster)
        if found is not None and found[2] == digest and not pending:
            self.unchanged += 1
            return
        shard = shard_of(article_id, self.cluster.shards)
        # A number its rows may hold already: the catalog's, or an undone update's.
        art = found[0] if found is not None else pending[0][1] if pending else self._new_art()
        prepared = prepare(item, art, shard, digest)
        old_passages = max([found[3] if found else 0, *(p for _, _, p in pending)])
        if found is not None and found[2] == digest:  # written before, but a replica missed it
            targets = [node for node, _, _ in pending]
            self.unchanged += 1
        else:
            targets = self.cluster.shard_nodes(shard)
            if found is None:
                self.added += 1
            else:
                self.replaced += 1
                self._take_away(found[4])
            stats.add_frequencies(self.df, prepared.df)
            self.lengths.update(prepared.lengths)
            n = len(prepared.rows)
            self.docs.update({"x": n, "t": n, "e": n, "a": 1, "s": 1})
            self.passages += n
            contribution = _contribution(prepared)
            _catalog_row(self.db, item, art, shard, digest, n, contribution)
        self.db.execute("DELETE FROM pending WHERE article_id = ?", (article_id,))
        extra = _extra_ids(art, shard, old_passages, len(prepared.rows))
        sent = max(old_passages, len(prepared.rows))
        if found is None:
            self.sent_new.append((article_id, shard, art, sent))
        else:
            self.sent_changed.append((article_id, shard, art, sent))
        statements = insert_statements(self.writers.index, prepared.rows)
        failed = [
            node
            for node in targets
            if not self.writers.execute(node, *statements) or not self.writers.delete(node, extra)
        ]
        self._remember_missed(article_id, failed, art, max(old_passages, len(prepared.rows)))

    def undo(self) -> None:
        """After a failure before the commit (Ctrl-C, a bad corpus line): the catalog stays
        as it was, the rows sent for new articles are taken back from the nodes, and the
        replicas of the articles replaced or removed are marked as missing the update (the
        same command run again writes it). A number sent is never given again. After the
        commit (Ctrl-C just then), nothing: what was sent is what the catalog says."""
        if self.committed:
            return
        self.db.rollback()
        # Fresh connections: an interrupted statement leaves its connection mid-answer.
        self.writers.close()
        self.writers.failed.clear()
        for article_id, shard, art, passages in self.sent_new:
            for node in self.cluster.shard_nodes(shard):
                if not self.writers.delete(node, _extra_ids(art, shard, passages, 0)):
                    self._remember_missed(article_id, [node], art, passages)
        for article_id, shard, art, passages in self.sent_changed:
            nodes = self.cluster.shard_nodes(shard)
            self._remember_missed(article_id, nodes, art, passages)
        stats.set_meta(self.db, "next_art", self.next_art)
        self.db.commit()

    def _new_art(self) -> int:
        art = self.next_art
        self.next_art += 1
        return art

    def commit(self) -> Changes:
        # A story with a new copy: its earlier articles' rows too.
        copies = stats.copies(self.db, self.stories) if self.stories else []
        self.missed.update(_mark_copies(self.writers, self.cluster, self.db, copies))
        stats.add_counts(self.db, self.df, self.lengths, self.docs)
        stats.set_meta(self.db, "next_art", self.next_art)
        if self.added or self.replaced or self.removed:  # readers reopen on a new revision
            revision = int(stats.meta(self.db)["revision"]) + 1
            stats.set_meta(self.db, "revision", revision)
        # With the commit, not after it: an intent whose update committed is no interruption.
        stats.set_meta(self.db, "committed_update", self.intent)
        self.db.commit()
        self.committed = True
        return Changes(
            self.added,
            self.replaced,
            self.unchanged,
            self.removed,
            self.passages,
            tuple(self.missing),
        )


def update(
    path: str | os.PathLike,
    articles: Iterable[IndexedArticle],
    remove: Iterable[str],
    wait: float = 0.0,
) -> Changes:
    """Add or replace articles (by id, unchanged ones skipped) and remove articles by id.

    ReplicaWriteError names the replicas that could not be written, once the others are
    (and the statistics) committed: the same command run again writes what they missed.
    """
    cluster = read_cluster(path)
    with writer_lock(cluster.folder, wait):
        check_own_nodes(cluster)
        live = read_live(cluster)
        db = stats.open_stats(stats.stats_path(cluster, live), readonly=False)
        writers = _Writers(cluster, f"veille_{live}", strict=False)
        try:
            _catalog_schema(db)
            check_schema(cluster, f"veille_{live}", strict=False)
            _finish_interrupted(cluster, live, db, writers)
            run = _Update(cluster, db, writers)
            try:
                # Read whole before anything is sent: a corpus's bad line fails the update
                # with nothing written (rows sent can be taken back, rows replaced not).
                items = list(articles)
                remove = list(remove)
                run.intent = _write_intent(cluster, live, db, items, remove)
                for article_id in remove:
                    run.remove(article_id)
                for item in items:
                    run.add(item)
                changes = run.commit()
            except BaseException:
                with contextlib.suppress(Exception):  # the failure is what is said
                    run.undo()
                    _intent_path(cluster, live).unlink(missing_ok=True)
                raise
            _intent_path(cluster, live).unlink(missing_ok=True)
        finally:
            writers.close()
            db.close()
    if writers.failed:
        named = "; ".join(
            f"{node.name} "
            + (
                f"missed {run.missed[node]} article(s)"
                if run.missed[node]
                else "still holds rows of an interrupted update"
            )
            + f": {reason}"
            for node, reason in writers.failed.items()
        )
        raise ReplicaWriteError(
            f"not every replica was written ({named}); the others were: run the same "
            "command again once the replica answers"
        )
    return changes


def _intent_path(cluster: Cluster, live: str) -> Path:
    return cluster.folder / f"update-{live}.json"


def _write_intent(
    cluster: Cluster,
    live: str,
    db: sqlite3.Connection,
    items: list[IndexedArticle],
    remove: list[str],
) -> str:
    """Record, before an update sends anything, what a killed run would leave on the
    nodes (``_finish_interrupted`` takes it back): rows of the numbers it may give (from
    the catalog's next, one an article), and rows of the articles it changes (those it
    replaces or removes, and those a replica missed, whose number it reuses). Returns the
    intent's name, which the update's commit records."""
    digests = {item.article.id: item.article.content_hash() for item in items}
    ids = list(dict.fromkeys([*digests, *remove]))
    touched = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for article_id, art, shard, passages, digest in db.execute(
            "SELECT article_id, art, shard, passages, hash FROM articles WHERE article_id IN "
            f"({marks})",
            chunk,
        ):
            if digests.get(article_id) != digest:  # unchanged: written as it is, or skipped
                touched.append((article_id, art, shard, passages))
        for article_id, art, passages in db.execute(
            f"SELECT article_id, art, MAX(passages) FROM pending WHERE article_id IN ({marks}) "
            "GROUP BY article_id",
            chunk,
        ):
            touched.append((article_id, art, shard_of(article_id, cluster.shards), passages))
    name = secrets.token_hex(8)
    next_art = int(stats.meta(db)["next_art"])
    intent = {"name": name, "next_art": next_art, "reserved": len(items), "touched": touched}
    atomic_write(_intent_path(cluster, live), json.dumps(intent) + "\n")
    return name


# What an interrupted update left on a node that did not answer when the next one took it
# back: deleted by a later update (the node is listed out of step meanwhile).
_LEFTOVERS = """CREATE TABLE IF NOT EXISTS leftovers (
    node TEXT NOT NULL, condition TEXT NOT NULL, PRIMARY KEY (node, condition))"""


def _finish_interrupted(
    cluster: Cluster, live: str, db: sqlite3.Connection, writers: _Writers
) -> None:
    """Take back from the nodes what an update killed before its commit left there (its
    statistics were rolled back with it): the rows of the numbers it could give, and the
    rows of the articles it changed, which are marked as missed on every replica (listed
    out of step until the same update runs again). What a node that does not answer holds
    is remembered (``leftovers``) and taken back by a later update; the numbers are not
    given again meanwhile."""
    db.execute(_LEFTOVERS)
    path = _intent_path(cluster, live)
    try:
        intent = json.loads(path.read_text(encoding="utf-8"))
        name, next_art, touched = intent["name"], int(intent["next_art"]), intent["touched"]
        reserved = int(intent["reserved"])
    except FileNotFoundError:
        intent = None
    except (ValueError, KeyError, TypeError):  # cut short by the kill: nothing was sent
        intent = None
        path.unlink(missing_ok=True)
    if intent is not None and stats.meta(db).get("committed_update") != name:
        for node in cluster.nodes:
            conditions = [f"art >= {next_art} AND art < {next_art + reserved}"] + [
                f"(art = {int(art)} AND pos >= {int(passages)})"
                for _, art, shard, passages in touched
                if shard == node.shard
            ]
            db.executemany(
                "INSERT OR IGNORE INTO leftovers VALUES (?, ?)",
                [(node.address, condition) for condition in conditions],
            )
        for article_id, art, shard, passages in touched:
            for node in cluster.shard_nodes(shard):
                db.execute(
                    "INSERT OR REPLACE INTO pending VALUES (?, ?, ?, ?)",
                    (article_id, node.address, art, passages),
                )
        next_free = max(int(stats.meta(db)["next_art"]), next_art + reserved)
        stats.set_meta(db, "next_art", next_free)
        db.commit()
    path.unlink(missing_ok=True)
    by_address = {node.address: node for node in cluster.nodes}
    for address, condition in db.execute("SELECT node, condition FROM leftovers").fetchall():
        node = by_address.get(address)
        if node is None or _delete_where(writers, node, condition):
            db.execute(
                "DELETE FROM leftovers WHERE node = ? AND condition = ?", (address, condition)
            )
    db.commit()
    # A node left with leftovers is written nothing more by this update (it is failed to
    # the writers): what it misses is marked, and rewritten once it is clean.


def _delete_where(writers: _Writers, node: Node, condition: str) -> bool:
    """Delete a node's rows that meet a condition on their attributes, a page at a time;
    False if the node failed."""
    select = f"SELECT id FROM {writers.index} WHERE {condition} LIMIT 1000 OPTION max_matches=1000"
    while True:
        found = writers.ids(node, select)
        if found is None or (found and not writers.delete(node, found)):
            return False
        if not found:
            return True


def article_ids(path: str | os.PathLike) -> list[str]:
    """The ids of the articles the live generation holds, in id order (its catalog's)."""
    cluster = read_cluster(path)
    db = stats.open_stats(stats.stats_path(cluster, read_live(cluster)))
    try:
        return [a for (a,) in db.execute("SELECT article_id FROM articles ORDER BY article_id")]
    finally:
        db.close()


def optimize(path: str | os.PathLike, wait: float = 0.0) -> int:
    """Merge each node's disk chunks of the live generation (OPTIMIZE INDEX)."""
    cluster = read_cluster(path)
    with writer_lock(cluster.folder, wait):
        index = f"veille_{read_live(cluster)}"
        writers = _Writers(cluster, index, strict=True)
        try:
            for node in cluster.nodes:
                writers.execute(node, f"FLUSH RTINDEX {index}")
                writers.execute(node, f"OPTIMIZE INDEX {index}")
        finally:
            writers.close()
    return len(cluster.nodes)
