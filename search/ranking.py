"""RankingConfig, every weight of the ranking in one place, and the ranking of articles.

A backend scores passages (the first stage: BM25F over their text, their article's title and
the exact form of the words, with this config's parameters); ``rank_articles`` orders the
articles those passages belong to (the second stage of the page's default). The values were
chosen with ``bench/relevance.py`` on the development data; the tables that chose them are in
``bench/README.md``. The benchmarks pass their own configs, nothing patches these values.
"""

from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

# Beyond it a weight overflows the 32-bit floats the scores are summed in.
MAX_WEIGHT = 1e6
# The most articles, passages or words a window or a rule counts, and the most passages
# in a window: the second stage reads and scores each of them (a million: minutes).
MAX_COUNT = 1000
MAX_WINDOW = 10_000


def _weight(value: Any, most: float | None) -> bool:
    """Whether a value is a usable weight: a finite number, 0 or more (at most ``most``)."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)
    if not real or not math.isfinite(value):
        return False
    return 0 <= value <= (MAX_WEIGHT if most is None else most)


@dataclass(frozen=True)
class RankingConfig:
    """Every weight and parameter of the ranking, each with its reason."""

    # Passages are short and even: their length matters less than a document's (B low),
    # and a word repeated in one passage adds little (K1 low).
    bm25_k1: float = 0.6
    bm25_b: float = 0.3
    # Every passage carries its article's title, so a heavy title lifts all of an article's
    # passages at once: ranking passages, the title counts less than the text.
    title_weight: float = 0.4
    # Ranking articles, the title says what the whole article is about (it lifts all of its
    # passages alike, which leaves the order of passages inside an article as it was).
    article_title_weight: float = 1.0
    # A passage where the word stands as typed ranks above one sharing only its stem.
    exact_bonus: float = 0.3
    # An article's rank adds this share of its other matching passages' scores to its best.
    article_spread: float = 0.1
    # ... and its BM25 score as one whole document (all its text), with BM25's usual
    # parameters for long documents: a lead, a summary, finds words spread over paragraphs.
    article_text_weight: float = 1.5
    article_bm25_k1: float = 1.2
    article_bm25_b: float = 0.75
    # A question asks for one passage: its articles rank by their best passage, with these
    # two weights in place of the two above (the second stage still weighs the whole article).
    question_article_spread: float = 0.0
    question_article_text_weight: float = 0.0
    # Questions and long texts: a learned model re-ranks the best articles and picks the
    # passage each one shows (search/rerank.py); ``ranker_model`` a model file of one's
    # own (bench/train_ranker.py writes them), None the one shipped with the package.
    second_stage: bool = True
    ranker_model: str | None = None
    # How far it looks: the first stage's best articles, and each one's best passages
    # (every article's best among them, so the right one is not missed for its paragraph).
    second_stage_articles: int = 40
    second_stage_passages: int = 3
    # Three or four words, all required: a narrower window keeps most of the model's gain
    # at a third of the passages read (bench/keyword_items.py).
    second_stage_keyword_articles: int = 20
    second_stage_keyword_passages: int = 2
    # ... from two required words: the model learned from questions and leads, yet its
    # proximities help two typed words find their article too (bench/keyword_items.py);
    # a word alone keeps the first stage's order.
    second_stage_keyword_min_words: int = 2

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type == "int":
                whole = isinstance(value, numbers.Integral) and not isinstance(value, bool)
                if not whole or not 1 <= value <= MAX_COUNT:
                    raise ValueError(
                        f"RankingConfig.{f.name} must be a whole number from 1 to {MAX_COUNT}, "
                        f"not {value!r}"[:200]
                    )
                object.__setattr__(self, f.name, int(value))  # numpy's integers too
            if f.type == "float" and not _weight(value, 1.0 if f.name.endswith("_b") else None):
                most = " and at most 1" if f.name.endswith("_b") else f" and at most {MAX_WEIGHT:g}"
                raise ValueError(
                    f"RankingConfig.{f.name} must be a number of 0 or more{most}, not {value!r}"[
                        :200
                    ]
                )
            if f.type == "float":
                object.__setattr__(self, f.name, float(value))
        for articles, passages in (
            ("second_stage_articles", "second_stage_passages"),
            ("second_stage_keyword_articles", "second_stage_keyword_passages"),
        ):
            if getattr(self, articles) * getattr(self, passages) > MAX_WINDOW:
                raise ValueError(
                    f"RankingConfig.{articles} x {passages} must be at most {MAX_WINDOW} "
                    "passages (the second stage reads each one)"
                )
        if not isinstance(self.second_stage, bool):
            raise ValueError("RankingConfig.second_stage must be True or False")
        model = self.ranker_model
        if model is not None and not (
            isinstance(model, str | os.PathLike) and Path(model).is_file()
        ):
            raise ValueError(f"RankingConfig.ranker_model: no model file at {model!r}")

    def with_changes(self, **changes: Any) -> RankingConfig:
        """The same config with some values changed (a benchmark's grid, a test)."""
        return replace(self, **changes)

    def for_question(self) -> RankingConfig:
        """The config that ranks a question's articles."""
        return replace(
            self,
            article_spread=self.question_article_spread,
            article_text_weight=self.question_article_text_weight,
        )

    def as_dict(self) -> dict[str, float | bool | str | None]:
        """The config's values by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


DEFAULT_RANKING = RankingConfig()


def rank_articles(
    articles: np.ndarray,
    scores: np.ndarray,
    config: RankingConfig,
    whole: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Order articles by their passages' evidence; return (articles, their scores), best first.

    ``articles`` and ``scores`` hold each candidate passage's article number and (finite,
    float) score, in any order. ``whole`` holds each of these articles' score as one whole
    document (in article-number order, as ``np.unique`` gives them), if known.
    An article scores its best passage, plus ``article_spread`` times its other passages,
    plus ``article_text_weight`` times ``whole``. Equal scores: the better best passage
    first, then the article first in id order (article numbers are in id order on every
    backend), so that copies of one text rank alike whatever the build.
    """
    if len(articles) == 0:
        return articles, scores
    # Per-article scatters rather than a sort of every candidate: a long question has
    # 100,000 of them, and only its articles need ordering.
    size = int(articles.max()) + 1
    top = np.full(size, -np.inf, dtype=scores.dtype)
    np.maximum.at(top, articles, scores)
    found = np.flatnonzero(top > -np.inf).astype(articles.dtype)
    best = top[found]
    total = np.bincount(articles, weights=scores, minlength=size)[found]
    combined = best + config.article_spread * (total - best)
    if whole is not None and config.article_text_weight:
        combined = combined + config.article_text_weight * whole
    order = ordered_by(-combined, -best)  # then by place in ``found``: article number
    return found[order], combined[order].astype(np.float32)


def ordered_by(key: np.ndarray, *ties: np.ndarray) -> np.ndarray:
    """The order of ``np.lexsort((*reversed(ties), key))``, equal rows in their order:
    ``key`` ascending, then each of ``ties``, sorting by ``ties`` only where ``key`` has
    equal values (few but for copies), which costs far less than a lexsort of every row."""
    order = np.argsort(key)
    ranked = key[order]
    same = ranked[1:] == ranked[:-1]
    if same.any():
        in_tie = np.flatnonzero(np.concatenate([same, [False]]) | np.concatenate([[False], same]))
        run = np.cumsum(np.concatenate([[True], ~same]))[in_tie]
        tied = order[in_tie]
        keys = [tie[tied] for tie in reversed(ties)]
        order[in_tie] = tied[np.lexsort((tied, *keys, run))]
    return order


def best_first(scores: np.ndarray, tie: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """These rows ordered by score, best first, equal scores by ``tie`` (lower first)."""
    return rows[np.lexsort((tie[rows], -scores[rows]))]


def unique_first(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values (sorted) and where each first occurs, as ``np.unique`` with
    ``return_index``, for small non-negative integers (article numbers): without a sort,
    which matters for the 100,000 candidates of a long question."""
    if len(values) == 0:
        return values.copy(), np.zeros(0, dtype=np.int64)
    n = len(values)
    if int(values.max()) > 4 * n + 1_000_000:  # sparse values: the scatter would not pay
        return np.unique(values, return_index=True)
    first = np.full(int(values.max()) + 1, n, dtype=np.int64)
    first[values[::-1]] = np.arange(n - 1, -1, -1)  # the last write wins: the first place
    found = np.flatnonzero(first < n)
    return found.astype(values.dtype), first[found]
