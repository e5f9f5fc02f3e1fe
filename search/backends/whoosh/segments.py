"""Write whoosh segments in bulk: the fast path of build_index.

whoosh's own writer makes a Python tuple of every posting, pickles it into a pool, sorts the
pool, then writes each posting on its own, reading its document's field length back from
disk. For a whole corpus that was most of the build. ``SegmentBuilder`` keeps a segment's
postings in memory in flat arrays, analyzes each distinct word once (``WordChain``), groups
the postings by term with numpy and writes them in whoosh's format, block by block: the
files whoosh's writer makes, read by whoosh's own code (a test writes one corpus both ways
and compares every term, posting and block), but for the blocks' pickled numbers, arrays
rather than tuples (``_internals.encode_block``, which whoosh's writer also uses here).
"""

from __future__ import annotations

import itertools
import struct
from array import array
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
from whoosh import fields, formats
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3Codec, W3Segment
from whoosh.filedb import filetables
from whoosh.filedb.filestore import Storage
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte

from ...analysis import FrenchTokenizer, WordChain, word_matches
from ._internals import TERMINFO_FORMAT, block_info, encode_block

# The kinds of postings a field keeps, after its whoosh format.
_FREQUENCY, _POSITIONS, _EXISTENCE, _OTHER = range(4)

# The memory a posting takes, its share of the words' and terms' tables and of the peak
# while a segment is written included (measured: 393 MB of peak RSS for one segment of
# 63,917 passages, 7.8 M postings). A segment is written before it would pass its memory.
_BYTES_PER_POSTING = 40


def _kind(field: fields.FieldType) -> int:
    chain = getattr(getattr(field, "analyzer", None), "chain", None)
    items = getattr(chain, "items", None)
    if not items or not isinstance(items[0], FrenchTokenizer):
        return _OTHER
    fmt = type(field.format)
    return {
        formats.Frequency: _FREQUENCY,
        formats.Positions: _POSITIONS,
        formats.Existence: _EXISTENCE,
    }.get(fmt, _OTHER)


class _FieldPostings:
    """One field's postings in a segment, as flat arrays grouped by term when written.

    Each analyzed word is remembered as the ids of the terms it makes, so a document adds
    its postings with a few whole-list operations, not a Python step per posting.
    """

    def __init__(self, name: str, field: fields.FieldType) -> None:
        self.name = name
        self.field = field
        self.kind = _kind(field)
        self.analysis = WordChain(field.analyzer.chain) if self.kind != _OTHER else None
        self.boost = float(getattr(field.format, "field_boost", 1.0))
        self.value_size = field.format.fixed_value_size()
        self.term_ids: dict[Any, int] = {}  # term (bytes for _OTHER) -> id
        self.word_ids: dict[str, tuple[int, ...]] = {}  # a word's match -> its terms' ids
        # One entry a posting (a token, for _POSITIONS): term id, document, and the
        # frequency (_FREQUENCY), the position (_POSITIONS) or (weight, bytes) (_OTHER).
        self.flat_terms = array("I")
        self.flat_docs = array("I")
        self.flat_values: array | list = array("I") if self.kind != _OTHER else []
        self.lengths = array("I")  # per document; only for a scorable field
        self._last_value: Any = None
        self._last_items: list = []

    @property
    def postings(self) -> int:
        return len(self.flat_terms)

    def _ids(self, matches: list[str]) -> list[tuple[int, ...]]:
        made = list(map(self.word_ids.get, matches))
        if None in made:
            term_ids = self.term_ids
            for i, ids in enumerate(made):
                if ids is None:
                    terms = self.analysis.word_terms(matches[i])
                    ids = tuple(term_ids.setdefault(t, len(term_ids)) for t in terms)
                    made[i] = self.word_ids[matches[i]] = ids
        return made

    def add(self, docnum: int, value: Any, matches: list[str] | None) -> int:
        """Add one document's value; return its field length (0 if not scorable)."""
        kind = self.kind
        if kind == _FREQUENCY:
            tokens = list(itertools.chain.from_iterable(self._ids(matches)))
            counts = Counter(tokens)
            self.flat_terms.extend(counts.keys())
            self.flat_values.extend(counts.values())
            self.flat_docs.extend(itertools.repeat(docnum, len(counts)))
            length = len(tokens)
        elif kind == _POSITIONS:
            made = self._ids(matches)
            tokens = list(itertools.chain.from_iterable(made))
            self.flat_terms.extend(tokens)
            if len(tokens) == len(made):  # one term a word: positions are 0, 1, 2...
                self.flat_values.extend(range(len(tokens)))
            else:
                self.flat_values.extend(p for p, ids in enumerate(made) for _ in ids)
            self.flat_docs.extend(itertools.repeat(docnum, len(tokens)))
            length = len(tokens)
        elif kind == _EXISTENCE:
            distinct = set(itertools.chain.from_iterable(self._ids(list(set(matches)))))
            self.flat_terms.extend(distinct)
            self.flat_docs.extend(itertools.repeat(docnum, len(distinct)))
            length = 0
        else:
            length = 0
            # An article's passages repeat its source: index each value once.
            if value != self._last_value:
                self._last_value = value
                self._last_items = list(self.field.index(value))
            term_ids = self.term_ids
            for tbytes, freq, weight, vbytes in self._last_items:
                self.flat_terms.append(term_ids.setdefault(tbytes, len(term_ids)))
                self.flat_docs.append(docnum)
                self.flat_values.append((weight, vbytes))
                length += freq
        if not self.field.scorable:
            return 0
        lengths = self.lengths
        while len(lengths) < docnum:
            lengths.append(0)
        lengths.append(length)
        return length

    def write(self, fieldid: int, postfile, tindex, block_limit: int) -> None:
        """Write the field's terms, sorted, as whoosh's field writer would."""
        kind = self.kind
        boost = self.boost
        # What whoosh records per posting is the length as its lengths column gives it back.
        lengths = [byte_to_length(length_to_byte(n)) for n in self.lengths]
        terms = np.frombuffer(self.flat_terms, dtype=np.uint32)
        order = np.argsort(terms, kind="stable")  # by term, then as added: by document
        terms = terms[order]
        docs = np.frombuffer(self.flat_docs, dtype=np.uint32)[order]
        if kind == _OTHER:
            values = [self.flat_values[i] for i in order.tolist()]
        elif kind == _EXISTENCE:
            values = None
        else:
            values = np.frombuffer(self.flat_values, dtype=np.uint32)[order]
        # Sorted copies made: let the unsorted ones go, memory peaks here.
        del order
        self.flat_terms = self.flat_docs = self.flat_values = None
        if kind == _POSITIONS:
            # A posting per (term, document), its positions the run of tokens.
            first = np.ones(len(terms), dtype=bool)
            first[1:] = (terms[1:] != terms[:-1]) | (docs[1:] != docs[:-1])
            starts = np.flatnonzero(first)
            freqs = np.diff(np.append(starts, len(terms)))
            encoded = _encode_positions(self.field.format, values, starts, freqs)
            terms, docs, values = terms[starts], docs[starts], encoded
        else:
            freqs = values if kind == _FREQUENCY else None
        bounds = np.searchsorted(terms, np.arange(len(self.term_ids) + 1))
        names = self.term_ids.items()
        if kind == _OTHER:
            items = sorted(names)
        else:
            items = sorted((term.encode("utf-8"), tid) for term, tid in names)
        prefix = pack_ushort(fieldid)
        bounds = bounds.tolist()
        for tbytes, tid in items:
            start, end = bounds[tid], bounds[tid + 1]
            if start == end:
                continue
            docnums = docs[start:end].tolist()
            if kind == _OTHER:
                pairs = values[start:end]
                weights = [w for w, _ in pairs]
                term_values = [v for _, v in pairs]
                term_freqs = None
            elif freqs is None:
                weights = [boost] * (end - start)
                term_values, term_freqs = None, None
            else:
                term_freqs = freqs[start:end].tolist()
                weights = [f * boost for f in term_freqs]
                term_values = values[start:end] if kind == _POSITIONS else None
            terminfo = _write_postings(
                postfile,
                docnums,
                weights,
                term_freqs,
                term_values,
                lengths,
                self.value_size,
                block_limit,
            )
            tindex.add(prefix + tbytes, terminfo)


def _encode_positions(fmt, positions: np.ndarray, starts: np.ndarray, freqs: np.ndarray) -> list:
    """Each posting's positions as formats.Positions encodes them."""
    single: dict[int, bytes] = {}  # most words occur once in a passage: one encoding each
    out = []
    for pos in positions[starts].tolist():
        encoded = single.get(pos)
        if encoded is None:
            encoded = single[pos] = fmt.encode([pos])
        out.append(encoded)
    for i in np.flatnonzero(freqs > 1).tolist():
        start = int(starts[i])
        out[i] = fmt.encode(positions[start : start + int(freqs[i])].tolist())
    return out


# Postings a block. whoosh's writer makes blocks of 128; its readers take any size. Bigger
# blocks are read with fewer steps: bench/query.py on the full index (same run), keywords
# p95 17.8 -> 10.9 ms, leads p50 43 -> 39 ms with 1,024.
BLOCK_LIMIT = 1024
_TERMINFO = struct.Struct(TERMINFO_FORMAT)


def _mini_values(values, freqs, value_size, first: int, end: int):
    """A block's values as W3PostingsWriter encodes them."""
    if value_size == 0:
        return None
    if value_size is None:
        return tuple(values[first:end])
    if freqs is not None and value_size == 4:
        return struct.pack(f"!{end - first}I", *freqs[first:end])
    return b"".join(values[first:end])


def _write_postings(
    postfile,
    docnums: list[int],
    weights: list,
    freqs,
    values,
    lengths: list,
    value_size,
    block_limit: int,
) -> bytes:
    """Write one term's postings as W3PostingsWriter does; return its W3TermInfo bytes."""
    start = postfile.tell()
    postfile.write(WHOOSH3_HEADER_MAGIC)
    total = len(docnums)
    term_weight = 0.0
    term_min_length = None
    term_max_length = 0
    term_max_weight = 0
    for first in range(0, total, block_limit):
        end = min(first + block_limit, total)
        ids = docnums[first:end]
        block_weights = array("f", weights[first:end])
        max_weight = max(weights[first:end])
        if lengths:  # a scorable field: every document with a posting has a length
            found = list(map(lengths.__getitem__, ids))
            min_length, max_length = min(found), max(found)
        else:
            min_length, max_length = None, 0
        mini_values = _mini_values(values, freqs, value_size, first, end)
        data, compression = encode_block(ids, block_weights, mini_values)
        info = block_info(end - first, ids[-1], max_weight, compression, min_length, max_length)
        size = len(info) + len(data)
        postfile.write(pack_int(-size if end == total else size))
        postfile.write(info)
        postfile.write(data)
        term_weight += sum(block_weights)
        if term_min_length is None:
            term_min_length = min_length
        elif min_length is not None:
            term_min_length = min(term_min_length, min_length)
        term_max_length = max(term_max_length, max_length)
        term_max_weight = max(term_max_weight, max_weight)
    return (
        _TERMINFO.pack(
            False,
            term_weight,
            total,
            0 if term_min_length is None else length_to_byte(term_min_length),
            length_to_byte(term_max_length),
            term_max_weight,
            docnums[0],
            docnums[-1],
        )
        + pack_long(start)
        + pack_int(postfile.tell() - start)
    )


class SegmentBuilder:
    """Collect documents for one new whoosh segment in memory, then write it."""

    def __init__(
        self,
        schema: fields.Schema,
        storage: Storage,
        indexname: str,
        block_limit: int = BLOCK_LIMIT,
    ) -> None:
        self.block_limit = block_limit
        self.schema = schema
        self.storage = storage
        self.codec = W3Codec()
        self.segment: W3Segment = self.codec.new_segment(storage, indexname)
        self.perdoc = self.codec.per_document_writer(storage, self.segment)
        self.fields = {
            name: _FieldPostings(name, schema[name])
            for name in schema.names()
            if schema[name].indexed
        }
        self.docs = 0
        # The words of the last few texts, by identity: a passage's text and exact fields
        # are one string, and its article's title is the same string for every passage.
        self._words: dict[int, tuple[str, list[str]]] = {}

    def add_document(self, doc: Mapping[str, Any]) -> None:
        """Add a document: the same mapping as whoosh's ``writer.add_document(**doc)``."""
        schema = self.schema
        perdoc = self.perdoc
        docnum = self.docs
        perdoc.start_doc(docnum)
        for name in sorted(doc):
            value = doc[name]
            if value is None:
                continue
            field = schema[name]
            length = 0
            postings = self.fields.get(name)
            if postings is not None:
                words = None
                if postings.analysis is not None:
                    words = self._word_matches(value)
                    if extra := postings.analysis.extra_matches(value):
                        words = words + extra  # the spelling's compounds (week-end)
                length = postings.add(docnum, value, words)
            perdoc.add_field(name, field, value if field.stored else None, length)
            if field.column_type:
                perdoc.add_column_value(name, field.column_type, field.to_column_value(value))
        perdoc.finish_doc()
        self.docs += 1

    def _word_matches(self, text: str) -> list[str]:
        found = self._words.get(id(text))
        if found is not None and found[0] is text:
            return found[1]
        if len(self._words) >= 8:
            self._words.clear()
        matches = word_matches(text)
        self._words[id(text)] = (text, matches)
        return matches

    def estimated_bytes(self) -> int:
        """About how much memory the collected postings take."""
        postings = sum(field.postings for field in self.fields.values())
        return postings * _BYTES_PER_POSTING

    def write(self) -> W3Segment:
        """Write the segment's files; return the segment, for the index's table of contents."""
        self.perdoc.close()
        # The files and the field numbering of W3FieldWriter: terms table, postings.
        tindex = filetables.OrderedHashWriter(
            self.segment.create_file(self.storage, W3Codec.TERMS_EXT)
        )
        fieldmap = tindex.extras["fieldmap"] = {}
        postfile = self.segment.create_file(self.storage, W3Codec.POSTS_EXT)
        for name in sorted(self.fields):
            postings = self.fields[name]
            if postings.postings:
                fieldmap[name] = len(fieldmap)
                postings.write(fieldmap[name], postfile, tindex, self.block_limit)
        tindex.close()
        postfile.close()
        self.segment.set_doc_count(self.docs)
        # One file a segment, as whoosh's writer leaves it: readers map it whole, and hold
        # one file open a segment, not ten.
        self.segment.create_compound_file(self.storage)
        return self.segment
