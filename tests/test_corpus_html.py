"""Saved web pages in a corpus: `veille add page.html`, its article extracted by trafilatura."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_fetch import NAV_AND_FOOTER_WORDS, french_page

from search import CorpusError, Index, build_index, read_corpus

ROOT = Path(__file__).resolve().parent.parent

PARAGRAPHS = [
    "Les ostréiculteurs du bassin d'Arcachon ont retrouvé le sourire : les analyses de "
    "l'eau sont redevenues bonnes et la vente des huîtres a repris samedi.",
    "Pendant trois semaines, la préfecture avait interdit le ramassage après la découverte "
    "d'un norovirus dans plusieurs parcs, en pleine saison des fêtes.",
    "Les professionnels chiffrent leurs pertes à plusieurs millions d'euros et demandent "
    "que l'assainissement des communes voisines soit enfin mis aux normes.",
]
TITLE = "Les huîtres d'Arcachon de nouveau en vente"


def test_a_saved_page_is_one_article_without_its_chrome(tmp_path):
    page = tmp_path / "huitres-arcachon.html"
    page.write_text(french_page(TITLE, PARAGRAPHS, date="2024-01-12"), encoding="utf-8")
    (article,) = read_corpus(page)
    assert article.id == "huitres-arcachon"  # the file name, as for .txt
    assert article.title == TITLE
    assert article.date == datetime.date(2024, 1, 12)
    assert article.paragraphs == tuple(PARAGRAPHS)
    assert article.metadata == {"author": "Claire Martin", "section": "Société"}


def test_veille_add_reads_a_folder_of_pages_latin1_too(tmp_path):
    index = tmp_path / "index"
    build_index(ROOT / "corpus", index)
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "huitres.html").write_text(french_page(TITLE, PARAGRAPHS), encoding="utf-8")
    latin1 = french_page(
        "Fête de la bière à Schiltigheim", [p + " Été comme hiver." for p in PARAGRAPHS]
    )
    (pages / "fete.htm").write_bytes(
        latin1.replace("utf-8", "iso-8859-1").replace("—", "-").encode("iso-8859-1")
    )
    run = subprocess.run(
        [sys.executable, "-m", "search", "add", str(pages), "--index", str(index)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "2 added, 0 replaced, 0 unchanged" in run.stdout
    found = Index.open(index)
    (hit,) = found.search("ostréiculteurs Arcachon", group="article").hits[:1]
    assert hit.article_id == "huitres" and hit.title == TITLE
    (hit,) = found.search("Schiltigheim")
    assert hit.article_id == "fete" and hit.title == "Fête de la bière à Schiltigheim"
    assert "Été comme hiver." in hit.text
    for word in NAV_AND_FOOTER_WORDS:
        assert found.search(word).total == 0, word


def test_a_page_without_text_is_an_error_naming_it(tmp_path):
    empty = tmp_path / "menu.html"
    empty.write_text(
        "<html><head><title>Accueil</title></head><body><nav><a href='/'>Accueil</a>"
        "</nav></body></html>",
        encoding="utf-8",
    )
    with pytest.raises(CorpusError) as caught:
        list(read_corpus(empty))
    assert str(caught.value) == f"{empty}: no article text found in the page"
    skipped = []
    assert list(read_corpus(tmp_path, skip_invalid=True, on_skip=skipped.append)) == []
    assert [str(error) for error in skipped] == [f"{empty}: no article text found in the page"]
