"""Helpers shared by the benchmarks in bench/ (run by hand, never by the tests).

The development data lives outside the project, in ``../shared/data/`` (see its README);
``VEILLE_DATA`` overrides where it is looked for.
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from search import RankingConfig

PROJECT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("VEILLE_DATA", PROJECT.parent / "shared" / "data"))
ORANGESUM = DATA / "orangesum_news.jsonl"
PIAF_CONTEXTS = DATA / "piaf_contexts.jsonl"
PIAF_QUESTIONS = DATA / "piaf_questions_dev.jsonl"
LEAD_SAMPLE = DATA / "lead_dev_sample.txt"

if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))


def log(*parts: object) -> None:
    """Progress goes to stderr, so that stdout holds only the report."""
    print(*parts, file=sys.stderr, flush=True)


class Progress:
    """Prints `label: done/total (rate)` to stderr every few seconds."""

    def __init__(self, label: str, total: int, every: float = 5.0) -> None:
        self.label = label
        self.total = total
        self.every = every
        self.started = self.last = time.monotonic()

    def __call__(self, done: int) -> None:
        now = time.monotonic()
        if now - self.last >= self.every or done == self.total:
            self.last = now
            elapsed = now - self.started
            rate = done / elapsed if elapsed else 0.0
            log(f"  {self.label}: {done}/{self.total} ({elapsed:.0f} s, {rate:.1f}/s)")


def lead_abstracts() -> dict[str, str]:
    """The abstracts of the articles listed in lead_dev_sample.txt, by id, in the list's order."""
    ids = LEAD_SAMPLE.read_text(encoding="utf-8").split()
    wanted = set(ids)
    abstracts: dict[str, str] = {}
    with open(ORANGESUM, encoding="utf-8") as f:
        for line in f:
            if '"abstract": ""' in line:
                continue
            record = json.loads(line)
            if record["id"] in wanted and record.get("abstract"):
                abstracts[record["id"]] = record["abstract"]
    return {i: abstracts[i] for i in ids if i in abstracts}


def even_sample(n: int, size: int | None) -> list[int]:
    """`size` indices spread evenly over range(n) (all of them if size is None or >= n).

    Deterministic: every k-th item, so that a sample covers the whole file rather than its
    first topics.
    """
    if size is None or size >= n:
        return list(range(n))
    if size <= 0:
        return []
    return [i * n // size for i in range(size)]


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) by linear interpolation; nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def file_key(*paths: Path, extra: str = "") -> str:
    """A short digest of files' names, sizes and modification times, plus `extra`.

    Cheap (no reading): enough to tell that a cached artefact was made from the same inputs.
    """
    h = hashlib.sha256(extra.encode())
    for path in paths:
        st = path.stat()
        h.update(f"{path.resolve()}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return h.hexdigest()[:16]


def source_key(*paths: Path) -> str:
    """A short digest of files' contents (e.g. the library modules a cache depends on)."""
    h = hashlib.sha256()
    for path in paths:
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def parse_setting(text: str) -> tuple[str, float | bool | str | None]:
    """Read `NAME=value` (NAME a field of search.RankingConfig; a number, or for
    second_stage true/false, for ranker_model a path or none)."""
    from dataclasses import fields

    from search import RankingConfig

    name, sep, raw = text.partition("=")
    name = name.strip()
    known = [f.name for f in fields(RankingConfig)]
    if not sep:
        raise ValueError(f"expected NAME=value (e.g. title_weight=0.3), not {text!r}")
    if name not in known:
        # The old spelling named a module constant (querying.TITLE_WEIGHT): say the new one.
        guess = name.rpartition(".")[2].lower()
        hint = f" (did you mean {guess}?)" if guess in known and guess != name else ""
        raise ValueError(
            f"{name!r} is not a ranking weight{hint}; RankingConfig's fields: {', '.join(known)}"
        )
    if name == "second_stage" and raw.strip().lower() in ("true", "false", "1", "0"):
        return name, raw.strip().lower() in ("true", "1")
    if name == "ranker_model":
        return name, None if raw.strip().lower() in ("", "none") else raw.strip()
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        value = None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{text!r}: the value must be a number")
    if next(f.type for f in fields(RankingConfig) if f.name == name) in ("int", int):
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f"{text!r}: the value must be a whole number")
        return name, int(value)
    return name, float(value)


def add_set_option(parser, help: str) -> None:
    """The repeatable `--set NAME=VALUE` option (read each with `parse_setting`)."""
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help=help)


def ranking_config(settings: dict[str, object]) -> RankingConfig:
    """search.RankingConfig's defaults with `settings` changed (field name -> value)."""
    from search import RankingConfig

    return RankingConfig().with_changes(**settings)


def code_version() -> str:
    """Which search/ was measured: the git commit, and a digest of its .py files as they are."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "-C", str(PROJECT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(PROJECT), "status", "--porcelain", "--", "search"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        head, dirty = "?", ""
    # search/backends/ too: since the refactor most of the engine lives there.
    digest = source_key(*sorted((PROJECT / "search").rglob("*.py")))
    return f"git {head}{' + uncommitted changes' if dirty else ''}, search/**/*.py digest {digest}"


def format_settings(values: dict[str, object]) -> str:
    return " ".join(f"{name}={value!r}" for name, value in values.items())


def print_header(title: str, command: str, version: str, shared: str = "shared") -> None:
    """The first lines of a scale benchmark's output: what ran, when, where, on which code."""
    print(f"# Veille {title}, {dt.datetime.now().astimezone():%Y-%m-%d %H:%M %z}")
    print(f"command: {command}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus ({shared}), "
        f"Python {platform.python_version()}; search/: {version}"
    )
