"""Random input never breaks the query parser, the analyzer or the snippet maker."""

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search.analysis import exact_terms, query_terms
from search.highlight import snippet
from search.querying import MAX_QUERY_CHARS, parse_query

# Text that looks like queries: French letters, operators, quotes, parentheses, odd spaces.
query_text = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.sampled_from(
            [
                '"',
                "(",
                ")",
                "-",
                "*",
                "?",
                "!",
                ":",
                "titre:",
                "date:",
                "OU",
                "ET",
                "SAUF",
                "NOT",
                "AND",
                "OR",
                "l’",
                "qu'",
                "é",
                "œ",
                "D.G.",
                "\u00a0",
                "\x00",
                "Maroc",
                "sécurité",
                "2024-05",
                " ",
                "«",
                "»",
                "“",
                "„",
                "source:",
                "-source:",
                "rubrique :",
                "depuis : ",
                "-titre:",
                "-date:",
                "AFP",
                "co*",
                "\u00ad",
                "\u200b",
            ]
        ),
        max_size=40,
    ).map("".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query_text)
def test_parse_query_never_raises_and_stays_fast(text):
    started = time.perf_counter()
    parsed = parse_query(text)
    assert time.perf_counter() - started < 1.0
    assert len(parsed.text) <= MAX_QUERY_CHARS


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=500))
def test_analyzer_never_raises(text):
    for term in query_terms(text) + exact_terms(text):
        assert term and term == term.lower()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400), query_text)
def test_snippet_never_raises_and_escapes(text, query):
    out = snippet(text, parse_query(query).highlights, 120)
    assert "<" not in out.replace("<mark>", "").replace("</mark>", "")


def test_search_on_random_input(seed_index):
    @settings(max_examples=60, deadline=None)
    @given(query_text)
    def run(text):
        results = seed_index.search(text)
        assert len(results.hits) == min(results.total, 10)

    run()
