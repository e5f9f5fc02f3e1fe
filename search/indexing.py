"""The index on disk: its schema, its generations, the writers' lock, build_index.

An index folder holds generations (``gen-*/``, each a complete whoosh index with a
``veille.json`` beside it) and a ``CURRENT`` file naming the live one. A build writes a new
generation next to the live one and only then points ``CURRENT`` at it (an atomic rename),
so a crash or Ctrl-C mid-build leaves the previous generation serving.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import fcntl
import hashlib
import json
import multiprocessing
import os
import queue
import secrets
import shutil
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from whoosh import fields, formats
from whoosh import index as whoosh_index
from whoosh.codec import whoosh3
from whoosh.index import TOC

from .analysis import ANALYZER_VERSION, exact_analyzer, spelling_analyzer, text_analyzer
from .corpus import Article, CorpusError, read_corpus
from .errors import VeilleError
from .passages import Passage, split_passages
from .segments import SegmentBuilder


def _remember_missing_length_columns() -> None:
    """Make whoosh remember that a field has no lengths column.

    whoosh looks up a document's field length for every posting it writes; for a field that
    keeps no lengths (ids, the spelling vocabulary) it forgets the answer and asks the disk
    again (an os.stat) each time. Remembering it made whoosh's writer about 15% faster
    (11.3 s -> 9.5 s for 4,131 passages); `veille add`, `remove` and `optimize` use it.
    """

    def cached_reader(self, fieldname, column):
        readers = self._readers
        if fieldname not in readers:
            found = self.has_column(fieldname)
            readers[fieldname] = self.column_reader(fieldname, column) if found else None
        return readers[fieldname]

    whoosh3.W3PerDocReader._cached_reader = cached_reader


_remember_missing_length_columns()

# Bump when the schema or what is stored in it changes: an index records the version it was
# built with, and Index.open refuses another one with a message that says to rebuild.
SCHEMA_VERSION = 3

CURRENT_FILE = "CURRENT"
META_FILE = "veille.json"
LOCK_FILE = ".lock"
_GENERATION_PREFIX = "gen-"
_BUILDING_PREFIX = ".building-"


class IndexNotFoundError(VeilleError):
    """There is no built index at the given path."""


class IndexVersionError(VeilleError):
    """The index was built by an incompatible version of Veille."""


class IndexLockedError(VeilleError):
    """Another command is writing the index."""


class _SpellingField(fields.FieldType):
    """Words as written (accents kept), for spelling suggestions: presence only, never scored."""

    def __init__(self, analyzer) -> None:
        self.format = formats.Existence()
        self.analyzer = analyzer
        self.column_type = None
        self.scorable = False
        self.stored = False
        self.unique = False
        self.indexed = True
        self.spelling = False
        self.vector = None


def _date_field() -> fields.DATETIME:
    # Dates filter through the field's column (a numpy array per searcher), never through
    # terms: not indexing them saves eight postings a passage.
    date = fields.DATETIME(stored=True, sortable=True)
    date.indexed = False
    return date


def make_schema() -> fields.Schema:
    """The whoosh schema: one document a passage, carrying its article's fields."""
    return fields.Schema(
        passage_id=fields.STORED(),
        article_id=fields.ID(stored=True, sortable=True),
        position=fields.STORED(),
        lead=fields.ID(),  # "1" on an article's first passage, which title-only matches find
        start=fields.STORED(),
        end=fields.STORED(),
        title=fields.TEXT(analyzer=text_analyzer(), phrase=False, stored=True),
        date=_date_field(),
        source=fields.ID(stored=True),
        url=fields.STORED(),
        text=fields.TEXT(analyzer=text_analyzer(), phrase=False, stored=True),
        exact=fields.TEXT(analyzer=exact_analyzer(), phrase=True),
        spell=_SpellingField(spelling_analyzer()),
        content_hash=fields.STORED(),
    )


@dataclass(frozen=True)
class BuildSummary:
    """What a build did: counts, time, and the corpus problems it skipped."""

    articles: int
    passages: int
    seconds: float
    generation: str
    skipped: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class IndexMeta:
    """What an index records about itself in ``veille.json``."""

    schema_version: int
    analyzer_version: int
    built_at: dt.datetime
    articles: int
    passages: int

    def to_json(self) -> dict:
        return {
            "schema_version": self.schema_version,
            "analyzer_version": self.analyzer_version,
            "built_at": self.built_at.isoformat(timespec="seconds"),
            "articles": self.articles,
            "passages": self.passages,
        }

    @classmethod
    def from_json(cls, data: dict) -> IndexMeta:
        return cls(
            schema_version=int(data["schema_version"]),
            analyzer_version=int(data["analyzer_version"]),
            built_at=dt.datetime.fromisoformat(data["built_at"]),
            articles=int(data["articles"]),
            passages=int(data["passages"]),
        )


def current_generation(index_path: str | os.PathLike) -> Path:
    """The folder of the live generation; IndexNotFoundError when there is none."""
    root = Path(index_path)
    try:
        name = (root / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise IndexNotFoundError(
            f"no index at {root}: run `veille build` to build it from the corpus"
        ) from None
    except NotADirectoryError:
        raise IndexNotFoundError(f"{root} is not an index folder") from None
    generation = root / name
    if not name.startswith(_GENERATION_PREFIX) or not generation.is_dir():
        raise IndexNotFoundError(
            f"{root}/{CURRENT_FILE} names {name!r}, which is not there: run `veille build`"
        )
    return generation


def read_meta(generation: Path) -> IndexMeta:
    """Read and check a generation's ``veille.json``: IndexVersionError if incompatible."""
    try:
        meta = IndexMeta.from_json(json.loads((generation / META_FILE).read_text("utf-8")))
    except FileNotFoundError:
        raise IndexNotFoundError(
            f"{generation} has no {META_FILE}: it is incomplete; run `veille build`"
        ) from None
    except (ValueError, KeyError, TypeError) as e:
        raise IndexVersionError(
            f"{generation}/{META_FILE} is unreadable ({e}): run `veille build` to rebuild"
        ) from None
    if meta.schema_version != SCHEMA_VERSION or meta.analyzer_version != ANALYZER_VERSION:
        raise IndexVersionError(
            f"the index at {generation.parent} was built by another version of Veille "
            f"(schema {meta.schema_version}, analyzer {meta.analyzer_version}; this version "
            f"reads schema {SCHEMA_VERSION}, analyzer {ANALYZER_VERSION}): "
            "run `veille build` to rebuild it"
        )
    return meta


def write_meta(generation: Path, meta: IndexMeta) -> None:
    """Write ``veille.json`` atomically."""
    _atomic_write(generation / META_FILE, json.dumps(meta.to_json(), indent=2) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def writer_lock(index_path: str | os.PathLike, wait: float = 0.0) -> Iterator[None]:
    """Hold the index's one writers' lock; IndexLockedError if another writer has it.

    The lock is an flock on ``.lock``: the system releases it when its holder dies, even
    by kill -9, so a crashed writer never blocks the next one.
    """
    root = Path(index_path)
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    _HELD_LOCKS.add(fd)
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
                        f"another veille command (pid {holder or '?'}) is writing the index "
                        f"at {root}; wait for it to finish and try again"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        _HELD_LOCKS.discard(fd)
        os.close(fd)  # closing releases the flock


# The lock's file descriptors this process holds. A build with several processes forks
# workers, which would inherit the descriptor and so keep the lock alive after their parent
# died: each worker closes its copy at once (the parent's lock is unaffected), and asks to be
# killed with its parent, so that a writer killed mid-build leaves no process behind.
_HELD_LOCKS: set[int] = set()
_PR_SET_PDEATHSIG = 1


def _after_fork_in_child() -> None:
    if not _HELD_LOCKS:
        return
    for fd in _HELD_LOCKS:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD_LOCKS.clear()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


os.register_at_fork(after_in_child=_after_fork_in_child)


def _document(article: Article, passage: Passage, content_hash: str) -> dict:
    doc = {
        "passage_id": f"{article.id}#{passage.position}",
        "article_id": article.id,
        "position": passage.position,
        "lead": "1" if passage.position == 0 else None,
        "start": passage.start,
        "end": passage.end,
        "title": article.title,
        "source": article.source or None,
        "url": article.url,
        "text": passage.text,
        "exact": passage.text,
        # The vocabulary for suggestions is per article (its first passage holds it): the
        # same word in several passages would only repeat postings.
        "spell": article.title + "\n" + article.body if passage.position == 0 else None,
        "content_hash": content_hash,
    }
    if article.date is not None:
        doc["date"] = dt.datetime(article.date.year, article.date.month, article.date.day)
    return {k: v for k, v in doc.items() if v is not None}


def article_hash(article: Article) -> str:
    """A digest of everything indexed about an article, to skip unchanged ones on update."""
    h = hashlib.blake2b(digest_size=16)
    for part in (article.id, article.title, str(article.date), article.source, article.url):
        h.update(str(part).encode() + b"\x00")
    for paragraph in article.paragraphs:
        h.update(paragraph.encode() + b"\x00")
    return h.hexdigest()


def _add_article(builder: SegmentBuilder, article: Article, passages: list[Passage]) -> None:
    digest = article_hash(article)
    for passage in passages:
        builder.add_document(_document(article, passage, digest))


class _SegmentsWriter:
    """Write an article stream as whoosh segments, a new one whenever memory is full."""

    def __init__(self, schema: fields.Schema, storage, indexname: str, limitmb: int) -> None:
        self.schema, self.storage, self.indexname = schema, storage, indexname
        self.limit = limitmb * 1024 * 1024
        self.builder: SegmentBuilder | None = None
        self.segments: list = []

    def add(self, article: Article, passages: list[Passage]) -> None:
        if self.builder is None:
            self.builder = SegmentBuilder(self.schema, self.storage, self.indexname)
        _add_article(self.builder, article, passages)
        if self.builder.estimated_bytes() >= self.limit:
            self.flush()

    def flush(self) -> list:
        if self.builder is not None:
            self.segments.append(self.builder.write())
            self.builder = None
        return self.segments


_BATCH = 64  # articles a task for a build worker


def _segment_worker(writer: _SegmentsWriter, tasks, results) -> None:
    """A build worker: write the batches it takes as segments; report them or the error."""
    try:
        while (batch := tasks.get()) is not None:
            for article, passages in batch:
                writer.add(article, passages)
        results.put(("segments", writer.flush()))
    except BaseException as e:  # reported to the parent, which raises it
        results.put(("error", f"{type(e).__name__}: {e}"))


class BuildWorkerError(VeilleError):
    """A build worker process failed."""


def _write_segments(
    ix,
    corpus: Iterable[tuple[Article, list[Passage]]],
    procs: int,
    limitmb: int,
) -> list:
    """Write the corpus's passages as segments of ``ix``, with ``procs`` worker processes."""
    if procs <= 1:
        writer = _SegmentsWriter(ix.schema, ix.storage, ix.indexname, limitmb)
        for article, passages in corpus:
            writer.add(article, passages)
        return writer.flush()
    ctx = multiprocessing.get_context("fork")
    tasks = ctx.Queue(maxsize=procs * 4)
    results = ctx.Queue()
    workers = [
        ctx.Process(
            target=_segment_worker,
            args=(_SegmentsWriter(ix.schema, ix.storage, ix.indexname, limitmb), tasks, results),
            daemon=True,
        )
        for _ in range(procs)
    ]
    for worker in workers:
        worker.start()
    try:
        batch: list[tuple[Article, list[Passage]]] = []
        for item in corpus:
            batch.append(item)
            if len(batch) >= _BATCH:
                _put(tasks, batch, workers, results)
                batch = []
        if batch:
            _put(tasks, batch, workers, results)
        for _ in workers:
            _put(tasks, None, workers, results)
        segments = []
        for _ in workers:
            segments.extend(_take(results, workers))
        for worker in workers:
            worker.join(timeout=10)
        return segments
    finally:
        for worker in workers:  # on an error or an interrupt: stop them all
            if worker.is_alive():
                worker.kill()
            worker.join()
        tasks.close()
        tasks.cancel_join_thread()


def _put(tasks, item, workers, results) -> None:
    while True:
        try:
            tasks.put(item, timeout=0.5)
            return
        except queue.Full:
            _raise_if_died(workers)
            # Until the end of the corpus is sent, a worker only reports an error.
            try:
                _, payload = results.get_nowait()
            except queue.Empty:
                continue
            raise BuildWorkerError(f"a build worker failed: {payload}") from None


def _take(results, workers) -> list:
    while True:
        try:
            kind, payload = results.get(timeout=0.5)
        except queue.Empty:
            # A worker that has reported may have exited; one killed never reports.
            _raise_if_died(workers)
            continue
        if kind == "error":
            raise BuildWorkerError(f"a build worker failed: {payload}")
        return payload


def _raise_if_died(workers) -> None:
    killed = [w.exitcode for w in workers if w.exitcode not in (None, 0)]
    if killed:
        raise BuildWorkerError(f"a build worker died (exit code {killed[0]})")


def build_index(
    corpus_path: str | os.PathLike,
    index_path: str | os.PathLike,
    *,
    skip_invalid: bool = False,
    progress: Callable[[int, int], None] | None = None,
    procs: int = 1,
    limitmb: int = 400,
    wait: float = 0.0,
) -> BuildSummary:
    """Build a new index generation from a corpus and make it the live one.

    Each of the ``procs`` processes writes a segment whenever its postings reach about
    ``limitmb`` megabytes (the full development corpus: one segment a process, under 1.5 GB
    in all with two).

    Raises CorpusError on the first bad article unless ``skip_invalid``; the live index,
    if any, is untouched by a failed build.
    """
    started = time.monotonic()
    root = Path(index_path)
    skipped: list[str] = []

    def on_skip(error: CorpusError) -> None:
        skipped.append(str(error))

    with writer_lock(root, wait=wait):
        _remove_stale(root, keep=None)
        name = (
            _GENERATION_PREFIX
            + dt.datetime.now().strftime("%Y%m%dT%H%M%S")
            + ("-" + secrets.token_hex(3))
        )
        building = root / (_BUILDING_PREFIX + name)
        building.mkdir(parents=True)
        try:
            ix = whoosh_index.create_in(str(building), make_schema())
            n_articles = n_passages = 0

            def corpus() -> Iterator[tuple[Article, list[Passage]]]:
                nonlocal n_articles, n_passages
                for article in read_corpus(corpus_path, skip_invalid=skip_invalid, on_skip=on_skip):
                    passages = split_passages(article)
                    n_articles += 1
                    n_passages += len(passages)
                    if progress is not None:
                        progress(n_articles, n_passages)
                    yield article, passages

            segments = _write_segments(ix, corpus(), procs, limitmb)
            if n_articles == 0:
                raise CorpusError(str(corpus_path), None, "no articles found")
            toc = TOC(ix.schema, segments, ix.latest_generation() + 1)
            toc.write(ix.storage, ix.indexname)
            whoosh_index.clean_files(ix.storage, ix.indexname, toc.generation, segments)
            ix.close()
            shutil.rmtree(building / f"{ix.indexname}.tmp", ignore_errors=True)
            meta = IndexMeta(
                schema_version=SCHEMA_VERSION,
                analyzer_version=ANALYZER_VERSION,
                built_at=dt.datetime.now().astimezone(),
                articles=n_articles,
                passages=n_passages,
            )
            write_meta(building, meta)
            generation = root / name
            os.rename(building, generation)
            _atomic_write(root / CURRENT_FILE, name + "\n")
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        _remove_stale(root, keep=name)
    return BuildSummary(
        articles=n_articles,
        passages=n_passages,
        seconds=time.monotonic() - started,
        generation=name,
        skipped=tuple(skipped),
    )


@dataclass(frozen=True)
class UpdateSummary:
    """What an update did to the live index."""

    added: int  # articles new to the index
    replaced: int  # articles whose content changed
    unchanged: int  # articles skipped: same content hash
    removed: int
    passages: int  # passages written
    seconds: float
    missing: tuple[str, ...] = ()  # ids asked to remove that the index does not hold
    skipped: tuple[str, ...] = ()  # corpus problems skipped (skip_invalid)


def _stored_hash(searcher, article_id: str) -> str | None:
    fields = searcher.document(article_id=article_id)
    return None if fields is None else fields.get("content_hash")


def _update_meta(generation: Path, articles_delta: int, passages: int) -> None:
    meta = read_meta(generation)
    write_meta(
        generation,
        IndexMeta(
            schema_version=meta.schema_version,
            analyzer_version=meta.analyzer_version,
            built_at=meta.built_at,
            articles=meta.articles + articles_delta,
            passages=passages,
        ),
    )


def update_index(
    index_path: str | os.PathLike,
    *,
    add: str | os.PathLike | None = None,
    remove: Iterable[str] = (),
    skip_invalid: bool = False,
    wait: float = 0.0,
) -> UpdateSummary:
    """Add or replace articles (by id) from a corpus path, and/or remove articles by id.

    An article whose content hash is unchanged is skipped. The update is one whoosh commit:
    readers see all of it or none of it, and a crash before the commit leaves the index
    as it was.
    """
    started = time.monotonic()
    root = Path(index_path)
    skipped: list[str] = []
    with writer_lock(root, wait=wait):
        generation = current_generation(root)
        read_meta(generation)
        ix = whoosh_index.open_dir(str(generation))
        added = replaced = unchanged = removed = passages = 0
        missing: list[str] = []
        writer = ix.writer(limitmb=128)
        try:
            with ix.searcher() as searcher:
                for article_id in remove:
                    if searcher.document(article_id=article_id) is None:
                        missing.append(article_id)
                        continue
                    writer.delete_by_term("article_id", article_id)
                    removed += 1
                if add is not None:
                    articles = read_corpus(
                        add, skip_invalid=skip_invalid, on_skip=lambda e: skipped.append(str(e))
                    )
                    for article in articles:
                        digest = article_hash(article)
                        old = _stored_hash(searcher, article.id)
                        if old == digest:
                            unchanged += 1
                            continue
                        if old is None:
                            added += 1
                        else:
                            writer.delete_by_term("article_id", article.id)
                            replaced += 1
                        for passage in split_passages(article):
                            writer.add_document(**_document(article, passage, digest))
                            passages += 1
        except BaseException:
            writer.cancel()
            raise
        if added or replaced or removed:
            writer.commit()
            with ix.reader() as reader:
                _update_meta(generation, added - removed, reader.doc_count())
        else:
            writer.cancel()
        ix.close()
    return UpdateSummary(
        added=added,
        replaced=replaced,
        unchanged=unchanged,
        removed=removed,
        passages=passages,
        seconds=time.monotonic() - started,
        missing=tuple(missing),
        skipped=tuple(skipped),
    )


def optimize_index(index_path: str | os.PathLike, wait: float = 0.0) -> int:
    """Merge the live generation's segments into one; returns the segment count before."""
    root = Path(index_path)
    with writer_lock(root, wait=wait):
        generation = current_generation(root)
        read_meta(generation)
        ix = whoosh_index.open_dir(str(generation))
        with ix.reader() as reader:
            before = len(reader.leaf_readers()) if not reader.is_atomic() else 1
        ix.optimize()
        ix.close()
    return before


def _remove_stale(root: Path, keep: str | None) -> None:
    """Remove half-built generations and, once a new one is live, the replaced ones.

    Called with the writers' lock held. Readers that still have an old generation open keep
    reading it: its files stay readable until they close them.
    """
    for child in root.iterdir():
        if child.name.startswith(_BUILDING_PREFIX) or (
            keep is not None and child.name.startswith(_GENERATION_PREFIX) and child.name != keep
        ):
            shutil.rmtree(child, ignore_errors=True)
