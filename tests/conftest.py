"""Shared fixtures: real indexes built in temporary folders from real French articles."""

from pathlib import Path

import pytest

from search import Index, build_index

ROOT = Path(__file__).resolve().parent.parent
SEED_CORPUS = ROOT / "corpus"
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def seed_index_path(tmp_path_factory) -> Path:
    """An index of the bundled corpus (the seed article), built once."""
    path = tmp_path_factory.mktemp("seed") / "index"
    build_index(SEED_CORPUS, path)
    return path


@pytest.fixture(scope="session")
def seed_index(seed_index_path) -> Index:
    return Index.open(seed_index_path)


@pytest.fixture(scope="session")
def news_index_path(tmp_path_factory) -> Path:
    """An index of the seed article plus tests/data/news.jsonl, built once."""
    corpus = tmp_path_factory.mktemp("news-corpus")
    (corpus / "seed.txt").write_bytes(next(SEED_CORPUS.glob("*.txt")).read_bytes())
    (corpus / "news.jsonl").write_bytes((TEST_DATA / "news.jsonl").read_bytes())
    path = tmp_path_factory.mktemp("news") / "index"
    build_index(corpus, path)
    return path


@pytest.fixture(scope="session")
def news_index(news_index_path) -> Index:
    return Index.open(news_index_path)
