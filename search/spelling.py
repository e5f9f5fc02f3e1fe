"""Spelling suggestions from the corpus's own words, as written (accents kept).

Candidates are the corpus's words within one edit, then two, of the typed word; the closest
wins once accents are set aside, then the most frequent. Typos rarely touch a word's first
letters, so the vocabulary is searched from them (and from the first letter's accented
forms), which keeps it fast on a large vocabulary.
"""

from __future__ import annotations

import math
import time

from .analysis import exact_terms, fold_accents
from .backends.base import Reader
from .querying import ParsedQuery

# The accented forms of a first letter, for words typed without their accent.
_ACCENTED = {"e": "éèê", "a": "àâ", "i": "î", "o": "ô", "u": "û", "c": "ç"}


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (words are short: the plain dynamic programme will do)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


# Words corrected in one query at most: a suggestion is for a few typed words.
MAX_CORRECTED = 5


def suggest(reader: Reader, query: ParsedQuery, deadline: float = math.inf) -> str | None:
    """The query with its unknown words replaced by the corpus's likeliest words, or None.

    At most MAX_CORRECTED words are looked up, none past the deadline (``time.monotonic()``).
    """
    text = query.text
    changed = False
    tried = 0
    for word in query.typed_words:
        if tried >= MAX_CORRECTED or time.monotonic() > deadline:
            break
        exact = exact_terms(word)
        if len(exact) != 1 or not word.isalpha() or len(word) < 3:
            continue
        if reader.word_is_known(exact[0]):
            continue
        tried += 1
        best = closest_word(reader, word.lower())
        if best is None:
            continue
        if word[:1].isupper():
            best = best.upper() if word.isupper() and len(word) > 1 else best.capitalize()
        text = text.replace(word, best, 1)
        changed = True
    return text if changed else None


def closest_word(reader: Reader, word: str) -> str | None:
    """The corpus's word closest to ``word`` (two edits at most), or None."""
    starts = [word] + [v + word[1:] for v in _ACCENTED.get(fold_accents(word[0]), "")]
    for max_edits, prefix in ((1, 1), (2, 2)):
        if max_edits == 2 and len(word) <= 4:
            break
        candidates = {
            c
            for start in starts
            for c in reader.spelling_candidates(start, max_edits, prefix)
            if c != word
        }
        if candidates:
            plain = fold_accents(word)
            return min(
                candidates,
                key=lambda c: (
                    edit_distance(fold_accents(c), plain),
                    -reader.spelling_frequency(c),
                    c,
                ),
            )
    return None
