"""Veille's terms as Sphinx tokens, and a passage as the row a node stores.

Veille's French chain makes the terms (stems, words as written); Sphinx only indexes them.
A term of ``a-z0-9`` is its own token; any other (accents kept by the spelling chain,
apostrophes of aujourd'hui, other scripts) is ``_`` and its UTF-8 in hex, and a token
longer than Sphinx keeps (42 bytes) is ``_h`` and a digest: the node's charset_table is
``0..9, a..z, _``, so every token stays whole and no two terms share one.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from ...analysis import (
    WordChain,
    exact_analyzer,
    spelling_analyzer,
    text_analyzer,
    word_matches,
)
from ...passages import Passage
from ..base import IndexedArticle, moment

_PLAIN = re.compile(r"[a-z0-9]+")
_MAX_TOKEN = 40
# The article numbers, positions and shards packed in a row id (see row_id).
POSITION_BITS = 16
SHARD_BITS = 8


@lru_cache(maxsize=500_000)
def token(term: str) -> str:
    """The Sphinx token of a Veille term (a word of [0-9a-z_] that Sphinx keeps whole)."""
    if _PLAIN.fullmatch(term) and len(term) <= _MAX_TOKEN:
        return term
    encoded = "_" + term.encode("utf-8").hex()
    if len(encoded) <= _MAX_TOKEN:
        return encoded
    return "_h" + hashlib.blake2b(term.encode("utf-8"), digest_size=16).hexdigest()


@lru_cache(maxsize=500_000)
def key(term: str) -> str:
    """The JSON key of a term's frequency (an identifier SphinxQL can name: tf.x.k…)."""
    return "k" + token(term)


def row_id(art: int, position: int, shard: int) -> int:
    """A passage's row id on its node: article number, position and shard in one integer."""
    return (((art << POSITION_BITS) | position) << SHARD_BITS) | shard


def row_parts(row: int) -> tuple[int, int, int]:
    """(article number, position, shard) of a row id."""
    shard = row & ((1 << SHARD_BITS) - 1)
    position = (row >> SHARD_BITS) & ((1 << POSITION_BITS) - 1)
    return row >> (SHARD_BITS + POSITION_BITS), position, shard


def shard_of(article_id: str, shards: int) -> int:
    """The shard that holds an article: a hash of its id (crc32, stable across versions)."""
    return zlib.crc32(article_id.encode("utf-8")) % shards


# whoosh stores a field's length in one byte: the embedded backend scores with the length
# that byte gives back (the smallest of these at least the real length). Same formula here.
_LENGTHS = [round((1.033**i - 1) * 27) for i in range(256)]


def quantized(length: int) -> int:
    """A field length as the embedded backend reads it back."""
    if length >= _LENGTHS[-1]:
        return _LENGTHS[-1]
    return _LENGTHS[bisect.bisect_left(_LENGTHS, length)]


# Every filter after the tokenizer looks at one word alone: a build analyzes each distinct
# word once (as the embedded backend's bulk writer does), and remembers it.
_TEXT = lru_cache(maxsize=500_000)(WordChain(text_analyzer()).word_terms)
_EXACT = lru_cache(maxsize=500_000)(WordChain(exact_analyzer()).word_terms)
_SPELLING_CHAIN = WordChain(spelling_analyzer())
_SPELLING = lru_cache(maxsize=500_000)(_SPELLING_CHAIN.word_terms)


def _chained(chain, words: list[str]) -> list[str]:
    return [term for matched in words for term in chain(matched)]


def _terms(chain, text: str) -> list[str]:
    return _chained(chain, word_matches(text))


def spelling_words(item: IndexedArticle) -> set[str]:
    """The article's words for spelling suggestions (as the embedded backend's spell field)."""
    article = item.article
    return set(_chained(_SPELLING, _SPELLING_CHAIN.matches(article.title + "\n" + article.body)))


@dataclass
class PreparedArticle:
    """An article as rows for its shard, and what it adds to the cluster's statistics."""

    item: IndexedArticle
    art: int
    shard: int
    digest: str
    rows: list[tuple] = field(default_factory=list)  # the term frequencies last, as JSON
    # field -> term -> in how many of its passages (x text, t title, e exact); "a": 1 for
    # each stem of the whole article, "s" 1 for each spelling word.
    df: dict[str, Counter] = field(default_factory=dict)
    lengths: Counter = field(default_factory=Counter)  # field -> total length; "a": quantized


@dataclass(frozen=True)
class _Field:
    """A field's terms as a row stores them: tokens, frequencies by JSON key, length."""

    counts: Counter
    tokens: str
    frequencies: dict[str, int]
    length: int


def _field(terms: list[str]) -> _Field:
    counts = Counter(terms)
    frequencies = {key(t): n for t, n in counts.items()}
    return _Field(counts, " ".join(map(token, terms)), frequencies, len(terms))


def _row(
    prepared: PreparedArticle,
    passage: Passage,
    text: _Field,
    title: _Field,
    exact: _Field,
    title_exact: str,
) -> tuple:
    article = prepared.item.article
    lead = passage.position == 0
    tf = {"x": text.frequencies, "t": title.frequencies, "e": exact.frequencies}
    return (
        row_id(prepared.art, passage.position, prepared.shard),
        text.tokens,
        title.tokens,
        exact.tokens,
        title_exact,
        "all lead" if lead else "all",
        prepared.art,
        passage.position,
        1 if lead else 0,
        moment(article.date, article.time),
        article.date.year * 100 + article.date.month if article.date else 0,
        0,  # copied: store.py marks the copies once every row is written
        quantized(text.length),
        quantized(title.length),
        quantized(exact.length),
        passage.start,
        passage.end,
        article.id,
        article.title,
        article.source or "",
        article.category or "",
        article.url or "",
        passage.text,
        prepared.item.cluster,
        prepared.digest,
        tf,
    )


def prepare(item: IndexedArticle, art: int, shard: int, digest: str) -> PreparedArticle:
    """The rows of an article's passages, and its share of the statistics."""
    prepared = PreparedArticle(item, art, shard, digest)
    title = _field(_terms(_TEXT, item.article.title))
    title_exact = " ".join(map(token, _terms(_EXACT, item.article.title)))
    whole: Counter = Counter()
    # In how many passages each stem, each word as written.
    stems: Counter = Counter()
    words_as_written: Counter = Counter()
    article_length = 0
    for passage in item.passages:
        words = word_matches(passage.text)
        text = _field(_chained(_TEXT, words))
        exact = _field(_chained(_EXACT, words))
        prepared.rows.append(_row(prepared, passage, text, title, exact, title_exact))
        for name, analyzed in (("x", text), ("t", title), ("e", exact)):
            prepared.lengths[name] += analyzed.length
        stems.update(text.counts.keys())
        words_as_written.update(exact.counts.keys())
        whole.update(text.counts)
        article_length += quantized(text.length)
    passages = len(item.passages)
    prepared.df = {
        "x": stems,
        "t": Counter(dict.fromkeys(title.counts, passages) if passages else {}),
        "e": words_as_written,
        "a": Counter(dict.fromkeys(whole, 1)),
        "s": Counter(dict.fromkeys(spelling_words(item), 1)),
    }
    prepared.lengths["a"] += article_length
    rows = prepared.rows
    if rows:  # the lead carries the whole article's frequencies and length
        lead = rows[0]
        lead[-1]["a"] = {key(t): n for t, n in whole.items()}
        lead[-1]["la"] = article_length
    prepared.rows = [(*row[:-1], json.dumps(row[-1], separators=(",", ":"))) for row in rows]
    return prepared


def tokens_of(terms: Iterable[str]) -> list[str]:
    return [token(t) for t in terms]
