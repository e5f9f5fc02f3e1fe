"""The searchd processes of a cluster, and SphinxQL connections to them.

The only module that imports pymysql. Each node is one ``searchd`` run without its watchdog
(``watchdog = 0``), so the pid in its pid file is the process that serves: a SIGKILL to it
takes the node down. ``start`` returns once every node answers a query.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pymysql

from ...errors import IndexUnavailableError, VeilleError
from .config import GENERATIONS, Cluster, Node
from .terms import row_parts

T = TypeVar("T")
CONNECT_TIMEOUT = 1.0
# A node that failed is not asked again for this long (unless no other replica answers).
DOWN_SECONDS = 2.0
# A query's wait for a node's answer: past it the node is taken for hung (a searchd
# stopped but still accepting connections) and left alone longer, its replica asked.
QUERY_TIMEOUT = 10.0
HUNG_SECONDS = 30.0


class NodeError(IndexUnavailableError):
    """A node did not answer, or answered with an error; ``hung`` if it let a query's wait
    run out (it accepts connections, it does not answer)."""

    def __init__(self, message: str, hung: bool = False) -> None:
        super().__init__(message)
        self.hung = hung


class WrongNodeError(NodeError):
    """A node answers at an address with another shard's rows."""


class ClusterUnavailableError(IndexUnavailableError):
    """No replica of a shard answers: the cluster cannot give a complete answer."""

    def __init__(self, message: str, shard: int) -> None:
        super().__init__(message)
        self.shard = shard


class QueryError(VeilleError):
    """A node refused a query (its index is not the one Veille writes, say)."""


NETWORK_ERRORS = (pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError)
QUERY_ERRORS = (pymysql.err.ProgrammingError, pymysql.err.InternalError)


def connect(node: Node, timeout: float = 30.0) -> pymysql.Connection:
    """A SphinxQL connection to a node (NodeError naming it if it does not answer)."""
    try:
        conn = pymysql.connect(
            host=node.host,
            port=node.port,
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=timeout,
            write_timeout=timeout,
            autocommit=True,
            charset="utf8",
            # Strings compare byte by byte, as Veille orders article ids (a date sort's
            # ties) and groups facet values, not by the node's default case-blind
            # collation (which counted "Le Marin" and "LE MARIN" as one source).
            init_command="SET collation_connection = binary",
        )
    except NETWORK_ERRORS as e:
        hung = "timed out" in str(e)
        raise NodeError(f"{node.name} does not answer ({_reason(e)})", hung=hung) from None
    try:
        _check_shard(conn, node)
    except BaseException:
        conn.close()
        raise
    return conn


def _check_shard(conn: pymysql.Connection, node: Node) -> None:
    """Refuse a node whose rows are another shard's (a port of cluster.toml that names
    another node of the cluster): it would answer, and be written, as this shard."""
    for generation in GENERATIONS:
        try:
            with conn.cursor() as cur:
                cur.execute(f"SELECT id FROM veille_{generation} LIMIT 1")
                row = cur.fetchone()
        except QUERY_ERRORS:  # no such index on this node (not this cluster's)
            continue
        except NETWORK_ERRORS as e:
            raise NodeError(f"{node.name} does not answer ({_reason(e)})") from None
        if row is not None and row_parts(int(row[0]))[2] != node.shard:
            raise WrongNodeError(
                f"{node.name} holds the rows of shard {row_parts(int(row[0]))[2]}, not of "
                f"shard {node.shard}: does cluster.toml give another node's port?"
            )


def _reason(error: Exception) -> str:
    args = getattr(error, "args", ())
    if len(args) >= 2 and isinstance(args[1], str):
        return args[1].split("(")[0].strip() or str(error)
    return str(error) or type(error).__name__


class Pool:
    """Connections to a cluster's nodes, reused by the threads of a backend.

    ``run(shard, fn)`` calls ``fn(cursor)`` on one replica of the shard, in turn, trying
    the next replica when one fails; a failed node is skipped for a while, and a stale one
    (it missed a write: ``avoid``) is asked only when no other replica answers.
    """

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._idle: dict[Node, queue.SimpleQueue] = {n: queue.SimpleQueue() for n in cluster.nodes}
        self._down: dict[Node, float] = {}
        self._turns = [0] * cluster.shards  # each shard's own turn: its replicas share it
        self._stale: frozenset[str] = frozenset()
        self._lock = threading.Lock()
        self._closed = False

    def avoid(self, addresses: Collection[str]) -> None:
        """Ask these nodes (addresses) last: they missed a write the others have."""
        self._stale = frozenset(addresses)

    def _order(self, shard: int) -> list[Node]:
        nodes = self.cluster.shard_nodes(shard)
        with self._lock:
            self._turns[shard] += 1
            turn = self._turns[shard]
        nodes = nodes[turn % len(nodes) :] + nodes[: turn % len(nodes)]
        now = time.monotonic()
        up = [n for n in nodes if self._down.get(n, 0.0) <= now]
        fresh = [n for n in up if n.address not in self._stale]
        return fresh + [n for n in up if n not in fresh] + [n for n in nodes if n not in up]

    @contextlib.contextmanager
    def cursor(self, node: Node) -> Iterator:
        try:
            conn = self._idle[node].get_nowait()
        except queue.Empty:
            conn = connect(node, timeout=QUERY_TIMEOUT)
        try:
            with conn.cursor() as cur:
                yield cur
        except BaseException:
            with contextlib.suppress(Exception):
                conn.close()
            raise
        if self._closed:
            conn.close()
        else:
            self._idle[node].put(conn)

    def on_node(self, node: Node, fn: Callable[..., T]) -> T:
        """``fn(cursor)`` on this node; NodeError naming it on a failure."""
        try:
            with self.cursor(node) as cur:
                result = fn(cur)
        except NodeError as e:
            self._down[node] = time.monotonic() + (HUNG_SECONDS if e.hung else DOWN_SECONDS)
            raise
        except NETWORK_ERRORS as e:
            hung = "timed out" in str(e)
            self._down[node] = time.monotonic() + (HUNG_SECONDS if hung else DOWN_SECONDS)
            raise NodeError(f"{node.name} failed ({_reason(e)})", hung=hung) from None
        except QUERY_ERRORS as e:  # the same on every replica: not one to retry
            raise QueryError(f"{node.name} refused a query: {e.args[-1]}") from None
        self._down.pop(node, None)
        return result

    def run(self, shard: int, fn: Callable[..., T]) -> T:
        """``fn(cursor)`` on the first replica of the shard that answers."""
        failures = []
        for node in self._order(shard):
            try:
                return self.on_node(node, fn)
            except NodeError as e:
                failures.append(str(e))
        raise ClusterUnavailableError(
            f"shard {shard} of {self.cluster.path} is unavailable: " + "; ".join(failures), shard
        )

    def close(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            while True:
                try:
                    conn = idle.get_nowait()
                except queue.Empty:
                    break
                with contextlib.suppress(Exception):
                    conn.close()


# --- processes --------------------------------------------------------------------------


def node_pid(node: Node) -> int | None:
    """The pid of the node's searchd if it is running (from its pid file), else None."""
    try:
        pid = int(node.pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) and _runs_node(pid, node) else None


def _runs_node(pid: int, node: Node) -> bool:
    """Whether the process is this node's searchd: a pid file left by a killed node may
    name a pid another process took since (never to be stopped in its place)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            args = f.read().decode("utf-8", "replace").split("\0")
    except OSError:
        return True  # no /proc to tell: the pid file is trusted, as searchd writes it
    for arg in args[1:]:  # its config, as it was given (relative to where it started)
        with contextlib.suppress(OSError):
            if os.path.samefile(os.path.join(f"/proc/{pid}/cwd", arg), node.config_file):
                return True
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a dead process its parent has not reaped yet is not a running node
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def answers(node: Node) -> bool:
    try:
        conn = connect(node, timeout=2.0)
    except NodeError:
        return False
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW STATUS")
            cur.fetchall()
        return True
    except NETWORK_ERRORS + QUERY_ERRORS:
        return False
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def _searchd() -> str:
    found = shutil.which("searchd") or shutil.which("searchd", path="/usr/bin:/usr/sbin")
    if found is None:
        raise NodeError("searchd is not installed (Debian: apt-get install sphinxsearch)")
    return found


def start_node(node: Node, timeout: float = 60.0) -> int:
    """Start the node's searchd (it daemonizes); returns its pid once it answers."""
    if not node.config_file.exists():
        raise NodeError(f"{node.name}: no {node.config_file}: run `veille cluster init`")
    if (pid := node_pid(node)) is not None:
        return _answering(node, pid, timeout=min(timeout, 10.0))
    try:
        return _run_searchd(node, timeout)
    except _LostBinlog:
        # Killed just after saving its RAM chunks, Sphinx 2.2.11 can leave its binlog index
        # naming a log it has already removed, and then refuses to start: that log holds
        # nothing left to replay, so the index is set aside (a replica that did lose writes
        # shows as stale to `veille cluster status`).
        meta = node.folder / "binlog" / "binlog.meta"
        meta.replace(meta.with_name("binlog.meta.lost"))
        return _run_searchd(node, timeout)


def _answering(node: Node, pid: int, timeout: float) -> int:
    """The pid of a node already running, once it answers (it may be starting)."""
    deadline = time.monotonic() + timeout
    while not answers(node):
        if time.monotonic() > deadline or not _alive(pid):
            raise NodeError(
                f"{node.name}: searchd runs (pid {pid}) but does not answer at {node.address}: "
                "is that its port in cluster.toml?"
            )
        time.sleep(0.1)
    return pid


class _LostBinlog(Exception):
    """searchd refused to start: its binlog index names a log that is not there."""


def _run_searchd(node: Node, timeout: float) -> int:
    log = node.folder / "searchd.log"
    seen = log.stat().st_size if log.exists() else 0
    run = subprocess.run(
        [_searchd(), "--config", str(node.config_file)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=node.folder,
    )
    if run.returncode != 0:
        lines = [x for x in (run.stderr + run.stdout).splitlines() if "FATAL" in x or "ERROR" in x]
        raise NodeError(f"{node.name}: searchd did not start: {(lines or ['?'])[-1].strip()}")
    # The daemon writes its pid file, replays its binlog, then answers; it reports a
    # failure after it has left the command: in its log.
    started, had_pid = time.monotonic(), False
    while True:
        pid = node_pid(node)
        fatal = [line for line in _log_since(log, seen) if "FATAL:" in line]
        if fatal and "binlog: log open error" in fatal[-1] and "No such file" in fatal[-1]:
            raise _LostBinlog(fatal[-1])
        if fatal:
            raise NodeError(f"{node.name}: searchd did not start: {fatal[-1].strip()}")
        if pid is not None and answers(node):
            return pid
        had_pid |= pid is not None
        waited = time.monotonic() - started
        if pid is None and (had_pid or waited > 10):
            stopped = f"searchd stopped; see {log}" if had_pid else "searchd wrote no pid file"
            raise NodeError(f"{node.name}: {stopped} ({node.pid_file})")
        if waited > timeout:
            raise NodeError(f"{node.name} does not answer after {timeout:.0f} s")
        time.sleep(0.05)


def _log_since(log: Path, offset: int) -> list[str]:
    """The lines written to a log past this offset."""
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace").replace("\0", "").splitlines()
    except OSError:
        return []


def check_own_nodes(cluster: Cluster) -> None:
    """NodeError if a searchd this cluster did not start answers at one of its addresses on
    this machine: another cluster's (a copied cluster.toml, two clusters given the same
    ports), whose index a write would overwrite; or if a node answers with another
    shard's rows, or two nodes share an address (a port mistyped in cluster.toml)."""
    if len({n.address for n in cluster.nodes}) < len(cluster.nodes):
        raise NodeError(
            "two nodes of cluster.toml have one address; nothing was written: give each "
            "node its own port"
        )
    for node in cluster.nodes:
        # A node on another machine (systemd there) has no pid file here to tell by.
        local = node.host in ("localhost", "::1") or node.host.startswith("127.")
        if local and node_pid(node) is None and answers(node):
            raise NodeError(
                f"{node.name}: a searchd this cluster did not start answers at {node.address} "
                f"(another cluster's node?); nothing was written: start this cluster's nodes "
                "(veille cluster start), or give it other ports (veille cluster init)"
            )
        try:
            with contextlib.closing(connect(node, timeout=CONNECT_TIMEOUT)):
                pass
        except WrongNodeError as e:
            raise WrongNodeError(f"{e}; nothing was written") from None
        except NodeError:
            pass  # a node down: the write goes to the others, and names it


def start_cluster(cluster: Cluster, timeout: float = 60.0) -> list[int]:
    """Start every node; return once every node answers a query (their pids)."""
    return [start_node(node, timeout) for node in cluster.nodes]


def stop_node(node: Node, timeout: float = 30.0) -> bool:
    """Stop the node's searchd (SIGTERM, then SIGKILL); False if it was not running."""
    pid = node_pid(node)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    return True


def stop_cluster(cluster: Cluster) -> int:
    """Stop every node; returns how many were running."""
    return sum(stop_node(node) for node in cluster.nodes)


@dataclass(frozen=True)
class NodeStatus:
    shard: int
    replica: int
    address: str
    pid: int | None
    # "up", "down" (not running), "not answering", "stale" (disagrees), "wrong shard" (its
    # address answers with another shard's rows)
    state: str
    articles: int | None

    def to_dict(self) -> dict:
        return {
            "shard": self.shard,
            "replica": self.replica,
            "address": self.address,
            "pid": self.pid,
            "state": self.state,
            "articles": self.articles,
        }


def _articles_on(node: Node, index: str | None) -> int | None:
    if index is None:
        return 0
    try:
        conn = connect(node, timeout=5.0)
    except WrongNodeError:
        raise
    except NodeError:
        return None
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM {index} WHERE lead=1")
            return int(cur.fetchall()[0][0])
    except NETWORK_ERRORS + QUERY_ERRORS:
        return None
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def cluster_status(
    cluster: Cluster,
    index: str | None,
    expected: dict[int, int] | None = None,
    unmarked: Collection[str] = (),
) -> list[NodeStatus]:
    """Each node: its pid, whether it answers, how many articles its live index holds.

    A replica holding another count of articles than Veille's catalog says its shard holds
    (``expected``), or than its shard's other replicas, or that missed a write the
    statistics remember (``unmarked``: addresses; an article's rows, its copies' mark), is
    "stale" (run the same `veille add` again, or `veille build`).
    """
    found = []
    for node in cluster.nodes:
        pid = node_pid(node)
        try:
            articles = _articles_on(node, index) if pid is not None else None
        except WrongNodeError:  # its port is another node's: its count is not this shard's
            found.append([node, pid, "wrong shard", None])
            continue
        state = "down" if pid is None else ("up" if articles is not None else "not answering")
        found.append([node, pid, state, articles])
    for shard in range(cluster.shards):
        counts = [f[3] for f in found if f[0].shard == shard and f[3] is not None]
        if expected is not None or len(set(counts)) > 1:
            most = max(set(counts), key=lambda c: (counts.count(c), c), default=0)
            most = expected.get(shard, 0) if expected is not None else most
            for f in found:
                if f[0].shard == shard and f[3] is not None and f[3] != most:
                    f[2] = "stale"
    for f in found:
        if f[0].address in unmarked and f[3] is not None:
            f[2] = "stale"
    return [
        NodeStatus(n.shard, n.replica, n.address, pid, state, articles)
        for n, pid, state, articles in found
    ]
