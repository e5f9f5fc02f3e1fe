"""Snippets: escaped text, <mark> around matches in their original form."""

import pytest

from search.highlight import match_spans, snippet
from search.querying import Highlights, parse_query


def marks(text: str, query: str, max_chars: int | None = None) -> str:
    return snippet(text, parse_query(query).highlights, max_chars)


@pytest.mark.parametrize(
    ("text", "query", "expected"),
    [
        ("Les élections approchent.", "election", "Les <mark>élections</mark> approchent."),
        ("La sécurité avant tout.", "securite", "La <mark>sécurité</mark> avant tout."),
        ("La sécurité avant tout.", "SÉCURITÉ", "La <mark>sécurité</mark> avant tout."),
        ("Selon l’État, rien.", "l'état", "Selon l’<mark>État</mark>, rien."),
        (
            "M. Abdellatif Hammouchi parle.",
            "Hammouchi Abdellatif",
            "M. <mark>Abdellatif Hammouchi</mark> parle.",
        ),
        ("La D.G.S.N. et la DGST.", "DGSN", "La <mark>D.G.S.N.</mark> et la DGST."),
        ("Une œuvre rare.", "oeuvre", "Une <mark>œuvre</mark> rare."),
        (
            "Le terrorisme et les terroristes.",
            "terror*",
            "Le <mark>terrorisme</mark> et les <mark>terroristes</mark>.",
        ),
        ("Qui est le ministre ?", "qui est", "<mark>Qui est</mark> le ministre ?"),
        # ordinals, elided acronyms and invisible characters, as the index reads them
        ("La 2ème guerre.", '"2e guerre"', "La <mark>2ème guerre</mark>."),
        ("Le XXIᵉ siècle.", "XXIème", "Le <mark>XXIᵉ</mark> siècle."),
        ("Selon l'O.N.U., non.", "ONU", "Selon l'<mark>O.N.U.</mark>, non."),
        ("Le gouver\u00adnement.", "gouvernement", "Le <mark>gouver\u00adnement</mark>."),
        ("Le monde\u200b entier.", "monde", "Le <mark>monde</mark>\u200b entier."),
        (
            "Une hausse de 5\u202f% et de 5 euros.",
            "5%",
            "Une hausse de <mark>5\u202f%</mark> et de 5 euros.",
        ),
        (
            "De 12 à 20 km/h, à 14 h 30.",
            "20km/h 14h30",
            "De 12 à <mark>20 km/h</mark>, à <mark>14 h 30</mark>.",
        ),
    ],
)
def test_marks_words_in_their_original_form(text, query, expected):
    assert marks(text, query) == expected


def test_phrase_is_marked_only_where_it_occurs_and_as_one_unit():
    text = "La Coupe du monde, puis une coupe de fruits pour tout le monde."
    assert marks(text, '"Coupe du monde"') == (
        "La <mark>Coupe du monde</mark>, puis une coupe de fruits pour tout le monde."
    )


def test_article_text_is_data_not_html():
    text = "Un <script>alert(1)</script> et <img src=x onerror=alert(1)> dans le Maroc."
    out = marks(text, "Maroc")
    assert "<script>" not in out and "<img" not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert out.endswith("dans le <mark>Maroc</mark>.")


def test_long_passage_is_cut_at_word_boundaries_around_the_match():
    text = " ".join(["remplissage"] * 60) + " le Maroc joue un rôle " + " ".join(["fin"] * 60)
    out = marks(text, "Maroc", max_chars=120)
    assert "<mark>Maroc</mark>" in out
    assert out.startswith("… ") and out.endswith(" …")
    body = out.removeprefix("… ").removesuffix(" …").replace("<mark>", "").replace("</mark>", "")
    assert body in text and len(body) <= 120
    assert all(
        word in ("remplissage", "le", "Maroc", "joue", "un", "rôle", "fin") for word in body.split()
    )


def test_short_passage_is_whole():
    assert marks("Le Maroc.", "Maroc", max_chars=300) == "Le <mark>Maroc</mark>."


def test_no_highlights_is_escaped_text():
    assert snippet("a < b & c", Highlights(), None) == "a &lt; b &amp; c"


def test_spans_do_not_mark_excluded_words():
    highlights = parse_query("Qatar -Asie").highlights
    text = "Le Qatar et la Coupe d’Asie."
    assert [text[s:e] for s, e in match_spans(text, highlights)] == ["Qatar"]
