"""French text analysis: the one chain used to index, to query and to highlight.

Each step is a small filter (a generator over tokens), composed with ``|`` after a tokenizer,
so that the chains below read as what they do, one step per line (whoosh's own design, on
Veille's small classes: the library above the backends knows no search engine). Tokens keep
their position and character offsets into the original text, which the highlighter relies on.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache

import snowballstemmer

# Bump when a change to the chain changes the terms it makes: an index records the version
# it was built with, and an index from another version must be rebuilt.
ANALYZER_VERSION = 18

# Every apostrophe-like character French text uses, and the spaces that are not U+0020.
_APOSTROPHES = "\u2019\u02bc\u2018\u00b4`\u2032\uff07"
_SPACES = "\u00a0\u202f\u2007\u2009\u200a\u2002\u2003"
_CHAR_MAP = str.maketrans(
    {**{c: "'" for c in _APOSTROPHES}, **{c: " " for c in _SPACES}, "\x00": " "}
)

_LETTER = r"[^\W\d_]"
# Invisible in a word, and no break in it: a soft hyphen (gouver\u00adnement), zero-width
# spaces and joiners, a word joiner.
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_IN_WORD = rf"[\w\u0300-\u036f{_INVISIBLE}]"
# A number as French writes it, its thousands in groups of three (« 10 000 », « 1 500 000 »,
# NBSP or not, « 10.000 ») and maybe a decimal comma (« 1,5 », « 3 200,75 »): one word.
# Up to a trillion: longer runs of groups are numbers listed, not one number.
_NUMBER = (
    # Thousands in groups of three (10 000, 1.500.000), maybe with decimals: not the tail
    # of a longer run of groups (a list of numbers), nor its head.
    r"(?<![\w,.])(?<!\d[ .])\d{1,3}(?:[ .]\d{3}){1,4}(?:,\d+)?(?![\w,]|[ .]?\d)"
    # A decimal comma (1,5), after another number too (« en 2019 2,5 millions ») unless
    # three digits before the comma may be the last group of a number there (« 15 1 229,99 »),
    # not in a list (1,2,3); a decimal point (1.5) as before, not after a number
    # (« 2019 1.500 » writes thousands) nor in a dotted run (12.05.2020, 192.168.1.1).
    r"|(?<![\w,.])(?:(?<!\d[ .])|(?!\d{3},))\d+,\d+(?!\w|[,.]\d)"
    r"|(?<![\w,.])(?<!\d[ .])\d+\.\d+(?![\w,]|[ .]?\d)"
)
_THOUSANDS = re.compile(r"\d{1,3}(?:[ .]\d{3})+(?:,\d+)?")
# A currency or percent sign is its word: 20 € is 20 euros, 5 % is 5 pourcent.
_CURRENCIES = {"€": "euros", "$": "dollars", "%": "pourcent"}
SIGN_WORDS = frozenset(_CURRENCIES.values())
_TOKEN_PATTERN = re.compile(
    rf"(?P<number>{_NUMBER})"
    rf"|(?P<currency>[{''.join(_CURRENCIES)}])"
    # A dotted acronym (D.G.S.N., U.S.A), single letters joined by dots, maybe elided
    # (l'O.N.U.).
    rf"|(?P<acronym>(?<!\w)(?:\w+')?{_LETTER}(?:\.{_LETTER})+\.?(?![\w\u0300-\u036f]))"
    # A word: letters and digits, combining accents, inner apostrophes (l'État, aujourd'hui).
    # Hyphens are not part of a word: "États-Unis" is two tokens.
    # Invisible characters inside a word belong to it, never at its ends.
    rf"|(?P<word>[\w\u0300-\u036f]{_IN_WORD}*(?<![{_INVISIBLE}])"
    rf"(?:[{_INVISIBLE}]*'{_IN_WORD}+(?<![{_INVISIBLE}]))*)"
)
_INVISIBLE_MAP = str.maketrans(dict.fromkeys(_INVISIBLE))

# The same pattern without its groups, so that findall returns the text of each match.
_MATCHES = re.compile(re.sub(r"\(\?P<\w+>", "(?:", _TOKEN_PATTERN.pattern))

_COMBINING = frozenset(chr(c) for c in range(0x300, 0x370))
_HAS_BASE_CHARACTER = re.compile(r"\w")


class Token:
    """One word of a text as the chain carries it: its text, position and character offsets."""

    __slots__ = (
        "boost",
        "endchar",
        "kept",
        "mode",
        "pos",
        "removestops",
        "startchar",
        "stopped",
        "text",
        "written",
    )

    def __init__(
        self, text: str = "", pos: int = 0, mode: str = "", removestops: bool = True
    ) -> None:
        self.text = text
        self.written = text  # as the text writes it, case and elision kept
        self.kept = False  # a term to keep as it is (no stemming)
        self.pos = pos
        self.startchar = 0
        self.endchar = 0
        self.boost = 1.0
        self.stopped = False
        self.mode = mode
        self.removestops = removestops


class Filter:
    """A step of a chain: a generator over tokens. ``tokenizer | filter`` makes a Chain."""

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return self.__class__ is other.__class__ and vars_of(self) == vars_of(other)

    def __hash__(self) -> int:
        return hash(self.__class__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def vars_of(step: object) -> dict:
    """A step's settings, for comparing two chains."""
    return dict(getattr(step, "__dict__", {}))


class Chain:
    """A tokenizer followed by filters: text in, tokens out."""

    def __init__(self, items: tuple) -> None:
        self.items = items

    def __or__(self, step: Filter) -> Chain:
        return Chain((*self.items, step))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Chain) and self.items == other.items

    def __hash__(self) -> int:
        return hash(self.items)

    def __repr__(self) -> str:
        return " | ".join(repr(step) for step in self.items)

    def __call__(
        self, text: str, mode: str = "", removestops: bool = True, **_: object
    ) -> Iterator[Token]:
        """The tokens of ``text``; ``mode="index"`` for indexing, ``"query"`` for a query."""
        tokenizer, *filters = self.items
        tokens = tokenizer(text, mode=mode, removestops=removestops)
        for step in filters:
            tokens = step(tokens)
        return tokens


class LowercaseFilter(Filter):
    """Lowercase every word: État -> état."""

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            t.text = t.text.lower()
            yield t


def drop_invisible(text: str) -> str:
    """Remove the characters invisible in a word (a soft hyphen, a zero-width space…),
    which the tokenizer reads as no break: gouver\u00adnement is gouvernement."""
    return text.translate(_INVISIBLE_MAP)


def normalize_chars(text: str) -> str:
    """Unify apostrophes and odd spaces, one character for one (offsets stay valid)."""
    return text.translate(_CHAR_MAP)


class FrenchTokenizer:
    """Split French text into words, keeping positions and character offsets.

    Apostrophes are unified first; hyphens split words; dotted acronyms are joined
    (D.G.S.N. -> DGSN); each token is put in Unicode NFC.
    """

    def __eq__(self, other: object) -> bool:
        return self.__class__ is other.__class__

    def __hash__(self) -> int:
        return hash(self.__class__)

    def __repr__(self) -> str:
        return "FrenchTokenizer()"

    def __or__(self, step: Filter) -> Chain:
        return Chain((self, step))

    def __call__(self, value: str, mode: str = "", removestops: bool = True) -> Iterator[Token]:
        for pos, start, end, word in words(value):
            token = Token(word, pos, mode, removestops)
            token.startchar = start
            token.endchar = end
            yield token

    def extra_matches(self, text: str) -> list[str]:
        """What this tokenizer reads in ``text`` besides ``word_matches``: nothing."""
        return []


# Two words joined by a hyphen (week-end, e-mail, start-up), which others write as one
# (weekend, email, startup); not a part of a longer compound (Seine-Saint-Denis).
_HYPHENS = "\u2010\u2011-"
_HYPHENATED = re.compile(
    # not after a compound's hyphen; after a query's minus sign (-week-end), yes
    rf"(?<![\w\u0300-\u036f])(?<![\w\u0300-\u036f][{_HYPHENS}])[^\W\d_]+[{_HYPHENS}][^\W\d_]+"
    rf"(?![\w\u0300-\u036f']|[{_HYPHENS}]\w)"  # not Côte-d'Ivoire's « côte-d »
)
_ONE_HYPHEN = str.maketrans("\u2010\u2011", "--")
# What follows a verb in an inverted question or an imperative (tombe-t-il, est-elle,
# vas-y, celui-ci): no compound (« est-elle » is not « Estelle »).
INVERSION_WORDS = frozenset(
    "t il ils elle elles on je tu nous vous ce ci là la le les moi toi lui leur y en".split()
)


def hyphenated_words(text: str) -> list[str]:
    """The two-word compounds of a text as written, one hyphen each: « week-end »; not a
    verb and its pronoun (« dit-il »)."""
    # NFKC, as the tokenizer spells each word (the ligature ﬁ is fi)
    text = unicodedata.normalize("NFKC", drop_invisible(normalize_chars(text)))
    found = (m.translate(_ONE_HYPHEN) for m in _HYPHENATED.findall(text))
    return [m for m in found if m.rpartition("-")[2].lower() not in INVERSION_WORDS]


class SpellingTokenizer(FrenchTokenizer):
    """The tokenizer's words, then each two-word compound whole (week-end): the vocabulary
    a query's « weekend » is looked up in, to find the « week-end » of the texts too."""

    def __repr__(self) -> str:
        return "SpellingTokenizer()"

    def __call__(self, value: str, mode: str = "", removestops: bool = True) -> Iterator[Token]:
        yield from super().__call__(value, mode, removestops)
        start = len(word_matches(value))  # positions as WordChain.terms counts them
        for n, word in enumerate(self.extra_matches(value)):
            yield Token(word, start + n, mode, removestops)

    def extra_matches(self, text: str) -> list[str]:
        """The text's two-word compounds (week-end), after its words, accents folded: a
        query's word is looked up as typed with accents or without."""
        return [fold_accents(word) for word in hyphenated_words(text)]


_NUMBER_PATTERN = re.compile(_NUMBER)


_CURRENCY_WORDS = str.maketrans({sign: f" {word} " for sign, word in _CURRENCIES.items()})


def spell_numbers(text: str) -> str:
    """The text with its numbers and currency signs as the index reads them (« 10 000 € »
    is « 10000 euros »), for code that splits a text's words itself."""
    spelled = _NUMBER_PATTERN.sub(
        lambda m: _spelled_number(unicodedata.normalize("NFKC", m[0])), normalize_chars(text)
    )
    return spelled.translate(_CURRENCY_WORDS)


def join_numbers(text: str) -> str:
    """Write a number's groups of three together, as the tokenizer reads them: a query's
    « 10 000 » is one word, 10000."""
    return _NUMBER_PATTERN.sub(lambda m: m[0].replace(" ", ""), text)


def words(text: str) -> Iterator[tuple[int, int, int, str]]:
    """The tokenizer's words as (position, start, end, word), the word in NFC."""
    for pos, match in enumerate(_TOKEN_PATTERN.finditer(normalize_chars(text))):
        word = _clean_word(match.group(0))
        if word is not None:
            yield pos, match.start(), match.end(), word


def word_matches(text: str) -> list[str]:
    """The tokenizer's raw matches in a text, one a position (see WordChain)."""
    return _MATCHES.findall(normalize_chars(text))


def _clean_word(matched: str) -> str | None:
    """The word a match of _TOKEN_PATTERN makes (None for no word); it takes a position.

    Compatibility forms are spelled out (NFKC): the ligature ﬁ is fi, XXIᵉ is XXIe, a
    full-width Ｐ is P.
    """
    if len(matched) == 1 and matched in _CURRENCIES:
        return _CURRENCIES[matched]
    if matched.isascii():
        if " " in matched or ("." in matched and matched[0].isdigit()):
            return _spelled_number(matched)
        return matched.replace(".", "") if "." in matched else matched
    if matched[0].isdigit() and (" " in matched or "." in matched):  # １０ ０００, ١٫٥…
        return _spelled_number(unicodedata.normalize("NFKC", matched))
    if "." in matched:  # only an acronym has dots
        matched = matched.replace(".", "")
    matched = matched.translate(_INVISIBLE_MAP)
    if not matched or (matched[0] in _COMBINING and not _HAS_BASE_CHARACTER.search(matched)):
        return None  # stray accents with no letter under them are not a word
    return unicodedata.normalize("NFKC", matched)


def _spelled_number(matched: str) -> str:
    """A number one way: « 10 000 » and « 10.000 » are 10000, « 1.5 » is 1,5."""
    if _THOUSANDS.fullmatch(matched):
        return matched.replace(" ", "").replace(".", "")
    return matched.replace(".", ",")


# Lucene's French elision articles, with the longer conjunctions news text uses.
ELISIONS = frozenset("l d j m n s t c qu jusqu lorsqu puisqu quoiqu presqu quelqu".split())
# Words whose apostrophe is part of the word, not an elision.
WHOLE_WORDS = frozenset(
    """aujourd'hui prud'homme prud'hommes prud'homal prud'homale prud'hommal prud'hommale
    presqu'île presqu'îles presqu'ile presqu'iles quelqu'un quelqu'une quelqu'uns
    quelqu'unes entr'ouvert entr'ouverte""".split()
)


class ElisionFilter(Filter):
    """Strip French elided articles: l'État -> état, jusqu'à -> à, qu'il -> il; and the
    English possessive of a name: Trump's -> trump, McDonald's -> mcdonald."""

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            while "'" in t.text and t.text not in WHOLE_WORDS:
                prefix, _, rest = t.text.partition("'")
                if prefix not in ELISIONS:
                    break
                t.text = rest
                if hasattr(t, "startchar"):
                    t.startchar += len(prefix) + 1
            if t.text.endswith("'s") and len(t.text) > 3:
                t.text = t.text[:-2]
                if hasattr(t, "endchar"):
                    t.endchar -= 2
            yield t


_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "Œ": "OE", "Æ": "AE"})


class LigatureFilter(Filter):
    """Spell out the ligatures: œuvre -> oeuvre, ex æquo -> ex aequo."""

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            if not t.text.isascii():  # most words are: skip them cheaply
                t.text = t.text.translate(_LIGATURES)
            yield t


@lru_cache(maxsize=100_000)
def fold_accents(word: str) -> str:
    """Remove diacritics: é -> e, ç -> c, ï -> i."""
    decomposed = unicodedata.normalize("NFD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


# Ordinals written the long way, the short way or in superscript (the tokenizer spells ᵉ as
# e): 2ème, 2eme, 2e and 2ᵉ are one word; so are XXIème and XXIe; 1ère and 1re.
_ORDINAL = re.compile(r"(\d+|[ivxlc]+)(?:ème|eme|è|e)|(1)(?:ère|ere|re|er)|(2)(?:nde|nd)")
_ORDINAL_FIRST = frozenset("0123456789ivxlc")


class OrdinalFilter(Filter):
    """Spell ordinals one way: 2ème, 2nd, 2nde -> 2e; XXIème -> xxie; 1ère, 1re -> 1er."""

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            if t.text[:1] in _ORDINAL_FIRST and (match := _ORDINAL.fullmatch(t.text)):
                t.text = f"{match[1]}e" if match[1] else "1er" if match[2] else "2e"
            yield t


_GLUED = re.compile(r"\d+|[^\W\d_]+")


def glued_parts(word: str) -> list[str] | None:
    """A word's letters and digits apart, where they are glued (g20: g, 20; covid19:
    covid, 19; 14h30: 14, h, 30), or None: letters or digits alone, an ordinal (21e,
    1res)."""
    parts = _GLUED.findall(word)
    if len(parts) < 2 or "".join(parts) != word or _ORDINAL.fullmatch(word.removesuffix("s")):
        return None
    return parts


# Abbreviations of a saint's name (St-Denis, Ste-Foy), as the name is spelled out.
_ABBREVIATIONS = {"st": "saint", "ste": "sainte", "sts": "saints", "stes": "saintes"}


class AbbreviationFilter(Filter):
    """Spell out a saint's abbreviation, written so (St-Denis -> saint denis, Ste-Foy ->
    sainte foy); « ST » (STMicroelectronics) is no saint."""

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            if t.text in _ABBREVIATIONS and t.written[:1] == "S" and t.written[1:2] == "t":
                t.text = _ABBREVIATIONS[t.text]
            yield t


_ROMAN = frozenset("IVXLC")


def capital_term(written: str) -> str | None:
    """The term of a word written in capitals, kept apart from the words it stems like:
    an acronym of 2 to 5 letters (CIA is not « ci », CAF not « café », JO not « Joe »), a
    Roman ordinal (XVIIIe is not XVIIe, VIe not « vie »); None for any other word.

    >>> capital_term("CIA"), capital_term("l'ONU"), capital_term("XVIIIème"), capital_term("Cia")
    ('CIA', 'ONU', 'XVIIIe', None)
    """
    if not written[:1].isupper() and "'" not in written:
        return None
    word = written[:-2] if written[-2:] in ("'s", "'S") else written  # CIA's
    prefix, apostrophe, rest = word.rpartition("'")
    if apostrophe:
        if prefix.casefold() not in ELISIONS:  # AUJOURD'HUI is no « HUI »
            return None
        word = rest
    if word[:1] in _ROMAN and (match := _ORDINAL.fullmatch(word.lower())) and match[1]:
        roman = word[: len(match[1])]
        if roman.isupper() and set(roman) <= _ROMAN and len(roman) < len(word):
            return f"{roman}e"
    if 2 <= len(word) <= 5 and word.isalpha() and word.isupper():
        return fold_accents(word.translate(_LIGATURES).upper())
    return None


class CapitalsFilter(Filter):
    """Give an acronym or a Roman ordinal written in capitals a term of its own, besides
    its stem at index time; a query written so looks for that term alone."""

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            term = None if t.stopped else capital_term(t.written)
            if term is None:
                yield t
                continue
            word = t.text
            t.text, t.kept = term, True
            yield t
            if t.mode == "index":
                t.text, t.kept = word, False
                yield t


class AccentFoldFilter(Filter):
    """Fold accents, so that élection and election are one term."""

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            t.text = fold_accents(t.text)
            yield t


# Snowball's French stop list (pronouns, articles, prepositions, forms of être and avoir),
# compared accent-folded so that a query typed without accents drops the same words.
FRENCH_STOP_WORDS = frozenset(
    fold_accents(w)
    for w in """
    au aux avec ce ces dans de des du elle en et eux il ils je la le les leur lui ma mais me
    même mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur ta te
    tes toi ton tu un une vos votre vous c d j l à m n s t y étée étées étés étant étante
    étants étantes suis es est sommes êtes sont serai seras sera serons serez seront serais
    serait serions seriez seraient étais était étions étiez étaient fus fut fûmes fûtes
    furent sois soit soyons soyez soient fusse fusses fût fussions fussiez fussent ayant
    ayante ayantes ayants eu eue eues eus ai as avons avez ont aurai auras aura aurons aurez
    auront aurais aurait aurions auriez auraient avais avait aviez avaient eut eûmes
    eûtes eurent aie aies ait ayons ayez aient eusse eusses eût eussions eussiez eussent
    ceci cela celà cet cette ici ils les leurs quel quels quelle quelles sans soi
    """.split()
)
# Snowball's list less « avions », the planes of the news more often than « nous avions »,
# and « été », the summer as often as « a été » (`été 2024`, « les JO d'été »); and words
# whose accents set them apart from a stop word (the maïs is not « mais »).
_NOT_STOP_WORDS = frozenset({"maïs", "sûr", "dû"})


class FrenchStopFilter(Filter):
    """Drop French stop words; positions are kept, so phrases still line up."""

    def __init__(self, stoplist: frozenset[str] = FRENCH_STOP_WORDS) -> None:
        self.stoplist = stoplist

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            if t.text in _NOT_STOP_WORDS or fold_accents(t.text) not in self.stoplist:
                yield t
            elif not t.removestops:
                t.stopped = True
                yield t


# Where Snowball conflates words that mean different things in the news, the word keeps a
# stem of its own: France is not the franc, a political parti is not a partie; and place
# names ending like an infinitive keep their -er (Tanger is not Tang, Niger not "nig").
STEM_EXCLUSIONS = {
    "france": "france",
    "parti": "parti",
    "partis": "parti",
    "tanger": "tanger",
    "niger": "niger",
    # Snowball makes Mali "mal", Amérique "amer" (bitter) and Algérie Alger (the city).
    "mali": "mali",
    "amérique": "amerique",
    "amériques": "amerique",
    "algérie": "algerie",
    # kept whole as a short word ending in s (above), yet the plural of an
    "ans": "an",
    # Names of people and places the news writes often, each of which Snowball meets with
    # a common word (Gaza the gaz, James jamais, la Seine au sein de, Anne les années,
    # Marie mars); found by comparing, in the development corpus, the capitalized and the
    # lowercase words that share a stem.
    "gaza": "gaza",
    "james": "james",
    "seine": "seine",
    "année": "annee",
    "années": "annee",
    "marie": "marie",
    "mars": "mars",
    "mari": "mari",
    "maris": "mari",
    "maria": "maria",
    "louis": "louis",
    "peter": "peter",
    "denis": "denis",
    "dati": "dati",
    "francis": "francis",
    "berline": "berline",
    "berlines": "berline",
    "carrera": "carrera",
    "jura": "jura",
    "copé": "cope",
    "maine": "maine",
    "center": "center",
    "fabrice": "fabrice",
    "barbara": "barbara",
    "dominique": "dominique",
    "valls": "valls",  # not la vallée
    "vera": "vera",  # not vers
    "rémi": "remi",  # not remis
    "vendée": "vendee",  # not vendre
    "malaisie": "malaisie",  # not le malaise
    "santa": "santa",  # not la santé
    "senna": "senna",  # not le sens
    "maïs": "mais",  # not mai (« mais » is a stop word: the stem is the maïs's alone)
    # Snowball keeps the s of euros (the sign € is read « euros »): one word, as dollars.
    "euros": "euro",
    # Plurals in s after a, i or oi that Snowball keeps apart from their singular (the
    # commonest in the development corpus; see _PLURAL_AFTER_VOWEL below).
    "lois": "loi",
    "rois": "roi",
    "emplois": "emploi",
    "envois": "envoi",
    "convois": "convoi",
    "tournois": "tournoi",
    "essais": "essai",
    "quais": "quai",
    "vrais": "vrai",
    "amis": "ami",
    "ennemis": "ennemi",
    "défis": "defi",
    "abris": "abri",
    "soucis": "souci",
    "taxis": "taxi",
    "cris": "cri",  # not la crise
    "martinique": "martinique",  # not Martin, nor Martine
}
# Spanish surnames in -ez, whose ending Snowball cuts as a verb's (vous mangez): Pérez
# would be « père », Martínez « Martin », Gómez « gomme ». The commonest, each its own stem.
_SPANISH_SURNAMES_EZ = (
    "álvarez alvárez benítez bermúdez chávez cortez domínguez enríquez estévez fernández "
    "gómez gonzález gutiérrez hernández ibáñez jiménez juárez lópez márquez martínez méndez "
    "núñez pérez ramírez rodríguez sánchez suárez valdez vásquez vázquez velázquez vélez"
).split()
STEM_EXCLUSIONS.update({name: fold_accents(name) for name in _SPANISH_SURNAMES_EZ})
STEM_EXCLUSIONS.update({fold_accents(word): s for word, s in list(STEM_EXCLUSIONS.items())})

# Countries and their people: a query for Maroc also finds marocain, marocaines… (and the
# other way round). The countries most present in French news; the people's word is given
# in the masculine singular, its other forms are derived.
DEMONYMS = {
    "france": "français",
    "maroc": "marocain",
    "algérie": "algérien",
    "tunisie": "tunisien",
    "sénégal": "sénégalais",
    "mali": "malien",
    "niger": "nigérien",
    "égypte": "égyptien",
    "libye": "libyen",
    "liban": "libanais",
    "syrie": "syrien",
    "irak": "irakien",
    "iran": "iranien",
    "israël": "israélien",
    "palestine": "palestinien",
    "turquie": "turc",
    "qatar": "qatari",
    "allemagne": "allemand",
    "italie": "italien",
    "espagne": "espagnol",
    "portugal": "portugais",
    "belgique": "belge",
    "grèce": "grec",
    "pologne": "polonais",
    "ukraine": "ukrainien",
    "russie": "russe",
    "chine": "chinois",
    "japon": "japonais",
    "inde": "indien",
    "canada": "canadien",
    "mexique": "mexicain",
    "brésil": "brésilien",
    "amérique": "américain",
    "europe": "européen",
    "afrique": "africain",
    "afghanistan": "afghan",
}


_IRREGULAR_FEMININE = {"turc": "turque", "grec": "grecque"}


def _inflections(word: str) -> set[str]:
    """The masculine and feminine, singular and plural of a French adjective of people."""
    if word.endswith("en"):
        feminine = word + "ne"
    elif word in _IRREGULAR_FEMININE:
        feminine = _IRREGULAR_FEMININE[word]
    elif word.endswith("e"):
        feminine = word
    else:
        feminine = word + "e"
    forms = {word, feminine, feminine + "s"}
    forms.add(word if word.endswith(("s", "x")) else word + "s")
    return forms


def _demonym_stems() -> dict[str, str]:
    table = {}
    for country, people in DEMONYMS.items():
        country_stem = STEM_EXCLUSIONS.get(country) or _snowball(country)
        for form in _inflections(people):
            for spelling in (form, fold_accents(form)):
                table[spelling] = country_stem
    return table


_stemmer = snowballstemmer.stemmer("french")
# Snowball keeps a plural's s after a vowel (élus, photos) and the x of jeux: the stem
# drops it after o and u, so that a word's singular and plural meet. After a, i and oi
# the s is as often the word's own (mauvais, gris, chinois): the plurals there that
# matter are in STEM_EXCLUSIONS (lois, amis, essais). These stems keep their s: the
# word's own (le refus, refuser), or a name kept apart above (Louis, Louise).
_KEEPS_FINAL_S = frozenset(
    {"refus", "abus", "confus", "inclus", "diffus", "paus", *STEM_EXCLUSIONS.values()}
)
_PLURAL_AFTER_VOWEL = re.compile(r"(?<=[ou])s$|(?<=eu)x$")


def _snowball(word: str) -> str:
    stemmed = _stemmer.stemWord(word)
    if len(stemmed) > 3 and stemmed not in _KEEPS_FINAL_S:
        return _PLURAL_AFTER_VOWEL.sub("", stemmed)
    return stemmed


STEM_EXCLUSIONS.update(_demonym_stems())
# The stems the exclusions give names (Marie, Gaza…), which another word's unaccented
# spelling must not bring in.
_KEPT_APART = frozenset(STEM_EXCLUSIONS[w] for w in STEM_EXCLUSIONS if w == STEM_EXCLUSIONS[w])


_VOWEL = re.compile("[aeiouyàâäéèêëîïôöùûüÿ]")


@lru_cache(maxsize=500_000)
def stem(word: str) -> str:
    """Stem one lowercased French word with Snowball (the C stemmer through PyStemmer).

    A word without a vowel, or of three letters ending in s, is kept whole: it is an
    acronym more often than a plural (CRS is not CR, CNRS not CNR, OMS not OM); Lucene's
    French light stemmer keeps the s of such short words too. Other short words are
    stemmed (rue and rues meet).
    """
    if word in STEM_EXCLUSIONS:
        return STEM_EXCLUSIONS[word]
    if not _VOWEL.search(word) or (len(word) <= 3 and word.endswith("s")):
        return word
    return _snowball(_masculine_agent(word))


# Who does: the feminine in -trice meets its masculine in -teur (directrice, directeur;
# autrice, auteur), as députée meets député. Not words of their own in -trice.
_AGENT = re.compile(r"(?<=[a-zà-ÿ]{2})trice(s?)$")
_NOT_AGENTS = frozenset(
    "matrice cicatrice rectrice tractrice cantatrice patrice beatrice béatrice".split()
)
_IRREGULAR_AGENTS = {
    "ambassadrice": "ambassadeur",
    "impératrice": "empereur",
    "imperatrice": "empereur",
}


def _masculine_agent(word: str) -> str:
    if not word.endswith(("trice", "trices", "drice", "drices")):
        return word
    singular, plural = (word[:-1], "s") if word.endswith("s") else (word, "")
    if singular in _NOT_AGENTS:
        return word
    if singular in _IRREGULAR_AGENTS:
        return _IRREGULAR_AGENTS[singular] + plural
    return _AGENT.sub(r"teur\1", word)


def word_forms(word: str, gender: bool = True) -> tuple[str, ...]:
    """The word and its other forms that share its stem: singular and plural (-s, -x), and
    with ``gender`` the feminine of a masculine, or the masculine of a feminine in -enne,
    -onne or -elle.

    What a compound's part may be written as (porte-paroles, porte-parole; chefs-lieux,
    chef-lieu; sud-coréens, sud-coréenne). ``word`` is folded, as the exact field holds it.
    A feminine in a bare -e keeps its masculine out (mères is not mer, armée not arme); a
    name's part keeps its gender (Saint-Martin is not Sainte-Martine); a short word, or
    one with a digit, is only itself (sud, de, G7).
    """
    if len(word) <= 3 or not word.isalpha():
        return (word,)
    forms = set()
    for singular in {word, word[:-1]} if word[-1] in "sx" else {word}:
        bases = {singular}
        if gender and singular.endswith(("enne", "onne", "elle")):
            bases.add(singular[:-2])  # coréenne -> coréen
        for base in bases:
            forms.update((base, base + ("x" if base.endswith(("au", "eu")) else "s")))
            if gender and not base.endswith(("e", "s", "x", "f")):  # chef has no chefe
                feminine = base + (base[-1] if base.endswith(("en", "on", "el")) else "") + "e"
                forms.update((feminine, feminine + "s"))
    key = stem(word)
    others = sorted(f for f in forms - {word} if not f.endswith(("ss", "xs")) and stem(f) == key)
    return (word, *others)


def stems_of(words: Iterable[str]) -> list[str]:
    """The stems of folded words as the index holds them, each once, in order (a prefix's
    words in the text give the title stems it reaches: élect* -> elect)."""
    return list(dict.fromkeys(stem(w) for w in words))


class FrenchStemFilter(Filter):
    """Stem with Snowball French; at index time also add the stem of the unaccented word.

    Snowball stems a word typed without accents differently (sécurité -> sécur, but
    securite -> securit). Indexing both stems at the same position lets a query typed
    with or without accents match; a query itself only makes the one stem of what was
    typed, so nothing is counted twice.
    """

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            if t.stopped or t.kept:
                yield t
                continue
            word = t.text
            t.text = stem(word)
            yield t
            if t.mode == "index":
                plain = fold_accents(word)
                if plain != word:
                    plain_stem = stem(plain)
                    # « mariée » unaccented stems as Marie, a name kept apart: not that one.
                    kept_apart = plain_stem in _KEPT_APART and word not in STEM_EXCLUSIONS
                    if plain_stem != fold_accents(t.text) and not kept_apart:
                        t.text = plain_stem
                        yield t


def words_analyzer() -> Chain:
    """The words as every chain reads them, before stop words: split, lowercased, elisions
    and ligatures undone, ordinals and a saint's abbreviation spelled one way (what the
    highlighter marks)."""
    return (
        FrenchTokenizer()
        | LowercaseFilter()
        | ElisionFilter()
        | LigatureFilter()
        | OrdinalFilter()
        | AbbreviationFilter()
    )


def text_analyzer() -> Chain:
    """The ranking chain: stop words dropped, stems, accents folded after stemming."""
    return (
        words_analyzer()
        | FrenchStopFilter()
        | CapitalsFilter()
        | FrenchStemFilter()
        | AccentFoldFilter()
    )


def exact_analyzer() -> Chain:
    """The phrase chain: every word as written, accents and case aside, no stemming."""
    return words_analyzer() | AccentFoldFilter()


class SpellingWordFilter(Filter):
    """Keep only words worth suggesting: no stop words, no numbers, at least 3 letters."""

    def __call__(self, tokens: Iterable[Token]) -> Iterator[Token]:
        for t in tokens:
            if (
                len(t.text) >= 3
                and t.text.replace("-", "").isalpha()  # a word, or a compound (week-end)
                and (t.text in _NOT_STOP_WORDS or fold_accents(t.text) not in FRENCH_STOP_WORDS)
            ):
                yield t


def spelling_analyzer() -> Chain:
    """The vocabulary chain for suggestions: words as written, accents kept, lowercased;
    and the two-word compounds (week-end), for the words some write as one (weekend)."""
    return (
        SpellingTokenizer()
        | LowercaseFilter()
        | ElisionFilter()
        | LigatureFilter()
        | SpellingWordFilter()
    )


def describe_chain() -> str:
    """Name the steps of the ranking chain, for `veille info`."""
    return " | ".join(type(step).__name__ for step in text_analyzer().items)


def analysis_steps(text: str) -> list[tuple[str, list[str]]]:
    """Show the tokens after each step of the ranking chain, for `veille analyze`."""
    chain = text_analyzer().items
    steps = []
    for n in range(1, len(chain) + 1):
        tokens = chain[0](text, mode="index")
        for step in chain[1:n]:
            tokens = step(tokens)
        steps.append((type(chain[n - 1]).__name__, [t.text for t in tokens]))
    return steps


# Built once: the chains hold no state between calls, and a query analyzes each of its words.
_QUERY_CHAINS = {"text": text_analyzer(), "exact": exact_analyzer()}


def query_terms(text: str) -> list[str]:
    """The stems a query word or phrase makes, stop words dropped."""
    return [t.text for t in _QUERY_CHAINS["text"](text, mode="query")]


def exact_terms(text: str) -> list[str]:
    """The unstemmed, folded words of a phrase, stop words kept."""
    return [t.text for t in _QUERY_CHAINS["exact"](text, mode="query")]


class WordChain:
    """A chain's filters applied to one word at a time, as a build applies them.

    Every filter after FrenchTokenizer looks at one token alone, so a word makes the same
    terms wherever it stands: a build (search/segments.py) runs the filters once per
    distinct word and remembers the result, not once per occurrence. ``terms`` gives what
    that makes of a text, which a test compares with the chain's own output.
    """

    def __init__(self, chain: Chain) -> None:
        tokenizer, *filters = chain.items
        if not isinstance(tokenizer, FrenchTokenizer):
            raise TypeError(f"WordChain needs a FrenchTokenizer chain, not {chain!r}")
        self._tokenizer = tokenizer
        self._filters = filters

    def matches(self, text: str) -> list[str]:
        """The matches the chain's tokenizer reads in ``text``, one a position."""
        return word_matches(text) + self.extra_matches(text)

    def extra_matches(self, text: str) -> list[str]:
        """The tokenizer's matches besides ``word_matches`` (a compound, whole), last."""
        return self._tokenizer.extra_matches(text)

    def word_terms(self, matched: str) -> tuple[str, ...]:
        """The terms one of ``word_matches`` makes at index time."""
        word = _clean_word(matched)
        if word is None:
            return ()
        tokens: Iterable[Token] = iter((Token(word, 0, "index"),))
        for step in self._filters:
            tokens = step(tokens)
        return tuple(t.text for t in tokens)

    def terms(self, text: str) -> list[tuple[int, str]]:
        """(position, term) for each term the chain makes of ``text`` at index time."""
        return [
            (pos, term)
            for pos, matched in enumerate(self.matches(text))
            for term in self.word_terms(matched)
        ]
