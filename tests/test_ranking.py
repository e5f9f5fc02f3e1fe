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
    "Comment-faire la paix, et quand, au Maroc ?",
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


@pytest.mark.parametrize("stem", ["secur", "maroc", "supporter", "elect"])
def test_whole_article_weights_are_bm25_over_each_article(news_index, stem):
    """An article's weight for a term, recomputed by hand from its passages' stored text."""
    import math

    from search.analysis import text_analyzer

    searcher = news_index.searcher()
    arrays, _ = searcher._term_arrays()
    d = searcher.documents()
    reader = searcher._searcher.reader()
    k1, b = 0.9, 0.5
    articles, weights = arrays.article_weights(stem, d.doc_article, len(d.article_ids), k1, b)
    tf: dict[int, int] = {}
    length: dict[int, float] = {}
    for docnum in reader.all_doc_ids():
        article = int(d.doc_article[docnum])
        text = reader.stored_fields(docnum)["text"]
        tf[article] = tf.get(article, 0) + [
            t.text for t in text_analyzer()(text, mode="index")
        ].count(stem)
        length[article] = length.get(article, 0) + reader.doc_field_length(docnum, "text")
    found = {a for a, n in tf.items() if n}
    assert found and set(articles.tolist()) == found
    average = sum(length.values()) / len(length)
    idf = math.log(len(length) / (len(found) + 1)) + 1
    for article, weight in zip(articles.tolist(), weights.tolist(), strict=True):
        n = tf[article]
        norm = k1 * ((1 - b) + b * length[article] / average)
        assert weight == pytest.approx(idf * n * (k1 + 1) / (n + norm), rel=1e-4)
