"""The French analyzer chain, pinned case by case: input text -> tokens."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.analysis import (
    ElisionFilter,
    FrenchTokenizer,
    LigatureFilter,
    OrdinalFilter,
    Token,
    WordChain,
    analysis_steps,
    exact_analyzer,
    exact_terms,
    glued_parts,
    query_terms,
    spelling_analyzer,
    text_analyzer,
    word_forms,
)


def index_terms(text: str) -> list[str]:
    return [t.text for t in text_analyzer()(text, mode="index")]


# (text, terms the index makes of it). Where a word has accents, the index also holds the
# stem of its unaccented spelling at the same position, so that queries typed without
# accents match (see FrenchStemFilter).
INDEX_CASES = [
    # elisions, with both apostrophes
    ("L’État", ["etat"]),
    ("l'État", ["etat"]),
    ("d'urgence", ["urgenc"]),
    ("d’urgence", ["urgenc"]),
    ("l’immigration", ["immigr"]),
    ("jusqu'à Paris", ["paris"]),
    ("lorsqu'il pleut", ["pleut"]),
    ("puisqu’elle", []),
    ("quoiqu'on dise", ["dis"]),
    ("qu'il", []),
    ("c'est", []),
    ("n'importe", ["import"]),
    ("s’est-il réjoui", ["rejou"]),
    # words whose apostrophe belongs to them
    ("aujourd'hui", ["aujourd'hui"]),
    ("aujourd’hui", ["aujourd'hui"]),
    ("quelqu'un", ["quelqu'un"]),
    ("prud'hommes", ["prud'homm"]),
    ("rock'n'roll", ["rock'n'roll"]),
    # acronyms
    ("D.G.S.N.", ["DGSN", "dgsn"]),
    ("DGSN", ["DGSN", "dgsn"]),
    ("dgsn", ["dgsn"]),
    ("U.S.A", ["USA", "usa"]),
    ("la (DGST)", ["DGST", "dgst"]),
    # ligatures
    ("œuvre", ["oeuvr"]),
    ("oeuvre", ["oeuvr"]),
    ("Œdipe", ["oedip"]),
    ("ex æquo", ["ex", "aequo"]),
    # accents: folded after stemming, and the unaccented stem beside it
    ("élections", ["elect"]),  # both spellings stem alike: one term
    ("election", ["elect"]),
    ("sécurité", ["secur", "securit"]),
    ("securite", ["securit"]),
    ("SÉCURITÉ", ["secur", "securit"]),
    ("frontières", ["fronti", "frontier"]),
    ("frontieres", ["frontier"]),
    ("hôpital", ["hopital"]),
    ("naïve", ["naiv"]),
    ("Noël", ["noel"]),
    ("garçon", ["garcon"]),
    ("e\u0301le\u0300ve", ["elev"]),  # decomposed accents are composed (NFC) first
    # hyphens split
    ("États-Unis", ["etat", "unis"]),
    ("Al-Khalifi", ["al", "khalif"]),
    # a number glued to letters is one word (a query finds it spaced too: querying.py)
    ("covid19", ["covid19"]),
    ("H1N1", ["h1n1"]),
    ("M6", ["m6"]),
    ("1ER MAI", ["1er", "MAI", "mai"]),  # « MAI » in capitals: an acronym's term too
    # numbers, dates, spaces
    ("10\u00a0000 euros", ["10000", "euro"]),  # one number, NBSP or not
    ("20\u202f%", ["20", "pourcent"]),  # a sign is its word, as 20 € is 20 euros
    ("1er mai 2024", ["1er", "mai", "2024"]),
    ("Coupe du monde de 2022", ["coup", "mond", "2022"]),
    # punctuation: guillemets, question marks, exclamation
    ("« Coupe du monde »", ["coup", "mond"]),
    ("Vraiment ?", ["vrai"]),
    ("Qui est Abdellatif Hammouchi ?", ["abdel", "hammouch"]),
    ("Enfin !", ["enfin"]),
    # stop words, French only (English words are words)
    ("le la les de des du", []),
    ("étés étée étant", []),
    ("l'été 2024", ["ete", "2024"]),  # the summer, as often as « a été »
    ("a été", ["ete"]),
    ("the", ["the"]),
    # stem exclusions: France is not the franc, a parti is not a partie
    ("France", ["france"]),
    ("franc", ["franc"]),
    ("parti", ["parti"]),
    ("partie", ["part"]),
    # place names Snowball would cut like verbs: Tanger is not Tang, Niger not "nig"
    ("Tanger", ["tanger"]),
    ("Tang", ["tang"]),
    ("Niger", ["niger"]),
    ("nigériennes", ["niger"]),
    # names Snowball meets with common words: Gaza is not the gaz, James not jamais
    ("Gaza", ["gaza"]),
    ("gaz", ["gaz"]),
    ("James", ["james"]),
    ("jamais", ["jam"]),
    ("Seine", ["seine"]),
    ("au sein", ["sein"]),
    ("Anne", ["anne"]),
    ("années", ["annee"]),
    ("annees", ["annee"]),
    ("Marie", ["marie"]),
    ("mars", ["mars"]),
    ("Louis", ["louis"]),
    ("Louise", ["louis"]),
    ("louer", ["lou"]),
    ("Valls", ["valls"]),
    ("vallée", ["vall", "valle"]),
    ("mariée", ["mari"]),  # unaccented it would stem as the name Marie: not added
    # the feminine of who does in -trice meets its masculine in -teur
    ("directrice", ["directeur"]),
    ("ambassadrices", ["ambassadeur"]),
    ("autrice", ["auteur"]),
    ("auteurs", ["auteur"]),
    ("Électrices", ["electeur"]),
    ("matrice", ["matric"]),  # no agent
    ("Patrice", ["patric"]),
    ("impératrice", ["empereur"]),
    ("ST", ["ST", "st"]),  # STMicroelectronics: no saint
    ("cicatrices", ["cicatric"]),
    # a saint's abbreviation spelled out
    ("St-Denis", ["saint", "denis"]),
    ("Ste-Foy", ["saint", "foy"]),
    # Spanish surnames in -ez are not a verb's ending: Pérez is not « père »
    ("Pérez", ["perez"]),
    ("Perez", ["perez"]),
    ("père", ["per"]),
    ("Martinez", ["martinez"]),
    ("Martin", ["martin"]),
    ("Martinique", ["martinique"]),
    ("Gómez Lopez", ["gomez", "lopez"]),
    ("mangez", ["mang"]),
    # « avions » are planes; the maïs is not « mais »
    ("avions", ["avion"]),
    ("maïs", ["mais"]),
    ("mais", []),
    # inflections meet
    ("terroristes", ["terror"]),
    ("terrorisme", ["terror"]),
    # elided dotted acronyms
    ("l'O.N.U.", ["ONU", "onu"]),
    ("l’O.T.A.N.", ["OTAN", "otan"]),
    ("d'E.D.F.", ["EDF", "edf"]),
    # short or vowelless words are acronyms, kept whole: OMS is not OM, CRS not CR
    ("OMS", ["OMS", "oms"]),
    ("OM", ["OM", "om"]),
    ("CRS", ["CRS", "crs"]),
    ("CNRS", ["CNRS", "cnrs"]),
    ("PS", ["PS", "ps"]),
    # ... while other short words meet their plurals
    ("rue", ["ru"]),
    ("rues", ["ru"]),
    ("vie", ["vi"]),
    ("vies", ["vi"]),
    ("ans", ["an"]),
    ("an", ["an"]),
    # countries that Snowball cuts into other words: Mali is not mal, Amérique not amer,
    # Algérie not Alger (the city)
    ("Mali", ["mali"]),
    ("maliens", ["mali"]),
    ("mal", ["mal"]),
    ("Amérique", ["amerique"]),
    ("Amériques", ["amerique"]),
    ("américaines", ["amerique"]),
    ("amère", ["amer"]),
    ("Alger", ["alger"]),
    ("Algérie", ["algerie"]),
    ("algeriens", ["algerie"]),
    # invisible characters inside a word: a soft hyphen, a zero-width space
    ("gouver\u00adnement", ["gouvern"]),
    ("parle\u200bment", ["parl"]),
    ("aujourd\u200b'hui", ["aujourd'hui"]),
    ("l\u200b'État", ["etat"]),
    # compatibility forms: ligatures, superscripts, full-width letters
    ("ﬁnance", ["financ"]),
    ("ﬂeuve", ["fleuv"]),
    ("Ｐａｒｉｓ", ["paris"]),
    # ordinals, however written
    ("2ème tour", ["2e", "tour"]),
    ("2eme", ["2e"]),
    ("2ᵉ", ["2e"]),
    ("XXIème siècle", ["XXIe", "xxi", "siecl"]),
    ("XXIᵉ", ["XXIe", "xxi"]),
    ("1ère", ["1er"]),
    ("1ʳᵉ", ["1er"]),
    # numbers as French writes them: thousands in groups of three, a decimal comma
    ("10 000 manifestants", ["10000", "manifest"]),
    ("10\u202f000", ["10000"]),
    ("1 500 000 euros", ["1500000", "euro"]),
    ("1,5 million", ["1,5", "million"]),
    ("3 200,75", ["3200,75"]),
    ("en 2019, 300 000 morts", ["2019", "300000", "mort"]),
    ("en 2019 200 morts", ["2019", "200", "mort"]),  # a year is no group of three
    ("en 2019 2,5 millions", ["2019", "2,5", "million"]),  # a decimal after a number
    ("de 2017 21,30 %", ["2017", "21,30", "pourcent"]),
    ("1,5 2", ["1,5", "2"]),
    ("perdu 1,5, soit", ["perdu", "1,5"]),
    ("en 2019 1.500 euros", ["2019", "1", "500", "euro"]),  # a point after a number: not 1,5
    ("iPhone 15 1 229,99 euros", ["iphon", "15", "1", "229", "99", "euro"]),  # no « 229,99 »
    ("3,5 3,7", ["3,5", "3,7"]),
    ("1,2,3", ["1", "2", "3"]),
    ("01 23 45 67 89", ["01", "23", "45", "67", "89"]),
    ("10 0000", ["10", "0000"]),
    ("10.000 euros", ["10000", "euro"]),
    ("1.500.000", ["1500000"]),
    ("1.5 million", ["1,5", "million"]),
    ("12.05.2020", ["12", "05", "2020"]),
    ("192.168.1.1", ["192", "168", "1", "1"]),
    ("1 000 000 000 000", ["1000000000000"]),  # up to a trillion
    ("1 000 000 000 000 000", ["1", "000", "000", "000", "000", "000"]),  # listed
    ("１０ ０００", ["10000"]),  # full-width digits
    ("AUJOURD'HUI", ["aujourd'hui"]),  # its apostrophe is no elision: no « HUI »
    ("CIA's", ["CIA", "ci"]),
    # a currency sign is its word; a name's English possessive is the name
    ("20 €", ["20", "euro"]),
    ("20€", ["20", "euro"]),
    ("5%", ["5", "pourcent"]),
    ("20 euros", ["20", "euro"]),
    ("30$", ["30", "dollar"]),
    ("Trump's", ["trump"]),
    # a plural's s after a vowel, and jeux's x: singular and plural meet
    ("la loi, les lois", ["loi", "loi"]),
    ("élu élus élue", ["elu", "elu", "elu"]),
    ("photos vidéo", ["photo", "video"]),
    ("jeux jeu", ["jeu", "jeu"]),
    ("amis ami", ["ami", "ami"]),
    ("cris crise", ["cri", "cris"]),
    ("refus refuser", ["refus", "refus"]),  # … the word's own s kept
    ("mauvais mauvaise", ["mauvais", "mauvais"]),
    ("pris prise prier", ["pris", "pris", "pri"]),
    ("fois foi", ["fois", "foi"]),
    ("Paris pari", ["paris", "pari"]),
    ("McDonald’s", ["mcdonald"]),
    # an acronym or a Roman ordinal in capitals has a term of its own besides its stem
    ("la CIA", ["CIA", "ci"]),
    ("l'ONU", ["ONU", "onu"]),
    ("Cia", ["ci"]),
    ("XVIIIe siècle", ["XVIIIe", "xvii", "siecl"]),
    ("VIe République", ["VIe", "vi", "republ"]),
    ("Vie chère", ["vi", "cher"]),
    ("SANTÉ", ["SANTE", "sant"]),
    ("PRÉSIDENT", ["president"]),  # six letters: a word in capitals, not an acronym
]


@pytest.mark.parametrize(("text", "expected"), INDEX_CASES)
def test_index_chain(text, expected):
    assert index_terms(text) == expected


def test_at_least_forty_cases():
    assert len(INDEX_CASES) >= 40


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sécurité", ["secur"]),  # a query makes only the stem of what was typed
        ("securite", ["securit"]),  # ... which the index holds for "sécurité" too
        ("frontières", ["fronti"]),
        ("frontieres", ["frontier"]),
        ("L'immigration", ["immigr"]),
        ("Qui est-ce ?", []),
        ("10\u00a0000", ["10000"]),
        ("CIA", ["CIA"]),  # an acronym typed in capitals: itself, not « ci »
        ("XVIIIe", ["XVIIIe"]),
        ("xviiie", ["xvii"]),
    ],
)
def test_query_chain(text, expected):
    assert query_terms(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Coupe du monde", ["coupe", "du", "monde"]),  # phrases keep stop words
        ("l’État", ["etat"]),
        ("Élections", ["elections"]),  # no stemming
        ("D.G.S.N.", ["dgsn"]),
        ("œuvre", ["oeuvre"]),
    ],
)
def test_exact_chain(text, expected):
    assert exact_terms(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Le maïs est sûr, mais sur la table", ["maïs", "sûr", "table"]),
        ("Les 10 000 élus du G7", ["élus"]),  # no numbers, no short words
        ("L'État d'urgence", ["état", "urgence"]),
        # a two-word compound whole too, after the words: a query's « weekend » finds it
        ("Ce week-end, un e‑mail", ["week", "end", "mail", "week-end", "e-mail"]),
        ("l'après-midi", ["après", "midi", "apres-midi"]),  # accents folded: typed or not
        ("Seine-Saint-Denis", ["seine", "saint", "denis"]),  # no part of a longer one
        ("Que dit-il ? Est-elle partie ?", ["dit", "partie"]),  # a verb and its pronoun
        ("Côte-d'Ivoire", ["côte", "ivoire"]),  # no « côte-d »
        ("ﬁn-ﬁnale", ["fin", "finale", "fin-finale"]),
    ],
)
def test_spelling_chain_keeps_the_words_worth_suggesting(text, expected):
    assert [t.text for t in spelling_analyzer()(text)] == expected


@pytest.mark.parametrize(
    ("word", "forms"),
    [
        ("paroles", ("paroles", "parole")),
        ("coreens", ("coreens", "coreen", "coreenne", "coreennes")),
        ("coreenne", ("coreenne", "coreen", "coreennes", "coreens")),
        ("allemand", ("allemand", "allemande", "allemandes", "allemands")),
        ("allemande", ("allemande", "allemandes")),  # a bare -e may not be a feminine
        ("meres", ("meres", "mere")),  # mères is not mer
        ("officielles", ("officielles", "officiel", "officielle", "officiels")),
        ("sud", ("sud",)),  # short
        ("g7", ("g7",)),
        ("chevaux", ("chevaux",)),  # chevals is no form
        ("chefs", ("chefs", "chef")),  # no feminine of chef
        ("armee", ("armee", "armees")),  # armée is not arme
        ("bureaux", ("bureaux", "bureau", "bureaue", "bureaues")),
    ],
)
def test_word_forms(word, forms):
    assert word_forms(word) == forms


def test_a_name_s_part_keeps_its_gender():
    assert word_forms("martin", gender=False) == ("martin", "martins")


def test_every_unaccented_query_meets_its_accented_word():
    for accented, plain in [
        ("sécurité", "securite"),
        ("frontières", "frontieres"),
        ("élection", "election"),
        ("intérêt", "interet"),
        ("événements", "evenements"),
    ]:
        assert set(query_terms(plain)) <= set(index_terms(accented)), (accented, plain)
        assert set(query_terms(accented)) <= set(index_terms(accented)), accented


def test_offsets_point_at_the_word_without_its_elision():
    text = "Selon l’État, le D.G.S.N. agit."
    tokens = [
        (t.text, text[t.startchar : t.endchar])
        for t in text_analyzer()(text, chars=True, positions=True, mode="index")
    ]
    assert tokens == [
        ("selon", "Selon"),
        ("etat", "État"),
        ("DGSN", "D.G.S.N."),
        ("dgsn", "D.G.S.N."),
        ("agit", "agit"),
    ]


def test_positions_survive_stop_words():
    positions = [t.pos for t in text_analyzer()("le rôle du Maroc", positions=True, mode="index")]
    assert positions == [1, 3]


def test_steps_show_each_filter():
    steps = dict(analysis_steps("L’État d’urgence"))
    assert steps["FrenchTokenizer"] == ["L'État", "d'urgence"]
    assert steps["ElisionFilter"] == ["état", "urgence"]
    assert steps["AccentFoldFilter"] == ["etat", "urgenc"]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("2ème", "2e"),
        ("2eme", "2e"),
        ("2è", "2e"),
        ("2e", "2e"),
        ("xxième", "xxie"),
        ("xxie", "xxie"),
        ("1ère", "1er"),  # première and premier meet, as députée and député
        ("1ere", "1er"),
        ("1re", "1er"),
        ("1er", "1er"),
        ("2nd", "2e"),
        ("2nde", "2e"),
        ("3nd", "3nd"),
        ("vie", "vie"),  # a word that looks like a Roman numeral and an e is left as it is
        ("même", "même"),
        ("2024", "2024"),
    ],
)
def test_ordinal_filter(word, expected):
    assert [t.text for t in OrdinalFilter()([Token(word)])] == [expected]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("g20", ["g", "20"]),
        ("covid19", ["covid", "19"]),
        ("14h30", ["14", "h", "30"]),
        ("21e", None),  # an ordinal is one word
        ("1res", None),
        ("2ndes", None),
        ("paris", None),
        ("2024", None),
    ],
)
def test_glued_parts(word, expected):
    assert glued_parts(word) == expected


def test_filters_compose_as_a_chain():
    chain = FrenchTokenizer() | ElisionFilter() | LigatureFilter()
    assert [t.text for t in chain("l'œil")] == ["oeil"]


CHAINS = {"text": text_analyzer, "exact": exact_analyzer, "spell": spelling_analyzer}


@pytest.mark.parametrize("chain", sorted(CHAINS))
@pytest.mark.parametrize("text", [text for text, _ in INDEX_CASES])
def test_word_chain_makes_the_chains_terms(chain, text):
    """A chain applied word by word, as a build does, gives its terms and positions."""
    analyzer = CHAINS[chain]()
    expected = [(t.pos, t.text) for t in analyzer(text, positions=True, mode="index")]
    assert WordChain(analyzer).terms(text) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("aéeÉ’'.- œDGSN\u0301\u00a0?«»lqu1ﬁＥ\u2010"), max_size=60))
def test_word_chain_agrees_with_the_chain_on_any_text(text):
    for make in CHAINS.values():
        analyzer = make()
        expected = [(t.pos, t.text) for t in analyzer(text, positions=True, mode="index")]
        assert WordChain(analyzer).terms(text) == expected
