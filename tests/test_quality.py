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
    assert re.search(r"^## ", text, re.M)
