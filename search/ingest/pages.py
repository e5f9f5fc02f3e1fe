"""An HTML page as text, then as an article: charset first, then trafilatura's extraction.

Used by `veille fetch` for the pages it downloads and by the corpus reader for saved
``.html`` pages. trafilatura is imported when a page is first extracted (it takes a tenth of
a second to import), never by ``import search``.
"""

from __future__ import annotations

import codecs
import datetime
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Extracted", "consent_wall", "decode_html", "extract_page"]

# Less extracted text than this is the page's chrome (a menu, a cookie notice), not an
# article: the fetcher then falls back to what the feed says of the item.
MIN_TEXT = 40

# A cookie or consent notice (« Nous et nos partenaires utilisons des cookies… Accepter,
# Refuser »): a short text that names cookies or trackers, with two more of such a notice's
# words, and that does not tell the feed item's story, is such a notice, not the article.
_TRACKERS = re.compile(r"\b(cookies?|traceurs?)\b", re.IGNORECASE)
_CONSENT = re.compile(
    r"\b(consentement|vie privée|données personnelles|partenaires|confidentialité"
    r"|accepter|refuser|paramétrer|personnaliser)\b",
    re.IGNORECASE,
)
_CONSENT_MAX_TEXT = 1500
_WORD = re.compile(r"[^\W\d_]{4,}")


def consent_wall(title: str | None, paragraphs: tuple[str, ...], story: str | None) -> bool:
    """Whether a page's text is a consent notice, not the article: under 1,500 characters,
    naming cookies or trackers and two more of a notice's words, and holding under a quarter
    of the longer words of the ``story`` (the feed item's title) when there is one. The
    page's title is left out of that count: a notice keeps the article's title."""
    text = " ".join(paragraphs)
    if len(text) > _CONSENT_MAX_TEXT or not _TRACKERS.search(text):
        return False
    if len({word.lower() for word in _CONSENT.findall(f"{title or ''} {text}")}) < 2:
        return False
    told = {word.lower() for word in _WORD.findall(story or "")}
    held = {word.lower() for word in _WORD.findall(text)}
    return not told or len(told & held) * 4 < len(told)


_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml\b[^>]*?encoding\s*=\s*["']([\w.:-]+)""")
# Labels browsers read as Windows-1252 (the WHATWG Encoding Standard): pages labelled
# ISO-8859-1 use its curly quotes and œ all the same.
_WINDOWS_1252 = frozenset({"cp1252", "iso8859-1", "ascii"})
_SINGLE_BYTE = frozenset({"cp1252", "iso8859-15"})


def _codec(label: str | bytes | None) -> str | None:
    if isinstance(label, bytes):
        label = label.decode("ascii", "replace")
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    return "cp1252" if name in _WINDOWS_1252 else name


def _declared(body: bytes, content_type: str | None) -> str | None:
    """The charset the HTTP header declares, else the page's meta tag or XML declaration."""
    header = _HEADER_CHARSET.search(content_type or "")
    if header and (codec := _codec(header[1])):
        return codec
    head = body[:4096]
    for pattern in (_META_CHARSET, _XML_ENCODING):
        if (match := pattern.search(head)) and (codec := _codec(match[1])):
            return codec
    return None


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """The page's text: a byte order mark, else the declared charset, else detection.

    Detection: UTF-8 if the bytes are valid UTF-8, else Windows-1252 (what a French page
    without a declaration is written in). A declared single-byte charset loses to valid
    non-ASCII UTF-8: that mislabelling is common, and the other way round never decodes.
    """
    for bom, name in _BOMS:
        if body.startswith(bom):
            return body[len(bom) :].decode(name, "replace")
    declared = _declared(body, content_type)
    if declared is not None and declared not in _SINGLE_BYTE:
        try:
            return body.decode(declared)
        except (UnicodeDecodeError, LookupError):
            pass  # a wrong declaration: detect
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return body.decode(declared if declared in _SINGLE_BYTE else "cp1252")
    except UnicodeDecodeError:
        return body.decode("latin-1")  # decodes any bytes: five of them cp1252 leaves undefined


@dataclass(frozen=True)
class Extracted:
    """What trafilatura found in a page; empty fields when it found nothing."""

    title: str | None
    paragraphs: tuple[str, ...]
    date: datetime.date | None
    author: str | None
    section: str | None
    url: str | None  # the page's own (canonical) URL, when it says it
    site: str | None

    def metadata(self) -> Mapping[str, str]:
        """Author and section, for an Article's metadata."""
        fields = {"author": self.author, "section": self.section}
        return {name: value for name, value in fields.items() if value}


def _one_line(text: str | None) -> str | None:
    return (" ".join(text.split()) or None) if text else None


def _iso_date(text: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def _paragraphs(text: str | None, title: str | None) -> tuple[str, ...]:
    lines = [line for line in (_one_line(raw) for raw in (text or "").split("\n")) if line]
    if lines and title and lines[0] == title:
        lines = lines[1:]  # the page's <h1>, already the title
    if sum(len(line) for line in lines) < MIN_TEXT:
        return ()
    return tuple(lines)


def _quiet_extractor_logs() -> None:
    # trafilatura logs an ERROR for a page it cannot parse; Veille says what went wrong
    # itself, in one line. A NullHandler keeps Python's last-resort handler from printing
    # those records, and leaves them to the application's own logging if it has some.
    for name in ("trafilatura", "htmldate", "courlan", "justext"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())


def extract_page(html: str, url: str | None = None) -> Extracted:
    """The article in an HTML page: title, paragraphs without the page's chrome, metadata.

    ``paragraphs`` is empty when the page holds no article text.
    """
    import trafilatura

    _quiet_extractor_logs()
    document = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        # The publication date the page states, not one guessed from its text.
        date_extraction_params={"extensive_search": False, "original_date": True},
    )
    if document is None:
        return Extracted(None, (), None, None, None, None, None)
    title = _one_line(document.title)
    categories = [c for c in (_one_line(c) for c in document.categories or ()) if c]
    return Extracted(
        title=title,
        paragraphs=_paragraphs(document.text, title),
        date=_iso_date(document.date),
        author=_one_line(document.author),
        section=categories[0] if categories else None,
        url=_one_line(document.url),
        site=_one_line(document.sitename),
    )
