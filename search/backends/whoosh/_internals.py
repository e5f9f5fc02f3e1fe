"""Every private part of whoosh that Veille relies on, in one module, checked at import.

Veille reads whoosh's postings blocks, field-length columns and numeric columns directly
(numpy, a block at a time, instead of whoosh's per-posting Python generators) and writes
whoosh's term-info records itself (``segments.py``). These are not whoosh's public API, so
this module names each of them, checks at import that whoosh still has them (on a tiny
in-memory index) and raises WhooshInternalsError naming what changed: never a silent
fallback to a slower or different path.
"""

from __future__ import annotations

from array import array

import numpy as np
import whoosh
from whoosh import fields
from whoosh.codec import whoosh3
from whoosh.columns import NumericColumn
from whoosh.filedb.filestore import RamStorage
from whoosh.matching.wrappers import FilterMatcher
from whoosh.util.numeric import byte_to_length

from ...errors import VeilleError

SUPPORTED_VERSIONS = ((2, 7),)


class WhooshInternalsError(VeilleError):
    """The installed whoosh lacks a private part Veille relies on."""


def _fail(what: str) -> WhooshInternalsError:
    return WhooshInternalsError(
        f"whoosh {whoosh.versionstring()} does not have {what}, which Veille reads directly; "
        "install the pinned version (pip install -e .)"
    )


# The byte whoosh stores a field length as, decoded once.
LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float32)
TERMINFO_FORMAT = "!BfIBBfII"  # W3TermInfo's record: what segments.py writes


def field_lengths(leaf, field: str, count: int) -> np.ndarray | None:
    """A segment's lengths of a field, one a document (None if it keeps none)."""
    perdoc = leaf._perdoc
    name = whoosh3._lenfield(field)
    if not perdoc.has_column(name):
        return None
    column = perdoc.column_reader(name, whoosh3.LENGTHS_COLUMN)
    return LENGTH_OF_BYTE[numeric_column(column, count)]


def numeric_column(column, count: int) -> np.ndarray:
    """The ``count`` values of a whoosh numeric column, read at once.

    The column is the values packed big-endian, then the default for the documents after
    the last one written (whoosh's NumericColumn layout).
    """
    if not isinstance(column, NumericColumn.Reader):
        raise _fail(f"a NumericColumn reader (got {type(column).__name__})")
    stored = min(column._count, count)
    raw = column._dbfile.get(column._basepos, stored * column._fixedlen)
    packed = np.dtype(">" + column._typecode)
    values = np.frombuffer(raw, dtype=packed).astype(packed.newbyteorder("="))
    if stored < count:
        rest = np.full(count - stored, column._default, dtype=values.dtype)
        values = np.concatenate([values, rest])
    return values


def read_postings(matcher) -> tuple[np.ndarray, np.ndarray]:
    """All (document number, weight) postings of a term, a block at a time.

    Deleted documents are not filtered here: the caller drops them with its live mask.
    """
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child
    if not isinstance(matcher, whoosh3.W3LeafMatcher):
        raise _fail(f"W3LeafMatcher postings (got {type(matcher).__name__})")
    # A block's data is (id deltas from the block's start, weights, values).
    ids, weights = [], []
    while matcher.is_active():
        if matcher._data is None:
            matcher._read_data()
        deltas, block_weights, _ = matcher._data
        n = len(deltas)
        ids.append(np.cumsum(_numbers(deltas, np.int64)))
        if block_weights is None:
            weights.append(np.ones(n, dtype=np.float32))
        elif isinstance(block_weights, float):
            weights.append(np.full(n, block_weights, dtype=np.float32))
        else:
            weights.append(_numbers(block_weights, np.float32))
        matcher._next_block()
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    return np.concatenate(ids), np.concatenate(weights)


def _numbers(values, dtype) -> np.ndarray:
    """A block's numbers as an array: whoosh's writer pickles tuples, segments.py arrays."""
    if isinstance(values, array):
        # numpy reads array's typecodes as the same C types.
        return np.frombuffer(values, dtype=values.typecode).astype(dtype)
    return np.fromiter(values, dtype=dtype, count=len(values))


def _check() -> None:
    """Read a tiny in-memory index through every function above, or fail clearly."""
    if whoosh.__version__[:2] not in SUPPORTED_VERSIONS:
        raise _fail("the version Veille was written for (2.7)")
    if getattr(getattr(whoosh3.W3TermInfo, "_struct", None), "format", None) != TERMINFO_FORMAT:
        raise _fail(f"W3TermInfo records of layout {TERMINFO_FORMAT}")
    for owner, name in (
        (whoosh3, "_lenfield"),
        (whoosh3, "LENGTHS_COLUMN"),
        (whoosh3.W3LeafMatcher, "_read_data"),
        (whoosh3.W3LeafMatcher, "_next_block"),
    ):
        if not hasattr(owner, name):
            raise _fail(f"{getattr(owner, '__name__', owner)}.{name}")
    schema = fields.Schema(text=fields.TEXT(), n=fields.NUMERIC(sortable=True))
    ix = RamStorage().create_index(schema)
    with ix.writer() as writer:
        writer.add_document(text="un deux deux", n=7)
        writer.add_document(text="deux", n=9)
    with ix.reader() as reader:
        try:
            ids, weights = read_postings(reader.postings("text", "deux"))
            lengths = field_lengths(reader, "text", 2)
            values = numeric_column(reader.column_reader("n", translate=False), 2)
        except AttributeError as e:
            raise _fail(f"the attribute {e.name!r}") from None
    if ids.tolist() != [0, 1] or weights.tolist() != [2.0, 1.0]:
        raise _fail("postings blocks of (deltas, weights, values)")
    if lengths is None or lengths.tolist() != [3.0, 1.0] or len(values) != 2:
        raise _fail("field lengths and numeric columns as Veille reads them")


_check()
