"""A cluster's configuration: ``cluster.toml``, each node's searchd config, the live file.

``veille cluster init`` writes, in one folder, ``cluster.toml`` (the nodes: shard, replica,
host, port, folder) and one folder per node holding its ``searchd.conf``, data, logs and
pid file. Each node serves two RT indexes, ``veille_a`` and ``veille_b``: the two
generations of the index. ``cluster.live`` (written atomically) names the live one.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ...errors import IndexNotFoundError, IndexVersionError, VeilleError

# Bump when the config, the node schema or what is stored on the nodes changes.
CLUSTER_SCHEMA_VERSION = 4
GENERATIONS = ("a", "b")
LIVE_FILE = "cluster.live"
DEFAULT_MAX_MATCHES = 100_000

# The index's fields and attributes on every node (the order of an INSERT's columns).
FIELDS = ("text", "title", "exact", "title_exact", "flags")
ATTRIBUTES = (
    ("art", "bigint"),  # Veille's article number
    ("pos", "uint"),  # the passage's position in its article
    ("lead", "uint"),  # 1 on an article's first passage
    ("moment", "bigint"),  # the article's date and time (base.moment), 0 when undated
    ("month", "uint"),  # its year and month as YYYYMM, 0 when undated: what counts group by
    # 1 on the rows of an article whose story has had copies (set once they are written):
    # a query's counts ask the nodes for these articles alone, to count each story once.
    ("copied", "uint"),
    ("lx", "uint"),  # field lengths as the embedded backend scores them
    ("lt", "uint"),
    ("le", "uint"),
    ("pstart", "uint"),
    ("pend", "uint"),
    ("article_id", "string"),
    ("title_text", "string"),
    ("source", "string"),
    ("category", "string"),
    ("url", "string"),
    ("body", "string"),  # the passage's text, for snippets
    ("cluster", "string"),
    ("hash", "string"),  # the article's content hash (on every passage)
    ("tf", "json"),  # term frequencies per field (and per whole article on the lead)
)


class ClusterConfigError(VeilleError):
    """A cluster's configuration is missing or wrong."""


@dataclass(frozen=True)
class Node:
    """One searchd: which shard and replica it serves, where, and its folder."""

    shard: int
    replica: int
    host: str
    port: int
    folder: Path

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def name(self) -> str:
        return f"shard {self.shard} replica {self.replica} ({self.address})"

    @property
    def config_file(self) -> Path:
        return self.folder / "searchd.conf"

    @property
    def pid_file(self) -> Path:
        return self.folder / "searchd.pid"


@dataclass(frozen=True)
class Cluster:
    """The nodes of a cluster, read from its ``cluster.toml``."""

    path: Path
    shards: int
    replicas: int
    nodes: tuple[Node, ...]
    max_matches: int = DEFAULT_MAX_MATCHES

    @property
    def folder(self) -> Path:
        return self.path.parent

    def shard_nodes(self, shard: int) -> list[Node]:
        return [n for n in self.nodes if n.shard == shard]


def read_cluster(path: str | os.PathLike) -> Cluster:
    """Read ``cluster.toml``: IndexNotFoundError if missing, a clear error if wrong."""
    path = Path(path).absolute()  # searchd runs in its node's folder
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise IndexNotFoundError(
            f"no cluster config at {path}: run `veille cluster init --dir {path.parent}`"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ClusterConfigError(f"{path}: not a cluster config ({e})") from None
    version = data.get("schema_version")
    if version != CLUSTER_SCHEMA_VERSION:
        raise IndexVersionError(
            f"{path} is a cluster config of schema {version}; this version of Veille reads "
            f"schema {CLUSTER_SCHEMA_VERSION}: stop its nodes (`veille cluster stop`, with the "
            "version that started them), then make a cluster in another folder (`veille cluster "
            "init --dir NEW`), start it and `veille build` it"
        )
    try:
        nodes = tuple(
            Node(
                shard=int(n["shard"]),
                replica=int(n["replica"]),
                host=str(n["host"]),
                port=int(n["port"]),
                folder=path.parent / str(n["folder"]),
            )
            for n in data["nodes"]
        )
        shards = int(data["shards"])
        replicas = int(data["replicas"])
        max_matches = int(data.get("max_matches", DEFAULT_MAX_MATCHES))
    except (KeyError, TypeError, ValueError) as e:
        raise ClusterConfigError(f"{path}: a node or setting is missing or wrong ({e})") from None
    if shards < 1 or replicas < 1:
        raise ClusterConfigError(f"{path}: a cluster needs at least 1 shard and 1 replica")
    for shard in range(shards):
        if not any(n.shard == shard for n in nodes):
            raise ClusterConfigError(f"{path}: shard {shard} has no node")
    if stray := [n for n in nodes if not 0 <= n.shard < shards]:
        raise ClusterConfigError(f"{path}: node {stray[0].address} names shard {stray[0].shard}")
    return Cluster(path, shards, replicas, nodes, max_matches)


def _node_config(node: Node, max_matches: int) -> str:
    """A searchd config: the two generations as RT indexes, listening on SphinxQL only."""
    indexes = []
    for generation in GENERATIONS:
        lines = [f"    rt_field = {f}" for f in FIELDS]
        lines += [f"    rt_attr_{kind} = {name}" for name, kind in ATTRIBUTES]
        indexes.append(
            f"index veille_{generation}\n{{\n    type = rt\n"
            f"    path = {node.folder / 'data' / generation}\n"
            + "\n".join(lines)
            # Veille analyses the text itself and sends its terms as ASCII tokens (see
            # terms.py): no morphology, no stop words, every token as it comes.
            + "\n    charset_table = 0..9, a..z, _\n    min_word_len = 1\n"
            "    dict = keywords\n"
            "    rt_mem_limit = 256M\n}\n"
        )
    folder = node.folder
    return (
        "# Written by `veille cluster init`; Veille reads and writes these indexes.\n"
        + "\n".join(indexes)
        + f"""
searchd
{{
    listen = {node.host}:{node.port}:mysql41
    log = {folder / "searchd.log"}
    query_log = {folder / "query.log"}
    pid_file = {node.pid_file}
    binlog_path = {folder / "binlog"}
    workers = threads
    watchdog = 0
    read_timeout = 5
    client_timeout = 300
    max_packet_size = 32M
    seamless_rotate = 1
}}
"""
    )


# A host name (its labels of letters, digits and inner hyphens) or an IPv4 address.
_HOST = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)


def init_cluster(
    folder: str | os.PathLike,
    shards: int,
    replicas: int,
    host: str = "127.0.0.1",
    base_port: int = 9306,
    max_matches: int = DEFAULT_MAX_MATCHES,
) -> Cluster:
    """Write ``cluster.toml`` and each node's searchd config; ports count up from base_port."""
    if shards < 1 or replicas < 1:
        raise ClusterConfigError("a cluster needs at least 1 shard and 1 replica")
    if not 0 < base_port <= 65536 - shards * replicas:
        raise ClusterConfigError(f"--base-port {base_port}: the ports must fit under 65536")
    if not isinstance(host, str) or not _HOST.fullmatch(host):
        raise ClusterConfigError(
            f"--host {str(host)[:60]!r}: a host name or an IPv4 address (searchd listens there)"
        )
    root = Path(folder).resolve()
    if (root / "cluster.toml").exists():  # its nodes may run, its data be the archive's
        raise ClusterConfigError(
            f"{root / 'cluster.toml'} exists: a cluster is there; to make another, stop "
            "it (`veille cluster stop`) and give another --dir"
        )
    root.mkdir(parents=True, exist_ok=True)
    nodes = []
    for shard in range(shards):
        for replica in range(replicas):
            port = base_port + shard * replicas + replica
            node = Node(shard, replica, host, port, root / f"node-{shard}-{replica}")
            for sub in ("data", "binlog"):
                (node.folder / sub).mkdir(parents=True, exist_ok=True)
            node.config_file.write_text(_node_config(node, max_matches), encoding="utf-8")
            nodes.append(node)
    lines = [
        "# A Veille cluster: Sphinx searchd nodes, written by `veille cluster init`.",
        f"schema_version = {CLUSTER_SCHEMA_VERSION}",
        f"shards = {shards}",
        f"replicas = {replicas}",
        "# Matches one shard may return to a query (SphinxQL's OPTION max_matches).",
        f"max_matches = {max_matches}",
    ]
    for node in nodes:
        lines += [
            "",
            "[[nodes]]",
            f"shard = {node.shard}",
            f"replica = {node.replica}",
            f'host = "{node.host}"',
            f"port = {node.port}",
            f'folder = "{node.folder.name}"',
        ]
    path = root / "cluster.toml"
    atomic_write(path, "\n".join(lines) + "\n")
    return read_cluster(path)


def atomic_write(path: Path, text: str) -> None:
    """Write a file so that a reader sees the old content or the new, never a part."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_live(cluster: Cluster) -> str:
    """The live generation ("a" or "b"); IndexNotFoundError before the first build."""
    try:
        data = json.loads((cluster.folder / LIVE_FILE).read_text(encoding="utf-8"))
        generation = data["generation"]
    except FileNotFoundError:
        raise IndexNotFoundError(
            f"the cluster at {cluster.path} holds no index yet: run "
            f"`veille build --index {cluster.path}`"
        ) from None
    except (ValueError, KeyError, TypeError) as e:
        raise ClusterConfigError(f"{cluster.folder / LIVE_FILE} is unreadable ({e})") from None
    if generation not in GENERATIONS:
        raise ClusterConfigError(f"{cluster.folder / LIVE_FILE} names {generation!r}")
    return generation


def write_live(cluster: Cluster, generation: str) -> None:
    atomic_write(cluster.folder / LIVE_FILE, json.dumps({"generation": generation}) + "\n")
