"""Dates, times and durations in text, resolved against a reference date, written as ISO 8601
("2025-03-03", "P3D", "PT1H30M"). Deterministic, no downloads.

The one date parser of the engines. Finding the spans is ours (regular expressions tuned on
the engines' tests: which words are a date, which weekday a bare "Friday" means, what a
duration is); a span with a month name, in English, German, French or Spanish, is turned into
a date by `dateparser` (its language data ships in the wheel; nothing is fetched). ISO and
numeric dates and the relative English forms stay with this module's arithmetic: their rules
(a dotted date is day first, a slashed one US order unless the first number exceeds 12, "last
Friday" before "since Monday") are the product's, and dateparser's readings differ
("01.03.2025" → 3 January), so handing them over would change answers users get today.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import dateparser

from services.engines.local_language import number_from_word

# Month names as written in English, German, French and Spanish (for finding spans; the span
# itself is read by dateparser), the number of each.
MONTHS = {
    name: number
    for number, names in enumerate(
        [
            "january jan januar janvier enero",
            "february feb februar février fevrier febrero",
            "march mar märz maerz mars marzo",
            "april apr avril abril",
            "may mai mayo",
            "june jun juni juin junio",
            "july jul juli juillet julio",
            "august aug août aout agosto",
            "september sep sept septembre septiembre",
            "october oct oktober octobre octubre",
            "november nov novembre noviembre",
            "december dec dezember décembre decembre diciembre",
        ],
        start=1,
    )
    for name in names.split()
}
WEEKDAYS = {
    "monday": 0,
    "mon": 0,
    "tuesday": 1,
    "tue": 1,
    "tues": 1,
    "wednesday": 2,
    "wed": 2,
    "thursday": 3,
    "thu": 3,
    "thurs": 3,
    "friday": 4,
    "fri": 4,
    "saturday": 5,
    "sat": 5,
    "sunday": 6,
    "sun": 6,
}
# unit -> (ISO designator, belongs after "T", length in days for arithmetic)
UNITS = {
    "second": ("S", True, 1 / 86400),
    "minute": ("M", True, 1 / 1440),
    "hour": ("H", True, 1 / 24),
    "day": ("D", False, 1.0),
    "week": ("W", False, 7.0),
    "month": ("M", False, 30.0),
    "year": ("Y", False, 365.0),
}
_UNIT_ALIASES = {
    "sec": "second",
    "secs": "second",
    "second": "second",
    "seconds": "second",
    "min": "minute",
    "mins": "minute",
    "minute": "minute",
    "minutes": "minute",
    "hr": "hour",
    "hrs": "hour",
    "hour": "hour",
    "hours": "hour",
    "day": "day",
    "days": "day",
    "week": "week",
    "weeks": "week",
    "wk": "week",
    "wks": "week",
    "fortnight": "week",
    "month": "month",
    "months": "month",
    "mo": "month",
    "year": "year",
    "years": "year",
    "yr": "year",
    "yrs": "year",
    "night": "day",
    "nights": "day",
}

_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
_WEEKDAY_NAMES = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_NUM = (
    r"(?:\d+(?:[.,]\d+)?|(?:an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"fifteen|twenty|thirty|forty|fifty|sixty|couple(?: of)?|few|several|half an?)\b)"
)
_UNIT_NAMES = "|".join(sorted(_UNIT_ALIASES, key=len, reverse=True))

ISO_DATE = re.compile(
    r"\b(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:?\d{2})?)?\b"
)
# "1 March 2025", "1st of March", "5. März 2026", "12 mars", "3 de mayo de 2025".
DAY_MONTH = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th|\.)?\s+(?:of\s+|de\s+)?({_MONTH_NAMES})\.?"
    rf"(?:,?\s+(?:de\s+)?(\d{{4}}))?\b",
    re.IGNORECASE,
)
MONTH_DAY = re.compile(
    rf"\b({_MONTH_NAMES})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?", re.IGNORECASE
)
MONTH_YEAR = re.compile(rf"\b({_MONTH_NAMES})\.?\s+(?:de\s+)?(\d{{4}})\b", re.IGNORECASE)
NUMERIC_DATE = re.compile(r"\b(\d{1,2})([./])(\d{1,2})\2(\d{4}|\d{2})\b")
RELATIVE_DAY = re.compile(
    r"\b(the day before yesterday|the day after tomorrow|today|tonight|this morning|"
    r"this afternoon|this evening|yesterday|tomorrow)\b",
    re.IGNORECASE,
)
AGO = re.compile(rf"\b({_NUM})\s+({_UNIT_NAMES})\s+ago\b", re.IGNORECASE)
IN_FUTURE = re.compile(rf"\bin\s+({_NUM})\s+({_UNIT_NAMES})\b", re.IGNORECASE)
LAST_PERIOD = re.compile(r"\b(last|next|this)\s+(week|month|year)\b", re.IGNORECASE)
WEEKDAY = re.compile(
    rf"\b(?:(last|next|this|on|since|by|until|till|from|coming|past)\s+)?({_WEEKDAY_NAMES})\b\.?",
    re.IGNORECASE,
)
TIME_OF_DAY = re.compile(
    r"\b(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)|\b(\d{1,2}):(\d{2})\b",
    re.IGNORECASE,
)
DURATION = re.compile(
    rf"\b(?:(for|lasting|over|past|last|about|around|nearly|almost|within|during)\s+)?"
    rf"(?:the\s+)?(?:(?:about|around|nearly|almost|roughly)\s+)?({_NUM})\s*-?\s*({_UNIT_NAMES})\b"
    rf"(?:\s+and\s+a\s+half)?(\s+ago)?",
    re.IGNORECASE,
)
SINCE = re.compile(r"\bsince\b", re.IGNORECASE)
_FUTURE_CUES = re.compile(
    r"\b(will|shall|going to|next|upcoming|coming|scheduled|plan(?:ned|ning)?|tomorrow|"
    r"appointment|book(?:ed|ing)?|reserv\w*|due|by|until|deadline|arriv\w*|depart\w*)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class DateHit:
    value: date
    start: int
    end: int
    text: str
    moment: time | None = None
    explicit: bool = True  # written as a calendar date rather than "yesterday", "Monday"


@dataclass(frozen=True)
class DurationHit:
    iso: str
    days: float
    amount: float
    unit: str
    start: int
    end: int
    text: str
    strength: int  # 3: "for 3 days", 2: "since Monday", 1: "3 days ago", 0: bare "3 days"


def _amount(word: str) -> float | None:
    w = word.lower().strip()
    if w in {"a", "an", "one", "single"}:
        return 1.0
    if w.startswith("half"):
        return 0.5
    if w.startswith("couple"):
        return 2.0
    if w in {"few", "several"}:
        return 3.0 if w == "few" else None
    try:
        return float(w.replace(",", "."))
    except ValueError:
        return number_from_word(w)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _year(raw: str | None, reference: date) -> int:
    if not raw:
        return reference.year
    value = int(raw)
    return value + (2000 if value < 70 else 1900) if value < 100 else value


def _overlaps(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(start < e and s < end for s, e in spans)


def _shift_months(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 + months
    year, month = divmod(month_index, 12)
    for candidate in (day.day, 30, 29, 28):
        shifted = _safe_date(year, month + 1, candidate)
        if shifted:
            return shifted
    return day


def _offset(reference: date, amount: float, unit: str, sign: int) -> date:
    if unit == "month":
        return _shift_months(reference, sign * round(amount))
    if unit == "year":
        return _shift_months(reference, sign * round(amount * 12))
    return reference + timedelta(days=sign * amount * UNITS[unit][2])


_DATEPARSER_LANGUAGES = ["en", "de", "fr", "es"]
_YEAR = re.compile(r"\d{4}")


@lru_cache(maxsize=8192)
def calendar_date(span: str, reference: date) -> date | None:
    """The date a span with a month name stands for ("1 March 2025", "March 1st", "5. März",
    "12 mars 2025", "3 de mayo"), read by dateparser in English, German, French or Spanish;
    day first, the first of the month when no day is written, and the reference year when no
    year is written. None for a day the month lacks ("31 February")."""
    parsed = dateparser.parse(
        span,
        languages=_DATEPARSER_LANGUAGES,
        settings={
            "RELATIVE_BASE": datetime.combine(reference, time(0, 0)),
            "PREFER_DATES_FROM": "current_period",
            "PREFER_DAY_OF_MONTH": "first",
            "DATE_ORDER": "DMY",
            "REQUIRE_PARTS": ["month"],
        },
    )
    if parsed is None:
        return None
    value = parsed.date()
    if not _YEAR.search(span) and value.year != reference.year:
        return _safe_date(reference.year, value.month, value.day)
    return value


@lru_cache(maxsize=4096)
def find_dates(text: str, reference: date) -> tuple[DateHit, ...]:
    """Every date written in `text`, in order. Absolute forms ("2025-03-01", "1 March 2025",
    "March 1st", "01.03.2025", "3/1/2025" US order unless the first number exceeds 12), relative
    days ("yesterday", "3 days ago", "in 2 weeks") and weekdays ("since Monday", "last
    Friday", "next Tuesday"; a bare weekday is the past one unless the sentence speaks of the
    future). A date without a year is in the reference year."""
    hits: list[DateHit] = []
    taken: list[tuple[int, int]] = []
    future = bool(_FUTURE_CUES.search(text))

    def add(value: date | None, match: re.Match[str], explicit: bool = True) -> None:
        if value is None or _overlaps(taken, *match.span()):
            return
        taken.append(match.span())
        hits.append(DateHit(value, match.start(), match.end(), match.group(0), None, explicit))

    for m in ISO_DATE.finditer(text):
        value = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if value is None:
            continue
        taken.append(m.span())
        moment = (
            time(int(m.group(4)), int(m.group(5)), int(m.group(6) or 0)) if m.group(4) else None
        )
        hits.append(DateHit(value, m.start(), m.end(), m.group(0), moment))
    for pattern in (DAY_MONTH, MONTH_DAY, MONTH_YEAR):
        for m in pattern.finditer(text):
            if not _overlaps(taken, *m.span()):
                add(calendar_date(m.group(0), reference), m)
    for m in NUMERIC_DATE.finditer(text):
        first, second, year = int(m.group(1)), int(m.group(3)), _year(m.group(4), reference)
        if m.group(2) == "." or first > 12:
            add(_safe_date(year, second, first), m)
        else:
            add(_safe_date(year, first, second), m)
    for m in RELATIVE_DAY.finditer(text):
        word = m.group(1).lower()
        delta = {
            "yesterday": -1,
            "tomorrow": 1,
            "the day before yesterday": -2,
            "the day after tomorrow": 2,
        }.get(word, 0)
        add(reference + timedelta(days=delta), m, explicit=False)
    for m in AGO.finditer(text):
        amount = _amount(m.group(1))
        if amount is not None:
            unit = _UNIT_ALIASES[m.group(2).lower()]
            add(_offset(reference, amount, unit, -1), m, explicit=False)
    for m in IN_FUTURE.finditer(text):
        amount = _amount(m.group(1))
        if amount is not None:
            unit = _UNIT_ALIASES[m.group(2).lower()]
            add(_offset(reference, amount, unit, 1), m, explicit=False)
    for m in LAST_PERIOD.finditer(text):
        which, unit = m.group(1).lower(), m.group(2).lower()
        sign = {"last": -1, "next": 1, "this": 0}[which]
        add(_offset(reference, 1, unit, sign) if sign else reference, m, explicit=False)
    for m in WEEKDAY.finditer(text):
        if (
            m.group(2).lower() in {"sat", "sun", "wed", "mon", "fri"}
            and not m.group(2)[0].isupper()
        ):
            continue  # "sat", "sun", "wed"… as plain words
        add(
            _weekday(reference, WEEKDAYS[m.group(2).lower()], (m.group(1) or "").lower(), future),
            m,
            explicit=False,
        )

    for m in TIME_OF_DAY.finditer(text):
        moment = _time_of(m)
        if moment is None:
            continue
        # Attach the time to the nearest date hit without one on the same line.
        best = None
        for index, hit in enumerate(hits):
            if (
                hit.moment is None
                and "\n" not in text[min(hit.end, m.start()) : max(hit.start, m.end())]
            ):
                distance = abs(hit.start - m.start())
                if best is None or distance < best[0]:
                    best = (distance, index)
        if best is not None:
            hit = hits[best[1]]
            hits[best[1]] = DateHit(hit.value, hit.start, hit.end, hit.text, moment, hit.explicit)
    hits.sort(key=lambda h: h.start)
    return tuple(hits)  # cached: callers share it


def _time_of(m: re.Match[str]) -> time | None:
    if m.group(1):
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        meridiem = m.group(3).lower().replace(".", "")
        if hour > 12:
            return None
        hour = hour % 12 + (12 if meridiem == "pm" else 0)
    else:
        hour, minute = int(m.group(4)), int(m.group(5))
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def _weekday(reference: date, weekday: int, qualifier: str, future_context: bool) -> date:
    ahead = (weekday - reference.weekday()) % 7
    behind = (reference.weekday() - weekday) % 7
    if qualifier in {"next", "coming"}:
        return reference + timedelta(days=ahead or 7)
    if qualifier in {"last", "past"}:
        return reference - timedelta(days=behind or 7)
    if qualifier in {"since", "from"}:
        return reference - timedelta(days=behind or 7)
    if qualifier in {"by", "until", "till"}:
        return reference + timedelta(days=ahead)
    if qualifier == "this":
        return (
            reference + timedelta(days=ahead)
            if future_context
            else reference - timedelta(days=behind)
        )
    return (
        reference + timedelta(days=ahead) if future_context else reference - timedelta(days=behind)
    )


def find_durations(text: str, reference: date) -> list[DurationHit]:
    """Every duration written in `text`, strongest evidence first then in order: "for 3 days",
    "over the past two weeks" (3), "since Monday" / "since 1 March" (2: from then to the
    reference date), "3 days ago" (1), a bare "2 hours" (0)."""
    hits: list[DurationHit] = []
    for m in DURATION.finditer(text):
        amount = _amount(m.group(2))
        if amount is None:
            continue
        if "and a half" in m.group(0).lower():
            amount += 0.5
        unit = _UNIT_ALIASES[m.group(3).lower()]
        if m.group(3).lower() == "fortnight":
            amount *= 2
        lead = (m.group(1) or "").lower()
        strength = 1 if m.group(4) else (3 if lead else 0)
        hits.append(
            DurationHit(
                iso_duration(amount, unit),
                amount * UNITS[unit][2],
                amount,
                unit,
                m.start(),
                m.end(),
                m.group(0),
                strength,
            )
        )
    for since in SINCE.finditer(text):
        later = [
            d for d in find_dates(text[since.end() : since.end() + 40], reference) if d.start <= 2
        ]
        if later:
            days = (reference - later[0].value).days
            if days >= 0:
                end = since.end() + later[0].end
                hits.append(
                    DurationHit(
                        iso_duration(days, "day"),
                        float(days),
                        float(days),
                        "day",
                        since.start(),
                        end,
                        text[since.start() : end],
                        2,
                    )
                )
    hits.sort(key=lambda h: (-h.strength, h.start))
    return hits


def iso_duration(amount: float, unit: str) -> str:
    """ISO 8601 duration: (3, "day") -> "P3D", (1.5, "hour") -> "PT1H30M", (2, "week") -> "P2W"."""
    designator, is_time, _ = UNITS[unit]
    if unit == "week" and amount != int(amount):
        return iso_duration(amount * 7, "day")
    if amount != int(amount):
        smaller = {
            "hour": ("minute", 60),
            "day": ("hour", 24),
            "minute": ("second", 60),
            "week": ("day", 7),
            "year": ("month", 12),
            "month": ("day", 30),
        }.get(unit)
        if smaller:
            whole = int(amount)
            rest = round((amount - whole) * smaller[1])
            first = iso_duration(whole, unit) if whole else "P"
            second = iso_duration(rest, smaller[0])
            if first == "P":
                return second
            if UNITS[smaller[0]][1] and "T" not in first:
                return first + second[1:]
            return first + second[1:].replace("T", "")
        return f"P{'T' if is_time else ''}{amount:g}{designator}"
    return f"P{'T' if is_time else ''}{int(amount)}{designator}"


def date_to_iso(hit: DateHit, with_time: bool) -> str:
    if with_time:
        moment = datetime.combine(hit.value, hit.moment or time(0, 0))
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return hit.value.isoformat()
