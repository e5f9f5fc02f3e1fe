"""The embedded backend: whoosh files in generations under an index folder.

The only package that imports whoosh. ``WhooshStore`` writes (a build writes its segments in
bulk, ``segments.py``; updates and merges use whoosh's writer) and opens ``WhooshBackend``,
which follows the live generation: each call checks, at most twice a second, whether a build
swapped in a new one (or an update committed) and reopens if so; after a write made in this
process, at once.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from ...errors import IndexDamagedError, IndexNotFoundError
from ...ranking import RankingConfig
from ..base import Built, Changes, IndexedArticle
from . import _internals  # noqa: F401  (checks whoosh's private parts at import)
from .reader import WhooshReader
from .store import (
    article_ids,
    build,
    check_sizes,
    current_generation,
    optimize,
    update,
    verify_files,
)

_REFRESH_SECONDS = 0.5
# Writes committed by this process, by index folder: a handle looks at the folder again
# after one, so that a search right after add_articles() returns sees what it added.
_WRITES: dict[Path, int] = {}
_WRITES_LOCK = threading.Lock()


def _written(path: str | os.PathLike) -> None:
    with _WRITES_LOCK:
        key = Path(path).resolve()
        _WRITES[key] = _WRITES.get(key, 0) + 1


def _writes(path: Path) -> int:
    with _WRITES_LOCK:
        return _WRITES.get(path, 0)


# How long a reader keeps answering from the generation it has when the index folder no
# longer names a readable one: a swap takes far less; past this, the index is damaged or
# gone, and saying so beats answering from a generation nobody else sees.
_GRACE_SECONDS = 2.0


class WhooshBackend:
    """A handle on an index folder that always reads its live generation."""

    def __init__(self, path: str | os.PathLike, config: RankingConfig) -> None:
        self.path = Path(path)
        self.config = config
        self._lock = threading.Lock()
        self._reader: WhooshReader | None = None
        self._checked = 0.0
        self._failing_since: float | None = None
        self._failure: Exception | None = None
        self._resolved = self.path.resolve()
        self._writes = _writes(self._resolved)
        self.reader()  # fail now, clearly, if there is no index

    def reader(self) -> WhooshReader:
        """The reader of the live generation, reopened when the index has changed."""
        with self._lock:
            now = time.monotonic()
            current = self._reader
            writes = _writes(self._resolved)
            if now - self._checked < _REFRESH_SECONDS and writes == self._writes:
                if self._failure is not None:  # said again until the next look
                    raise copy.copy(self._failure)
                if current is not None:
                    return current
            try:
                self._reader = self._current(current)
            except (FileNotFoundError, IndexNotFoundError, IndexDamagedError) as e:
                self._failure, self._checked = e, now
                raise
            self._failure, self._checked, self._writes = None, now, writes
            return self._reader

    def _current(self, current: WhooshReader | None) -> WhooshReader:
        for attempt in range(3):
            resized = False
            try:
                generation = current_generation(self.path)
                if current is None or current.generation != generation or not current.up_to_date():
                    current = WhooshReader(generation, self.config)
                else:  # a file cut short under the reader's map: said, not a SIGBUS
                    resized = True
                    check_sizes(generation, current.meta)
                self._failing_since = None
                return current
            except (FileNotFoundError, IndexNotFoundError, IndexDamagedError):
                # A build may have swapped generations between our reads: look again.
                if attempt < 2:
                    time.sleep(0.05)
                    continue
                now = time.monotonic()
                self._failing_since = self._failing_since or now
                # Answering on from the generation it has, unless its files changed size:
                # reading past a file's new end would kill the process.
                grace = now - self._failing_since < _GRACE_SECONDS
                if current is not None and grace and not resized:
                    return current
                raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None


class WhooshStore:
    """Writes and opens whoosh indexes (see ``search.backends.base.Store``)."""

    def open(self, path: str | os.PathLike, config: RankingConfig) -> WhooshBackend:
        return WhooshBackend(path, config)

    def build(
        self,
        path: str | os.PathLike,
        articles: Iterable[IndexedArticle],
        *,
        procs: int = 1,
        wait: float = 0.0,
        limitmb: int = 400,
    ) -> Built:
        try:
            return build(path, articles, procs=procs, limitmb=limitmb, wait=wait)
        finally:
            _written(path)

    def update(
        self,
        path: str | os.PathLike,
        articles: Iterable[IndexedArticle],
        remove: Iterable[str],
        *,
        wait: float = 0.0,
    ) -> Changes:
        try:
            return update(path, articles, remove, wait=wait)
        finally:
            _written(path)

    def optimize(self, path: str | os.PathLike, *, wait: float = 0.0) -> int:
        try:
            return optimize(path, wait=wait)
        finally:
            _written(path)

    def article_ids(self, path: str | os.PathLike) -> list[str]:
        return article_ids(path)

    def verify(self, path: str | os.PathLike) -> tuple[int, list[str]]:
        return verify_files(current_generation(path))


__all__ = ["WhooshBackend", "WhooshStore"]
