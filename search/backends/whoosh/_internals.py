"""Every private part of whoosh that Veille relies on, in one module, checked at import.

Veille reads whoosh's postings blocks, field-length columns and numeric columns directly
(numpy, a block at a time, instead of whoosh's per-posting Python generators); it writes
whoosh's term-info records and postings blocks itself (``segments.py``), and has whoosh's
own writer write the same blocks (``ArrayBlocksCodec``); it reads compound segments in
place from a memory map (``MappedStorage``); and its AndNot matcher is mended (``AndNot``).
These are not whoosh's public API, so
this module names each of them, checks at import that whoosh still has them (on a tiny
in-memory index) and raises WhooshInternalsError naming what changed: never a silent
fallback to a slower or different path.
"""

from __future__ import annotations

import itertools
import mmap
import operator
import os
import pickle
import threading
import zlib
from array import array

import numpy as np
import whoosh
from whoosh import fields, scoring
from whoosh import query as wq
from whoosh.codec import whoosh3
from whoosh.codec.base import Segment
from whoosh.columns import EmptyColumnReader, NumericColumn, VarBytesColumn
from whoosh.filedb.compound import CompoundStorage
from whoosh.filedb.filestore import FileStorage, RamStorage
from whoosh.filedb.structfile import BufferFile
from whoosh.matching.binary import AndNotMatcher
from whoosh.matching.wrappers import FilterMatcher
from whoosh.system import _INT_SIZE, pack_int
from whoosh.util.numeric import byte_to_length, length_to_byte

from ...errors import IndexDamagedError, VeilleError

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


def bytes_column(column, count: int) -> list[bytes]:
    """The ``count`` values of a whoosh bytes column (an ID or text field's), read at once.

    The column is the values end to end, then their lengths (whoosh's VarBytesColumn
    layout); a segment without the column reads its default for every document.
    """
    if isinstance(column, EmptyColumnReader):
        return list(column)
    if not isinstance(column, VarBytesColumn.Reader):
        raise _fail(f"a VarBytesColumn reader (got {type(column).__name__})")
    lengths = column._lengths
    if len(lengths) != count:
        raise _fail(f"a VarBytesColumn of one length a document ({len(lengths)} for {count})")
    raw = column._dbfile.get(column._basepos, sum(lengths))
    ends = list(itertools.accumulate(lengths))
    return [raw[start:end] for start, end in zip([0, *ends][:-1], ends, strict=True)]


def read_postings(matcher) -> tuple[np.ndarray, np.ndarray]:
    """All (document number, weight) postings of a term, a block at a time.

    Deleted documents are not filtered here: the caller drops them with its live mask.
    """
    ids, weights, _ = _read_blocks(matcher, values=False)
    return ids, weights


def read_postings_values(matcher) -> tuple[np.ndarray, np.ndarray, list[bytes]]:
    """All (document number, weight, value) postings of a term whose values vary in size
    (a phrase field's encoded positions), a block at a time; deleted documents included."""
    return _read_blocks(matcher, values=True)


def _read_blocks(matcher, values: bool) -> tuple[np.ndarray, np.ndarray, list]:
    if isinstance(matcher, FilterMatcher):
        matcher = matcher.child
    if not isinstance(matcher, whoosh3.W3LeafMatcher):
        raise _fail(f"W3LeafMatcher postings (got {type(matcher).__name__})")
    if values and matcher._fixedsize is not None and matcher._fixedsize >= 0:
        raise _fail("postings values of varying size (positions)")
    # A block's data is (id deltas from the block's start, weights, values).
    ids, weights, found = [], [], []
    while matcher.is_active():
        if matcher._data is None:
            matcher._read_data()
        deltas, block_weights, block_values = matcher._data
        n = len(deltas)
        ids.append(np.cumsum(_numbers(deltas, np.int64)))
        if block_weights is None:
            weights.append(np.ones(n, dtype=np.float32))
        elif isinstance(block_weights, float):
            weights.append(np.full(n, block_weights, dtype=np.float32))
        else:
            weights.append(_numbers(block_weights, np.float32))
        if values:
            found.extend(block_values)
        matcher._next_block()
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32), found
    return np.concatenate(ids), np.concatenate(weights), found


def decode_positions(value: bytes) -> list[int]:
    """A posting's positions, as ``formats.Positions`` encodes them: a count, then the
    gaps between positions pickled (its trailing stop byte may have been left off)."""
    if value[-1:] != b".":
        value += b"."
    return list(itertools.accumulate(pickle.loads(value[_INT_SIZE:])))


def bm25_weights(scorer, weights: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A term's BM25F scores for postings of these weights in fields of these lengths, as
    its whoosh scorer gives them one at a time."""
    if not isinstance(scorer, scoring.BM25FScorer):
        raise _fail(f"BM25F scorers (got {type(scorer).__name__})")
    return scorer._score(weights.astype(np.float64), lengths.astype(np.float64))


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


_PEEK = 4096  # bytes a peek returns at most: pickle asks for 128 KiB
_TOC_EXT = ".toc"  # whoosh's table of contents: read once, at open


class _ViewReader:
    """A read-only file over a memoryview, read in place (``io.BytesIO`` copies its bytes),
    each thread from its own position: whoosh reads a postings block's header by a seek
    then reads, and threads share a reader. Reads and seeks behave as ``BytesIO``'s."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._local = threading.local()

    def _span(self, size: int | None) -> tuple[int, int]:
        start = min(self.tell(), len(self._view))
        if size is None or size < 0:
            return start, len(self._view)
        return start, min(start + operator.index(size), len(self._view))

    def read(self, size: int | None = -1) -> bytes:
        start, end = self._span(size)
        if end > start:
            self._local.position = end
        return self._view[start:end].tobytes()

    def peek(self, size: int = 0) -> bytes:
        """Bytes from the position, which stays: pickle parses a block's header from one
        peek instead of reading it byte by byte."""
        start, end = self._span(min(max(size, 1), _PEEK))
        return self._view[start:end].tobytes()

    def readinto(self, buffer) -> int:
        target = memoryview(buffer).cast("B")
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        start, end = self._span(size)
        for chunk in range(start, end, _PEEK):
            newline = self._view[chunk : min(chunk + _PEEK, end)].tobytes().find(b"\n")
            if newline >= 0:
                return self.read(chunk + newline + 1 - start)
        return self.read(end - start)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        offset = operator.index(offset)
        if whence == os.SEEK_SET:
            if offset < 0:
                raise ValueError(f"negative seek position {offset}")
        elif whence == os.SEEK_CUR:
            offset = max(0, self.tell() + offset)
        elif whence == os.SEEK_END:
            offset = max(0, len(self._view) + offset)
        else:
            raise ValueError(f"invalid whence ({whence}, should be 0, 1 or 2)")
        self._local.position = offset
        return offset

    def tell(self) -> int:
        return getattr(self._local, "position", 0)

    def close(self) -> None:
        """Nothing to release: the map lives as long as a view of it."""


class _MappedFile(BufferFile):
    """whoosh's in-memory file, over a view of mapped bytes instead of a copy of them.

    whoosh's ``BufferFile`` reads a segment through a ``BytesIO`` copy of it, so every
    reader held the whole index in its own memory; this one reads the mapped file's pages,
    which the operating system shares between readers and processes and may drop. Positional
    reads (``get``) slice the view as ``BufferFile``'s do; a compound segment's files
    (``subset``) are views of the same map.
    """

    def __init__(self, view: memoryview, name: str | None = None) -> None:
        self._buf = view
        self._name = name
        self.file = _ViewReader(view)
        self.onclose = None
        self.is_real = False
        self.is_closed = False

    def subset(self, position: int, length: int, name: str | None = None) -> _MappedFile:
        return _MappedFile(self._buf[position : position + length], name=name or self._name)


class MappedStorage(FileStorage):
    """An index folder opened for reading, its compound segments mapped and read in place.

    A segment is mapped when its reader opens it: a writer that later replaces the file
    does not change what the reader sees.
    """

    def __init__(self, path: str) -> None:
        # No whoosh mmap: CompoundStorage then takes its files from ``_MappedFile.subset``.
        super().__init__(path, supports_mmap=False, readonly=True)

    def open_file(self, name: str, **kwargs) -> BufferFile:
        if name.endswith(_TOC_EXT):
            return super().open_file(name, **kwargs)
        if not name.endswith(Segment.COMPOUND_EXT):
            # Segment files apart would be read through one shared position per file, and
            # opened lazily, after a writer may have deleted them.
            raise IndexDamagedError(
                f"index segment file {name} is not a compound segment, which Veille "
                "writes: run `veille build` to rebuild the index"
            )
        with open(self._fpath(name), "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise IndexDamagedError(f"index segment {name} is empty: run `veille build`")
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        return _MappedFile(memoryview(mapped), name=name)


class _RamMappedStorage(RamStorage):
    """The import check's storage: files in memory, read as ``MappedStorage`` reads them."""

    def open_file(self, name: str, **kwargs) -> BufferFile:
        return _MappedFile(memoryview(self.files[name]), name=name)

    def temp_storage(self, name: str | None = None) -> RamStorage:
        # A writer's sorting runs, in memory too: whoosh's RamStorage puts them in
        # $TMPDIR/MAIN.tmp, a folder every command starting at once would share.
        return RamStorage()


class _AndNotMatcher(AndNotMatcher):
    """whoosh's AndNotMatcher, checking its first match against the excluded documents
    too (whoosh 2.7 checks it only when both start on the same document, so an excluded
    phrase let a segment's first match through), and stopping when its first matcher is
    done."""

    def _find_first(self):
        if self.a.is_active() and self.b.is_active():
            self._find_next()

    def _find_next(self):
        # whoosh 2.7 reads the first matcher's document after skip_to (or skip_to_quality)
        # has run it out: an IndexError, on an exclusion of any of several words.
        if not self.a.is_active():
            return False
        return super()._find_next()


class AndNot(wq.AndNot):
    """``a ANDNOT b``, through the matcher above."""

    def matcher(self, searcher, context=None):
        scored = self.a.matcher(searcher, context)
        return _AndNotMatcher(scored, self.b.matcher(searcher, searcher.boolean_context()))


def _numbers(values, dtype) -> np.ndarray:
    """A block's numbers as an array: whoosh's default codec pickles tuples (indexes
    written before Veille's blocks), ``encode_block`` arrays."""
    if isinstance(values, array):
        # numpy reads array's typecodes as the same C types.
        return np.frombuffer(values, dtype=values.typecode).astype(dtype)
    return np.fromiter(values, dtype=dtype, count=len(values))


def _check_mapped(storage: _RamMappedStorage) -> None:
    """A compound segment's files are views of the segment's bytes, not copies."""
    compound = [name for name in storage.files if name.endswith(Segment.COMPOUND_EXT)]
    if not compound:
        raise _fail("compound segments (one .seg file a segment)")
    segment = CompoundStorage(storage.open_file(compound[0]), use_mmap=False)
    inner = [segment.open_file(name) for name in segment.list()]
    if not inner or not all(
        isinstance(f, _MappedFile) and f._buf.obj is storage.files[compound[0]] for f in inner
    ):
        raise _fail("compound segments that open their files with their file's subset()")


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
    if not hasattr(AndNotMatcher, "_find_next"):
        raise _fail("AndNotMatcher._find_next")
    for owner, name in (
        (whoosh3.W3PostingsWriter, "_write_block"),
        (whoosh3.W3PostingsWriter, "_new_block"),
        (whoosh3.W3PostingsWriter, "_mini_values"),
    ):
        if not hasattr(owner, name):
            raise _fail(f"{owner.__name__}.{name}")
    schema = fields.Schema(
        text=fields.TEXT(),
        exact=fields.TEXT(phrase=True),
        n=fields.NUMERIC(sortable=True),
        s=fields.ID(sortable=True),
    )
    read = []
    for codec in (None, ArrayBlocksCodec(blocklimit=2)):
        storage = _RamMappedStorage()
        ix = storage.create_index(schema)
        try:
            with ix.writer(codec=codec) as writer:
                writer.add_document(text="un deux deux", exact="un deux deux", n=7, s="é")
                writer.add_document(text="deux", exact="deux", n=9)
                writer.add_document(text="trois deux", exact="trois deux", n=5, s="ab")
            _check_mapped(storage)
            with ix.reader() as reader:
                ids, weights = read_postings(reader.postings("text", "deux"))
                lengths = field_lengths(reader, "text", 3)
                values = numeric_column(reader.column_reader("n", translate=False), 3)
                texts = bytes_column(reader.column_reader("s", translate=False), 3)
                positions = list(reader.postings("exact", "deux").items_as("positions"))
                _, _, encoded = read_postings_values(reader.postings("exact", "deux"))
            with ix.searcher() as searcher:  # « trois » (doc 2) but not « deux » (0, 1, 2)
                kept = AndNot(wq.Term("text", "trois"), wq.Term("text", "deux"))
                if list(kept.matcher(searcher).all_ids()):
                    raise _fail("AndNotMatcher that _find_next excludes from its first match")
        except AttributeError as e:
            raise _fail(f"the attribute {e.name!r}") from None
        read.append(positions)
        if [decode_positions(v) for v in encoded] != [p for _, p in positions]:
            raise _fail("positions encoded as formats.Positions encodes them")
        if ids.tolist() != [0, 1, 2] or weights.tolist() != [2.0, 1.0, 1.0]:
            raise _fail("postings blocks of (deltas, weights, values)")
        if lengths is None or lengths.tolist() != [3.0, 1.0, 2.0] or len(values) != 3:
            raise _fail("field lengths and numeric columns as Veille reads them")
        if texts != ["é".encode(), b"", b"ab"]:
            raise _fail("bytes columns as Veille reads them")
    if read[0] != read[1] or read[0] != [(0, [1, 2]), (1, [0]), (2, [1])]:
        raise _fail("postings written by a W3PostingsWriter with its own blocks")


_check()
