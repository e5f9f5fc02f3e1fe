"""Project rules that a test can hold: lint, layering, the public surface, the README."""

import re
import subprocess
import sys
import types
from pathlib import Path

import search

ROOT = Path(__file__).resolve().parent.parent


def test_importing_the_library_does_not_import_flask():
    code = "import sys, search; print('flask' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.stdout.strip() == "False", run.stderr


def test_public_surface_is_all_and_only_all():
    public = {
        name
        for name, value in vars(search).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(search.__all__) == public
    for name in search.__all__:
        assert getattr(search, name) is not None


def test_ruff_check_and_format():
    check = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout
    fmt = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert fmt.returncode == 0, fmt.stdout


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [
        line.strip()
        for line in text.splitlines()
        if line.startswith("    ") and "pip install" in line
    ]


def test_ci_runs_the_readme_test_command():
    serve_command, test_command = readme_commands()
    assert serve_command.endswith("veille serve")
    assert test_command.endswith("python3 -m pytest")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci.splitlines()


def test_changelog_is_newest_first():
    text = (ROOT / "CHANGES.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[0] == f"Unreleased ({search.__version__})"
    released = [tuple(map(int, h.split("."))) for h in headings[1:]]
    assert released and released == sorted(released, reverse=True)
    current = tuple(int(part) for part in search.__version__.split("."))
    assert released[0] < current


def test_no_function_over_80_lines_nor_class_over_250():
    import ast

    too_long = []
    for path in sorted([*ROOT.glob("search/**/*.py"), *ROOT.glob("web/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            limit = {ast.FunctionDef: 80, ast.AsyncFunctionDef: 80, ast.ClassDef: 250}.get(
                type(node)
            )
            if limit and node.end_lineno - node.lineno + 1 > limit:
                too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert too_long == []


def test_only_the_whoosh_backend_imports_whoosh():
    import ast

    importers = set()
    for path in sorted([*ROOT.glob("search/**/*.py"), *ROOT.glob("web/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            if any(name == "whoosh" or name.startswith("whoosh.") for name in names):
                importers.add(path.relative_to(ROOT).parts[:3])
    assert importers == {("search", "backends", "whoosh")}


def test_only_the_sphinx_backend_imports_pymysql():
    import ast

    importers = set()
    for path in sorted([*ROOT.glob("search/**/*.py"), *ROOT.glob("web/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            if any(name == "pymysql" or name.startswith("pymysql.") for name in names):
                importers.add(path.relative_to(ROOT).parts[:3])
    assert importers == {("search", "backends", "sphinx")}


def test_the_package_version_is_the_projects():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert search.__version__ == project["version"]
