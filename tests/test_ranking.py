"""The whoosh backend's array ranking of plain-word queries against whoosh's own matchers.

Both go through the backend's public ``match``: with the query's plain plan (the numpy path)
and without it (the query tree compiled for whoosh's matchers, the reference).
"""

import datetime as dt
import math
import re
import time

import numpy as np
import pytest

from search import RankingConfig, parse_query
from search.analysis import text_analyzer
from search.backends import store_for
from search.backends.base import Filters
from search.ranking import ordered_by, rank_articles

QUERIES = [
    "sécurité",
    "securite",
    "Maroc",
    "coopération sécuritaire",
    "France",
    "élections européennes",
    "Qatar -Asie",
    "Qui est Abdellatif Hammouchi ?",
    "Quel est le rôle du Maroc dans la lutte contre le terrorisme international ?",
    "supporters marocains stade",
    "Comment-faire la paix, et quand, au Maroc ?",
    "En quelle année le ministre français tombe-t-il malade au Maroc ?",
    "Pourquoi les supporters marocains de Saint-Denis vont-ils au stade de France ?",
    "qui est",  # common words only: their exact forms, all of them
    "de la",
    "terror*",  # prefixes: the vocabulary's words they start
    "sécu* Maroc",
    "Maroc -Asie coop*",
    "Maroc France -Asie",
    "Quel est le rôle du Maroc dans la lutte contre le terror* ?",
]


@pytest.fixture(scope="module")
def reader(news_index_path):
    backend = store_for(news_index_path).open(news_index_path, RankingConfig())
    yield backend.reader()
    backend.close()


def scored(reader, query: str, plain: bool, filters=None, title_weight=0.4):
    parsed = parse_query(query)
    plan = parsed.plan if plain else None
    filters = filters or Filters()
    found = reader.match(parsed, plan, filters, title_weight, time.monotonic() + 60)
    return dict(zip(found.docs.tolist(), found.scores.tolist(), strict=True))


@pytest.mark.parametrize("title_weight", [0.4, 1.0])
@pytest.mark.parametrize("query", QUERIES)
def test_array_ranking_equals_whoosh(reader, query, title_weight):
    assert parse_query(query).plan is not None, "a plain-word query takes the array path"
    fast = scored(reader, query, plain=True, title_weight=title_weight)
    ref = scored(reader, query, plain=False, title_weight=title_weight)
    assert fast and fast.keys() == ref.keys()
    for doc, score in ref.items():
        assert fast[doc] == pytest.approx(score, rel=1e-4), doc


def test_date_filter_on_the_array_path(reader):
    since = Filters(since=dt.date(2024, 5, 10))
    fast = scored(reader, "sécurité", plain=True, filters=since)
    ref = scored(reader, "sécurité", plain=False, filters=since)
    everything = scored(reader, "sécurité", plain=True)
    assert fast.keys() == ref.keys()
    assert 0 < len(fast) < len(everything)
    stored = reader.passages(sorted(fast))
    assert all(p.date is not None and p.date >= dt.date(2024, 5, 10) for p in stored)


@pytest.mark.parametrize("stem", ["secur", "maroc", "supporter", "elect"])
def test_whole_article_weights_are_bm25_over_each_article(news_index_path, stem):
    """An article's weight for a term, recomputed by hand from its passages' stored text."""
    config = RankingConfig(article_bm25_k1=0.9, article_bm25_b=0.5)
    backend = store_for(news_index_path).open(news_index_path, config)
    reader = backend.reader()
    ids = sorted({p.article_id for p in reader.passages(range(reader.stats().passages))})
    tf: dict[str, int] = {}
    length: dict[str, int] = {}
    for article_id in ids:
        texts = [p.text for p in reader.article(article_id)[1]]
        terms = [t.text for text in texts for t in text_analyzer()(text, mode="index")]
        tf[article_id] = terms.count(stem)
        # The index's length of a text: its terms, a word's two stems counting twice.
        length[article_id] = len(terms)
    numbers = np.arange(len(ids))
    from search.querying import Term

    weights = reader.whole_article_scores((Term(stem),), numbers, config)
    average = sum(length.values()) / len(length)
    found = [a for a in ids if tf[a]]
    idf = math.log(len(ids) / (len(found) + 1)) + 1
    k1, b = 0.9, 0.5
    for number, article_id in enumerate(ids):
        n = tf[article_id]
        expected = idf * n * (k1 + 1) / (n + k1 * ((1 - b) + b * length[article_id] / average))
        assert weights[number] == pytest.approx(expected, rel=0.02), article_id
    backend.close()


def test_articles_rank_by_best_passage_a_share_of_the_others_and_the_whole():
    articles = np.array([3, 1, 3, 2], dtype=np.int32)  # best passage first
    scores = np.array([5.0, 4.0, 1.0, 0.5], dtype=np.float32)
    config = RankingConfig(article_spread=0.5, article_text_weight=0.0)
    ranked, combined = rank_articles(articles, scores, config)
    assert ranked.tolist() == [3, 1, 2]
    assert combined.tolist() == pytest.approx([5.5, 4.0, 0.5])
    whole = np.array([10.0, 0.0, 0.0], dtype=np.float32)  # articles 1, 2, 3 as np.unique
    config = RankingConfig(article_spread=0.0, article_text_weight=1.0)
    ranked, combined = rank_articles(articles, scores, config, whole)
    assert ranked.tolist() == [1, 3, 2]
    assert combined.tolist() == pytest.approx([14.0, 5.0, 0.5])


def test_articles_rank_alike_in_any_candidate_order_and_ties_go_to_the_first_id():
    articles = np.array([3, 1, 3, 2, 4, 5], dtype=np.int32)
    scores = np.array([5.0, 4.0, 1.0, 0.5, 2.0, 2.0], dtype=np.float32)
    config = RankingConfig(article_spread=0.0, article_text_weight=0.0)
    expected = [3, 1, 4, 5, 2]  # 4 and 5 tie: 4 comes first in id order
    for order in ([0, 1, 2, 3, 4, 5], [5, 3, 1, 0, 2, 4], [2, 4, 0, 5, 1, 3]):
        ranked, combined = rank_articles(articles[order], scores[order], config)
        assert ranked.tolist() == expected
        assert combined.tolist() == pytest.approx([5.0, 4.0, 2.0, 2.0, 0.5])
    # Equal article scores: the better best passage first (7's 3.0 before 6's 2.0).
    articles = np.array([6, 6, 7], dtype=np.int32)
    scores = np.array([2.0, 2.0, 3.0], dtype=np.float32)
    config = RankingConfig(article_spread=0.5, article_text_weight=0.0)
    ranked, combined = rank_articles(articles, scores, config)
    assert ranked.tolist() == [7, 6]
    assert combined.tolist() == pytest.approx([3.0, 3.0])


def test_ordered_by_sorts_as_a_lexsort_of_its_keys():
    rng = np.random.default_rng(7)
    for n in (0, 1, 2, 50, 3000):
        key = rng.integers(0, max(n // 3, 1), n).astype(np.float32)  # many ties
        first = rng.integers(0, 5, n)
        second = rng.permutation(n)
        assert ordered_by(key).tolist() == np.lexsort((np.arange(n), key)).tolist()
        assert ordered_by(key, first).tolist() == np.lexsort((np.arange(n), first, key)).tolist()
        assert ordered_by(key, first, second).tolist() == np.lexsort((second, first, key)).tolist()


@pytest.mark.parametrize(
    "change",
    [
        {"second_stage_articles": 0},
        {"second_stage_articles": 20.0},
        {"second_stage_passages": True},
        {"second_stage_passages": "3"},
    ],
)
def test_a_second_stage_window_that_is_not_a_count_is_refused_by_name(change):
    name = next(iter(change))
    with pytest.raises(ValueError, match=f"RankingConfig.{name} must be a whole number"):
        RankingConfig().with_changes(**change)
    assert RankingConfig().with_changes(**{name: 7}).as_dict()[name] == 7


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"title_weight": -1}, "title_weight must be a number of 0 or more"),
        ({"bm25_k1": "x"}, "bm25_k1 must be a number"),
        ({"bm25_b": 1.5}, "bm25_b must be a number of 0 or more and at most 1"),
        ({"exact_bonus": float("nan")}, "exact_bonus must be a number"),
        ({"second_stage": "yes"}, "second_stage must be True or False"),
        ({"ranker_model": "/nulle/part.txt"}, "no model file at '/nulle/part.txt'"),
        ({"second_stage_articles": 0}, "second_stage_articles must be a whole number"),
    ],
)
def test_a_ranking_config_refuses_what_it_cannot_rank_with(changes, said):
    with pytest.raises(ValueError, match=re.escape(said)):
        RankingConfig(**changes)
    assert RankingConfig(title_weight=2).title_weight == 2  # a whole number is a number


def test_a_config_takes_numpy_numbers_as_python_numbers():
    config = RankingConfig(title_weight=np.float32(0.5), second_stage_articles=np.int64(40))
    assert config.title_weight == 0.5 and type(config.title_weight) is float
    assert config.second_stage_articles == 40 and type(config.second_stage_articles) is int


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"second_stage_articles": 10**9}, r"second_stage_articles must be a whole number from 1"),
        (
            {"second_stage_articles": 1000, "second_stage_passages": 100},
            r"second_stage_articles x second_stage_passages must be at most 10000",
        ),
        ({"title_weight": True}, r"title_weight must be a number of 0 or more.*not True"),
        ({"second_stage_passages": 2.0}, r"second_stage_passages must be a whole number"),
    ],
)
def test_a_config_refuses_windows_no_search_could_read(changes, message):
    with pytest.raises(ValueError, match=message):
        RankingConfig(**changes)
