"""Veille: full-text search for French news.

from search import Index
index = Index.open("index")
for hit in index.search("coopération sécuritaire"):
    print(hit.title, hit.snippet)
"""

from .analysis import analysis_steps
from .corpus import Article, CorpusError, read_corpus
from .errors import VeilleError
from .indexing import (
    BuildSummary,
    IndexLockedError,
    IndexNotFoundError,
    IndexVersionError,
    UpdateSummary,
    build_index,
    optimize_index,
    update_index,
)
from .passages import Passage, split_passages
from .querying import parse_query
from .searching import (
    Explanation,
    Hit,
    Index,
    IndexInfo,
    PassageHit,
    Results,
    Searcher,
    StoredArticle,
    explain,
)

__all__ = [
    "Article",
    "BuildSummary",
    "CorpusError",
    "Explanation",
    "Hit",
    "Index",
    "IndexInfo",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexVersionError",
    "Passage",
    "PassageHit",
    "Results",
    "Searcher",
    "StoredArticle",
    "UpdateSummary",
    "VeilleError",
    "analysis_steps",
    "build_index",
    "explain",
    "optimize_index",
    "parse_query",
    "read_corpus",
    "split_passages",
    "update_index",
]
