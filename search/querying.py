"""The query language: what a user types, turned into a whoosh query.

Words must all match (for short queries); "quoted phrases" match the words as written;
``-word``, ``SAUF`` and ``NOT`` exclude; ``OU``/``OR`` and ``ET``/``AND`` combine (only in
capitals: ``ou`` and ``et`` are words); parentheses group; ``titre:`` (or ``title:``) looks in
titles; ``terror*`` is a prefix; ``date:2024-05``, ``depuis:2024`` and ``jusqua:2024-06-30``
filter by date. ``?`` and ``!`` are punctuation. Nothing a user types raises: input the
grammar cannot read is searched as plain words.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from whoosh import query as wq

from .analysis import exact_terms, fold_accents, normalize_chars, query_terms

# The longest query read; the rest is ignored (a question is never this long).
MAX_QUERY_CHARS = 1000
# A query of more plain words than this (after stop words) is a question, not a list of
# required words: it is ranked as an OR, documents matching more of its words first.
LONG_QUERY_WORDS = 4
# Title matches count less than text matches: every passage carries its article's title,
# so a heavy title lifts all of an article's passages at once. bench/relevance.py (same grid as
# searching.BM25_*): title weight 0.1/0.2/0.4/0.7/1.0 gave PIAF MRR@10 0.640/0.644/0.643/
# 0.627/0.593 and lead MRR@10 0.735/0.750/0.769/0.791/0.800; 0.4 balances the two.
TITLE_WEIGHT = 0.4
# A word a long text repeats counts again (as in Lucene's BooleanQuery): a lead that names
# Macron three times is about Macron.
REPEATED_WORDS_COUNT = False
# A passage where the word stands as typed ranks above one that only shares its stem
# (bonus 0/0.1/0.3/0.5: PIAF MRR@10 0.622/0.634/0.643/0.645, lead 0.778/0.776/0.769/0.764).
EXACT_BONUS = 0.3

_OPERATORS = {"OU": "OR", "OR": "OR", "ET": "AND", "AND": "AND", "SAUF": "NOT", "NOT": "NOT"}
_FIELDS = {"titre": "title", "title": "title"}
_DATE_FIELDS = {
    "date": "date",
    "depuis": "since",
    "since": "since",
    "jusqua": "until",
    "jusqu'à": "until",
    "jusqu'a": "until",
    "until": "until",
}
_LEXER = re.compile(
    r"""(?P<space>\s+)
      | (?P<phrase>"[^"]*")
      | (?P<quote>")
      | (?P<open>\()
      | (?P<close>\))
      | (?P<field>[\w']+:(?=[^\s)]))
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


@dataclass(frozen=True)
class QueryWord:
    """A plain query word as the ranking sees it: its stem and its exact (folded) form."""

    stem: str
    exact: str | None


@dataclass(frozen=True)
class ParsedQuery:
    """A user's query read: the whoosh query, what to highlight, and what was understood."""

    text: str
    query: wq.Query | None
    highlights: Highlights
    ranked_or: bool = False
    words: tuple[str, ...] = ()  # the plain words typed, in order (for suggestions)
    kept: tuple[str, ...] = ()  # words that became search terms
    dropped: tuple[str, ...] = ()  # stop words, and a question's interrogatives
    since: dt.date | None = None
    until: dt.date | None = None
    notes: tuple[str, ...] = field(default=())
    # When the query is plain words (and -words), the searcher ranks them from arrays.
    plain: tuple[QueryWord, ...] | None = None
    excluded: tuple[str, ...] = ()  # stems of the -words
    excluded_words: tuple[str, ...] = ()  # the excluded words as typed
    # Words typed side by side (no explicit ET/AND): if no passage has them all, the
    # searcher may rank the passages that have most of them.
    may_relax: bool = False


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


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", normalize_chars(text))[:MAX_QUERY_CHARS]
    # Control characters (a NUL byte from a form, say) are noise, never syntax.
    return "".join(" " if unicodedata.category(c)[0] == "C" else c for c in text)


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
            name = value[:-1].lower()
            if name in _FIELDS:
                kind, value = "field", _FIELDS[name]
            elif fold_accents(name) in _DATE_FIELDS or name in _DATE_FIELDS:
                kind, value = (
                    "datefield",
                    _DATE_FIELDS.get(name) or _DATE_FIELDS[fold_accents(name)],
                )
            else:
                kind = "word"
        tokens.append((kind, value))
    return tokens


class _Parser:
    """Recursive descent over the lexed tokens; raises _SyntaxError on what it cannot read."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.i = 0
        self.dates: list[tuple[str, str]] = []

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
        nodes = [self.parse_and()]
        while self.peek() == ("op", "OR"):
            self.take()
            nodes.append(self.parse_and())
        return nodes[0] if len(nodes) == 1 else _Or(nodes)

    def parse_and(self):
        nodes = []
        implicit = True
        while True:
            token = self.peek()
            if token is None or token[0] == "close" or token == ("op", "OR"):
                break
            if token == ("op", "AND"):
                self.take()
                implicit = False
                if not nodes:
                    raise _SyntaxError("AND with nothing before it")
                continue
            if token == ("op", "NOT"):
                self.take()
                nodes.append(_Not(self.parse_unary()))
                implicit = False
                continue
            node = self.parse_unary()
            if node is not None:
                nodes.append(node)
        if not nodes:
            raise _SyntaxError("empty group")
        return nodes[0] if len(nodes) == 1 else _And(nodes, implicit)

    def parse_unary(self):
        kind, value = self.take()
        if kind == "word" and value.startswith("-") and len(value) > 1:
            return _Not(self._word(value[1:], None))
        if kind == "word" and value == "-" and self.peek() and self.peek()[0] in ("phrase", "open"):
            return _Not(self.parse_unary())
        if kind == "field":
            if self.peek() is None or self.peek()[0] not in ("word", "phrase", "open"):
                raise _SyntaxError("field without a value")
            return self._with_field(self.parse_unary(), value)
        if kind == "datefield":
            if self.peek() is None or self.peek()[0] != "word":
                raise _SyntaxError("date filter without a date")
            self.dates.append((value, self.take()[1]))
            return None
        if kind == "open":
            node = self.parse_or()
            if self.peek() != ("close", ")"):
                raise _SyntaxError("unclosed parenthesis")
            self.take()
            return node
        if kind == "phrase":
            return _Phrase(value.strip('"'))
        if kind == "word":
            return self._word(value, None)
        raise _SyntaxError(f"unexpected {value}")

    def _word(self, value: str, field: str | None):
        if value.endswith("*") and len(value.rstrip("*")) >= 2 and "*" not in value.rstrip("*"):
            return _Prefix(value.rstrip("*"), field)
        return _Word(value, field)

    def _with_field(self, node, field: str):
        if isinstance(node, _Word | _Phrase | _Prefix):
            node.field = field
        elif isinstance(node, _And | _Or):
            for child in node.nodes:
                self._with_field(child, field)
        elif isinstance(node, _Not):
            self._with_field(node.node, field)
        return node


# --- from the tree to a whoosh query ---------------------------------------------------


class _Builder:
    def __init__(self, ranked_or: bool) -> None:
        self.ranked_or = ranked_or
        self.stems: set[str] = set()
        self.words: set[str] = set()
        self.phrases: list[tuple[str, ...]] = []
        self.prefixes: list[str] = []
        self.plain: list[str] = []
        self.kept: list[str] = []
        self.dropped: list[str] = []
        # What each positive word matches in the passage's own text: a passage must match
        # at least one of them (or be its article's first), so that a title match alone
        # does not bring in every passage of the article.
        self.in_text: list[wq.Query] = []
        self.excluded_words: list[str] = []

    def build(self, node, positive: bool = True) -> wq.Query | None:
        if node is None:  # a date filter: not a condition on words
            return None
        if isinstance(node, _Word):
            return self.word(node, positive)
        if isinstance(node, _Phrase):
            return self.phrase(node.text, node.field, positive)
        if isinstance(node, _Prefix):
            return self.prefix(node, positive)
        if isinstance(node, _Not):
            inner = self.build(node.node, positive=False)
            return None if inner is None else wq.Not(inner)
        parts = [q for q in (self.build(n, positive) for n in node.nodes) if q is not None]
        if not parts:
            return None
        if isinstance(node, _Or):
            return parts[0] if len(parts) == 1 else wq.Or(parts)
        excluded = [q.query for q in parts if isinstance(q, wq.Not)]
        required = [q for q in parts if not isinstance(q, wq.Not)]
        if not required:
            return parts[0] if len(parts) == 1 else wq.And(parts)
        if len(required) == 1:
            match = required[0]
        elif node.implicit and self.ranked_or and positive:
            match = _ranked_or(required)
        else:
            match = wq.And(required)
        if not excluded:
            return match
        return wq.AndNot(match, excluded[0] if len(excluded) == 1 else wq.Or(excluded))

    def word(self, node: _Word, positive: bool) -> wq.Query | None:
        exact = exact_terms(node.text)
        stems = query_terms(node.text)
        if positive and _is_interrogative(node.text, self.ranked_or):
            stems = []
        if len(exact) > 1 and len(stems) > 1:
            if self.ranked_or and positive:  # in a question, a compound's parts are words
                parts = [_Word(part, node.field) for part in exact if query_terms(part)]
                found = [q for q in (self.word(part, positive) for part in parts) if q]
                return wq.Or(found) if len(found) > 1 else (found[0] if found else None)
            return self.phrase(node.text, node.field, positive)  # its words in a row
        if len(exact) > 1 and stems:  # one significant part (tombe-t-il): that word
            exact = []
        if not positive and stems:
            self.excluded_words.append(node.text)
        if positive:
            self.plain.append(node.text)
        if not stems:
            if positive and exact:
                self.dropped.append(node.text)
            return None
        if positive:
            self.kept.append(node.text)
            self.stems.update(stems)
            self.words.update(exact)
            if node.field is None:
                self.in_text.append(wq.Term("text", stems[0]))
        return self.term(stems[0], exact[0] if exact else None, node.field)

    def term(self, stem: str, exact: str | None, field: str | None) -> wq.Query:
        if field == "title":
            return wq.Term("title", stem)
        match = wq.Or([wq.Term("text", stem), wq.Term("title", stem, boost=TITLE_WEIGHT)])
        if exact is None or EXACT_BONUS <= 0:
            return match
        return wq.AndMaybe(match, wq.Term("exact", exact, boost=EXACT_BONUS))

    def phrase(self, text: str, field: str | None, positive: bool) -> wq.Query | None:
        words = exact_terms(text)
        if not words:
            return None
        if field == "title":
            stems = query_terms(text)
            if positive:
                self.stems.update(stems)
            terms = [wq.Term("title", s) for s in stems]
            return None if not terms else terms[0] if len(terms) == 1 else wq.And(terms)
        if positive:
            self.kept.append(text)
            if len(words) == 1:
                self.words.add(words[0])
            else:
                self.phrases.append(tuple(words))
        q = wq.Term("exact", words[0]) if len(words) == 1 else wq.Phrase("exact", words)
        if positive:
            self.in_text.append(q)
        return q

    def prefix(self, node: _Prefix, positive: bool) -> wq.Query | None:
        words = exact_terms(node.text)
        if not words:
            return None
        prefix = words[-1]
        if positive:
            self.kept.append(node.text + "*")
            self.prefixes.append(prefix)
        if node.field == "title":
            return wq.Prefix("title", prefix)
        if positive:
            self.in_text.append(wq.Prefix("exact", prefix))
        return wq.Or([wq.Prefix("exact", prefix), wq.Prefix("title", prefix, boost=TITLE_WEIGHT)])


def _ranked_or(parts: list[wq.Query]) -> wq.Query:
    """A question's words: any of them, the passages with more of them scoring higher."""
    return wq.Or(parts)


def _plain_words(text: str) -> list[tuple[str, str]]:
    """Read any input as plain words: quotes, parentheses, stars, dashes become spaces."""
    words = re.sub(r'["()*]', " ", text).split()
    return [("word", w.lstrip("-+")) for w in words if w.lstrip("-+")]


# Words that open a French question; a question is ranked, not a list of required words.
_QUESTION_WORDS = frozenset(
    """qui que quoi quel quelle quels quelles quand où comment pourquoi combien lequel
    laquelle lesquels lesquelles""".split()
)


# In a question, the interrogative words ask; the answer does not contain them (« Quand … ? »
# is answered by a date, not by "quand"): a question's ranking leaves them out.
# bench/relevance.py, all 1,922 PIAF questions on the full index: MRR@10 0.625 -> 0.630,
# R@10 0.759 -> 0.764, R@100 0.848 -> 0.851; leads unchanged (0.642).
INTERROGATIVES = frozenset(
    fold_accents(w) for w in "quand où comment pourquoi combien quoi".split()
)
DROP_INTERROGATIVES = True


def _is_interrogative(text: str, ranked_or: bool) -> bool:
    return DROP_INTERROGATIVES and ranked_or and fold_accents(text.lower()) in INTERROGATIVES


def _is_question(text: str) -> bool:
    stripped = text.strip()
    if stripped.endswith("?"):
        return True
    first = stripped.split(maxsplit=1)[0].lower() if stripped else ""
    return first in _QUESTION_WORDS or first.startswith(("qu'", "est-ce"))


def _is_long_text(tokens: list[tuple[str, str]]) -> bool:
    """Many words and no operator or field: text to rank, not a query to parse."""
    if any(kind in ("op", "field", "datefield") for kind, _ in tokens):
        return False
    words = [v.strip('"') for kind, v in tokens if kind in ("word", "phrase")]
    return sum(len(query_terms(w)) for w in words) > LONG_QUERY_WORDS


def _count_plain(node) -> int:
    if isinstance(node, _Word):
        return 1 if query_terms(node.text) else 0
    if isinstance(node, _And) and node.implicit:
        return sum(_count_plain(n) for n in node.nodes)
    return 0


def _parse_date(value: str, end: bool) -> dt.date | None:
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", value)
    if not m:
        return None
    year, month, day = int(m[1]), m[2], m[3]
    try:
        if month is None:
            return dt.date(year, 12, 31) if end else dt.date(year, 1, 1)
        month = int(month)
        if day is None:
            last = calendar.monthrange(year, month)[1]
            return dt.date(year, month, last) if end else dt.date(year, month, 1)
        return dt.date(year, month, int(day))
    except ValueError:
        return None


def parse_query(text: str) -> ParsedQuery:
    """Read what a user typed; never raises."""
    cleaned = _clean(text or "")
    notes: list[str] = []
    tokens = _lex(cleaned)
    parser = _Parser(tokens)
    try:
        tree = parser.parse() if tokens else None
    except (_SyntaxError, IndexError):
        notes.append("la syntaxe n'a pas pu être lue : recherche des mots tels quels")
        parser = _Parser(_plain_words(cleaned))
        tree = parser.parse() if parser.tokens else None
    since = until = None
    for kind, value in parser.dates:
        start, end = _parse_date(value, end=False), _parse_date(value, end=True)
        if start is None:
            notes.append(f"date ignorée : {value}")
            continue
        if kind in ("date", "since"):
            since = max(since, start) if since else start
        if kind in ("date", "until"):
            until = min(until, end) if until else end
    if tree is not None and _is_long_text(tokens):
        # A long text (a question, a pasted paragraph) is its words: quotes, parentheses
        # and dashes in it are punctuation, not syntax.
        tree = _Parser(_plain_words(cleaned)).parse()
    count = _count_plain(tree) if tree is not None else 0
    ranked_or = count > LONG_QUERY_WORDS or (count > 1 and _is_question(cleaned))
    builder = _Builder(ranked_or)
    q = builder.build(tree) if tree is not None else None
    if q is None and builder.dropped:
        # Only common words (e.g. "qui est"): look for them as written.
        words = list(dict.fromkeys(w for text in builder.dropped for w in exact_terms(text)))
        builder.words.update(words)
        terms = [wq.Term("exact", w) for w in words]
        q = terms[0] if len(terms) == 1 else wq.And(terms)
    elif q is not None and _only_negative(q):
        q = wq.And([wq.Every(), q])
    elif q is not None and builder.in_text:
        # An article found by its title alone is found by its first passage.
        # A condition, not a score: the words were scored above.
        in_text = wq.Or([*builder.in_text, wq.Term("lead", "1")])
        q = wq.Require(q, in_text)
    plan = _plain_plan(tree, ranked_or) if tree is not None and q is not None else None
    return ParsedQuery(
        text=cleaned,
        query=q,
        plain=plan[0] if plan else None,
        excluded=plan[1] if plan else (),
        excluded_words=tuple(builder.excluded_words),
        may_relax=plan is not None and (not isinstance(tree, _And) or tree.implicit),
        highlights=Highlights(
            stems=frozenset(builder.stems),
            words=frozenset(builder.words),
            phrases=tuple(builder.phrases),
            prefixes=tuple(builder.prefixes),
        ),
        ranked_or=ranked_or,
        words=tuple(builder.plain),
        kept=tuple(builder.kept),
        dropped=tuple(builder.dropped),
        since=since,
        until=until,
        notes=tuple(notes),
    )


def _query_words(text: str, ranked_or: bool) -> list[QueryWord] | None:
    """The word as the ranking sees it ([] for a stop word); None if it must be a phrase."""
    exact = exact_terms(text)
    stems = query_terms(text)
    if len(exact) <= 1 or len(stems) <= 1:
        # One word, or a compound with one significant part (tombe-t-il, est-ce).
        return [QueryWord(s, exact[0] if len(exact) == 1 else None) for s in stems]
    if ranked_or:  # in a question, its parts are words
        return [
            QueryWord(query_terms(p)[0], p)
            for p in exact
            if query_terms(p) and not _is_interrogative(p, ranked_or)
        ]
    return None  # Corbeil-Essonnes: the words in a row


def _plain_plan(tree, ranked_or: bool) -> tuple[tuple[QueryWord, ...], tuple[str, ...]] | None:
    """The words and excluded stems of a query made only of plain words, else None."""
    nodes = tree.nodes if isinstance(tree, _And) else [tree]
    words: list[QueryWord] = []
    excluded: list[str] = []
    for node in nodes:
        negative = isinstance(node, _Not)
        if negative:
            node = node.node
        if not isinstance(node, _Word) or node.field is not None or _is_prefix_like(node):
            return None
        found = _query_words(node.text, ranked_or and not negative)
        if found is None:
            return None
        if not negative and _is_interrogative(node.text, ranked_or):
            continue
        for word in found:
            if negative:
                excluded.append(word.stem)
            elif REPEATED_WORDS_COUNT or word not in words:
                words.append(word)
    return (tuple(words), tuple(excluded)) if words else None


def _is_prefix_like(node: _Word) -> bool:
    return "*" in node.text


def _only_negative(q: wq.Query) -> bool:
    if isinstance(q, wq.Not):
        return True
    if isinstance(q, wq.And):
        return all(isinstance(s, wq.Not) for s in q.subqueries)
    return False
