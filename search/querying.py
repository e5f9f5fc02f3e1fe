"""The query language: what a user types, read into a query tree that any backend compiles.

Words must all match (for short queries); "quoted phrases" match the words as written;
``-word``, ``SAUF`` and ``NOT`` exclude; ``OU``/``OR`` and ``ET``/``AND`` combine (only in
capitals: ``ou`` and ``et`` are words); parentheses group; ``titre:`` (or ``title:``) looks in
titles; ``terror*`` is a prefix; ``date:2024-05``, ``depuis:2024`` and ``jusqua:2024-06-30``
filter by date; ``source:AFP`` and ``rubrique:politique`` by source and section, and
``-source:AFP`` leaves one out (filters alone keep every article they allow). ``?`` and
``!`` are punctuation. Nothing a user types raises: input the
grammar cannot read is searched as plain words.

Each typed word is classified once (a word in any form, a compound read as a phrase, a
question's interrogative, a stop word) into the nodes below; a query made only of words
and ``-words`` also gets a ``plan``, which a backend may rank without walking the tree.
The bounds below keep every query cheap: what passes them is read as plain words or left
out, and a note says so.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .analysis import (
    ELISIONS,
    FRENCH_STOP_WORDS,
    INVERSION_WORDS,
    SIGN_WORDS,
    drop_invisible,
    exact_terms,
    fold_accents,
    glued_parts,
    join_numbers,
    normalize_chars,
    query_terms,
    word_forms,
)
from .dates import date_bounds, iso_period
from .request import MAX_QUERY_CHARS

# A query of more plain words than this (after stop words) is a question, not a list of
# required words: it is ranked as an OR, documents matching more of its words first.
LONG_QUERY_WORDS = 4
# Ranked as an OR and of at most this many words, a text is a question (longer: a lead, a
# summary).
QUESTION_WORDS = 10
# Bounds on what one query may ask of a backend (the hardening issue's cost model).
MAX_DEPTH = 8  # nested parentheses; deeper text is read as plain words
MAX_BRANCHES = 32  # alternatives of one OR
MAX_PHRASE_WORDS = 12  # words of one quoted phrase
MAX_PHRASES = 4  # quoted phrases in one query
MAX_OTHER_SPELLINGS = 4  # phrases a query's words add as their other spellings (G20: « G 20 »)
MAX_COMPOUND_FORMS = 16  # a compound's forms searched (porte-parole, porte-paroles…)
MIN_PREFIX_LETTERS = 3  # `co*` is too short to expand: read as the word `co`
MAX_PREFIXES = 4  # prefixes in one query; more are read as words

LONG_TEXT_SYNTAX_NOTE = (
    "texte long : ses guillemets, parenthèses et astérisques sont lus comme ponctuation, et "
    "ses mots classés par pertinence"
)
_OPERATORS = {"OU": "OR", "OR": "OR", "ET": "AND", "AND": "AND", "SAUF": "NOT", "NOT": "NOT"}
_FIELDS = {"titre": "title", "title": "title"}
_DATE_FIELDS = {
    "date": "date",
    "depuis": "since",
    "since": "since",
    "jusqua": "until",
    "jusqu'à": "until",
    "jusqu'a": "until",
    "jusqu'au": "until",
    "jusquau": "until",
    "until": "until",
}
# Facet filters: source:AFP, rubrique:politique, source:"Le Monde".
_FILTER_FIELDS = {
    "source": "sources",
    "rubrique": "categories",
    "categorie": "categories",
    "category": "categories",
    "section": "categories",
}
# French typography spaces a colon (« depuis : 2024 », « titre : Bamako »): a field's name,
# its colon and its value are joined again; a date field's when a date follows, another's
# in a short query only (a pasted text's « source : un rapport » is no filter).


def _alternatives(names: Iterable[str]) -> str:
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


def _spaced(names: Iterable[str], value: str) -> re.Pattern:
    fields = _alternatives(names)
    return re.compile(rf"(?<![\w'-])(-?(?:{fields}))(?:\s+:\s*|:\s+)(?={value})", re.I)


_SPACED_DATE = _spaced(_DATE_FIELDS, r"\d")
# A date written the French way after a date field (« depuis:mai 2020 », « date : "5 mai
# 2024" », « jusqu'à:05/2020 ») is read as its ISO period: one value for the lexer.
_WORDED_DATE = re.compile(
    rf"(?<![\w'-])(-?(?:{_alternatives(_DATE_FIELDS)}))"
    r"\s*:\s*(\"?)((?:\d{1,2}(?:er)?\s+)?[^\W\d_]+\.?\s+\d{4}|\d{1,2}/(?:\d{1,2}/)?\d{4}"
    r"|\d{1,2}([/.-])\d{1,2}\4\d{2}(?:\d{2})?|\d{4}([/.])\d{1,2}\5\d{1,2})\2(?![\w/-])",
    re.IGNORECASE,
)


def _iso_dates(text: str) -> str:
    def iso(match: re.Match) -> str:
        if period := iso_period(match[3]):
            return f"{match[1]}:{period}"
        if match[3][0].isdigit():  # « 31 février 2020 »: one date, ignored with its note
            return f"{match[1]}:{'-'.join(match[3].split())}"
        return match[0]  # « date : Macron 2020 » is no date

    return _WORDED_DATE.sub(iso, text)


_SPACED_FIELD = _spaced({*_FIELDS, *_FILTER_FIELDS}, r"[^\s)]")
_LEXER = re.compile(
    r"""(?P<space>\s+)
      | (?P<phrase>"[^"]*")
      | (?P<quote>")
      | (?P<open>\()
      | (?P<close>\))
      | (?P<field>-?[\w']+:(?=[^\s)]))
      | (?P<word>[^\s()"]+)""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Highlights:
    """What to mark in a passage: stems, words as written, phrases, prefixes."""

    stems: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()
    phrases: tuple[tuple[str, ...], ...] = ()
    prefixes: tuple[str, ...] = ()
    phrase_forms: tuple[tuple[str, ...], ...] = ()  # the phrases' other forms, marked too


# --- the query tree: what backends compile ----------------------------------------------


@dataclass(frozen=True)
class Term:
    """A word in any of its forms: its stem; ``exact`` its folded spelling as typed.

    ``field`` None means the passage's text or its article's title; "title" the title only;
    "exact" the word as written, in the passage's text (a query of common words only).
    """

    stem: str
    exact: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class Phrase:
    """Words as written (accents and case aside), in a row, in the passage's text.

    ``forms``: the same words in their other forms, each matching too (a compound typed
    in one form, porte-paroles, is found in its others: porte-parole).
    """

    words: tuple[str, ...]
    forms: tuple[tuple[str, ...], ...] = ()
    field: str | None = None  # "title": in a row in the title, a condition that scores nothing


@dataclass(frozen=True)
class Prefix:
    """Words starting with ``prefix`` (folded), in the text or (field "title") the title."""

    prefix: str
    field: str | None = None


@dataclass(frozen=True)
class Not:
    """Passages without ``node``."""

    node: Node


@dataclass(frozen=True)
class All:
    """Passages matching every node."""

    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Any:
    """Passages matching at least one node; more matches score higher."""

    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Spellings(Any):
    """A word or compound in any of its spellings (weekend, « week-end »; G20, « G 20 »):
    one part of the query, matching as any of its nodes."""


@dataclass(frozen=True)
class Everything:
    """Every passage (a query of exclusions only)."""


Node = Term | Phrase | Prefix | Not | All | Any | Everything


@dataclass(frozen=True)
class PlainPlan:
    """A query of plain words: rank by these terms, leave out passages with the excluded.

    ``require_all``: every word must match; else any (a question, a long text).
    ``may_relax``: words typed side by side; if no passage has them all, the passages with
    most of them may be ranked instead.
    """

    words: tuple[Term | Prefix, ...]
    excluded: tuple[str, ...] = ()
    require_all: bool = True
    may_relax: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    """A user's query read: its tree, what to highlight, and what was understood."""

    text: str
    tree: Node | None
    highlights: Highlights = Highlights()
    ranked_or: bool = False
    plan: PlainPlan | None = None
    typed_words: tuple[str, ...] = ()  # the plain words as typed, in order (for suggestions)
    searched: tuple[str, ...] = ()  # what became search terms, as typed
    ignored: tuple[str, ...] = ()  # stop words, and a question's interrogatives
    excluded_words: tuple[str, ...] = ()  # the excluded words as typed
    since: dt.date | None = None
    until: dt.date | None = None
    sources: tuple[str, ...] = ()  # source:…
    categories: tuple[str, ...] = ()  # rubrique:…
    excluded_sources: tuple[str, ...] = ()  # -source:…
    excluded_categories: tuple[str, ...] = ()  # -rubrique:…
    notes: tuple[str, ...] = field(default=())
    readings: tuple[tuple[str, str], ...] = ()  # typos read as the corpus's words
    # (word or compound as typed, its other spelling searched too): weekend, « week-end »
    respelled: tuple[tuple[str, str], ...] = ()
    # A query of phrases and words side by side (no plan): the tree that asks for any of
    # them, to rank by when no passage has them all.
    relaxed: Node | None = None

    @property
    def is_question(self) -> bool:
        """Ranked as any of its words, and short: a question, which asks for one passage
        (its passages are ranked with the passages' title weight even when articles are)."""
        return self.ranked_or and self.plan is not None and len(self.plan.words) <= QUESTION_WORDS


# --- the syntax tree -------------------------------------------------------------------


@dataclass
class _Word:
    text: str
    field: str | None = None


@dataclass
class _Phrase:
    text: str
    field: str | None = None


@dataclass
class _Prefix:
    text: str
    field: str | None = None


@dataclass
class _Not:
    node: object


@dataclass
class _And:
    nodes: list
    implicit: bool = True


@dataclass
class _Or:
    nodes: list


class _SyntaxError(Exception):
    pass


# French quotes (« », “ ”, „ “) quote a phrase as " does.
_QUOTES = str.maketrans(dict.fromkeys("«»“”„‟", '"'))


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", normalize_chars(text))[:MAX_QUERY_CHARS]
    text = drop_invisible(text.translate(_QUOTES))  # pasted « Ma\u200broc » is Maroc
    # Control characters (a NUL byte from a form, say) are noise, never syntax.
    text = "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)
    # Outside quotes only: `source:"Le Monde/AFP"` is one value.
    parts = re.split(r'("[^"]*")', text)
    return join_numbers("".join(p if i % 2 else _unlisted(p) for i, p in enumerate(parts)))


# Words listed without a space (« Macron,Merkel », « Lyon/Marseille ») are words side by
# side, not a compound to find in a row; a comma or slash between digits (1,5 or 05/2024)
# stays, and so does a unit's after a number (180 km/h, 180km/h; not psg/om).
_LISTED = re.compile(r"(?<=\S)(?:(?<=\D)[,;/+|]|[,;/+|](?=\D))(?=\S)")
_UNIT = re.compile(r"\d ?([a-zµ]{1,3})/[a-z]{1,2}(?![^\W\d_])")


def _unlisted(text: str) -> str:
    """The text with its listed words spaced apart (see _LISTED)."""
    units = {m.end(1) for m in _UNIT.finditer(text)}
    return _LISTED.sub(lambda m: m[0] if m.start() in units else " ", text)


_LETTERS = re.compile(r"[^\W\d_]+")


def _unshouted(text: str) -> str:
    """A query typed in capitals, a long word in it (« ÉLECTIONS MUNICIPALES »), in
    lowercase but for its operators: only a short word in capitals is an acronym."""
    words = _LETTERS.findall(text)
    if not any(len(w) > 5 for w in words) or not all(w.isupper() for w in words):
        return text
    lowered = _LETTERS.sub(lambda m: m[0] if m[0] in _OPERATORS else m[0].lower(), text)
    # An excluded name keeps its capitals (`SAUF LE PEN` is `SAUF Le Pen`, see
    # _excluded_names): lowercase, « le » would be excluded and « pen » required.
    return _SHOUTED_NAME.sub(lambda m: f"{m[1]}{m[2].capitalize()} {m[3].capitalize()}", lowered)


# The particles of French names (Le Pen, de Gaulle, La Fontaine): `-Le Pen` excludes the
# name, not the common word « le » (which excludes nothing) with « Pen » required.
_PARTICLES = frozenset({"le", "la", "les", "de", "du", "des"})
_SHOUTED_NAME = re.compile(
    rf"((?<!\S)-|\b(?:SAUF|NOT)\s+)({'|'.join(sorted(_PARTICLES))})\s+([^\W\d_]+)"
)


def _excluded_names(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`-Le Pen`, `SAUF de Gaulle`: the particle and the capitalized name after it, as the
    excluded phrase "Le Pen"."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        excluded = (kind == "word" and value[:1] == "-") or tokens[i - 1 : i] == [("op", "NOT")]
        particle = value.removeprefix("-") if kind == "word" else ""
        if (
            excluded
            and particle.lower() in _PARTICLES
            and after is not None
            and after[0] == "word"
            and after[1][:1].isupper()
        ):
            if value.startswith("-"):
                out.append(("word", "-"))
            out.append(("phrase", f'"{particle} {after[1]}"'))
            i += 2
            continue
        out.append(tokens[i])
        i += 1
    return out


def _lex(text: str) -> list[tuple[str, str]]:
    tokens = []
    for m in _LEXER.finditer(text):
        kind = m.lastgroup
        if kind == "space":
            continue
        value = m.group(0)
        if kind == "word" and value in _OPERATORS:
            kind, value = "op", _OPERATORS[value]
        elif kind == "field":
            read = _field_of(value.removeprefix("-")[:-1].lower())
            if read is None:
                kind = "word"
            else:
                if value.startswith("-"):
                    tokens.append(("minus", "-"))  # -titre:…, -source:…
                kind, value = read
        tokens.append((kind, value))
    return _excluded_names(tokens)


def _field_of(name: str) -> tuple[str, str] | None:
    """What ``name:`` is in the query language (a field, a filter or a date, and which),
    or None when it is no name of it."""
    folded = fold_accents(name)
    if name in _FIELDS:
        return "field", _FIELDS[name]
    if folded in _FILTER_FIELDS:
        return "filter", _FILTER_FIELDS[folded]
    if name in _DATE_FIELDS or folded in _DATE_FIELDS:
        return "datefield", _DATE_FIELDS.get(name) or _DATE_FIELDS[folded]
    return None


_JOINS = (("op", "OR"), ("op", "AND"))


class _Parser:
    """Recursive descent over the lexed tokens; raises _SyntaxError on what it cannot read."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0
        self.dates: list[tuple[str, str]] = []
        self.filters: list[tuple[str, str]] = []
        self.excluded: list[tuple[str, str]] = []  # -source:…, -rubrique:…
        self.notes: list[str] = []

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self):
        node = self.parse_or()
        if self.peek() is not None:
            raise _SyntaxError("unexpected " + self.peek()[1])
        return node

    def parse_or(self):
        """An expression: its parts side by side (or joined by ET), each one a part or
        alternatives joined by OU, which bind closer (« terrorisme Maroc OU Algérie » is
        terrorisme with either country)."""
        return self.parse_and()

    def _read(self) -> tuple[int, int, int, int]:
        """How many filters, dates, excluded filters and notes have been read so far."""
        return len(self.filters), len(self.dates), len(self.excluded), len(self.notes)

    def parse_and(self):
        read = self._read()
        nodes = []
        implicit = True
        while True:
            token = self.peek()
            if token is None or token[0] == "close":
                break
            if token == ("op", "OR"):
                raise _SyntaxError("OR with nothing before it")
            if token == ("op", "AND"):
                self.take()
                implicit = False
                if not nodes:
                    raise _SyntaxError("AND with nothing before it")
                continue
            if token == ("op", "NOT"):  # « Maroc SAUF Rabat OU Fès »: without either city
                self.take()
                implicit = False
                node = self._negated(alternatives=True)
            else:
                node = self.parse_alternatives()
            if node is not None:
                nodes.append(node)
        if not nodes:
            if self._read() != read:  # filters alone: `source:AFP`, `(depuis:2024)`
                return None
            raise _SyntaxError("empty group")
        return nodes[0] if len(nodes) == 1 else _And(nodes, implicit)

    def parse_alternatives(self):
        """A part, or parts joined by OU."""
        read = self._read()
        grouped = [self.peek() == ("open", "(")]
        nodes = [self._operand()]
        while self.peek() == ("op", "OR"):
            self.take()
            if self.peek() is None or self.peek()[0] == "close" or self.peek() in _JOINS:
                raise _SyntaxError("OR with nothing after it")
            grouped.append(self.peek() == ("open", "("))
            nodes.append(self._operand())
        if len(nodes) == 1:
            return nodes[0]
        if None in nodes:
            # `source:AFP OU source:Reuters` is what two filters of one facet mean, and
            # `Rabat source:AFP OU source:Reuters` Rabat from either; a filter cannot be an
            # alternative to words, nor to another facet's filter.
            filters = self.filters[read[0] :]
            alike = len({name for name, _ in filters}) == 1 and len(filters) == len(nodes)
            words = [node for node in nodes if node is not None]
            # `(Maroc source:AFP) OU source:Reuters` groups its words with one value only
            bracketed = any(g and n is not None for g, n in zip(grouped, nodes, strict=True))
            if not alike or len(words) > 1 or bracketed or self._read()[1:] != read[1:]:
                raise _SyntaxError("OR of filters")
            return words[0] if words else None
        return _Or(nodes)

    def _operand(self):
        """One part: a word, a phrase, a group, a field…; after NOT, excluded."""
        if self.peek() == ("op", "NOT"):
            self.take()
            return self._negated()
        return self.parse_unary()

    def parse_unary(self):
        kind, value = self.take()
        if kind == "word" and value.startswith("-") and len(value) > 1:
            return _Not(self._word(value[1:], None))
        if kind == "word" and value == "-" and self.peek() and self.peek()[0] in ("phrase", "open"):
            return self._negated()
        if kind == "minus":
            return self._negated()
        if kind == "field":
            if self.peek() is None or self.peek()[0] not in ("word", "phrase", "open"):
                raise _SyntaxError("field without a value")
            return self._with_field(self.parse_unary(), value)
        if kind == "filter":
            if self.peek() is None or self.peek()[0] not in ("word", "phrase"):
                raise _SyntaxError("filter without a value")
            self.filters.append((value, self.take()[1].strip('"').strip()))
            return None
        if kind == "datefield":
            if self.peek() is None or self.peek()[0] != "word":
                raise _SyntaxError("date filter without a date")
            self.dates.append((value, self.take()[1]))
            return None
        if kind == "open":
            return self._group()
        if kind == "phrase":
            return _Phrase(value.strip('"'))
        if kind == "word":
            return self._word(value, None)
        raise _SyntaxError(f"unexpected {value}")

    def _negated(self, alternatives: bool = False):
        """The next node (with ``alternatives``, the next parts joined by OU), excluded; an
        excluded filter leaves its values out (None)."""
        read = self._read()
        node = self.parse_alternatives() if alternatives else self.parse_unary()
        if self._read() != read and (node is not None or self._read()[2] != read[2]):
            # -(Maroc source:AFP), NOT -source:AFP: no filter can say these
            raise _SyntaxError("a filter inside an excluded group")
        if node is not None:
            return _Not(node)
        filters, dates = self.filters[read[0] :], self.dates[read[1] :]
        if len({name for name, _ in filters}) > 1:  # -(source:AFP rubrique:sport)
            raise _SyntaxError("an excluded group of two filters")
        del self.filters[read[0] :], self.dates[read[1] :]
        self.excluded.extend(filters)
        self.notes.extend(
            f"date ignorée : -{value} (une date ne s'exclut pas)" for _, value in dates
        )
        return None

    def _group(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _SyntaxError("parentheses nested too deep")
        node = self.parse_or()
        if self.peek() != ("close", ")"):
            raise _SyntaxError("unclosed parenthesis")
        self.take()
        self.depth -= 1
        return node

    def _word(self, value: str, field: str | None):
        stem = value.rstrip("*")
        if value.endswith("*") and "*" not in stem and len(stem) >= MIN_PREFIX_LETTERS:
            return _Prefix(stem, field)
        # A stray star (`*`, `co*`, `a*b`) is punctuation: the word is its letters.
        if value.endswith("*") and "*" not in stem and stem.isalpha():
            self.notes.append(
                f"« {value} » : un début de mot demande {MIN_PREFIX_LETTERS} lettres, "
                f"« {stem} » est cherché comme un mot"
            )
        return _Word(value.replace("*", " ").strip() or value, field)

    def _with_field(self, node, field: str):
        if isinstance(node, _Word | _Phrase | _Prefix):
            node.field = field
        elif isinstance(node, _And | _Or):
            for child in node.nodes:
                self._with_field(child, field)
        elif isinstance(node, _Not):
            self._with_field(node.node, field)
        return node


# --- from the syntax tree to the query tree: each word classified once --------------------


class _Classifier:
    """Read the syntax tree into query nodes, collecting what to highlight and explain."""

    def __init__(self, ranked_or: bool, compounds: dict[str, str]) -> None:
        self.ranked_or = ranked_or
        self.compounds = compounds
        self.stems: set[str] = set()
        self.words: set[str] = set()
        self.phrases: list[tuple[str, ...]] = []
        self.phrase_forms: list[tuple[str, ...]] = []
        self.prefixes: list[str] = []
        self.typed: list[str] = []
        self.searched: list[str] = []
        self.ignored: list[str] = []
        self.excluded_words: list[str] = []
        self.notes: list[str] = []
        self.respelled: list[tuple[str, str]] = []
        self.phrase_count = 0
        self.other_spellings = 0
        self.prefix_count = 0

    def node(self, node, positive: bool = True) -> Node | None:
        if node is None:  # a date filter: not a condition on words
            return None
        if isinstance(node, _Word):
            return self.word(node.text, node.field, positive)
        if isinstance(node, _Phrase):
            return self.phrase(node.text, node.field, positive)
        if isinstance(node, _Prefix):
            return self.prefix(node, positive)
        if isinstance(node, _Not):
            inner = self.node(node.node, positive=False)
            return None if inner is None else Not(inner)
        children = node.nodes
        # An explicit OR is bounded; a long text (words side by side) is ranked from arrays,
        # where every word costs the same, and keeps all its words.
        if isinstance(node, _Or) and len(children) > MAX_BRANCHES:
            self.notes.append(
                f"seules les {MAX_BRANCHES} premières parties d'un groupe sont cherchées"
            )
            children = children[:MAX_BRANCHES]
        parts = [q for q in (self.node(n, positive) for n in children) if q is not None]
        if not parts:
            return None
        if isinstance(node, _Or):
            return parts[0] if len(parts) == 1 else Any(tuple(parts))
        return self.conjunction(parts, ranked=node.implicit and self.ranked_or and positive)

    def conjunction(self, parts: list[Node], ranked: bool) -> Node:
        excluded = [q for q in parts if isinstance(q, Not)]
        required = [q for q in parts if not isinstance(q, Not)]
        if not required:
            return parts[0] if len(parts) == 1 else All(tuple(parts))
        if len(required) == 1:
            match = required[0]
        elif ranked:
            match = Any(tuple(required))
        else:
            return All((*required, *excluded))
        return All((match, *excluded)) if excluded else match

    def word(self, text: str, field: str | None, positive: bool) -> Node | None:
        exact = exact_terms(text)
        stems = query_terms(text)
        if positive and _is_interrogative(text, self.ranked_or):
            stems = []
        if self.ranked_or and exact and exact[-1] in _LONG_TEXT_STOP_WORDS:
            stems = []
        # Corbeil-Essonnes, and (in a short query) sans-abri whose common word is part of
        # the compound (not « abri » alone); tombe-t-il is « tombe ».
        whole = len(stems) > 1 or not (self.ranked_or or _inverted(exact))
        if len(exact) > 1 and stems and whole:
            if self.ranked_or and positive:  # in a question, a compound's parts are words
                found = [self.word(p, field, positive) for p in exact if query_terms(p)]
                found = [q for q in found if q is not None]
                return Any(tuple(found)) if len(found) > 1 else (found[0] if found else None)
            # its words in a row, each in any of its forms (porte-paroles)
            phrase = self.phrase(text, field, positive, compound=True)
            joined = self.compounds.get("-".join(exact))
            if joined is None and _glued(exact):
                joined = "".join(exact)  # Covid-19 as « covid19 », G-20 as « G20 »
            if joined:
                return self.either(text, phrase, joined, self.joined(joined, field, positive))
            apart = _unglued(exact)  # 180km/h as « 180 km/h »
            other = apart and self.phrase(apart, field, positive, compound=True, added=True)
            return self.either(text, phrase, apart, other)
        if len(exact) > 1 and stems:  # one significant part (tombe-t-il): that word
            exact = []
        if not positive and stems:
            self.excluded_words.append(text)
        if positive:
            self.typed.append(text)
        if not stems:
            if positive and exact:
                self.ignored.append(text)
            elif exact and not self.ranked_or:  # in a long text, « fut -elle » is a hyphen
                self.notes.append(f"« {text} » est un mot trop courant pour être exclu")
            return None
        if positive:
            self.searched.append(text)
            self.stems.update(stems)
            if stems[0] == stems[0].lower():  # an acronym in capitals: « CIA », not « cia »
                self.words.update(exact)
        term = Term(stems[0], exact[0] if exact else None, field)
        apart = None
        if len(exact) == 1 and not self.ranked_or:  # a long text's words are its own
            apart = self.compounds.get(exact[0]) or _unglued(exact)
        if apart:  # weekend as « week-end », G20 as « G-20 »
            other = self.phrase(apart, field, positive, compound=True, added=True)
            return self.either(text, term, apart, other)
        return term

    def joined(self, word: str, field: str | None, positive: bool) -> Term | None:
        """A compound's words as one word (week-end as « weekend »)."""
        stems, exact = query_terms(word), exact_terms(word)
        if len(stems) != 1 or len(exact) != 1:
            return None
        if positive:
            self.stems.add(stems[0])
        return Term(stems[0], exact[0], field)

    def either(
        self, typed: str, node: Node | None, spelled: str, other: Node | None
    ) -> Node | None:
        """A word or compound as typed, or its other spelling (weekend, « week-end »)."""
        if node is None or other is None:
            return node
        self.respelled.append((typed, spelled))
        return Spellings((node, other))

    def phrase(
        self,
        text: str,
        field: str | None,
        positive: bool,
        compound: bool = False,
        added: bool = False,
    ) -> Node | None:
        """A phrase typed (or, ``added``, a typed word's other spelling, which neither
        counts toward MAX_PHRASES nor is listed as searched)."""
        # An elided article typed without its apostrophe ("état d urgence") is the
        # elision the index stripped ("état d'urgence" holds état, urgence in a row).
        words = [w for w in exact_terms(text) if w not in ELISIONS]
        if not words:
            return None
        if added:  # bounded apart, and dropped silently: the word is searched as typed
            self.other_spellings += 1
            if self.other_spellings > MAX_OTHER_SPELLINGS:
                return None
        if field == "title":  # its words in the title, and there in a row
            stems = query_terms(text)
            if positive:
                self.stems.update(stems)
            forms = _compound_forms(words, text) if compound else ()
            return _in_title(words, forms, stems)
        if len(words) > 1 and not added:
            self.phrase_count += 1
            if self.phrase_count > MAX_PHRASES:
                self.notes.append(f"seules les {MAX_PHRASES} premières expressions sont cherchées")
                return None
            if len(words) > MAX_PHRASE_WORDS:
                self.notes.append(
                    f"expression coupée à ses {MAX_PHRASE_WORDS} premiers mots : "
                    f"« {' '.join(words[:MAX_PHRASE_WORDS])} »"
                )
                words = words[:MAX_PHRASE_WORDS]
        forms = _compound_forms(words, text) if compound else ()
        if positive:
            if not added:
                self.searched.append(text)
            if len(words) == 1:
                self.words.add(words[0])
            else:
                self.phrases.append(tuple(words))
                self.phrase_forms.extend(forms)
        phrase = Phrase(tuple(words), forms)
        # In the title too, as `titre:` finds it: its words there, and in a row.
        stems = query_terms(" ".join(words))
        if field is not None or not stems:
            return phrase
        return Any((phrase, _in_title(tuple(words), forms, stems)))

    def prefix(self, node: _Prefix, positive: bool) -> Node | None:
        words = exact_terms(node.text)
        if not words:
            return None
        prefix = words[-1]
        if len(prefix) < MIN_PREFIX_LETTERS:
            if not query_terms(node.text):  # `l'ét*` is not « et », a common word
                self.notes.append(
                    f"« {node.text}* » : un début de mot demande {MIN_PREFIX_LETTERS} lettres, "
                    f"et « {prefix} » est un mot trop courant pour être cherché"
                )
                return None
            return self.word(node.text, node.field, positive)
        self.prefix_count += 1
        if self.prefix_count > MAX_PREFIXES:
            self.notes.append(
                f"seuls les {MAX_PREFIXES} premiers débuts de mots sont développés : "
                "les suivants sont cherchés comme des mots"
            )
            return self.word(node.text, node.field, positive)
        if positive:
            self.searched.append(node.text + "*")
            self.prefixes.append(prefix)
        # A compound's start (porte-parol*): its first words too, not the prefix alone.
        head = [q for w in words[:-1] if (q := self.word(w, node.field, positive)) is not None]
        return All((*head, Prefix(prefix, node.field))) if head else Prefix(prefix, node.field)

    def highlights(self) -> Highlights:
        return Highlights(
            stems=frozenset(self.stems),
            words=frozenset(self.words),
            phrases=tuple(self.phrases),
            prefixes=tuple(self.prefixes),
            phrase_forms=tuple(self.phrase_forms),
        )


def _glued(words: list[str]) -> bool:
    """Whether a compound's words are letters and digits that others write glued (Covid-19,
    covid19), not a number and a sign's word (5 %: « 5 pourcent »)."""
    return glued_parts("".join(words)) == words and SIGN_WORDS.isdisjoint(words)


def _unglued(words: list[str]) -> str | None:
    """Words with their letters and digits apart (g20: « g 20 », 180km h: « 180 km h »),
    as others write them; None if none is glued, or if a part is a common word or an
    elided article, which the texts' own words would meet (A320 is no « à 320 », M6 no
    « m' 6 »)."""
    apart = [glued_parts(w) for w in words]
    if not any(apart):
        return None
    glued = [p for parts in apart if parts for p in parts]
    if any(p in FRENCH_STOP_WORDS or p in ELISIONS for p in glued):
        return None
    # A number and a letter after it is a unit as often as a name (5G, « 5 g » of salt).
    if any(parts and len(parts[-1]) == 1 and parts[-2].isdigit() for parts in apart):
        return None
    return " ".join(" ".join(parts) if parts else w for w, parts in zip(words, apart, strict=True))


def _inverted(parts: list[str]) -> bool:
    """Whether a compound's common words are all a verb's inversion (tombe-t-il): the
    word before them is the compound's one word."""
    return all(part in INVERSION_WORDS for part in parts if not query_terms(part))


def _compound_forms(words: list[str], typed: str) -> tuple[tuple[str, ...], ...]:
    """A compound's other forms, each of its words in any of its forms (the first
    MAX_COMPOUND_FORMS, the typed one included); a part typed with a capital is a name's,
    which keeps its gender (Saint-Martin)."""
    names = {fold_accents(w.lower()) for w in re.findall(r"\w+", typed) if w[:1].isupper()}
    combined = itertools.product(
        *(word_forms(w, gender=w not in names) if query_terms(w) else (w,) for w in words)
    )  # a common word (sans-abri, Île-de-France) has one form
    return tuple(itertools.islice(combined, 1, MAX_COMPOUND_FORMS))


def _in_title(
    words: tuple[str, ...] | list[str], forms: tuple[tuple[str, ...], ...], stems: list[str]
) -> Node | None:
    """A phrase in the title: its words there, scored as title words, and in a row."""
    if not stems:
        return None
    terms = tuple(Term(s, None, "title") for s in stems)
    return All((*terms, Phrase(tuple(words), forms, "title")))


def _plain_plan(tree: Node | None, syntax, ranked_or: bool) -> PlainPlan | None:
    """The plan of a query made only of words (anywhere) and excluded words, else None."""
    if tree is None:
        return None
    nodes = tree.nodes if isinstance(tree, All) else (tree,)
    words: list[Term] = []
    excluded: list[str] = []
    for node in nodes:
        if isinstance(node, Not) and isinstance(node.node, Term) and node.node.field is None:
            excluded.append(node.node.stem)
        elif _is_plain_term(node):
            words.append(node)
        elif isinstance(node, Any) and ranked_or and (terms := _any_terms(node)) is not None:
            words.extend(terms)  # a question ranks any of its words: one list
        else:
            return None
    words = list(dict.fromkeys(words))
    if not words:
        return None
    return PlainPlan(
        words=tuple(words),
        excluded=tuple(excluded),
        require_all=not ranked_or,
        may_relax=isinstance(syntax, _And) and syntax.implicit,  # words side by side
    )


def _any_terms(node: Any) -> list[Term] | None:
    """The words of an OR of words (and of compounds' words), or None if it holds more."""
    terms: list[Term] = []
    for child in node.nodes:
        if _is_plain_term(child):
            terms.append(child)
        elif isinstance(child, Any) and (inner := _any_terms(child)) is not None:
            terms.extend(inner)
        else:
            return None
    return terms


def _is_plain_term(node: Node) -> bool:
    return isinstance(node, Term | Prefix) and node.field is None


def _without_filters(tokens: list[tuple[str, str]]) -> str:
    """A long text's tokens as text, less its filters (``source:AFP``, ``-source:AFP``)."""
    kept: list[str] = []
    for i, (kind, value) in enumerate(tokens):
        after_filter = i > 0 and tokens[i - 1][0] == "filter"
        excluded = i > 0 and tokens[i - 1] == ("word", "-") and kind == "phrase"
        if excluded:  # -"Le Pen": its words excluded, not searched
            kept.extend("-" + w for w in value.strip('"').split())
        elif (
            kind not in ("filter", "minus") and not after_filter and (kind, value) != ("word", "-")
        ):
            kept.append(value)
    return " ".join(kept)


def _plain_words(text: str) -> list[tuple[str, str]]:
    """Read any input as plain words: quotes, parentheses and stars become spaces; a dash
    before a word still excludes it (`-Paris`), other dashes and pluses are dropped; an
    operator left with nothing to join (`Brexit OR`, `Macron SAUF`) is left out, unless
    the words are all operators (`OU OU` is « ou ou »)."""
    typed = re.sub(r'["()*]', " ", text).split()
    operators_only = all(w.lstrip("-+") in _OPERATORS for w in typed if w.lstrip("-+"))
    tokens = []
    for w in typed:
        word = w.lstrip("-+")
        if word in _OPERATORS:
            if not operators_only:
                continue
            word = word.lower()  # a stray NOT is no acronym
        if word:
            excluded = w.startswith("-") and not w.startswith("--")
            tokens.append(("word", "-" + word if excluded else word))
    return tokens


# Words that open a French question; a question is ranked, not a list of required words.
_QUESTION_WORDS = frozenset(
    """qui que quoi quel quelle quels quelles quand où comment pourquoi combien lequel
    laquelle lesquels lesquelles""".split()
)

# In a question, the interrogative words ask; the answer does not contain them (« Quand … ? »
# is answered by a date, not by "quand"): a question's ranking leaves them out.
INTERROGATIVES = frozenset(
    fold_accents(w) for w in "quand où comment pourquoi combien quoi".split()
)


# Words of a question or a long text left out as stop words, though a query of a few words
# searches them: « a été » asks about no summer, `été 2024` does.
_LONG_TEXT_STOP_WORDS = frozenset({"ete"})


def _is_interrogative(text: str, ranked_or: bool) -> bool:
    return ranked_or and fold_accents(text.lower()) in INTERROGATIVES


def _is_question(text: str) -> bool:
    stripped = text.strip()
    if stripped.endswith("?"):
        return True
    first = stripped.split(maxsplit=1)[0].lower() if stripped else ""
    return first in _QUESTION_WORDS or first.startswith(("qu'", "est-ce"))


def _is_long_text(tokens: list[tuple[str, str]], question: bool) -> bool:
    """Many words and no operator or field: text to rank, not a query to parse.

    A query of quoted phrases alone, not a question, is quotations to find as written,
    however long; quotes among other words (pasted prose, a question) are punctuation.
    """
    if any(kind in ("op", "field", "datefield") for kind, _ in tokens):
        return False
    words = [v for kind, v in tokens if kind == "word" and v[:1] != "-"]  # not excluded
    phrases = [
        v.strip('"')
        for (kind, v), before in zip(tokens, [None, *tokens], strict=False)
        if kind == "phrase" and before != ("word", "-")  # -"Le Pen" is no word to rank
    ]
    # A word typed counts once, a compound too (Jean-Luc, Seine-Saint-Denis).
    outside = sum(1 for w in words if query_terms(w))
    if phrases and not outside and not question:
        return False  # quotations (MAX_PHRASES of them are read, with a note past that)
    # A phrase counts its words: a long quotation pasted among words is prose.
    return outside + sum(len(query_terms(p)) for p in phrases) > LONG_QUERY_WORDS


def _is_prefix(kind: str, value: str) -> bool:
    """Whether a token is a word typed as a prefix (terror*)."""
    return kind == "word" and value.endswith("*") and bool(value.strip("*-"))


def _count_plain(node, phrases: bool = False) -> int:
    """The plain words typed side by side (and with ``phrases`` the quoted phrases)."""
    if isinstance(node, _Word) or (phrases and isinstance(node, _Phrase)):
        return 1 if query_terms(node.text) else 0
    if isinstance(node, _And) and node.implicit:
        return sum(_count_plain(n, phrases) for n in node.nodes)
    return 0


def _syntax_tree(cleaned: str, notes: list[str]) -> tuple[object, _Parser]:
    """The syntax tree of the text (plain words where the grammar fails), and its parser
    (with the dates and filters it read)."""
    cleaned = _SPACED_DATE.sub(r"\1:", _iso_dates(cleaned))
    tokens = _lex(cleaned)
    question = _is_question(cleaned)
    if not _is_long_text(tokens, question) and _SPACED_FIELD.search(cleaned):
        cleaned = _SPACED_FIELD.sub(r"\1:", cleaned)
        tokens = _lex(cleaned)
    parser = _Parser(tokens)
    try:
        tree = parser.parse() if tokens else None
    except (_SyntaxError, IndexError):
        notes.append("la syntaxe n'a pas pu être lue : recherche des mots tels quels")
        parser = _Parser(_plain_words(cleaned))
        tree = parser.parse() if parser.tokens else None
    if tree is not None and _is_long_text(tokens, question):
        # A long text (a question, a pasted paragraph) is its words: quotes, parentheses
        # and dashes in it are punctuation, not syntax; its filters are read already.
        plain = _plain_words(_without_filters(tokens))
        tree = _Parser(plain).parse() if plain else None  # filters alone: no word left
        if any(kind in ("phrase", "open") or _is_prefix(kind, v) for kind, v in tokens):
            notes.append(LONG_TEXT_SYNTAX_NOTE)
    return tree, parser


def _date_filters(dates: list[tuple[str, str]], notes: list[str], typed: str = ""):
    since = until = None
    for kind, value in dates:
        bounds = date_bounds(value)
        if bounds is None and any(c.isalpha() for c in value):  # « depuis:31-mai-2024 »
            bounds = date_bounds(value.replace("-", " "))
        if bounds is None:  # as typed: a French date's words were joined to be read
            spaced = value.replace("-", " ")
            notes.append(f"date ignorée : {spaced if spaced in typed else value}")
            continue
        if kind in ("date", "since"):
            since = max(since, bounds[0]) if since else bounds[0]
        if kind in ("date", "until"):
            until = min(until, bounds[1]) if until else bounds[1]
    return since, until


def parse_query(
    text: str, *, strict: bool = False, compounds: Mapping[str, str] | None = None
) -> ParsedQuery:
    """Read what a user typed; never raises.

    ``strict``: a standing search's reading. Every word is required however many there
    are, and no query is ranked as any of its words (a question, a long text); nor does a
    search relax it when no passage has them all.

    ``compounds``: the other spelling the corpus has of a typed word or compound, by its
    words as ``exact_terms`` gives them, hyphen-joined (``spelling.compound_spellings``):
    a typed « weekend » finds « week-end » too, and « week-end » finds « weekend ».
    """
    cleaned = _unshouted(_clean(text or ""))
    notes: list[str] = []
    if len(text or "") > MAX_QUERY_CHARS:
        notes.append(f"la recherche a été coupée à ses {MAX_QUERY_CHARS} premiers caractères")
    syntax, parser = _syntax_tree(cleaned, notes)
    since, until = _date_filters(parser.dates, notes, cleaned)
    count = _count_plain(syntax) if syntax is not None else 0
    # A question is ranked, whatever it quotes (« Qui a parlé de « Coupe du monde » ? »).
    asks = syntax is not None and _count_plain(syntax, phrases=True) > 1
    ranked_or = not strict and (count > LONG_QUERY_WORDS or (asks and _is_question(cleaned)))
    reader = _Classifier(ranked_or, {} if ranked_or else dict(compounds or {}))
    tree = reader.node(syntax) if syntax is not None else None
    plan = None
    if reader.ignored and (tree is None or _only_negative(tree)):
        # Only common words (e.g. "qui est", "le -Rabat"): look for them as written, all
        # of them, without the excluded ones.
        words = list(dict.fromkeys(w for typed in reader.ignored for w in exact_terms(typed)))
        reader.words.update(words)
        phrases = tuple(Phrase((w,)) for w in words)
        if tree is None:
            tree = phrases[0] if len(phrases) == 1 else All(phrases)
            plan = PlainPlan(words=tuple(Term(w, w, "exact") for w in words))
        else:
            tree = All((*phrases, *(tree.nodes if isinstance(tree, All) else (tree,))))
    elif tree is not None and _only_negative(tree):
        tree = All((Everything(), tree))
    elif tree is None and (parser.filters or parser.excluded or since or until):
        tree = Everything()  # filters alone (`source:AFP`): every article they keep
    else:
        plan = _plain_plan(tree, syntax, ranked_or)
    relaxed = _relaxed(tree, syntax) if plan is None and not ranked_or and not strict else None
    return ParsedQuery(
        text=cleaned,
        tree=tree,
        highlights=reader.highlights(),
        ranked_or=ranked_or,
        plan=plan,
        typed_words=tuple(reader.typed),
        searched=tuple(reader.searched),
        ignored=tuple(reader.ignored),
        excluded_words=tuple(reader.excluded_words),
        since=since,
        until=until,
        sources=tuple(v for name, v in parser.filters if name == "sources"),
        categories=tuple(v for name, v in parser.filters if name == "categories"),
        excluded_sources=tuple(v for name, v in parser.excluded if name == "sources"),
        excluded_categories=tuple(v for name, v in parser.excluded if name == "categories"),
        notes=tuple(dict.fromkeys(notes + parser.notes + reader.notes)),  # each note once
        relaxed=relaxed,
        respelled=tuple(reader.respelled),
    )


def _relaxed(tree: Node | None, syntax) -> Node | None:
    """Any of the tree's parts typed side by side (a phrase and words), its exclusions
    kept; None for an explicit ET, or fewer than two parts."""
    if not isinstance(tree, All) or not isinstance(syntax, _And) or not syntax.implicit:
        return None
    wanted = [n for n in tree.nodes if not isinstance(n, Not | Everything)]
    if len(wanted) < 2:
        return None
    excluded = tuple(n for n in tree.nodes if isinstance(n, Not))
    return All((Any(tuple(wanted)), *excluded)) if excluded else Any(tuple(wanted))


def _only_negative(node: Node) -> bool:
    if isinstance(node, Not):
        return True
    return isinstance(node, All) and all(isinstance(n, Not) for n in node.nodes)
