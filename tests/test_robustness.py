"""Random input never breaks the query parser, the analyzer or the snippet maker."""

import functools
import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from search.analysis import exact_terms, query_terms
from search.highlight import snippet
from search.querying import (
    MAX_BRANCHES,
    MAX_DEPTH,
    MAX_OTHER_SPELLINGS,
    MAX_PHRASES,
    MAX_PREFIXES,
    MAX_QUERY_CHARS,
    All,
    Any,
    Not,
    Phrase,
    Prefix,
    parse_query,
)

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
@example(" OU ".join(f"mot{i}" for i in range(60)))
@example(
    functools.reduce(
        lambda inner, i: f"(ville{i} {'OU' if i % 2 else 'ET'} {inner})", range(14), "Tanger"
    )
)
@example(" ".join(f'"mot{i} suivant{i}"' for i in range(6)))
@example("(terro* OU isla*) (djiha* OU milit*) (atten* OU explo*)")
@example("Maroc -le -la -de -du -des -un")
@example('"source:OUD.G.2024-05-source:')  # a long text of filters alone
def test_parse_query_never_raises_and_stays_within_its_bounds(text):
    parsed = parse_query(text)
    assert len(parsed.text) <= MAX_QUERY_CHARS
    for tree in (parsed.tree, parsed.relaxed):
        shape = _shape(tree)
        assert shape["depth"] <= MAX_DEPTH + 4  # a word group's own All/Any/Not levels
        assert shape["branches"] <= MAX_BRANCHES
        # a compound word beside four phrases, and the other spellings of words (G20)
        assert shape["phrases"] <= MAX_PHRASES + 1 + MAX_OTHER_SPELLINGS
        assert shape["prefixes"] <= MAX_PREFIXES


ROMAN_ORDINAL = re.compile(r"[IVXLC]+e")


def _shape(node, depth=0, shape=None):
    """The deepest nesting, widest OR, and the phrases and prefixes of a query tree."""
    shape = shape if shape is not None else dict(depth=0, branches=0, phrases=0, prefixes=0)
    shape["depth"] = max(shape["depth"], depth)
    if isinstance(node, Phrase):
        # a common word alone is searched as one; a phrase's title side is the same phrase
        shape["phrases"] += len(node.words) > 1 and node.field is None
    elif isinstance(node, Prefix):
        shape["prefixes"] += 1
    elif isinstance(node, Not):
        _shape(node.node, depth + 1, shape)
    elif isinstance(node, All | Any):
        if isinstance(node, Any):
            shape["branches"] = max(shape["branches"], len(node.nodes))
        for child in node.nodes:
            _shape(child, depth + 1, shape)
    return shape


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=500))
def test_analyzer_never_raises(text):
    assert all(term and term == term.lower() for term in exact_terms(text))
    for term in query_terms(text):  # lowercase, or an acronym's or Roman ordinal's own
        assert term and (term == term.lower() or term.isupper() or ROMAN_ORDINAL.fullmatch(term))


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
