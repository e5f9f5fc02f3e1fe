"""Snippets: a passage's text, HTML-escaped, with <mark> around what the query matched.

Pure functions of text and a Highlights value. The passage is analyzed with the same
French chain as the index, so a match is marked in its original form (``élections`` for the
query ``election``); a quoted phrase is marked only where it occurs, as one unit; matches
separated only by spaces merge into one ``<mark>``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from functools import lru_cache

from .analysis import capital_term, fold_accents, stem, words_analyzer
from .querying import Highlights

ELLIPSIS = "…"
# The index's chain up to its stop words (2ème is marked for 2e, as the index reads it).
_words_chain = words_analyzer()


def _words(text: str) -> list[tuple[str, int, int, str]]:
    """(word lowercased, start, end, word as written) for each word of the text, stop words
    included."""
    return [(t.text, t.startchar, t.endchar, t.written) for t in _words_chain(text)]


@lru_cache(maxsize=200_000)
def _stems(word: str, written: str) -> frozenset[str]:
    # The terms the index makes: the stems of the word as written and without accents,
    # and an acronym's or a Roman ordinal's own.
    plain = fold_accents(word)
    capital = capital_term(written)
    stems = (fold_accents(stem(word)), stem(plain))
    return frozenset((*stems, capital) if capital else stems)


def match_spans(text: str, highlights: Highlights) -> list[tuple[int, int]]:
    """Character spans of the text that the query matched, sorted and merged."""
    words = _words(text)
    folded = [fold_accents(w) for w, _, _, _ in words]
    spans = []
    for i, (word, start, end, written) in enumerate(words):
        plain = folded[i]
        if (
            plain in highlights.words
            or (highlights.stems and _stems(word, written) & highlights.stems)
            or any(plain.startswith(p) for p in highlights.prefixes)
        ):
            spans.append((start, end))
    for phrase in (*highlights.phrases, *highlights.phrase_forms):
        n = len(phrase)
        for i in range(len(words) - n + 1):
            if tuple(folded[i : i + n]) == phrase:
                spans.append((words[i][1], words[i + n - 1][2]))
    return _merge(text, spans)


def _merge(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and (start <= merged[-1][1] or not text[merged[-1][1] : start].strip()):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def mark(text: str, spans: list[tuple[int, int]], start: int = 0, end: int | None = None) -> str:
    """HTML-escape text[start:end] with <mark> around the spans inside it."""
    end = len(text) if end is None else end
    out = []
    cursor = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(html.escape(text[cursor:s], quote=False))
        out.append("<mark>" + html.escape(text[s:e], quote=False) + "</mark>")
        cursor = e
    out.append(html.escape(text[cursor:end], quote=False))
    return "".join(out)


def _window(text: str, spans: list[tuple[int, int]], max_chars: int) -> tuple[int, int]:
    """The stretch of at most max_chars holding the most matches, cut at word boundaries."""
    if len(text) <= max_chars:
        return 0, len(text)
    best_start, best_count = 0, 0
    for i, (s, _) in enumerate(spans):
        count = sum(1 for s2, e2 in spans[i:] if e2 <= s + max_chars)
        if count > best_count:
            best_start, best_count = s, count
    # Some context before the first match, up to a fifth of the window.
    start = max(0, best_start - max_chars // 5) if spans else 0
    end = min(len(text), start + max_chars)
    start = max(0, end - max_chars)
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < best_start else start
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    return start, end


def snippet(text: str, highlights: Highlights, max_chars: int | None = 300) -> str:
    """The best fragment of a passage, HTML-escaped, matches in <mark>, cuts shown by …."""
    spans = match_spans(text, highlights)
    if max_chars is None:
        return mark(text, spans)
    start, end = _window(text, spans, max_chars)
    body = mark(text, spans, start, end).strip()
    return (
        (ELLIPSIS + " " if start > 0 else "") + body + (" " + ELLIPSIS if end < len(text) else "")
    )
