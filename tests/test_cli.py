"""The `veille` command line, run as a user runs it: a real process, exit codes, output."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BACKENDS, index_path, write_jsonl

ROOT = Path(__file__).resolve().parent.parent
RABAT = {"id": "rabat", "title": "Rabat", "text": "Le port de Rabat s'agrandit."}
TANGER = {"id": "tanger", "title": "Tanger", "text": "Le port de Tanger s'agrandit."}
OUJDA = {"id": "oujda", "title": "Oujda", "text": "La gare d'Oujda rouvre."}


def veille(*args: str, cwd: Path | None = None, env: dict | None = None):
    return subprocess.run(
        [sys.executable, "-m", "search", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        timeout=120,
    )


@pytest.fixture(scope="module", params=BACKENDS)
def built(tmp_path_factory, request) -> Path:
    """The bundled corpus built by `veille build`, into a folder or a 2 x 2 cluster."""
    if request.param == "whoosh":
        index = tmp_path_factory.mktemp("cli") / "index"
    else:
        index = request.getfixturevalue("clusters")("cli")
    run = veille("build", "--corpus", str(ROOT / "corpus"), "--index", str(index))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"Built {index}: 1 article, 14 passages in ")
    return index


def test_commands_share_no_folder_of_the_temp_dir(built, tmp_path):
    # whoosh's in-memory writer kept its sorting runs in $TMPDIR/MAIN.tmp, which commands
    # started at once removed from under each other (and a file so named broke them all)
    (tmp_path / "MAIN.tmp").write_text("not a folder")
    run = veille("query", "Maroc", "--index", str(built), env={"TMPDIR": str(tmp_path)})
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MAIN.tmp"]


def test_adding_a_folder_without_articles_is_an_error(built, tmp_path):
    empty = tmp_path / "vide"
    empty.mkdir()
    (empty / "notes.json").write_text("{}", encoding="utf-8")  # not a corpus file
    run = veille("add", str(empty), "--index", str(built))
    assert run.returncode == 1
    assert run.stderr.splitlines() == [
        f"veille: error: {empty}: no articles found",
        "veille: the live index, if any, is unchanged",
    ]
    info = veille("info", "--index", str(built), "--json")
    assert json.loads(info.stdout)["articles"] == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_rebuild_says_which_added_articles_it_left_out(backend, tmp_path, request):
    index = str(index_path(backend, tmp_path, request))
    corpus = write_jsonl(tmp_path / "corpus" / "a.jsonl", [RABAT])
    extra = write_jsonl(tmp_path / "ailleurs" / "b.jsonl", [TANGER, OUJDA])
    assert veille("build", "--corpus", str(corpus.parent), "--index", index).returncode == 0
    assert veille("add", str(extra), "--index", index).returncode == 0
    assert veille("remove", "oujda", "--index", index).returncode == 0  # removed: not said
    run = veille("build", "--corpus", str(corpus.parent), "--index", index)
    assert run.returncode == 0 and run.stdout.startswith("Built ")
    said = run.stderr.splitlines()
    assert said[0] == (
        "left out: 1 article of the previous index not in the corpus (tanger): add their "
        "files again with `veille add`; a fetched one comes back with `veille fetch` only "
        "while its feed still lists it"
    )
    again = veille("build", "--corpus", str(corpus.parent), "--index", index)
    assert again.returncode == 0 and again.stderr == ""  # said once
    if backend != "whoosh":  # a cluster keeps its other generation until the next build
        assert len(said) == 1
        return
    # The index before the build is kept, and stays: serving it again finds the article.
    (kept,) = re.findall(r"^kept: .* in (\S+); to serve it again: `echo (\S+) > (\S+)`", said[1])
    folder, name, pointer = kept
    assert Path(folder).name == name and (Path(folder) / "KEPT").exists()
    Path(pointer).write_text(name + "\n")
    found = veille("query", "tanger", "--index", index, "--json")
    assert [h["article_id"] for h in json.loads(found.stdout)["hits"]] == ["tanger"]


def test_a_build_removes_no_folder_of_another_tool(tmp_path):
    index = tmp_path / "proj"
    (index / "gen-reports").mkdir(parents=True)
    (index / "gen-reports" / "q3.txt").write_text("important")
    corpus = write_jsonl(tmp_path / "c.jsonl", [RABAT])
    for _ in range(2):
        assert veille("build", "--corpus", str(corpus), "--index", str(index)).returncode == 0
    assert (index / "gen-reports" / "q3.txt").read_text() == "important"
    assert veille("info", "--index", str(index)).returncode == 0


def test_an_empty_veille_index_is_the_default_index(tmp_path):
    run = veille("info", cwd=tmp_path, env={"VEILLE_INDEX": ""})
    assert run.returncode == 1
    assert "no index at index" in run.stderr, run.stderr


def test_query_prints_ranked_highlighted_results(built):
    run = veille("query", "--index", str(built), "sécurité")
    assert run.returncode == 0
    lines = run.stdout.splitlines()
    assert lines[0].startswith("1 article, 3 passages")
    assert "1. Lutte contre le terrorisme" in run.stdout
    # passages numbered from 1, as the article page numbers them (its anchors from 0)
    anchor = int(re.search(r"#p(\d+)", run.stdout)[1])
    assert f"   ¶{anchor + 1}: " in run.stdout
    assert "[sécurité]" in run.stdout  # matches shown in brackets off a terminal


def test_query_json_is_the_api_body(built):
    run = veille("query", "--index", str(built), "--json", "--group", "passage", "Hammouchi")
    body = json.loads(run.stdout)
    assert body["total"] == 2 and body["group"] == "passage"
    assert "<mark>Hammouchi</mark>" in body["hits"][0]["snippet"]


def test_query_strict_keeps_every_word_as_typed(built):
    loose = json.loads(veille("query", "--index", str(built), "--json", "Hamouchi").stdout)
    assert loose["total"] == 1 and loose["readings"]  # the typo read as « Hammouchi »
    run = veille("query", "--index", str(built), "--json", "--strict", "Hamouchi")
    assert run.returncode == 0 and json.loads(run.stdout)["total"] == 0
    long = "Hammouchi directeur homologue qatari tournée"  # a long text, read strictly
    run = veille("query", "--index", str(built), "--json", "--strict", "--explain", long)
    [hit] = json.loads(run.stdout)["hits"]
    assert hit["explain"]["all_words_required"] is True


def test_index_from_environment(built):
    run = veille("query", "Maroc", "--limit", "1", env={"VEILLE_INDEX": str(built)})
    assert run.returncode == 0 and "Maroc" in run.stdout


def test_info(built):
    run = veille("info", "--index", str(built))
    assert run.returncode == 0
    assert "articles:   1" in run.stdout and "passages:   14" in run.stdout
    assert "FrenchTokenizer | LowercaseFilter | ElisionFilter" in run.stdout


def test_analyze_shows_each_step():
    run = veille("analyze", "L’État d’urgence")
    assert run.returncode == 0
    assert "ElisionFilter      état urgence" in run.stdout
    assert run.stdout.splitlines()[-1] == "AccentFoldFilter   etat urgenc"


def test_missing_index_is_a_clear_error(tmp_path):
    run = veille("query", "--index", str(tmp_path / "nowhere"), "Maroc")
    assert run.returncode == 1
    assert "no index at" in run.stderr and "veille build" in run.stderr
    assert "Traceback" not in run.stderr


def test_bad_corpus_is_a_clear_error_and_keeps_the_index(built, tmp_path):
    corpus = tmp_path / "bad"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text('{"id": "x", "title": "T", "text": "Le Maroc."}\n{oops\n')
    run = veille("build", "--corpus", str(corpus), "--index", str(built))
    assert run.returncode == 1
    assert "a.jsonl, line 2: invalid JSON" in run.stderr
    assert "Traceback" not in run.stderr
    assert "1 article, 3 passages" in veille("query", "--index", str(built), "sécurité").stdout


def test_skip_invalid_lists_what_it_skipped(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text(
        '{"id": "x", "title": "T", "text": "Le Maroc."}\n{oops\n'
        '{"id": "y", "title": "U", "text": "La Tunisie."}\n'
    )
    run = veille("build", "--corpus", str(corpus), "--index", str(tmp_path / "i"), "--skip-invalid")
    assert run.returncode == 0
    assert "skipped: " in run.stderr and "line 2" in run.stderr
    assert "2 articles" in run.stdout and "1 skipped" in run.stdout


@pytest.mark.parametrize("command", ["build", "add"])
def test_a_corpus_of_skipped_articles_alone_says_why(command, built, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "title": "T", "text": "x", "date": "5 mai"}\n{oops\n')
    where = ["--corpus", str(bad)] if command == "build" else [str(bad)]
    run = veille(command, *where, "--index", str(built), "--skip-invalid")
    assert run.returncode == 1
    first = run.stderr.splitlines()[0]
    assert first.startswith(f"veille: error: {bad}: no articles found (2 skipped: ")
    assert "line 1: date '5 mai' is not a valid ISO date" in first and "line 2" in first


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "x", "--limit", "1000"], "argument --limit: must be a whole number between"),
        (["query", "x", "--page", "abc"], "argument --page: must be a whole number"),
        (["query", "x", "--since", "hier"], "argument --since: not a date"),
        (["query", "x", "--group", "nope"], "argument --group: must be 'article' or 'passage'"),
        (["query", "x", "--since", "2024-06", "--until", "2024-05"], "argument --since: must not"),
        (["query", "x", "--budget", "0"], "argument --budget: must be a number of seconds"),
    ],
)
def test_bad_arguments_are_one_line_naming_the_option(args, message):
    run = veille(*args)
    assert run.returncode == 2
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"veille query: error: {message}")
    assert run.stdout == ""


@pytest.mark.parametrize(
    "args",
    [["remove", "x", "--wait", "nan"], ["add", "x", "--wait", "-1"], ["build", "--wait", "inf"]],
)
def test_a_writer_waits_a_number_of_seconds_for_the_lock(args):
    run = veille(*args)
    assert run.returncode == 2
    last = run.stderr.splitlines()[-1]
    assert last.startswith(f"veille {args[0]}: error: argument --wait: must be between 0 and 86400")


def test_a_hit_shows_its_date_and_time_of_day(tmp_path):
    records = [
        {"id": "a", "title": "Budget voté", "date": "2020-06-03T14:30", "text": "Le budget voté."},
        {"id": "b", "title": "Budget rejeté", "date": "2020-06-02", "text": "Le budget rejeté."},
    ]
    index = str(tmp_path / "i")
    assert (
        veille(
            "build", "--corpus", str(write_jsonl(tmp_path / "c.jsonl", records)), "--index", index
        ).returncode
        == 0
    )
    run = veille("query", "budget", "--index", index, "--sort", "date")
    assert run.returncode == 0, run.stderr
    heads = [line for line in run.stdout.splitlines() if re.match(r"\d+\. ", line)]
    assert heads == ["1. Budget voté  (2020-06-03 14:30)", "2. Budget rejeté  (2020-06-02)"]
    csv_run = veille("query", "budget", "--index", index, "--sort", "date", "--format", "csv")
    assert [row.split(",")[3:5] for row in csv_run.stdout.splitlines()] == [
        ["date", "time"],
        ["2020-06-03", "14:30"],
        ["2020-06-02", ""],
    ]


def test_dates_as_the_query_language_writes_them(tmp_path):
    corpus = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"id": "a", "title": "Budget", "date": "2020-06-03", "text": "Le budget voté."},
            {"id": "b", "title": "Budget", "date": "2021-01-09", "text": "Le budget rejeté."},
        ],
    )
    index = str(tmp_path / "i")
    assert veille("build", "--corpus", str(corpus), "--index", index).returncode == 0
    for since, until, ids in (("2020-06", None, {"a", "b"}), ("2021", "2021", {"b"})):
        args = ["--since", since] + (["--until", until] if until else [])
        run = veille("query", "budget", "--index", index, "--json", *args)
        assert run.returncode == 0, run.stderr
        assert {hit["article_id"] for hit in json.loads(run.stdout)["hits"]} == ids


def test_version():
    run = veille("--version")
    assert run.returncode == 0
    assert re.fullmatch(r"veille \d+\.\d+\.\d+\n", run.stdout)


def test_every_command_has_help_with_an_example_and_is_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    help_text = veille("--help").stdout
    commands = {
        name: veille(name, "--help").stdout
        for name in (
            *("build", "add", "remove", "optimize", "query", "info", "check", "analyze"),
            *("serve", "fetch", "alert", "cluster"),
        )
    }
    assert all(name in help_text for name in commands)
    assert {"build", "query", "info", "analyze", "serve"} <= set(commands)
    for name, parser in commands.items():
        assert "Example: veille " + name in parser, name
        assert f"veille {name}" in readme, name


def test_add_remove_optimize(tmp_path):
    index = str(tmp_path / "index")
    assert veille("build", "--index", index).returncode == 0
    new = tmp_path / "new.jsonl"
    new.write_text('{"id": "n1", "title": "Pêche", "text": "Un accord de pêche signé."}\n')
    run = veille("add", str(new), "--index", index)
    assert run.returncode == 0
    assert "1 added, 0 replaced, 0 unchanged" in run.stdout
    assert "0 added, 0 replaced, 1 unchanged" in veille("add", str(new), "--index", index).stdout
    assert "1 article, 1 passage" in veille("query", "pêche", "--index", index).stdout
    run = veille("remove", "n1", "ghost", "--index", index)
    assert run.returncode == 0 and "1 removed" in run.stdout
    assert "not in the index: ghost" in run.stderr
    assert veille("remove", "ghost", "--index", index).returncode == 1
    run = veille("optimize", "--index", index)
    assert run.returncode == 0 and "merged into 1" in run.stdout
    assert "0 articles" in veille("query", "pêche", "--index", index).stdout


def test_query_explain(built):
    run = veille("query", "--index", str(built), "--explain", "Qui est Hammouchi ?")
    assert run.returncode == 0
    assert (
        "? Mots ignorés (trop courants, ou interrogatifs dans une question) : « Qui », « est »."
        in run.stdout
    )
    assert "? Dans ce passage : « Hammouchi »." in run.stdout
    body = json.loads(
        veille("query", "--index", str(built), "--json", "--explain", "Hammouchi").stdout
    )
    assert body["hits"][0]["explain"]["words"] == [{"word": "Hammouchi", "stem": "hammouch"}]


def test_build_shows_a_progress_bar_with_an_eta_on_a_terminal(tmp_path):
    import pty

    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        "".join(
            json.dumps({"id": f"a{i}", "title": "T", "text": f"Le Maroc, article {i}."}) + "\n"
            for i in range(300)
        ),
        encoding="utf-8",
    )
    leader, follower = pty.openpty()
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "search",
            "build",
            "--corpus",
            str(corpus),
            "--index",
            str(tmp_path / "index"),
            "--procs",
            "1",
        ],
        stderr=follower,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert run.returncode == 0
    assert "300 articles" in run.stdout
    assert b"ETA " in shown and b"passages/s" in shown and b"[" in shown
    assert b"100% 300 articles read; writing the index" in shown


def test_a_query_loads_no_duplicate_finder(seed_index_path):
    # datasketch loads scipy (about half a second a command): builds need it, searches not.
    script = (
        "import sys; from search.cli import main; code = main(['query', 'Maroc', '--index', "
        f"{str(seed_index_path)!r}]); print('datasketch' in sys.modules); sys.exit(code)"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "Maroc" in run.stdout and run.stdout.splitlines()[-1] == "False"
