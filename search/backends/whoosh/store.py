"""The whoosh index on disk: its generations, the writers' lock, and the writes.

An index folder holds generations (``gen-*/``, each a complete whoosh index with a
``veille.json`` beside it) and a ``CURRENT`` file naming the live one. A build writes a new
generation next to the live one and only then points ``CURRENT`` at it (an atomic rename),
so a crash or Ctrl-C mid-build leaves the previous generation serving.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import multiprocessing
import os
import pickle
import queue
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from whoosh import fields
from whoosh import index as whoosh_index
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC

from ...analysis import ANALYZER_VERSION
from ...errors import (
    IndexDamagedError,
    IndexLockedError,
    IndexNotFoundError,
    IndexVersionError,
)
from ..base import Built, Changes, IndexedArticle
from ..workers import BuildWorkerError, die_with_parent
from ._internals import ArrayBlocksCodec
from .schema import SCHEMA_VERSION, make_schema, passage_document
from .segments import BLOCK_LIMIT, SegmentBuilder

CURRENT_FILE = "CURRENT"
# In a replaced generation that a build kept: it holds articles the build left out.
KEPT_FILE = "KEPT"
META_FILE = "veille.json"
LOCK_FILE = ".lock"
_GENERATION_PREFIX = "gen-"
_BUILDING_PREFIX = ".building-"


@dataclass(frozen=True)
class IndexMeta:
    """What an index records about itself in ``veille.json``."""

    schema_version: int
    analyzer_version: int
    built_at: dt.datetime
    articles: int
    passages: int
    # Each index file at the last commit: name -> (size in bytes, blake2b digest).
    files: dict[str, tuple[int, str]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "schema_version": self.schema_version,
            "analyzer_version": self.analyzer_version,
            "built_at": self.built_at.isoformat(timespec="seconds"),
            "articles": self.articles,
            "passages": self.passages,
            "files": {name: list(record) for name, record in sorted(self.files.items())},
        }

    @classmethod
    def from_json(cls, data: dict) -> IndexMeta:
        return cls(
            schema_version=int(data["schema_version"]),
            analyzer_version=int(data["analyzer_version"]),
            built_at=dt.datetime.fromisoformat(data["built_at"]),
            articles=int(data["articles"]),
            passages=int(data["passages"]),
            files={
                str(name): (int(size), str(digest))
                for name, (size, digest) in dict(data.get("files", {})).items()
            },
        )


def _is_index_file(path: Path) -> bool:
    # whoosh's segments (.seg) and tables of contents (.toc); not its lock, not our files.
    return path.suffix in (".seg", ".toc") and path.is_file()


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def record_files(generation: Path, known: dict[str, tuple[int, str]]) -> dict:
    """Each index file's size and digest; files already known (whoosh never rewrites a
    file under the same name) keep their digest."""
    files = {}
    for path in sorted(generation.iterdir()):
        if _is_index_file(path):
            size = path.stat().st_size
            old = known.get(path.name)
            files[path.name] = old if old and old[0] == size else (size, _digest(path))
    return files


def _latest_toc(generation: Path) -> str | None:
    tocs = [p.name for p in generation.glob("_MAIN_*.toc")]
    return max(tocs, key=lambda n: int(n[6:-4]) if n[6:-4].isdigit() else -1, default=None)


def _toc_number(name: str) -> int:
    number = name[6:-4]  # _MAIN_<n>.toc
    return int(number) if number.isdigit() else -1


def _recorded_toc(meta: IndexMeta) -> str | None:
    return max((n for n in meta.files if n.endswith(".toc")), key=_toc_number, default=None)


def _problems(generation: Path, meta: IndexMeta, digests: bool) -> list[str]:
    """What differs from the record of the last commit: missing, resized, altered files."""
    recorded = _recorded_toc(meta)
    if recorded is None:
        return []  # nothing recorded (an index written before records were kept)
    latest = _latest_toc(generation)
    if latest is None or _toc_number(latest) < _toc_number(recorded):
        return [f"{recorded} (the table of contents) is missing"]
    if latest != recorded:
        return []  # a commit that was not recorded yet: a writer died just after it
    problems = []
    for name, (size, digest) in meta.files.items():
        if name.endswith(".toc") and name != recorded:
            continue  # whoosh removes the tables of contents it replaced
        path = generation / name
        try:
            actual = path.stat().st_size
        except FileNotFoundError:
            problems.append(f"{name} is missing")
            continue
        if actual != size:
            problems.append(f"{name} has {actual:,} bytes, not {size:,}")
        elif digests and _digest(path) != digest:
            problems.append(f"{name} does not hold what was written (checksum differs)")
    return problems


def unrecorded_commit(generation: Path) -> str | None:
    """The table of contents of a commit not recorded yet (a writer died just after it),
    if the generation's newest is one."""
    recorded, latest = _recorded_toc(read_meta(generation)), _latest_toc(generation)
    return latest if recorded is not None and latest not in (None, recorded) else None


def check_sizes(generation: Path, meta: IndexMeta) -> None:
    """IndexDamagedError if a file recorded at the last commit is missing or resized."""
    if problems := _problems(generation, meta, digests=False):
        raise _damaged(generation, problems[0])


def verify_files(generation: Path) -> tuple[int, list[str]]:
    """(files recorded, problems) of a generation against its recorded digests; a commit
    not recorded yet has nothing to be checked against, so it is read through."""
    meta = read_meta(generation)
    problems = _problems(generation, meta, digests=True)
    if not problems and (unrecorded := unrecorded_commit(generation)):
        try:
            ix = whoosh_index.open_dir(str(generation))
            try:
                with ix.reader() as reader:
                    for _ in reader.all_stored_fields():
                        pass
            finally:
                ix.close()
        except Exception:  # whoosh reading damaged bytes may raise anything
            problems.append(f"{unrecorded}, a commit not recorded, cannot be read")
    return len(meta.files), problems


def _damaged(generation: Path, problem: str) -> IndexDamagedError:
    return IndexDamagedError(
        f"index damaged ({generation.name}: {problem}): run `veille build` to rebuild it"
    )


def current_generation(index_path: str | os.PathLike) -> Path:
    """The folder of the live generation; IndexNotFoundError when there is none."""
    root = Path(index_path)
    try:
        name = (root / CURRENT_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        generations = sorted(p.name for p in _generation_folders(root))
        if generations:
            # An index was here and lost its pointer: never taken for a missing one, which
            # `veille serve` would build over (and so delete these).
            newest = generations[-1]
            raise IndexDamagedError(
                f"index damaged ({root}/{CURRENT_FILE} is missing, beside "
                f"{', '.join(generations)}): to serve the newest again, write its name "
                f"there (`echo {newest} > {root}/{CURRENT_FILE}`); `veille build` rebuilds "
                "from the corpus, keeping it if it holds articles the corpus lacks"
            ) from None
        raise IndexNotFoundError(
            f"no index at {root}: run `veille build` to build it from the corpus"
        ) from None
    except NotADirectoryError:
        raise IndexNotFoundError(f"{root} is not an index folder") from None
    generation = root / name
    if not name.startswith(_GENERATION_PREFIX) or not generation.is_dir():
        # An index was here: never taken for a missing one (which `veille serve` builds).
        raise IndexDamagedError(
            f"index damaged ({root}/{CURRENT_FILE} names {name!r}, which is not there): "
            "run `veille build` to rebuild it"
        )
    return generation


# A generation's name as a build makes it (_new_generation_name): a folder named otherwise
# (« gen-reports ») is not the index's, and never removed.
_GENERATION_NAME = re.compile(rf"{_GENERATION_PREFIX}\d{{8}}T\d{{6}}-[0-9a-f]{{6}}")


def _generation_folders(root: Path) -> list[Path]:
    """The generation folders under an index folder (none if it is no folder)."""
    try:
        return [p for p in root.iterdir() if _GENERATION_NAME.fullmatch(p.name) and p.is_dir()]
    except OSError:
        return []


def read_meta(generation: Path) -> IndexMeta:
    """Read and check a generation's ``veille.json``: IndexVersionError if incompatible."""
    try:
        meta = IndexMeta.from_json(json.loads((generation / META_FILE).read_text("utf-8")))
    except FileNotFoundError:
        raise _damaged(generation, f"{META_FILE} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:  # cut short, or overwritten
        raise _damaged(generation, f"{META_FILE} is not readable JSON ({e})") from None
    except (ValueError, KeyError, TypeError) as e:  # another version's record
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
    if root.exists() and not root.is_dir():
        raise IndexNotFoundError(f"{root} is not an index folder (it is a file)")
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


def _after_fork_in_child() -> None:
    if not _HELD_LOCKS:
        return
    for fd in _HELD_LOCKS:
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD_LOCKS.clear()
    die_with_parent()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _add_article(builder: SegmentBuilder, item: IndexedArticle) -> None:
    digest = item.article.content_hash()
    for passage in item.passages:
        builder.add_document(passage_document(item, passage, digest))


class _SegmentsWriter:
    """Write an article stream as whoosh segments, a new one whenever memory is full."""

    def __init__(self, schema: fields.Schema, storage, indexname: str, limitmb: int) -> None:
        self.schema, self.storage, self.indexname = schema, storage, indexname
        self.limit = limitmb * 1024 * 1024
        self.builder: SegmentBuilder | None = None
        self.segments: list = []

    def add(self, item: IndexedArticle) -> None:
        if self.builder is None:
            self.builder = SegmentBuilder(self.schema, self.storage, self.indexname)
        _add_article(self.builder, item)
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
            for item in pickle.loads(batch):
                writer.add(item)
        results.put(("segments", writer.flush()))
    except BaseException as e:  # reported to the parent, which raises it
        results.put(("error", f"{type(e).__name__}: {e}"))


def _write_segments(
    ix,
    corpus: Iterable[IndexedArticle],
    procs: int,
    limitmb: int,
) -> list:
    """Write the corpus's passages as segments of ``ix``, with ``procs`` worker processes."""
    if procs <= 1:
        writer = _SegmentsWriter(ix.schema, ix.storage, ix.indexname, limitmb)
        for item in corpus:
            writer.add(item)
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
        batch: list[IndexedArticle] = []
        for item in corpus:
            batch.append(item)
            if len(batch) >= _BATCH:
                _put(tasks, _pickled(batch), workers, results)
                batch = []
        if batch:
            _put(tasks, _pickled(batch), workers, results)
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


def _pickled(batch: list) -> bytes:
    # Pickled here, not in the queue's feeder thread, which would print an error and drop
    # the whole batch: a build must fail on what it cannot send, not lose articles.
    return pickle.dumps(batch, pickle.HIGHEST_PROTOCOL)


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


def _new_generation_name() -> str:
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    return f"{_GENERATION_PREFIX}{stamp}-{secrets.token_hex(3)}"


def _commit_segments(ix, segments: list) -> None:
    toc = TOC(ix.schema, segments, ix.latest_generation() + 1)
    toc.write(ix.storage, ix.indexname)
    whoosh_index.clean_files(ix.storage, ix.indexname, toc.generation, segments)
    ix.close()


def build(
    index_path: str | os.PathLike,
    articles: Iterable[IndexedArticle],
    *,
    procs: int = 1,
    limitmb: int = 400,
    wait: float = 0.0,
) -> Built:
    """Write the articles as a new generation and make it the live one.

    Each of the ``procs`` processes writes a segment whenever its postings reach about
    ``limitmb`` megabytes. An error raised while the articles are read (or any other) leaves
    the live generation untouched. Then the generations before it go, but those that
    hold an article the new one lacks (fetched or added from elsewhere, it would be lost):
    these are kept, and marked so that no later build removes them.
    """
    root = Path(index_path)
    counts = [0, 0]
    written: set[str] = set()

    def counted() -> Iterator[IndexedArticle]:
        for item in articles:
            counts[0] += 1
            counts[1] += len(item.passages)
            written.add(item.article.id)
            yield item

    with writer_lock(root, wait=wait):
        _remove_stale(root)
        name = _new_generation_name()
        building = root / (_BUILDING_PREFIX + name)
        building.mkdir(parents=True)
        try:
            ix = whoosh_index.create_in(str(building), make_schema())
            _commit_segments(ix, _write_segments(ix, counted(), procs, limitmb))
            shutil.rmtree(building / f"{ix.indexname}.tmp", ignore_errors=True)
            meta = IndexMeta(
                schema_version=SCHEMA_VERSION,
                analyzer_version=ANALYZER_VERSION,
                built_at=dt.datetime.now().astimezone(),
                articles=counts[0],
                passages=counts[1],
                files=record_files(building, {}),
            )
            write_meta(building, meta)
            os.rename(building, root / name)
            _atomic_write(root / CURRENT_FILE, name + "\n")
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        kept = _settle(root, name, written)
    return Built(name, counts[0], counts[1], kept)


def _settle(root: Path, live: str, written: set[str]) -> tuple[Path, ...]:
    """Remove the generations a build replaced, but those holding an article it did not
    write: mark these kept, and return those newly kept."""
    kept = []
    for generation in sorted(_generation_folders(root)):
        if generation.name == live or (generation / KEPT_FILE).exists():
            continue
        if _holds_others(generation, written):
            _atomic_write(generation / KEPT_FILE, f"{live} left out some of its articles\n")
            kept.append(generation)
        else:
            shutil.rmtree(generation, ignore_errors=True)
    return tuple(kept)


def kept_generations(index_path: str | os.PathLike) -> list[Path]:
    """The generations builds kept because they hold articles the corpus lacked, but the
    live one (a kept generation served again, as a build's message shows how)."""
    try:
        live = current_generation(index_path)
    except IndexDamagedError:
        live = None
    return [
        g
        for g in sorted(_generation_folders(Path(index_path)))
        if (g / KEPT_FILE).exists() and g != live
    ]


def article_ids(index_path: str | os.PathLike) -> list[str]:
    """The ids of the articles the live generation holds, in id order; its pointer lost,
    those of every generation there."""
    try:
        generations = [current_generation(index_path)]
    except IndexDamagedError:
        generations = _generation_folders(Path(index_path))
    return sorted({i for g in generations for i in _live_ids(g, lambda _: True)})


def _holds_others(generation: Path, written: set[str]) -> bool:
    """Whether a generation holds an article (not deleted) outside ``written``; one that
    cannot be read as an index (another version's, a damaged one) is kept whole."""
    try:
        # Closed at once: the first such article is enough, and the generation's files
        # are let go before the build may remove others.
        with contextlib.closing(_live_ids(generation, lambda i: i not in written)) as others:
            return any(True for _ in others)
    except Exception:
        return True  # what cannot be read is kept, never removed


def _live_ids(generation: Path, wanted: Callable[[str], bool]) -> Iterator[str]:
    """The ids ``wanted`` of the articles a generation holds, in id order (an article
    replaced or removed in place keeps its old passages, deleted, until a merge)."""
    ix = whoosh_index.open_dir(str(generation))
    try:
        with ix.reader() as reader:
            for term in reader.lexicon("article_id"):
                article_id = term.decode()
                if wanted(article_id) and any(
                    not reader.is_deleted(doc)
                    for doc in reader.postings("article_id", term).all_ids()
                ):
                    yield article_id
    finally:
        ix.close()


def _stored_hash(searcher, article_id: str) -> str | None:
    fields = searcher.document(article_id=article_id)
    return None if fields is None else fields.get("content_hash")


def _update_meta(generation: Path, articles_delta: int, passages: int | None = None) -> None:
    meta = read_meta(generation)
    write_meta(
        generation,
        IndexMeta(
            schema_version=meta.schema_version,
            analyzer_version=meta.analyzer_version,
            built_at=meta.built_at,
            articles=meta.articles + articles_delta,
            passages=meta.passages if passages is None else passages,
            files=record_files(generation, meta.files),
        ),
    )


class _Update:
    """The counts of one update as its writer goes."""

    def __init__(self, writer, searcher) -> None:
        self.writer, self.searcher = writer, searcher
        self.added = self.replaced = self.unchanged = self.removed = self.passages = 0
        self.missing: list[str] = []

    def remove(self, article_id: str) -> None:
        if self.searcher.document(article_id=article_id) is None:
            self.missing.append(article_id)
            return
        self.writer.delete_by_term("article_id", article_id)
        self.removed += 1

    def add(self, item: IndexedArticle) -> None:
        article = item.article
        digest = article.content_hash()
        old = _stored_hash(self.searcher, article.id)
        if old == digest:
            self.unchanged += 1
            return
        if old is None:
            self.added += 1
        else:
            self.writer.delete_by_term("article_id", article.id)
            self.replaced += 1
        for passage in item.passages:
            self.writer.add_document(**passage_document(item, passage, digest))
            self.passages += 1

    def changes(self) -> Changes:
        return Changes(
            self.added,
            self.replaced,
            self.unchanged,
            self.removed,
            self.passages,
            tuple(self.missing),
        )


def update(
    index_path: str | os.PathLike,
    articles: Iterable[IndexedArticle] = (),
    remove: Iterable[str] = (),
    *,
    wait: float = 0.0,
) -> Changes:
    """Add or replace articles (by id, skipping unchanged ones) and remove articles by id.

    One whoosh commit: readers see all of it or none of it, and a failure before the
    commit leaves the index as it was, its files and its disk space too.
    """
    root = Path(index_path)
    current_generation(root)  # no index: say so, and leave no lock file where it is not
    with writer_lock(root, wait=wait):
        generation = _live_for_writing(root)
        ix = whoosh_index.open_dir(str(generation))
        try:
            writer = ix.writer(limitmb=128, codec=_codec())
            try:
                with ix.searcher() as searcher:
                    update = _Update(writer, searcher)
                    for article_id in remove:
                        update.remove(article_id)
                    for item in articles:
                        update.add(item)
            except BaseException:
                writer.cancel()
                raise
            changes = update.changes()
            if changes.added or changes.replaced or changes.removed:
                writer.commit()
                with ix.reader() as reader:
                    passages = reader.doc_count()
                _update_meta(generation, changes.added - changes.removed, passages)
            else:
                writer.cancel()
        finally:
            ix.close()
            _remove_uncommitted(generation)
    return changes


def _codec() -> ArrayBlocksCodec:
    """The codec of whoosh's writer here (updates, the merges they start, optimize): the
    postings blocks of a build, so that updating or optimizing an index keeps its speed."""
    return ArrayBlocksCodec(blocklimit=BLOCK_LIMIT)


def optimize(index_path: str | os.PathLike, wait: float = 0.0) -> int:
    """Merge the live generation's segments into one; returns the segment count before."""
    root = Path(index_path)
    current_generation(root)  # no index: say so, and leave no lock file where it is not
    with writer_lock(root, wait=wait):
        generation = _live_for_writing(root)
        ix = whoosh_index.open_dir(str(generation))
        try:
            with ix.reader() as reader:
                before = len(reader.leaf_readers()) if not reader.is_atomic() else 1
            ix.optimize(codec=_codec())
            _update_meta(generation, 0)
        finally:
            ix.close()
            _remove_uncommitted(generation)
    return before


def _live_for_writing(root: Path) -> Path:
    """The live generation, checked and rid of what a killed writer left in it."""
    _remove_stale(root)
    generation = current_generation(root)
    meta = read_meta(generation)
    check_sizes(generation, meta)
    _remove_uncommitted(generation)
    return generation


def _remove_uncommitted(generation: Path) -> None:
    """Remove the files no commit refers to: a failed or killed writer's segments, temp
    folders and replaced tables of contents (called with the writers' lock held)."""
    latest = _latest_toc(generation)
    if latest is None:
        return
    toc = TOC.read(FileStorage(str(generation), readonly=True), "MAIN", int(latest[6:-4]))
    live = tuple(segment.segment_id() for segment in toc.segments)
    for path in generation.iterdir():
        name = path.name
        if path.is_dir() and name.endswith(".tmp"):
            shutil.rmtree(path, ignore_errors=True)
        elif name == latest or name == "MAIN_WRITELOCK" or not name.startswith(("MAIN", "_MAIN")):
            continue
        elif not name.startswith(live):
            path.unlink(missing_ok=True)


def _remove_stale(root: Path) -> None:
    """Remove half-built generations (a killed writer's). Called with the writers' lock
    held; readers that still have a replaced generation open keep reading it: its files
    stay readable until they close them."""
    for child in root.iterdir():
        if child.name.startswith(_BUILDING_PREFIX):
            shutil.rmtree(child, ignore_errors=True)
