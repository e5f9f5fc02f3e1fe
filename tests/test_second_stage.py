"""The second stage: the learned ranker over the first stage's best articles.

Its pure steps (proximity, the shortlist, the re-ranking) are tested on values; the whole of
it on a real index, where a user sees it: which passage a hit shows first, what explain says.
"""

import json
import re
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from search import Index, RankingConfig, build_index, parse_query
from search.backends.base import Candidates
from search.rerank import FEATURES, load_ranker, proximities, rerank, shortlist

FILLER = "un deux trois quatre cinq six sept huit neuf dix"


@pytest.mark.parametrize(
    ("text", "query", "expected"),
    [
        # (span ÷ words matched, most words within 8 of each other, first word's place,
        # pairs of words side by side)
        ("Le Maroc et la France", "Maroc France sécurité", (4 / 2, 2, 1.0, 0)),
        ("la sécurité", "Maroc France sécurité", (1.0, 1, 1.0, 0)),
        ("rien à voir ici", "Maroc France sécurité", (0.0, 0, 0.0, 0)),
        # elisions, both apostrophes, capitals, accents: the words as the index reads them
        ("L'ÉCONOMIE de l’État", "économie état budget", (4 / 2, 2, 1.0, 0)),
        (f"Maroc {FILLER} France", "Maroc France sécurité", (12 / 2, 1, 0.0, 0)),
        # the smallest span is the closest pair, wherever it is
        (f"Maroc {FILLER} Maroc France", "Maroc France sécurité", (2 / 2, 2, 0.0, 1)),
        ("des œuvres d'art", "oeuvre art musée", (3 / 2, 2, 1.0, 1)),
        ("France et Maroc, Maroc et sécurité", "Maroc France sécurité", (6 / 3, 3, 0.0, 2)),
        # words found by their stem however they start: a demonym read as its country, an
        # accented or capital first letter, œ, a one-letter stem
        ("les Allemands et l'Élysée", "Allemagne élysée visite", (4 / 2, 2, 1.0, 0)),
        ("Œuvres et ŒUVRE", "oeuvres musée", (1.0, 1, 0.0, 0)),
        ("des GS et des Ms", "gs ms bilan", (4 / 2, 2, 1.0, 0)),
        # numbers and currency signs as the index reads them; acronyms by their case
        ("Plus de 10 000 manifestants", "10 000 manifestants", (2 / 2, 2, 2.0, 1)),
        ("Le menu à 20 € le midi", "20 euros menu", (4 / 3, 3, 1.0, 2)),
        ("Il gagne 1,5 fois plus", "1,5 fois", (2 / 2, 2, 2.0, 1)),
        ("La CIA et le FBI, celui-ci", "CIA FBI", (4 / 2, 2, 1.0, 0)),
    ],
)
def test_proximity(text, query, expected):
    words = parse_query(query).plan.words
    (found,) = proximities([text], words)
    assert found == pytest.approx(expected)


def test_shortlist_takes_the_best_passages_of_the_best_articles():
    # Candidates 0..5: their articles, and the first stage's order (best first).
    articles = np.array([7, 7, 3, 9, 7, 3])
    order = np.array([2, 0, 4, 1, 5, 3])
    short = shortlist(np.array([3, 7, 9]), order, articles, articles=2, per_article=2)
    assert short.rows.tolist() == [2, 0, 4, 5]  # article 9 is outside the window
    assert short.article_rank.tolist() == [0, 1, 1, 0]
    assert short.passage_rank.tolist() == [0, 0, 1, 1]


def test_rerank_orders_the_window_by_its_best_passage_and_keeps_the_rest():
    articles = np.array([7, 7, 3, 9, 7, 3])
    found = Candidates(
        docs=np.arange(6, dtype=np.int32),
        scores=np.ones(6, dtype=np.float32),
        articles=articles.astype(np.int32),
        moments=np.zeros(6, dtype=np.int64),
    )
    order = np.array([2, 0, 4, 1, 5, 3])
    ranked, ranked_scores = np.array([3, 7, 9, 4]), np.array([9.0, 8.0, 7.0, 6.0], np.float32)
    short = shortlist(ranked, order, articles, articles=2, per_article=2)
    table = np.arange(len(short.rows) * 2, dtype=np.float32).reshape(-1, 2)
    model = np.array([0.1, 0.2, 0.9, 0.3], dtype=np.float32)  # rows 2, 0, 4, 5
    out = rerank(ranked, ranked_scores, found, short, table, model)
    assert out.articles.tolist() == [7, 3, 9, 4]  # 7's row 4 scored best
    assert out.credited == {7: 4, 3: 5}  # each article's best-scored row
    assert out.scores[:2].tolist() == pytest.approx([0.9, 0.3])
    # the rest: the first stage's scores, shifted under the window's
    assert out.scores[2:].tolist() == pytest.approx([0.3 - 1.0, 0.3 - 2.0])
    assert out.features[7] == (4.0, 5.0)


# --- On a real index ---------------------------------------------------------------------

PARAGRAPHS = [
    "La ville organise chaque été un festival de musique en plein air sur les quais.",
    "Le budget municipal de la culture a atteint 12 millions d'euros en 2023, contre "
    "9 millions en 2019, selon le rapport annuel présenté au conseil.",
    "Les associations sportives demandent de nouveaux terrains pour les jeunes du quartier.",
]


def _articles() -> list[dict]:
    records = [
        {
            "id": "ville",
            "title": "La vie de la ville",
            "date": "2024-03-01",
            "source": "Le Quotidien",
            "text": "\n\n".join(PARAGRAPHS),
        }
    ]
    topics = [
        ("budget", "Le budget de l'État en débat au Parlement, les députés votent."),
        ("culture", "La culture et les musées attirent des millions de visiteurs."),
        ("conseil", "Le conseil municipal se réunit pour un rapport sur les quais."),
        ("sport", "Les terrains de sport du quartier rénovés pour les jeunes."),
        ("musique", "Un festival de musique en 2023 a réuni des milliers de personnes."),
    ]
    for n, (slug, text) in enumerate(topics):
        records.append(
            {
                "id": f"{slug}-{n}",
                "title": f"Actualité {slug}",
                "date": f"2024-0{n + 1}-15",
                "text": f"{text}\n\nUn autre paragraphe sur {slug} et la ville.",
            }
        )
    # The same article under another id, source, date and section: only its place differs.
    twin = dict(records[0], id="ville-bis", source="Autre Journal", date="2019-01-01")
    twin["category"] = "societe"
    records.append(twin)
    return records


@pytest.fixture(scope="module")
def index_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("second-stage")
    corpus = folder / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _articles()))
    build_index(corpus, folder / "index", find_duplicates=False)
    return folder / "index"


@pytest.fixture(scope="module")
def index(index_path):
    index = Index.open(index_path)
    yield index
    index.close()


QUESTION = "Quel était le budget de la culture de la ville en 2023 ?"


def test_a_question_is_reranked_and_each_hit_shows_its_credited_passage(index):
    seen = index.shortlist(QUESTION, collapse=False)
    assert seen is not None and seen.features.shape == (len(seen.article_ids), len(FEATURES))
    results = index.search(QUESTION, collapse=False)
    for hit in results.hits[:3]:
        rows = [i for i, a in enumerate(seen.article_ids) if a == hit.article_id]
        best = max(rows, key=lambda i: seen.scores[i])
        assert hit.passages[0].position == seen.positions[best]
        assert hit.score == pytest.approx(float(seen.scores[best]))
        assert hit.features == pytest.approx(seen.features[best].tolist())
    ranked = sorted(
        {
            a: max(s for b, s in zip(seen.article_ids, seen.scores, strict=True) if b == a)
            for a in seen.article_ids
        }.items(),
        key=lambda x: -x[1],
    )
    assert [h.article_id for h in results.hits[: len(ranked)]] == [a for a, _ in ranked]


def test_features_know_nothing_of_ids_sources_dates_or_sections(index):
    seen = index.shortlist(QUESTION, collapse=False)
    rank = FEATURES.index("article_rank")
    rows = {}
    for i, (article, position) in enumerate(zip(seen.article_ids, seen.positions, strict=True)):
        rows.setdefault(position, {})[article] = np.delete(seen.features[i], rank)
    twins = [r for r in rows.values() if {"ville", "ville-bis"} <= r.keys()]
    assert twins, "both copies are shortlisted"
    for found in twins:
        assert found["ville"].tolist() == pytest.approx(found["ville-bis"].tolist())


def test_short_queries_dates_and_the_switch_keep_the_first_stage(index, index_path):
    assert index.shortlist("budget", collapse=False) is None  # a word alone
    assert index.shortlist("budget culture", collapse=False) is not None  # two words
    three = RankingConfig(second_stage_keyword_min_words=3)
    with Index.open(index_path, ranking=three) as fewer:
        assert fewer.shortlist("budget culture", collapse=False) is None
    assert index.shortlist("Quel budget culturel ?", collapse=False) is not None  # a question
    assert index.shortlist(QUESTION, sort="date") is None
    assert index.shortlist(QUESTION, group="passage") is None
    off = Index.open(index_path, ranking=RankingConfig(second_stage=False))
    try:
        assert off.shortlist(QUESTION) is None
        assert all(hit.features == () for hit in off.search(QUESTION).hits)
        assert not any(
            "modèle appris" in line
            for line in off.explain(QUESTION, off.search(QUESTION).hits[0]).lines()
        )
    finally:
        off.close()


def test_keywords_and_questions_each_have_their_window(index_path):
    keywords = "paragraphe ville actualité"  # every word required: five articles match
    narrow = RankingConfig(second_stage_keyword_articles=2, second_stage_keyword_passages=1)
    index = Index.open(index_path, ranking=narrow)
    try:
        seen = index.shortlist(keywords, collapse=False)
        assert len(index.search(keywords, collapse=False).hits) > 2
        assert seen is not None and len(seen.article_ids) == len(set(seen.article_ids)) == 2
        asked = index.shortlist(QUESTION, collapse=False)
        assert len(set(asked.article_ids)) > 2  # a question keeps second_stage_articles
    finally:
        index.close()


def test_explain_names_the_features_that_moved_a_hit(index):
    hit = index.search(QUESTION, collapse=False).hits[0]
    explanation = index.explain(QUESTION, hit)
    assert len(explanation.moved_by) == 4
    names = [name for name, _ in explanation.moved_by]
    assert set(names) <= set(FEATURES)
    sizes = [abs(v) for _, v in explanation.moved_by]
    assert sizes == sorted(sizes, reverse=True)
    moved = next(line for line in explanation.lines() if line.startswith("Reclassé par"))
    assert re.search(r"\([+\u2212]\d+,\d\d\)", moved)  # (+0,42), (−1,05): French numbers
    assert explanation.to_dict()["second_stage"][0]["feature"] == names[0]


def test_cli_explain_shows_the_model(index_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "search",
            "query",
            QUESTION,
            "--index",
            str(index_path),
            "--explain",
            "--limit",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Reclassé par le modèle appris ; ce qui a le plus compté" in done.stdout


def test_the_shipped_model_matches_the_features():
    shipped = resources.files("search.models") / "ranker.txt"
    assert shipped.is_file()
    ranker = load_ranker()
    assert tuple(ranker.booster.feature_name()) == FEATURES
    scores = ranker.scores(np.zeros((3, len(FEATURES)), dtype=np.float32))
    assert scores.shape == (3,)


@pytest.mark.slow
def test_the_model_is_in_the_built_package(tmp_path):
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("veille-*.whl")
    assert "search/models/ranker.txt" in zipfile.ZipFile(wheel).namelist()


def test_a_question_ranks_its_passages_as_passages_and_a_long_text_with_its_titles(index):
    """A question asks for one passage: its passage scores are the passage ranking's (the
    title at 0.4), even when articles are ranked; a long text's weigh the title fully
    (its passages under a matching title score more than as passages)."""
    column = FEATURES.index("passage_score_raw")
    long_text = (
        "Le budget de la culture de la ville a atteint douze millions d'euros en 2023 selon "
        "le rapport annuel présenté au conseil municipal, contre neuf millions en 2019"
    )
    for query, same in ((QUESTION, True), (long_text, False)):
        passages = {
            (h.article_id, h.position): h.score
            for h in index.search(query, group="passage", collapse=False, limit=100).hits
        }
        seen = index.shortlist(query, collapse=False)
        pairs = zip(seen.article_ids, seen.positions, seen.features[:, column], strict=True)
        titled = [(passages[(a, p)], float(s)) for a, p, s in pairs if (a, p) in passages]
        assert titled
        matches = [abs(x - y) < 1e-4 for x, y in titled]
        assert all(matches) if same else not all(matches), query


def test_article_coverage_counts_words_held_anywhere_in_the_article(index):
    """A passage holds some of the query's words; its article may hold the rest in other
    passages: the article's coverage counts them, the passage's does not."""
    query = "festival musique quais budget culture terrains jeunes"
    seen = index.shortlist(query, unscored=True, collapse=False)
    article, passage = FEATURES.index("article_coverage"), FEATURES.index("coverage_text")
    rare = FEATURES.index("article_rare_words")
    by_article: dict[str, list[np.ndarray]] = {}
    for i, article_id in enumerate(seen.article_ids):
        by_article.setdefault(article_id, []).append(seen.features[i])
    ville = by_article["ville"]
    # every word is in "ville", in one paragraph or another; no paragraph holds them all
    assert all(row[article] == pytest.approx(1.0) for row in ville)
    assert all(row[passage] < 0.9 for row in ville)
    assert all(row[rare] == 3 for row in ville)
    # an article with a few of the words: the same share for each of its passages, below 1
    others = [rows for a, rows in by_article.items() if a not in ("ville", "ville-bis")]
    assert others
    for rows in others:
        assert 0 < rows[0][article] < 1
        assert len({float(row[article]) for row in rows}) == 1


@pytest.mark.parametrize(
    "content", [b"tree 1\n", b"root:x:0:0:root:/root:/bin/bash\n", b"\xff\xfe\x00"]
)
def test_a_file_that_is_no_model_is_refused_when_the_index_opens(index_path, tmp_path, content):
    model = tmp_path / "model.txt"
    model.write_bytes(content)
    config = RankingConfig(ranker_model=str(model))
    with pytest.raises(ValueError, match=r"model\.txt is not a LightGBM model file \("):
        Index.open(index_path, ranking=config)
    # With the second stage off the model is never read: the index opens and searches.
    off = Index.open(index_path, ranking=config.with_changes(second_stage=False))
    assert off.search(QUESTION).total > 0
