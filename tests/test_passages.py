"""Passages: paragraphs, long ones cut at French sentence ends, short ones joined."""

import itertools
import random
from pathlib import Path

import pytest

from search.corpus import Article, read_corpus
from search.passages import Passage, split_passages, split_sentences

SEED = Path(__file__).resolve().parents[1] / "corpus" / "000_784e5dae390c8d0c.txt"


def article(*paragraphs: str, article_id: str = "a") -> Article:
    return Article(article_id, "Titre", None, None, None, paragraphs)


@pytest.fixture(scope="module")
def seed() -> Article:
    (seed,) = read_corpus(SEED)
    return seed


def check_invariants(art: Article, passages: list[Passage], max_chars: int) -> None:
    """What every passage list promises, whatever the article."""
    body = art.body
    assert [p.position for p in passages] == list(range(len(passages)))
    for passage in passages:
        assert passage.article_id == art.id
        assert passage.text == body[passage.start : passage.end]
        assert passage.text
        assert passage.text == passage.text.strip()
        assert len(passage.text) <= max_chars
    for before, after in itertools.pairwise(passages):
        assert before.end <= after.start
    # Nothing is lost: every non-space character of the body is in some passage.
    covered = set()
    for passage in passages:
        covered.update(range(passage.start, passage.end))
    assert all(body[i].isspace() for i in range(len(body)) if i not in covered)


# --- Sentences ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Il pleut. Il vente.", ["Il pleut.", "Il vente."]),
        ("Vraiment\u00a0? Oui.", ["Vraiment\u00a0?", "Oui."]),
        ("Quelle joie\u202f! C’est fini.", ["Quelle joie\u202f!", "C’est fini."]),
        ("Il hésite… Puis il part… et revient.", ["Il hésite…", "Puis il part… et revient."]),
        ("M. Hammouchi est arrivé. Il part.", ["M. Hammouchi est arrivé.", "Il part."]),
        ("Mme. Durand et MM. Roux sont là.", ["Mme. Durand et MM. Roux sont là."]),
        ("Le Dr. Martin, le Pr. Lin et Mlle. Rey.", ["Le Dr. Martin, le Pr. Lin et Mlle. Rey."]),
        ("Rue de St. Denis, av. Foch.", ["Rue de St. Denis, av. Foch."]),
        (
            "Des armes, de la drogue, etc. Le trafic croît.",
            ["Des armes, de la drogue, etc. Le trafic croît."],
        ),
        ("Voir cf. Chapitre 2.", ["Voir cf. Chapitre 2."]),
        ("En 52 av. J.-C. César gagna. Fin.", ["En 52 av. J.-C. César gagna.", "Fin."]),
        ("J. Dupont dirige la D.G.S.N. Depuis mai.", ["J. Dupont dirige la D.G.S.N. Depuis mai."]),
        (
            "Le 1er mai, 3.5 % de hausse. 2024 sera dur.",
            ["Le 1er mai, 3.5 % de hausse.", "2024 sera dur."],
        ),
        ("Le n° 5 gagne. Ensuite.", ["Le n° 5 gagne.", "Ensuite."]),
        (
            "Il dit\u00a0: «\u00a0C’est fini.\u00a0» Puis il part.",
            ["Il dit\u00a0: «\u00a0C’est fini.\u00a0»", "Puis il part."],
        ),
        ("Il part. « Adieu », dit-il.", ["Il part.", "« Adieu », dit-il."]),
        ('Il part. "Adieu", dit-il.', ["Il part.", '"Adieu", dit-il.']),
        ("Il part (enfin). Bien.", ["Il part (enfin).", "Bien."]),
        ("pas de majuscule. ici", ["pas de majuscule. ici"]),
        ("Le site example.org. Puis.", ["Le site example.org.", "Puis."]),
        ("Sans point final", ["Sans point final"]),
        ("  Espaces autour.  Ici.  ", ["Espaces autour.", "Ici."]),
        ("", []),
        ("   ", []),
    ],
)
def test_split_sentences(text: str, sentences: list[str]) -> None:
    spans = split_sentences(text)
    assert [text[start:end] for start, end in spans] == sentences


# --- Passages -------------------------------------------------------------------------------


def test_seed_passages_are_its_paragraphs(seed: Article) -> None:
    passages = split_passages(seed)
    assert [p.text for p in passages] == list(seed.paragraphs)
    assert passages[0].start == 0
    assert passages[0].text.startswith("Le Maroc joue")
    assert passages[-1].end == len(seed.body)
    check_invariants(seed, passages, 1000)


@pytest.mark.parametrize("max_chars", [1000, 400, 200, 80, 30])
def test_seed_offsets_at_any_size(seed: Article, max_chars: int) -> None:
    passages = split_passages(seed, max_chars=max_chars, min_chars=60)
    check_invariants(seed, passages, max_chars)
    assert len(passages) >= len(seed.paragraphs)


LONG = (
    "Le directeur, M. Abdellatif Hammouchi, a reçu son homologue. "
    "Ils ont parlé de drogue, d’armes, de migrations, etc. Les deux pays coopèrent depuis 2022. "
    "Vraiment\u00a0? Oui, selon J.-C. Martin. Une visite est prévue."
)


@pytest.mark.parametrize(
    ("max_chars", "pieces"),
    [
        (
            120,
            [
                "Le directeur, M. Abdellatif Hammouchi, a reçu son homologue.",
                "Ils ont parlé de drogue, d’armes, de migrations, etc. Les deux pays coopèrent "
                "depuis 2022. Vraiment\u00a0?",
                "Oui, selon J.-C. Martin. Une visite est prévue.",
            ],
        ),
        (
            150,
            [
                "Le directeur, M. Abdellatif Hammouchi, a reçu son homologue.",
                "Ils ont parlé de drogue, d’armes, de migrations, etc. Les deux pays coopèrent "
                "depuis 2022. Vraiment\u00a0? Oui, selon J.-C. Martin. Une visite est prévue.",
            ],
        ),
        (
            len(LONG),
            [LONG],
        ),
    ],
)
def test_long_paragraph_cut_at_sentence_ends(max_chars: int, pieces: list[str]) -> None:
    art = article(LONG)
    passages = split_passages(art, max_chars=max_chars, min_chars=0)
    assert [p.text for p in passages] == pieces
    check_invariants(art, passages, max_chars)
    for passage in passages:
        assert not passage.text.endswith(("M.", "etc.", "J.-C."))
        assert not passage.text.startswith(("Abdellatif", "Hammouchi", "Les deux", "Martin"))


def test_long_sentence_cut_at_last_space() -> None:
    sentence = "un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze."
    passages = split_passages(article(sentence), max_chars=20, min_chars=0)
    assert [p.text for p in passages] == [
        "un deux trois quatre",
        "cinq six sept huit",
        "neuf dix onze douze",
        "treize quatorze.",
    ]


def test_long_sentence_not_cut_at_a_non_breaking_space() -> None:
    text = "Il a demandé «\u00a0pourquoi\u00a0» trois fois avant de partir"
    passages = split_passages(article(text), max_chars=24, min_chars=0)
    assert [p.text for p in passages] == [
        "Il a demandé",
        "«\u00a0pourquoi\u00a0» trois fois",
        "avant de partir",
    ]


def test_unbroken_run_is_cut_at_max_chars() -> None:
    url = "https://example.org/" + "x" * 30
    passages = split_passages(article(url), max_chars=20, min_chars=0)
    assert [p.text for p in passages] == [url[:20], url[20:40], url[40:]]


def test_short_paragraph_joins_the_previous_one() -> None:
    first = "Le Maroc joue un rôle crucial dans la lutte contre le terrorisme."
    art = article(first, "Bref.", "Le Royaume a mis en place une stratégie globale et proactive.")
    passages = split_passages(art, min_chars=60)
    assert [p.text for p in passages] == [first + "\n\nBref.", art.paragraphs[2]]
    assert (passages[0].start, passages[0].end) == (0, len(first) + 2 + len("Bref."))
    check_invariants(art, passages, 1000)


def test_short_first_paragraph_joins_the_next_one() -> None:
    art = article(
        "En bref.",
        "Court aussi.",
        "Le Maroc joue un rôle crucial dans la lutte contre le terrorisme.",
        "Le Royaume a mis en place une stratégie globale et proactive.",
    )
    passages = split_passages(art, min_chars=60)
    assert [p.text for p in passages] == [
        "\n\n".join(art.paragraphs[:3]),
        art.paragraphs[3],
    ]
    check_invariants(art, passages, 1000)


def test_short_paragraph_stays_alone_rather_than_overflow() -> None:
    long = "Une phrase assez longue pour remplir le passage entier."
    art = article(long, "Bref.")
    passages = split_passages(art, max_chars=len(long) + 3, min_chars=60)
    assert [p.text for p in passages] == [long, "Bref."]


def test_many_short_paragraphs_do_not_grow_without_bound() -> None:
    art = article(*[f"Point {n}." for n in range(100)])
    passages = split_passages(art, max_chars=100, min_chars=60)
    check_invariants(art, passages, 100)
    assert 10 < len(passages) < 20


def test_min_chars_zero_keeps_every_paragraph() -> None:
    art = article("Un.", "Deux.", "Trois.")
    assert [p.text for p in split_passages(art, min_chars=0)] == ["Un.", "Deux.", "Trois."]


def test_hand_built_paragraphs_with_spaces() -> None:
    art = article("  Un paragraphe avec des espaces autour.  ", "   ", "\u00a0Deux.")
    passages = split_passages(art, min_chars=0)
    assert [p.text for p in passages] == ["Un paragraphe avec des espaces autour.", "Deux."]
    check_invariants(art, passages, 1000)


def test_an_article_without_body_text_is_refused() -> None:
    for paragraphs in ((), ("", "  \n ")):
        with pytest.raises(ValueError, match="no body text"):
            article(*paragraphs)


def test_passage_values() -> None:
    (passage,) = split_passages(article("Un paragraphe.", article_id="x-1"), min_chars=0)
    assert passage == Passage(article_id="x-1", position=0, text="Un paragraphe.", start=0, end=14)


@pytest.mark.parametrize(("max_chars", "min_chars"), [(0, 0), (-5, 10), (100, -1)])
def test_bad_sizes_are_refused(max_chars: int, min_chars: int) -> None:
    with pytest.raises(ValueError, match="must"):
        split_passages(article("Un."), max_chars=max_chars, min_chars=min_chars)


# Characters that stress the splitter: terminators, initials, French spaces, quotes.
FRENCH_CHARS = "aeéM J-C. ?!…«»\u00a0\u202f’'\"1\n"


def test_offsets_hold_for_random_text() -> None:
    # Seeded, so that a failure names an example that can be replayed.
    for seed_value in range(500):
        rng = random.Random(seed_value)
        paragraphs = [
            "".join(rng.choices(FRENCH_CHARS, k=rng.randint(0, 200)))
            for _ in range(rng.randint(0, 6))
        ]
        if not any(p.strip() for p in paragraphs):
            continue  # no article: refused (above)
        art = article(*paragraphs)
        max_chars, min_chars = rng.randint(1, 120), rng.randint(0, 80)
        passages = split_passages(art, max_chars=max_chars, min_chars=min_chars)
        try:
            check_invariants(art, passages, max_chars)
        except AssertionError as error:
            raise AssertionError(f"random.Random({seed_value}): {paragraphs!r}") from error
