"""Read articles from the corpus: the seed's text format, JSON Lines and saved web pages.

Pure: no whoosh, no flask. Files are read lazily, one article (or one JSON line) at a time,
so a corpus of hundreds of megabytes never sits in memory.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import stat
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search.dates import local_moment, looks_like_date, parse_french_date, parse_french_moment
from search.errors import VeilleError

__all__ = ["Article", "CorpusError", "parse_french_date", "read_corpus"]


def _without_nul(text: str | None) -> str | None:
    """The text with each NUL a space: no character of a text (a search node cannot even
    store one), and the analysis reads it as a space. The readers apply it before they
    strip and check a field; an Article applies it to what it is given."""
    return text.replace("\0", " ") if text is not None and "\0" in text else text


@dataclass(frozen=True)
class Article:
    """One news article: its identity, its date and its cleaned body paragraphs.

    ``time`` is the time of day it was published, to the minute, where its date is (a
    ``datetime`` given as the date gives both). It orders a day's articles, newest first.
    """

    id: str
    title: str
    date: datetime.date | None
    source: str | None
    url: str | None
    paragraphs: tuple[str, ...]
    # Other JSON Lines fields, kept for display; never searched.
    metadata: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=True)
    time: datetime.time | None = None

    def __post_init__(self) -> None:
        if isinstance(self.date, datetime.datetime):
            day, time = local_moment(self.date)
            object.__setattr__(self, "date", day)
            object.__setattr__(self, "time", self.time or time)
        if not isinstance(self.metadata, Mapping):
            raise ValueError(f"article {str(self.id)[:80]!r}: the metadata must be a mapping")
        # A copy: the caller's dict changed later changes nothing of a checked article.
        object.__setattr__(self, "metadata", dict(self.metadata))
        if not isinstance(self.paragraphs, str | bytes):  # a list, a generator: a tuple
            try:
                object.__setattr__(self, "paragraphs", tuple(self.paragraphs))
            except TypeError:
                raise ValueError(f"article {str(self.id)[:80]!r}: {_NOT_PARAGRAPHS}") from None
        if problem := _article_problem(self):
            raise ValueError(f"article {str(self.id)[:80]!r}: {problem}")
        if self.time is not None:
            object.__setattr__(self, "time", self.time.replace(second=0, microsecond=0))
        # Paragraphs in a tuple (a list would make the article unhashable and mutable), and
        # no NUL in what is stored.
        object.__setattr__(self, "paragraphs", tuple(map(_without_nul, self.paragraphs)))
        for name in ("title", "source", "url"):
            object.__setattr__(self, name, _without_nul(getattr(self, name)))
        category = self.metadata.get("category")
        if isinstance(category, str) and "\0" in category:
            object.__setattr__(
                self, "metadata", {**self.metadata, "category": _without_nul(category)}
            )

    @property
    def category(self) -> str | None:
        """The article's section (a JSON Lines ``category``, a page's section), if any."""
        value = self.metadata.get("category")
        return value.strip() or None if isinstance(value, str) else None

    @property
    def body(self) -> str:
        """The paragraphs joined by blank lines; passage offsets point into this string."""
        return "\n\n".join(self.paragraphs)

    def content_hash(self) -> str:
        """A digest of the article as given, every field and paragraph: an update skips
        an article whose digest has not changed (and replaces one whose section has)."""
        h = hashlib.blake2b(digest_size=16)
        for part in (self.id, self.title, str(self.date), self.source, self.url):
            h.update(str(part).encode() + b"\x00")
        if self.time is not None:  # an article without one keeps its digest
            h.update(f"time {self.time:%H:%M}".encode() + b"\x00")
        for paragraph in self.paragraphs:
            h.update(paragraph.encode() + b"\x00")
        others = json.dumps(self.metadata, sort_keys=True, ensure_ascii=False, default=str)
        h.update(others.encode("utf-8", "surrogatepass"))
        return h.hexdigest()


_NOT_PARAGRAPHS = "the paragraphs must be a sequence of texts (one text per paragraph)"


def _article_problem(article: Article) -> str | None:
    """Say what makes an article unusable (the corpus reader's rules), or None."""
    if not isinstance(article.id, str):
        return "the id must be text"
    if problem := _id_problem(article.id):
        return problem
    if not isinstance(article.title, str) or not article.title.strip():
        return "the title must be text, not empty"
    if article.date is not None and not isinstance(article.date, datetime.date):
        return f"the date must be a datetime.date or None, not {type(article.date).__name__}"
    if article.time is not None:
        if not isinstance(article.time, datetime.time) or article.time.tzinfo is not None:
            return "the time must be a datetime.time without a time zone, or None"
        if article.date is None:
            return "a time of day needs a date"
    if any(v is not None and not isinstance(v, str) for v in (article.source, article.url)):
        return "the source and the url must be text or None"
    paragraphs = article.paragraphs
    if isinstance(paragraphs, str) or not all(isinstance(p, str) for p in paragraphs):
        return _NOT_PARAGRAPHS
    if not any(p.strip() for p in paragraphs):
        return "no body text"
    for name, text in (("title", article.title), ("source", article.source), ("url", article.url)):
        if text is not None and (character := _invalid_character(text)):
            return f"the {name} holds {character}"
    for number, paragraph in enumerate(paragraphs, 1):
        if character := _invalid_character(paragraph):
            return f"paragraph {number} holds {character}"
    category = article.metadata.get("category")
    if isinstance(category, str) and (character := _invalid_character(category)):
        return f"the category holds {character}"
    return None


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


# JSON Lines dates are machine-written: hold them to the strict form.
_STRICT_ISO_DATE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"(?P<time>[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?"
)


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


# --- Ids and characters ---------------------------------------------------------------------

# Python strings may hold lone surrogates (JSON's "\ud83d" escape, a file name that is not
# UTF-8); no encoder writes them, so the index would fail on them far from their line.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_ID_FORBIDDEN = ("#", "?", "\\")
# What an id may be, said in every error about one: ids are paths in /articles/<id>.
_ID_RULE = (
    "an id is segments joined by single '/', none of them '.' or '..', "
    "with no '#', '?', '\\' or control character and no space at either end"
)


def _invalid_character(text: str) -> str | None:
    """Say which character of text cannot be written as UTF-8, or None when all can."""
    if match := _LONE_SURROGATE.search(text):
        return f"an invalid character (lone surrogate U+{ord(match[0]):04X})"
    return None


def _id_flaw(article_id: str) -> str | None:
    """Say what makes an id ambiguous in a link such as /articles/<id>, or None if nothing."""
    if not article_id.strip():
        return "is empty"
    if character := _invalid_character(article_id):
        return f"contains {character}"
    if control := next((c for c in article_id if unicodedata.category(c) == "Cc"), None):
        return f"contains a control character (U+{ord(control):04X})"
    if article_id != article_id.strip():
        return "starts or ends with a space"
    if forbidden := next((c for c in _ID_FORBIDDEN if c in article_id), None):
        return f"contains '{forbidden}'"
    if "//" in article_id:
        return "contains '//'"
    if article_id.startswith("/") or article_id.endswith("/"):
        return "starts or ends with '/'"
    # Browsers and servers resolve "." and ".." in a path: the link would lead elsewhere.
    if dots := next((s for s in article_id.split("/") if s in {".", ".."}), None):
        return f"has a '{dots}' segment"
    return None


def _id_problem(article_id: str) -> str | None:
    """Say why an id cannot be used in a link, with the rule, or None when it can."""
    flaw = _id_flaw(article_id)
    return None if flaw is None else f"id {article_id!r} {flaw} ({_ID_RULE})"


# --- Files ----------------------------------------------------------------------------------

_SUFFIXES = (".txt", ".jsonl", ".html", ".htm")
_HTML_SUFFIXES = (".html", ".htm")


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
    if problem := _id_problem(file.stem):
        rename = "rename the file (its name without .txt is the id)"
        raise CorpusError(display, None, f"{problem}; {rename}")
    with file.open("rb") as stream:
        lines = [
            (number, _without_nul(_decode_line(raw, number, display)))
            for number, raw in enumerate(stream, 1)
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
    time: datetime.time | None = None
    title_line = first
    if looks_like_date(first[1]):
        try:
            date, time = parse_french_moment(first[1])
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
        id=file.stem,
        title=title,
        date=date,
        source=None,
        url=None,
        paragraphs=paragraphs,
        time=time,
    )


def _read_html_file(file: Path, display: str) -> Article:
    """Read a saved web page: its article extracted by trafilatura, the file name its id."""
    if problem := _id_problem(file.stem):
        rename = f"rename the file (its name without {file.suffix} is the id)"
        raise CorpusError(display, None, f"{problem}; {rename}")
    from search.ingest.pages import decode_html, extract_page  # trafilatura: only for pages

    page = extract_page(decode_html(file.read_bytes()))
    if not page.paragraphs:
        raise CorpusError(display, None, "no article text found in the page")
    if not page.title:
        raise CorpusError(display, None, "no title found in the page (<title>, <h1>, og:title)")
    return Article(
        id=file.stem,
        title=page.title,
        date=page.date,
        source=page.site,
        url=page.url,
        paragraphs=page.paragraphs,
        metadata=page.metadata(),
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
    value = _without_nul(value)
    if not value.strip():
        raise ValueError(f"field {name!r} is empty")
    return value.strip()


def _optional_text(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"field {name!r} must be a string, got {_json_type(value)}")
    return _without_nul(value).strip() or None


# Deeper records are refused: nothing in an article needs them, and sending one to a build
# worker (pickling) would hit Python's recursion limit.
_MAX_DEPTH = 100


def _value_flaw(value: object) -> str | None:
    """Say what makes a decoded JSON value unusable (bad character, too deep), or None."""
    # Iterative, so that checking depth cannot itself exhaust the recursion limit.
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            if character := _invalid_character(item):
                return f"contains {character}"
        elif isinstance(item, dict | list):
            if depth >= _MAX_DEPTH:
                return f"is nested more than {_MAX_DEPTH} levels deep"
            children = [*item, *item.values()] if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return None


def _record_problem(record: dict[str, Any]) -> str | None:
    """Say which field of a record holds an unusable value, or None when all are usable."""
    for key, value in record.items():
        if character := _invalid_character(key):
            return f"field name {key!r} contains {character}"
        if flaw := _value_flaw(value):
            return f"field {key!r} {flaw}"
    return None


def _record_id(record: dict[str, Any]) -> str:
    """Return the record's id as a string; ValueError says what is wrong with it."""
    if "id" not in record:
        raise ValueError("missing required field 'id'")
    raw_id = record["id"]
    # JSON booleans are ints to Python; an id of `true` is a mistake, not 1.
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        return str(raw_id)
    if not isinstance(raw_id, str):
        raise ValueError(f"field 'id' must be a string or an integer, got {_json_type(raw_id)}")
    if not raw_id.strip():
        raise ValueError("field 'id' is empty")
    if problem := _id_problem(raw_id):
        raise ValueError(problem)
    return raw_id


def _article_from_record(record: object) -> Article:
    """Build an article from one decoded JSON line; ValueError says what is wrong with it."""
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {_json_type(record)}")
    if problem := _record_problem(record):
        raise ValueError(problem)
    article_id = _record_id(record)
    title = _required_text(record, "title")
    text = _required_text(record, "text")
    paragraphs = _clean_paragraphs(text.split("\n"))
    if not paragraphs:
        raise ValueError("no body text (field 'text' holds only boilerplate)")
    date, time = _record_moment(_optional_text(record, "date"))
    _optional_text(record, "category")  # a section is text, as a source is
    return Article(
        id=article_id,
        title=title,
        date=date,
        source=_optional_text(record, "source"),
        url=_optional_text(record, "url"),
        paragraphs=paragraphs,
        metadata={key: value for key, value in record.items() if key not in _RECORD_FIELDS},
        time=time,
    )


def _record_moment(raw: str | None) -> tuple[datetime.date | None, datetime.time | None]:
    """A record's date, and its time of day when it has one (an ISO date and time, in its
    zone or Paris's for UTC); ValueError says what is wrong with it."""
    if raw is None:
        return None, None
    match = _STRICT_ISO_DATE.fullmatch(raw)
    try:
        if match is None:
            raise ValueError(raw)
        date = datetime.date(int(match["year"]), int(match["month"]), int(match["day"]))
        if match["time"] is None:
            return date, None
        return local_moment(datetime.datetime.fromisoformat(raw))
    except ValueError:
        expected = "YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        raise ValueError(f"date {raw!r} is not a valid ISO date (expected {expected})") from None


def _load_json(text: str) -> object:
    """Decode one JSON line; ValueError says what is wrong with it."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON: {error.msg} (column {error.colno})") from None
    except ValueError:
        # json's only other ValueError: an integer past Python's int conversion limit.
        limit = sys.get_int_max_str_digits()
        raise ValueError(f"invalid JSON: a number has more than {limit} digits") from None
    except RecursionError:
        raise ValueError(f"invalid JSON: nested more than {_MAX_DEPTH} levels deep") from None


def _read_jsonl_line(raw: bytes, number: int, display: str) -> Article | CorpusError | None:
    """Read one line of a JSON Lines file: its article, its error, or None when blank."""
    # Every error becomes the line's: a bad line spoils its own line only.
    try:
        text = _decode_line(raw, number, display)
        if not text.strip():
            return None
        return _article_from_record(_load_json(text))
    except CorpusError as error:
        return error
    except ValueError as error:
        return CorpusError(display, number, str(error))


def _read_jsonl_file(file: Path, display: str) -> Iterator[tuple[int, Article | CorpusError]]:
    """Yield (line number, article or the error of that line), streaming the file."""
    with file.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            item = _read_jsonl_line(raw, number, display)
            if item is not None:
                yield number, item


def _read_file(file: Path, display: str) -> Iterator[tuple[int | None, Article | CorpusError]]:
    """Yield (line number, article or error) for every article of one corpus file."""
    try:
        if not stat.S_ISREG(file.stat().st_mode):  # a pipe or a device would never end
            raise CorpusError(display, None, "not a regular file")
        if file.suffix.lower() == ".jsonl":
            yield from _read_jsonl_file(file, display)
        elif file.suffix.lower() in _HTML_SUFFIXES:
            yield None, _read_html_file(file, display)
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
            expected = "expected .txt, .jsonl or .html"
            raise CorpusError(str(root), None, f"not a corpus file ({expected})")
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

    A folder is searched recursively for *.txt, *.jsonl and *.html (or *.htm) files (hidden
    files and READMEs left out); a saved web page is one article, extracted by trafilatura.
    A missing path raises CorpusError at once. An invalid article raises CorpusError when
    reading reaches it, unless skip_invalid is set: then it is left out and on_skip(error)
    is called (for a .txt or .html file, the whole file is one article). An id must be
    usable as the path of a link: segments joined by single '/', none of them '.' or '..',
    with no '#', '?', '\\' or control character and no space at either end.
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
        try:
            if not stat.S_ISREG(file.stat().st_mode):
                continue
            with open(file, "rb") as f:
                last = b"\n"
                while chunk := f.read(1 << 20):
                    total += chunk.count(b"\n") - chunk.count(b"\n\n")
                    last = chunk[-1:]
                total += last != b"\n"
        except OSError:
            continue  # the reading says what is wrong with it
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
