"""Cut an article's body into passages: paragraphs, long ones cut at French sentence ends.

Pure: takes an Article, returns values; no whoosh. Every passage keeps its character offsets
in the article body, so that a hit can point at it and the article page can highlight it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from search.corpus import Article

__all__ = ["Passage", "split_passages", "split_sentences"]


@dataclass(frozen=True)
class Passage:
    """A searchable piece of an article: its text and where it sits in the article body."""

    article_id: str
    position: int
    text: str
    start: int
    end: int


# --- Sentences ------------------------------------------------------------------------------

_TERMINATOR = re.compile(r"[.!?…]+")
# Closing marks that may follow the terminator: « Il part. » Puis… ; French sets them off
# with a (non-breaking) space.
_CLOSER = re.compile(r"\s*[»”\"’')\]]")
_GAP = re.compile(r"\s+")
_OPENING_QUOTES = frozenset("«\"“‘'")

# Abbreviations whose period does not end a sentence. Titles are matched with their case
# ("M." is monsieur, "m." after a number is metres and may well end a sentence).
# fmt: off
_TITLES = frozenset({
    "M", "MM", "Mme", "Mmes", "Mlle", "Mlles", "Me", "Mgr", "Dr", "Drs", "Pr", "Prs",
    "St", "Ste", "Sts", "Stes", "Cie", "Jr", "Sr",
})
_ABBREVIATIONS = frozenset({
    "etc", "cf", "av", "apr", "env", "p", "pp", "vol", "art", "chap", "fig", "éd", "coll",
    "ex", "réf", "tél", "no", "n°", "nº", "vs",
})
# fmt: on


_LONGEST_WORD = 20


def _starts_sentence(char: str) -> bool:
    return char.isupper() or char.isdigit() or char in _OPENING_QUOTES


def _is_abbreviation(text: str, period: int) -> bool:
    """Whether the period at text[period] closes an abbreviation or an initial."""
    # Abbreviations and initials are short: looking further back would only cost time on
    # long unbroken runs such as "a.b.c.d.…".
    limit = max(0, period - _LONGEST_WORD)
    start = period
    while start > limit and not text[start - 1].isspace() and text[start - 1] not in '(«"“[':
        start -= 1
    word = text[start:period]
    if word in _TITLES or word.casefold() in _ABBREVIATIONS:
        return True
    # "J. Dupont", "D.G.S.N.", "J.-C.": the last piece is a single capital letter.
    last = re.split(r"[.\-]", word)[-1]
    return len(last) == 1 and last.isupper()


def _sentence_end(text: str, match: re.Match[str]) -> int | None:
    """Where the sentence ends if this terminator ends one, else None."""
    # Try the longest run of closing marks first, then fewer: a straight quote may close
    # this sentence or open the next one.
    ends = [match.end()]
    while closer := _CLOSER.match(text, ends[-1]):
        ends.append(closer.end())
    for end in reversed(ends):
        gap = _GAP.match(text, end)
        if gap and gap.end() < len(text) and _starts_sentence(text[gap.end()]):
            if match.group() == "." and _is_abbreviation(text, match.start()):
                return None
            return end
    return None


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Return the (start, end) spans of the sentences of text, without surrounding spaces.

    A sentence ends at . ! ? or … (and any closing quote) followed by a space and an
    uppercase letter, a digit or an opening quote; the period of "M.", "etc.", "J.-C." or
    an initial does not end one. French spaces before ? and ! are part of the sentence.
    """
    spans: list[tuple[int, int]] = []
    start = _skip_space(text, 0)
    for match in _TERMINATOR.finditer(text):
        if match.start() < start:
            continue
        end = _sentence_end(text, match)
        if end is None:
            continue
        spans.append((start, end))
        start = _skip_space(text, end)
    end = _strip_end(text, len(text))
    if start < end:
        spans.append((start, end))
    return spans


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index].isspace():
        index += 1
    return index


def _strip_end(text: str, index: int) -> int:
    while index > 0 and text[index - 1].isspace():
        index -= 1
    return index


# --- Passages -------------------------------------------------------------------------------

# Spaces a line may be broken at; NBSP and its kin glue "Vraiment ?" and "« Oui »" together.
_NON_BREAKING = frozenset("\u00a0\u202f\u2007\u2060")


def _good_break(text: str, index: int) -> bool:
    """Whether a line may break at text[index]: a breaking space not right after "M." & co."""
    if not text[index].isspace() or text[index] in _NON_BREAKING:
        return False
    return not (text[index - 1] == "." and _is_abbreviation(text, index - 1))


def _cut_long_sentence(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut one over-long sentence at the last space before max_chars, repeatedly."""
    pieces: list[tuple[int, int]] = []
    while end - start > max_chars:
        # A space right at start + max_chars still leaves a piece of max_chars characters.
        window = range(start + max_chars, start, -1)
        cut = next((i for i in window if _good_break(text, i)), None)
        if cut is None:
            cut = next((i for i in window if text[i].isspace()), None)
        if cut is None:
            # One unbroken run of characters (a URL, a table): cut it where it must be cut.
            cut = start + max_chars
        pieces.append((start, _strip_end(text, cut)))
        start = _skip_space(text, cut)
    pieces.append((start, end))
    return pieces


def _cut_paragraph(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Cut text[start:end] into pieces of at most max_chars, at sentence ends where possible."""
    if end - start <= max_chars:
        return [(start, end)]
    units: list[tuple[int, int]] = []
    for sentence_start, sentence_end in split_sentences(text[start:end]):
        units.extend(
            _cut_long_sentence(text, start + sentence_start, start + sentence_end, max_chars)
        )
    # Greedy packing: each piece takes as many whole sentences as fit.
    pieces: list[tuple[int, int]] = []
    for unit_start, unit_end in units:
        if pieces and unit_end - pieces[-1][0] <= max_chars:
            pieces[-1] = (pieces[-1][0], unit_end)
        else:
            pieces.append((unit_start, unit_end))
    return pieces


def split_passages(
    article: Article, *, max_chars: int = 1000, min_chars: int = 60
) -> list[Passage]:
    """Cut an article's body into passages whose text is article.body[start:end].

    A passage is a paragraph. A paragraph longer than max_chars is cut at sentence ends; a
    paragraph shorter than min_chars joins the passage before it (the first one joins the
    next), as long as the joined passage stays within max_chars.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be at least 1, got {max_chars}")
    if min_chars < 0:
        raise ValueError(f"min_chars must not be negative, got {min_chars}")
    body = article.body
    # (start, end, built only from short paragraphs and still short) for each passage.
    merged: list[tuple[int, int, bool]] = []
    offset = 0
    for paragraph in article.paragraphs:
        # Paragraphs from read_corpus are stripped; one built by hand may not be.
        start = offset + len(paragraph) - len(paragraph.lstrip())
        end = offset + len(paragraph.rstrip())
        offset += len(paragraph) + 2  # the "\n\n" that body puts between paragraphs
        if start >= end:
            continue
        short = end - start < min_chars
        for piece_start, piece_end in _cut_paragraph(body, start, end, max_chars):
            if merged:
                previous_start, _, previous_short = merged[-1]
                if (short or previous_short) and piece_end - previous_start <= max_chars:
                    still_short = (
                        previous_short and short and piece_end - previous_start < min_chars
                    )
                    merged[-1] = (previous_start, piece_end, still_short)
                    continue
            merged.append((piece_start, piece_end, short))
    return [
        Passage(article.id, position, body[start:end], start, end)
        for position, (start, end, _) in enumerate(merged)
    ]
