"""Typo tolerance: a typed word the corpus lacks (or has rarely, beside a far more frequent
close word) is read as its closest word, and the reader is told."""

import pytest
from conftest import BACKENDS, built, write_jsonl

from search import Index, build_index


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    folder = tmp_path_factory.mktemp("typos")
    records = [
        {
            "id": f"m{n}",
            "title": "Sommet européen",
            "text": f"Angela Merkel et Emmanuel Macron se sont parlé, épisode {n}.",
        }
        for n in range(120)
    ]
    records += [
        {"id": "typo", "title": "Coquille", "text": "Angela Meerkel, écrit une fois ainsi."},
        {"id": "eu", "title": "Santé", "text": "Le gouvernement prolonge l’état d’urgence."},
        {"id": "long", "title": "Record", "text": "Un mot : " + "gouvernement" * 3 + "."},
    ]
    build_index(write_jsonl(folder / "c.jsonl", records), folder / "index")
    return Index.open(folder / "index")


@pytest.mark.parametrize(
    ("typed", "read"),
    [("Merkell", "Merkel"), ("Mekrel", "Merkel"), ("Meerkel", "Merkel"), ("Emmanuell", "Emmanuel")],
)
def test_a_typo_is_read_as_the_corpus_word_and_said(index, typed, read):
    results = index.search(f"Macron {typed}", collapse=False)  # the fixture: one template
    assert results.total == 120
    assert results.readings == ((typed, read),)
    assert f"« {typed} » lu comme « {read} »" in results.notes
    assert f"<mark>{read}" in results.hits[0].snippet  # merged with a neighbouring match
    assert results.to_dict()["readings"] == [{"typed": typed, "read": read}]


def test_an_excluded_word_no_article_has_is_said_to_exclude_nothing(index):
    results = index.search("Angela -Mekrel", collapse=False)
    assert results.total == 121 and results.readings == ()  # nothing excluded in its place
    assert "« Mekrel » n'est dans aucun article : rien n'est exclu (« -Merkel » ?)" in (
        results.notes
    )
    nothing = index.search("Angela -Xyzzyqux", collapse=False)
    assert nothing.total == 121
    assert "« Xyzzyqux » n'est dans aucun article : rien n'est exclu" in nothing.notes
    assert index.search("Angela -Merkel", collapse=False).notes == ()
    assert index.search("Angela -Merkel", collapse=False).total == 1  # Angela Meerkel


def test_words_of_the_corpus_short_words_and_quoted_words_are_read_as_typed(index):
    assert index.search("Merkel").readings == ()
    assert index.search("Mekrl").readings == ()  # 5 letters, two edits away: kept
    quoted = index.search('"Merkell"')
    assert quoted.readings == () and quoted.total == 0


def test_a_phrase_typed_without_its_apostrophe_finds_the_elided_form(index):
    results = index.search('"état d urgence"')
    assert [hit.article_id for hit in results] == ["eu"]
    assert "<mark>état d’urgence</mark>" in results.hits[0].snippet


@pytest.mark.parametrize(("typed", "read"), [("durgence", "d'urgence"), ("letat", "l'état")])
def test_a_word_typed_without_its_apostrophe_is_read_elided(index, typed, read):
    results = index.search(f"prolonge {typed}")
    assert [hit.article_id for hit in results] == ["eu"]
    assert results.readings == ((typed, read),)


def test_a_name_is_not_read_as_an_elided_word(index):
    assert index.search("prolonge Durgence").readings == ()  # a name, as typed
    assert index.search("prolonge tetat").readings == ()  # t' starts too many words


def test_a_word_past_thirty_letters_is_neither_read_nor_suggested(index):
    long_word = "gouvernement" * 3  # nothing anyone meant to type: not looked up
    results = index.search(long_word[:-1] + "x")
    assert (results.total, results.readings, results.suggestion) == (0, (), None)


def test_the_page_says_which_word_was_read_as_which(tmp_path, index):
    from bs4 import BeautifulSoup

    from web import create_app

    client = create_app({"VEILLE_INDEX": str(index.path)}).test_client()
    doc = BeautifulSoup(client.get("/?q=Macron+Merkell").data, "html.parser")
    assert "« Merkell » lu comme « Merkel »" in [p.get_text() for p in doc.select("p.note")]


def test_the_article_page_and_the_explanation_read_the_typo_too(index):
    from bs4 import BeautifulSoup

    from web import create_app

    hit = index.search("Macron Merkell").hits[0]
    why = index.explain("Macron Merkell", hit)
    assert why.readings == (("Merkell", "Merkel"),)
    assert why.matched == ("Merkel", "Macron")
    assert "Fautes de frappe corrigées : « Merkell » lu comme « Merkel »." in why.lines()
    article = index.article(hit.article_id, "Macron Merkell")
    assert article.matched_positions == (0,)
    client = create_app({"VEILLE_INDEX": str(index.path)}).test_client()
    page = BeautifulSoup(
        client.get(f"/articles/{hit.article_id}?q=Macron+Merkell").data, "html.parser"
    )
    assert "Merkel" in [mark.get_text() for mark in page.select("p.passage mark")]


def test_a_question_reads_a_word_nothing_has_and_keeps_the_words_it_has(index):
    results = index.search("Quel épisode réunit Angela Mekrel et Emmanuel Macron ?")
    assert results.readings == (("Mekrel", "Merkel"),)
    assert "Merkel</mark>" in results.hits[0].snippet
    # "épisodes" is not in the corpus as written, but its stem is: it matches as it stands
    results = index.search(
        "Quels épisodes réunissent Angela Merkel et Emmanuel Macron ?", collapse=False
    )
    assert results.readings == ()
    assert "<mark>épisode</mark>" in results.hits[0].snippet


def test_a_long_text_is_read_as_typed(index):
    """More than ten words: a summary, a lead, whose rare words are its own."""
    text = (
        "Angela Mekrel et Emmanuel Macron se sont parlé longuement lors du sommet européen "
        "de Bruxelles consacré au budget, à la défense commune et aux migrations"
    )
    assert index.search(text).readings == ()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_word_of_the_titles_alone_is_a_word_of_the_corpus(backend, tmp_path, request):
    records = [
        {"id": "retraites", "title": "Retraites : la formule qui fâche", "text": "La réforme."},
        {"id": "budget", "title": "Budget", "text": "Le ministre fait face, encore face."},
        {"id": "rabat", "title": "Diplomatie", "text": "Un diplomate parle à Rabat."},
    ]
    with built(records, backend, tmp_path, request) as index:
        for query in ("fâche", "fache", "titre:fâche"):
            results = index.search(query)
            assert [hit.article_id for hit in results] == ["retraites"]
            assert (results.readings, results.suggestion) == ((), None)
        # ... and a typo of it is read as the word the title writes, not as its stem
        assert index.search("Retraitess").readings == (("Retraitess", "Retraites"),)
        results = index.search("fachee")
        assert results.readings == (("fachee", "fâche"),)
        assert [hit.article_id for hit in results] == ["retraites"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_word_is_never_read_as_one_nothing_writes(backend, tmp_path, request):
    # « chinie » is one edit from « chimie » and stems as « Chine » does, which a hundred
    # titles hold; but no text or title writes it: « chimie » stays as typed.
    records = [
        {"id": f"chine-{n}", "title": f"Chine, épisode {n}", "text": f"Pékin, jour {n}."}
        for n in range(120)
    ]
    records.append({"id": "labo", "title": "Laboratoire", "text": "Un prix de chimie."})
    with built(records, backend, tmp_path, request) as index:
        results = index.search("chimie")
    assert results.readings == ()
    assert [hit.article_id for hit in results] == ["labo"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_written_word_counts_its_titles_too(backend, tmp_path, request):
    records = [
        {"id": f"t-{n}", "title": f"Chine, épisode {n}", "text": f"Le jour {n}."}
        for n in range(150)
    ]
    records += [{"id": f"c-{n}", "title": "Asie", "text": "La Chine."} for n in range(5)]
    records.append({"id": "coquille", "title": "Asie", "text": "La Chinne, une fois."})
    with built(records, backend, tmp_path, request) as index:
        assert index.search("Chinne").readings == (("Chinne", "Chine"),)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_word_is_not_read_as_another_form_of_itself(backend, tmp_path, request):
    # « navigateur » is rare beside « navigateurs », one letter away: the same stem finds
    # the same passages, so there is nothing to read, nor to say.
    records = [
        {"id": f"p-{n}", "title": "Internet", "text": f"Les navigateurs web, épisode {n}."}
        for n in range(120)
    ]
    records.append({"id": "un", "title": "Internet", "text": "Un navigateur web."})
    with built(records, backend, tmp_path, request) as index:
        results = index.search("navigateur", collapse=False)
    assert results.readings == () and not any("lu comme" in n for n in results.notes)
    assert results.total == 121 and results.hits[0].article_id == "un"  # as typed, first
