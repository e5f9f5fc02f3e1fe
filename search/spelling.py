"""Spelling suggestions from the corpus's own words, as written (accents kept).

Candidates are the corpus's words within one edit, then two, of the typed word; the closest
wins once accents are set aside, then the most frequent. Typos rarely touch a word's first
letters, so the vocabulary is searched from them (and from the first letter's accented
forms), which keeps it fast on a large vocabulary.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from dataclasses import replace

from .analysis import exact_terms, fold_accents, hyphenated_words, query_terms
from .backends.base import Reader
from .querying import All, Any, Not, ParsedQuery, Term

# The accented forms of a first letter, for words typed without their accent.
_ACCENTED = {"e": "éèê", "a": "àâ", "i": "î", "o": "ô", "u": "û", "c": "ç"}


def edit_distance(a: str, b: str) -> int:
    """Edits from a to b: a letter added, dropped, changed, or two letters swapped (the
    commonest typo: coronavirsu). Words are short: the plain dynamic programme will do."""
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, before[j - 2] + 1)
            current.append(cost)
        before, previous = previous, current
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
    # The words typed, and those of quoted phrases (quoting a word turns its reading off,
    # not the suggestion of « "teroriste" » when nothing has it).
    quoted = (w for searched in query.searched for w in searched.split())
    for word in dict.fromkeys([*query.typed_words, *quoted]):
        if tried >= MAX_CORRECTED or time.monotonic() > deadline:
            break
        exact = exact_terms(word)
        if len(exact) != 1 or not word.isalpha() or not 3 <= len(word) <= TYPO_MAX_LETTERS:
            continue
        if reader.word_is_known(exact[0]) or _title_count(reader, word):
            continue
        tried += 1
        best = closest_word(reader, word.lower(), deadline)
        if best is None:
            continue
        if word[:1].isupper():
            best = best.upper() if word.isupper() and len(word) > 1 else best.capitalize()
        text = text.replace(word, best, 1)
        changed = True
    return text if changed else None


def closest_word(reader: Reader, word: str, deadline: float = math.inf) -> str | None:
    """The corpus's word closest to ``word`` (two edits at most), or None.

    Two edits are looked for only before the deadline (``time.monotonic()``), with the
    first three letters kept: the vocabulary under two letters is large.
    """
    starts = [word] + [v + word[1:] for v in _ACCENTED.get(fold_accents(word[0]), "")]
    for max_edits, prefix in ((1, 1), (2, 3)):
        if max_edits == 2 and (len(word) <= 4 or time.monotonic() > deadline):
            break
        candidates = {
            c
            for start in starts
            for c in reader.spelling_candidates(start, max_edits, prefix)
            if c != word and "-" not in c  # a word, not a compound (week-end)
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


# Typo tolerance: a word of 5 to 7 letters may be read with one edit, a longer one with two.
TYPO_MIN_LETTERS = 5
TYPO_MAX_LETTERS = 30  # longer is no word anyone meant to type
TYPO_TWO_EDITS_FROM = 8
# A word the corpus has is read as a close word this many times more frequent: "Phillipe",
# a typo in a few articles, is read "Philippe". Words in more passages than RARE_PASSAGES
# are words of their own.
RARE_PASSAGES = 10
MORE_FREQUENT = 100


def typo_reading(reader: Reader, word: str, name: bool = False) -> str | None:
    """The corpus's word (as written) to read a typed word as, or None to keep it.

    ``word`` is folded (lowercase, no accents). A word absent from the corpus, or rare where
    a close word is far more frequent, is read as its closest word:
    one edit away, the first letter kept (accented or not); from 8 letters, two edits away if
    no word is one away (the first three letters kept then, which keeps the search of the
    vocabulary fast); among equally close words the most frequent.
    """
    if not TYPO_MIN_LETTERS <= len(word) <= TYPO_MAX_LETTERS or not word.isalpha():
        return None
    # A word of the titles is a word of the corpus (its passages carry it): « fâche »,
    # in a title only, is not to be read as « face ».
    count = max(reader.word_count(word), _title_count(reader, word))
    if count > RARE_PASSAGES:
        return None
    if not name and (elided := _elided(reader, word, count)):  # Lorient is no « l'orient »
        return elided
    # One edit: the word's variants, folded, looked up in the folded vocabulary (so that
    # accents typed or not never count as edits).
    near = {c for c in _one_edit(word) if c.isascii()}
    candidates = _likely(reader, word, count, near)
    if not candidates and len(word) >= TYPO_TWO_EDITS_FROM:
        starts = [word] + [v + word[1:] for v in _ACCENTED.get(word[0], "")]
        near = {fold_accents(c) for s in starts for c in reader.spelling_candidates(s, 2, 3)}
        candidates = _likely(reader, word, count, near)
    if not candidates:
        return None
    ranked = sorted(candidates, key=lambda c: (edit_distance(c, word), -reader.word_count(c), c))
    # Among the closest, a word the corpus writes (a title's « chronique ») before a stem
    # that only titles hold (« chroniqu »).
    distance = edit_distance(ranked[0], word)
    for candidate in (c for c in ranked if edit_distance(c, word) == distance):
        written = _as_written(reader, candidate)
        if reader.word_count(candidate) or reader.spelling_frequency(written):
            return written
    return _as_written(reader, ranked[0])


# A word typed as one that the texts also write as a compound (weekend, « week-end »)
# finds both, and so does the compound typed, where the compound is written at least this
# share as often as the word: a stray « sur-tout » does not make `surtout` look for « sur
# tout », nor « Al-Ain » `Al-Ain` for « Alain ».
COMPOUND_SHARE = 0.1
_JOINED_LETTERS = (4, 24)  # the lengths of a word looked up as a compound
_ONE_WORD = re.compile(r"(?<!\w)(?<!\w[\u2010\u2011-])[^\W\d_]+(?![\w\u2010\u2011-])")


def compound_spellings(reader: Reader, text: str, deadline: float = math.inf) -> dict[str, str]:
    """The corpus's other spelling of a query's words and two-word compounds, for
    ``parse_query(compounds=…)``: « week-end » for a typed weekend, « weekend » for a
    typed week-end, keyed by the typed words as ``exact_terms`` gives them, hyphen-joined
    (« weekend », « week-end »); accents typed or not. ``text`` is the query as
    ``parse_query`` read it (``ParsedQuery.text``); past the deadline, no more is looked up."""
    found: dict[str, str] = {}
    for typed in dict.fromkeys(hyphenated_words(text)):
        if time.monotonic() > deadline:
            return found
        compound = "-".join(exact_terms(typed))
        joined = compound.replace("-", "")
        joined_count = reader.word_count(joined)
        if joined_count and _as_often(reader.spelling_frequency(compound), joined_count):
            found[compound] = joined
    for typed in dict.fromkeys(_ONE_WORD.findall(text)):
        word = "".join(exact_terms(typed))
        if not _JOINED_LETTERS[0] <= len(word) <= _JOINED_LETTERS[1]:
            continue
        if time.monotonic() > deadline:
            return found
        splits = (f"{word[:i]}-{word[i:]}" for i in range(1, len(word) - 1))
        count, compound = max((reader.spelling_frequency(c), c) for c in splits)
        if count and _as_often(count, reader.word_count(word)):
            found[word] = compound
    return found


def _as_often(compound: int, joined: int) -> bool:
    """Whether a compound written in ``compound`` articles is written at least
    COMPOUND_SHARE as often as its words joined, in ``joined`` passages (a little
    stricter than articles against articles)."""
    return compound > 0 and compound >= COMPOUND_SHARE * joined


def _title_count(reader: Reader, word: str) -> int:
    """In how many passages the word's stem occurs in the title."""
    stems = query_terms(word)
    return reader.title_count(stems[0]) if len(stems) == 1 else 0


def _likely(reader: Reader, word: str, count: int, near: set[str]) -> set[str]:
    """The folded words of ``near`` the corpus has, within two edits, and (if the typed
    word is in the corpus ``count`` times) far more frequent than it."""
    least = max(1, MORE_FREQUENT * count)
    return {
        c
        for c in near
        if c != word and edit_distance(c, word) <= 2 and _frequency(reader, c, least) >= least
    }


# The elisions people type without their apostrophe, longest first (s', t', c', j', m', n'
# start too many words: « Tunis » is no « t'unis »).
_TYPED_ELISIONS = ("jusqu", "lorsqu", "puisqu", "presqu", "quelqu", "qu", "l", "d")


def _elided(reader: Reader, word: str, count: int) -> str | None:
    """« durgence » typed for « d'urgence », « limpact » for « l'impact »: an elided word
    without its apostrophe, read with it where the corpus has the rest of the word (far
    more often than the word as typed), or None."""
    least = max(1, MORE_FREQUENT * count)
    for article in _TYPED_ELISIONS:
        rest = word[len(article) :]
        if word.startswith(article) and len(rest) >= 3 and _frequency(reader, rest, least) >= least:
            return f"{article}'{_as_written(reader, rest)}"
    return None


def _frequency(reader: Reader, folded: str, least: int) -> int:
    """In how many passages the corpus has the word: written in their text, or in their
    titles (which hold stems: a word that shares a frequent title stem but that nothing
    writes, « chinie » beside « Chine », has none)."""
    if written := reader.word_count(folded):
        return max(written, _title_count(reader, folded))
    count = _title_count(reader, folded)
    if count < least or not reader.spelling_frequency(_as_written(reader, folded)):
        return 0
    return count


# The accents French words take inside them, the common ones (a word with a rarer one keeps
# its folded spelling on display; it is matched all the same).
_ACCENTS = {"a": "aâ", "e": "eéèê", "i": "iî", "o": "oô", "u": "uû", "c": "cç"}
_MAX_SPELLINGS = 3000


def _as_written(reader: Reader, folded: str) -> str:
    """A folded word as the corpus most often writes it (its accents back), if the word has
    few enough ways to be accented to try them all."""
    options = [_ACCENTS.get(letter, letter) for letter in folded]
    if math.prod(map(len, options)) > _MAX_SPELLINGS:
        return folded
    spellings = ["".join(letters) for letters in itertools.product(*options)]
    counted = [(reader.spelling_frequency(w), w) for w in spellings]
    count, best = max(counted)
    return best if count else folded


_LETTERS = "abcdefghijklmnopqrstuvwxyzàâäéèêëîïôöùûüçœæ"


def _one_edit(word: str) -> set[str]:
    """The words one edit from ``word`` (a letter dropped, swapped with the next, changed
    or added) that keep its first letter, accented or not."""
    found = set()
    for i in range(len(word) + 1):
        head, tail = word[:i], word[i:]
        if tail:
            found.add(head + tail[1:])
        if len(tail) > 1:
            found.add(head + tail[1] + tail[0] + tail[2:])
        for letter in _LETTERS:
            if tail:
                found.add(head + letter + tail[1:])
            found.add(head + letter + tail)
    first = {word[0], *_ACCENTED.get(word[0], "")}
    return {w for w in found if w and w[0] in first}


# Words read in one query at most (a long text's rare words are its own, not typos).
MAX_READINGS = 3


def read_typos(
    reader: Reader, query: ParsedQuery, deadline: float = math.inf, *, typos: bool = True
) -> ParsedQuery:
    """The query with its typed words read as the corpus's closest words where they are
    typos (see typo_reading); what was read as what goes in ``readings`` and a note.

    Quoted words are read as typed. A long text's words are its own, and so are a
    question's that match as they stand: a question's word is read only when nothing has
    its stem. A word typed in capitals that the texts mostly write otherwise is read as
    that word, silently; with ``typos=False`` (a strict search), that alone.
    """
    readings: dict[Term, Term] = {}
    said: list[tuple[str, str]] = []
    if query.ranked_or and not query.is_question:
        return query
    # A word the texts write as a compound (grandmere, « grand-mère ») is no typo.
    respelled = {_folded(typed) for typed, _ in query.respelled}
    for term in _plain_terms(query.tree):
        if len(said) >= MAX_READINGS or time.monotonic() > deadline:
            break
        if term in readings or term.exact is None:
            continue
        if term.stem != term.stem.lower():
            # An acronym typed in capitals that the texts mostly write otherwise (`OTAN`
            # for « l'Otan », `PRIX`, `ÉTAT`): a word like any other, silently.
            in_capitals = reader.stem_count(term.stem) + reader.title_count(term.stem)
            lowered = query_terms(term.exact)
            if 2 * in_capitals < reader.word_count(term.exact) and len(lowered) == 1:
                readings[term] = Term(lowered[0], term.exact, term.field)
            continue
        if not typos or (query.ranked_or and reader.stem_count(term.stem) > 0):
            continue
        typed = next((w for w in query.typed_words if _folded(w) == term.exact), None)
        if typed is None or term.exact in respelled:  # week-end's « weekend », and weekend
            continue
        read = typo_reading(reader, term.exact, name=typed[:1].isupper())
        if read is None:
            continue
        stems, exact = query_terms(read), exact_terms(read)
        if len(stems) != 1 or len(exact) != 1:
            continue
        # A word the corpus writes is not read as another form of itself (navigateur,
        # navigateurs): the same stem finds the same passages.
        if stems[0] == term.stem and reader.word_count(term.exact) > 0:
            continue
        readings[term] = Term(stems[0], exact[0], term.field)
        said.append((typed, read.capitalize() if typed[:1].isupper() else read))
    if not readings:
        return query
    plan = query.plan
    if plan is not None:
        plan = replace(plan, words=tuple(readings.get(w, w) for w in plan.words))
    highlights = query.highlights
    highlights = replace(
        highlights,
        stems=highlights.stems | {t.stem for t in readings.values()},
        words=highlights.words | {t.exact for t in readings.values() if t.exact},
    )
    notes = tuple(f"« {typed} » lu comme « {read} »" for typed, read in said)
    return replace(
        query,
        tree=_replace_terms(query.tree, readings),
        relaxed=query.relaxed and _replace_terms(query.relaxed, readings),
        plan=plan,
        highlights=highlights,
        readings=tuple(said),
        notes=(*query.notes, *notes),
    )


def note_unknown_exclusions(
    reader: Reader, query: ParsedQuery, deadline: float = math.inf
) -> ParsedQuery:
    """The query with a note for each excluded word that no passage has: it excludes
    nothing, and the note says the corpus's closest word if there is one (`-Darmanain`:
    « -Darmanin » ?). The closest word is not excluded in its place: a real word the
    corpus lacks (`-Truss`) is no typo of « trucs »."""
    if query.ranked_or:  # a long text's dashes are punctuation: it excludes nothing
        return query
    notes: list[str] = []
    for term in dict.fromkeys(_excluded_terms(query.tree)):
        if len(notes) >= MAX_READINGS or time.monotonic() > deadline:
            break
        if term.exact is None or _has_stem(reader, term.stem):
            continue
        typed = next((w for w in query.excluded_words if _folded(w) == term.exact), term.exact)
        read = typo_reading(reader, term.exact, name=typed[:1].isupper())
        if read is not None and typed[:1].isupper():
            read = read.capitalize()
        near = f" (« -{read} » ?)" if read else ""
        notes.append(f"« {typed} » n'est dans aucun article : rien n'est exclu{near}")
    return replace(query, notes=(*query.notes, *notes)) if notes else query


def _has_stem(reader: Reader, stem: str) -> bool:
    return reader.stem_count(stem) > 0 or reader.title_count(stem) > 0


def _excluded_terms(node) -> list[Term]:
    """The query's excluded words (``-word``, ``SAUF word``), not its excluded phrases."""
    if isinstance(node, Not):
        return [node.node] if isinstance(node.node, Term) else []
    if isinstance(node, All | Any):
        return [t for child in node.nodes for t in _excluded_terms(child)]
    return []


def _folded(word: str) -> str:
    found = exact_terms(word)
    return found[0] if len(found) == 1 else ""


def _plain_terms(node) -> list[Term]:
    """The query's words to read (not the excluded ones, not phrases or prefixes)."""
    if isinstance(node, Term):
        return [node] if node.field != "exact" else []
    if isinstance(node, All | Any):
        return [t for child in node.nodes for t in _plain_terms(child)]
    return []


def _replace_terms(node, readings: dict[Term, Term]):
    if isinstance(node, Term):
        return readings.get(node, node)
    if isinstance(node, All | Any):
        return type(node)(tuple(_replace_terms(child, readings) for child in node.nodes))
    if isinstance(node, Not):
        return Not(_replace_terms(node.node, readings))
    return node
