"""Results as rows for a spreadsheet (CSV) or a script (JSON Lines): pure, shared by the
CLI (`veille query --format csv|jsonl`) and the web app (`/search.csv`).

One row per hit: an article with its best passage (group="article"), or one passage.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import TextIO

from .results import Results

CSV_COLUMNS = (
    "rank",
    "article_id",
    "title",
    "date",
    "time",
    "source",
    "url",
    "score",
    "passage_position",
    "passage_text",
)

# A cell starting with one of these is a formula to a spreadsheet (=HYPERLINK(…) in a
# fetched title would run): such a cell gets a leading apostrophe, as OWASP advises.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_rows(results: Results) -> Iterator[tuple[int | float | str, ...]]:
    """A page's hits as rows of CSV_COLUMNS, ranked from the page's first rank.

    Absent values (date, time, source, url) are empty; the passage text is plain (no HTML).
    """
    first = (results.page - 1) * results.limit + 1
    for rank, hit in enumerate(results.hits, start=first):
        yield (
            rank,
            hit.article_id,
            hit.title,
            hit.date.isoformat() if hit.date else "",
            f"{hit.time:%H:%M}" if hit.time else "",
            hit.source or "",
            hit.url or "",
            round(hit.score, 4),
            hit.position,
            hit.text,
        )


def _cell(value: int | float | str) -> int | float | str:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(stream: TextIO, pages: Results | Iterable[Results]) -> int:
    """Write the header, then every page's rows (of one Results or several); returns the
    number of rows written.

    Text cells that a spreadsheet would read as a formula get a leading apostrophe.
    """
    pages = [pages] if isinstance(pages, Results) else pages
    writer = csv.writer(stream)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for results in pages:
        for row in csv_rows(results):
            writer.writerow([_cell(value) for value in row])
            count += 1
    return count


def jsonl_lines(pages: Results | Iterable[Results]) -> Iterator[str]:
    """One line of JSON per hit (without its newline): the hit as the JSON API gives it."""
    for results in [pages] if isinstance(pages, Results) else pages:
        for hit in results.hits:
            yield json.dumps(hit.to_dict(results.group), ensure_ascii=False)
