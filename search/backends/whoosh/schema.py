"""The whoosh schema of a Veille index: one document a passage, with its article's fields.

Veille's French chains (``search.analysis``) are wrapped as whoosh analyzers here: the
same chain indexes, queries and highlights.
"""

from __future__ import annotations

from collections.abc import Iterator

from whoosh import analysis, fields, formats

from ...analysis import Chain, Token, exact_analyzer, spelling_analyzer, text_analyzer
from ...passages import Passage
from ..base import IndexedArticle, moment

# Bump when the schema or what is stored in it changes: an index records the version it was
# built with, and Index.open refuses another one with a message that says to rebuild.
SCHEMA_VERSION = 8


class VeilleAnalyzer(analysis.Analyzer):
    """A Veille chain as whoosh calls an analyzer."""

    def __init__(self, chain: Chain) -> None:
        self.chain = chain

    def __call__(self, value: str, **kwargs: object) -> Iterator[Token]:
        return self.chain(value, **kwargs)


class _SpellingField(fields.FieldType):
    """Words as written (accents kept), for spelling suggestions: presence only, never scored."""

    def __init__(self, analyzer: analysis.Analyzer) -> None:
        self.format = formats.Existence()
        self.analyzer = analyzer
        self.column_type = None
        self.scorable = False
        self.stored = False
        self.unique = False
        self.indexed = True
        self.spelling = False
        self.vector = None


def _column_only(field: fields.FieldType) -> fields.FieldType:
    # Read through its column (a numpy array per reader), never searched as terms.
    field.indexed = False
    return field


def _moment_field() -> fields.NUMERIC:
    # The article's date and time (base.moment). Dates filter through the field's column (a
    # numpy array per searcher), never through terms: not indexing them saves eight
    # postings a passage.
    return _column_only(fields.NUMERIC(int, 64, signed=False, stored=True, sortable=True))


def make_schema() -> fields.Schema:
    """The whoosh schema: one document a passage, carrying its article's fields."""
    text = VeilleAnalyzer(text_analyzer())
    return fields.Schema(
        passage_id=fields.STORED(),
        article_id=fields.ID(stored=True, sortable=True),
        position=fields.STORED(),
        lead=fields.ID(),  # "1" on an article's first passage, which title-only matches find
        start=fields.STORED(),
        end=fields.STORED(),
        title=fields.TEXT(analyzer=text, phrase=False, stored=True),
        date=_moment_field(),
        # Sources and sections filter and count through their columns (read once a reader).
        source=fields.ID(stored=True, sortable=True),
        category=fields.ID(stored=True, sortable=True),
        url=fields.STORED(),
        text=fields.TEXT(analyzer=text, phrase=False, stored=True),
        exact=fields.TEXT(analyzer=VeilleAnalyzer(exact_analyzer()), phrase=True),
        # The title as written, for a quoted phrase's words in a row there.
        title_exact=fields.TEXT(analyzer=VeilleAnalyzer(exact_analyzer()), phrase=True),
        spell=_SpellingField(VeilleAnalyzer(spelling_analyzer())),
        content_hash=fields.STORED(),
        # Near-duplicates: the article's cluster (a column, to collapse results) and its
        # signature (on its first passage, read back when an update looks for copies).
        cluster=_column_only(fields.ID(stored=True, sortable=True)),
        signature=fields.STORED(),
    )


def passage_document(item: IndexedArticle, passage: Passage, content_hash: str) -> dict:
    """The whoosh document of one passage: its fields and its article's."""
    article = item.article
    lead = passage.position == 0
    doc = {
        "passage_id": f"{article.id}#{passage.position}",
        "article_id": article.id,
        "position": passage.position,
        "lead": "1" if lead else None,
        "start": passage.start,
        "end": passage.end,
        "title": article.title,
        "source": article.source or None,
        "category": article.category,
        "url": article.url,
        "text": passage.text,
        "exact": passage.text,
        "title_exact": article.title,
        # The vocabulary for suggestions is per article (its first passage holds it): the
        # same word in several passages would only repeat postings.
        "spell": article.title + "\n" + article.body if lead else None,
        "content_hash": content_hash,
        "cluster": item.cluster,
        "signature": item.signature if lead else None,
    }
    if article.date is not None:
        doc["date"] = moment(article.date, article.time)
    return {k: v for k, v in doc.items() if v is not None}
