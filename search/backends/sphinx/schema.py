"""The columns of a node's index, and the check that a node serves the schema Veille writes."""

from __future__ import annotations

import contextlib

from ...errors import IndexVersionError
from .config import ATTRIBUTES, FIELDS, Cluster
from .nodes import NETWORK_ERRORS, QUERY_ERRORS, NodeError, connect

COLUMNS = ("id", *FIELDS, *(name for name, _ in ATTRIBUTES))
_TYPES = {"uint": "uint", "bigint": "bigint", "string": "string", "json": "json"}


# What a string literal escapes, backslashes first. SphinxQL reads \\n and \\r as MySQL does,
# but MySQL's \\Z as Z (a Ctrl-Z goes as it is) and \\0 as 0: a NUL cannot go as it is (it
# ends the statement), so it would be read back as 0; an Article holds none (corpus.py).
_ESCAPES = (("\\", "\\\\"), ("'", "\\'"), ("\0", "\\0"), ("\n", "\\n"), ("\r", "\\r"))
# Characters a statement holds at most: a few MB of UTF-8, well under the nodes'
# max_packet_size (config.py).
_STATEMENT_CHARS = 1_000_000


def _literal(value: object) -> str:
    if isinstance(value, str):
        for special, escaped in _ESCAPES:  # a few scans of the string: faster than translate
            value = value.replace(special, escaped)
        return "'" + value + "'"
    return str(int(value))  # type: ignore[call-overload]


def insert_statements(index: str, rows: list[tuple]) -> list[str]:
    """REPLACE statements of these rows (REPLACE: writing again is harmless), a few
    hundred rows each, built once whatever the replicas they are sent to."""
    head = f"REPLACE INTO {index} ({', '.join(COLUMNS)}) VALUES "
    statements: list[str] = []
    values: list[str] = []
    size = 0
    for row in rows:
        value = "(" + ",".join(map(_literal, row)) + ")"
        if values and size + len(value) > _STATEMENT_CHARS:
            statements.append(head + ",".join(values))
            values, size = [], 0
        values.append(value)
        size += len(value) + 1
    if values:
        statements.append(head + ",".join(values))
    return statements


def expected() -> list[tuple[str, str]]:
    return [
        ("id", "bigint"),
        *((f, "field") for f in FIELDS),
        *((n, _TYPES[k]) for n, k in ATTRIBUTES),
    ]


def check_schema(cluster: Cluster, index: str, strict: bool = True) -> None:
    """IndexVersionError if a node's index has other columns than this version writes;
    NodeError if a node does not answer (unless not ``strict``: an update goes on)."""
    want = expected()
    for node in cluster.nodes:
        try:
            conn = connect(node, timeout=10)
        except NodeError:
            if strict:
                raise
            continue
        try:
            with conn.cursor() as cur:
                cur.execute(f"DESCRIBE {index}")
                found = [(str(name), str(kind)) for name, kind, *_ in cur.fetchall()]
        except QUERY_ERRORS as e:
            raise IndexVersionError(
                f"{node.name} has no index {index} ({e.args[-1]}): its searchd config is "
                "not this version's: stop the cluster, make one in another folder (`veille "
                "cluster init --dir NEW`), start it and `veille build` it"
            ) from None
        except NETWORK_ERRORS as e:
            if strict:
                raise NodeError(f"{node.name} failed ({e})") from None
            continue
        finally:
            with contextlib.suppress(Exception):
                conn.close()
        if sorted(found) != sorted(want):
            raise IndexVersionError(
                f"{node.name} serves an index of another schema: stop the cluster, make one in "
                "another folder (`veille cluster init --dir NEW`), start it and `veille build` it"
            )
