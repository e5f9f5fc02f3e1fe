"""Searching real indexes through the Python API: the core issue's acceptance queries."""

import datetime as dt
import json
import re
from dataclasses import replace

import pytest
from conftest import BACKENDS, built, index_path, write_jsonl

from search import (
    Hit,
    Index,
    ParameterError,
    RankingConfig,
    Results,
    SearchRequest,
    build_index,
    parse_query,
    update_index,
)
from search.index import PARTIAL_MATCH_NOTE

# Every test here runs on the embedded index and on a 2 x 2 cluster of searchd nodes.


@pytest.fixture(scope="module", params=BACKENDS)
def seed_index(request) -> Index:
    name = "seed_index_path" if request.param == "whoosh" else "seed_cluster_path"
    index = Index.open(request.getfixturevalue(name))
    yield index
    index.close()


@pytest.fixture(scope="module", params=BACKENDS)
def news_index(request) -> Index:
    name = "news_index_path" if request.param == "whoosh" else "news_cluster_path"
    index = Index.open(request.getfixturevalue(name))
    yield index
    index.close()


def passage_texts(results: Results) -> list[str]:
    return [p.text for hit in results for p in hit.passages]


def positions(index, query: str) -> set[int]:
    return {hit.position for hit in index.search(query, group="passage", limit=100)}


def test_terrorisme_finds_terrorisme_and_terroriste(seed_index):
    results = seed_index.search("terrorisme", group="passage", limit=100)
    texts = [hit.text for hit in results]
    assert any("terrorisme" in t for t in texts)
    assert any("terroriste" in t and "terrorisme" not in t for t in texts)
    assert all("terroris" in t for t in texts)  # a title match alone brings in no passage
    assert results.total == len(texts) == 5


@pytest.mark.parametrize("query", ["securite", "SÉCURITÉ", "sécurité", "Sécurité"])
def test_security_with_or_without_accents(seed_index, query):
    results = seed_index.search(query, group="passage", limit=100)
    assert results.total == 3
    assert all("sécurité" in hit.text for hit in results)
    assert all("<mark>sécurité</mark>" in hit.snippet for hit in results)


def test_frontieres_without_accents(seed_index):
    results = seed_index.search("frontieres", group="passage")
    assert [hit.position for hit in results] == [11]
    assert "<mark>frontières</mark>" in results.hits[0].snippet


@pytest.mark.parametrize("query", ["l’immigration", "l'immigration", "immigration"])
def test_elided_query(seed_index, query):
    results = seed_index.search(query, group="passage")
    assert [hit.position for hit in results] == [9]
    assert "l’<mark>immigration</mark>" in results.hits[0].snippet


def test_question_finds_the_passage_naming_him(seed_index):
    results = seed_index.search("Qui est Abdellatif Hammouchi ?", group="passage")
    assert results.hits[0].position == 2
    assert "<mark>Abdellatif Hammouchi</mark>" in results.hits[0].snippet


def test_quoted_phrase_finds_only_the_phrase(seed_index):
    results = seed_index.search('"Coupe du monde"', group="passage", limit=100)
    assert [hit.position for hit in results] == [4]
    assert "<mark>Coupe du monde</mark>" in results.hits[0].snippet
    # a phrase means the words in that order; unquoted, any order
    assert positions(seed_index, '"monde Coupe"') == set()
    assert positions(seed_index, "monde Coupe") == {4}


@pytest.mark.parametrize("query", ["Qatar -Asie", "Qatar SAUF Asie", "Qatar NOT Asie"])
def test_exclusion_drops_the_asian_cup(seed_index, query):
    assert 4 in positions(seed_index, "Qatar")
    assert 4 not in positions(seed_index, query)
    assert positions(seed_index, query)  # the other Qatar passage remains


def test_boilerplate_and_date_are_not_text(seed_index):
    assert seed_index.search("Advertisment").total == 0
    assert seed_index.search("dimanche").total == 0


def test_typos_are_read_and_short_unknown_words_get_a_suggestion(seed_index):
    results = seed_index.search("teroriste")
    assert results.total == 1 and results.readings == (("teroriste", "terroriste"),)
    assert results.suggestion is None
    assert seed_index.search("Hamouchi").readings == (("Hamouchi", "Hammouchi"),)
    short = seed_index.search("Mroc")  # under 5 letters: not read, suggested
    assert short.total == 0 and short.readings == () and short.suggestion == "Maroc"
    known = seed_index.search("terroriste")
    assert known.suggestion is None and known.readings == ()
    quoted = seed_index.search('"teroriste"')  # quoted: not read, yet suggested
    assert (quoted.total, quoted.readings, quoted.suggestion) == (0, (), '"terroriste"')


@pytest.mark.parametrize(
    ("malformed", "plain"),
    [
        ('"Maroc', "Maroc"),
        ("(((Maroc", "Maroc"),
        ("Maroc)", "Maroc"),
        ("OU Maroc", "Maroc"),
        ("Maroc AND", "Maroc"),
        ("Maroc NOT", "Maroc"),
        ("Maroc titre:", "Maroc titre"),
        ("Maroc\x00sécurité", "Maroc sécurité"),
        ("Ma\u200broc sécu\u00adrité", "Maroc sécurité"),  # invisible in a pasted word
        ("sécurité co*", "sécurité co"),
        ("(" * 333 + "Maroc" + ")" * 333, "Maroc"),
        ("(" * 400 + "sécurité coopération", "sécurité coopération"),
        ("*", ""),
        ("-", ""),
        ("OU OU", "ou ou"),
        ("NOT", "not"),
    ],
)
def test_malformed_queries_find_what_their_plain_words_find(seed_index, malformed, plain):
    got = seed_index.search(malformed, limit=100)
    expected = seed_index.search(plain, limit=100)
    assert [(h.article_id, h.position) for h in got] == [
        (h.article_id, h.position) for h in expected
    ]
    assert got.total == expected.total


def test_an_operator_with_nothing_to_join_is_no_word(tmp_path, request):
    records = [
        {"id": "or", "title": "Londres", "text": "Le Brexit et l'or de la City."},
        {"id": "brexit", "title": "Londres", "text": "Le Brexit divise le pays."},
        {"id": "sauf", "title": "Discours", "text": "Macron, sauf imprévu, parlera."},
        {"id": "macron", "title": "Discours", "text": "Macron parle ce soir."},
    ]
    with built(records, "whoosh", tmp_path, request) as index:
        for query, ids in [
            ("Brexit OR", {"or", "brexit"}),
            ("(Brexit SAUF", {"or", "brexit"}),
            ("Macron NOT", {"sauf", "macron"}),
            ("Macron -(OU", {"sauf", "macron"}),
            ("Brexit or", {"or"}),  # in lowercase, the word « or »
            ("OR", {"or"}),  # all operators: the words typed
        ]:
            assert {h.article_id for h in index.search(query)} == ids, query


def test_ten_thousand_characters(seed_index):
    results = seed_index.search("sécurité " + "a" * 10_000)
    assert results.total == seed_index.search("sécurité").total > 0
    assert any("1000 premiers caractères" in note for note in results.notes)


def test_group_by_article(seed_index):
    results = seed_index.search("coopération sécuritaire")
    assert results.total == 1
    (hit,) = results.hits
    assert isinstance(hit, Hit)
    assert hit.article_id == "000_784e5dae390c8d0c"
    assert hit.date == dt.date(2024, 5, 5)
    assert hit.title.startswith("Lutte contre le terrorisme")
    assert 1 <= len(hit.passages) <= 3
    scores = [p.score for p in hit.passages]
    assert scores == sorted(scores, reverse=True)
    assert hit.snippet == hit.passages[0].snippet
    assert results.total_passages >= len(hit.passages)


def test_title_field(news_index):
    assert [h.article_id for h in news_index.search("titre:élections")] == ["elections-2024"]
    assert news_index.search("titre:cambriolages").total == 0
    assert news_index.search("cambriolages").total == 1


def test_or_and_operators(news_index):
    both = {h.article_id for h in news_index.search("œuvre OU cambriolages")}
    assert both == {"oeuvre-musee", "dgsn-rapport"}
    assert news_index.search("œuvre ET cambriolages").total == 0
    # lowercase ou is a word (a stop word), not an operator: both words are required, and
    # as no passage has both, the passages with most of them come, with a note saying so
    relaxed = news_index.search("œuvre ou cambriolages")
    assert relaxed.notes == (PARTIAL_MATCH_NOTE,)
    assert news_index.search("œuvre OU cambriolages").notes == ()
    # ... unless a filter leaves none of them: then the note would promise nothing
    none_left = news_index.search("œuvre ou cambriolages", sources=["Nulle part"])
    assert none_left.total == 0 and PARTIAL_MATCH_NOTE not in none_left.notes


def test_ou_binds_closer_than_words_side_by_side(news_index):
    from search import parse_query

    grouped = {h.article_id for h in news_index.search("sécurité (œuvre OU cambriolages)")}
    assert grouped  # the DGSN report has both
    assert {h.article_id for h in news_index.search("sécurité œuvre OU cambriolages")} == grouped
    assert parse_query("a ET Rabat OU Fès").tree == parse_query("Rabat OU Fès").tree
    both = parse_query("Maroc ET Rabat OU Fès").tree
    assert both == parse_query("Maroc (Rabat OU Fès)").tree


def test_sauf_takes_the_alternatives_after_it(news_index):
    from search import parse_query

    assert (
        parse_query("Maroc SAUF Rabat OU Fès").tree == parse_query("Maroc SAUF (Rabat OU Fès)").tree
    )
    assert parse_query("Maroc OU SAUF Rabat").notes == ()  # either, as « Maroc OU -Rabat »
    assert parse_query("Maroc OU SAUF Rabat").tree == parse_query("Maroc OU -Rabat").tree
    everything = {h.article_id for h in news_index.search("œuvre OU cambriolages OU sécurité")}
    left = {h.article_id for h in news_index.search("sécurité SAUF œuvre OU cambriolages")}
    assert left and left < everything
    assert not left & {h.article_id for h in news_index.search("œuvre OU cambriolages")}


def test_questions_are_ranked_not_required(seed_index):
    results = seed_index.search("Qui est Abdellatif Hammouchi le président du Qatar ?")
    assert results.total == 1 and results.notes == ()
    best = seed_index.search("Qui est Abdellatif Hammouchi ?", group="passage").hits[0]
    assert best.position == 2  # the passage with both words comes first


def test_prefix(news_index):
    ids = {h.article_id for h in news_index.search("cyber*")}
    assert ids == {"dgsn-rapport"}


def test_acronyms_are_one_term(news_index):
    for query in ["D.G.S.N.", "DGSN", "dgsn"]:
        ids = {h.article_id for h in news_index.search(query)}
        assert ids == {"dgsn-rapport", "seed"}, query


def test_france_is_not_the_franc(news_index):
    franc = news_index.search("franc", group="passage", limit=100)
    assert {h.article_id for h in franc} == {"franc-cfa"}
    france = {h.article_id for h in news_index.search("France")}
    assert {"franc-cfa", "sans-date"} <= france


def test_country_finds_its_people(news_index):
    ids = {h.article_id for h in news_index.search("Maroc")}
    assert "sans-date" in ids  # "Les supporters marocains"


def test_sort_by_date_newest_first_and_undated_last(news_index):
    results = news_index.search("France OU Maroc OU œuvre", sort="date", limit=100)
    dates = [h.date for h in results]
    dated = [d for d in dates if d]
    assert dated == sorted(dated, reverse=True)
    assert dates[-1] is None


def test_date_filters_are_inclusive(news_index):
    since = news_index.search("sécurité", since=dt.date(2024, 5, 20))
    assert [h.article_id for h in since] == ["elections-2024"]
    until = news_index.search("sécurité", until=dt.date(2024, 5, 5))
    assert [h.article_id for h in until] == ["seed"]
    in_query = news_index.search("sécurité date:2024-05")
    assert {h.article_id for h in in_query} == {"elections-2024", "seed"}
    assert news_index.search("sécurité depuis:2025").total == 0


def test_an_empty_period_says_so(news_index):
    empty = news_index.search("sécurité depuis:2025 jusqua:2024-05")
    assert empty.total == 0
    assert "La période est vide : du 01/01/2025 au 31/05/2024." in empty.notes
    # The query's dates against the request's: the same.
    crossed = news_index.search("sécurité jusqua:2024-05-05", since=dt.date(2024, 5, 20))
    assert crossed.total == 0
    assert "La période est vide : du 20/05/2024 au 05/05/2024." in crossed.notes
    assert not any("période" in note for note in news_index.search("sécurité date:2024-05").notes)


def test_timeline_counts_articles_by_month(news_index):
    results = news_index.search("France OU Maroc OU sécurité")
    timeline = dict(results.timeline)
    assert timeline["2024-05"] == 2
    assert sum(timeline.values()) == sum(1 for h in results if h.date)


def test_pagination(news_index):
    query = "France OU Maroc OU œuvre OU rapport"
    everything = news_index.search(query, limit=100)
    pages = [news_index.search(query, limit=2, page=p) for p in (1, 2, 3)]
    assert [h.article_id for p in pages for h in p] == [h.article_id for h in everything][:6]
    assert all(p.total == everything.total for p in pages)
    assert news_index.search(query, limit=2, page=50).hits == ()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 0},
        {"limit": 101},
        {"page": 0},
        {"sort": "random"},
        {"group": "x"},
        {"sources": 5},
        {"sources": ["AFP", 5]},
        {"categories": {"sport": 1}},
        {"budget": True},
    ],
)
def test_bad_parameters_raise_a_parameter_error(seed_index, kwargs):
    from search import ParameterError

    with pytest.raises(ParameterError) as raised:
        seed_index.search("Maroc", **kwargs)
    assert raised.value.name == next(iter(kwargs))


def test_parameters_beside_a_request_change_it(seed_index):
    import numpy as np

    request = SearchRequest("Maroc", group="passage")
    assert len(seed_index.search(request, limit=2).hits) == 2
    assert len(seed_index.search(request).hits) > 2
    assert seed_index.search("Maroc", group="passage", limit=np.int64(2)).limit == 2


def test_a_year_given_as_a_number_is_a_year():
    request = SearchRequest("Maroc", since=2024, until=2024)
    assert (request.since, request.until) == (dt.date(2024, 1, 1), dt.date(2024, 12, 31))
    with pytest.raises(ParameterError, match="not a date"):
        SearchRequest("Maroc", since=True)


def test_article_view_marks_matches(seed_index):
    article = seed_index.article("000_784e5dae390c8d0c", query="Coupe du monde")
    assert [p.position for p in article.passages] == list(range(len(article.passages)))
    assert 4 in article.matched_positions
    assert "<mark>Coupe</mark>" in article.passages[4].snippet
    assert seed_index.article("nope") is None


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"per_page": -1}, "per_page"), ({"per_page": 2.5}, "per_page"), ({"page": 0}, "page")],
)
def test_bad_article_paging_raises_a_parameter_error(seed_index, kwargs, name):
    from search import ParameterError

    with pytest.raises(ParameterError) as raised:
        seed_index.article("000_784e5dae390c8d0c", **kwargs)
    assert raised.value.name == name
    last = seed_index.article("000_784e5dae390c8d0c", page=9, per_page=5)
    assert (last.page, last.pages, len(last.passages)) == (3, 3, 4)  # 14 passages


def test_info(seed_index):
    info = seed_index.info()
    assert (info.articles, info.passages) == (1, 14)
    assert "FrenchStemFilter" in info.analyzer


def test_to_dict_is_the_api_shape(seed_index):
    body = seed_index.search("Maroc", group="passage", limit=2).to_dict()
    assert body["total"] >= 2 and body["limit"] == 2
    assert set(body["hits"][0]) >= {
        "article_id",
        "title",
        "date",
        "source",
        "url",
        "position",
        "text",
        "snippet",
        "score",
    }
    assert body["hits"][0]["date"] == "2024-05-05" and body["hits"][0]["url"] is None


def test_explain_says_what_the_query_became_and_what_matched(seed_index):
    query = "Abdellatif et Hammouchi -Asie"
    hit = seed_index.search(query).hits[0]
    why = seed_index.explain(query, hit)
    assert why.words == (("Abdellatif", "abdel"), ("Hammouchi", "hammouch"))
    assert why.dropped == ("et",)
    assert why.excluded == ("Asie",)
    assert why.matched == ("Abdellatif Hammouchi",)
    text = "\n".join(why.lines())
    assert "Mots ignorés (trop courants, ou interrogatifs dans une question) : « et »." in text
    assert "Tous les mots doivent figurer" in text
    score = f"{hit.score:.2f}".replace(".", ",")  # written the French way
    assert f"Score : {score}." in text


def test_explain_a_long_question(seed_index):
    question = "Quel est le rôle du Maroc dans la lutte contre le terrorisme ?"
    hit = seed_index.search(question).hits[0]
    why = seed_index.explain(question, hit)
    assert not why.all_words_required
    assert "Question longue" in "\n".join(why.lines())


def test_explain_an_alternative_and_a_passage_without_the_words(seed_index):
    hit = seed_index.search("Hammouchi OU Tombouctou").hits[0]
    why = seed_index.explain("Hammouchi OU Tombouctou", hit)
    assert not why.all_words_required
    assert "Il suffit d'une des possibilités reliées par OU." in why.lines()
    assert seed_index.explain('"Abdellatif Hammouchi" Maroc', hit).all_words_required
    later = replace(hit, passages=hit.passages[1:])  # a passage without the words
    assert later.position > 0
    lines = seed_index.explain("Tombouctou", later).lines()
    assert "Aucun mot de la requête ne figure dans ce passage." in lines
    assert not any("titre correspond" in line for line in lines)
    relaxed = seed_index.search("Hammouchi Tombouctou")
    assert relaxed.notes == (PARTIAL_MATCH_NOTE,)
    why = seed_index.explain("Hammouchi Tombouctou", relaxed.hits[0])
    assert why.missing == ("Tombouctou",)
    assert (
        "Aucun passage ne contient tous les mots : celui-ci en contient le plus, "
        "sans « Tombouctou »."
    ) in why.lines()
    assert seed_index.explain("Hammouchi", relaxed.hits[0]).missing == ()
    prefix = seed_index.search("terror*").hits[0]
    why = seed_index.explain("terror*", prefix)
    assert (why.words, why.prefixes, why.missing) == ((), ("terror",), ())
    assert not any("Aucun passage" in line or "racine" in line for line in why.lines())
    assert seed_index.explain("Tombouct* Hammouchi", relaxed.hits[0]).missing == ("Tombouct*",)
    alone = seed_index.explain("depuis:2000", hit).lines()
    assert (
        alone[0] == "Filtres seuls : chaque article qu'ils gardent, du plus récent au plus ancien."
    )
    assert not any("mots" in line or "titre" in line for line in alone)


def test_a_word_read_gets_its_accents_back(news_index):
    assert news_index.search("electoins").readings == (("electoins", "élections"),)
    assert news_index.search("Oeuvrre").readings == (("Oeuvrre", "Oeuvre"),)  # œ spelled out


def test_the_exact_form_ranks_above_a_stem_only_match(tmp_path):
    from search import Index, build_index

    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        '{"id": "a", "title": "Un", "text": "Le vote de la présidente du conseil régional."}\n'
        '{"id": "b", "title": "Deux", "text": "Le vote du président du conseil régional."}\n',
        encoding="utf-8",
    )
    build_index(corpus, tmp_path / "index")
    index = Index.open(tmp_path / "index")
    assert [h.article_id for h in index.search("présidente")] == ["a", "b"]
    assert [h.article_id for h in index.search("président")] == ["b", "a"]


def test_an_article_that_covers_a_long_query_ranks_first(tmp_path):
    """Ranking articles, the first stage puts the one whose paragraphs together hold a
    lead's words first, above one whose single paragraph holds more of them than any one of
    its own (the learned second stage, off here, weighs that itself: tests/test_second_stage
    and bench/relevance.py)."""
    filler = "Les autorités ont fait le point dans la soirée sur la situation du secteur."
    records = [
        {
            "id": "whole",
            "title": "Un été difficile dans le Sud",
            "text": f"Un incendie de forêt s'est déclaré mardi. {filler}\n\n"
            f"Le Var est en alerte rouge et les pompiers sont sur place. {filler}\n\n"
            f"L'évacuation des habitants a commencé dans la nuit. {filler}",
        },
        {
            "id": "one-paragraph",
            "title": "Un été difficile dans le Sud",
            "text": f"Incendie de forêt dans le Var : les pompiers mobilisés. {filler}\n\n"
            f"Le marché de Noël ouvrira comme prévu en décembre. {filler}\n\n"
            f"La mairie a présenté son budget pour l'année prochaine. {filler}",
        },
    ]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    build_index(corpus, tmp_path / "index")
    lead = (
        "Incendie de forêt dans le Var : les pompiers ont procédé à l'évacuation des habitants,"
        " les autorités font le point sur la situation du secteur dans la soirée"
    )
    index = Index.open(tmp_path / "index", ranking=RankingConfig(second_stage=False))
    by_passage = index.search(lead, group="passage")
    by_article = index.search(lead, group="article")
    index.close()
    assert by_passage.hits[0].article_id == "one-paragraph"  # the best single paragraph
    assert [hit.article_id for hit in by_article] == ["whole", "one-paragraph"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_question_ranks_the_article_of_its_best_passage_first(backend, tmp_path, request):
    """A question asks for one passage: its first stage ranks articles by their best
    passage, not by the question's words spread over an article (as a lead is)."""
    filler = "La préfecture a publié un communiqué en fin de journée."  # a passage each
    records = [
        {
            "id": "spread",
            "title": "Chronique",
            "text": f"Les pompiers du Var luttent contre un incendie. {filler}\n\n"
            f"L'évacuation des habitants a commencé dans la nuit. {filler}",
        },
        {
            "id": "answer",
            "title": "Chronique",
            "text": f"L'évacuation des habitants du Var a commencé. {filler}\n\n"
            f"Le marché de Noël du Var ouvrira comme prévu en décembre. {filler}",
        },
    ]
    built(records, backend, tmp_path, request).close()
    path = index_path(backend, tmp_path, request)
    question = "Quand l'évacuation des habitants du Var a-t-elle commencé malgré les pompiers ?"
    first_stage = RankingConfig(second_stage=False)
    as_a_lead = first_stage.with_changes(
        question_article_spread=first_stage.article_spread,
        question_article_text_weight=first_stage.article_text_weight,
    )
    with Index.open(path, ranking=first_stage) as index:
        hits = index.search(question).hits
    with Index.open(path, ranking=as_a_lead) as index:
        ranked_as_a_lead = [hit.article_id for hit in index.search(question)]
    assert [hit.article_id for hit in hits] == ["answer", "spread"]
    assert hits[0].passages[0].position == 0
    assert ranked_as_a_lead == ["spread", "answer"]


def test_dates_read_from_the_column_when_the_last_articles_are_undated(tmp_path):
    """whoosh leaves a column's trailing default values unwritten: they read as no date."""
    records = [
        {"id": "a", "title": "Port de Tanger", "date": "2024-05-05", "text": "Le port de Tanger."},
        {"id": "b", "title": "Port de Tanger", "date": "2023-01-02", "text": "Le port de Tanger."},
        {"id": "c", "title": "Port de Tanger", "text": "Le port de Tanger, sans date."},
        {"id": "d", "title": "Port de Tanger", "text": "Le port de Tanger, toujours sans date."},
    ]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    build_index(corpus, tmp_path / "index")
    index = Index.open(tmp_path / "index")
    by_date = index.search("Tanger", sort="date", collapse=False)  # a and b are copies
    since = index.search("Tanger", since=dt.date(2024, 1, 1))
    index.close()
    assert [(hit.article_id, hit.date) for hit in by_date][:2] == [
        ("a", dt.date(2024, 5, 5)),
        ("b", dt.date(2023, 1, 2)),
    ]
    assert {hit.article_id: hit.date for hit in by_date} == {
        "a": dt.date(2024, 5, 5),
        "b": dt.date(2023, 1, 2),
        "c": None,
        "d": None,
    }
    assert [hit.article_id for hit in since] == ["a"]


@pytest.mark.parametrize(
    ("query", "stems", "dropped"),
    [
        # a question's interrogative words are not looked for: its answer does not hold them
        (
            "Quand la guerre de Cent Ans a-t-elle pris fin ?",
            ["guerr", "cent", "an", "pris", "fin"],
            ["Quand", "la", "de", "a-t-elle"],
        ),
        ("Combien d'habitants compte Tanger ?", ["habit", "compt", "tanger"], ["Combien"]),
        (
            "Pourquoi et comment-faire la paix ?",
            ["fair", "paix"],
            ["Pourquoi", "et", "comment", "la"],
        ),
        # a compound made only of interrogatives leaves nothing of itself
        (
            "Quand et comment-pourquoi le Maroc ?",
            ["maroc"],
            ["Quand", "et", "comment", "pourquoi", "le"],
        ),
        # not a question of several words: the word is searched
        ("comment", ["comment"], []),
        ("Pourquoi ?", ["pourquoi"], []),
    ],
)
def test_question_words_are_left_out_of_a_question(query, stems, dropped):
    from search.querying import parse_query

    parsed = parse_query(query)
    assert [w.stem for w in parsed.plan.words] == stems
    assert list(parsed.ignored) == dropped
    assert parsed.tree is not None


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_story_and_its_copy_count_once_in_each_month_they_have(backend, tmp_path, request):
    text = "Le port de Tanger accueille un nouveau terminal pour les conteneurs du détroit."
    records = [
        {"id": "tanger-mai", "title": "Tanger", "date": "2024-05-30", "text": text},
        {"id": "other", "title": "Rabat", "date": "2024-05-02", "text": "Le port de Rabat."},
        {"id": "copie-juin", "title": "Tanger", "date": "2024-06-02", "text": text},
    ]
    for record in records:
        record["source"] = "Le Matin"
    index = built(records, backend, tmp_path, request)
    try:
        searches = [
            index.search("port"),  # the best articles
            index.search("port", sort="date"),  # the newest
            index.search("port", sources=["Le Matin"]),  # every match, then filtered
        ]
        for results in searches:
            assert results.collapsed == 1
            assert results.timeline == (("2024-05", 2), ("2024-06", 1))
        # a month's bar counts what choosing the month finds
        for month, count in searches[0].timeline:
            assert index.search("port", since=month, until=month).total == count
        assert index.search("port", collapse=False).timeline == (("2024-05", 2), ("2024-06", 1))
    finally:
        index.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_article_replaced_with_another_date_is_sorted_and_filtered_by_it(
    backend, tmp_path, request
):
    records = [
        {"id": f"port-{n}", "title": f"Port {n}", "date": f"2024-05-0{n + 1}", "text": "Le port."}
        for n in range(3)
    ]
    built(records, backend, tmp_path, request).close()
    path = index_path(backend, tmp_path, request)
    moved = write_jsonl(tmp_path / "moved.jsonl", [records[0] | {"date": "2024-06-01"}])
    assert update_index(path, add=moved).replaced == 1
    with Index.open(path) as index:
        newest = index.search("port", sort="date")
        assert [(h.article_id, str(h.date)) for h in newest][:2] == [
            ("port-0", "2024-06-01"),
            ("port-2", "2024-05-03"),
        ]
        assert [h.article_id for h in index.search("port", since="2024-06")] == ["port-0"]
        assert index.search("port", until="2024-05-01").total == 0
        assert index.search("port").timeline == (("2024-05", 2), ("2024-06", 1))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("group", ["article", "passage"])
def test_a_day_s_articles_sort_by_their_time_newest_first(backend, group, tmp_path, request):
    times = {"matin": "T08:10", "soir": "T19:45", "sans-heure": "", "midi": "T12:00+02:00"}
    records = [
        {"id": name, "title": f"Grève {name}", "date": f"2024-05-05{at}", "text": f"Grève {name}."}
        for name, at in times.items()
    ]
    records.append(
        {"id": "veille", "title": "Veille", "date": "2024-05-04T23:59", "text": "Grève."}
    )
    records.append({"id": "lendemain", "title": "Après", "date": "2024-05-06", "text": "Grève."})
    with built(records, backend, tmp_path, request) as index:
        newest = index.search("grève", sort="date", group=group)
        assert [(h.article_id, h.time) for h in newest] == [
            ("lendemain", None),
            ("soir", dt.time(19, 45)),
            ("midi", dt.time(12, 0)),
            ("matin", dt.time(8, 10)),
            ("sans-heure", None),  # a day's articles without a time after those with one
            ("veille", dt.time(23, 59)),
        ]
        # A day's filter keeps the whole day, from midnight to 23:59.
        day = index.search("grève", since="2024-05-05", until="2024-05-05")
        assert {h.article_id for h in day} == {"matin", "soir", "sans-heure", "midi"}
        assert [h.article_id for h in index.search("grève", until="2024-05-04")] == ["veille"]
        assert index.search("grève").timeline == (("2024-05", 6),)
        assert index.article("midi").time == dt.time(12, 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_undated_article_added_later_sorts_last_as_on_a_build(backend, tmp_path, request):
    records = [
        {"id": "e4", "title": "Grève", "date": "2024-05-05", "text": "La grève commence."},
        {"id": "a1", "title": "Grève", "text": "La grève dure, sans date."},
        {"id": "b2", "title": "Grève", "text": "La grève continue, sans date non plus."},
    ]
    built(records[:2], backend, tmp_path, request).close()
    path = index_path(backend, tmp_path, request)
    update_index(path, add=write_jsonl(tmp_path / "undated.jsonl", records[2:]))
    with Index.open(path) as index:  # the undated last, in id order, wherever written
        found = index.search("grève", sort="date", collapse=False)
        assert [h.article_id for h in found] == ["e4", "a1", "b2"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("group", ["article", "passage"])
def test_pages_by_date_are_newest_first_to_the_minute(backend, group, tmp_path, request):
    # Ids in the order of their times: the first ids are the oldest of the day.
    records = [
        {
            "id": f"a{n}",
            "title": f"Grève {n}",
            "date": f"2024-05-05T{8 + n:02d}:00",
            "text": "Grève.",
        }
        for n in range(8)
    ]
    with built(records, backend, tmp_path, request) as index:
        pages = [
            index.search("grève", sort="date", group=group, limit=1, page=n, collapse=False)
            for n in range(1, 9)
        ]  # a cluster's shards cut their newest, as many as the page needs
    assert [h.article_id for p in pages for h in p] == [f"a{n}" for n in reversed(range(8))]


@pytest.mark.parametrize("backend", BACKENDS)
def test_sources_differing_by_case_are_counted_as_one(backend, tmp_path, request):
    sources = ["Le Marin", "LE MARIN", "le marin", "Le Marin", "LE MARIN", "Le Marin", "AFP"]
    records = [
        {"id": f"p{n}", "title": f"Port {n}", "text": f"Le port numéro {n}.", "source": source}
        for n, source in enumerate(sources)
    ]
    index = built(records, backend, tmp_path, request)
    try:
        facets = dict(index.search("port").facets)
    finally:
        index.close()
    # one entry, as a filter on it takes them all, spelled as most of its articles spell it
    assert facets["source"] == (("Le Marin", 6), ("AFP", 1))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sort", ["relevance", "date"])
def test_copies_from_one_source_spelled_two_ways_count_once(backend, sort, tmp_path, request):
    text = "Le port de Tanger accueille un nouveau terminal pour les conteneurs du détroit."
    records = [
        {"id": "a", "title": "Tanger", "text": text, "source": "Le Monde"},
        {"id": "b", "title": "Tanger", "text": text, "source": "le monde"},
        {"id": "c", "title": "Rabat", "text": "Le port de Rabat.", "source": "AFP"},
    ]
    with built(records, backend, tmp_path, request) as index:
        results = index.search("port", sort=sort)
        chosen = index.search("port", sort=sort, sources=["Le Monde"])
    assert (results.total, results.collapsed) == (2, 1)
    assert dict(results.facets)["source"] == (("AFP", 1), ("Le Monde", 1))
    assert chosen.total == 1  # what the facet said choosing it would give


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_value_is_spelled_as_most_articles_spell_it_whether_copies_collapse(
    backend, tmp_path, request
):
    text = "Le port de Tanger accueille un nouveau terminal pour les conteneurs du détroit."
    copies = [{"id": f"copie-{n}", "title": "Tanger", "text": text} for n in range(3)]
    others = [
        {"id": f"autre-{n}", "title": f"Port {n}", "text": f"Le port numéro {n} s'agrandit."}
        for n in range(2)
    ]
    records = [r | {"category": "monde"} for r in copies]  # three articles, one story
    records += [r | {"category": "Monde"} for r in others]  # two articles, two stories
    with built(records, backend, tmp_path, request) as index:
        collapsed = dict(index.search("port").facets)["category"]
        every = dict(index.search("port", collapse=False).facets)["category"]
    assert collapsed == (("monde", 3),)  # three stories, spelled as three articles of five
    assert every == (("monde", 5),)


@pytest.mark.parametrize("backend", BACKENDS)
def test_copies_of_one_text_rank_in_id_order_whatever_the_corpus_order(backend, tmp_path, request):
    text = "Le port de Tanger accueille un nouveau terminal pour les conteneurs du détroit."
    # Id order is code point order (UTF-8 byte order): « z » before « é ».
    records = [
        {"id": "é-copie", "title": "Tanger", "date": "2024-05-30", "text": text},
        {"id": "rabat", "title": "Rabat", "text": "Le port de Rabat et ses conteneurs."},
        {"id": "z-original", "title": "Tanger", "date": "2024-05-30", "text": text},
    ]
    index = built(records, backend, tmp_path, request)
    try:
        for query in (
            "terminal Tanger",
            "Quel port accueille un nouveau terminal pour les conteneurs du détroit ?",
        ):
            found = index.search(query, collapse=False)
            assert [hit.article_id for hit in found][:2] == ["z-original", "é-copie"], query
            (hit, *_) = index.search(query)
            copies = tuple(copy.article_id for copy in hit.duplicates)
            assert (hit.article_id, copies) == ("z-original", ("é-copie",)), query
            passages = index.search(query, group="passage")
            assert [hit.article_id for hit in passages][:2] == ["z-original", "é-copie"], query
    finally:
        index.close()


FILTERED = [
    ("afp-1", "AFP", "monde", "2024-05-01"),
    ("reuters-1", "Reuters", "monde", "2024-05-02"),
    ("monde-1", "Le Monde", "politique", "2024-05-03"),
    ("afp-2", "AFP", "politique", "2024-05-04"),
    ("libe-1", "Libération", "société", "2024-05-05"),
]


@pytest.fixture
def filtered(request, tmp_path) -> Index:
    """Five articles on Morocco from four sources and three sections, one a day."""
    records = [
        {
            "id": article_id,
            "title": f"Le Maroc et ses voisins, épisode {n}",
            "date": date,
            "source": source,
            "category": section,
            "text": f"Le Maroc signe un accord de coopération portuaire, le numéro {n}.",
        }
        for n, (article_id, source, section, date) in enumerate(FILTERED)
    ]
    index = built(records, request.param, tmp_path, request)
    yield index
    index.close()


@pytest.mark.parametrize("filtered", BACKENDS, indirect=True)
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Maroc -source:AFP", {"reuters-1", "monde-1", "libe-1"}),
        ("Maroc NOT source:afp", {"reuters-1", "monde-1", "libe-1"}),
        ("Maroc SAUF source:AFP", {"reuters-1", "monde-1", "libe-1"}),
        ("Maroc -rubrique:monde -source:AFP", {"monde-1", "libe-1"}),
        ('Maroc -source:"le monde" -(source:AFP OU source:Reuters)', {"libe-1"}),
        ("Maroc -titre:épisode", set()),
        ("Maroc -titre:1", {"afp-1", "monde-1", "afp-2", "libe-1"}),
    ],
)
def test_a_query_excludes_sources_sections_and_title_words(filtered, query, expected):
    results = filtered.search(query)
    assert {hit.article_id for hit in results} == expected
    assert results.total == len(expected)
    # the excluded articles are not counted in the facets either
    sources = [source for article_id, source, _, _ in FILTERED if article_id in expected]
    assert dict(dict(results.facets)["source"]) == {s: sources.count(s) for s in sources}
    assert not results.notes


@pytest.mark.parametrize("filtered", BACKENDS, indirect=True)
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("source:AFP", {"afp-1", "afp-2"}),
        ("-source:AFP", {"reuters-1", "monde-1", "libe-1"}),
        ("source:AFP OU source:Reuters", {"afp-1", "afp-2", "reuters-1"}),
        ("Maroc (source:AFP OU source:Reuters)", {"afp-1", "afp-2", "reuters-1"}),
        ("Maroc source:AFP OU source:Reuters", {"afp-1", "afp-2", "reuters-1"}),
        ("source:« Le Monde »", {"monde-1"}),
        ("rubrique:politique source:AFP", {"afp-2"}),
        ("depuis:2024-05-04", {"afp-2", "libe-1"}),
        ("depuis : 4 mai 2024", {"afp-2", "libe-1"}),
    ],
)
def test_filters_alone_list_every_article_they_keep(filtered, query, expected):
    results = filtered.search(query)
    assert {hit.article_id for hit in results} == expected
    assert results.total == len(expected)
    assert not results.notes


@pytest.mark.parametrize(
    "query",
    [
        "source:AFP OU Maroc",
        "source:AFP OU rubrique:monde",
        "(Maroc source:AFP) OU source:Reuters",
        "-(Maroc source:AFP)",  # not (Maroc and AFP): no filter says it
        "-(source:AFP rubrique:sport)",
        "NOT -source:AFP",
    ],
)
def test_a_filter_as_an_alternative_to_words_or_another_facet_is_not_read(query):
    from search.querying import parse_query

    parsed = parse_query(query)
    assert "la syntaxe n'a pas pu être lue : recherche des mots tels quels" in parsed.notes
    assert (parsed.sources, parsed.excluded_sources, parsed.excluded_categories) == ((), (), ())


@pytest.mark.parametrize("sign", ["-", ""])
def test_a_long_text_keeps_its_filters_out_of_its_words(sign):
    from search.querying import parse_query

    parsed = parse_query(f"Maroc Algérie Tunisie Libye Égypte {sign}source:AFP")
    assert parsed.ranked_or and parsed.plan is not None
    stems = ["maroc", "algerie", "tunis", "liby", "egypt"]
    assert [w.stem for w in parsed.plan.words] == stems
    assert parsed.plan.excluded == ()
    assert (parsed.excluded_sources if sign else parsed.sources) == ("AFP",)


def test_an_excluded_date_is_ignored_with_a_note():
    from search.querying import parse_query

    parsed = parse_query("Maroc -date:2024")
    assert parsed.notes == ("date ignorée : -2024 (une date ne s'exclut pas)",)
    assert (parsed.since, parsed.until) == (None, None)


@pytest.mark.parametrize(
    "query",
    [
        '"Coupe du monde"',
        "« Coupe du monde »",
        "«\u00a0Coupe du monde\u00a0»",
        "«Coupe du monde»",
        "“Coupe du monde”",
        "„Coupe du monde“",
    ],
)
def test_french_quotes_quote_a_phrase(query, tmp_path, request):
    records = [
        {"id": "foot", "title": "Football", "text": "La Coupe du monde aura lieu au Qatar."},
        {"id": "budget", "title": "Budget", "text": "Une coupe budgétaire frappe le monde."},
    ]
    with built(records, "whoosh", tmp_path, request) as index:
        assert [hit.article_id for hit in index.search(query)] == ["foot"]
        left_out = query.replace("Coupe du monde", "coupe du monde")
        assert [hit.article_id for hit in index.search(f"-{left_out} coupe")] == ["budget"]


@pytest.mark.parametrize(
    ("query", "read"),
    [
        ("Bamako depuis : 2024-05-04", {"since": dt.date(2024, 5, 4)}),
        ("Bamako depuis: 2024", {"since": dt.date(2024, 1, 1)}),
        ("Bamako jusqu'à : 2024-05", {"until": dt.date(2024, 5, 31)}),
        ("Bamako source : AFP", {"sources": ("AFP",)}),
        ("Bamako -source : AFP", {"excluded_sources": ("AFP",)}),
        ("Bamako rubrique :politique", {"categories": ("politique",)}),
        # a pasted text's « source : » is text, and « depuis : des années » no date
        ("la source : un rapport dit que le ministre ment", {"sources": ()}),
        ("le conseil depuis : des années dit que tout va bien", {"since": None}),
    ],
)
def test_a_field_spaced_the_french_way_is_read(query, read):
    from search.querying import parse_query

    parsed = parse_query(query)
    assert {name: getattr(parsed, name) for name in read} == read
    assert not parsed.notes


@pytest.mark.parametrize(
    ("query", "since", "until"),
    [
        ("Bamako depuis:mai 2024", dt.date(2024, 5, 1), None),
        ("Bamako depuis : Août 2023", dt.date(2023, 8, 1), None),
        ("Bamako jusqu'à:1er juin 2024", None, dt.date(2024, 6, 1)),
        ('Bamako date:"5 mai 2024"', dt.date(2024, 5, 5), dt.date(2024, 5, 5)),
        ("Bamako date : 05/2024", dt.date(2024, 5, 1), dt.date(2024, 5, 31)),
        ("Bamako jusqua:05/05/2024", None, dt.date(2024, 5, 5)),
        ("date:sept. 2024 Bamako", dt.date(2024, 9, 1), dt.date(2024, 9, 30)),
        ("Bamako jusqu'au:3 décembre 2026", None, dt.date(2026, 12, 3)),
        ("Bamako jusqu’au : 3 décembre 2026", None, dt.date(2026, 12, 3)),
        ("Bamako date:03-05-2024", dt.date(2024, 5, 3), dt.date(2024, 5, 3)),
        ("Bamako date:03/05/24", dt.date(2024, 5, 3), dt.date(2024, 5, 3)),
        ("Bamako depuis:03.05.98", dt.date(1998, 5, 3), None),
        ("Bamako date:2024/05/03", dt.date(2024, 5, 3), dt.date(2024, 5, 3)),
        ("Bamako depuis:31-mai-2024", dt.date(2024, 5, 31), None),  # its words hyphenated
        ("Bamako jusqua:1er-juin-2024", None, dt.date(2024, 6, 1)),
    ],
)
def test_a_date_filter_reads_french_dates(query, since, until):
    from search.querying import parse_query

    parsed = parse_query(query)
    assert (parsed.since, parsed.until) == (since, until)
    assert [w.stem for w in parsed.plan.words] == ["bamako"]
    assert not parsed.notes


@pytest.mark.parametrize(
    ("query", "note", "searched"),
    [
        ("Bamako date:31 février 2024", "date ignorée : 31 février 2024", ("Bamako",)),
        ("Bamako depuis:juin", "date ignorée : juin", ("Bamako",)),
        ("Bamako date:mi-mai", "date ignorée : mi-mai", ("Bamako",)),
        ("Bamako date : Niamey 2024", None, ("Bamako", "date", "Niamey", "2024")),
    ],
)
def test_a_date_filter_that_is_no_date_says_so(query, note, searched):
    from search.querying import parse_query

    parsed = parse_query(query)
    assert (parsed.since, parsed.until) == (None, None)
    assert parsed.notes == ((note,) if note else ())
    assert parsed.searched == searched


@pytest.mark.parametrize(
    ("query", "searched", "sources"),
    [
        ("Macron,Merkel", ("Macron", "Merkel"), ()),
        ("manifestants,10 000", ("manifestants", "10000"), ()),
        ('Maroc source:"Le Monde/AFP"', ("Maroc",), ("Le Monde/AFP",)),  # quoted: as is
        ('"Macron/Merkel"', ("Macron/Merkel",), ()),  # a phrase: its words in a row
    ],
)
def test_words_listed_without_a_space_are_side_by_side(query, searched, sources):
    from search.querying import parse_query

    parsed = parse_query(query)
    assert (parsed.searched, parsed.sources) == (searched, sources)


def test_a_title_field_spaced_the_french_way_looks_in_titles():
    from search.querying import Term, parse_query

    assert parse_query("titre : Bamako").tree == Term("bamako", "bamako", "title")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "query", ["10 000 manifestants", "10\u00a0000", "10.000", '"10 000 manifestants"']
)
def test_a_number_in_groups_of_three_is_one_word(backend, query, tmp_path, request):
    records = [
        {"id": "foule", "title": "Grève", "text": "Les 10\u00a0000 manifestants ont défilé."},
        {"id": "deux", "title": "Budget", "text": "Il y a 10 lignes, 000 au total, manifestants."},
        {"id": "autre", "title": "Foule", "text": "Les 110 000 manifestants ont défilé."},
    ]
    with built(records, backend, tmp_path, request) as index:
        results = index.search(query)
        assert [hit.article_id for hit in results] == ["foule"]
        assert "<mark>10\u00a0000" in results.hits[0].snippet


CAPITALS = [
    {"id": "cia", "title": "Renseignement", "text": "La CIA surveille le pays."},
    {"id": "ci", "title": "Celui-ci", "text": "Ce pays-ci, celui-ci, on le connaît."},
    {"id": "caf", "title": "Allocations", "text": "La CAF verse les aides en mai."},
    {"id": "cafe", "title": "Bistrot", "text": "Un café et des aides au comptoir."},
    {"id": "jo", "title": "Sport", "text": "Les JO de Paris ont commencé."},
    {"id": "joe", "title": "Élection", "text": "Joe Biden a commencé sa campagne à Paris."},
    {"id": "xviii", "title": "Histoire", "text": "Au XVIIIe siècle, la ville grandit."},
    {"id": "xvii", "title": "Histoire", "text": "Au XVIIe siècle, la ville naît."},
    {"id": "ve", "title": "Institutions", "text": "La Ve République a un président fort."},
    {"id": "vie", "title": "Société", "text": "La vie en République a un prix."},
    {"id": "otan", "title": "Défense", "text": "Le sommet de l'Otan s'ouvre à Vilnius."},
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("query", "expected", "marked"),
    [
        ("CIA", ["cia"], "CIA"),
        ("aides CAF", ["caf"], "CAF"),
        ("JO Paris", ["jo"], "JO"),
        ("XVIIIe siècle", ["xviii"], "XVIIIe"),
        ("Ve République", ["ve"], "Ve"),
        ("café aides", ["caf", "cafe"], "café"),  # a word in lowercase: its stem, as ever
        ("LA CAF VERSE LES ALLOCATIONS", ["caf"], "CAF"),  # shouted: read in lowercase
        ("OTAN", ["otan"], "Otan"),  # written with a capital first letter
        ("PRIX", ["vie"], "prix"),  # nothing writes it in capitals: a word like any other
    ],
)
def test_an_acronym_or_ordinal_in_capitals_finds_itself_not_its_stem(
    backend, query, expected, marked, tmp_path, request
):
    with built(CAPITALS, backend, tmp_path, request) as index:
        results = index.search(query)
        assert sorted(hit.article_id for hit in results) == expected
        marks = [m for hit in results for m in re.findall(r"<mark>(.*?)</mark>", hit.snippet)]
        assert any(m.split()[0] == marked for m in marks)


def test_an_acronym_marks_itself_in_capitals_only():
    from search.highlight import snippet
    from search.querying import parse_query

    marked = snippet("La CIA et la Cia, à la cia.", parse_query("CIA").highlights)
    assert marked == "La <mark>CIA</mark> et la Cia, à la cia."


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_summer_is_a_word(backend, tmp_path, request):
    records = [
        {"id": "ete", "title": "Tourisme", "text": "Les vacances de l'été 2024 au Maroc."},
        {"id": "hiver", "title": "Tourisme", "text": "Les vacances de l'hiver 2024 au Maroc."},
    ]
    with built(records, backend, tmp_path, request) as index:
        assert [hit.article_id for hit in index.search("été 2024")] == ["ete"]
        assert [hit.article_id for hit in index.search("vacances d'été")] == ["ete"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_acronym_mostly_written_otherwise_is_read_as_a_word(backend, tmp_path, request):
    records = [
        {"id": f"otan-{n}", "title": "Défense", "text": f"L'Otan se réunit, épisode {n}."}
        for n in range(3)
    ]
    records.append({"id": "caps", "title": "Défense", "text": "Le sommet de l'OTAN."})
    with built(records, backend, tmp_path, request) as index:
        results = index.search("OTAN")
        assert sorted(hit.article_id for hit in results) == ["caps", "otan-0", "otan-1", "otan-2"]
        assert results.readings == ()  # silently
        strict = index.search("OTAN", strict=True)  # a saved search, a feed: read alike
        assert sorted(hit.article_id for hit in strict) == ["caps", "otan-0", "otan-1", "otan-2"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("20 euros", ["prix", "signe"]),
        ('"20 euros"', ["prix", "signe"]),
        ("20€", ["prix", "signe"]),
        ("McDonald", ["burger"]),
        ("Macron,Merkel", ["sommet"]),  # words listed without a space: side by side
        ("Macron/Merkel", ["sommet"]),
    ],
)
def test_signs_possessives_and_listed_words(backend, query, expected, tmp_path, request):
    records = [
        {"id": "prix", "title": "Prix", "text": "Le ticket coûte 20 euros."},
        {"id": "signe", "title": "Tarif", "text": "Le menu est à 20\u00a0€ le midi."},
        {"id": "burger", "title": "Restauration", "text": "McDonald’s ouvre un restaurant."},
        {"id": "sommet", "title": "Europe", "text": "Merkel reçoit Emmanuel Macron."},
    ]
    with built(records, backend, tmp_path, request) as index:
        assert sorted(hit.article_id for hit in index.search(query)) == expected


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_quoted_phrase_is_looked_for_in_titles_too(backend, tmp_path, request):
    records = [
        {"id": "titre", "title": "Accord entre Rabat et Madrid", "text": "Un texte signé."},
        {"id": "texte", "title": "Football", "text": "Rabat et Madrid se parlent enfin."},
        {"id": "ailleurs", "title": "Madrid", "text": "Rabat, puis Lisbonne."},
    ]
    with built(records, backend, tmp_path, request) as index:
        assert {hit.article_id for hit in index.search('"Rabat et Madrid"')} == {"titre", "texte"}
        assert [hit.article_id for hit in index.search('Rabat -"Rabat et Madrid"')] == ["ailleurs"]
        # the text's phrase as written ranks above the title's words
        assert index.search('"Rabat et Madrid"').hits[0].article_id == "texte"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"Rabat et Madrid"', ["rabat"]),
        ('"état d urgence"', ["urgence"]),
        ("porte-parole", ["parole"]),  # a compound, in any of its forms
        ('titre:"état d\'urgence"', ["urgence"]),
        ('titre:"Madrid et Rabat"', ["madrid"]),
    ],
)
def test_a_quoted_phrase_in_a_title_is_its_words_in_a_row(
    backend, query, expected, tmp_path, request
):
    records = [
        {"id": "rabat", "title": "Accord entre Rabat et Madrid", "text": "Un texte signé."},
        {"id": "madrid", "title": "Madrid et Rabat s'accordent", "text": "Un texte signé."},
        {"id": "urgence", "title": "Prolonger l'état d'urgence", "text": "Un vote au Sénat."},
        {"id": "etat", "title": "L'urgence de l'État", "text": "Un vote au Sénat."},
        {"id": "parole", "title": "Les porte-paroles du parti", "text": "Une réunion."},
        {"id": "portes", "title": "Les portes de la parole", "text": "Une réunion."},
    ]
    with built(records, backend, tmp_path, request) as index:
        assert sorted(hit.article_id for hit in index.search(query)) == expected


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("query", "expected", "marked"),
    [
        ("sénatrice", ["senateur", "senatrice"], "sénateur"),
        ("directeur", ["directrice"], "directrice"),
        ("Saint-Denis", ["st-denis"], "St-Denis"),
        ('"2e tour"', ["2nd"], "2nd tour"),
        ("1re édition", ["premiere"], "1ère édition"),
    ],
)
def test_french_forms_that_meet(backend, query, expected, marked, tmp_path, request):
    records = [
        {"id": "senateur", "title": "Sénat", "text": "Le sénateur du Gard vote contre."},
        {"id": "senatrice", "title": "Sénat", "text": "La sénatrice du Gard vote pour."},
        {"id": "directrice", "title": "École", "text": "La directrice de l'école parle."},
        {"id": "st-denis", "title": "Basilique", "text": "La basilique de St-Denis rouvre."},
        {"id": "2nd", "title": "Élection", "text": "Le 2nd tour aura lieu dimanche."},
        {"id": "premiere", "title": "Festival", "text": "La 1ère édition du festival."},
    ]
    with built(records, backend, tmp_path, request) as index:
        results = index.search(query, collapse=False)
    assert sorted(hit.article_id for hit in results) == expected
    assert any(f"<mark>{marked}</mark>" in hit.snippet for hit in results)


EXCLUSIONS = [
    {"id": "marine", "title": "Assemblée", "text": "Marine Le Pen parle à la tribune."},
    {"id": "duel", "title": "Assemblée", "text": "Jean et Marine débattent à l'Assemblée."},
    {"id": "jean", "title": "Assemblée", "text": "Jean visite l'Assemblée nationale."},
    {"id": "ville", "title": "Basilique", "text": "La mairie de Saint-Denis rénove la basilique."},
    {"id": "dept", "title": "Collèges", "text": "La Seine-Saint-Denis investit à Saint-Denis."},
    {
        "id": "jlm-lp",
        "title": "Assemblée nationale",
        "text": "Jean-Luc Mélenchon et Marine Le Pen à l'Assemblée pour la réforme des retraites.",
    },
    {
        "id": "jlm",
        "title": "Assemblée nationale",
        "text": "Jean-Luc Mélenchon à l'Assemblée, Macron et la réforme des retraites.",
    },
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('Jean -"Marine"', ["jean", "jlm"]),  # a segment's first match is checked too
        ('Saint-Denis -"Seine-Saint-Denis"', ["ville"]),
        # words of an excluded phrase make no long text of a short query
        ('Jean-Luc Mélenchon Assemblée -"Le Pen"', ["jlm"]),
        ('réforme retraites Mélenchon -"Marine Le Pen"', ["jlm"]),
        ("Mélenchon -Le Pen", ["jlm"]),  # a name's particle: the name is excluded
        ("Mélenchon SAUF Le Pen", ["jlm"]),
        ("MÉLENCHON ASSEMBLÉE SAUF LE PEN", ["jlm"]),  # shouted, and a name still
    ],
)
def test_an_excluded_phrase_or_name_is_left_out(backend, query, expected, tmp_path, request):
    with built(EXCLUSIONS, backend, tmp_path, request) as index:
        for strict in (False, True):
            found = index.search(query, collapse=False, strict=strict)
            assert sorted(hit.article_id for hit in found) == expected, strict


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("query", ["titre:électi*", "titre:electio*", "électi* scrutin"])
def test_a_prefix_longer_than_a_title_stem_finds_the_title(backend, query, tmp_path, request):
    records = [
        {"id": "rabat", "title": "Élections à Rabat", "text": "Le scrutin a eu lieu dimanche."},
        {"id": "club", "title": "Football", "text": "Les élections du club et son scrutin."},
    ]
    with built(records, backend, tmp_path, request) as index:
        found = {hit.article_id for hit in index.search(query)}
    assert "rabat" in found  # its title's stem « elect » is shorter than the prefix
    assert found == ({"rabat"} if query.startswith("titre:") else {"rabat", "club"})


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_compound_is_found_in_its_other_forms(backend, tmp_path, request):
    records = [
        {"id": "un", "title": "Gouvernement", "text": "Le porte-parole du gouvernement a parlé."},
        {
            "id": "deux",
            "title": "Séoul",
            "text": "Les Sud-Coréens votent ; l'armée sud-coréenne veille.",
        },
        {"id": "mer", "title": "Voyage", "text": "Au large, la grande mer du Nord."},
        {"id": "desordre", "title": "Port", "text": "La parole du porte-avions."},
        {"id": "lieu", "title": "Martine", "text": "Sainte-Martine, en Bourgogne."},
        {"id": "abri", "title": "Hiver", "text": "Les sans-abri du quartier."},
        {"id": "pluie", "title": "Pluie", "text": "Ils restent à l'abri de la pluie."},
        {"id": "promesse", "title": "Promesse", "text": "Une parole donnée."},
        {"id": "toit", "title": "À l'abri du froid", "text": "Un toit pour l'hiver."},
    ]
    with built(records, backend, tmp_path, request) as index:
        found = index.search("porte-paroles")
        assert [hit.article_id for hit in found] == ["un"]
        assert "<mark>porte-parole</mark>" in found.hits[0].snippet
        assert [hit.article_id for hit in index.search("sud-coréen")] == ["deux"]
        snippet = index.search("sud-coréen").hits[0].snippet
        assert "<mark>Sud-Coréens</mark>" in snippet and "<mark>sud-coréenne</mark>" in snippet
        assert index.search('"porte-paroles"').total == 0  # quoted: as written
        assert index.search("grands-mères").total == 0  # mères is not mer
        assert index.search("parole-porte").total == 0  # still its words in a row
        assert index.search("Saint-Martin").total == 0  # a name keeps its gender
        # a common word is part of the compound: « sans-abri » is not « abri » alone
        assert [hit.article_id for hit in index.search("sans-abri")] == ["abri"]  # not "toit"
        assert index.search("tombe-t-il").total == 0  # « tombe » alone, which none has
        # a compound's start: its first words too, not « parol* » alone
        assert {hit.article_id for hit in index.search("porte-parol*")} == {"un", "desordre"}
        assert index.search("portes-parol*").notes == ()  # no fallback to « parol* » alone


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_compound_with_a_common_word_is_found_in_a_title(backend, tmp_path, request):
    records = [
        {
            "id": "idf",
            "title": "Île-de-France : un kangourou s'échappe",
            "text": "Un kangourou a été vu sur une route.",
        },
        {"id": "ile", "title": "Un kangourou", "text": "Un kangourou en France, dans une île."},
        {"id": "abri", "title": "Les sans-abri face au froid", "text": "Un hiver rude."},
        {"id": "plan", "title": "Un plan pour les sans-abri", "text": "Des places."},
        {"id": "toit", "title": "À l'abri du froid", "text": "Un toit pour l'hiver."},
        {"id": "voix", "title": "Le porte-parole parle", "text": "Rien de neuf."},
        {"id": "voix-2", "title": "Un porte-parole encore", "text": "Rien non plus."},
    ]
    with built(records, backend, tmp_path, request) as index:
        for query, ids in [
            ("Île-de-France", ["idf"]),
            ("kangourou ile-de-france", ["idf"]),
            ("sans-abri froid", ["abri"]),  # its words in a row: not « À l'abri »
            ("sans-abri", ["abri", "plan"]),  # every title that has it
            ("porte-parole", ["voix", "voix-2"]),
        ]:
            found = index.search(query)
            assert sorted(h.article_id for h in found) == ids, query
            assert found.notes == (), query


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_common_word_is_not_excluded_and_says_so(backend, tmp_path, request):
    records = [
        {"id": "avec", "title": "Rabat", "text": "Le Maroc signe un accord."},
        {"id": "sans", "title": "Fès", "text": "Maroc : accord signé."},
    ]
    with built(records, backend, tmp_path, request) as index:
        for query in ("Maroc -le", "Maroc SAUF le", "Maroc -titre:le"):
            results = index.search(query)
            assert results.total == 2
            assert results.notes == ("« le » est un mot trop courant pour être exclu",)
        # common words alone are searched as written, without what is excluded
        assert [hit.article_id for hit in index.search("le -Fès")] == ["avec"]
        # in a long text, « fut -elle » is a hyphen, not an exclusion
        assert index.search("Ce Maroc a-t-il signé un accord, a -t-il dit -le ?").notes == ()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("query", ["porte-parole", '"porte-parole"', "(Sète ministre) OU Rabat"])
def test_words_that_must_match_together_score_only_together(backend, query, tmp_path, request):
    records = [
        # the title holds one of the words: that is no match of the title, and no score
        {"id": "portes", "title": "Les portes de Sète", "text": "Le porte-parole à Rabat."},
        {"id": "deux", "title": "Gouvernement", "text": "Le porte-parole et le porte-parole."},
        {"id": "rabat", "title": "Maroc", "text": "Rabat et le porte-parole du ministre."},
    ]
    with built(records, backend, tmp_path, request) as index:
        ranked = [hit.article_id for hit in index.search(query, collapse=False)]
    if query.startswith("("):
        assert ranked == ["portes", "rabat"]  # Sète without ministre scores as Rabat alone
    else:
        assert ranked[0] == "deux"


def test_a_prefix_too_short_and_the_quotes_of_a_long_text_are_said():
    from search.querying import LONG_TEXT_SYNTAX_NOTE, parse_query

    assert parse_query("sécurité co*").notes == (
        "« co* » : un début de mot demande 3 lettres, « co » est cherché comme un mot",
    )
    elided = parse_query("Maroc l'Ét*")  # after its elision, « ét »: not « et » everywhere
    assert [w.stem for w in elided.plan.words] == ["maroc"]
    assert elided.notes == (
        "« l'Ét* » : un début de mot demande 3 lettres, et « et » est un mot trop courant "
        "pour être cherché",
    )
    long_text = parse_query('"Coupe du monde" Maroc Qatar africaine finale')
    assert long_text.notes == (LONG_TEXT_SYNTAX_NOTE,)
    assert long_text.ranked_or and long_text.plan is not None  # its words, ranked
    assert parse_query('"Coupe du monde" Qatar').notes == ()  # short: a phrase
    prefixes = parse_query("terror* attentat* djihad* islam* menace*")
    assert prefixes.notes == (LONG_TEXT_SYNTAX_NOTE,) and prefixes.highlights.prefixes == ()
    assert "astérisques" in LONG_TEXT_SYNTAX_NOTE


@pytest.mark.parametrize("filtered", BACKENDS, indirect=True)
def test_a_filter_no_matching_article_has_is_said(filtered):
    results = filtered.search("Maroc source:AFPP rubrique:monde")
    assert results.total == 0
    assert results.notes == ("aucun des articles trouvés n'a la source « AFPP »",)
    assert filtered.search("Maroc", categories=["Sport"]).notes == (
        "aucun des articles trouvés n'a la rubrique « Sport »",
    )
    assert filtered.search("Maroc source:afp rubrique:MONDE").notes == ()  # case aside
    assert filtered.search("Tombouctou source:AFPP").notes == ()  # nothing matched anyway
    assert filtered.search("Maroc source:AFPP OU source:Reuters").notes == ()  # one did
    excluded = filtered.search("Maroc -source:AFPP -rubrique:monde")
    assert excluded.notes == (
        "aucun des articles trouvés n'a la source « AFPP » : rien n'est exclu",
    )
    assert excluded.total == 3  # the section's two are left out
    assert filtered.search("-source:afp").notes == ()  # case aside
    assert filtered.search("Tombouctou -source:AFPP").notes == ()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_section_asked_of_articles_without_sections_is_said(backend, tmp_path, request):
    records = [{"id": "a", "title": "Rabat", "text": "Le Maroc et ses voisins."}]
    with built(records, backend, tmp_path, request) as index:
        results = index.search("Maroc rubrique:politique")
        assert results.total == 0
        assert results.notes == ("aucun des articles trouvés n'a la rubrique « politique »",)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_long_quotation_is_found_as_written(backend, tmp_path, request):
    said = "La coopération sécuritaire entre le Maroc et la France progresse vite."
    shuffled = "La France progresse vite : la coopération sécuritaire entre le Maroc et elle."
    records = [
        {"id": "cite", "title": "Sécurité", "text": said},
        {"id": "melange", "title": "Sécurité", "text": shuffled},
    ]
    quotation = '"coopération sécuritaire entre le Maroc et la France progresse"'
    with built(records, backend, tmp_path, request) as index:
        results = index.search(quotation)
        assert [hit.article_id for hit in results] == ["cite"]
        assert results.notes == ()
        assert "<mark>coopération sécuritaire entre le Maroc et la France progresse</mark>" in (
            results.hits[0].snippet
        )


@pytest.mark.parametrize("filtered", BACKENDS, indirect=True)
def test_filters_alone_list_the_newest_first(filtered):
    results = filtered.search("rubrique:politique OU rubrique:monde")
    assert results.sort == "date"  # nothing to rank by
    assert [hit.article_id for hit in results] == ["afp-2", "monde-1", "reuters-1", "afp-1"]
    assert filtered.search("Maroc rubrique:monde").sort == "relevance"


def test_a_question_that_quotes_is_still_ranked_as_a_question():
    from search.querying import parse_query

    for query in ("Qui a parlé de « Coupe du monde » ?", 'Qui a parlé de "Coupe du monde" ?'):
        parsed = parse_query(query)
        assert parsed.ranked_or and parsed.notes == ()
        assert len(parsed.tree.nodes) == 2  # « parlé », or the phrase: either ranks


def test_quoted_phrases_alone_are_phrases_however_many():
    from search.querying import Phrase, parse_query

    parsed = parse_query('"le Mali" "la junte" "le scrutin" "Bamako" "AFP"')
    assert not parsed.ranked_or
    phrases = [node.nodes[0] for node in parsed.tree.nodes]
    assert Phrase(("le", "mali")) in phrases and Phrase(("afp",)) in phrases


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_phrase_and_words_no_passage_has_together_rank_those_with_most(
    backend, tmp_path, request
):
    records = [
        {"id": "coupe", "title": "Football", "text": "La Coupe du monde commence au Qatar."},
        {"id": "juge", "title": "Justice", "text": "Le juge parle enfin aux victimes."},
        {"id": "autre", "title": "Météo", "text": "Il pleut sur Lyon."},
    ]
    with built(records, backend, tmp_path, request) as index:
        results = index.search("« Coupe du monde » victimes")
        assert {hit.article_id for hit in results} == {"coupe", "juge"}
        assert PARTIAL_MATCH_NOTE in results.notes
        strict = index.search("« Coupe du monde » ET victimes")  # an explicit ET: all
        assert strict.total == 0 and PARTIAL_MATCH_NOTE not in strict.notes
        kept_out = index.search("« Coupe du monde » victimes -Qatar")
        assert [hit.article_id for hit in kept_out] == ["juge"]
        read = index.search("« Coupe du monde » victimess")  # a typo, read in the fallback too
        assert read.readings == (("victimess", "victimes"),)
        assert {hit.article_id for hit in read} == {"coupe", "juge"}


@pytest.mark.parametrize("filtered", BACKENDS, indirect=True)
def test_no_query_and_the_request_s_filters_list_their_articles(filtered):
    results = filtered.search("", sources=["AFP"])
    assert [hit.article_id for hit in results] == ["afp-2", "afp-1"]
    assert results.sort == "date"
    assert filtered.search(SearchRequest("", since="2024-05-04")).total == 2
    assert filtered.search("").total == 0  # nothing asked, nothing listed


def test_a_month_is_read_only_by_its_name_or_abbreviation():
    from search.dates import month_number

    assert [month_number(w) for w in ("mai", "Mai", "févr.", "sept.", "May", "June", "Dec")] == [
        5,
        5,
        2,
        9,
        5,
        6,
        12,
    ]
    assert [month_number(w) for w in ("Junk", "Augustin", "Décor", "Marche")] == [None] * 4


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_compound_and_its_spelling_in_one_word_find_each_other(backend, tmp_path, request):
    records = [
        {"id": "soldes", "title": "Les soldes", "text": "Ce week-end, les soldes ont attiré."},
        {"id": "pluie", "title": "La pluie", "text": "Le weekend a été pluvieux en Bretagne."},
        {"id": "courrier", "title": "Le ministre", "text": "Il a reçu un e-mail du ministre."},
        {"id": "orages", "title": "Les orages", "text": "Des orages sur tout le territoire."},
        {"id": "coquille", "title": "La coquille", "text": "Il pleut, sur-tout au nord."},
        *(
            {"id": f"sud-{n}", "title": "Le sud", "text": "Il pleut, surtout au sud."}
            for n in range(12)
        ),
        {"id": "nom", "title": "Madame Grandière", "text": "Madame Grandière parle."},
        {"id": "boxe", "title": "La boxe", "text": "Estelle Mossely boxe à Paris."},
        {"id": "question", "title": "Le départ", "text": "Est-elle vraiment partie ?"},
        {"id": "famille", "title": "La famille", "text": "Sa grand-mère est venue."},
        {"id": "emirats", "title": "Le club", "text": "Le club d'Al-Ain gagne."},
        *({"id": f"alain-{n}", "title": "Alain", "text": "Alain chante."} for n in range(12)),
    ]
    with built(records, backend, tmp_path, request) as index:

        def found(query: str, **params) -> set[str]:
            return {hit.article_id for hit in index.search(query, **params).hits}

        for query in ("weekend", "week-end", "Week-End", "weekend pluvieux OU soldes"):
            assert found(query) == {"soldes", "pluie"}, query
        assert found("weekend", strict=True) == {"soldes", "pluie"}  # alerts too
        assert found("email") == {"courrier"}
        # accents aside; and a word written as a compound is no typo (not « Grandière »)
        assert found("grandmere") == found("grand-mère") == {"famille"}
        assert found("grandme\u0300re") == {"famille"}  # accents typed apart
        assert index.search("grandmere").readings == ()
        assert found("Al-Ain") == {"emirats"}  # « Alain » is far more often written
        assert found('"weekend"') == {"pluie"}  # quoted: as typed
        assert found("soldes -weekend") == set()
        # a stray « sur-tout »: `surtout` is not « sur tout »
        assert found("surtout", collapse=False, limit=20) == {f"sud-{n}" for n in range(12)}
        assert found("Estelle") == {"boxe"}  # « est-elle » is no compound
        results = index.search("weekend soldes")
        assert re.findall(r"<mark>(.*?)</mark>", results.hits[0].snippet) == ["week-end", "soldes"]
        explained = index.explain("weekend soldes", results.hits[0])
        assert explained.all_words_required  # one word, in either spelling
        assert (explained.phrases, explained.missing) == ((), ())
        assert re.findall(r"<mark>(.*?)</mark>", index.search("email").hits[0].snippet) == [
            "e-mail"
        ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_glued_and_spaced_spellings_find_each_other(backend, tmp_path, request):
    records = [
        {"id": "sommet", "title": "Le sommet", "text": "Le G-20 se réunit à Rome."},
        {"id": "g20", "title": "Les finances", "text": "Les ministres du G20 à Paris."},
        {"id": "virus", "title": "Le virus", "text": "La Covid-19 recule."},
        {"id": "vaccin", "title": "Le vaccin", "text": "Le vaccin contre le covid19."},
        {"id": "heure", "title": "Le rendez-vous", "text": "Rendez-vous à 14h30 place Bellecour."},
        {"id": "route", "title": "La route", "text": "Il roulait à 180 km/h, à 14 h 30."},
        {"id": "chaine", "title": "La télé", "text": "La chaîne M6 diffuse le match."},
        {"id": "six", "title": "Six", "text": "Il a 6 enfants, m'a-t-il dit."},
        {"id": "grippe", "title": "La grippe", "text": "La grippe H1N1 revient."},
        {"id": "avion", "title": "L'avion", "text": "Un Airbus A320 atterrit."},
        {"id": "vitesse", "title": "La vitesse", "text": "Il filait à 320 km/h."},
        {"id": "note", "title": "Note", "text": "La hausse est de 5 % cette année, pour 5 euros."},
        {"id": "cinq", "title": "Cinq", "text": "Il a 5 ans."},
        {"id": "mobile", "title": "Le réseau", "text": "La 5G arrive."},
        {"id": "sel", "title": "Le sel", "text": "Ajoutez 5 g de sel."},
    ]
    with built(records, backend, tmp_path, request) as index:

        def found(query: str) -> set[str]:
            return {hit.article_id for hit in index.search(query).hits}

        assert found("G20") == found("G-20") == {"sommet", "g20"}
        assert found("covid19") == found("Covid-19") == {"virus", "vaccin"}
        assert found("14h30") == {"heure", "route"}
        assert found("180km/h") == {"route"}
        # a common word or an elided article glued to a number keeps it a name
        assert found("M6") == {"chaine"}
        assert found("H1N1") == {"grippe"}
        assert found("A320") == {"avion"}
        assert found("5%") == {"note"}
        assert found("5G") == {"mobile"}  # not « 5 g » of salt
        assert found("G20 -Rome") == {"g20"}


def test_a_words_other_spellings_take_none_of_the_phrases_typed():
    compounds = {"weekend": "week-end", "email": "e-mail", "startup": "start-up", "wifi": "wi-fi"}
    parsed = parse_query(
        '(weekend OU email OU startup OU wifi) "coupe du monde"', compounds=compounds
    )
    assert parsed.notes == ()  # the phrase typed is searched
    assert ("coupe", "du", "monde") in parsed.highlights.phrases
    assert [typed for typed, _ in parsed.respelled] == ["weekend", "email", "startup", "wifi"]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("psg/om", ["psg", "om"]),  # listed, not a unit
        ("5%", []),  # a number and a sign's word: no word « 5pourcent »
    ],
)
def test_what_is_no_other_spelling(query, words):
    parsed = parse_query(query)
    assert parsed.respelled == ()
    if words:
        assert [t.exact for t in parsed.tree.nodes] == words


def test_pages_counts_only_the_pages_a_request_may_ask_for():
    many = Results(
        query="le",
        hits=(),
        total=10**6,
        total_passages=10**6,
        page=1,
        limit=10,
        group="article",
        sort="relevance",
        took_ms=1.0,
    )
    assert many.pages == SearchRequest.MAX_PAGE
    assert replace(many, total=95).pages == 10
    assert replace(many, total=0).pages == 1
