"""Why a passage matched a query, in plain French: what the query became, what matched."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .analysis import exact_terms, query_terms
from .highlight import match_spans
from .querying import (
    All,
    Any,
    Everything,
    Highlights,
    Node,
    Not,
    ParsedQuery,
    Phrase,
    Spellings,
    Term,
    parse_query,
)
from .rerank import FEATURE_LABELS

# The features listed as what moved a hit.
MOVED_BY = 4


@dataclass(frozen=True)
class Explanation:
    """Why a passage matched a query, in plain French: what the query became, what matched."""

    query: str
    words: tuple[tuple[str, str], ...]  # (word as typed, the stem searched)
    dropped: tuple[str, ...]  # words left out: too common, or a question's interrogatives
    phrases: tuple[str, ...]
    prefixes: tuple[str, ...]
    excluded: tuple[str, ...]
    all_words_required: bool
    matched: tuple[str, ...]  # the passage's words that matched, as written
    score: float | None = None
    # The second stage's features that moved the hit most: (feature, its contribution).
    moved_by: tuple[tuple[str, float], ...] = ()
    readings: tuple[tuple[str, str], ...] = ()  # typos read as the corpus's words
    position: int | None = None  # the passage's place in its article (0: its start)
    ranked: bool = False  # a question or long text: any of its words may match
    filters_alone: bool = False  # no word: every article the filters keep
    # Words neither the passage nor its title has (a search that fell back to most words).
    missing: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """The explanation as French sentences."""
        out = []
        if self.readings:
            listed = ", ".join(f"« {typed} » lu comme « {read} »" for typed, read in self.readings)
            out.append(f"Fautes de frappe corrigées : {listed}.")
        if self.words:
            listed = ", ".join(f"« {w} » (racine « {s} »)" for w, s in self.words)
            out.append(f"Mots cherchés, sous toutes leurs formes : {listed}.")
        if self.phrases:
            out.append("Expressions exactes : " + ", ".join(f"« {p} »" for p in self.phrases) + ".")
        if self.prefixes:
            out.append("Débuts de mots : " + ", ".join(f"« {p}… »" for p in self.prefixes) + ".")
        if self.dropped:
            out.append(
                "Mots ignorés (trop courants, ou interrogatifs dans une question) : "
                + ", ".join(f"« {w} »" for w in self.dropped)
                + "."
            )
        if self.excluded:
            out.append("Exclus : " + ", ".join(f"« {w} »" for w in self.excluded) + ".")
        if self.filters_alone:
            out.append(
                "Filtres seuls : chaque article qu'ils gardent, du plus récent au plus ancien."
            )
        elif self.all_words_required and self.missing:
            missing = ", ".join(f"« {w} »" for w in self.missing)
            out.append(
                "Aucun passage ne contient tous les mots : celui-ci en contient le plus, "
                f"sans {missing}."
            )
        elif self.all_words_required:
            out.append("Tous les mots doivent figurer dans le passage ou le titre de l'article.")
        elif self.ranked:
            out.append(
                "Question longue : il suffit d'un mot ; les passages qui en contiennent le plus "
                "et les plus rares passent devant."
            )
        else:
            out.append("Il suffit d'une des possibilités reliées par OU.")
        if self.matched:
            out.append("Dans ce passage : " + ", ".join(f"« {w} »" for w in self.matched) + ".")
        elif not self.filters_alone and self.position == 0:  # only a lead is there by its title
            out.append("Ce passage est le début d'un article dont le titre correspond.")
        elif not self.filters_alone:
            out.append("Aucun mot de la requête ne figure dans ce passage.")
        if self.score is not None:
            out.append(f"Score : {_french(f'{self.score:.2f}')}.")
        if self.moved_by:
            listed = ", ".join(
                f"{FEATURE_LABELS.get(name, name)} ({_french(f'{value:+.2f}')})"
                for name, value in self.moved_by
            )
            out.append(f"Reclassé par le modèle appris ; ce qui a le plus compté : {listed}.")
        return out

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "words": [{"word": w, "stem": s} for w, s in self.words],
            "dropped": list(self.dropped),
            "phrases": list(self.phrases),
            "prefixes": list(self.prefixes),
            "excluded": list(self.excluded),
            "all_words_required": self.all_words_required,
            "matched": list(self.matched),
            "score": self.score,
            "second_stage": [{"feature": n, "contribution": v} for n, v in self.moved_by],
            "readings": [{"typed": t, "read": r} for t, r in self.readings],
            "missing": list(self.missing),
            "text": self.lines(),
        }


def _french(number: str) -> str:
    """A number written the French way: a decimal comma, a true minus sign."""
    return number.replace(".", ",").replace("-", "\u2212")


def explain(
    query: str | ParsedQuery,
    passage_text: str,
    score: float | None = None,
    contributions: Mapping[str, float] | None = None,
    position: int | None = None,
    title: str | None = None,
) -> Explanation:
    """Explain what a query became, which words of a passage it matched, and (given the
    second stage's contributions) which features moved the hit most.

    ``query`` as typed, or as the search read it (its typos read: ``read_typos``); with
    the article's ``title``, the words neither it nor the passage holds are named.
    """
    pq = parse_query(query) if isinstance(query, str) else query
    read = {_folded_word(typed): r for typed, r in pq.readings}
    other_spellings = {_folded_word(spelled) for _, spelled in pq.respelled}
    spans = match_spans(passage_text, pq.highlights)
    matched = tuple(dict.fromkeys(passage_text[s:e] for s, e in spans))
    words = tuple(
        (w, stems[0])
        for w in pq.searched
        if not w.endswith("*")  # a prefix is listed with the prefixes
        and (stems := query_terms(read.get(_folded_word(w), w)))
        and len(exact_terms(w)) == 1
    )
    starts = tuple(
        (w, exact[-1]) for w in pq.searched if w.endswith("*") and (exact := exact_terms(w))
    )
    return Explanation(
        query=pq.text,
        words=words,
        dropped=tuple(dict.fromkeys(pq.ignored)),
        phrases=tuple(p for p in map(" ".join, pq.highlights.phrases) if p not in other_spellings),
        prefixes=pq.highlights.prefixes,
        excluded=pq.excluded_words,
        all_words_required=not pq.ranked_or and _requires_all(pq.tree),
        matched=matched,
        score=score,
        moved_by=tuple(
            sorted((contributions or {}).items(), key=lambda item: -abs(item[1]))[:MOVED_BY]
        ),
        readings=pq.readings,
        position=position,
        ranked=pq.ranked_or,
        filters_alone=pq.tree is None or isinstance(pq.tree, Everything),
        missing=() if title is None else _missing(words, starts, f"{title}\n{passage_text}", pq),
    )


def _missing(
    words: tuple[tuple[str, str], ...],
    starts: tuple[tuple[str, str], ...],
    text: str,
    pq: ParsedQuery,
) -> tuple[str, ...]:
    """The words (as typed) whose stem the text does not hold (nor their other spelling:
    weekend, « week-end », in any of its forms), and the prefixes no word of it starts
    with."""
    other = dict(pq.respelled)
    forms = pq.highlights.phrase_forms
    wanted = [
        (w, Highlights(stems=frozenset({s}), phrases=_spelled(other.get(w)), phrase_forms=forms))
        if w in other
        else (w, Highlights(stems=frozenset({s})))
        for w, s in words
    ]
    wanted += [(w, Highlights(prefixes=(start,))) for w, start in starts]
    return tuple(w for w, highlights in wanted if not match_spans(text, highlights))


def _folded_word(word: str) -> str:
    return " ".join(exact_terms(word))


def _spelled(spelling: str | None) -> tuple[tuple[str, ...], ...]:
    return (tuple(exact_terms(spelling)),) if spelling else ()


def _requires_all(node: Node | None) -> bool:
    """Whether every part of the query tree must match (no OU between alternatives)."""
    if isinstance(node, All):
        return all(_requires_all(n) for n in node.nodes if not isinstance(n, Not))
    if isinstance(node, Spellings):  # one word in its spellings
        return True
    if isinstance(node, Any):  # a phrase in the text, or its words in the title: one part
        first, *others = node.nodes
        return isinstance(first, Phrase) and all(_in_title(n) for n in others)
    return True


def _in_title(node: Node) -> bool:
    if isinstance(node, All):
        return all(_in_title(n) for n in node.nodes)
    return isinstance(node, Term | Phrase) and node.field == "title"
