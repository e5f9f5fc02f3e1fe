"""The build's SegmentBuilder writes what whoosh's own writer writes, posting for posting."""

import datetime as dt
import json
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh import index as whoosh_index
from whoosh.index import TOC
from whoosh.matching import ListMatcher

from search import Article, Index, build_index, optimize_index, split_passages, update_index
from search.analysis import exact_analyzer
from search.backends.base import IndexedArticle
from search.backends.whoosh._internals import ArrayBlocksCodec, _AndNotMatcher
from search.backends.whoosh.schema import make_schema, passage_document
from search.backends.whoosh.segments import BLOCK_LIMIT, SegmentBuilder

WORDS = (
    "élection présidentielle Maroc marocaine sécurité l'État d’urgence qu'il aujourd'hui "
    "D.G.S.N. œuvre porte-parole « guillemets » 2024 l'économie française des régions"
).split()


def articles() -> list[Article]:
    """Enough small French articles for a term to span several whoosh blocks (128 postings)."""
    out = []
    for n in range(170):
        words = [WORDS[(n * 7 + i * 3) % len(WORDS)] for i in range(12 + n % 9)]
        paragraphs = [
            "La commune de Tanger " + " ".join(words) + ".",
            "Le maire de la commune, la commune et encore la commune : " + " ".join(words[:5]),
        ]
        if n % 3 == 0:
            paragraphs.append("Un troisième paragraphe, sur l'État et l’économie.")
        out.append(
            Article(
                id=f"a{n}",
                title=f"Titre {n} : {words[0]} et {words[-1]}",
                date=None if n % 10 == 0 else dt.date(2020 + n % 5, 1 + n % 12, 1 + n % 28),
                source="" if n % 4 == 0 else f"Source {n % 3}",
                url=f"https://example.fr/{n}",
                paragraphs=tuple(paragraphs),
            )
        )
    return out


def documents() -> list[dict]:
    items = [
        IndexedArticle(article, split_passages(article), f"c{n // 3}", bytes([n]) * 8)
        for n, article in enumerate(articles())
    ]
    return [
        passage_document(item, passage, item.article.content_hash())
        for item in items
        for passage in item.passages
    ]


def posting_list(reader, field, term, blocks: bool = True) -> list[tuple]:
    """Every posting (with the statistics of its block, if asked), as whoosh reads them."""
    matcher = reader.postings(field, term)
    out = []
    while matcher.is_active():
        posting = (matcher.id(), matcher.weight(), matcher.value())
        if blocks:
            posting += (
                matcher.block_max_weight(),
                matcher.block_min_length(),
                matcher.block_max_length(),
            )
        out.append(posting)
        matcher.next()
    return out


def write_both(folder, block_limit: int):
    """The same documents written by whoosh's writer and by SegmentBuilder."""
    docs = documents()
    by_whoosh = whoosh_index.create_in(folder / "whoosh", make_schema())
    writer = by_whoosh.writer()
    for doc in docs:
        writer.add_document(**doc)
    writer.commit()
    ours = whoosh_index.create_in(folder / "ours", make_schema())
    builder = SegmentBuilder(ours.schema, ours.storage, ours.indexname, block_limit=block_limit)
    for doc in docs:
        builder.add_document(doc)
    TOC(ours.schema, [builder.write()], 1).write(ours.storage, ours.indexname)
    return by_whoosh.reader(), ours.reader()


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """Whoosh's writer and SegmentBuilder with whoosh's own block size, 128 postings."""
    folder = tmp_path_factory.mktemp("both")
    (folder / "whoosh").mkdir()
    (folder / "ours").mkdir()
    expected, actual = write_both(folder, block_limit=128)
    yield expected, actual
    expected.close()
    actual.close()


def test_same_documents_stored_fields_and_lengths(both):
    expected, actual = both
    assert actual.doc_count() == expected.doc_count() > 300
    for docnum in range(expected.doc_count()):
        assert actual.stored_fields(docnum) == expected.stored_fields(docnum)
        for field in ("title", "text", "exact"):
            assert actual.doc_field_length(docnum, field) == expected.doc_field_length(
                docnum, field
            )
    for field in ("title", "text", "exact"):
        assert actual.field_length(field) == expected.field_length(field) > 0


def test_same_columns(both):
    expected, actual = both
    for field in ("article_id", "date"):
        ours = actual.column_reader(field, translate=False)
        assert list(ours) == list(expected.column_reader(field, translate=False))


def test_same_terms_and_postings(both):
    expected, actual = both
    terms = list(expected.all_terms())
    assert list(actual.all_terms()) == terms
    assert {field for field, _ in terms} == {
        "article_id",
        "exact",
        "lead",
        "source",
        "spell",
        "text",
        "title",
        "title_exact",
    }
    longest = max(expected.doc_frequency(f, t) for f, t in terms)
    assert longest > 128, "some term spans several blocks"
    for field, term in terms:
        info, ours = expected.term_info(field, term), actual.term_info(field, term)
        assert (
            ours.weight(),
            ours.doc_frequency(),
            ours.min_length(),
            ours.max_length(),
            ours.max_weight(),
            ours.min_id(),
            ours.max_id(),
        ) == (
            info.weight(),
            info.doc_frequency(),
            info.min_length(),
            info.max_length(),
            info.max_weight(),
            info.min_id(),
            info.max_id(),
        ), (field, term)
        assert posting_list(actual, field, term) == posting_list(expected, field, term)


@pytest.mark.parametrize("block_limit", [BLOCK_LIMIT, 50])
def test_same_postings_with_other_block_sizes(tmp_path, block_limit):
    (tmp_path / "whoosh").mkdir()
    (tmp_path / "ours").mkdir()
    expected, actual = write_both(tmp_path, block_limit)
    with expected, actual:
        terms = list(expected.all_terms())
        assert list(actual.all_terms()) == terms
        for field, term in terms:
            ours, info = actual.term_info(field, term), expected.term_info(field, term)
            assert (ours.weight(), ours.doc_frequency(), ours.max_weight()) == (
                info.weight(),
                info.doc_frequency(),
                info.max_weight(),
            )
            assert posting_list(actual, field, term, blocks=False) == posting_list(
                expected, field, term, blocks=False
            )


def test_positions_of_a_repeated_word(both):
    _, actual = both
    matcher = actual.postings("exact", b"commune")
    seen = 0
    while matcher.is_active():
        text = actual.stored_fields(matcher.id())["text"]
        positions = [t.pos for t in exact_analyzer()(text, positions=True) if t.text == "commune"]
        assert matcher.value_as("positions") == positions
        seen += len(positions) > 1
        matcher.next()
    assert seen > 100


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.text(alphabet=st.sampled_from("aéeÉ’'.- œDGSN\u0301\u00a0?«»lqu1T\n"), max_size=80),
        min_size=1,
        max_size=4,
    )
)
def test_any_text_is_written_as_whoosh_writes_it(texts):
    """Odd text (stray accents, dots, apostrophes, empty paragraphs) makes the same postings."""
    docs = [
        {
            "passage_id": f"a{n}#0",
            "article_id": f"a{n}",
            "position": 0,
            "lead": "1",
            "title": text[:20] or "T",
            "text": text,
            "exact": text,
            "spell": text,
        }
        for n, text in enumerate(texts)
    ]
    with tempfile.TemporaryDirectory() as folder:
        by_whoosh = whoosh_index.create_in(folder, make_schema(), indexname="W")
        writer = by_whoosh.writer()
        for doc in docs:
            writer.add_document(**doc)
        writer.commit()
        ours = whoosh_index.create_in(folder, make_schema(), indexname="O")
        builder = SegmentBuilder(ours.schema, ours.storage, ours.indexname, block_limit=128)
        for doc in docs:
            builder.add_document(doc)
        TOC(ours.schema, [builder.write()], 1).write(ours.storage, ours.indexname)
        with by_whoosh.reader() as expected, ours.reader() as actual:
            terms = list(expected.all_terms())
            assert list(actual.all_terms()) == terms
            for field, term in terms:
                assert posting_list(actual, field, term) == posting_list(expected, field, term)
            for docnum in range(len(docs)):
                for field in ("title", "text", "exact"):
                    assert actual.doc_field_length(docnum, field) == expected.doc_field_length(
                        docnum, field
                    )


def _blocks(reader, field: str, term: str) -> list[tuple[str, int]]:
    """(type of the pickled document numbers, postings) of each block of a term."""
    found = []
    for leaf, _ in reader.leaf_readers() if not reader.is_atomic() else [(reader, 0)]:
        matcher = leaf.postings(field, term)
        matcher = getattr(matcher, "child", matcher)  # deletions wrap it in a filter
        while matcher.is_active():
            matcher._read_data()
            found.append((type(matcher._data[0]).__name__, len(matcher._data[0])))
            matcher._next_block()
    return found


def test_updates_and_optimize_keep_the_builds_blocks(tmp_path):
    """whoosh's writer (add, remove, optimize) writes the blocks the build writes: arrays,
    up to BLOCK_LIMIT postings, read fast."""
    corpus = tmp_path / "corpus.jsonl"
    records = [
        {"id": a.id, "title": a.title, "text": "\n\n".join(a.paragraphs)} for a in articles()
    ]
    corpus.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[:100]))
    build_index(corpus, tmp_path / "index", find_duplicates=False)
    more = tmp_path / "more.jsonl"
    more.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[100:]))
    update_index(tmp_path / "index", add=more, remove=["a3"])
    generation = tmp_path / "index" / (tmp_path / "index" / "CURRENT").read_text().strip()
    with whoosh_index.open_dir(str(generation)).reader() as reader:
        added = _blocks(reader, "text", "commun")
    assert {kind for kind, _ in added} == {"array"} and len(added) == 2  # one per segment
    optimize_index(tmp_path / "index")
    with whoosh_index.open_dir(str(generation)).reader() as reader:
        merged = _blocks(reader, "text", "commun")
        assert merged == [("array", reader.doc_frequency("text", "commun"))]
    assert 128 < merged[0][1] <= BLOCK_LIMIT  # more than one of whoosh's own blocks
    assert Index.open(tmp_path / "index").search("commune Tanger", collapse=False).total == 169


def test_whooshs_writer_with_veilles_codec_writes_the_same_postings(tmp_path):
    """Adds and merges through ArrayBlocksCodec: every posting and block statistic as
    whoosh's own codec writes them, and an index that names only whoosh's classes."""
    docs = documents()
    readers = []
    for name, codec in (("plain", None), ("ours", ArrayBlocksCodec(blocklimit=128))):
        ix = whoosh_index.create_in(tmp_path, make_schema(), indexname=name)
        for part in (docs[: len(docs) // 2], docs[len(docs) // 2 :]):  # two segments
            writer = ix.writer(codec=codec)
            for doc in part:
                writer.add_document(**doc)
            writer.commit(merge=False)
        ix.optimize(codec=codec)
        readers.append(ix.reader())
    expected, actual = readers
    terms = list(expected.all_terms())
    assert list(actual.all_terms()) == terms and len(terms) > 100
    for field, term in terms:
        assert posting_list(actual, field, term) == posting_list(expected, field, term)
    assert _blocks(actual, "text", "commun")[0][0] == "array"
    assert _blocks(expected, "text", "commun")[0][0] == "tuple"
    toc = b"".join(p.read_bytes() for p in tmp_path.glob("_ours_*.toc"))
    assert toc and b"W3Codec" in toc and b"ArrayBlocks" not in toc
    for reader in readers:
        reader.close()


def test_an_exclusion_skipped_past_its_last_match_is_done():
    """whoosh 2.7's AndNotMatcher read its first matcher after a skip had run it out (an
    IndexError: « piratage -email » failed on the development index once « -email » was
    also « -e-mail »); Veille's stops there, and still excludes."""
    matcher = _AndNotMatcher(ListMatcher([1, 2, 3]), ListMatcher([5, 6]))
    matcher.skip_to(4)
    assert not matcher.is_active()
    matcher = _AndNotMatcher(ListMatcher([1, 2, 3, 7]), ListMatcher([2, 5, 6]))
    assert list(matcher.all_ids()) == [1, 3, 7]
