"""The query tree (``search.querying``) compiled into a whoosh query.

A word matches its stem in the text or (weighted) the title, plus a bonus where it stands as
typed; a phrase matches the exact field, or its words stand in a row in the title; a prefix
expands to at most MAX_PREFIX_TERMS words of the vocabulary, the most frequent, so that
``de*`` costs no more than a long question.
"""

from __future__ import annotations

import time

from whoosh import query as wq

from ...analysis import stems_of
from ...querying import All, Any, Everything, Node, Not, Phrase, Prefix, Term
from ...ranking import RankingConfig
from ._internals import AndNot
from .phrases import ArrayPhrase, OutOfTime

MAX_PREFIX_TERMS = 50


class Compiler:
    """Compile one query for one reader, collecting the notes it makes on the way."""

    def __init__(self, reader, config: RankingConfig, title_weight: float, deadline: float) -> None:
        self.reader = reader
        self.config = config
        self.title_weight = title_weight
        self.deadline = deadline
        self.notes: list[str] = []
        # What each positive node matches in the passage's own text: a passage must match
        # one of them (or be its article's first), so that a title match alone does not
        # bring in every passage of the article.
        self.in_text: list[wq.Query] = []

    def compile(self, tree: Node) -> wq.Query:
        q = self.node(tree, positive=True)
        if self.in_text:
            q = wq.Require(q, wq.Or([*self.in_text, wq.Term("lead", "1")]))
        return q

    def node(self, node: Node, positive: bool) -> wq.Query:
        if isinstance(node, Term):
            return self.term(node, positive)
        if isinstance(node, Phrase):
            return self.phrase(node, positive)
        if isinstance(node, Prefix):
            return self.prefix(node, positive)
        if isinstance(node, Not):
            return wq.Not(self.node(node.node, positive=False))
        if isinstance(node, Everything):
            return wq.Every()
        parts = [self.node(n, positive) for n in node.nodes]
        if isinstance(node, Any):
            return wq.Or(parts)
        assert isinstance(node, All)
        excluded = [q.query for q in parts if isinstance(q, wq.Not)]
        required = [q for q in parts if not isinstance(q, wq.Not)]
        if not required or not excluded:
            return wq.And(parts)
        match = required[0] if len(required) == 1 else wq.And(required)
        return AndNot(match, excluded[0] if len(excluded) == 1 else wq.Or(excluded))

    def term(self, node: Term, positive: bool) -> wq.Query:
        if node.field == "title":
            return wq.Term("title", node.stem)
        if positive:
            self.in_text.append(wq.Term("text", node.stem))
        match = wq.Or(
            [wq.Term("text", node.stem), wq.Term("title", node.stem, boost=self.title_weight)]
        )
        bonus = self.config.exact_bonus
        if node.exact is None or bonus <= 0:
            return match
        return wq.AndMaybe(match, wq.Term("exact", node.exact, boost=bonus))

    def phrase(self, node: Phrase, positive: bool) -> wq.Query:
        field = "title_exact" if node.field == "title" else "exact"
        # In a title, a condition: the title's words score as title words (the same
        # score as an unquoted word's there).
        boost = 0.0 if node.field == "title" else 1.0
        forms = [list(node.words), *(list(form) for form in node.forms)]
        # Only the forms the field has: whoosh's union of zero-boost queries, one of them
        # on a term the field lacks, matched one title of many (« sans-abri »).
        forms = [f for f in forms if all((field, w) in self.reader for w in f)] or forms[:1]
        found = [
            wq.Term(field, form[0], boost=boost)
            if len(form) == 1
            else ArrayPhrase(field, form, boost=boost, deadline=self.deadline)
            for form in forms
        ]
        q = found[0] if len(found) == 1 else wq.Or(found)
        if positive and node.field != "title":
            self.in_text.append(q)
        return q

    def prefix(self, node: Prefix, positive: bool) -> wq.Query:
        # Titles hold stems, the exact field the words as written: the prefix expands in
        # each, and the stems of its words reach the title stems shorter than the prefix
        # (électi* reaches « elect », the stem of élections).
        if node.field == "title":  # the text's words only lead to title stems: no note
            expanded, _ = expand_prefix(self.reader, "exact", node.prefix, self.deadline)
        else:
            expanded = self.expand("exact", node.prefix)
        stems, capped = prefix_titles(self.reader, node.prefix, expanded, self.deadline)
        if capped:
            self.notes.append(prefix_note(node.prefix))
        titles = [wq.Term("title", w) for w in stems]
        if node.field == "title":
            return _any(titles) if titles else wq.NullQuery()
        words = [wq.Term("exact", w) for w in expanded]
        if not words and not titles:
            return wq.NullQuery()
        exact = _any(words) if words else wq.NullQuery()
        if positive and words:
            self.in_text.append(exact)
        for title in titles:
            title.boost = self.title_weight
        return wq.Or([exact, *titles])

    def expand(self, field: str, prefix: str) -> list[str]:
        """The prefix's words in the vocabulary, the MAX_PREFIX_TERMS most frequent."""
        words, capped = expand_prefix(self.reader, field, prefix, self.deadline)
        if capped:
            self.notes.append(prefix_note(prefix))
        return words


def expand_prefix(reader, field: str, prefix: str, deadline: float) -> tuple[list[str], bool]:
    """The words of a field's vocabulary that start with the prefix (at most the
    MAX_PREFIX_TERMS most frequent), and whether there were more."""
    found = []
    for n, word in enumerate(reader.expand_prefix(field, prefix)):
        if n % 512 == 0 and time.monotonic() > deadline:
            raise OutOfTime
        found.append((reader.doc_frequency(field, word), word))
    capped = len(found) > MAX_PREFIX_TERMS
    if capped:
        found = sorted(found, key=lambda f: (-f[0], f[1]))[:MAX_PREFIX_TERMS]
    return [w.decode("utf-8") if isinstance(w, bytes) else w for _, w in found], capped


def prefix_titles(reader, prefix: str, words: list[str], deadline: float) -> tuple[list[str], bool]:
    """The title stems a prefix reaches, and whether there were more: the stems it starts,
    and those of its ``words`` in the text that titles hold (électi* reaches « elect »,
    shorter than the prefix)."""
    stems, capped = expand_prefix(reader, "title", prefix, deadline)
    stems += [s for s in stems_of(words) if s not in stems and reader.doc_frequency("title", s)]
    return stems, capped


def prefix_note(prefix: str) -> str:
    return (
        f"« {prefix}* » : les {MAX_PREFIX_TERMS} mots les plus fréquents commençant "
        f"par « {prefix} » sont cherchés"
    )


def _any(parts: list[wq.Query]) -> wq.Query:
    return parts[0] if len(parts) == 1 else wq.Or(parts)
