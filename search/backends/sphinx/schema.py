"""The columns of a node's index, and the check that a node serves the schema Veille writes."""

from __future__ import annotations

import contextlib

from ...errors import IndexVersionError
from .config import ATTRIBUTES, FIELDS, Cluster
from .nodes import NETWORK_ERRORS, QUERY_ERRORS, NodeError, connect

COLUMNS = ("id", *FIELDS, *(name for name, _ in ATTRIBUTES))
_TYPES = {"uint": "uint", "bigint": "bigint", "string": "string", "json": "json"}


def insert_sql(index: str) -> str:
    """REPLACE of a row: its id, fields and attributes (REPLACE: writing again is harmless)."""
    marks = ", ".join(["%s"] * len(COLUMNS))
    return f"REPLACE INTO {index} ({', '.join(COLUMNS)}) VALUES ({marks})"


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
                "not this version's: run `veille cluster init` again and restart the cluster"
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
                f"{node.name} serves an index of another schema: run `veille cluster init` "
                "again, restart the cluster and `veille build`"
            )
