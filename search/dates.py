"""French dates: read in corpus files and feeds, typed in queries and date parameters.

Pure: values in, values out. Case, accents and spaces (NBSP included) are ignored.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
import zoneinfo

__all__ = [
    "date_bounds",
    "iso_period",
    "local_moment",
    "looks_like_date",
    "month_number",
    "parse_french_date",
    "parse_french_moment",
]

PARIS = zoneinfo.ZoneInfo("Europe/Paris")

_MONTHS = {
    "janvier": 1,
    "janv": 1,
    "fevrier": 2,
    "fevr": 2,
    "fev": 2,
    "mars": 3,
    "avril": 4,
    "avr": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "juil": 7,
    "aout": 8,
    "septembre": 9,
    "sept": 9,
    "octobre": 10,
    "oct": 10,
    "novembre": 11,
    "nov": 11,
    "decembre": 12,
    "dec": 12,
}
_WEEKDAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAY_RE = "|".join(_WEEKDAYS)

# What may stand before a date line's date and after it: « Publié le », « Mis à jour le »;
# « à 14h30 », « , 10:00 »; the date of a later change (« , mis à jour le 6 mai 2024 »),
# which is not the article's.
_LEAD = r"(?:(?:publiee?|mise? a jour|modifiee?) le )"
_TIME = r"(?:,? (?:a )?\d{1,2} ?[h:] ?(?:\d{2})?(?: ?min)?)"
_TIMED = r"(?:,? (?:a )?(?P<hour>\d{1,2}) ?[h:] ?(?P<minute>\d{2})?(?: ?min)?)"
_CHANGED = (
    r"(?:,? (?:et )?(?:mise? a jour|modifiee?) le (?:\d{1,2}(?:er)? [a-z]+\.? \d{4}"
    rf"|\d{{1,2}}[/.]\d{{1,2}}[/.](?:\d{{4}}|\d{{2}})){_TIME}?)"
)
_FRENCH_DATE = re.compile(
    rf"{_LEAD}?(?:(?:{_WEEKDAY_RE}),? )?(?P<day>\d{{1,2}})(?P<suffix>er)? "
    rf"(?P<month>{_MONTH_RE})\.? (?P<year>\d{{4}}){_TIMED}?{_CHANGED}?"
)
# « 05/05/2024 », « 05.05.2024 », « 05-05-2024 », « 05/05/24 »: the day first, as French
# writes it.
_NUMERIC = r"(?P<day>\d{1,2})(?P<sep>[/.-])(?P<month>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})"
_NUMERIC_DATE = re.compile(rf"{_LEAD}?{_NUMERIC}{_TIMED}?{_CHANGED}?")
# « 2024-05-05 », and « 2024/05/05 » or « 2024.05.05 » as some systems write it.
_ISO_DATE = re.compile(r"(?P<year>\d{4})(?P<sep>[-/.])(?P<month>\d{1,2})(?P=sep)(?P<day>\d{1,2})")
# What a date line starts with. A line that starts like this but does not parse is a broken
# date, not a title; "Dimanche noir pour les marchés" is a title (no number after the day).
_LOOKS_LIKE_DATE = re.compile(
    rf"(?:{_WEEKDAY_RE})\b,?(?: ?\d|$)"
    rf"|\d{{1,2}}(?:er)? (?:{_MONTH_RE})\b"
    r"|\d{4}-\d{1,2}-\d{1,2}"
    # « 05/05/24 »: a day and a month of two digits each (« 2.6.32 », « 13/13/13 » are
    # titles)
    rf"|(?:\d{{1,2}}([/.])\d{{1,2}}\1\d{{4}}|(?:0[1-9]|[12]\d|3[01])([/.])(?:0[1-9]|1[0-2])"
    rf"\2\d\d){_TIME}?{_CHANGED}?$"
    # « Publié le 12 mai, le rapport… » is a title: only a whole date is a date line
    rf"|{_LEAD}(?:\d{{1,2}}([/.])\d{{1,2}}\3(?:\d{{4}}|\d{{2}})|\d{{1,2}}(?:er)? "
    rf"(?:{_MONTH_RE})\.? \d{{4}}){_TIME}?{_CHANGED}?$"
)


def month_number(word: str) -> int | None:
    """The month a French or English month name stands for (« févr », « Mai », « May »),
    abbreviated or not; None if it is none."""
    folded = _fold_date_text(word).rstrip(".")
    return _MONTHS.get(folded) or _ENGLISH.get(folded)


_ENGLISH_NAMES = (
    "january february march april may june july august september october november december"
).split()
_ENGLISH = {name: n for n, name in enumerate(_ENGLISH_NAMES, 1)}
_ENGLISH |= {name[:3]: n for n, name in enumerate(_ENGLISH_NAMES, 1)} | {"sept": 9}


def _fold_date_text(text: str) -> str:
    """Lowercase, drop accents and collapse spaces (NBSP included) so that dates compare."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def parse_french_date(text: str) -> dt.date:
    """Parse a French date such as "dimanche 5 mai 2024", "1er janvier 2023", "05/05/2024",
    "05.05.2024", "05-05-24", "Publié le 5 mai 2024 à 14h30", "Mis à jour le 05/05/2024",
    "2024-05-05" or "2024/05/05".

    The weekday is optional and not checked against the date; case and accents are ignored.
    Raises ValueError when the text is not a valid date.
    """
    return parse_french_moment(text)[0]


def parse_french_moment(text: str) -> tuple[dt.date, dt.time | None]:
    """Parse a French date as ``parse_french_date`` does, and the time of day written after
    it (« à 14h30 », « , 10:00 », « 8h »), None when none is (or it is no time of day);
    ValueError when the date is not valid."""
    folded = _fold_date_text(text)
    if match := _ISO_DATE.fullmatch(folded) or _NUMERIC_DATE.fullmatch(folded):
        year, month, day = _full_year(match["year"]), int(match["month"]), int(match["day"])
    elif match := _FRENCH_DATE.fullmatch(folded):
        year, month, day = int(match["year"]), _MONTHS[match["month"]], int(match["day"])
        if match["suffix"] and day != 1:
            # "1er" is the only French ordinal day; "5er" is a typo, not the fifth.
            raise ValueError(f"{text!r} is not a valid French date")
    else:
        raise ValueError(f"{text!r} is not a valid French date")
    try:
        date = dt.date(year, month, day)
    except ValueError:
        raise ValueError(f"{text!r} is not a valid French date") from None
    return date, _time(match.groupdict().get("hour"), match.groupdict().get("minute"))


def _time(hour: str | None, minute: str | None) -> dt.time | None:
    """The time of day of a date line's hour and minute, None when there is none or it is
    no time (« 25h »): the date is still good."""
    if hour is None or int(hour) > 23 or int(minute or 0) > 59:
        return None
    return dt.time(int(hour), int(minute or 0))


def local_moment(when: dt.datetime) -> tuple[dt.date, dt.time]:
    """The day and the time of day (to the minute) a datetime says, as French news dates
    them: in its own zone, in Paris's when it is UTC (how servers write the time, not
    where the news is), as written when it has no zone. ValueError past year 9999."""
    if when.utcoffset() == dt.timedelta(0):
        try:
            when = when.astimezone(PARIS)
        except OverflowError:  # past year 9999 in Paris
            raise ValueError(f"{when.isoformat()} is out of the range of dates") from None
    return when.date(), when.time().replace(second=0, microsecond=0, tzinfo=None)


def _full_year(digits: str) -> int:
    """A year as written: « 24 » is 2024, « 98 » 1998 (two digits are at most next year)."""
    year = int(digits)
    if len(digits) > 2:
        return year
    soon = (dt.date.today().year + 1) % 100
    return 2000 + year if year <= soon else 1900 + year


def looks_like_date(line: str) -> bool:
    return _LOOKS_LIKE_DATE.match(_fold_date_text(line)) is not None


# A period typed in a query or a date parameter: ISO, or French as people write it.
_ISO_PERIOD = re.compile(r"(?P<year>\d{4})(?:-(?P<month>\d{1,2})(?:-(?P<day>\d{1,2}))?)?")
_MONTH_YEAR = re.compile(rf"(?P<month>{_MONTH_RE}|\d{{1,2}})(?:\.? |/)(?P<year>\d{{4}})")


def date_bounds(text: str) -> tuple[dt.date, dt.date] | None:
    """The first and last day a year, a month or a day stands for; None if not a date.

    ISO (« 2024 », « 2024-05 », « 2024-05-05 ») or French (« mai 2024 », « 05/2024 »,
    « 5 mai 2024 », « 05/05/2024 »).

    >>> date_bounds("2024-02")
    (datetime.date(2024, 2, 1), datetime.date(2024, 2, 29))
    >>> date_bounds("février 2024") == date_bounds("2024-02")
    True
    """
    folded = _fold_date_text(text)
    match = _ISO_PERIOD.fullmatch(folded) or _MONTH_YEAR.fullmatch(folded)
    if match is None:
        try:
            day = parse_french_date(folded)
        except ValueError:
            return None
        return day, day
    year, month = int(match["year"]), match["month"]
    day = match.groupdict().get("day")
    try:
        if month is None:
            return dt.date(year, 1, 1), dt.date(year, 12, 31)
        month = _MONTHS[month] if month in _MONTHS else int(month)
        if day is None:
            last = calendar.monthrange(year, month)[1]
            return dt.date(year, month, 1), dt.date(year, month, last)
        return dt.date(year, month, int(day)), dt.date(year, month, int(day))
    except ValueError:
        return None


def iso_period(text: str) -> str | None:
    """The ISO spelling of the year, month or day ``text`` stands for; None if not a date.

    >>> iso_period("1er mai 2024"), iso_period("Août 2020"), iso_period("2024")
    ('2024-05-01', '2020-08', '2024')
    """
    bounds = date_bounds(text)
    if bounds is None:
        return None
    first, last = bounds
    if first == last:
        return first.isoformat()
    if first.month == last.month:
        return first.strftime("%Y-%m")
    return first.strftime("%Y")
