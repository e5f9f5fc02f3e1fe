"""Write whoosh segments in bulk: the fast path of build_index.

whoosh's own writer makes a Python tuple of every posting, pickles it into a pool, sorts the
pool, then writes each posting on its own, reading its document's field length back from
disk. For a whole corpus that is most of the build. ``SegmentBuilder`` keeps a segment's
postings in memory, term by term in arrays, analyzes each distinct word once (``WordCache``),
and writes the sorted terms with whoosh's own codec, block by block: the same files, read by
the same whoosh code (a test builds one corpus both ways and compares every posting).
"""

from __future__ import annotations

import operator
import pickle
import struct
import zlib
from array import array
from collections.abc import Mapping
from typing import Any

from whoosh import fields, formats
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3Codec, W3Segment
from whoosh.filedb import filetables
from whoosh.filedb.filestore import Storage
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numeric import byte_to_length, length_to_byte

from .analysis import FrenchTokenizer, WordCache, word_matches

# The kinds of postings a field keeps, after its whoosh format.
_FREQUENCY, _POSITIONS, _EXISTENCE, _OTHER = range(4)

# A rough size of one posting in memory (arrays, the positions' bytes, the term's entry):
# a segment is written once its postings would pass the memory it is given.
_BYTES_PER_POSTING = 40


def _kind(field: fields.FieldType) -> int:
    analyzer = getattr(field, "analyzer", None)
    items = getattr(analyzer, "items", None)
    if not items or not isinstance(items[0], FrenchTokenizer):
        return _OTHER
    fmt = type(field.format)
    return {
        formats.Frequency: _FREQUENCY,
        formats.Positions: _POSITIONS,
        formats.Existence: _EXISTENCE,
    }.get(fmt, _OTHER)


class _FieldPostings:
    """One field's postings in a segment: per term, the documents and their values."""

    def __init__(self, name: str, field: fields.FieldType) -> None:
        self.name = name
        self.field = field
        self.kind = _kind(field)
        self.cache = WordCache(field.analyzer) if self.kind != _OTHER else None
        self.boost = float(getattr(field.format, "field_boost", 1.0))
        self.value_size = field.format.fixed_value_size()
        # term -> [docnums, frequencies, values]: values are the encoded positions for
        # _POSITIONS, the (weight, bytes) pairs for _OTHER (whose terms are bytes already),
        # None otherwise.
        self.terms: dict[Any, list] = {}
        self.lengths = array("I")  # per document; only for a scorable field
        self.postings = 0
        self._last_value: Any = None
        self._last_items: list = []
        self._single_positions: dict[int, bytes] = {}

    def _encode_positions(self, poslist: list[int]) -> bytes:
        # Most words occur once in a passage: their encoding is remembered by position.
        if len(poslist) > 1:
            return self.field.format.encode(poslist)
        pos = poslist[0]
        encoded = self._single_positions.get(pos)
        if encoded is None:
            encoded = self._single_positions[pos] = self.field.format.encode(poslist)
        return encoded

    def add(self, docnum: int, value: Any, matches: list[str] | None) -> int:
        """Add one document's value; return its field length (0 if not scorable)."""
        terms = self.terms
        kind = self.kind
        if kind == _FREQUENCY:
            counts, length = self.cache.counts(matches)
            for term, freq in counts.items():
                posting = terms.get(term)
                if posting is None:
                    posting = terms[term] = [array("I"), array("I"), None]
                posting[0].append(docnum)
                posting[1].append(freq)
            self.postings += len(counts)
        elif kind == _POSITIONS:
            length = 0
            encode = self._encode_positions
            for term, poslist in self.cache.positions(matches).items():
                posting = terms.get(term)
                if posting is None:
                    posting = terms[term] = [array("I"), array("I"), []]
                posting[0].append(docnum)
                posting[1].append(len(poslist))
                posting[2].append(encode(poslist))
                length += len(poslist)
                self.postings += 1
        elif kind == _EXISTENCE:
            length = 0
            distinct = self.cache.distinct(matches)
            for term in distinct:
                posting = terms.get(term)
                if posting is None:
                    posting = terms[term] = [array("I"), None, None]
                posting[0].append(docnum)
            self.postings += len(distinct)
        else:
            length = 0
            # An article's passages repeat its date and source: index each value once.
            if value != self._last_value:
                self._last_value = value
                self._last_items = list(self.field.index(value))
            for tbytes, freq, weight, vbytes in self._last_items:
                posting = terms.get(tbytes)
                if posting is None:
                    posting = terms[tbytes] = [array("I"), None, []]
                posting[0].append(docnum)
                posting[2].append((weight, vbytes))
                length += freq
                self.postings += 1
        if not self.field.scorable:
            return 0
        lengths = self.lengths
        while len(lengths) < docnum:
            lengths.append(0)
        lengths.append(length)
        return length

    def write(self, fieldid: int, postfile, tindex) -> None:
        """Write the field's terms, sorted, as whoosh's field writer would."""
        kind = self.kind
        boost = self.boost
        # What whoosh records per posting is the length as its lengths column gives it back.
        lengths = [byte_to_length(length_to_byte(n)) for n in self.lengths]
        prefix = pack_ushort(fieldid)
        if kind == _OTHER:
            items = sorted(self.terms.items())
        else:
            items = sorted((term.encode("utf-8"), posting) for term, posting in self.terms.items())
        for tbytes, (docnums, freqs, values) in items:
            if kind == _OTHER:
                weights = [w for w, _ in values]
                values = [v for _, v in values]
            elif freqs is None:
                weights = [boost] * len(docnums)
            else:
                weights = [f * boost for f in freqs]
            terminfo = _write_postings(
                postfile, docnums, weights, freqs, values, lengths, self.value_size
            )
            tindex.add(prefix + tbytes, terminfo)


_BLOCK_LIMIT = 128  # postings a block, as W3Codec writes them
_COMPRESSION = 3  # zlib level, as W3Codec writes them
_TERMINFO = struct.Struct("!BfIBBfII")  # W3TermInfo's layout


def _write_postings(
    postfile, docnums: array, weights: list, freqs, values, lengths: list, value_size
) -> bytes:
    """Write one term's postings as W3PostingsWriter does; return its W3TermInfo bytes."""
    start = postfile.tell()
    postfile.write(WHOOSH3_HEADER_MAGIC)
    total = len(docnums)
    term_weight = 0.0
    term_min_length = None
    term_max_length = 0
    term_max_weight = 0
    for first in range(0, total, _BLOCK_LIMIT):
        end = min(first + _BLOCK_LIMIT, total)
        ids = docnums[first:end]
        block_weights = array("f", weights[first:end])
        max_weight = max(weights[first:end])
        if lengths:
            found = [lengths[d] for d in ids if d < len(lengths) and lengths[d]]
            min_length = min(found) if found else None
            max_length = max(found) if found else 0
        else:
            min_length, max_length = None, 0
        # The block: (id deltas, weights, values), pickled and compressed.
        deltas = tuple(map(operator.sub, ids, _previous(ids)))
        if all(w == 1.0 for w in block_weights):
            mini_weights = None
        elif all(w == block_weights[0] for w in block_weights):
            mini_weights = block_weights[0]
        else:
            mini_weights = tuple(block_weights)
        if value_size == 0:
            mini_values = None
        elif value_size is None:
            mini_values = tuple(values[first:end])
        elif freqs is not None and value_size == 4:
            mini_values = struct.pack(f"!{end - first}I", *freqs[first:end])
        else:
            mini_values = b"".join(values[first:end])
        data = zlib.compress(pickle.dumps((deltas, mini_weights, mini_values), 2), _COMPRESSION)
        info = pickle.dumps(
            (
                end - first,
                ids[-1],
                max_weight,
                _COMPRESSION,
                length_to_byte(min_length),
                length_to_byte(max_length),
            ),
            2,
        )
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


def _previous(ids: array) -> array:
    previous = array(ids.typecode, [0])
    previous.extend(ids[:-1])
    return previous


class SegmentBuilder:
    """Collect documents for one new whoosh segment in memory, then write it."""

    def __init__(self, schema: fields.Schema, storage: Storage, indexname: str) -> None:
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
                words = None if postings.kind == _OTHER else self._word_matches(value)
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
            if postings.terms:
                fieldmap[name] = len(fieldmap)
                postings.write(fieldmap[name], postfile, tindex)
        tindex.close()
        postfile.close()
        self.segment.set_doc_count(self.docs)
        # One file a segment, as whoosh's writer leaves it: readers map it whole, and hold
        # one file open a segment, not ten.
        self.segment.create_compound_file(self.storage)
        return self.segment
