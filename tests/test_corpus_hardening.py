"""Corpus lines that used to escape as crashes, and ids that would make ambiguous links.

Every bad line must be a CorpusError naming its file and line, skippable like any other.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from search.corpus import CorpusError, read_corpus

ROOT = Path(__file__).resolve().parent.parent

GOOD = '{"id": "ok", "title": "Bon", "text": "Le Maroc coopère."}\n'
# The line of the hardening issue: JSON's escape of a lone surrogate, accepted by json.loads.
LONE_SURROGATE_LINE = r'{"id":"s1","title":"ok","text":"a \ud83d b"}' + "\n"
SURROGATE = "an invalid character (lone surrogate U+D83D)"
ID_RULE = (
    "an id is segments joined by single '/', none of them '.' or '..', "
    "with no '#', '?', '\\' or control character and no space at either end"
)


def line(**fields: object) -> str:
    """One JSON line of a valid article with fields added or replaced, non-ASCII escaped."""
    # ensure_ascii writes a lone surrogate as its \\uXXXX escape, as a broken scraper would.
    return json.dumps({"id": "x", "title": "t", "text": "b", **fields}) + "\n"


def line_with(raw: str, article_id: str = "x") -> str:
    """One JSON line of a valid article with a field "extra" written as the raw JSON given."""
    return f'{{"id": "{article_id}", "title": "t", "text": "b", "extra": {raw}}}\n'


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def read_error(path: Path) -> CorpusError:
    with pytest.raises(CorpusError) as caught:
        list(read_corpus(path))
    return caught.value


# --- Lines that used to escape --------------------------------------------------------------

LINE_ERRORS = [
    pytest.param(LONE_SURROGATE_LINE, f"field 'text' contains {SURROGATE}", id="issue-line"),
    *(
        pytest.param(line(**{name: "a \ud83d b"}), f"field {name!r} contains {SURROGATE}", id=name)
        for name in ("id", "title", "text", "source", "url", "date", "author")
    ),
    pytest.param(
        line(tags=[{"lieu": "\ude00\ud83d"}]),
        "field 'tags' contains an invalid character (lone surrogate U+DE00)",
        id="nested-value-reversed-pair",
    ),
    pytest.param(line(tags={"\ud83d": 1}), f"field 'tags' contains {SURROGATE}", id="nested-key"),
    pytest.param(line(**{"a\ud83d": 1}), f"field name 'a\\ud83d' contains {SURROGATE}", id="key"),
    pytest.param(
        line_with("9" * 4301),
        "invalid JSON: a number has more than 4300 digits",
        id="number-too-long",
    ),
    pytest.param(
        '{"id": ' + "1" * 4301 + ', "title": "t", "text": "b"}\n',
        "invalid JSON: a number has more than 4300 digits",
        id="id-number-too-long",
    ),
    pytest.param(
        line_with(nested(100_000)),
        "invalid JSON: nested more than 100 levels deep",
        id="past-the-recursion-limit",
    ),
    pytest.param(
        line(m=json.loads(nested(101))),
        "field 'm' is nested more than 100 levels deep",
        id="deeper-than-100",
    ),
]


@pytest.mark.parametrize(("content", "problem"), LINE_ERRORS)
def test_bad_line_is_a_line_error(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text("\n" + GOOD + content, encoding="utf-8")
    error = read_error(path)
    assert (error.path, error.line, error.problem) == (str(path), 3, problem)
    assert str(error) == f"{path}, line 3: {problem}"


def test_json_nested_a_thousand_deep_is_a_line_error(tmp_path: Path) -> None:
    # json.loads raises RecursionError here (Python 3.11); either way it is this line's error.
    path = tmp_path / "news.jsonl"
    path.write_text(GOOD + line_with(nested(1000)), encoding="utf-8")
    error = read_error(path)
    assert error.line == 2
    assert error.problem.endswith("nested more than 100 levels deep")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(line(text="Un sourire \ud83d\ude00."), id="surrogate-pair-is-an-emoji"),
        pytest.param(line(n=int("9" * 4300)), id="4300-digits"),
        pytest.param(line(m=json.loads(nested(100))), id="100-deep"),
        pytest.param(line(text="x" * 2_000_000), id="two-megabyte-line"),
    ],
)
def test_lines_at_the_limits_are_read(tmp_path: Path, content: str) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text(content, encoding="utf-8")
    (article,) = read_corpus(path)
    assert article.id == "x"


def test_skip_invalid_skips_each_bad_line_and_keeps_the_good(tmp_path: Path) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text(
        GOOD
        + LONE_SURROGATE_LINE
        + line_with("9" * 4301, article_id="big")
        + line(id="a/../b")
        + line(id="fin", text="Fin."),
        encoding="utf-8",
    )
    skipped: list[CorpusError] = []
    articles = read_corpus(path, skip_invalid=True, on_skip=skipped.append)
    assert [article.id for article in articles] == ["ok", "fin"]
    assert [(e.path, e.line, e.problem) for e in skipped] == [
        (str(path), 2, f"field 'text' contains {SURROGATE}"),
        (str(path), 3, "invalid JSON: a number has more than 4300 digits"),
        (str(path), 4, f"id 'a/../b' has a '..' segment ({ID_RULE})"),
    ]


# --- Ids ------------------------------------------------------------------------------------

# (id, what is wrong with it; None when it is a good id)
IDS = [
    ("000_784e5dae390c8d0c", None),
    ("orangesum-2", None),
    ("piaf-3-1", None),
    ("a.b", None),
    ("a..b", None),
    ("...", None),
    (".cache", None),
    ("lemonde/2024/a-1", None),
    ("été 2024", None),
    ("100%", None),
    ("a/../b", "has a '..' segment"),
    ("..", "has a '..' segment"),
    ("./x", "has a '.' segment"),
    ("x/.", "has a '.' segment"),
    (".", "has a '.' segment"),
    ("a//b", "contains '//'"),
    ("/a", "starts or ends with '/'"),
    ("a/", "starts or ends with '/'"),
    ("a#b", "contains '#'"),
    ("a?b", "contains '?'"),
    ("a\\b", "contains '\\'"),
    (" a", "starts or ends with a space"),
    ("a\u00a0", "starts or ends with a space"),
    ("a\tb", "contains a control character (U+0009)"),
    ("a\n", "contains a control character (U+000A)"),
    ("a\x00b", "contains a control character (U+0000)"),
    ("a\x7f", "contains a control character (U+007F)"),
    ("a\x85b", "contains a control character (U+0085)"),
]


@pytest.mark.parametrize(("article_id", "flaw"), IDS)
def test_jsonl_id_rule(tmp_path: Path, article_id: str, flaw: str | None) -> None:
    path = tmp_path / "news.jsonl"
    path.write_text(GOOD + line(id=article_id), encoding="utf-8")
    if flaw is None:
        assert [article.id for article in read_corpus(path)] == ["ok", article_id]
        return
    error = read_error(path)
    problem = f"id {article_id!r} {flaw} ({ID_RULE})"
    assert (error.path, error.line, error.problem) == (str(path), 2, problem)


# A file name holds no '/' nor NUL; on Linux it may hold bytes that are not UTF-8.
FILE_NAME_IDS = [
    (article_id, flaw)
    for article_id, flaw in IDS
    if "/" not in article_id and "\x00" not in article_id
] + [("a\udcff", "contains an invalid character (lone surrogate U+DCFF)")]


@pytest.mark.parametrize(("article_id", "flaw"), FILE_NAME_IDS)
def test_text_file_name_id_rule(tmp_path: Path, article_id: str, flaw: str | None) -> None:
    path = tmp_path / f"{article_id}.txt"
    try:
        path.write_text("5 mai 2024\nTitre\n\nTexte.\n", encoding="utf-8")
    except (OSError, UnicodeEncodeError):
        pytest.skip(f"this file system refuses the name {path.name!r}")
    if flaw is None:
        assert [article.id for article in read_corpus(path)] == [article_id]
        return
    error = read_error(path)
    rename = "rename the file (its name without .txt is the id)"
    problem = f"id {article_id!r} {flaw} ({ID_RULE}); {rename}"
    assert (error.path, error.line, error.problem) == (str(path), None, problem)


# --- The command line -----------------------------------------------------------------------


def veille(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "search", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def test_build_reports_a_lone_surrogate_line_and_skips_it_on_request(tmp_path: Path) -> None:
    corpus = tmp_path / "news.jsonl"
    corpus.write_text(GOOD + LONE_SURROGATE_LINE, encoding="utf-8")
    index = str(tmp_path / "index")

    run = veille("build", "--corpus", str(corpus), "--index", index)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    named = [text for text in run.stderr.splitlines() if f"{corpus}, line 2:" in text]
    assert named == [f"veille: error: {corpus}, line 2: field 'text' contains {SURROGATE}"]

    run = veille("build", "--corpus", str(corpus), "--index", index, "--skip-invalid")
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    assert f"skipped: {corpus}, line 2: field 'text' contains {SURROGATE}" in run.stderr
    found = veille("query", "--index", index, "Maroc")
    assert found.returncode == 0
    assert found.stdout.startswith("1 article,") and "1. Bon" in found.stdout


def test_a_pipe_or_a_dangling_link_is_skipped_not_waited_on(tmp_path: Path) -> None:
    from search.corpus import count_articles

    (tmp_path / "bon.txt").write_text("Un titre\n\nUn paragraphe.\n", encoding="utf-8")
    os.mkfifo(tmp_path / "tube.txt")
    (tmp_path / "ancien.jsonl").symlink_to(tmp_path / "nulle-part.jsonl")
    skipped: list[CorpusError] = []
    articles = list(read_corpus(tmp_path, skip_invalid=True, on_skip=skipped.append))
    assert [a.id for a in articles] == ["bon"]
    assert sorted((Path(e.path).name, e.problem) for e in skipped) == [
        ("ancien.jsonl", "cannot read the file (No such file or directory)"),
        ("tube.txt", "not a regular file"),
    ]
    assert count_articles(tmp_path) == 2  # the text files; the dangling link counts none
