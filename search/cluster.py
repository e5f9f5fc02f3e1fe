"""A cluster of Sphinx searchd nodes as an index: write its config, start, stop, inspect.

``Index.open("DIR/cluster.toml")`` and every command's ``--index DIR/cluster.toml`` use it
like an index folder; these functions run its nodes (``veille cluster …``).
"""

from __future__ import annotations

import os
from pathlib import Path

from .backends.sphinx import config, nodes, stats


def init_cluster(
    folder: str | os.PathLike,
    shards: int,
    replicas: int,
    host: str = "127.0.0.1",
    base_port: int = 9306,
) -> Path:
    """Write each node's searchd config and ``cluster.toml`` in folder; returns its path."""
    return config.init_cluster(folder, shards, replicas, host, base_port).path


def start_cluster(path: str | os.PathLike) -> list[int]:
    """Start every node of the cluster; returns their pids once every node answers."""
    return nodes.start_cluster(config.read_cluster(path))


def stop_cluster(path: str | os.PathLike) -> int:
    """Stop every node of the cluster; returns how many were running."""
    return nodes.stop_cluster(config.read_cluster(path))


def cluster_status(path: str | os.PathLike) -> list[dict]:
    """Each node: shard, replica, address, pid, state (up, down, not answering, stale,
    wrong shard) and the articles its live generation holds."""
    cluster = config.read_cluster(path)
    try:
        live = config.read_live(cluster)
    except config.VeilleError:  # not built yet: nodes hold nothing
        return [status.to_dict() for status in nodes.cluster_status(cluster, None)]
    db = stats.open_stats(stats.stats_path(cluster, live))
    try:
        expected = dict(db.execute("SELECT shard, COUNT(*) FROM articles GROUP BY shard"))
        missed = stats.stale_nodes(db)  # an article's rows (a replacement, say), a mark
    finally:
        db.close()
    found = nodes.cluster_status(cluster, f"veille_{live}", expected, missed)
    return [status.to_dict() for status in found]
