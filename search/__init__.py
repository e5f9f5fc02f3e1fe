"""Veille: full-text search for French news.

from search import Index
index = Index.open("index")
for hit in index.search("coopération sécuritaire"):
    print(hit.title, hit.snippet)
"""

from .alerts import (
    Alert,
    AlertError,
    AlertRun,
    AlertStateError,
    SmtpSettings,
    add_alert,
    list_alerts,
    remove_alert,
    run_alerts,
)
from .analysis import analysis_steps
from .corpus import Article, CorpusError, read_corpus
from .errors import (
    IndexClosedError,
    IndexDamagedError,
    IndexLockedError,
    IndexNotFoundError,
    IndexUnavailableError,
    IndexVersionError,
    ParameterError,
    VeilleError,
)
from .explain import Explanation, explain
from .export import CSV_COLUMNS, csv_rows, jsonl_lines, write_csv
from .index import (
    BuildSummary,
    Index,
    IndexInfo,
    Shortlisted,
    UpdateSummary,
    add_articles,
    build_index,
    check_index,
    optimize_index,
    update_index,
)
from .ingest import FeedResult, FeedSpec, FetchSummary, fetch_feeds
from .ledger import first_indexed
from .passages import Passage, split_passages
from .querying import ParsedQuery, parse_query
from .ranking import RankingConfig
from .request import SearchRequest
from .results import Duplicate, Hit, PassageHit, Results, StoredArticle

__version__ = "0.2.0"

__all__ = [
    "CSV_COLUMNS",
    "Alert",
    "AlertError",
    "AlertRun",
    "AlertStateError",
    "Article",
    "BuildSummary",
    "CorpusError",
    "Duplicate",
    "Explanation",
    "FeedResult",
    "FeedSpec",
    "FetchSummary",
    "Hit",
    "Index",
    "IndexClosedError",
    "IndexDamagedError",
    "IndexInfo",
    "IndexLockedError",
    "IndexNotFoundError",
    "IndexUnavailableError",
    "IndexVersionError",
    "ParameterError",
    "ParsedQuery",
    "Passage",
    "PassageHit",
    "RankingConfig",
    "Results",
    "SearchRequest",
    "Shortlisted",
    "SmtpSettings",
    "StoredArticle",
    "UpdateSummary",
    "VeilleError",
    "add_alert",
    "add_articles",
    "analysis_steps",
    "build_index",
    "check_index",
    "csv_rows",
    "explain",
    "fetch_feeds",
    "first_indexed",
    "jsonl_lines",
    "list_alerts",
    "optimize_index",
    "parse_query",
    "read_corpus",
    "remove_alert",
    "run_alerts",
    "split_passages",
    "update_index",
    "write_csv",
]
