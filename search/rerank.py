"""The second stage: a learned ranker re-orders the first stage's best articles.

The first stage (a backend's BM25F over passages, then ``rank_articles``) ranks every match.
For a query of two words or more (``RankingConfig.second_stage_keyword_min_words``), the first
stage's best articles (``RankingConfig.second_stage_articles``) and their best passages are
scored again by a LightGBM lambdarank model over features of the query's words in each
passage (``FEATURES``); an article takes its best passage's score, and that passage is the one the
hit shows first. The model (``models/ranker.txt``, package data) is trained by
``bench/train_ranker.py`` from the development data only; no feature names a passage, a
source or a date: only what the query's words do in the text.

Pure but for the model: takes arrays and stored passages, returns values.
"""

from __future__ import annotations

import functools
import itertools
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .analysis import SIGN_WORDS, capital_term, fold_accents, spell_numbers, stem
from .backends.base import Candidates, Evidence, StoredPassage
from .querying import Term

_SIGN_STEMS = frozenset(map(stem, SIGN_WORDS))  # euro, dollar, pourcent
# Words this close (in words) count as near each other.
NEAR = 8

FEATURES = (
    "passage_score",  # the first stage's passage score, ÷ the query's best
    "passage_score_raw",
    "article_score",  # the first stage's article score, ÷ the query's best
    "article_rank",  # the article's place in the first stage (0: first)
    "passage_rank",  # the passage's place among its article's (0: best)
    "bm25_text",  # BM25 of the query's words in the passage's text
    "bm25_title",  # ... in its article's title
    "bm25_exact",  # ... as typed (accents and case aside)
    "bm25_text_long",  # BM25 of the text with a document's parameters (k1 1.2, b 0.75)
    "coverage_text",  # share of the query's idf the passage's text holds
    "coverage_title",
    "coverage_any",  # ... its text or its title
    "coverage_exact",
    "words_matched",  # how many of the query's words the text holds
    "query_words",
    "query_idf",  # the query's words' idf, summed
    "whole_article",  # the article's BM25 as one document, ÷ the query's best
    "whole_article_raw",
    "article_passages",  # how many of the article's passages match
    "article_spread",  # the article's other matching passages' scores, ÷ its best
    "position",  # the passage's place in its article (0: the lead)
    "window",  # the smallest span (words) holding every matched word, ÷ their number
    "near",  # the most query words within NEAR words of each other, ÷ the query's
    "first_match",  # where the first query word stands in the passage (words)
    "pairs",  # pairs of query words side by side (at most a word between), ÷ query words
    "rarest_matched",  # the rarest query word the text holds: its idf ÷ the rarest's
    "rare_words",  # how many of the query's three rarest words the text holds
    "article_coverage",  # share of the query's idf the article's text or title holds
    "article_rare_words",  # how many of the query's three rarest words the article holds
)
# The same evidence beside the shortlist's best: a passage's BM25 or coverage against the
# best one's, for this query (the model compares passages of one query).
VERSUS_BEST = (
    "bm25_text",
    "bm25_text_long",
    "bm25_title",
    "bm25_exact",
    "coverage_text",
    "coverage_any",
    "coverage_exact",
    "near",
    "whole_article_raw",
    "article_coverage",
)
BASE_FEATURES = FEATURES
FEATURES = (*BASE_FEATURES, *(f"{name}_vs_best" for name in VERSUS_BEST))


# What each feature is, for a reader of --explain.
FEATURE_LABELS = {
    "passage_score": "score du passage (1er tri)",
    "passage_score_raw": "score brut du passage",
    "article_score": "score de l'article (1er tri)",
    "article_rank": "rang de l'article au 1er tri",
    "passage_rank": "rang du passage dans l'article",
    "bm25_text": "mots de la requête dans le passage",
    "bm25_title": "mots de la requête dans le titre",
    "bm25_exact": "mots tels que tapés",
    "bm25_text_long": "mots de la requête dans le passage (BM25 de document)",
    "coverage_text": "part des mots (pondérés) dans le passage",
    "coverage_title": "part des mots dans le titre",
    "coverage_any": "part des mots dans le passage ou le titre",
    "coverage_exact": "part des mots tels que tapés",
    "words_matched": "nombre de mots trouvés",
    "query_words": "longueur de la requête",
    "query_idf": "rareté des mots de la requête",
    "whole_article": "article entier (BM25)",
    "whole_article_raw": "article entier (BM25 brut)",
    "article_passages": "passages de l'article qui correspondent",
    "article_spread": "autres passages de l'article",
    "position": "place du passage dans l'article",
    "window": "proximité des mots",
    "near": "mots proches les uns des autres",
    "first_match": "place du premier mot trouvé",
    "pairs": "mots de la requête côte à côte",
    "rarest_matched": "mot le plus rare trouvé",
    "rare_words": "mots les plus rares trouvés",
    "article_coverage": "part des mots dans l'article",
    "article_rare_words": "mots les plus rares dans l'article",
}
FEATURE_LABELS |= {
    f"{name}_vs_best": f"{FEATURE_LABELS[name]}, face au meilleur passage" for name in VERSUS_BEST
}


@dataclass(frozen=True)
class Shortlist:
    """The first stage's best articles and their best passages: what the model re-ranks.

    ``rows`` index the candidates; ``article_rank`` and ``passage_rank`` say where each row
    stood in the first stage (its article among articles, it among its article's passages).
    """

    rows: np.ndarray
    article_rank: np.ndarray
    passage_rank: np.ndarray


@dataclass(frozen=True)
class Reranked:
    """The re-ranked articles, best first, their scores, and each one's credited passage
    (the candidate number of its best-scored passage) with that passage's features."""

    articles: np.ndarray
    scores: np.ndarray
    credited: Mapping[int, int]
    features: Mapping[int, tuple[float, ...]]


def shortlist(
    ranked_articles: np.ndarray,
    order: np.ndarray,
    candidate_articles: np.ndarray,
    articles: int,
    per_article: int,
) -> Shortlist:
    """The best ``per_article`` passages (first-stage order) of the first ``articles``
    ranked articles."""
    window = ranked_articles[:articles]
    place = {int(a): i for i, a in enumerate(window.tolist())}
    seen: dict[int, int] = {}
    rows, article_rank, passage_rank = [], [], []
    in_window = np.flatnonzero(np.isin(candidate_articles[order], window))
    for i in order[in_window].tolist():
        article = int(candidate_articles[i])
        k = seen.get(article, 0)
        if k >= per_article:
            continue
        seen[article] = k + 1
        rows.append(i)
        article_rank.append(place[article])
        passage_rank.append(k)
    return Shortlist(
        rows=np.asarray(rows, dtype=np.int64),
        article_rank=np.asarray(article_rank, dtype=np.float32),
        passage_rank=np.asarray(passage_rank, dtype=np.float32),
    )


def feature_table(
    found: Candidates,
    short: Shortlist,
    article_scores: np.ndarray,
    whole: np.ndarray,
    evidence: Evidence,
    stored: Sequence[StoredPassage],
    words: tuple[Term, ...],
    best_whole: float,
    held: np.ndarray,
) -> np.ndarray:
    """The features (columns in FEATURES order) of each shortlisted passage.

    ``article_scores`` and ``whole`` are by window rank: the first stage's score of each
    window article and its whole-document BM25; ``best_whole`` the best such BM25 of all
    the matching articles; ``held`` which words (rows) each window article's text holds.
    """
    rows = short.rows
    scores = found.scores[rows]
    best_score = float(found.scores.max()) if len(found.scores) else 1.0
    ranks = short.article_rank.astype(np.int64)
    arts = found.articles
    counts = np.bincount(arts, minlength=int(arts.max()) + 1)
    totals = np.bincount(arts, weights=found.scores, minlength=int(arts.max()) + 1)
    row_arts = arts[rows]
    best_of_article = np.maximum(_article_best(row_arts, scores), 1e-9)
    idf = evidence.idf
    idf_sum = float(idf.sum()) or 1.0
    in_text, in_title, in_exact = evidence.text > 0, evidence.title > 0, evidence.exact > 0
    near = proximities([p.text for p in stored], words)
    table = np.column_stack(
        [
            scores / max(best_score, 1e-9),
            scores,
            article_scores[ranks] / max(float(article_scores.max()), 1e-9),
            short.article_rank,
            short.passage_rank,
            evidence.text.sum(axis=0),
            evidence.title.sum(axis=0),
            evidence.exact.sum(axis=0),
            _bm25(evidence, k1=1.2, b=0.75),
            idf @ in_text / idf_sum,
            idf @ in_title / idf_sum,
            idf @ (in_text | in_title) / idf_sum,
            idf @ in_exact / idf_sum,
            in_text.sum(axis=0),
            np.full(len(rows), len(words)),
            np.full(len(rows), idf_sum),
            whole[ranks] / max(best_whole, 1e-9),
            whole[ranks],
            counts[row_arts],
            (totals[row_arts] - best_of_article) / best_of_article,
            [p.position for p in stored],
            [w for w, _, _, _ in near],
            [n / max(len(words), 1) for _, n, _, _ in near],
            [f for _, _, f, _ in near],
            [p / max(len(words), 1) for _, _, _, p in near],
            *_rare_words(idf, in_text),
            idf @ (held[:, ranks] | in_title) / idf_sum,
            _rare_words(idf, held[:, ranks])[1],
        ]
    )
    return versus_best(table.astype(np.float32))


def versus_best(base: np.ndarray) -> np.ndarray:
    """The base features and, for VERSUS_BEST, each one less the shortlist's best."""
    if len(base) == 0:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    columns = [BASE_FEATURES.index(name) for name in VERSUS_BEST]
    chosen = base[:, columns]
    best = chosen.max(axis=0)
    return np.hstack([base, chosen - best]).astype(np.float32)


def _rare_words(idf: np.ndarray, in_text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each passage: the idf of the rarest query word its text holds ÷ the query's
    rarest, and how many of the query's three rarest words it holds."""
    if len(idf) == 0:
        zeros = np.zeros(in_text.shape[1], dtype=np.float32)
        return zeros, zeros
    held = np.where(in_text, idf[:, None], 0.0).max(axis=0) / max(float(idf.max()), 1e-9)
    rarest = np.argsort(-idf, kind="stable")[:3]
    return held, in_text[rarest].sum(axis=0)


def _bm25(evidence: Evidence, k1: float, b: float) -> np.ndarray:
    """BM25 of each passage's text for the query's words, with these parameters."""
    tf = evidence.text_tf
    norm = k1 * ((1 - b) + b * evidence.text_length / max(evidence.average_length, 1e-9))
    return (evidence.idf[:, None] * tf * (k1 + 1) / (tf + norm)).sum(axis=0)


def _article_best(row_arts: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Each row's article's best shortlisted passage score."""
    best: dict[int, float] = {}
    for a, s in zip(row_arts.tolist(), scores.tolist(), strict=True):
        best[a] = max(best.get(a, s), s)
    return np.asarray([best[a] for a in row_arts.tolist()], dtype=np.float32)


_WORD = re.compile(r"\d+,\d+|\w+")
# Words seen in passages and their folded stems, shared by every search (bounded).
_STEMS: dict[str, str] = {}
_STEMS_KEPT = 500_000


def _folded_stem(word: str) -> str:
    """The word's stem as the index writes it: Snowball on the accented word, then folded."""
    found = _STEMS.get(word)
    if found is None:
        if len(_STEMS) >= _STEMS_KEPT:
            _STEMS.clear()
        found = _STEMS[word] = fold_accents(stem(word.replace("œ", "oe").replace("æ", "ae")))
    return found


def _folded_start(start: str, k: int) -> str:
    return fold_accents(start.replace("œ", "oe").replace("æ", "ae"))[:k]


def proximities(
    texts: Sequence[str], words: tuple[Term, ...]
) -> list[tuple[float, int, float, int]]:
    """For each text: (the smallest span holding every matched query word ÷ their number,
    the most query words within NEAR words of each other, where the first one stands, how
    many pairs of distinct query words stand side by side, at most a word between)."""
    stems = {stem: i for i, stem in enumerate(dict.fromkeys(w.stem for w in words)) if stem}
    # A French stem starts as its word does (folded; the first two letters, or one for a
    # stem of one): only the words starting as a query stem does need stemming.
    k = min(2, *map(len, stems)) if stems else 1
    starts = {s[:k] for s in stems}
    # An acronym or a Roman ordinal typed in capitals (CIA, XVIIIe) is found by its case.
    capitals = any(s != s.lower() for s in stems)
    # A number or a currency sign is one word as the index reads it (10 000, 1,5, €).
    numbers = any(c.isdigit() for s in stems for c in s) or not stems.keys().isdisjoint(_SIGN_STEMS)
    found = []
    for text in texts:
        hits = []
        text = spell_numbers(text) if numbers else text
        for position, written in enumerate(_WORD.findall(text if capitals else text.lower())):
            if capitals:
                term = capital_term(written) if written[:1].isupper() else None
                if term in stems:
                    hits.append((position, stems[term]))
                    continue
                word = written.lower()
            else:
                word = written
            start = word[:k]
            if not start.isascii():
                start = _folded_start(start, k)
            if start not in starts:
                continue
            number = stems.get(_STEMS.get(word) or _folded_stem(word))
            if number is not None:
                hits.append((position, number))
        if not hits:
            found.append((0.0, 0, 0.0, 0))
            continue
        distinct = len({w for _, w in hits})
        pairs = {
            (min(a, b), max(a, b))
            for (p, a), (q, b) in itertools.pairwise(hits)
            if a != b and q - p <= 2
        }
        found.append(
            (
                _smallest_span(hits, distinct) / distinct,
                _most_near(hits),
                float(hits[0][0]),
                len(pairs),
            )
        )
    return found


def _smallest_span(hits: list[tuple[int, int]], distinct: int) -> int:
    """The fewest words, from one hit to another, that hold all ``distinct`` words."""
    best = hits[-1][0] - hits[0][0] + 1
    have: dict[int, int] = {}
    start = 0
    for position, word in hits:
        have[word] = have.get(word, 0) + 1
        while len(have) == distinct:
            best = min(best, position - hits[start][0] + 1)
            first = hits[start][1]
            have[first] -= 1
            if not have[first]:
                del have[first]
            start += 1
    return best


def _most_near(hits: list[tuple[int, int]]) -> int:
    """The most distinct words within NEAR words of each other."""
    most = 0
    start = 0
    have: dict[int, int] = {}
    for position, word in hits:
        have[word] = have.get(word, 0) + 1
        while hits[start][0] < position - NEAR:
            gone = hits[start][1]
            have[gone] -= 1
            if not have[gone]:
                del have[gone]
            start += 1
        most = max(most, len(have))
    return most


class Ranker:
    """A LightGBM model that scores feature rows (higher is better)."""

    def __init__(self, path: str | Path) -> None:
        import lightgbm

        self.path = str(path)
        try:
            self.booster = lightgbm.Booster(model_file=self.path)
        except (lightgbm.basic.LightGBMError, OSError, UnicodeDecodeError) as error:
            problem = str(error).strip().splitlines()[-1] if str(error).strip() else "unreadable"
            raise ValueError(f"{self.path} is not a LightGBM model file ({problem})") from None
        # One prediction at a time: the web app's threads share the model.
        self._lock = threading.Lock()
        names = tuple(self.booster.feature_name())
        if names != FEATURES:
            raise ValueError(f"{self.path}: the model's features are not this version's")

    def scores(self, table: np.ndarray) -> np.ndarray:
        """Each row's score."""
        with self._lock:
            scores = self.booster.predict(table, num_threads=1)
        return np.asarray(scores, dtype=np.float32)

    def contributions(self, row: np.ndarray) -> dict[str, float]:
        """How much each feature moved one row's score (SHAP values), by name."""
        with self._lock:
            values = self.booster.predict(row.reshape(1, -1), pred_contrib=True, num_threads=1)[0]
        return dict(zip(FEATURES, (float(v) for v in values[:-1]), strict=True))


MODEL = "ranker.txt"


@functools.lru_cache(maxsize=8)
def load_ranker(path: str | None = None) -> Ranker:
    """The model at path, or the one shipped with the package (read once)."""
    if path is not None:
        return Ranker(path)
    with resources.as_file(resources.files("search.models") / MODEL) as shipped:
        return Ranker(shipped)


def rerank(
    ranked_articles: np.ndarray,
    ranked_scores: np.ndarray,
    found: Candidates,
    short: Shortlist,
    table: np.ndarray,
    model_scores: np.ndarray,
) -> Reranked:
    """The window's articles ordered by their best passage's model score, then the rest as
    the first stage ranked them; each window article credited with that passage."""
    credited: dict[int, int] = {}
    at: dict[int, int] = {}  # where the credited passage is in the shortlist
    best: dict[int, float] = {}
    rows = short.rows.tolist()
    for i, (row, score) in enumerate(zip(rows, model_scores.tolist(), strict=True)):
        article = int(found.articles[row])
        if article not in best or score > best[article]:
            best[article], credited[article], at[article] = score, row, i
    window = np.asarray(list(best), dtype=ranked_articles.dtype)
    window_scores = np.asarray([best[a] for a in best], dtype=np.float32)
    first = {int(a): i for i, a in enumerate(ranked_articles[: len(window)].tolist())}
    tie = np.asarray([first[int(a)] for a in window.tolist()])
    order = np.lexsort((tie, -window_scores))
    window, window_scores = window[order], window_scores[order]
    rest = ~np.isin(ranked_articles, window)
    # The rest keep their first-stage order and scores, shifted under the window's: scores
    # go down the list, as everywhere.
    rest_scores = ranked_scores[rest].astype(np.float32)
    if len(rest_scores) and len(window_scores):
        rest_scores = rest_scores - rest_scores[0] + window_scores[-1] - 1.0
    return Reranked(
        articles=np.concatenate([window, ranked_articles[rest]]),
        scores=np.concatenate([window_scores, rest_scores]),
        credited=credited,
        features={a: tuple(table[i].tolist()) for a, i in at.items()},
    )
