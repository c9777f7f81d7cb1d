"""Place names the extraction engine recognises by kind: countries (ISO 3166 names, common and
former names, usual short forms) and states or provinces (US, Canada, Australia; names and
postal codes), from pycountry's data in its wheel. A city is a place that is neither."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

# Short forms people write that are not among ISO's names.
_COUNTRY_ALIASES = (
    "USA, US, U.S., U.S.A., America, United States of America, UK, U.K., Britain, "
    "Great Britain, England, Scotland, Wales, Northern Ireland, Russia, South Korea, "
    "North Korea, Korea, Iran, Syria, Vietnam, Laos, Bolivia, Venezuela, Tanzania, Moldova, "
    "Czech Republic, Czechia, Macedonia, Holland, Ivory Coast, Burma, Taiwan, Palestine, "
    "Vatican, Micronesia, Brunei, Cape Verde, Swaziland, East Timor, Congo"
)
_STATE_COUNTRIES = ("US", "CA", "AU")
_STATE_TYPES = {"State", "Province", "Territory", "District", "Outlying area"}


@dataclass(frozen=True)
class PlaceHit:
    start: int
    end: int
    text: str
    kind: str  # "country" or "state"


def _names(*values: str | None) -> set[str]:
    out: set[str] = set()
    for value in values:
        if not value:
            continue
        out.add(value)
        head = value.split(",")[0].split(" (")[0].strip()
        if len(head) > 3:
            out.add(head)
    return out


@cache
def _gazetteer() -> tuple[re.Pattern[str], re.Pattern[str], dict[str, str]]:
    """(names regex, upper-case codes regex, lower-cased name → kind)."""
    import pycountry

    kinds: dict[str, str] = {}
    for country in pycountry.countries:
        for name in _names(
            country.name,
            getattr(country, "common_name", None),
            getattr(country, "official_name", None),
        ):
            kinds[name.lower()] = "country"
    for country in pycountry.historic_countries:
        for name in _names(country.name):
            kinds.setdefault(name.lower(), "country")
    for alias in _COUNTRY_ALIASES.split(","):
        kinds[alias.strip().lower()] = "country"
    codes: list[str] = []
    for code in _STATE_COUNTRIES:
        for sub in pycountry.subdivisions.get(country_code=code) or []:
            if sub.type in _STATE_TYPES:
                kinds.setdefault(sub.name.lower(), "state")
                codes.append(sub.code.split("-")[1])
    # Names that are also states (Georgia) stay states when written in a US context? No way
    # to know: the state reading wins, as booking and address texts are mostly American.
    for name in ("georgia",):
        kinds[name] = "state"
    names = sorted(kinds, key=len, reverse=True)
    pattern = re.compile(
        r"(?<![\w.])(?:" + "|".join(re.escape(n) for n in names) + r")(?![\w])", re.IGNORECASE
    )
    short = [c for c in codes if len(c) == 2 and c.isalpha()]
    code_pattern = re.compile(r"(?<![\w.])(?:" + "|".join(sorted(set(short))) + r")(?![\w]|\.\w)")
    return pattern, code_pattern, kinds


def find_places(text: str) -> list[PlaceHit]:
    """Countries and states named in `text`, in order: names in any case (at least four
    letters, or an upper-case short form such as "UK"), postal codes ("NE", "MA") only in
    upper case and never as the first word of a sentence."""
    pattern, code_pattern, kinds = _gazetteer()
    hits: list[PlaceHit] = []
    taken: list[tuple[int, int]] = []
    for match in pattern.finditer(text):
        surface = match.group(0)
        if len(surface) < 4 and not surface.isupper():
            continue
        kind = kinds[surface.lower()]
        hits.append(PlaceHit(match.start(), match.end(), surface, kind))
        taken.append(match.span())
    for match in code_pattern.finditer(text):
        start, end = match.span()
        if any(a <= start < b for a, b in taken):
            continue
        before = text[:start].rstrip()
        if not before or before[-1] in ".!?":
            continue  # "IN" or "OR" opening a sentence is a word, not a state
        hits.append(PlaceHit(start, end, match.group(0), "state"))
    hits.sort(key=lambda h: h.start)
    return hits


def place_kind(text: str) -> str | None:
    """ "country" or "state" when the whole of `text` names one, else None."""
    _, code_pattern, kinds = _gazetteer()
    stripped = text.strip()
    kind = kinds.get(stripped.lower())
    if kind is not None and (len(stripped) >= 4 or stripped.isupper()):
        return kind
    if code_pattern.fullmatch(stripped):
        return "state"
    return None
