"""Why a passage matched a query, in plain French: what the query became, what matched."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .analysis import exact_terms, query_terms
from .highlight import match_spans
from .querying import parse_query
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

    def lines(self) -> list[str]:
        """The explanation as French sentences."""
        out = []
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
        if self.all_words_required:
            out.append("Tous les mots doivent figurer dans le passage ou le titre de l'article.")
        else:
            out.append(
                "Question longue : il suffit d'un mot ; les passages qui en contiennent le plus "
                "et les plus rares passent devant."
            )
        if self.matched:
            out.append("Dans ce passage : " + ", ".join(f"« {w} »" for w in self.matched) + ".")
        else:
            out.append("Ce passage est le début d'un article dont le titre correspond.")
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
            "text": self.lines(),
        }


def _french(number: str) -> str:
    """A number written the French way: a decimal comma, a true minus sign."""
    return number.replace(".", ",").replace("-", "\u2212")


def explain(
    query: str,
    passage_text: str,
    score: float | None = None,
    contributions: Mapping[str, float] | None = None,
) -> Explanation:
    """Explain what a query became, which words of a passage it matched, and (given the
    second stage's contributions) which features moved the hit most."""
    pq = parse_query(query)
    spans = match_spans(passage_text, pq.highlights)
    matched = tuple(dict.fromkeys(passage_text[s:e] for s, e in spans))
    words = tuple(
        (w, stems[0]) for w in pq.searched if (stems := query_terms(w)) and len(exact_terms(w)) == 1
    )
    return Explanation(
        query=pq.text,
        words=words,
        dropped=tuple(dict.fromkeys(pq.ignored)),
        phrases=tuple(" ".join(p) for p in pq.highlights.phrases),
        prefixes=pq.highlights.prefixes,
        excluded=pq.excluded_words,
        all_words_required=not pq.ranked_or,
        matched=matched,
        score=score,
        moved_by=tuple(
            sorted((contributions or {}).items(), key=lambda item: -abs(item[1]))[:MOVED_BY]
        ),
    )
