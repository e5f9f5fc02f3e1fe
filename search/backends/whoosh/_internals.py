"""Every private part of whoosh that Veille relies on, in one module, checked at import.

Veille reads whoosh's postings blocks, field-length columns and numeric columns directly
(numpy, a block at a time, instead of whoosh's per-posting Python generators); it writes
whoosh's term-info records and postings blocks itself (``segments.py``), and has whoosh's
own writer write the same blocks (``ArrayBlocksCodec``). These are not whoosh's public API, so
this module names each of them, checks at import that whoosh still has them (on a tiny
in-memory index) and raises WhooshInternalsError naming what changed: never a silent
fallback to a slower or different path.
"""

from __future__ import annotations

import operator
import pickle
import zlib
from array import array

import numpy as np
import whoosh
from whoosh import fields
from whoosh.codec import whoosh3
from whoosh.columns import NumericColumn
from whoosh.filedb.filestore import RamStorage
from whoosh.matching.wrappers import FilterMatcher
from whoosh.system import pack_int
from whoosh.util.numeric import byte_to_length, length_to_byte

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


_COMPRESSION = 3  # zlib level, as W3Codec writes them
_COMPRESS_FROM = 64  # bytes of pickled block
_PICKLE_PROTOCOL = 4


def encode_block(ids, weights: array, mini_values) -> tuple[bytes, int]:
    """A postings block's data, (id deltas, weights, values) pickled, compressed when it
    pays; and its compression level.

    The deltas and weights go as arrays, pickled with protocol 4 (whoosh's readers unpickle
    any protocol and take any sequence): they unpickle as two buffers instead of a Python
    number a posting, and protocol 4 keeps a position field's values as plain bytes where
    whoosh's protocol 2 rebuilds each through a codecs call.
    """
    deltas = array("I", map(operator.sub, ids, [0, *ids[:-1]]))
    lightest = min(weights)
    if lightest != max(weights):
        mini_weights = weights
    elif lightest == 1.0:
        mini_weights = None
    else:
        mini_weights = weights[0]
    data = pickle.dumps((deltas, mini_weights, mini_values), _PICKLE_PROTOCOL)
    # zlib makes a short block longer (and whoosh meant to leave those as they are:
    # the block records its compression, and readers follow it).
    compression = _COMPRESSION if len(data) >= _COMPRESS_FROM else 0
    return (zlib.compress(data, compression) if compression else data), compression


def block_info(
    count: int,
    last_id: int,
    max_weight: float,
    compression: int,
    min_length: int | None,
    max_length: int,
) -> bytes:
    """A block's header, which whoosh reads to skip blocks without decoding them."""
    return pickle.dumps(
        (
            count,
            last_id,
            max_weight,
            compression,
            length_to_byte(min_length),
            length_to_byte(max_length),
        ),
        2,
    )


class _ArrayBlocksWriter(whoosh3.W3PostingsWriter):
    """whoosh's postings writer, writing its blocks as ``encode_block`` does (at its zlib
    level, whatever the codec's: every block of an index is compressed alike)."""

    def _write_block(self, last: bool = False) -> None:
        if self._byteids:  # a term vector's blocks, which Veille does not keep: as whoosh's
            return super()._write_block(last)
        if not self._blockcount:
            self._postfile.write(whoosh3.WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        ids = self._ids
        data, compression = encode_block(ids, array("f", self._weights), self._mini_values())
        info = block_info(
            len(ids), ids[-1], self._maxweight, compression, self._minlength, self._maxlength
        )
        size = len(info) + len(data)
        self._postfile.write(pack_int(-size if last else size))
        self._postfile.write(info)
        self._postfile.write(data)
        self._blockcount += 1
        self._new_block()


class ArrayBlocksCodec(whoosh3.W3Codec):
    """whoosh's codec for its own writer (updates, merges, optimize), writing postings in
    the blocks ``segments.py`` writes. Its segments name a plain W3Codec, which reads any
    block: an index opens without this class."""

    def postings_writer(self, dbfile, byteids=False):
        return _ArrayBlocksWriter(
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
        )

    def new_segment(self, storage, indexname):
        plain = whoosh3.W3Codec(self._blocklimit, self._compression, self._inlinelimit)
        return whoosh3.W3Segment(plain, indexname)


def _numbers(values, dtype) -> np.ndarray:
    """A block's numbers as an array: whoosh's default codec pickles tuples (indexes
    written before Veille's blocks), ``encode_block`` arrays."""
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
    for owner, name in (
        (whoosh3.W3PostingsWriter, "_write_block"),
        (whoosh3.W3PostingsWriter, "_new_block"),
        (whoosh3.W3PostingsWriter, "_mini_values"),
    ):
        if not hasattr(owner, name):
            raise _fail(f"{owner.__name__}.{name}")
    schema = fields.Schema(
        text=fields.TEXT(), exact=fields.TEXT(phrase=True), n=fields.NUMERIC(sortable=True)
    )
    read = []
    for codec in (None, ArrayBlocksCodec(blocklimit=2)):
        ix = RamStorage().create_index(schema)
        try:
            with ix.writer(codec=codec) as writer:
                writer.add_document(text="un deux deux", exact="un deux deux", n=7)
                writer.add_document(text="deux", exact="deux", n=9)
                writer.add_document(text="trois deux", exact="trois deux", n=5)
            with ix.reader() as reader:
                ids, weights = read_postings(reader.postings("text", "deux"))
                lengths = field_lengths(reader, "text", 3)
                values = numeric_column(reader.column_reader("n", translate=False), 3)
                positions = list(reader.postings("exact", "deux").items_as("positions"))
        except AttributeError as e:
            raise _fail(f"the attribute {e.name!r}") from None
        read.append(positions)
        if ids.tolist() != [0, 1, 2] or weights.tolist() != [2.0, 1.0, 1.0]:
            raise _fail("postings blocks of (deltas, weights, values)")
        if lengths is None or lengths.tolist() != [3.0, 1.0, 2.0] or len(values) != 3:
            raise _fail("field lengths and numeric columns as Veille reads them")
    if read[0] != read[1] or read[0] != [(0, [1, 2]), (1, [0]), (2, [1])]:
        raise _fail("postings written by a W3PostingsWriter with its own blocks")


_check()
