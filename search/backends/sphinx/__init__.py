"""A cluster of Sphinx 2.2 ``searchd`` nodes (RT indexes over SphinxQL): the server backend.

The only package that imports pymysql (in ``nodes``). ``cluster.toml`` names the nodes
(``config``); Veille analyses the text and sends its terms as tokens (``terms``), keeps the
catalog and the global statistics beside the config (``stats``), writes builds and updates
to every replica (``store``), and fans queries out over the shards, scoring them with the
embedded backend's BM25F (``compile``, ``reader``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ...ranking import RankingConfig
from ..base import Built, Changes, IndexedArticle
from . import stats
from .config import Cluster, read_cluster, read_live
from .nodes import Pool
from .reader import SphinxReader
from .store import article_ids, build, optimize, update

_REFRESH_SECONDS = 0.5


class SphinxBackend:
    """A handle on a cluster that always reads its live generation."""

    def __init__(self, path: str | os.PathLike, config: RankingConfig) -> None:
        self.path = Path(path)
        self.config = config
        self.cluster: Cluster = read_cluster(path)
        self.pool = Pool(self.cluster)
        self.executor = ThreadPoolExecutor(
            max_workers=max(2, self.cluster.shards * 2), thread_name_prefix="veille-shard"
        )
        self._lock = threading.Lock()
        self._reader: SphinxReader | None = None
        self._retired: list[SphinxReader] = []
        self._checked = 0.0
        try:
            self.reader()  # fail now, clearly, if there is no index
        except BaseException:
            self.close()
            raise

    def reader(self) -> SphinxReader:
        """The reader of the live generation, reopened when a build or update changed it."""
        with self._lock:
            now = time.monotonic()
            current = self._reader
            if current is not None and now - self._checked < _REFRESH_SECONDS:
                return current
            generation = read_live(self.cluster)
            if current is not None:  # a killed writer's half-done write, rolled back
                stats.recover(current.stats_path)
            if (
                current is None
                or current.generation != generation
                # Two builds between two looks: the same letter, its statistics written anew.
                or stats.file_identity(current.stats_path) != current.stats_file
                or current.current_revision() != current.revision
            ):
                self._reader = SphinxReader(
                    self.cluster, generation, self.pool, self.executor, self.config
                )
                if current is not None:
                    # A search may still be reading it: closed later, not under its feet.
                    self._retired.append(current)
                    while len(self._retired) > 8:
                        self._retired.pop(0).close()
            self._checked = now
            return self._reader

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
            for reader in self._retired:
                reader.close()
            self._retired.clear()
        self.executor.shutdown(wait=True)
        self.pool.close()


class SphinxStore:
    """Writes and opens clusters (see ``search.backends.base.Store``)."""

    def open(self, path: str | os.PathLike, config: RankingConfig) -> SphinxBackend:
        return SphinxBackend(path, config)

    def build(
        self,
        path: str | os.PathLike,
        articles: Iterable[IndexedArticle],
        *,
        procs: int = 1,
        wait: float = 0.0,
    ) -> Built:
        generation, written, passages = build(path, articles, wait=wait, procs=procs)
        return Built(generation, written, passages)

    def update(
        self,
        path: str | os.PathLike,
        articles: Iterable[IndexedArticle],
        remove: Iterable[str],
        *,
        wait: float = 0.0,
    ) -> Changes:
        return update(path, articles, remove, wait=wait)

    def optimize(self, path: str | os.PathLike, *, wait: float = 0.0) -> int:
        return optimize(path, wait=wait)

    def article_ids(self, path: str | os.PathLike) -> list[str]:
        return article_ids(path)

    def verify(self, path: str | os.PathLike) -> tuple[int, list[str]]:
        """Each node answers and serves the schema, replicas agree: (nodes, problems)."""
        from ...cluster import cluster_status

        status = cluster_status(path)
        problems = [
            f"shard {s['shard']} replica {s['replica']} ({s['address']}) is {s['state']}"
            for s in status
            if s["state"] != "up"
        ]
        return len(status), problems


__all__ = ["SphinxBackend", "SphinxStore"]
