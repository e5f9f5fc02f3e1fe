"""Read articles from the corpus: the seed's text format and JSON Lines.

Pure: no whoosh, no flask. Files are read lazily, one article (or one JSON line) at a time,
so a corpus of hundreds of megabytes never sits in memory.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search.errors import VeilleError

__all__ = ["Article", "CorpusError", "parse_french_date", "read_corpus"]


@dataclass(frozen=True)
class Article:
    """One news article: its identity, its dates and its cleaned body paragraphs."""

    id: str
    title: str
    date: datetime.date | None
    source: str | None
    url: str | None
    paragraphs: tuple[str, ...]
    # Other JSON Lines fields, kept for display; never searched.
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=True)

    def __post_init__(self) -> None:
        # A list passed by a caller would make the article unhashable and mutable.
        if not isinstance(self.paragraphs, tuple):
            object.__setattr__(self, "paragraphs", tuple(self.paragraphs))

    @property
    def body(self) -> str:
        """The paragraphs joined by blank lines; passage offsets point into this string."""
        return "\n\n".join(self.paragraphs)


class CorpusError(VeilleError):
    """An article or a corpus file that cannot be read, with where and why."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        # All three go to Exception.args so that the error survives pickling
        # (multiprocessing indexing sends errors across processes).
        super().__init__(path, line, problem)
        self.path = path
        self.line = line
        self.problem = problem

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.problem}"
        return f"{self.path}, line {self.line}: {self.problem}"


# --- French dates ---------------------------------------------------------------------------

_MONTHS = {
    "janvier": 1,
    "janv": 1,
    "fevrier": 2,
    "fevr": 2,
    "fev": 2,
    "mars": 3,
    "avril": 4,
    "avr": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "juil": 7,
    "aout": 8,
    "septembre": 9,
    "sept": 9,
    "octobre": 10,
    "oct": 10,
    "novembre": 11,
    "nov": 11,
    "decembre": 12,
    "dec": 12,
}
_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAY_RE = "|".join(_WEEKDAYS)

_FRENCH_DATE = re.compile(
    rf"(?:(?:{_WEEKDAY_RE}),? )?(?P<day>\d{{1,2}})(?P<suffix>er)? "
    rf"(?P<month>{_MONTH_RE})\.? (?P<year>\d{{4}})"
)
_ISO_DATE = re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})")
# JSON Lines dates are machine-written: hold them to the strict form.
_STRICT_ISO_DATE = re.compile(r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})")
# What a date line starts with. A line that starts like this but does not parse is a broken
# date, not a title; "Dimanche noir pour les marchés" is a title (no number after the day).
_LOOKS_LIKE_DATE = re.compile(
    rf"(?:{_WEEKDAY_RE})\b,?(?: ?\d|$)"
    rf"|\d{{1,2}}(?:er)? (?:{_MONTH_RE})\b"
    r"|\d{4}-\d{1,2}-\d{1,2}"
)


def _fold_date_text(text: str) -> str:
    """Lowercase, drop accents and collapse spaces (NBSP included) so that dates compare."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def parse_french_date(text: str) -> datetime.date:
    """Parse a French date such as "dimanche 5 mai 2024", "1er janvier 2023" or "2024-05-05".

    The weekday is optional and not checked against the date; case and accents are ignored.
    Raises ValueError when the text is not a valid date.
    """
    folded = _fold_date_text(text)
    if match := _ISO_DATE.fullmatch(folded):
        year, month, day = int(match["year"]), int(match["month"]), int(match["day"])
    elif match := _FRENCH_DATE.fullmatch(folded):
        year, month, day = int(match["year"]), _MONTHS[match["month"]], int(match["day"])
        if match["suffix"] and day != 1:
            # "1er" is the only French ordinal day; "5er" is a typo, not the fifth.
            raise ValueError(f"{text!r} is not a valid French date")
    else:
        raise ValueError(f"{text!r} is not a valid French date")
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid French date") from None


def _looks_like_date(line: str) -> bool:
    return _LOOKS_LIKE_DATE.match(_fold_date_text(line)) is not None


# --- Paragraphs -----------------------------------------------------------------------------

# Scraper leftovers: a lone dash, and ad markers such as "- Advertisment -" (sic).
_BOILERPLATE = re.compile(
    r"[-–—]+|[-–—]*\s*(?:advertis(?:e)?ment|publicit[ée])\s*[-–—]*",
    re.IGNORECASE,
)


def _is_boilerplate(stripped_line: str) -> bool:
    return _BOILERPLATE.fullmatch(stripped_line) is not None


def _clean_paragraphs(lines: Iterable[str]) -> tuple[str, ...]:
    """Group lines into paragraphs at blank lines, join each one's lines with a space."""
    paragraphs: list[str] = []
    current: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped or _is_boilerplate(stripped):
            # An ad marker stands between paragraphs even when no blank line surrounds it.
            if current:
                paragraphs.append(" ".join(current))
                current = []
            continue
        current.append(stripped)
    if current:
        paragraphs.append(" ".join(current))
    return tuple(paragraphs)


# --- Files ----------------------------------------------------------------------------------

_SUFFIXES = (".txt", ".jsonl")


def _decode_line(raw: bytes, number: int, display: str) -> str:
    """Decode one line of a file as UTF-8 and drop its line break.

    Decoding line by line is what lets a bad byte be reported with its line number.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        # The column counts characters, as an editor does; the bytes before the bad one decode.
        column = len(raw[: error.start].decode("utf-8")) + 1
        problem = f"not valid UTF-8 (byte 0x{raw[error.start]:02x} at column {column})"
        raise CorpusError(display, number, problem) from None
    if number == 1:
        # Editors on Windows like to start UTF-8 files with a byte order mark.
        text = text.removeprefix("\ufeff")
    return text.rstrip("\r\n")


def _read_text_file(file: Path, display: str) -> Article:
    """Parse one article in the seed's format: date line, title line, then paragraphs."""
    with file.open("rb") as stream:
        lines = [
            (number, _decode_line(raw, number, display)) for number, raw in enumerate(stream, 1)
        ]
    # Leading blank lines and stray dashes come before the header, not in it.
    header = (
        (number, text.strip())
        for number, text in lines
        if text.strip() and not _is_boilerplate(text.strip())
    )
    no_title = CorpusError(display, None, "no title line (expected the date, then the title)")
    first = next(header, None)
    if first is None:
        raise no_title
    date: datetime.date | None = None
    title_line = first
    if _looks_like_date(first[1]):
        try:
            date = parse_french_date(first[1])
        except ValueError:
            problem = f"date {first[1]!r} is not a valid French date"
            raise CorpusError(display, first[0], problem) from None
        title_line = next(header, None)
        if title_line is None:
            raise no_title
    title_number, title = title_line
    paragraphs = _clean_paragraphs(text for number, text in lines if number > title_number)
    if not paragraphs:
        raise CorpusError(display, None, "no body text after the title")
    return Article(
        id=file.stem, title=title, date=date, source=None, url=None, paragraphs=paragraphs
    )


_RECORD_FIELDS = frozenset({"id", "title", "text", "date", "source", "url"})


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string"}.get(type(value), "a value")


def _required_text(record: dict[str, Any], name: str) -> str:
    if name not in record:
        raise ValueError(f"missing required field {name!r}")
    value = record[name]
    if not isinstance(value, str):
        raise ValueError(f"field {name!r} must be a string, got {_json_type(value)}")
    if not value.strip():
        raise ValueError(f"field {name!r} is empty")
    return value.strip()


def _optional_text(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"field {name!r} must be a string, got {_json_type(value)}")
    return value.strip() or None


def _article_from_record(record: object) -> Article:
    """Build an article from one decoded JSON line; ValueError says what is wrong with it."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {_json_type(record)}")
    if "id" not in record:
        raise ValueError("missing required field 'id'")
    raw_id = record["id"]
    # JSON booleans are ints to Python; an id of `true` is a mistake, not 1.
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        article_id = str(raw_id)
    elif isinstance(raw_id, str):
        article_id = raw_id.strip()
        if not article_id:
            raise ValueError("field 'id' is empty")
    else:
        raise ValueError(f"field 'id' must be a string or an integer, got {_json_type(raw_id)}")
    title = _required_text(record, "title")
    text = _required_text(record, "text")
    paragraphs = _clean_paragraphs(text.split("\n"))
    if not paragraphs:
        raise ValueError("no body text (field 'text' holds only boilerplate)")
    raw_date = _optional_text(record, "date")
    date = None
    if raw_date is not None:
        match = _STRICT_ISO_DATE.fullmatch(raw_date)
        try:
            if match is None:
                raise ValueError(raw_date)
            date = datetime.date(int(match["year"]), int(match["month"]), int(match["day"]))
        except ValueError:
            raise ValueError(
                f"date {raw_date!r} is not a valid ISO date (expected YYYY-MM-DD)"
            ) from None
    return Article(
        id=article_id,
        title=title,
        date=date,
        source=_optional_text(record, "source"),
        url=_optional_text(record, "url"),
        paragraphs=paragraphs,
        metadata={key: value for key, value in record.items() if key not in _RECORD_FIELDS},
    )


def _read_jsonl_file(file: Path, display: str) -> Iterator[tuple[int, Article | CorpusError]]:
    """Yield (line number, article or the error of that line), streaming the file."""
    with file.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            try:
                text = _decode_line(raw, number, display)
            except CorpusError as error:
                # A bad byte spoils its own line only.
                yield number, error
                continue
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                problem = f"invalid JSON: {error.msg} (column {error.colno})"
                yield number, CorpusError(display, number, problem)
                continue
            try:
                yield number, _article_from_record(record)
            except ValueError as error:
                yield number, CorpusError(display, number, str(error))


def _read_file(file: Path, display: str) -> Iterator[tuple[int | None, Article | CorpusError]]:
    """Yield (line number, article or error) for every article of one corpus file."""
    try:
        if file.suffix.lower() == ".jsonl":
            yield from _read_jsonl_file(file, display)
        else:
            yield None, _read_text_file(file, display)
    except CorpusError as error:
        yield error.line, error
    except OSError as error:
        yield None, CorpusError(display, None, f"cannot read the file ({error.strerror})")


def _is_ignored(name: str) -> bool:
    # A README describes the folder; it is never an article.
    return name.startswith(".") or name.split(".")[0].upper() == "README"


def _corpus_files(root: Path) -> list[Path]:
    """List the corpus files under root, sorted by their path relative to it."""
    if root.is_file():
        if root.suffix.lower() not in _SUFFIXES:
            raise CorpusError(str(root), None, "not a corpus file (expected .txt or .jsonl)")
        return [root]
    if not root.is_dir():
        raise CorpusError(str(root), None, "no such file or folder")
    found: list[Path] = []
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        found.extend(
            Path(folder, name)
            for name in names
            if not _is_ignored(name) and Path(name).suffix.lower() in _SUFFIXES
        )
    return sorted(found, key=lambda file: file.relative_to(root).parts)


def read_corpus(
    path: str | os.PathLike[str],
    *,
    skip_invalid: bool = False,
    on_skip: Callable[[CorpusError], None] | None = None,
) -> Iterator[Article]:
    """Yield the articles of a corpus file or folder, lazily, in a stable order.

    A folder is searched recursively for *.txt and *.jsonl files (hidden files and READMEs
    left out). A missing path raises CorpusError at once. An invalid article raises
    CorpusError when reading reaches it, unless skip_invalid is set: then it is left out and
    on_skip(error) is called (for a .txt file, the whole file is one article).
    """
    files = _corpus_files(Path(path))
    return _articles(files, skip_invalid=skip_invalid, on_skip=on_skip)


def count_articles(path: str | os.PathLike[str]) -> int:
    """Estimate how many articles a corpus holds, quickly, for a progress display.

    A text file is one article; a JSON Lines file, one a non-blank line (counted a megabyte
    at a time, never parsed). Raises CorpusError for a missing path, like read_corpus.
    """
    total = 0
    for file in _corpus_files(Path(path)):
        if file.suffix.lower() != ".jsonl":
            total += 1
            continue
        with open(file, "rb") as f:
            last = b"\n"
            while chunk := f.read(1 << 20):
                total += chunk.count(b"\n") - chunk.count(b"\n\n")
                last = chunk[-1:]
            total += last != b"\n"
    return total


def _articles(
    files: list[Path],
    *,
    skip_invalid: bool,
    on_skip: Callable[[CorpusError], None] | None,
) -> Iterator[Article]:
    # Where each id was first seen, to name it when a later article reuses the id.
    seen: dict[str, tuple[str, int | None]] = {}
    for file in files:
        display = str(file)
        for line, item in _read_file(file, display):
            if isinstance(item, Article):
                first = seen.get(item.id)
                if first is None:
                    seen[item.id] = (display, line)
                    yield item
                    continue
                where = first[0] if first[1] is None else f"{first[0]}, line {first[1]}"
                item = CorpusError(
                    display, line, f"duplicate article id {item.id!r} (first seen in {where})"
                )
            if not skip_invalid:
                raise item
            if on_skip is not None:
                on_skip(item)
