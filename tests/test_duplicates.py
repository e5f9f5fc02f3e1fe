"""Near-duplicates: copies of a story found at index time and collapsed in results."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from bs4 import BeautifulSoup
from conftest import ROOT, write_jsonl

from search import Article, Index, add_articles, build_index
from search.duplicates import NUM_PERM, THRESHOLD, ClusterFinder, signature, similarity

STORY = [
    "Le Premier ministre a annoncé mardi un plan de soutien aux agriculteurs touchés par la "
    "sécheresse, doté de 500 millions d'euros sur deux ans.",
    "Les aides seront versées dès le mois prochain aux exploitations qui ont perdu plus de "
    "trente pour cent de leurs récoltes, a précisé le ministre de l'Agriculture.",
    "Les syndicats agricoles saluent un premier pas mais jugent l'enveloppe insuffisante face "
    "à l'ampleur des pertes dans le Sud-Ouest et le Centre.",
]


def article(article_id: str, paragraphs: list[str], title: str = "Sécheresse : un plan d'aide"):
    return Article(
        id=article_id, title=title, date=None, source=None, url=None, paragraphs=tuple(paragraphs)
    )


@pytest.mark.parametrize(
    ("edited", "copy"),
    [
        (STORY, True),  # the same text
        ([*STORY[:2], STORY[2].replace("mais", "tout en")], True),  # a word changed
        ([STORY[0] + " (AFP)", *STORY[1:]], True),  # a credit added
        ([*STORY, "Le gouvernement promet un nouveau point d'étape à l'automne."], True),
        (STORY[:1], False),  # the lead alone: a third of the story
        (
            [
                "Le ministre de l'Économie a présenté mardi le projet de budget pour l'an "
                "prochain, marqué par des économies sur les dépenses de l'État.",
                "Les collectivités locales devront contribuer à l'effort, a-t-il précisé.",
            ],
            False,
        ),  # another story of the same day
    ],
)
def test_copies_and_other_stories(edited, copy):
    same = similarity(signature(article("a", STORY)), signature(article("b", edited)))
    assert (same >= THRESHOLD) is copy, same


def test_a_build_finds_the_copies_at_the_threshold_and_no_others():
    # 200 stories, each followed by a version agreeing on 48 of 64 values (0.75), and
    # unrelated stories agreeing on half: the build's LSH must not miss the first.
    rng = np.random.default_rng(7)
    finder = ClusterFinder()
    same = 0
    for n in range(200):
        story = rng.integers(0, 2**32, NUM_PERM, dtype=np.uint32)
        version = story.copy()
        changed = rng.choice(NUM_PERM, NUM_PERM // 4, replace=False)
        version[changed] = rng.integers(0, 2**32, len(changed), dtype=np.uint32)
        other = story.copy()
        other[rng.choice(NUM_PERM, NUM_PERM // 2, replace=False)] += 1
        first = finder.cluster(f"s{n}", story)
        same += finder.cluster(f"v{n}", version) == first
        assert finder.cluster(f"o{n}", other) != first
    assert same >= 196  # LSH at the threshold itself (8 bands of 8) finds about 115


def copies_corpus(tmp_path):
    records = [
        {
            "id": f"copy-{n}",
            "title": "Sécheresse : un plan d'aide",
            "source": source,
            "date": date,
            "category": "économie",
            "text": "\n\n".join(STORY),
        }
        for n, (source, date) in enumerate(
            [("AFP", "2024-06-04"), ("Le Monde", "2024-06-05"), ("Le Figaro", "2024-06-05")]
        )
    ]
    records.append(
        {
            "id": "other",
            "title": "Budget",
            "source": "Le Monde",
            "date": "2024-06-04",
            "text": "Le budget de l'État prévoit des économies pour "
            "les agriculteurs et la sécheresse.\n\nLes élus critiquent le plan.",
        }
    )
    corpus = write_jsonl(tmp_path / "corpus.jsonl", records)
    build_index(corpus, tmp_path / "index")
    return tmp_path / "index"


def test_a_story_and_its_copies_are_one_hit(tmp_path):
    index = Index.open(copies_corpus(tmp_path))
    results = index.search("sécheresse agriculteurs")
    assert results.total == 2 and results.collapsed == 2
    (first,) = [hit for hit in results if hit.article_id != "other"]
    assert sorted(d.article_id for d in first.duplicates) == sorted(
        {"copy-0", "copy-1", "copy-2"} - {first.article_id}
    )
    assert {d.source for d in first.duplicates} | {first.source} == {"AFP", "Le Monde", "Le Figaro"}
    every = index.search("sécheresse agriculteurs", collapse=False)
    assert every.total == 4 and every.collapsed == 0
    assert all(hit.duplicates == () for hit in every)
    # each source counts the story once: a filter on it finds it
    sources = dict(results.facets["source"])
    assert sources == {"Le Monde": 2, "AFP": 1, "Le Figaro": 1}
    figaro = index.search("sécheresse agriculteurs", sources=("Le Figaro",))
    assert [hit.article_id for hit in figaro] == ["copy-2"]


def test_a_copy_added_later_joins_its_story(tmp_path):
    path = copies_corpus(tmp_path)
    summary = add_articles(path, [article("late-copy", STORY)])
    assert summary.added == 1
    results = Index.open(path).search("sécheresse agriculteurs")
    assert results.total == 2 and results.collapsed == 3
    assert "late-copy" in {d.article_id for h in results for d in h.duplicates} | {
        h.article_id for h in results
    }


def test_the_page_the_api_and_the_cli_show_the_other_versions(tmp_path):
    from web import create_app

    path = copies_corpus(tmp_path)
    client = create_app({"VEILLE_INDEX": str(path)}).test_client()
    doc = BeautifulSoup(client.get("/?q=sécheresse").data, "html.parser")
    (first,) = [hit for hit in doc.select("ol.hits li.hit") if hit.select_one("details.duplicates")]
    assert first.select_one("details.duplicates summary").get_text() == "2 autres versions"
    links = [a["href"] for a in first.select("details.duplicates a")]
    assert len(links) == 2 and all(link.startswith("/articles/copy-") for link in links)
    assert "(et 2 copies regroupées)" in doc.select_one("p.total").get_text()
    body = client.get("/api/search?q=sécheresse").get_json()
    assert body["collapsed"] == 2 and len(body["hits"][0]["duplicates"]) == 2
    body = client.get("/api/search?q=sécheresse&collapse=false").get_json()
    assert body["collapsed"] == 0 and body["total"] == 4
    assert client.get("/api/search?q=x&collapse=peut-être").status_code == 400
    run = subprocess.run(
        [sys.executable, "-m", "search", "query", "sécheresse", "--index", str(path), "--json"],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(run.stdout)["collapsed"] == 2
    run = subprocess.run(
        [
            *(sys.executable, "-m", "search", "query", "sécheresse", "--index", str(path)),
            *("--no-collapse", "--json"),
        ],
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert json.loads(run.stdout)["total"] == 4
