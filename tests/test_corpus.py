"""Reading the corpus: the seed's text format, JSON Lines, French dates and the errors."""

import datetime
import json
import pickle
import re
from pathlib import Path

import pytest
from conftest import BACKENDS, index_path, write_jsonl

from search.corpus import Article, CorpusError, parse_french_date, read_corpus
from search.dates import parse_french_moment
from search.errors import VeilleError

SEED = Path(__file__).resolve().parents[1] / "corpus" / "000_784e5dae390c8d0c.txt"
SEED_TITLE = (
    "Lutte contre le terrorisme et les crimes transfrontaliers: "
    "le Maroc un acteur central de la stabilité mondiale"
)


def write(folder: Path, name: str, content: str | bytes) -> Path:
    """Write a file (UTF-8 for text) under folder, creating subfolders, and return its path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def jsonl(*records: dict) -> str:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)


# --- The seed article -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed() -> Article:
    (article,) = read_corpus(SEED)
    return article


def test_seed_identity_date_and_title(seed: Article) -> None:
    assert seed.id == "000_784e5dae390c8d0c"
    assert seed.date == datetime.date(2024, 5, 5)
    assert seed.title == SEED_TITLE
    assert seed.source is None
    assert seed.url is None
    assert seed.metadata == {}


def test_seed_paragraphs_are_clean(seed: Article) -> None:
    assert len(seed.paragraphs) == 14
    assert seed.paragraphs[0].startswith("Le Maroc joue un rôle crucial")
    assert seed.paragraphs[0].endswith("en s’appuyant sur une coopération étroite avec ses "
                                       "partenaires internationaux.")  # fmt: skip
    # The second paragraph starts with an NBSP in the file: stripped.
    assert seed.paragraphs[1].startswith("Le Maroc est un membre actif")
    assert seed.paragraphs[-1].endswith("à l’échelle mondiale.")
    for paragraph in seed.paragraphs:
        assert paragraph == paragraph.strip()
        assert paragraph not in {"-", "–", "—"}
        assert "Advertisment" not in paragraph
        assert "\n" not in paragraph


def test_seed_keeps_typography_inside_paragraphs(seed: Article) -> None:
    quote = next(p for p in seed.paragraphs if p.startswith("«"))
    assert quote.startswith("«\u00a0Notre ambition partagée")
    assert "de la France”, a poursuivi" in quote
    assert "l’Intérieur" in seed.body


def test_seed_body_joins_paragraphs(seed: Article) -> None:
    assert seed.body == "\n\n".join(seed.paragraphs)
    assert seed.body.startswith("Le Maroc joue")


def test_seed_read_as_a_folder(tmp_path: Path, seed: Article) -> None:
    write(tmp_path, SEED.name, SEED.read_bytes())
    assert list(read_corpus(tmp_path)) == [seed]
    assert list(read_corpus(str(tmp_path))) == [seed]


# --- French dates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dimanche 5 mai 2024", datetime.date(2024, 5, 5)),
        ("5 mai 2024", datetime.date(2024, 5, 5)),
        ("1er janvier 2023", datetime.date(2023, 1, 1)),
        ("Lundi 1er Janvier 2024", datetime.date(2024, 1, 1)),
        ("LUNDI 1ER JANVIER 2024", datetime.date(2024, 1, 1)),
        ("jeudi 29 février 2024", datetime.date(2024, 2, 29)),
        ("29 fevrier 2024", datetime.date(2024, 2, 29)),
        ("15 août 2023", datetime.date(2023, 8, 15)),
        ("15 aout 2023", datetime.date(2023, 8, 15)),
        ("mardi 31 décembre 2024", datetime.date(2024, 12, 31)),
        ("31 decembre 2024", datetime.date(2024, 12, 31)),
        ("  samedi\u00a014   juillet 2024 ", datetime.date(2024, 7, 14)),
        ("dimanche, 5 mai 2024", datetime.date(2024, 5, 5)),
        ("05 mai 2024", datetime.date(2024, 5, 5)),
        ("12 sept. 2024", datetime.date(2024, 9, 12)),
        ("2024-05-05", datetime.date(2024, 5, 5)),
        ("05/05/2024", datetime.date(2024, 5, 5)),  # the day first
        ("5/11/2024", datetime.date(2024, 11, 5)),
        ("Publié le 5 mai 2024", datetime.date(2024, 5, 5)),
        ("publiée le 05/05/2024", datetime.date(2024, 5, 5)),
        ("05.05.2024", datetime.date(2024, 5, 5)),
        ("Publié le 05/05/2024 à 10:00", datetime.date(2024, 5, 5)),
        ("Mis à jour le 5 mai 2024", datetime.date(2024, 5, 5)),
        ("Mise à jour le 05.05.2024, 10h00", datetime.date(2024, 5, 5)),
        ("Lundi 6 mai 2024 à 14h30", datetime.date(2024, 5, 6)),
        ("6 mai 2024 à 14 h 30", datetime.date(2024, 5, 6)),
        ("Publié le 6 mai 2024, mis à jour le 7 mai 2024", datetime.date(2024, 5, 6)),
        ("06/05/24", datetime.date(2024, 5, 6)),
    ],
)
def test_parse_french_date(text: str, expected: datetime.date) -> None:
    assert parse_french_date(text) == expected


@pytest.mark.parametrize(
    ("text", "time"),
    [
        ("5 mai 2024", None),
        ("Publié le 05/05/2024 à 10:00", datetime.time(10, 0)),
        ("Mise à jour le 05.05.2024, 10h00", datetime.time(10, 0)),
        ("Lundi 6 mai 2024 à 14h30", datetime.time(14, 30)),
        ("6 mai 2024 à 14 h 30", datetime.time(14, 30)),
        ("6 mai 2024 à 8h", datetime.time(8, 0)),
        ("6 mai 2024, 23:59", datetime.time(23, 59)),
        ("6 mai 2024 à 25h00", None),  # no time of day: the date alone
        ("6 mai 2024 à 12h75", None),
        ("2024-05-06", None),
    ],
)
def test_a_date_line_s_time_of_day(text: str, time: datetime.time | None) -> None:
    assert parse_french_moment(text)[1] == time
    assert parse_french_moment(text)[0] == parse_french_date(text)


@pytest.mark.parametrize(
    "text",
    [
        "dimanche 35 mai 2024",
        "dimanche 5 mai",
        "29 février 2023",
        "5 mai 24",
        "5er mai 2024",
        "5 floréal 2024",
        "mai 2024",
        "dimanche",
        "2024-13-01",
        "31/02/2024",
        "Le 5 mai 2024, la France gagne",  # a title may begin so
        "",
        "Le Maroc joue",
    ],
)
def test_parse_french_date_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid French date"):
        parse_french_date(text)


# --- The text format ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "date", "title", "paragraphs"),
    [
        pytest.param(
            "dimanche 5 mai 2024\n\nTitre\n\nPremier.\n",
            datetime.date(2024, 5, 5),
            "Titre",
            ("Premier.",),
            id="date-title-body",
        ),
        pytest.param(
            "\n\n  Lundi 1er Janvier 2024  \nTitre collé\nCorps collé au titre.",
            datetime.date(2024, 1, 1),
            "Titre collé",
            ("Corps collé au titre.",),
            id="leading-blank-lines-no-blank-after-date",
        ),
        pytest.param(
            "Le Maroc joue\n\nPremier.\n",
            None,
            "Le Maroc joue",
            ("Premier.",),
            id="no-date-line",
        ),
        pytest.param(
            "Dimanche noir pour les marchés\n\nLes cours chutent.\n",
            None,
            "Dimanche noir pour les marchés",
            ("Les cours chutent.",),
            id="weekday-word-in-title-is-not-a-date",
        ),
        pytest.param(
            "5 mai 2024\nTitre\n\nune ligne\n  coupée en   \ntrois\n\n\n\nDeux.",
            datetime.date(2024, 5, 5),
            "Titre",
            ("une ligne coupée en trois", "Deux."),
            id="lines-joined-with-one-space",
        ),
        pytest.param(
            "5 mai 2024\nTitre\n-\n\nUn.\n\n–\n\n- Advertisment -\n\nDeux.\n"
            "ADVERTISEMENT\nTrois.\n\n— advertisement —\n\n- Publicité -\n\n- Advertisment -",
            datetime.date(2024, 5, 5),
            "Titre",
            ("Un.", "Deux.", "Trois."),
            id="boilerplate-dropped",
        ),
        pytest.param(
            "5 mai 2024\r\nTitre\r\n\r\nUn\u00a0: «\u00a0oui\u00a0».\r\n\r\n\u00a0Deux.\r\n",
            datetime.date(2024, 5, 5),
            "Titre",
            ("Un\u00a0: «\u00a0oui\u00a0».", "Deux."),
            id="crlf-and-nbsp",
        ),
        pytest.param(
            "\ufeff2024-05-05\nTitre\n\nUn - deux.\n",
            datetime.date(2024, 5, 5),
            "Titre",
            ("Un - deux.",),
            id="bom-and-iso-date",
        ),
    ],
)
def test_text_format(
    tmp_path: Path,
    content: str,
    date: datetime.date | None,
    title: str,
    paragraphs: tuple[str, ...],
) -> None:
    write(tmp_path, "article-7.txt", content)
    (article,) = read_corpus(tmp_path / "article-7.txt")
    assert (article.id, article.date, article.title) == ("article-7", date, title)
    assert article.paragraphs == paragraphs
    assert (article.source, article.url, article.metadata) == (None, None, {})


# --- JSON Lines -----------------------------------------------------------------------------


def test_jsonl_full_record(tmp_path: Path) -> None:
    record = {
        "id": "a1",
        "title": "  Un titre ",
        "text": "Premier paragraphe\nsur deux lignes.\n\n- Advertisment -\n\nSecond.",
        "date": "2024-05-05",
        "source": "Le Matin",
        "url": "https://example.org/a1",
        "author": "A. Dupont",
        "tags": ["maroc", "sécurité"],
    }
    write(tmp_path, "news.jsonl", jsonl(record))
    (article,) = read_corpus(tmp_path / "news.jsonl")
    assert article == Article(
        id="a1",
        title="Un titre",
        date=datetime.date(2024, 5, 5),
        source="Le Matin",
        url="https://example.org/a1",
        paragraphs=("Premier paragraphe sur deux lignes.", "Second."),
        metadata={"author": "A. Dupont", "tags": ["maroc", "sécurité"]},
    )


def test_jsonl_optional_fields_absent_or_empty(tmp_path: Path) -> None:
    records = [
        {"id": 42, "title": "Sans options", "text": "Du texte."},
        {"id": "b", "title": "Vides", "text": "Du texte.", "source": "", "url": None, "date": ""},
    ]
    write(tmp_path, "news.jsonl", "\n" + jsonl(records[0]) + "   \n\n" + jsonl(records[1]))
    first, second = read_corpus(tmp_path / "news.jsonl")
    assert first.id == "42"
    assert (first.date, first.source, first.url, first.metadata) == (None, None, None, {})
    assert (second.date, second.source, second.url, second.metadata) == (None, None, None, {})


# --- Errors ---------------------------------------------------------------------------------

BAD_JSON = '{"id": "x" "title": "t", "text": "b"}\n'
GOOD = jsonl({"id": "ok", "title": "Bon", "text": "Du texte."})


@pytest.mark.parametrize(
    ("name", "content", "line", "problem"),
    [
        pytest.param(
            "x.txt",
            b"5 mai 2024\nTitre\n\nCaf\xc3\xa9 cr\xffme.\n",
            4,
            "not valid UTF-8 (byte 0xff at column 8)",
            id="txt-not-utf8",
        ),
        pytest.param(
            "x.txt", "", None, "no title line (expected the date, then the title)", id="txt-empty"
        ),
        pytest.param(
            "x.txt",
            "dimanche 5 mai 2024\n\n-\n\n",
            None,
            "no title line (expected the date, then the title)",
            id="txt-date-only",
        ),
        pytest.param(
            "x.txt",
            "\ndimanche 35 mai 2024\nTitre\n\nTexte.",
            2,
            "date 'dimanche 35 mai 2024' is not a valid French date",
            id="txt-impossible-date",
        ),
        pytest.param(
            "x.txt",
            "dimanche 5 mai\nTitre\n\nTexte.",
            1,
            "date 'dimanche 5 mai' is not a valid French date",
            id="txt-date-without-year",
        ),
        pytest.param(
            "x.txt",
            "5 mai 2024\nTitre\n\n- Advertisment -",
            None,
            "no body text after the title",
            id="txt-no-body",
        ),
        pytest.param(
            "x.jsonl",
            GOOD.encode() + b'{"id": "y", "title": "\xe9t\xe9", "text": "b"}\n',
            2,
            "not valid UTF-8 (byte 0xe9 at column 23)",
            id="jsonl-not-utf8",
        ),
        pytest.param(
            "x.jsonl",
            GOOD + "\n" + BAD_JSON,
            3,
            "invalid JSON: Expecting ',' delimiter (column 12)",
            id="jsonl-invalid-json",
        ),
        pytest.param(
            "x.jsonl", "[1, 2]\n", 1, "expected a JSON object, got an array", id="jsonl-array"
        ),
        pytest.param(
            "x.jsonl",
            jsonl({"title": "t", "text": "b"}),
            1,
            "missing required field 'id'",
            id="jsonl-no-id",
        ),
        pytest.param(
            "x.jsonl",
            jsonl({"id": "x", "text": "b"}),
            1,
            "missing required field 'title'",
            id="jsonl-no-title",
        ),
        pytest.param(
            "x.jsonl",
            jsonl({"id": "x", "title": "t"}),
            1,
            "missing required field 'text'",
            id="jsonl-no-text",
        ),
        pytest.param(
            "x.jsonl",
            jsonl({"id": " ", "title": "t", "text": "b"}),
            1,
            "field 'id' is empty",
            id="jsonl-empty-id",
        ),
        pytest.param(
            "x.jsonl",
            jsonl({"id": "x", "title": "", "text": "b"}),
            1,
            "field 'title' is empty",
            id="jsonl-empty-title",
        ),
        pytest.param(
            "x.jsonl",
            jsonl({"id": True, "title": "t", "text": "b"}),
            1,
            "field 'id' must be a string or an integer, got a boolean",
            id="jsonl-boolean-id",
        ),
        pytest.param(
            "x.jsonl",
            jsonl({"id": "x", "title": "t", "text": ["b"]}),
            1,
            "field 'text' must be a string, got an array",
            id="jsonl-text-not-string",
        ),
        pytest.param(
            "x.jsonl",
            jsonl({"id": "x", "title": "t", "text": "-\n\n- Advertisment -"}),
            1,
            "no body text (field 'text' holds only boilerplate)",
            id="jsonl-no-body",
        ),
        pytest.param(
            "x.jsonl",
            jsonl({"id": "x", "title": "t", "text": "b", "date": "5 mai 2024"}),
            1,
            "date '5 mai 2024' is not a valid ISO date (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM)",
            id="jsonl-french-date",
        ),
        pytest.param(
            "x.jsonl",
            jsonl({"id": "x", "title": "t", "text": "b", "date": "2024-02-30"}),
            1,
            "date '2024-02-30' is not a valid ISO date (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM)",
            id="jsonl-impossible-date",
        ),
        pytest.param(
            "x.jsonl",
            jsonl({"id": "x", "title": "t", "text": "\0 \0"}),
            1,
            "field 'text' is empty",
            id="jsonl-text-only-nul",
        ),
        pytest.param(
            "x.txt",
            "5 mai 2024\n\0\n",
            None,
            "no title line (expected the date, then the title)",
            id="text-title-only-nul",
        ),
        pytest.param(
            "x.jsonl",
            jsonl({"id": "x", "title": "t", "text": "b", "url": 3}),
            1,
            "field 'url' must be a string, got a number",
            id="jsonl-url-not-string",
        ),
        pytest.param(
            "x.jsonl",
            jsonl({"id": "x", "title": "t", "text": "b", "category": ["a", "b"]}),
            1,
            "field 'category' must be a string, got an array",
            id="jsonl-category-not-string",
        ),
    ],
)
def test_errors_name_file_line_and_problem(
    tmp_path: Path, name: str, content: str | bytes, line: int | None, problem: str
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(CorpusError) as caught:
        list(read_corpus(path))
    error = caught.value
    assert (error.path, error.line, error.problem) == (str(path), line, problem)
    where = str(path) if line is None else f"{path}, line {line}"
    assert str(error) == f"{where}: {problem}"


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.jsonl", GOOD + jsonl({"id": "x", "title": "Un", "text": "Un."}))
    write(tmp_path, "b/c.jsonl", "\n\n" + jsonl({"id": "x", "title": "Deux", "text": "Deux."}))
    articles = read_corpus(tmp_path)
    assert [next(articles).id, next(articles).id] == ["ok", "x"]
    with pytest.raises(CorpusError) as caught:
        next(articles)
    assert str(caught.value) == (
        f"{tmp_path / 'b' / 'c.jsonl'}, line 3: "
        f"duplicate article id 'x' (first seen in {tmp_path / 'a.jsonl'}, line 2)"
    )


def test_duplicate_id_between_text_file_and_jsonl(tmp_path: Path) -> None:
    write(tmp_path, "a.jsonl", jsonl({"id": "z", "title": "Un", "text": "Un."}))
    write(tmp_path, "z.txt", "5 mai 2024\nDeux\n\nDeux.")
    with pytest.raises(CorpusError) as caught:
        list(read_corpus(tmp_path))
    assert str(caught.value) == (
        f"{tmp_path / 'z.txt'}: duplicate article id 'z' (first seen in {tmp_path / 'a.jsonl'}, "
        "line 1)"
    )


def test_missing_path_fails_at_once(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(CorpusError) as caught:
        read_corpus(missing)  # no iteration needed
    assert str(caught.value) == f"{missing}: no such file or folder"
    assert isinstance(caught.value, VeilleError)


def test_file_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "notes.pdf", "%PDF-1.4")
    with pytest.raises(CorpusError, match=r"notes\.pdf: not a corpus file"):
        read_corpus(path)


def test_error_raised_when_reached(tmp_path: Path) -> None:
    write(tmp_path, "x.jsonl", GOOD + BAD_JSON + jsonl({"id": "n", "title": "t", "text": "b"}))
    articles = read_corpus(tmp_path / "x.jsonl")
    assert next(articles).id == "ok"
    with pytest.raises(CorpusError, match="line 2: invalid JSON"):
        next(articles)


def test_skip_invalid_reports_and_goes_on(tmp_path: Path) -> None:
    write(tmp_path, "a.txt", "dimanche 35 mai 2024\nTitre\n\nTexte.")
    write(tmp_path, "b.txt", "5 mai 2024\nBon titre\n\nBon texte.")
    write(
        tmp_path,
        "c.jsonl",
        (GOOD + BAD_JSON + jsonl({"id": "b", "title": "Doublon", "text": "x"})).encode()
        + b'{"id": "v", "title": "\xe9t\xe9", "text": "b"}\n'
        + jsonl({"id": "last", "title": "Dernier", "text": "Fin."}).encode(),
    )
    skipped: list[CorpusError] = []
    articles = read_corpus(tmp_path, skip_invalid=True, on_skip=skipped.append)
    assert [article.id for article in articles] == ["b", "ok", "last"]
    assert [(Path(e.path).name, e.line, e.problem.split(" (")[0]) for e in skipped] == [
        ("a.txt", 1, "date 'dimanche 35 mai 2024' is not a valid French date"),
        ("c.jsonl", 2, "invalid JSON: Expecting ',' delimiter"),
        ("c.jsonl", 3, "duplicate article id 'b'"),
        ("c.jsonl", 4, "not valid UTF-8"),
    ]


def test_skip_invalid_without_callback(tmp_path: Path) -> None:
    write(tmp_path, "x.jsonl", BAD_JSON + GOOD)
    assert [article.id for article in read_corpus(tmp_path, skip_invalid=True)] == ["ok"]


# --- Folders --------------------------------------------------------------------------------


def test_folder_is_read_recursively_in_path_order(tmp_path: Path) -> None:
    article = "5 mai 2024\nTitre\n\nTexte."
    write(tmp_path, "b.txt", article)
    write(tmp_path, "a/z.txt", article)
    write(tmp_path, "a-b.jsonl", jsonl({"id": "jsonl", "title": "t", "text": "b"}))
    write(tmp_path, "a/deep/y.txt", article)
    write(tmp_path, "A.TXT", article)
    # Not articles: hidden files and folders, READMEs, other kinds of files.
    write(tmp_path, ".hidden.txt", article)
    write(tmp_path, ".git/objects.txt", article)
    write(tmp_path, "README.md", "# Corpus")
    write(tmp_path, "a/README.txt", "Ce dossier contient…")
    write(tmp_path, "notes.pdf", "%PDF-1.4")
    ids = [article.id for article in read_corpus(tmp_path)]
    assert ids == ["A", "y", "z", "jsonl", "b"]


def test_empty_folder_yields_nothing(tmp_path: Path) -> None:
    assert list(read_corpus(tmp_path)) == []


# --- Streaming ------------------------------------------------------------------------------


def test_big_jsonl_is_streamed(tmp_path: Path) -> None:
    count = 20_000
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for number in range(count):
            record = {"id": number, "title": f"Article {number}", "text": "Un texte.\n\nDeux."}
            out.write(json.dumps(record) + "\n")
        out.write("not json\n")
    articles = read_corpus(path)
    # The first article comes before the broken last line is reached: the file is read lazily.
    assert next(articles).id == "0"
    with pytest.raises(CorpusError, match=f"line {count + 1}: invalid JSON"):
        for _ in articles:
            pass
    ids = [article.id for article in read_corpus(path, skip_invalid=True)]
    assert len(ids) == count
    assert ids[-1] == str(count - 1)


# --- The values -----------------------------------------------------------------------------


def test_article_is_hashable_and_takes_a_list() -> None:
    article = Article("a", "T", None, None, None, ["Un.", "Deux."], {"tags": ["x"]})  # type: ignore[arg-type]
    assert article.paragraphs == ("Un.", "Deux.")
    assert article.body == "Un.\n\nDeux."
    assert hash(article) == hash(Article("a", "T", None, None, None, ("Un.", "Deux.")))
    assert article != Article("a", "T", None, None, None, ("Un.", "Deux."))


def test_an_article_takes_its_paragraphs_from_any_iterable() -> None:
    made = Article("a", "T", None, None, None, (p for p in ["Un.", "Deux."]))  # type: ignore[arg-type]
    assert made.paragraphs == ("Un.", "Deux.")
    with pytest.raises(ValueError, match="one text per paragraph"):
        Article("a", "T", None, None, None, 5)  # type: ignore[arg-type]


def test_an_article_holds_no_nul_a_search_node_could_not_store() -> None:
    article = Article(
        "a",
        "T\0itre",
        None,
        "Le\0Fil",
        "https://x.fr/\0",
        ["Un\0deux.", "Trois."],
        {"category": "Mon\0de", "n": "\0"},
    )
    assert (article.title, article.source, article.url) == ("T itre", "Le Fil", "https://x.fr/ ")
    assert article.paragraphs == ("Un deux.", "Trois.")
    assert article.category == "Mon de" and article.metadata["n"] == "\0"


def test_readers_read_a_nul_as_a_space_before_they_strip(tmp_path: Path) -> None:
    record = {"id": "a", "title": "\0Titre\0", "text": "Un\0deux\0", "source": "Le Marin\0"}
    write(tmp_path, "a.jsonl", jsonl(record))
    write(tmp_path, "b.txt", "5 mai 2024\n\0Titre\0\n\nUn\0deux\0\n")
    for article in read_corpus(tmp_path):
        assert (article.title, article.paragraphs) == ("Titre", ("Un deux",)), article.id
    (article,) = read_corpus(tmp_path / "a.jsonl")
    assert article.source == "Le Marin"


def test_corpus_error_survives_pickling() -> None:
    error = CorpusError("corpus/x.txt", 3, "no body text after the title")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.line, copy.problem) == ("corpus/x.txt", 3, error.problem)
    assert str(copy) == "corpus/x.txt, line 3: no body text after the title"


def test_count_articles_estimates_without_parsing(tmp_path):
    from search.corpus import count_articles

    (tmp_path / "a.txt").write_text("5 mai 2024\n\nTitre\n\nTexte.\n", encoding="utf-8")
    (tmp_path / "b.jsonl").write_bytes(b'{"id": 1}\n\n{"id": 2}\n{"id": 3}')  # no final newline
    (tmp_path / "README.md").write_text("not an article")
    assert count_articles(tmp_path) == 4


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"paragraphs": "Un texte entier."}, "one text per paragraph"),
        ({"id": "../p-4"}, "'..' segment"),
        ({"id": 7}, "the id must be text"),
        ({"title": "  "}, "the title must be text"),
        ({"date": "2024-05-01"}, "the date must be a datetime.date"),
        ({"paragraphs": ("", " ")}, "no body text"),
        ({"source": 3}, "the source and the url"),
    ],
)
def test_an_article_made_in_python_follows_the_corpus_rules(fields, problem, tmp_path) -> None:
    from search import add_articles, build_index

    good = {"id": "p-1", "title": "Titre", "date": None, "source": None, "url": None}
    good["paragraphs"] = ("Un texte à Gao.",)
    with pytest.raises(ValueError, match=re.escape(problem)):
        Article(**(good | fields))
    index = tmp_path / "index"
    build_index(
        write_jsonl(tmp_path / "c.jsonl", [{"id": "b-1", "title": "B", "text": "Bamako."}]), index
    )
    assert add_articles(index, [Article(**good)]).added == 1  # the good one is taken


@pytest.mark.parametrize("backend", BACKENDS)
def test_articles_added_from_python_are_refused_whole_with_an_id_twice(
    backend, tmp_path, request
) -> None:
    from search import CorpusError, Index, add_articles, build_index

    index = index_path(backend, tmp_path, request)
    build_index(
        write_jsonl(tmp_path / "c.jsonl", [{"id": "b-1", "title": "B", "text": "Bamako."}]), index
    )

    def made(article_id: str, title: str) -> Article:
        paragraphs = tuple(f"{title} à Gao, paragraphe {n} sur le hautbois." for n in range(9))
        return Article(article_id, title, None, None, None, paragraphs)

    twice = [made("n-1", "Titre"), made("n-2", "Autre"), made("n-1", "Encore")]
    with pytest.raises(CorpusError, match="duplicate article id 'n-1'"):
        add_articles(index, twice)
    with pytest.raises(CorpusError, match="item 2 is a dict, not an Article"):
        add_articles(index, [made("n-3", "Titre"), {"id": "n-4"}])
    with Index.open(index) as opened:  # nothing of either was written
        assert opened.info().articles == 1
        assert opened.article("n-1") is None and opened.article("n-3") is None
        assert opened.search("hautbois").total == 0
    add_articles(index, [made("n-5", "Dernier")])
    with Index.open(index) as opened:
        assert [hit.article_id for hit in opened.search("hautbois")] == ["n-5"]


@pytest.mark.parametrize(
    "first_line",
    [
        "05/05/2024",
        "Publié le 5 mai 2024",
        "05.05.2024",
        "Publié le 05/05/2024 à 10:00",
        "Mis à jour le 5 mai 2024",
        "Dimanche 5 mai 2024 à 14h30",
        "05/05/24",
        "05.05.24",
        "Publié le 5 mai 2024, mis à jour le 6 mai 2024",
        "Publié le 05/05/2024 à 10h00, mis à jour le 06/05/2024 à 12h00",
    ],
)
def test_a_text_file_dated_the_french_way_keeps_its_title(first_line, tmp_path) -> None:
    (tmp_path / "a-1.txt").write_text(f"{first_line}\nLe titre\n\nLe texte.\n", "utf-8")
    (article,) = read_corpus(tmp_path)
    assert (article.date, article.title) == (datetime.date(2024, 5, 5), "Le titre")


@pytest.mark.parametrize(
    "title",
    [
        "Le 8 mai 1945",
        "Le 1er janvier 2025, modifié le code du travail entre en vigueur",
        "13/13/13",
        "20/20/20",
        "2.6.32",
    ],
)
def test_a_title_like_a_date_is_a_title(title, tmp_path) -> None:
    (tmp_path / "a-1.txt").write_text(f"{title}\n\nLe texte.\n", "utf-8")
    (article,) = read_corpus(tmp_path)
    assert (article.date, article.title) == (None, title)


def test_a_text_file_titled_like_a_publication_line_keeps_its_title(tmp_path) -> None:
    title = "Publié le 12 mai, le rapport accable la mairie"
    (tmp_path / "a-1.txt").write_text(f"{title}\n\nLe texte.\n", "utf-8")
    (article,) = read_corpus(tmp_path)
    assert (article.date, article.title) == (None, title)


# --- The time of day ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "date", "time"),
    [
        ("2024-05-05", datetime.date(2024, 5, 5), None),
        ("2024-05-05T14:30", datetime.date(2024, 5, 5), datetime.time(14, 30)),
        ("2024-05-05 14:30:59", datetime.date(2024, 5, 5), datetime.time(14, 30)),  # to the minute
        ("2024-05-05T14:30:00+02:00", datetime.date(2024, 5, 5), datetime.time(14, 30)),
        (
            "2024-05-05T23:30:00-05:00",
            datetime.date(2024, 5, 5),
            datetime.time(23, 30),
        ),  # as written
        ("2024-05-05T22:30:00Z", datetime.date(2024, 5, 6), datetime.time(0, 30)),  # Paris's
        ("2024-12-31T23:30:00.250Z", datetime.date(2025, 1, 1), datetime.time(0, 30)),
    ],
)
def test_a_record_s_date_may_carry_its_time_of_day(written, date, time, tmp_path) -> None:
    path = write(
        tmp_path, "a.jsonl", jsonl({"id": "a", "title": "T", "text": "x", "date": written})
    )
    (article,) = read_corpus(path)
    assert (article.date, article.time) == (date, time)


@pytest.mark.parametrize(
    "written", ["2024-05-05T25:00", "2024-05-05T14", "2024-05-05T14:30+2", "9999-12-31T23:30Z"]
)
def test_a_record_s_bad_time_is_a_clear_error(written, tmp_path) -> None:
    path = write(
        tmp_path, "a.jsonl", jsonl({"id": "a", "title": "T", "text": "x", "date": written})
    )
    with pytest.raises(CorpusError, match="expected YYYY-MM-DD or YYYY-MM-DDTHH:MM") as caught:
        list(read_corpus(path))
    assert caught.value.line == 1


def test_a_text_file_s_date_line_gives_its_time(tmp_path) -> None:
    path = write(tmp_path, "a.txt", "Publié le 5 mai 2024 à 14h30\nUn titre\n\nLe texte.\n")
    (article,) = read_corpus(path)
    assert (article.date, article.time) == (datetime.date(2024, 5, 5), datetime.time(14, 30))


def test_an_article_s_time_of_day() -> None:
    given = {"id": "a", "title": "T", "source": None, "url": None, "paragraphs": ["x"]}
    when = datetime.datetime(2024, 5, 5, 14, 30, 12)
    split = Article(**given, date=when)
    assert (split.date, split.time) == (datetime.date(2024, 5, 5), datetime.time(14, 30))
    assert type(split.date) is datetime.date
    utc = Article(**given, date=when.replace(tzinfo=datetime.UTC))
    assert (utc.date, utc.time) == (datetime.date(2024, 5, 5), datetime.time(16, 30))
    dated = Article(**given, date=datetime.date(2024, 5, 5))
    assert dated.time is None
    # A time changes the digest; an article without one keeps the digest it had.
    assert split.content_hash() != dated.content_hash()
    assert dated.content_hash() == "2b360129573c8557c44b669cc7f04561"  # before times
    with pytest.raises(ValueError, match="a time of day needs a date"):
        Article(**given, date=None, time=datetime.time(14, 30))
    with pytest.raises(ValueError, match="without a time zone"):
        Article(**given, date=when.date(), time=datetime.time(14, 30, tzinfo=datetime.UTC))
    with pytest.raises(ValueError, match="the time must be"):
        Article(**given, date=when.date(), time="14:30")


@pytest.mark.parametrize(
    "field, value, named",
    [
        ("paragraphs", ("Un texte", "lone \ud83d here"), "paragraph 2"),
        ("title", "Titre \udc00", "the title"),
        ("source", "Le Marin \ud800", "the source"),
        ("url", "https://example.org/\ud800", "the url"),
    ],
)
def test_an_article_with_a_lone_surrogate_is_refused_naming_the_field(field, value, named):
    fields = {
        "id": "s1",
        "title": "Titre",
        "date": datetime.date(2024, 5, 1),
        "source": None,
        "url": None,
        "paragraphs": ("Un texte.",),
        field: value,
    }
    with pytest.raises(ValueError, match=rf"^article 's1': {named} holds an invalid character"):
        Article(**fields)
