"""A query (plain plan or tree) as SphinxQL: a MATCH() expression and a score expression.

Matching is Sphinx's (over Veille's tokens); scoring is Veille's: the score expression is
the embedded backend's BM25F, written out term by term with the cluster's global document
frequencies and average field lengths (``stats``), and each passage's term frequencies and
field lengths (its ``tf`` JSON and ``lx``/``lt``/``le`` attributes). Every shard computes
the same formula with the same figures, so scores do not depend on the number of shards.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ...analysis import stems_of
from ...querying import All, Any, Everything, Node, Not, Phrase, PlainPlan, Prefix, Term
from ...ranking import RankingConfig
from .terms import key, token

MAX_PREFIX_TERMS = 50
NEVER = "_x"  # a token no term makes: matches nothing
# The first cut of a question or a long text (any of its words matching) ranks only the
# passages that hold CUT_QUORUM of its words, at least 2: such a query matches much of a
# shard, and Sphinx's ranker reads every match's positions. Measured in bench/README.md
# (cluster section): on dev leads the same MRR@10 and top 10 for 182-190 of 200 with a
# third less time; on 400 dev questions MRR@10 0.702 -> 0.699, the same page for 341, p95
# 341 -> 242 ms.
CUT_QUORUM_FROM = 5  # words
CUT_QUORUM = 0.1
_LENGTH = {"x": "lx", "t": "lt", "e": "le"}


def prefix_note(prefix: str) -> str:
    return (
        f"« {prefix}* » : les {MAX_PREFIX_TERMS} mots les plus fréquents commençant "
        f"par « {prefix} » sont cherchés"
    )


def idf(documents: int, frequency: int) -> float:
    """The embedded backend's BM25 idf (whoosh's)."""
    if documents <= 0:
        return 0.0
    return math.log(documents / (frequency + 1)) + 1


class Scorer:
    """Writes BM25 terms as SphinxQL expressions, with the cluster's statistics."""

    def __init__(
        self,
        totals: dict[str, tuple[int, int]],
        frequency: Callable[[str, str], int],
        k1: float,
        b: float,
    ) -> None:
        self.totals = totals
        self.frequency = frequency
        self.k1, self.b = k1, b

    def term(self, field: str, term: str, weight: float, length: str | None = None) -> str | None:
        """weight × idf × tf(k1+1) / (tf + k1((1-b) + b·len/avg)) for one term of one field
        (None when no document has it: it adds nothing), written with tf once, as
        weight × idf × (k1+1) × (1 - norm / (tf + norm)): a node looks up each term's
        frequency once a row, half the time of the formula as it reads."""
        df = self.frequency(field, term)
        docs, total = self.totals.get(field, (0, 0))
        if df <= 0 or docs <= 0 or weight == 0:
            return None
        average = (total / docs) or 1.0
        k1, b = self.k1, self.b
        tf = f"DOUBLE(tf.{field}.{key(term)})"
        factor = weight * idf(docs, df) * (k1 + 1)
        length = length or _LENGTH[field]
        if k1 * (1 - b) <= 0:  # a norm that may be 0: 1 - 0/0 would not be 0
            return f"{factor:.9g}*{tf}/({tf}+{k1 * b / average:.9g}*{length})"
        norm = f"({k1 * (1 - b):.9g}+{k1 * b / average:.9g}*{length})"
        return f"{factor:.9g}*(1-{norm}/({tf}+{norm}))"


def _present(term: Term) -> str:
    """The condition that a passage holds the term where it is looked for."""
    fields = {"title": ("t",), "exact": ("e",)}.get(term.field or "", ("x", "t"))
    found = [f"DOUBLE(tf.{f}.{key(term.stem)})>0" for f in fields]
    return found[0] if len(found) == 1 else "(" + " OR ".join(found) + ")"


def _any(parts: list[str]) -> str:
    parts = [p for p in parts if p]
    if not parts:
        return NEVER
    return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"


def _in(field: str, terms: list[str]) -> str | None:
    if not terms:
        return None
    tokens = " | ".join(token(t) for t in dict.fromkeys(terms))
    return f"(@{field} ({tokens}))" if len(terms) > 1 else f"(@{field} {tokens})"


class Compiler:
    """One query for one generation: its MATCH text, its score expression and notes."""

    def __init__(
        self,
        scorer: Scorer,
        expand: Callable[[str, str], tuple[list[str], bool]],
        config: RankingConfig,
        title_weight: float,
    ) -> None:
        self.scorer = scorer
        self.expand_field = expand
        self.config = config
        self.title_weight = title_weight
        self.notes: list[str] = []
        self.scores: list[str] = []
        # Whether a word of the query scores the passages (else each scores the same).
        self.scores_words = False
        self.in_text: list[str] = []
        # The MATCH of a first cut (best.py), when it is narrower than the query's own.
        self.cut_match: str | None = None

    def expand(self, field: str, prefix: str) -> list[str]:
        words, capped = self.expand_field(field, prefix)
        if capped and prefix_note(prefix) not in self.notes:
            self.notes.append(prefix_note(prefix))
        return words

    def _score(self, field: str, term: str, weight: float) -> None:
        expression = self.scorer.term(field, term, weight)
        if expression:
            self.scores.append(expression)
            self.scores_words = True

    def score(self) -> str:
        return " + ".join(self.scores) if self.scores else "0"

    # --- a plain plan -----------------------------------------------------------------

    def plan(self, plan: PlainPlan) -> str:
        clauses = [self.word(word, positive=True) for word in plan.words]
        joined = " ".join(clauses) if plan.require_all else " | ".join(clauses)
        excluded = "".join(f" -(@(text,title) {token(stem)})" for stem in plan.excluded)
        stems = [w.stem for w in plan.words if isinstance(w, Term) and w.field is None]
        if not plan.require_all and len(stems) == len(plan.words) >= CUT_QUORUM_FROM:
            quorum = max(2, math.ceil(CUT_QUORUM * len(stems)))
            listed = " ".join(token(s) for s in stems)
            self.cut_match = self._with_text(f'(@(text,title) "{listed}"/{quorum}){excluded}')
        return self._with_text(f"({joined}){excluded}")

    def _with_text(self, match: str) -> str:
        # A passage matches in its own text, or is its article's first: a title match alone
        # brings in the article by its lead, not every passage.
        if not self.in_text:
            return match
        return f"{match} ({' | '.join([*self.in_text, '(@flags lead)'])})"

    def word(self, word: Term | Prefix, positive: bool) -> str:
        if isinstance(word, Prefix):
            return self.prefix(word, positive)
        if word.field == "exact":
            clause = _in("exact", [word.stem])
            if positive:
                self.in_text.append(clause)
                self._score("e", word.stem, 1.0)
            return clause
        if word.field == "title":
            if positive:
                self._score("t", word.stem, 1.0)
            return _in("title", [word.stem])
        if positive:
            self.in_text.append(_in("text", [word.stem]))
            self._score("x", word.stem, 1.0)
            self._score("t", word.stem, self.title_weight)
            if word.exact is not None and self.config.exact_bonus > 0:
                self._score("e", word.exact, self.config.exact_bonus)
        return f"({_in('text', [word.stem])} | {_in('title', [word.stem])})"

    def prefix(self, node: Prefix, positive: bool) -> str:
        # As the embedded backend: the stems of the prefix's words reach the title stems
        # shorter than the prefix.
        words = self.expand("e", node.prefix)
        titles = self.expand("t", node.prefix)
        frequency = self.scorer.frequency
        titles += [s for s in stems_of(words) if s not in titles and frequency("t", s)]
        title_weight = 1.0 if node.field == "title" else self.title_weight
        if positive:
            for w in titles:
                self._score("t", w, title_weight)
        if node.field == "title":
            return _in("title", titles) or NEVER
        exact = _in("exact", words)
        if positive and exact:
            self.in_text.append(exact)
            for w in words:
                self._score("e", w, 1.0)
        return _any([exact, _in("title", titles)])

    # --- a query tree -----------------------------------------------------------------

    def tree(self, tree: Node) -> str:
        return self._with_text(self.node(tree, positive=True))

    def node(self, node: Node, positive: bool) -> str:
        if isinstance(node, Term | Prefix):
            return self.word(node, positive)
        if isinstance(node, Phrase):
            return self.phrase(node, positive)
        if isinstance(node, Not):
            inner = self.node(node.node, positive=False)
            # Not of a Not: the passages of the inner node, as a condition (never scored).
            return inner[1:] if inner.startswith("-") else f"-{inner}"
        if isinstance(node, Everything):
            if positive:
                self.scores.append("1")  # whoosh's Every scores each document 1
            return "(@flags all)"
        if isinstance(node, Any):
            parts = [self.alternative(n, positive) for n in node.nodes]
            # Sphinx has no `a | -b`: "not b" is "every passage but those with b".
            return _any([f"((@flags all) {p})" if p.startswith("-") else p for p in parts])
        parts = [self.node(n, positive) for n in node.nodes]
        assert isinstance(node, All)
        required = [p for p in parts if not p.startswith("-")] or ["(@flags all)"]
        excluded = [p for p in parts if p.startswith("-")]
        return "(" + " ".join(required + excluded) + ")"

    def alternative(self, node: Node, positive: bool) -> str:
        """One branch of an OR. Whoosh scores an AND of words only where all of them match
        (a phrase's words in a title: « porte parole » is not « portes de Sète »): so do
        its scores here, summed under the condition that each word is there."""
        parts = node.nodes if isinstance(node, All) else ()
        # A phrase in the title is a condition the MATCH checks (an expression cannot):
        # its words' presence guards their scores.
        terms = [t for t in parts if isinstance(t, Term)]
        in_title = [t for t in parts if isinstance(t, Phrase) and t.field == "title"]
        if not positive or not terms or len(terms) + len(in_title) < len(parts):
            return self.node(node, positive)
        before = len(self.scores)
        clause = self.node(node, positive)
        scored, self.scores[before:] = self.scores[before:], []
        if scored:
            present = " AND ".join(_present(t) for t in terms)
            self.scores.append(f"IF({present}, {' + '.join(scored)}, 0)")
        return clause

    def phrase(self, node: Phrase, positive: bool) -> str:
        words = list(node.words)
        field = "title_exact" if node.field == "title" else "exact"
        if len(words) == 1 and not node.forms:
            clause = _in(field, words)
        else:
            quoted = ['"' + " ".join(token(w) for w in form) + '"' for form in (words, *node.forms)]
            clause = f"(@{field} " + " | ".join(quoted) + ")"
        if node.field == "title":  # a condition: the title's words score as title words
            return clause
        if positive:
            self.in_text.append(clause)
            # The words' exact-field scores (whoosh scores the phrase itself), each once.
            for w in dict.fromkeys(w for form in (words, *node.forms) for w in form):
                self._score("e", w, 1.0)
        return clause
