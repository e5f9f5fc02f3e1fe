"""The embedded index matches compiled queries from whole postings (``evaluate``) with the
documents and scores whoosh's own matchers give, phrases included (``phrases``)."""

import math
import time

import pytest
from whoosh import query as wq

from search import Article, Index, build_index, update_index
from search.backends.whoosh import WhooshBackend
from search.backends.whoosh.compile import Compiler
from search.backends.whoosh.evaluate import Evaluator
from search.backends.whoosh.phrases import ArrayPhrase
from search.backends.whoosh.reader import _collect
from search.querying import parse_query
from search.ranking import DEFAULT_RANKING

TEXTS = [
    "Le porte-parole du gouvernement a parlé des États-Unis et du Royaume-Uni.",
    "Les gilets jaunes manifestent en Seine-Saint-Denis ce week-end, et les gilets rouges aussi.",
    "Aux Etats-Unis, le Covid-19 progresse ; le covid19 inquiète les porte-paroles.",
    "La France et l'Allemagne parlent de l'état d'urgence sanitaire.",
    "Jaunes, les gilets ? Non : des gilets verts et un porte parole sans trait d'union.",
    "Le weekend des États-Unis : de la musique, de la danse, de la joie.",
    "Emmanuel Macron rencontre Angela Merkel à Berlin pour parler de l'Europe.",
    "Le Maroc et l'Algérie signent un accord sur la sécurité aux frontières.",
]
QUERIES = [
    "États-Unis",
    "Etats-Unis",
    "porte-parole",
    '"gilets jaunes"',
    '"de la"',
    "Covid-19",
    "covid19",
    "weekend",
    "Seine-Saint-Denis",
    '"état d urgence sanitaire"',
    "titre:France",
    'titre:"gilets jaunes"',
    "(Macron OR Merkel) Europe",
    "gilets -Seine",
    '"gilets jaunes" -Seine',
    "-Maroc",
    "-Maroc -Algérie",
    'mus* "de la"',
]


def _articles(start: int, count: int) -> list[Article]:
    return [
        Article(
            id=f"a{n}",
            title=("Les gilets jaunes" if n % 3 == 0 else "La France et les États-Unis"),
            date=None,
            source=None,
            url=None,
            paragraphs=(TEXTS[n % len(TEXTS)], TEXTS[(n * 5 + 1) % len(TEXTS)]),
        )
        for n in range(start, start + count)
    ]


@pytest.fixture(scope="module")
def reader(tmp_path_factory):
    """A reader of an index of three segments, one of them with deleted documents."""
    folder = tmp_path_factory.mktemp("matching")
    corpus = folder / "corpus.jsonl"
    build_index(_jsonl(corpus, _articles(0, 40)), folder / "index")
    update_index(folder / "index", add=_jsonl(folder / "more.jsonl", _articles(40, 30)))
    update_index(folder / "index", remove=["a3", "a4", "a41"])
    update_index(folder / "index", add=_jsonl(folder / "last.jsonl", _articles(70, 12)))
    backend = WhooshBackend(folder / "index", DEFAULT_RANKING)
    found = backend.reader()
    assert len(found.term_arrays()[0].leaves) > 1  # several segments, or the test is moot
    assert found._searcher.reader().has_deletions()
    return found


def _jsonl(path, articles):
    import json

    path.write_text(
        "".join(
            json.dumps({"id": a.id, "title": a.title, "text": "\n\n".join(a.paragraphs)}) + "\n"
            for a in articles
        ),
        encoding="utf-8",
    )
    return path


def _compiled(reader, text: str) -> wq.Query:
    tree = parse_query(text).tree
    return Compiler(reader._searcher.reader(), DEFAULT_RANKING, 0.5, math.inf).compile(tree)


@pytest.mark.parametrize("text", QUERIES)
def test_a_query_matches_as_whooshs_matchers_match_it(reader, text):
    theirs_docs, theirs_scores, timed_out = _collect(
        reader._searcher, _compiled(reader, text), math.inf
    )
    ours = Evaluator(reader.term_arrays()[0], math.inf).run(_compiled(reader, text))
    theirs = dict(zip(theirs_docs.tolist(), theirs_scores.tolist(), strict=True))
    assert not timed_out and theirs, "a query that matches nothing tests nothing"
    assert ours.docs.tolist() == sorted(theirs)
    assert ours.scores.tolist() == pytest.approx([theirs[d] for d in ours.docs.tolist()], rel=1e-5)


@pytest.mark.parametrize(
    "field, words",
    [
        ("exact", ["etats", "unis"]),
        ("exact", ["gilets", "jaunes"]),
        ("exact", ["de", "la"]),
        ("exact", ["porte", "parole"]),
        ("exact", ["etat", "urgence", "sanitaire"]),
        ("exact", ["la", "la"]),
        ("title_exact", ["gilets", "jaunes"]),
    ],
)
@pytest.mark.parametrize("boost", [1.0, 0.0])
def test_a_phrase_matches_as_whooshs_phrase(reader, field, words, boost):
    searcher = reader._searcher
    theirs = {
        h.docnum: h.score for h in searcher.search(wq.Phrase(field, words, boost=boost), limit=None)
    }
    ours = {
        h.docnum: h.score
        for h in searcher.search(ArrayPhrase(field, words, boost=boost), limit=None)
    }
    assert ours.keys() == theirs.keys()
    assert [ours[d] for d in sorted(ours)] == pytest.approx([theirs[d] for d in sorted(ours)])
    if words != ["la", "la"]:
        assert theirs


@pytest.mark.parametrize(
    "text", ['"Angela Merkel" OR gouvernement', '"état d urgence sanitaire" OR gouvernement -Seine']
)
def test_a_phrase_past_the_deadline_keeps_what_came_before_its_frontier(reader, text):
    """As whoosh's collector stopped at a document: exact below it, nothing beyond."""
    everything = Evaluator(reader.term_arrays()[0], math.inf).run(_compiled(reader, text))
    late = Evaluator(reader.term_arrays()[0], time.monotonic() - 1)
    found = late.run(_compiled(reader, text))
    assert late.timed_out and late.frontier is not None
    below = everything.docs < late.frontier
    assert found.docs.tolist() == everything.docs[below].tolist()
    assert found.scores.tolist() == pytest.approx(everything.scores[below].tolist())
    assert len(found.docs) > 0  # the word's documents before the phrase's first candidate


def test_searches_through_whole_postings_answer_as_before(tmp_path):
    """The page a user sees: the compound, phrase and title queries find their articles."""
    corpus = _jsonl(tmp_path / "c.jsonl", _articles(0, 24))
    build_index(corpus, tmp_path / "index")
    index = Index.open(tmp_path / "index")
    found = index.search("porte-parole", collapse=False, limit=50)
    assert found.total == sum(
        "porte-parole" in t or "porte-paroles" in t or "porte parole" in t
        for t in (" ".join(a.paragraphs) for a in _articles(0, 24))
    )
    assert all("<mark>" in h.snippet for h in found.hits)
