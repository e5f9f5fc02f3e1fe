"""The array ranking of plain-word queries against whoosh's own matcher tree (the reference)."""

import numpy as np
import pytest

from search.querying import parse_query

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
]


@pytest.mark.parametrize("query", QUERIES)
def test_array_ranking_equals_whoosh(news_index, query):
    searcher = news_index.searcher()
    parsed = parse_query(query)
    assert parsed.plain is not None, "a plain-word query takes the array path"
    fast_docs, fast_scores = searcher._rank_plain(parsed, None, None)
    ref_docs, ref_scores = searcher._rank_whoosh(parsed, None, None)
    fast = dict(zip(fast_docs.tolist(), fast_scores.tolist(), strict=True))
    ref = dict(zip(ref_docs.tolist(), ref_scores.tolist(), strict=True))
    assert fast.keys() == ref.keys()
    for doc, score in ref.items():
        assert fast[doc] == pytest.approx(score, rel=1e-4), doc


def test_date_filter_on_the_array_path(news_index):
    import datetime as dt

    searcher = news_index.searcher()
    parsed = parse_query("sécurité")
    docs, _ = searcher._rank_plain(parsed, dt.date(2024, 5, 10), None)
    ref, _ = searcher._rank_whoosh(parsed, dt.date(2024, 5, 10), None)
    assert sorted(docs.tolist()) == sorted(ref.tolist())
    assert len(docs) and np.all(
        searcher.documents().doc_date[docs] >= dt.date(2024, 5, 10).toordinal()
    )


@pytest.mark.parametrize(
    "query",
    [
        "En quelle année le ministre français tombe-t-il malade au Maroc ?",
        "Pourquoi les supporters marocains de Saint-Denis vont-ils au stade de France ?",
    ],
)
def test_compounds_in_questions_rank_alike(news_index, query):
    test_array_ranking_equals_whoosh(news_index, query)
